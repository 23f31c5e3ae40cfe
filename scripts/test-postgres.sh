#!/usr/bin/env bash
# A throwaway PostgreSQL 15 for tests (Swift's NimbusTestSupport and the Python suites use this).
#
#   scripts/test-postgres.sh start DIR [--watch-pid PID]   initdb into DIR, start on a random port
#                                                          with its unix socket in DIR; prints
#                                                          DSN=…, TCP_DSN=…, PORT=…, SOCKET_DIR=…
#   scripts/test-postgres.sh stop DIR                       stop the server and remove DIR
#   scripts/test-postgres.sh restart DIR                    stop (fast) and start again on the same port
#
# The admin role is `postgres` with a generated password (scram-sha-256 on socket and TCP).
# With --watch-pid, a detached watchdog stops the server and removes DIR when PID exits, so a
# crashed test process leaves no postgres behind. As root, initdb/pg_ctl run as `postgres`.
set -euo pipefail

PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
cmd=${1:-}; dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start|stop|restart DIR [--watch-pid PID]" >&2; exit 2; }
shift 2
watch_pid=""
while [ $# -gt 0 ]; do
  case "$1" in
    --watch-pid) watch_pid=$2; shift 2 ;;
    *) echo "test-postgres: unknown argument $1" >&2; exit 2 ;;
  esac
done

as_pg() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

pg_start() {
  local port=$1
  as_pg "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 30 \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1" start >/dev/null
}

print_dsns() {
  local port password
  port=$(cat "$dir/port"); password=$(cat "$dir/password")
  echo "DSN=host=$dir port=$port user=postgres password=$password dbname=postgres"
  echo "TCP_DSN=postgresql://postgres:$password@127.0.0.1:$port/postgres"
  echo "PORT=$port"
  echo "SOCKET_DIR=$dir"
}

case "$cmd" in
  start)
    mkdir -p "$dir"
    if [ "$(id -u)" -eq 0 ]; then chown postgres: "$dir"; fi
    chmod 700 "$dir"
    password=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
    umask 077
    printf '%s' "$password" > "$dir/password"
    printf '%s\n' "$password" > "$dir/pwfile"
    [ "$(id -u)" -eq 0 ] && chown postgres: "$dir/password" "$dir/pwfile"
    as_pg "$PGBIN/initdb" -D "$dir/data" -U postgres --pwfile="$dir/pwfile" -A scram-sha-256 \
      -E UTF8 --locale=C.UTF-8 -k >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
    rm -f "$dir/pwfile"
    cat >> "$dir/data/postgresql.conf" <<'EOF'
# throwaway test server: durability off, room for parallel tests
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 300
shared_buffers = 64MB
max_locks_per_transaction = 256
log_min_messages = warning
EOF
    # A random free port; retry when another process grabs it between the probe and the start.
    for attempt in 1 2 3 4 5; do
      port=$(free_port)
      echo "$port" > "$dir/port"
      if pg_start "$port" 2>>"$dir/start.err"; then started=1; break; fi
      started=0
    done
    [ "${started:-0}" -eq 1 ] || { echo "test-postgres: could not start; see $dir/postgres.log" >&2; tail -20 "$dir/postgres.log" >&2 || true; exit 1; }
    if [ -n "$watch_pid" ]; then
      # Detached watchdog: outlives a crashed parent, stops the server, removes the directory.
      setsid bash -c "while kill -0 $watch_pid 2>/dev/null && [ -d '$dir/data' ]; do sleep 1; done; \
        '$0' stop '$dir' >/dev/null 2>&1" </dev/null >/dev/null 2>&1 &
    fi
    print_dsns
    ;;
  restart)
    as_pg "$PGBIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
    pg_start "$(cat "$dir/port")"
    print_dsns
    ;;
  stop)
    if [ -f "$dir/data/postmaster.pid" ]; then
      as_pg "$PGBIN/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    ;;
  *) echo "usage: $0 start|stop|restart DIR [--watch-pid PID]" >&2; exit 2 ;;
esac
