#!/usr/bin/env bash
# What a language binding adds to a request: the Rust paths (async
# MeshClient, the blocking Engine::execute every binding calls), the Go
# binding's benchmarks (a no-op cgo call, a GET through the mesh, the same
# GET with net/http alone) and the Python wheel's (a no-op call, requests
# and throughput against `requests` and `httpx`), against one backend in
# one run. The wheel is built by scripts/python.sh (release, or debug for
# --smoke) into its virtual environment.
#
#   bash scripts/bench-bindings.sh              # release build, prints the table
#   bash scripts/bench-bindings.sh --out FILE   # also appends it to FILE
#   bash scripts/bench-bindings.sh --smoke      # debug build, a tiny run (CI)
#
# No timing assertions: the figures are reported, not enforced.
set -euo pipefail
cd "$(dirname "$0")/.."

profile=release
args=()
for arg in "$@"; do
  case "$arg" in
    --smoke) profile=debug; args+=(--smoke) ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) args+=("$arg") ;;
  esac
done

target_dir=$(cargo metadata --format-version 1 --no-deps 2>/dev/null |
  sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
target_dir=${target_dir:-${CARGO_TARGET_DIR:-target}}

if [ "$profile" = release ]; then
  cargo build --release --locked -p mesh-c -p mesh-benches --bin bindings --lib
else
  cargo build --locked -p mesh-c -p mesh-benches --bin bindings --lib
fi

# Link the Go binding statically: a directory holding only libmesh.a.
libdir=$(mktemp -d)
trap 'rm -rf "$libdir"' EXIT
cp "$target_dir/$profile/libmesh.a" "$libdir/"
export CGO_LDFLAGS="-L$libdir"

if [ "$profile" = release ]; then
  bash scripts/python.sh --release --no-test
else
  bash scripts/python.sh --no-test
fi

"$target_dir/$profile/bindings" --go bindings/go \
  --python "$target_dir/python-venv/bin/python" "${args[@]}"
