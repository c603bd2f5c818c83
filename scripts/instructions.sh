#!/usr/bin/env bash
# Instructions per request, by path and protocol, counted by callgrind:
# noise-free figures to compare the mesh's paths with raw hyper on a shared
# machine (wall-clock medians there move by several percent between runs).
#
#   bash scripts/instructions.sh            # prints a markdown table
#   bash scripts/instructions.sh --out F    # also writes it to F
#
# Each path runs twice under `valgrind --tool=callgrind` (N = 500 and
# 1500 requests after a warm-up, client and backend on one thread); the
# difference of the totals over 1000 is one request's instructions,
# start-up excluded. Needs valgrind; takes a few minutes.
set -euo pipefail
cd "$(dirname "$0")/.."

out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="$2"; shift 2 ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
if ! command -v valgrind >/dev/null 2>&1; then
  echo "valgrind is missing (apt-get install valgrind)" >&2
  exit 1
fi

target_dir=$(cargo metadata --format-version 1 --no-deps 2>/dev/null |
  sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
target_dir=${target_dir:-${CARGO_TARGET_DIR:-target}}
cargo build --release -q -p mesh-benches --bin per_request
probe="$target_dir/release/per_request"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Instructions of one run of the probe.
count() {
  valgrind --tool=callgrind --callgrind-out-file="$work/out" "$probe" "$@" 2>&1 |
    sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}

per_request() {
  local small large
  small=$(count "$1" "$2" 500)
  large=$(count "$1" "$2" 1500)
  echo $(((large - small) / 1000))
}

table="| path | protocol | instructions per request | ÷ raw (same endpoints) |
|---|---|---:|---:|"
for protocol in http1 http2; do
  raw=$(per_request raw "$protocol")
  spread=$(per_request raw-spread "$protocol")
  table+=$'\n'"| raw hyper-util client | $protocol | $raw | 1.00 |"
  table+=$'\n'"| raw, the full chain's 3 endpoints | $protocol | $spread | 1.00 |"
  for path in mesh-static mesh-routing mesh-full; do
    n=$(per_request "$path" "$protocol")
    base=$raw
    [ "$path" = mesh-static ] || base=$spread
    ratio=$(awk -v n="$n" -v b="$base" 'BEGIN { printf "%.2f", n / b }')
    table+=$'\n'"| $path | $protocol | $n | $ratio |"
  done
done
echo "$table"
if [ -n "$out" ]; then echo "$table" >"$out"; fi
