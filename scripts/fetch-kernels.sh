#!/usr/bin/env bash
# Debian's cloud kernels for the guest tier (test/guest/: the exporter and real storms inside
# qemu-system-x86 guests): bookworm's 6.1 and bookworm-backports' 6.12, the kernels fleets run
# (../shared/BACKGROUND.md). Downloaded as packages and unpacked, never installed on this machine:
# each goes to $MOUNTSTORM_KERNELS/<release>/ (default /var/cache/mountstorm/kernels) as vmlinuz and
# the two modules the guests load (overlay for the drills' rootfs overlays, loop for an ext4 file
# system where tmpfs has no idmapped mounts). Adds bookworm-backports to apt's sources when it is
# missing; apt pins backports below the release, so nothing else on the machine moves to it.
set -euo pipefail
dest=${MOUNTSTORM_KERNELS:-/var/cache/mountstorm/kernels}
export DEBIAN_FRONTEND=noninteractive
if ! apt-cache madison linux-image-cloud-amd64 | grep -q bookworm-backports; then
  cat >/etc/apt/sources.list.d/mountstorm-bookworm-backports.sources <<'EOF'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  apt-get update -qq
fi
# The meta package's version in each suite: the release's candidate (bookworm, or its security
# update), and backports' own.
release=$(apt-cache policy linux-image-cloud-amd64 | awk '/Candidate:/ { print $2 }')
backports=$(apt-cache madison linux-image-cloud-amd64 | awk -F' *[|] *' '/bookworm-backports/ { print $2; exit }')
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for version in "$release" "$backports"; do
  [ -n "$version" ] || { echo "fetch-kernels: no linux-image-cloud-amd64 in apt's sources" >&2; exit 1; }
  image=$(apt-cache show "linux-image-cloud-amd64=$version" | sed -n 's/^Depends: \(linux-image-[^ ,]*\).*/\1/p' | head -1)
  rel=${image#linux-image-}
  [ -f "$dest/$rel/vmlinuz" ] && continue
  (cd "$work" && apt-get download -qq "$image" 2>/dev/null)
  dpkg-deb -x "$work/${image}"_*.deb "$work/$rel"
  mkdir -p "$dest/$rel.part"
  cp "$work/$rel/boot/vmlinuz-$rel" "$dest/$rel.part/vmlinuz"
  for m in fs/overlayfs/overlay drivers/block/loop; do
    f=$(ls "$work/$rel/lib/modules/$rel/kernel/$m".ko* | head -1)
    case $f in
      *.xz) xz -dc "$f" >"$dest/$rel.part/$(basename "$m").ko" ;;
      *.zst) zstd -qdc "$f" >"$dest/$rel.part/$(basename "$m").ko" ;;
      *) cp "$f" "$dest/$rel.part/$(basename "$m").ko" ;;
    esac
  done
  rm -rf "$dest/$rel" && mv "$dest/$rel.part" "$dest/$rel"
  rm -rf "${work:?}"/*
  echo "fetch-kernels: $rel in $dest/$rel"
done
