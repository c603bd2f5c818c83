#!/usr/bin/env bash
# Checks the C ABI and the Go binding against a built libmesh:
#
#   MESH_LIB_DIR=target/debug bash scripts/bindings.sh   # the default dir
#
# MESH_LIB_DIR holds libmesh.a; the header is the committed
# bindings/c/include/mesh.h. The script
#   1. copies libmesh.a alone into a temporary directory, so both the C
#      smoke test and cgo link the engine statically even when libmesh.so
#      sits next to it;
#   2. builds bindings/c/tests/smoke.c under AddressSanitizer (with leak
#      detection) and UBSan and runs it against the Go test backend;
#   3. checks the Go binding: gofmt, go vet, go test -race.
# Everything runs on loopback; every process it starts is stopped on exit.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
lib_dir="${MESH_LIB_DIR:-target/debug}"
case "$lib_dir" in
  /*) ;;
  *) lib_dir="$repo/$lib_dir" ;;
esac
include_dir="$repo/bindings/c/include"

fail() {
  echo "bindings.sh: $*" >&2
  exit 1
}
[ -f "$lib_dir/libmesh.a" ] || fail "no libmesh.a in $lib_dir (set MESH_LIB_DIR)"
[ -f "$include_dir/mesh.h" ] || fail "no header at $include_dir/mesh.h"
command -v gcc >/dev/null 2>&1 || fail "gcc is not installed"
command -v go >/dev/null 2>&1 || fail "go is not installed (https://go.dev/dl/)"

work="$(mktemp -d)"
backend_pid=""
stop_backend() {
  if [ -n "$backend_pid" ]; then
    kill "$backend_pid" 2>/dev/null || true
    wait "$backend_pid" 2>/dev/null || true
    backend_pid=""
  fi
}
cleanup() {
  stop_backend
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM # runs the EXIT trap

mkdir "$work/lib"
cp "$lib_dir/libmesh.a" "$work/lib/"

echo "== C smoke test (AddressSanitizer, LeakSanitizer, UBSan)"
gcc -std=c11 -Wall -Wextra -Werror -fsanitize=address,undefined -fno-omit-frame-pointer \
  -I"$include_dir" "$repo/bindings/c/tests/smoke.c" "$work/lib/libmesh.a" -lpthread -ldl -lm \
  -o "$work/smoke"
(cd "$repo/bindings/go" && go build -o "$work/testbackend" ./internal/testbackend)

# The backend's stdin is a pipe from this script: it exits when the
# script does, even if the EXIT trap never runs (kill -9).
coproc BACKEND { exec "$work/testbackend"; }
backend_pid=$BACKEND_PID
read -r -t 10 backend_addr <&"${BACKEND[0]}" || fail "the test backend did not print its address"
case "$backend_addr" in
  127.0.0.1:*) ;;
  *) fail "the test backend is not on loopback: $backend_addr" ;;
esac

ASAN_OPTIONS="detect_leaks=1:abort_on_error=0" \
  UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
  "$work/smoke" "$backend_addr"
stop_backend # only the smoke test needs it

echo "== Go binding"
cd "$repo/bindings/go"
export CGO_LDFLAGS="-L$work/lib${CGO_LDFLAGS:+ $CGO_LDFLAGS}"
unformatted="$(gofmt -l .)"
[ -z "$unformatted" ] || fail "gofmt would change: $unformatted"
go vet ./...
go test -race -count=1 ./...
echo "bindings.sh: all checks passed"
