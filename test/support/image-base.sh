#!/usr/bin/env bash
# A base image for the Dockerfile's BASE build argument, assembled from this machine's Debian packages
# (no registry is reachable here): busybox-static as /bin/sh and the few tools a RUN step uses, the
# nodejs package's node and npm with the shared libraries node links (libc6, libstdc++6, libgcc-s1),
# ca-certificates and npm's global settings (so `npm ci` in the build stage reaches the registry as
# this machine does), root and nobody. The official node:20 image plays this part for users.
#   usage: image-base.sh TAG BUILDAH-ARGS...   (run it inside a private mount namespace)
set -euo pipefail
tag=$1
shift
c=$(buildah "$@" from scratch)
trap 'buildah "$@" rm "$c" >/dev/null 2>&1 || true' EXIT
m=$(buildah "$@" mount "$c")
mkdir -p "$m"/bin "$m"/usr/bin "$m"/usr/lib/node_modules "$m"/usr/etc "$m"/etc/ssl/certs "$m"/tmp "$m"/root
chmod 1777 "$m"/tmp
cp /bin/busybox "$m"/bin/busybox
for a in sh ls cat rm mkdir cp mv ln chmod chown env true sleep; do ln -s busybox "$m/bin/$a"; done
ln -s /bin/busybox "$m"/usr/bin/env
cp /usr/bin/node "$m"/usr/bin/node
for lib in $(ldd /usr/bin/node | awk '/=>/ {print $3} /ld-linux/ {print $1}'); do cp -L --parents "$lib" "$m"/; done
cp -a /usr/lib/node_modules/npm "$m"/usr/lib/node_modules/
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$m"/usr/bin/npm
cp /etc/ssl/certs/ca-certificates.crt "$m"/etc/ssl/certs/
[ -f /usr/etc/npmrc ] && cp /usr/etc/npmrc "$m"/usr/etc/npmrc
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$m"/etc/passwd
printf 'root:x:0:\nnogroup:x:65534:\n' >"$m"/etc/group
buildah "$@" umount "$c" >/dev/null
buildah "$@" config --env PATH=/usr/local/bin:/usr/bin:/bin --env NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt "$c"
buildah "$@" commit -q "$c" "$tag" >/dev/null
