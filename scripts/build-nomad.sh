#!/usr/bin/env bash
# Builds the pinned Nomad release from the Go module proxy with the wrapper module in build/nomad/<version>,
# into a cache outside the checkout keyed by version. Records cold/warm build figures in build.json.
#   scripts/build-nomad.sh [--quiet] [--force]
# Environment: NOMAD_LAB_CACHE (default ~/.cache/nomad-lab), NOMAD_LAB_VERSION (default: the pin below).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
quiet=0 force=0
for a in "$@"; do
  case "$a" in
    --quiet) quiet=1 ;;
    --force) force=1 ;;
    *) echo "build-nomad: unknown option $a (expected --quiet, --force)" >&2; exit 2 ;;
  esac
done

version=${NOMAD_LAB_VERSION:-$(cat "$here/build/nomad/PINNED")}
module_dir="$here/build/nomad/$version"
cache=${NOMAD_LAB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/nomad-lab}
out_dir="$cache/nomad/$version"
binary="$out_dir/nomad"

if [[ ! -f "$module_dir/go.mod" ]]; then
  echo "build-nomad: no wrapper module for $version (expected $module_dir/go.mod)" >&2
  echo "build-nomad: versions with a wrapper: $(ls "$here/build/nomad" | grep '^v' | tr '\n' ' ')" >&2
  exit 2
fi
if [[ $force == 0 && -x "$binary" ]] && "$binary" version >/dev/null 2>&1; then
  [[ $quiet == 1 ]] || echo "build-nomad: cached $binary"
  exit 0
fi

# Go: Nomad needs a recent toolchain; Debian's golang-go is too old, so prefer /usr/local/go.
export PATH="/usr/local/go/bin:$PATH"
if ! command -v go >/dev/null 2>&1; then
  echo "build-nomad: no Go toolchain found (looked on PATH and in /usr/local/go/bin)." >&2
  echo "build-nomad: install Go >= 1.24 from go.dev, or point NOMAD_BINARY at a nomad you built." >&2
  exit 2
fi

# A cold build fills the module and build caches with several GB.
gomodcache=$(go env GOMODCACHE)
mkdir -p "$gomodcache"
free_kb=$(df -Pk "$gomodcache" | awk 'NR==2 {print $4}')
if (( free_kb < 6 * 1024 * 1024 )); then
  echo "build-nomad: only $((free_kb / 1024)) MiB free under $gomodcache; a cold Nomad build needs about 6 GiB" >&2
  exit 2
fi

echo "build-nomad: building Nomad $version with $(go version | cut -d' ' -f3) (cold build: about 4 min on 2 cores; cached afterwards)"
mkdir -p "$out_dir"
# Cold or warm is decided by the Go build cache: with Nomad's packages compiled in it, a build is
# mostly a link step. 1 GiB is well below what a Nomad build leaves there.
buildcache_before_mb=$(du -sm "$(go env GOCACHE)" 2>/dev/null | cut -f1 || echo 0)
kind=cold
(( ${buildcache_before_mb:-0} > 1024 )) && kind=warm
start=$(date +%s.%N)
# -mod=readonly: go.sum is committed; a build that would change it is a bug in the wrapper module.
(cd "$module_dir" && GOFLAGS="-mod=readonly -buildvcs=false" CGO_ENABLED=1 \
  go build -trimpath -tags "codegen_generated release" \
    -ldflags "-X github.com/hashicorp/nomad/version.GitCommit=${version}-nomad-lab" \
    -o "$binary.tmp" github.com/hashicorp/nomad)
end=$(date +%s.%N)
mv "$binary.tmp" "$binary"

seconds=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')
modcache_mb=$(du -sm "$gomodcache" 2>/dev/null | cut -f1)
buildcache_mb=$(du -sm "$(go env GOCACHE)" 2>/dev/null | cut -f1)
binary_mb=$(du -sm "$binary" | cut -f1)
cat > "$out_dir/build.json.tmp" <<EOF
{"version": "$version", "go": "$(go version | cut -d' ' -f3)", "seconds": $seconds, "kind": "$kind",
 "builtAt": "$(date -u +%FT%TZ)", "binaryMiB": $binary_mb, "goModCacheMiB": $modcache_mb, "goBuildCacheMiB": $buildcache_mb}
EOF
mv "$out_dir/build.json.tmp" "$out_dir/build.json"
echo "build-nomad: built $binary in ${seconds}s ($kind); binary ${binary_mb} MiB, module cache ${modcache_mb} MiB, build cache ${buildcache_mb} MiB"
"$binary" version
