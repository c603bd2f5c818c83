#!/usr/bin/env bash
# Build the small OpenTelemetry Collector (tests/otelcol: OTLP receiver, batch
# processor, file exporter) that the tracing tests start on loopback to receive
# OTLP/gRPC spans and read them back as JSON lines. A real collector, not a
# mock, so the tests check what an actual OTLP backend accepts.
#
#   scripts/otelcol.sh    # -> ${CARGO_TARGET_DIR:-target}/otelcol/otelcol
#   OUT=/path/to/binary scripts/otelcol.sh
#
# Prints the path of the binary on its last stdout line. The build is skipped
# when the binary is newer than tests/otelcol/main.go, go.mod and go.sum.
# Needs only Go and network access to the Go module proxy on the first build;
# go.mod/go.sum pin every dependency (collector core v0.161.0 / v1.67.0,
# contrib fileexporter v0.161.0).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
src="$repo/tests/otelcol"
target="${CARGO_TARGET_DIR:-$repo/target}"
out="${OUT:-$target/otelcol/otelcol}"

case "$out" in
  /*) ;;
  *) out="$PWD/$out" ;; # go build runs in tests/otelcol; keep relative paths relative to the caller
esac

up_to_date() {
  [ -x "$out" ] || return 1
  local f
  for f in main.go go.mod go.sum; do
    [ "$out" -nt "$src/$f" ] || return 1
  done
}

if ! up_to_date; then
  if ! command -v go >/dev/null 2>&1; then
    echo "otelcol.sh: go is not installed (https://go.dev/dl/)" >&2
    exit 1
  fi
  mkdir -p "$(dirname "$out")"
  cd "$src"
  # Build exactly what go.mod/go.sum pin (default -mod=readonly); a caller's
  # GOFLAGS=-mod=mod is honoured, e.g. to refresh go.sum locally. Write to a
  # temporary name first so an interrupted build never leaves a binary that
  # looks up to date.
  go build -trimpath -o "$out.tmp" . >&2
  mv -f "$out.tmp" "$out"
fi
echo "$out"
