#!/usr/bin/env bash
# `make up`: the whole platform on this machine, idempotent (a second run reuses what runs).
#   PostgreSQL 15 on 127.0.0.1:5433 (data in .run/postgres), one schema + login role per
#   service, the podman API service and the local busybox image, the four services and the
#   gateway (logs in .run/logs), and a first admin whose API key is printed once.
# `make down` (scripts/down.sh) stops everything this started.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
run=$repo/.run
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
PGPORT=${NIMBUS_PG_PORT:-5433}
GATEWAY_PORT=${NIMBUS_GATEWAY_PORT:-8080}
BIN=${NIMBUS_BIN:-$repo/.build/release}
mkdir -p "$run/logs" "$run/secrets" "$run/pids"
chmod 700 "$run/secrets"

as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
secret() {  # a random secret kept 0600 under .run/secrets, created once
  local file=$run/secrets/$1
  [ -s "$file" ] || (umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$file")
  cat "$file"
}
key_secret() {  # 32 random bytes written base64url (key-encryption keys), 0600, created once
  local file=$run/secrets/$1
  [ -s "$file" ] || (umask 077; head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n' > "$file")
  cat "$file"
}

if [ ! -x "$BIN/nimbus-gateway" ] || [ -n "$(find Sources Package.swift -newer "$BIN/nimbus-gateway" -print -quit 2>/dev/null)" ]; then
  say "building (release)"
  swift build -c release
fi

# ── PostgreSQL ──
pgdir=$run/postgres
if [ ! -f "$pgdir/data/PG_VERSION" ]; then
  say "initialising PostgreSQL in $pgdir"
  mkdir -p "$pgdir"
  [ "$(id -u)" -eq 0 ] && chown postgres: "$pgdir"
  chmod 700 "$pgdir"
  admin_password=$(secret postgres-admin)
  (umask 077; printf '%s\n' "$admin_password" > "$pgdir/pwfile")
  [ "$(id -u)" -eq 0 ] && chown postgres: "$pgdir/pwfile"
  as_pg "$PGBIN/initdb" -D "$pgdir/data" -U postgres --pwfile="$pgdir/pwfile" -A scram-sha-256 -k >/dev/null
  rm -f "$pgdir/pwfile"
fi
if ! as_pg "$PGBIN/pg_ctl" -D "$pgdir/data" status >/dev/null 2>&1; then
  say "starting PostgreSQL on 127.0.0.1:$PGPORT"
  as_pg "$PGBIN/pg_ctl" -D "$pgdir/data" -l "$pgdir/postgres.log" -w -t 30 \
    -o "-p $PGPORT -k $pgdir -c listen_addresses=127.0.0.1" start >/dev/null
fi
admin_dsn="postgresql://postgres:$(secret postgres-admin)@127.0.0.1:$PGPORT/postgres"

# ── schemas and roles: each service owns its schema through its own login role ──
declare -A schema_of=([identity]=identity [compute]=compute [storage]=storage [database]=databases)
declare -A port_of=([identity]=7001 [compute]=7002 [storage]=7003 [database]=7004)
for svc in identity compute storage database; do
  schema=${schema_of[$svc]}
  password=$(secret "db-$schema")
  NIMBUS_ADMIN_DATABASE_URL=$admin_dsn NIMBUS_ROLE_PASSWORD=$password \
    "$BIN/nimbus-$svc" db-bootstrap >>"$run/logs/bootstrap.log" 2>&1 \
    || { echo "schema bootstrap for $svc failed; see $run/logs/bootstrap.log" >&2; exit 1; }
done

# ── podman API service and the local image ──
say "starting the podman API service"
scripts/podman.sh start >/dev/null
docker_socket=$(scripts/podman.sh env | sed -n 's/^NIMBUS_DOCKER_SOCKET=//p')
scripts/build-images.sh >/dev/null

# ── services ──
export NIMBUS_PRINCIPAL_KEY=$(secret principal-key)
export NIMBUS_LOG_FORMAT=json
export NIMBUS_IDENTITY_ENDPOINTS=127.0.0.1:7001 NIMBUS_COMPUTE_ENDPOINTS=127.0.0.1:7002
export NIMBUS_STORAGE_ENDPOINTS=127.0.0.1:7003 NIMBUS_DATABASE_ENDPOINTS=127.0.0.1:7004
export NIMBUS_DOCKER_SOCKET=$docker_socket

running() { [ -f "$run/pids/$1" ] && kill -0 "$(cat "$run/pids/$1")" 2>/dev/null; }
wait_ready() {
  for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$2/readyz" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "$1 did not become ready; see $run/logs/$1.log" >&2
  exit 1
}
start() {  # name port [env…]
  local name=$1 port=$2; shift 2
  if running "$name"; then echo "    $name already running"; return; fi
  env "$@" setsid "$BIN/$name" --listen "127.0.0.1:$port" >>"$run/logs/$name.log" 2>&1 < /dev/null &
  echo $! > "$run/pids/$name"
  wait_ready "$name" "$port"
  echo "    $name on 127.0.0.1:$port"
}

say "starting the services"
for svc in identity compute storage database; do
  schema=${schema_of[$svc]}
  extra=()  # compute alone holds the key that seals instance environments, identity the one for S3 secrets
  [ "$svc" = compute ] && extra=("NIMBUS_COMPUTE_KEK=$(key_secret compute-kek)")
  [ "$svc" = identity ] && extra=("NIMBUS_IDENTITY_KEK=$(key_secret identity-kek)")
  [ "$svc" = storage ] && extra=("NIMBUS_STORAGE_DATA_DIR=$run/storage")  # object bytes
  start "nimbus-$svc" "${port_of[$svc]}" \
    "DATABASE_URL=postgresql://$schema:$(secret "db-$schema")@127.0.0.1:$PGPORT/postgres" "${extra[@]}"
done
start nimbus-gateway "$GATEWAY_PORT" NIMBUS_GATEWAY_STORAGE_HTTP=127.0.0.1:7003  # S3 through the one endpoint

# ── the first admin ──
if [ ! -f "$run/admin-bootstrapped" ]; then
  say "creating the first admin"
  out=$(DATABASE_URL="postgresql://identity:$(secret db-identity)@127.0.0.1:$PGPORT/postgres" \
        "$BIN/nimbus-identity" bootstrap --email "${NIMBUS_ADMIN_EMAIL:-admin@nimbus.local}" 2>>"$run/logs/bootstrap.log")
  touch "$run/admin-bootstrapped"
  api_key=$(printf '%s\n' "$out" | grep -o 'nmb_[A-Za-z0-9_-]*' | head -1)
  admin_password=$(printf '%s\n' "$out" | sed -n 's/^ *password: //p' | head -1)
fi

echo
echo "Nimbus is up."
echo "  gateway:  http://127.0.0.1:$GATEWAY_PORT   (REST /v1/…, gRPC, /v1/openapi.json)"
echo "  console:  http://127.0.0.1:$GATEWAY_PORT/console/   (sign in with the admin's email and password, or the API key)"
echo "  logs:     $run/logs/"
if [ -n "${api_key:-}" ]; then
  echo "  admin API key (shown once, keep it safe): $api_key"
  if [ -n "${admin_password:-}" ]; then
    echo "  admin ${NIMBUS_ADMIN_EMAIL:-admin@nimbus.local}, password (shown once): $admin_password"
  fi
  echo
  echo "  $BIN/nimbus configure --endpoint http://127.0.0.1:$GATEWAY_PORT --api-key $api_key"
else
  echo "  the admin API key was printed by the first 'make up'; 'nimbus login' makes a new one"
fi
