#!/usr/bin/env bash
# The loopback benchmark harness of issue 7: raw hyper, the mesh (static and
# full chain) and a sidecar pair (nginx and HAProxy, two of each in a row),
# HTTP/1.1 and HTTP/2, then the scale runs (a static file, and the same
# mesh through the xDS client); writes BENCHMARKS.md.
#
#   bash scripts/bench.sh                # full run (a few minutes), rewrites BENCHMARKS.md
#   bash scripts/bench.sh --smoke        # a tiny iteration of everything, prints only (CI)
#   bash scripts/bench.sh --no-install   # never call apt-get; missing proxies read n/a
#   bash scripts/bench.sh --xds-only     # the xDS scale run alone (1 000 and 5 000 clusters), prints only
#
# With valgrind installed, a table of instructions per request
# (scripts/instructions.sh) is appended; with Go, the bindings' table
# (scripts/bench-bindings.sh).
#
# Other arguments go to the harness (e.g. --reps 3, --no-scale). The proxies
# come from Debian's packages: installed when missing and running as root,
# otherwise their rows read "n/a (nginx not installed)". Only 127.0.0.1 is
# ever contacted. No timing assertions: the targets are reported, not
# enforced.
set -euo pipefail
cd "$(dirname "$0")/.."

smoke=0
install=1
xds_only=0
harness_args=()
for arg in "$@"; do
  case "$arg" in
    --smoke) smoke=1 ;;
    --no-install) install=0 ;;
    --xds-only) xds_only=1 ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) harness_args+=("$arg") ;;
  esac
done

if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo is missing: install Rust (https://rustup.rs) first" >&2
  exit 1
fi

# Where a proxy's executable is (sbin may not be on a user's PATH).
find_proxy() {
  command -v "$1" 2>/dev/null && return 0
  for dir in /usr/sbin /usr/local/sbin /sbin; do
    if [ -x "$dir/$1" ]; then echo "$dir/$1"; return 0; fi
  done
  return 1
}

target_dir=$(cargo metadata --format-version 1 --no-deps 2>/dev/null |
  sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
target_dir=${target_dir:-${CARGO_TARGET_DIR:-target}}

if [ "$xds_only" = 1 ]; then
  # Apply time, EDS update time and memory of a mesh applied through the
  # xDS client; --smoke makes it a tiny size.
  if [ "$smoke" = 1 ]; then
    cargo build -p mesh-benches --bin xds_scale
    "$target_dir/debug/xds_scale" --smoke
  else
    cargo build --release -p mesh-benches --bin xds_scale
    "$target_dir/release/xds_scale" --sizes 1000,5000 --reps 3
  fi
  exit 0
fi

missing=()
for proxy in nginx haproxy; do
  find_proxy "$proxy" >/dev/null || missing+=("$proxy")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$install" = 0 ]; then
    echo "== not installing ${missing[*]} (--no-install): their sidecar rows will read n/a"
  elif [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "== ${missing[*]} missing, and installing needs root and apt-get: their sidecar rows will read n/a"
    echo "   (as root: apt-get install -y ${missing[*]})"
  else
    echo "== installing ${missing[*]} from Debian's packages"
    # Keep the packages from starting their system services (nginx would
    # take port 80): the harness starts its own instances on free ports.
    policy=/usr/sbin/policy-rc.d
    made_policy=0
    if [ ! -e "$policy" ]; then
      printf '#!/bin/sh\nexit 101\n' >"$policy"
      chmod +x "$policy"
      made_policy=1
    fi
    if apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
      echo "   installed"
    else
      echo "   apt-get failed: the missing proxies' rows will read n/a"
    fi
    if [ "$made_policy" = 1 ]; then rm -f "$policy"; fi
  fi
fi

if [ "$smoke" = 1 ]; then
  # The smoke run's figures mean nothing, so it reuses the debug build that
  # `cargo test` already made in CI instead of a release build.
  echo "== cargo build -p mesh-benches --bins (dev profile)"
  cargo build -p mesh-benches --bins
  bin="$target_dir/debug"
  started=$(date +%s%N)
  "$bin/harness" --smoke "${harness_args[@]}"
  elapsed_ms=$((($(date +%s%N) - started) / 1000000))
  echo "== smoke run passed in ${elapsed_ms} ms (BENCHMARKS.md not written)"
else
  echo "== cargo build --release -p mesh-benches --bins"
  cargo build --release -p mesh-benches --bins
  bin="$target_dir/release"
  echo "== running the harness (a few minutes; progress below)"
  "$bin/harness" --out BENCHMARKS.md "${harness_args[@]}"
  if command -v valgrind >/dev/null 2>&1; then
    echo "== counting instructions per request (callgrind, about a minute)"
    {
      echo
      echo "## Instructions per request (callgrind)"
      echo
      echo "Counted by \`bash scripts/instructions.sh\`: each path runs 500 and 1 500 sequential requests (after a warm-up) under callgrind, client and backend on one thread; the difference of the totals over 1 000 is one request, client and backend together, start-up excluded. Unlike the medians above these do not move with the machine's load; they vary by about 1 % between runs (polling depends on timing). The raw row of the same endpoints is the baseline."
      echo
      bash scripts/instructions.sh
    } >>BENCHMARKS.md
  else
    echo "== valgrind missing: no instructions-per-request table"
  fi
  if command -v go >/dev/null 2>&1; then
    echo "== the bindings: Rust's blocking entry and Go's, against one backend"
    bash scripts/bench-bindings.sh --out BENCHMARKS.md
  else
    echo "== go missing: no bindings table"
  fi
fi
