#!/usr/bin/env bash
# Launch-to-RUNNING of a nimbus-compute instance against a bare `podman run -d` of the same
# image and command on the same podman, interleaved in the same run: real binaries
# (nimbus-identity for the quota, nimbus-compute), a throwaway PostgreSQL, the podman API of
# scripts/podman.sh in a temporary directory. Prints per-round times, medians and the ratio
# (target: at most 1.5x).
#   Benchmarks/compute.sh        env: ROUNDS (10), NIMBUS_BIN (.build/debug; `release` builds
#                                     .build/release first when NIMBUS_BIN is unset and
#                                     CONFIG=release)
set -euo pipefail
cd "$(dirname "$0")/.."
CONFIG=${CONFIG:-debug}
if [ -z "${NIMBUS_BIN:-}" ]; then
  if [ "$CONFIG" = release ]; then
    swift build -c release --product nimbus-compute 2>&1 | tail -1
    swift build -c release --product nimbus-identity 2>&1 | tail -1
  fi
  export NIMBUS_BIN=$PWD/.build/$CONFIG
fi
[ -x "$NIMBUS_BIN/nimbus-compute" ] && [ -x "$NIMBUS_BIN/nimbus-identity" ] \
  || { echo "compute.sh: build nimbus-compute and nimbus-identity first (swift build)" >&2; exit 1; }
PY=.venv/bin/python
[ -x "$PY" ] || { echo "compute.sh: run scripts/install-deps.sh first (.venv)" >&2; exit 1; }
exec "$PY" Benchmarks/compute_bench.py "${ROUNDS:-10}"
