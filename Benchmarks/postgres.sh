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

# Alternate the two so drift on a shared machine hits both; keep each one's best.
best_pg=0; best_pool=0
for round in 1 2; do
  pg=$(run_pgbench); pool=$(run_pool)
  echo "round $round: pgbench -S -M prepared ${pg%.*} tps, PostgresPool $pool tps"
  best_pg=$(python3 -c "print(max($best_pg, $pg))"); best_pool=$(python3 -c "print(max($best_pool, $pool))")
done
ratio=$(python3 -c "print(f'{$best_pool / $best_pg:.2f}')")
echo "clients=$clients seconds=$seconds pgbench=${best_pg%.*} tps pool=${best_pool%.*} tps ratio=${ratio}x (target >= 0.7x)"
