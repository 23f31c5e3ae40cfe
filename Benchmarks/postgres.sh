#!/usr/bin/env bash
# Point SELECT by primary key: PostgresPool (nimbus-pg-bench) against pgbench -S -M prepared,
# same client count, same throwaway server (scripts/test-postgres.sh), same run. Prints the ratio.
#
#   Benchmarks/postgres.sh [CLIENTS=8] [SECONDS=10]
# Target: ratio >= 0.7.
set -euo pipefail
cd "$(dirname "$0")/.."
clients=${1:-8}
seconds=${2:-10}
scale=1
rows=$((scale * 100000))

swift build -c release --product nimbus-pg-bench >/dev/null
bench=$(swift build -c release --show-bin-path)/nimbus-pg-bench

dir=$(mktemp -d /tmp/nimbus-pg-bench-XXXXXX)
trap 'scripts/test-postgres.sh stop "$dir" >/dev/null 2>&1 || true' EXIT
dsn=$(scripts/test-postgres.sh start "$dir" --watch-pid $$ | sed -n 's/^DSN=//p')

pgbench -i -q -s "$scale" "$dsn" >/dev/null 2>&1

run_pgbench() {
  pgbench -n -S -M prepared -c "$clients" -j 2 -T "$seconds" "$dsn" 2>/dev/null \
    | sed -n 's/^tps = \([0-9.]*\).*/\1/p' | head -1
}
run_pool() { "$bench" "$dsn" "$clients" "$seconds" "$rows" | sed -n 's/^tps=//p'; }

# Three rounds, alternating which side goes first, so drift on a shared machine hits both;
# each round's ratio compares neighbours in time, and the median round is the result.
ratios=()
for round in 1 2 3; do
  if [ $((round % 2)) -eq 1 ]; then pg=$(run_pgbench); pool=$(run_pool); else pool=$(run_pool); pg=$(run_pgbench); fi
  r=$(python3 -c "print(f'{$pool / $pg:.2f}')")
  ratios+=("$r")
  echo "round $round: pgbench -S -M prepared ${pg%.*} tps, PostgresPool $pool tps, ratio ${r}x"
done
median=$(printf '%s\n' "${ratios[@]}" | sort -n | sed -n 2p)
echo "clients=$clients seconds=$seconds load=$(cut -d' ' -f1 /proc/loadavg) median ratio=${median}x (PostgresPool / pgbench; target >= 0.7x)"
