#!/usr/bin/env bash
# Build the Debian trixie root holding OVN 25.03 / OVS 3.5 (what Kube-OVN 1.15+ runs), once,
# and cache it. The tests run its binaries through the root's own dynamic loader (lab/ovn_versions.py),
# so nothing is chrooted or mounted. Prints the root's path. ~1 minute and ~360 MB the first time.
set -euo pipefail

cache=${KUBEOVN_MIRROR_CACHE:-$HOME/.cache/kubeovn-mirror}
root=$cache/ovn-25.03-root
if [ -f "$root/.complete" ]; then
  echo "$root"
  exit 0
fi
sudo=""
[ "$(id -u)" = 0 ] || sudo=sudo
if ! command -v debootstrap >/dev/null; then
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends \
    debootstrap >&2
fi
rm -rf "$root.tmp"
mkdir -p "$cache"
echo ">> debootstrap trixie with ovn-central, ovn-host, openvswitch-switch into $root" >&2
$sudo debootstrap --variant=minbase \
  --include=ovn-central,ovn-host,openvswitch-switch,openvswitch-common,iproute2 \
  trixie "$root.tmp" http://deb.debian.org/debian >&2
rm -rf "$root"
mv "$root.tmp" "$root"
touch "$root/.complete"
echo "$root"
