#!/usr/bin/env bash
# `make down`: stops what `make up` started (services, gateway, podman API, PostgreSQL).
# Data stays in .run/ for the next `make up`; `rm -rf .run` forgets everything.
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
run=$repo/.run
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

for name in nimbus-gateway nimbus-database nimbus-storage nimbus-compute nimbus-identity; do
  pidfile=$run/pids/$name
  [ -f "$pidfile" ] || continue
  pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
    echo "stopped $name"
  fi
  rm -f "$pidfile"
done
[ -x "$repo/scripts/podman.sh" ] && "$repo/scripts/podman.sh" stop >/dev/null 2>&1 && echo "stopped podman API service"
if [ -f "$run/postgres/data/PG_VERSION" ] && as_pg "$PGBIN/pg_ctl" -D "$run/postgres/data" status >/dev/null 2>&1; then
  as_pg "$PGBIN/pg_ctl" -D "$run/postgres/data" -m fast -w stop >/dev/null && echo "stopped PostgreSQL"
fi
exit 0
