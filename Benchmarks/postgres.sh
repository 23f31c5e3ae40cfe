#!/usr/bin/env bash
# Point SELECT by primary key: PostgresPool (nimbus-pg-bench) against pgbench -S -M prepared,
# same client count, same throwaway server (scripts/test-postgres.sh), same run. Prints the ratio,
# and for both sides the client process's CPU time and context switches per query (from
# rusage / /proc), which a busy shared machine disturbs far less than throughput.
#
#   Benchmarks/postgres.sh [CLIENTS=8] [SECONDS=10] [LOOPS=2]
# Target: ratio >= 0.7.
#
# nimbus-pg-bench runs its clients the way a service runs RPC handlers: as tasks on an
# EventLoopGroup handed to the pool, so each query is sent and collected on its task's loop.
# LOOPS=2 by default: the same number of client threads as pgbench's -j 2, and what a service
# runs on this 2-core machine (one loop per core). LOOPS=1 costs a little less CPU per query
# (fewer loop wake-ups) but caps the client at one thread, which pgbench is not; LOOPS=0 runs
# the clients as plain tasks (every statement hops to the pool's fallback loop) for comparison.
set -euo pipefail
cd "$(dirname "$0")/.."
clients=${1:-8}
seconds=${2:-10}
loops=${3:-2}
scale=1
rows=$((scale * 100000))

BENCH_NAME=postgres.sh
. Benchmarks/lib.sh
bench=$(bench_release_bin nimbus-pg-bench 2>/dev/null)/nimbus-pg-bench

dir=$(mktemp -d /tmp/nimbus-pg-bench-XXXXXX)
trap 'scripts/test-postgres.sh stop "$dir" >/dev/null 2>&1 || true' EXIT
dsn=$(scripts/test-postgres.sh start "$dir" --watch-pid $$ | sed -n 's/^DSN=//p')

pgbench -i -q -s "$scale" "$dsn" >/dev/null 2>&1

# Sets pg (tps) and pg_cost ("<cpu µs>/<context switches> per query" of the pgbench process).
run_pgbench() {
  local out
  out=$(/usr/bin/time -f 'rusage %U %S %w %c' pgbench -n -S -M prepared -c "$clients" -j 2 -T "$seconds" "$dsn" 2>&1)
  pg=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' <<<"$out" | head -1)
  # Every transaction must have succeeded (nimbus-pg-bench stops at its first failed query).
  grep -q '^number of failed transactions: 0 ' <<<"$out" && [ -n "$pg" ] || bench_die "a pgbench round had failed transactions: no ratio"
  pg_cost=$(awk -v tps="$pg" -v s="$seconds" '/^rusage/ { q = tps * s; printf "%.2f µs CPU (%.2f user), %.2f switches", ($2 + $3) * 1e6 / q, $2 * 1e6 / q, ($4 + $5) / q }' <<<"$out")
}
# Sets pool (tps) and pool_cost (measured by nimbus-pg-bench over its timed window).
run_pool() {
  local out
  out=$("$bench" "$dsn" "$clients" "$seconds" "$rows" "$loops")
  pool=$(sed -n 's/^tps=//p' <<<"$out")
  pool_cost=$(sed -n 's/^cpu_us_per_query=\([0-9.]*\) ctxsw_per_query=\([0-9.]*\) user_us_per_query=\([0-9.]*\)/\1 µs CPU (\3 user), \2 switches/p' <<<"$out")
}

# Three rounds, alternating which side goes first, so drift on a shared machine hits both;
# each round's ratio compares neighbours in time, and the median round is the result.
ratios=()
for round in 1 2 3; do
  if [ $((round % 2)) -eq 1 ]; then run_pgbench; run_pool; else run_pool; run_pgbench; fi
  r=$(python3 -c "print(f'{$pool / $pg:.2f}')")
  ratios+=("$r")
  echo "round $round: pgbench -S -M prepared ${pg%.*} tps ($pg_cost per query), PostgresPool $pool tps ($pool_cost per query), ratio ${r}x"
done
median=$(printf '%s\n' "${ratios[@]}" | sort -n | sed -n 2p)
echo "clients=$clients loops=$loops seconds=$seconds load=$(cut -d' ' -f1 /proc/loadavg) median ratio=${median}x (PostgresPool / pgbench; target >= 0.7x)"
