#!/usr/bin/env bash
# Launch-to-RUNNING of a nimbus-compute instance against the container engine API's create +
# start of the same image and command on the same podman (the headline reference), and a bare
# `podman run -d` for scale, interleaved in the same run: real binaries (nimbus-identity for
# the quota, nimbus-compute), a throwaway PostgreSQL, the podman API of scripts/podman.sh in a
# temporary directory. Prints per-round times, medians and the ratios (target: at most 1.5x).
# Release build only; a launch that fails voids the run (no ratio).
#   Benchmarks/compute.sh        env: ROUNDS (10), NIMBUS_BIN (a release bin dir; default: builds .build/release)
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH_NAME=compute.sh
. Benchmarks/lib.sh
if [ -z "${NIMBUS_BIN:-}" ]; then
  NIMBUS_BIN=$(bench_release_bin nimbus-compute nimbus-identity)
  export NIMBUS_BIN
fi
bench_require_release "$NIMBUS_BIN"
[ -x "$NIMBUS_BIN/nimbus-compute" ] && [ -x "$NIMBUS_BIN/nimbus-identity" ] \
  || bench_die "build nimbus-compute and nimbus-identity first (swift build -c release)"
PY=.venv/bin/python
[ -x "$PY" ] || bench_die "run scripts/install-deps.sh first (.venv)"
exec "$PY" Benchmarks/compute_bench.py "${ROUNDS:-10}"
