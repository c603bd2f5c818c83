#!/usr/bin/env bash
# Build the go-control-plane based xDS control plane used by the interop
# tests (tests/interop). Prints the path of the built binary on stdout.
#
#   OUT=/path/to/binary scripts/interop.sh    # default: target/interop/xds-interop
#
# Needs only Go and network access to the Go module proxy; go.mod/go.sum pin
# every dependency.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${OUT:-$repo/target/interop/xds-interop}"

if ! command -v go >/dev/null 2>&1; then
  echo "interop.sh: go is not installed (https://go.dev/dl/)" >&2
  exit 1
fi

mkdir -p "$(dirname "$out")"
case "$out" in
  /*) ;;
  *) out="$PWD/$out" ;; # go build runs in tests/interop; keep relative OUT relative to the caller
esac

cd "$repo/tests/interop"
# Build exactly what go.mod/go.sum pin. The build is reproducible only with
# the default -mod=readonly, so callers should not need GOFLAGS=-mod=mod;
# it is honoured if they set it (e.g. to refresh go.sum locally).
go build -trimpath -o "$out" . >&2
echo "$out"
