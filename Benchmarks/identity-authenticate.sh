#!/usr/bin/env bash
# Authenticate throughput over the transport: h2load against nimbus.identity.v1.Auth/Authenticate
# (API key → Principal: epoch read + cache hit + constant-time hash compare + signing the
# principal) and, interleaved in the same run as the reference, Roles/ListPermissions on the same
# server (signed-principal verification, no database). Prints req/s, p50/p99 and the ratio
# Authenticate/ListPermissions per round and as a median. Not a test. Release build only; each
# round mints a fresh service principal, and counts only when every request succeeded and
# identity counted as many OK calls (Benchmarks/lib.sh), or no ratio is printed.
#   Benchmarks/identity-authenticate.sh    env: N (requests/round, 50000), ROUNDS (3),
#                                               SPEC ("-c 8 -m 16 -t 2")
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-50000}
ROUNDS=${ROUNDS:-3}
SPEC=${SPEC:-"-c 8 -m 16 -t 2"}
PY=${PYTHON:-.venv/bin/python}
BENCH_NAME=identity-authenticate.sh
. Benchmarks/lib.sh

command -v h2load >/dev/null || { echo "identity-authenticate.sh: needs h2load (nghttp2-client)" >&2; exit 1; }
echo "identity-authenticate.sh: building nimbus-identity (release)"
BIN=$(bench_release_bin nimbus-identity)/nimbus-identity

WORK=$(mktemp -d)
PGDIR=/tmp/identity-bench-pg-$$  # postgres must reach it (mktemp dirs are 0700)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  scripts/test-postgres.sh stop "$PGDIR" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

DSN=$(scripts/test-postgres.sh start "$PGDIR" --watch-pid $$ | sed -n 's/^TCP_DSN=//p')
export NIMBUS_IDENTITY_DATABASE_URL=$DSN
export NIMBUS_PRINCIPAL_KEY=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
export NIMBUS_LOG_LEVEL=warning
KEY=$("$BIN" bootstrap --email bench@example.com --tenant bench | grep -oE 'nmb_[a-z0-9]{12}_[A-Za-z0-9_-]{43}')
PORT=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$BIN" serve --listen "127.0.0.1:$PORT" > "$WORK/identity.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break; sleep 0.1; done

# Request bodies (gRPC framing), and a service principal signed like PrincipalSigner does,
# valid for 290 s: `mint` makes a fresh one for every round (a long run must not measure
# UNAUTHENTICATED once the first expired).
KEY="$KEY" WORK="$WORK" $PY - <<'PYEOF'
import os, struct
key = os.environ["KEY"].encode()
msg = b"\x0a" + bytes([len(key)]) + key
open(os.environ["WORK"] + "/authenticate.bin", "wb").write(b"\x00" + struct.pack(">I", len(msg)) + msg)
open(os.environ["WORK"] + "/empty.bin", "wb").write(b"\x00\x00\x00\x00\x00")
PYEOF
mint() {
  $PY - <<'PYEOF'
import base64, hashlib, hmac, os, struct, time
def s(t): b = t.encode(); return struct.pack(">H", len(b)) + b
perms = ["service:internal"]
enc = b"\x01" + s("service:bench") + s("") + s("service") + s("") + struct.pack(">H", len(perms)) + b"".join(s(p) for p in sorted(perms))
body = b"\x01" + struct.pack(">Q", int(time.time() * 1000) + 290_000) + struct.pack(">H", len(enc)) + enc
token = body + hmac.new(os.environ["NIMBUS_PRINCIPAL_KEY"].encode(), b"nimbus-principal-v1\x00" + body, hashlib.sha256).digest()
print(base64.b64encode(token).decode())
PYEOF
}
PRINCIPAL=$(mint)
# Before timing, one grpcio call of each path must answer OK.
bench_sanity_grpc "$PORT" /nimbus.identity.v1.Auth/Authenticate "$WORK/authenticate.bin" "x-nimbus-principal-bin=$PRINCIPAL"
bench_sanity_grpc "$PORT" /nimbus.identity.v1.Roles/ListPermissions "$WORK/empty.bin" "x-nimbus-principal-bin=$PRINCIPAL"

HEADERS=(-H 'content-type: application/grpc' -H 'te: trailers')
AUTH_URL="http://127.0.0.1:$PORT/nimbus.identity.v1.Auth/Authenticate"
REF_URL="http://127.0.0.1:$PORT/nimbus.identity.v1.Roles/ListPermissions"

run() {  # run <label> <url> <body> <method> → "req/s p50_us p99_us succeeded valid(1|0)"
  local label=$1 url=$2 body=$3 method=$4 log="$WORK/$1.log" pct before after valid=1
  before=$(bench_grpc_ok "$PORT" "${method%/*}" "${method#*/}")
  # shellcheck disable=SC2086
  bench_h2load "$WORK/$label.out" "$N" $SPEC --log-file="$log" -d "$body" "${HEADERS[@]}" -H "x-nimbus-principal-bin: $PRINCIPAL" "$url"
  after=$(bench_grpc_ok "$PORT" "${method%/*}" "${method#*/}")
  bench_check "$label" "$N" "$before" "$after" || valid=0
  pct=$(awk '{print $3}' "$log" | sort -n | awk '{a[NR]=$1} END{printf "%d %d", a[int(NR*0.50)], a[int(NR*0.99)]}')
  echo "$H2_RPS $pct $H2_OK $valid"
}

ROUND_N=$N; N=2000
read -r _ _ _ _ valid < <(run warm-auth "$AUTH_URL" "$WORK/authenticate.bin" nimbus.identity.v1.Auth/Authenticate)
[ "$valid" = 1 ] || { tail -5 "$WORK/identity.log"; bench_die "warm-up failed"; }
N=$ROUND_N

printf '%-6s %-16s %12s %9s %9s %10s\n' round rpc req/s p50_us p99_us succeeded
ratios=()
for r in $(seq "$ROUNDS"); do
  PRINCIPAL=$(mint)
  read -r ar ap50 ap99 aok avalid < <(run "auth-$r" "$AUTH_URL" "$WORK/authenticate.bin" nimbus.identity.v1.Auth/Authenticate)
  read -r lr lp50 lp99 lok lvalid < <(run "ref-$r" "$REF_URL" "$WORK/empty.bin" nimbus.identity.v1.Roles/ListPermissions)
  printf '%-6s %-16s %12s %9s %9s %10s\n' "$r" Authenticate "$ar" "$ap50" "$ap99" "$aok" "$r" ListPermissions "$lr" "$lp50" "$lp99" "$lok"
  [ "$avalid$lvalid" = 11 ] || bench_die "round $r is void (see above): no ratio is printed"
  ratio=$($PY -c "print(f'{$ar/$lr:.3f}')")
  ratios+=("$ratio")
  echo "       ratio Authenticate/ListPermissions = $ratio"
done
echo "identity-authenticate.sh: release build, spec '$SPEC', $N requests/round; every round: succeeded == requested == OK calls counted by identity"
echo "identity-authenticate.sh: median ratio Authenticate/ListPermissions = $(bench_median "${ratios[@]}")"
