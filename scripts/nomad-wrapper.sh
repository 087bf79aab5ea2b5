#!/usr/bin/env bash
# Writes build/nomad/<version>/go.mod + go.sum: the wrapper module scripts/build-nomad.sh builds that release with.
#   scripts/nomad-wrapper.sh VERSION API_PSEUDO_VERSION
# VERSION is an MPL-2.0 Nomad release (1.6.x or older; 1.7.0 and later are BUSL and are never built here).
# API_PSEUDO_VERSION is github.com/hashicorp/nomad/api at the release tag's own commit,
# v0.0.0-<commit time UTC, YYYYmmddHHMMSS>-<first 12 hex of the commit>: Nomad's go.mod builds against ./api,
# which a dependency cannot, so the api module is pinned to the same source. Checksums come from the Go
# checksum database as usual; this script never turns verification off.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [[ $# -ne 2 ]]; then
  echo "usage: scripts/nomad-wrapper.sh VERSION API_PSEUDO_VERSION   (e.g. v1.6.3 v0.0.0-20231030125810-e0497bff1437)" >&2
  exit 2
fi
version=$1 api=$2
# Only MPL-2.0 releases: up to 1.5.12 and 1.6.5. Nomad 1.5.13+, 1.6.6+ and 1.7.0+ are under the BUSL
# (LICENSE at each tag; harness/check/releases.ts BUSL) and are never fetched or built here.
if ! [[ $version =~ ^v1\.([0-6])\.([0-9]+)$ ]] \
  || { [[ ${BASH_REMATCH[1]} == 5 ]] && (( BASH_REMATCH[2] >= 13 )); } \
  || { [[ ${BASH_REMATCH[1]} == 6 ]] && (( BASH_REMATCH[2] >= 6 )); }; then
  echo "nomad-wrapper: $version is not an MPL-2.0 release of Nomad (BUSL: 1.5.13+, 1.6.6+, 1.7.0+); bring such a binary with --nomad" >&2
  exit 2
fi
export PATH="/usr/local/go/bin:$PATH"
dir="$here/build/nomad/$version"
if [[ -f $dir/go.mod ]]; then
  echo "nomad-wrapper: $dir/go.mod exists; remove it first to regenerate" >&2
  exit 2
fi

if ! info=$(go mod download -json "github.com/hashicorp/nomad@$version"); then
  echo "nomad-wrapper: the Go module proxy did not give nomad@$version: $(sed -n 's/^\s*"Error": "\(.*\)",\?$/\1/p' <<<"$info")" >&2
  exit 1
fi
upstream=$(sed -n 's/^\s*"GoMod": "\(.*\)",\?$/\1/p' <<<"$info")
zip=$(sed -n 's/^\s*"Zip": "\(.*\)",\?$/\1/p' <<<"$info")
[[ -f $upstream && -f $zip ]] || { echo "nomad-wrapper: the module proxy gave no module for nomad@$version" >&2; exit 1; }
# A second guard: the release's own LICENSE must be the MPL.
if ! unzip -p "$zip" "github.com/hashicorp/nomad@$version/LICENSE" | grep -q "Mozilla Public License"; then
  echo "nomad-wrapper: nomad@$version's LICENSE is not the MPL-2.0; not building it" >&2
  exit 2
fi

mkdir -p "$dir"
{
  echo "// Wrapper module that builds Nomad $version (MPL-2.0) from the Go module proxy; written by scripts/nomad-wrapper.sh."
  echo "// Nomad's own go.mod has replace directives, so \`go install nomad@$version\` is refused;"
  echo "// a dependency's replaces are ignored, so the non-./api ones are copied here verbatim."
  echo "// The api module is pinned at the $version tag's commit ($api)."
  echo "module nomad-lab.local/build/nomad"
  echo
  echo "go 1.24"
  echo
  echo "tool github.com/hashicorp/nomad"
  echo
  echo "require ("
  echo "	github.com/hashicorp/nomad $version"
  echo "	github.com/hashicorp/nomad/api $api"
  echo ")"
  echo
  # Every replace line of Nomad's go.mod (single or in a block) except the one pointing at ./api.
  awk '/^replace \(/ {inblock=1; next} inblock && /^\)/ {inblock=0; next}
       inblock && /=>/ {print "replace " $0; next}
       /^replace / && /=>/ {print}' "$upstream" | sed 's/^replace \t/replace /' | grep -v '=> \./api'
} > "$dir/go.mod"

# The module graph of the release, with Nomad's own minimum versions (tidy keeps them; it only adds).
(cd "$dir" && GOFLAGS=-mod=mod go mod tidy)
echo "nomad-wrapper: wrote $dir/go.mod ($(grep -c . "$dir/go.mod") lines) and go.sum; build with NOMAD_LAB_VERSION=$version scripts/build-nomad.sh"
