#!/usr/bin/env bash
# Build a Debian root holding a newer OVN than the host's, once, and cache it:
#   build-ovn-root.sh [25.03]  trixie: OVN 25.03 / OVS 3.5 (what Kube-OVN 1.15+ runs)
#   build-ovn-root.sh 26.03    sid: OVN 26.03 / OVS 4.0 (lport mirrors and mirror rules)
# The tests run its binaries through the root's own dynamic loader (lab/ovn_versions.py), so
# nothing is chrooted or mounted. Prints the root's path. ~1 minute and ~360 MB the first time.
# The packages come from DEBIAN_MIRROR when it is set, else from the Debian archive the machine's
# own apt sources use (a local mirror included), else from debootstrap's default.
set -euo pipefail

# The Debian archive of the machine's apt sources (one-line or deb822, as apt reads them): the
# first entry for a Debian suite, so neither security, updates nor a third party's repository.
debian_archive() {
  # shellcheck disable=SC2016  # apt's own $(FIELD) placeholders
  apt-get indextargets --no-release-info --format '$(RELEASE) $(REPO_URI)' 2>/dev/null | awk '
    $1 ~ /^(bullseye|bookworm|trixie|forky|sid|(old)*stable|testing|unstable)$/ &&
    $2 ~ /^(https?|file):/ {print $2; exit}'
}

version=${1:-25.03}
case $version in
  25.03) suite=trixie ;;
  26.03) suite=sid ;;
  *) echo "build-ovn-root.sh: no Debian suite known for OVN $version (25.03, 26.03)" >&2; exit 2 ;;
esac
cache=${KUBEOVN_MIRROR_CACHE:-$HOME/.cache/kubeovn-mirror}
root=$cache/ovn-$version-root
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
archive=${DEBIAN_MIRROR:-$(debian_archive)}
mirror=()  # none found: debootstrap's default archive
[ -z "$archive" ] || mirror=("$archive")
echo ">> debootstrap $suite with ovn-central, ovn-host, openvswitch-switch into $root" \
  "from ${archive:-the default archive}" >&2
$sudo debootstrap --variant=minbase \
  --include=ovn-central,ovn-host,openvswitch-switch,openvswitch-common,iproute2 \
  "$suite" "$root.tmp" "${mirror[@]}" >&2
rm -rf "$root"
mv "$root.tmp" "$root"
touch "$root/.complete"
echo "$root"
