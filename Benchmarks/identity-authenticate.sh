#!/usr/bin/env bash
# Authenticate throughput over the transport: h2load against nimbus.identity.v1.Auth/Authenticate
# (API key → Principal: epoch read + cache hit + constant-time hash compare + signing the
# principal) and, interleaved in the same run as the reference, Roles/ListPermissions on the same
# server (signed-principal verification, no database). Prints req/s, p50/p99 and the ratio
# Authenticate/ListPermissions per round and as a median. Not a test.
#   Benchmarks/identity-authenticate.sh    env: N (requests/round, 50000), ROUNDS (3),
#                                               SPEC ("-c 8 -m 16 -t 2"), CONFIG (release|debug)
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-50000}
ROUNDS=${ROUNDS:-3}
SPEC=${SPEC:-"-c 8 -m 16 -t 2"}
CONFIG=${CONFIG:-release}
PY=${PYTHON:-.venv/bin/python}

command -v h2load >/dev/null || { echo "identity-authenticate.sh: needs h2load (nghttp2-client)" >&2; exit 1; }
echo "identity-authenticate.sh: building nimbus-identity ($CONFIG)"
swift build -c "$CONFIG" --product nimbus-identity 2>&1 | tail -1
BIN=$(swift build -c "$CONFIG" --show-bin-path)/nimbus-identity

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

# Request bodies (gRPC framing) and a service principal signed like PrincipalSigner does, valid
# for 290 s; then one real grpcio call proves Authenticate answers OK with them.
PRINCIPAL=$(KEY="$KEY" WORK="$WORK" $PY - <<'PYEOF'
import base64, hashlib, hmac, os, struct, time
def s(t): b = t.encode(); return struct.pack(">H", len(b)) + b
perms = ["service:internal"]
enc = b"\x01" + s("service:bench") + s("") + s("service") + s("") + struct.pack(">H", len(perms)) + b"".join(s(p) for p in sorted(perms))
body = b"\x01" + struct.pack(">Q", int(time.time() * 1000) + 290_000) + struct.pack(">H", len(enc)) + enc
token = body + hmac.new(os.environ["NIMBUS_PRINCIPAL_KEY"].encode(), b"nimbus-principal-v1\x00" + body, hashlib.sha256).digest()
key = os.environ["KEY"].encode()
msg = b"\x0a" + bytes([len(key)]) + key
open(os.environ["WORK"] + "/authenticate.bin", "wb").write(b"\x00" + struct.pack(">I", len(msg)) + msg)
open(os.environ["WORK"] + "/empty.bin", "wb").write(b"\x00\x00\x00\x00\x00")
print(base64.b64encode(token).decode())
PYEOF
)
PORT=$PORT PRINCIPAL=$PRINCIPAL KEY=$KEY $PY - <<'PYEOF'
import base64, os, grpc
channel = grpc.insecure_channel(f"127.0.0.1:{os.environ['PORT']}")
call = channel.unary_unary("/nimbus.identity.v1.Auth/Authenticate", request_serializer=None, response_deserializer=None)
key = os.environ["KEY"].encode()
reply = call(b"\x0a" + bytes([len(key)]) + key, metadata=[("x-nimbus-principal-bin", base64.b64decode(os.environ["PRINCIPAL"]))], timeout=10)
assert len(reply) > 20, reply
PYEOF

HEADERS=(-H 'content-type: application/grpc' -H 'te: trailers' -H "x-nimbus-principal-bin: $PRINCIPAL")
AUTH_URL="http://127.0.0.1:$PORT/nimbus.identity.v1.Auth/Authenticate"
REF_URL="http://127.0.0.1:$PORT/nimbus.identity.v1.Roles/ListPermissions"

run() {  # run <label> <url> <body> → "req/s p50_us p99_us succeeded"
  local label=$1 url=$2 body=$3 log="$WORK/$1.log" out rps ok pct
  # shellcheck disable=SC2086
  out=$(h2load -n "$N" $SPEC --log-file="$log" -d "$body" "${HEADERS[@]}" "$url" 2>&1)
  rps=$(echo "$out" | grep -oE 'finished in [0-9.]+m?s, [0-9.]+ req/s' | grep -oE '[0-9.]+ req/s' | cut -d' ' -f1)
  ok=$(echo "$out" | grep -oE '[0-9]+ succeeded' | cut -d' ' -f1)
  pct=$(awk '{print $3}' "$log" | sort -n | awk '{a[NR]=$1} END{printf "%d %d", a[int(NR*0.50)], a[int(NR*0.99)]}')
  echo "$rps $pct $ok"
}

h2load -n 2000 $SPEC -d "$WORK/authenticate.bin" "${HEADERS[@]}" "$AUTH_URL" 2>&1 | grep -q '2000 succeeded' ||
  { echo "identity-authenticate.sh: warm-up failed"; tail -5 "$WORK/identity.log"; exit 1; }

printf '%-6s %-16s %12s %9s %9s %10s\n' round rpc req/s p50_us p99_us succeeded
ratios=()
for r in $(seq "$ROUNDS"); do
  read -r ar ap50 ap99 aok < <(run "auth-$r" "$AUTH_URL" "$WORK/authenticate.bin")
  read -r lr lp50 lp99 lok < <(run "ref-$r" "$REF_URL" "$WORK/empty.bin")
  printf '%-6s %-16s %12s %9s %9s %10s\n' "$r" Authenticate "$ar" "$ap50" "$ap99" "$aok" "$r" ListPermissions "$lr" "$lp50" "$lp99" "$lok"
  ratio=$($PY -c "print(f'{$ar/$lr:.3f}')")
  ratios+=("$ratio")
  echo "       ratio Authenticate/ListPermissions = $ratio"
done
median=$(printf '%s\n' "${ratios[@]}" | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}')
echo "identity-authenticate.sh: $CONFIG build, spec '$SPEC', $N requests/round"
echo "identity-authenticate.sh: median ratio Authenticate/ListPermissions = $median"
