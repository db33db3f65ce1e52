#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh Debian 12 machine (run as root):
# Debian's Prometheus (prometheus, promtool), Alertmanager (prometheus-alertmanager, amtool), Chromium
# (the landing page is tested in it, driven by playwright-core), containerd, runc and busybox-static
# (a real runtime starting containers of an image built locally; containerd is never started as a
# service here: the tests run their own, in namespaces of their own), buildah (the Dockerfile built
# daemonless, and run under that containerd as the DaemonSet's pod), jsonnet (the monitoring mixin
# rendered), prometheus-node-exporter (the baseline of the image and start-up benchmarks), podman (a
# second runtime, on containers/storage, started in a namespace of its own with --network=none: no
# bridge or firewall rule reaches the host) with both OCI runtimes it takes, runc and crun,
# qemu-system-x86 and e2fsprogs (the guest tier boots Debian's 6.1 and 6.12 kernels, fetched by
# scripts/fetch-kernels.sh, with an ext4 /var/tmp), and the npm packages pinned in package-lock.json.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v promtool >/dev/null || need+=(prometheus)
command -v amtool >/dev/null || need+=(prometheus-alertmanager)
command -v chromium >/dev/null || need+=(chromium fonts-dejavu-core)
command -v containerd >/dev/null || need+=(containerd)
command -v runc >/dev/null || need+=(runc)
[ -x /bin/busybox ] || need+=(busybox-static)
command -v buildah >/dev/null || need+=(buildah)
command -v jsonnet >/dev/null || need+=(jsonnet)
command -v prometheus-node-exporter >/dev/null || need+=(prometheus-node-exporter)
command -v podman >/dev/null || need+=(podman)
command -v crun >/dev/null || need+=(crun)
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
command -v mkfs.ext4 >/dev/null || need+=(e2fsprogs)
command -v xz >/dev/null || need+=(xz-utils)
command -v unshare >/dev/null || need+=(util-linux)
command -v nsenter >/dev/null || need+=(util-linux)
if [ ${#need[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
npm ci --no-audit --no-fund --loglevel=error
# Debian's 6.1 and 6.12 cloud kernels for the guest tier (test/guest/), unpacked, not installed.
bash scripts/fetch-kernels.sh
