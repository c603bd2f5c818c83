#!/usr/bin/env bash
# Builds the Python wheel and runs its test suite, on a fresh machine:
#
#   bash scripts/python.sh             # a debug wheel (what CI tests)
#   bash scripts/python.sh --release   # a release wheel
#   bash scripts/python.sh --no-test   # build and install only (benchmarks)
#
# 1. creates a virtual environment under the target directory
#    (python-venv) and installs bindings/python/requirements-dev.txt
#    (maturin, pytest, pytest-benchmark, requests, httpx, ruff, mypy) from
#    PyPI;
# 2. builds the abi3 wheel with maturin into target/wheels and installs
#    it there;
# 3. checks the Python sources: ruff (format, lint) and mypy;
# 4. runs pytest on bindings/python/tests: the client against real
#    backends, a client over xDS (the test control plane, xds_scenario),
#    asyncio, both adapters, misuse, fork, gunicorn, the wheel in
#    a fresh venv (of this CPython, and of 3.9 and 3.13 when pyenv has
#    them), and the parity scenario (through the parity binary, built here).
set -euo pipefail
cd "$(dirname "$0")/.."

profile=dev
test=yes
for arg in "$@"; do
  case "$arg" in
    --release) profile=release ;;
    --no-test) test=no ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "python.sh: unknown argument $arg" >&2; exit 2 ;;
  esac
done

python=${PYTHON:-python3}
command -v "$python" >/dev/null 2>&1 || {
  echo "python.sh: $python is missing: the wheel needs CPython 3.9 or newer" >&2
  exit 1
}
target_dir=$(cargo metadata --format-version 1 --no-deps 2>/dev/null |
  sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
target_dir=${target_dir:-${CARGO_TARGET_DIR:-$PWD/target}}

venv="$target_dir/python-venv"
if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
  -r bindings/python/requirements-dev.txt

wheels="$target_dir/wheels"
rm -f "$wheels"/proxyless_mesh-*.whl
(cd bindings/python &&
  "$venv/bin/maturin" build --locked --profile "$profile" --out "$wheels" --interpreter "$venv/bin/python")
wheel=$(ls "$wheels"/proxyless_mesh-*.whl)
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
  --force-reinstall --no-deps "$wheel"

[ "$test" = yes ] || exit 0
(cd bindings/python &&
  "$venv/bin/ruff" format --check --quiet . &&
  "$venv/bin/ruff" check --quiet . &&
  "$venv/bin/mypy" --no-error-summary)
cargo build --locked -p mesh-tests --bin parity --bin xds_scenario
# The abi3 wheel serves CPython 3.9 and newer: when pyenv has the oldest
# and newest at hand, the fresh-venv test installs it into those too.
extra=()
if command -v pyenv >/dev/null 2>&1; then
  for version in 3.9 3.13; do
    found=$(ls -d "$(pyenv root)"/versions/"$version".*/bin/python3 2>/dev/null | tail -n 1 || true)
    if [ -n "$found" ]; then extra+=("$found"); fi
  done
fi
extra_pythons=$(IFS=:; echo "${extra[*]:-}")
echo "python.sh: the wheel is also tried under: ${extra_pythons:-no other CPython}"
(cd bindings/python &&
  PROXYLESS_MESH_EXTRA_PYTHONS="$extra_pythons" \
  PROXYLESS_MESH_WHEEL="$wheel" MESH_PARITY_BIN="$target_dir/debug/parity" \
  MESH_XDS_SCENARIO_BIN="$target_dir/debug/xds_scenario" \
    "$venv/bin/python" -m pytest -q -p no:cacheprovider tests)
