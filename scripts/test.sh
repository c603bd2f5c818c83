#!/usr/bin/env bash
# Every check CI runs, on a fresh machine: installs what it needs (Rust
# toolchain components, crates, Go modules for the go-control-plane interop
# server, which the interop test builds with scripts/interop.sh) and runs
# format, lint, tests, bench build.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo is missing: install Rust (https://rustup.rs) first" >&2
  exit 1
fi
if ! command -v go >/dev/null 2>&1; then
  echo "go is missing: the xDS interop test builds a go-control-plane server (https://go.dev/dl/)" >&2
  exit 1
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
echo "== cargo bench --no-run"
cargo bench --workspace --locked --no-run
echo "== benchmark harness, smoke iteration (no timing assertions)"
bash scripts/bench.sh --smoke
echo "== examples (built by cargo test above)"
"${CARGO_TARGET_DIR:-target}/debug/examples/quickstart" --requests 200
"${CARGO_TARGET_DIR:-target}/debug/examples/grpc"
"${CARGO_TARGET_DIR:-target}/debug/examples/xds"
