#!/usr/bin/env bash
# Build the test cluster's Kubernetes binaries (kube-apiserver, kube-controller-manager,
# kube-scheduler, kubelet, kubectl),
# once, and cache them.
#
# No registry reachable here ships them. Debian's `kubernetes` source package (1.20.2,
# bookworm) carries the full vendored tree; it builds with Debian bullseye's Go 1.15 (newer
# Go builds an apiserver that crashes at the first CRD write). apt is pointed at a private
# sources file and lists directory, so the system's apt configuration is left alone; that file
# names the Debian archive the machine's own apt sources use (a local mirror included), or
# DEBIAN_MIRROR when it is set.
# Whatever is missing is built in one `make` (~4 minutes and ~2 GB the first time).
# Prints the cache's bin directory; the binaries are named <name>-v1.20.2 there.
set -euo pipefail

version=v1.20.2
cache=${KUBEOVN_MIRROR_CACHE:-$HOME/.cache/kubeovn-mirror}
bindir=$cache/bin
missing=()
for name in kube-apiserver kube-controller-manager kube-scheduler kubelet kubectl; do
  [ -x "$bindir/$name-$version" ] || missing+=("$name")
done
if [ ${#missing[@]} = 0 ]; then
  echo "$bindir"
  exit 0
fi

# The Debian archive of the machine's apt sources (one-line or deb822, as apt reads them): the
# first entry for a Debian suite, so neither security, updates nor a third party's repository.
debian_archive() {
  # shellcheck disable=SC2016  # apt's own $(FIELD) placeholders
  apt-get indextargets --no-release-info --format '$(RELEASE) $(REPO_URI)' 2>/dev/null | awk '
    $1 ~ /^(bullseye|bookworm|trixie|forky|sid|(old)*stable|testing|unstable)$/ &&
    $2 ~ /^(https?|file):/ {print $2; exit}'
}

work=$cache/kube-build
mkdir -p "$work/apt/lists/partial" "$bindir"
archive=${DEBIAN_MIRROR:-$(debian_archive)}
if [ -z "$archive" ]; then
  echo "no Debian archive in apt's sources: set DEBIAN_MIRROR to one (.../debian)" >&2
  exit 1
fi
cat > "$work/apt/sources.list" <<SOURCES
deb-src $archive bookworm main
deb $archive bullseye main
SOURCES
apt_options=(-o "Dir::Etc::SourceList=$work/apt/sources.list" -o "Dir::Etc::SourceParts=-"
             -o "Dir::State::Lists=$work/apt/lists" -o "APT::Get::List-Cleanup=0")
sudo=""
[ "$(id -u)" = 0 ] || sudo=sudo

echo ">> apt: bullseye's golang-1.15-go and bookworm's kubernetes source" >&2
$sudo apt-get "${apt_options[@]}" -q update >&2
DEBIAN_FRONTEND=noninteractive $sudo apt-get "${apt_options[@]}" install -y -q \
  --no-install-recommends golang-1.15-go >&2
if ! command -v dpkg-source >/dev/null || ! command -v rsync >/dev/null || \
   ! command -v jq >/dev/null; then
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends \
    dpkg-dev rsync jq >&2
fi

src=$(find "$work" -maxdepth 1 -type d -name 'kubernetes-1.20.*' | head -n 1)
if [ -z "$src" ]; then
  (cd "$work" && apt-get "${apt_options[@]}" source kubernetes >&2)
  src=$(find "$work" -maxdepth 1 -type d -name 'kubernetes-1.20.*' | head -n 1)
fi

what=$(printf 'cmd/%s ' "${missing[@]}")
echo ">> building ${missing[*]} from $src (GOPATH mode, Go 1.15)" >&2
gopath=$work/gopath
mkdir -p "$gopath/src/k8s.io"
ln -sfn "$src" "$gopath/src/k8s.io/kubernetes"
(
  cd "$gopath/src/k8s.io/kubernetes"
  export GOPATH=$gopath GO111MODULE=off CGO_ENABLED=0 GOFLAGS='' GOCACHE=$work/gocache
  export PATH=/usr/lib/go-1.15/bin:$PATH
  export KUBE_GIT_VERSION=$version KUBE_GIT_TREE_STATE=clean KUBE_GIT_COMMIT=debian-1.20.2
  make WHAT="${what% }" >&2
  for name in "${missing[@]}"; do
    cp "$(find _output -type f -name "$name" -perm -u+x | head -n 1)" "$bindir/$name.tmp"
  done
  # The pause container's program, for the node's sandbox image (lab/node.py).
  cp build/pause/linux/pause.c "$bindir/pause.c.tmp"
)
for name in "${missing[@]}"; do
  mv "$bindir/$name.tmp" "$bindir/$name-$version"
done
mv "$bindir/pause.c.tmp" "$bindir/pause-$version.c"
# The tree and Go caches are only needed to build; the binaries are what is kept.
rm -rf "$gopath" "$work/gocache" "$src"
echo "$bindir"
