#!/usr/bin/env bash
# Every check CI runs, on a fresh machine: installs what it needs (Rust
# toolchain components, crates, Go modules for the go-control-plane interop
# server, which the interop test builds with scripts/interop.sh) and runs
# format, lint, tests, bench build, the C ABI under AddressSanitizer, the Go
# binding's tests under the race detector, the Python wheel's build and
# pytest suite (scripts/python.sh: a virtual environment with maturin,
# pytest, requests and httpx from PyPI), and the cross-language parity
# scenario. Prometheus (Debian's package, for the telemetry test) is
# installed with apt-get when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo is missing: install Rust (https://rustup.rs) first" >&2
  exit 1
fi
if ! command -v go >/dev/null 2>&1; then
  echo "go is missing: the xDS interop test and the Go binding need it (https://go.dev/dl/)" >&2
  exit 1
fi
if ! command -v gcc >/dev/null 2>&1; then
  echo "gcc is missing: the C ABI's smoke test is a C program (apt-get install gcc)" >&2
  exit 1
fi
if ! command -v python3 >/dev/null 2>&1; then
  echo "python3 is missing: the Python wheel is built and tested (CPython 3.9+ with venv)" >&2
  exit 1
fi
# The telemetry test scrapes the engine with a real Prometheus (Debian's
# package).
if [ -z "${PROMETHEUS:-}" ] && ! command -v prometheus >/dev/null 2>&1; then
  echo "== installing Prometheus (Debian package) for the telemetry test"
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi
# CI builds once from clean: incremental caches would only take disk.
if [ -n "${CI:-}" ]; then
  export CARGO_INCREMENTAL=0
fi
if command -v rustup >/dev/null 2>&1; then
  rustup component add rustfmt clippy >/dev/null 2>&1 || true
fi

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo doc"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked
echo "== cargo test"
cargo test --workspace --locked
target="${CARGO_TARGET_DIR:-target}"
echo "== the C ABI (smoke test under ASan/UBSan) and the Go binding (vet, test -race)"
cargo build --locked -p mesh-c
MESH_LIB_DIR="$target/debug" bash scripts/bindings.sh
echo "== the Python wheel: maturin build, pytest (asyncio, adapters, misuse, fork, fresh venv, parity)"
bash scripts/python.sh
venv_python="$target/python-venv/bin/python"  # where python.sh puts it
echo "== parity scenario: Rust, Go and Python against the same backends"
libdir=$(mktemp -d)
cp "$target/debug/libmesh.a" "$libdir/"
CGO_LDFLAGS="-L$libdir" PYTHON="$venv_python" "$target/debug/parity" \
  --go bindings/go --python bindings/python/tests/parity_runner.py
rm -rf "$libdir"
echo "== cargo bench --no-run"
cargo bench --workspace --locked --no-run
echo "== benchmark harness, smoke iteration (no timing assertions)"
bash scripts/bench.sh --smoke
bash scripts/bench-bindings.sh --smoke
echo "== examples (built by cargo test above)"
"${CARGO_TARGET_DIR:-target}/debug/examples/quickstart" --requests 200
"${CARGO_TARGET_DIR:-target}/debug/examples/grpc"
"${CARGO_TARGET_DIR:-target}/debug/examples/xds"
