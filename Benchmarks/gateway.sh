#!/usr/bin/env bash
# GetInstance through the gateway vs directly to nimbus-compute, in the same run, with h2load.
# Starts its own PostgreSQL, podman, identity, compute and two gateways (gateway: the default,
# authentications cached under an auth lease from identity, exact about revocation; strict:
# NIMBUS_GATEWAY_AUTH_LEASE=false, identity's Authenticate on every request), launches one
# instance, then interleaves rounds: throughput (SPEC) and latency at one request in flight.
# Direct calls carry a signed principal minted with the shared key, as the gateway would.
# Besides the ratios it prints CPU time per request (user+system, from /proc/PID/stat) of the
# gateway process and of compute, over the throughput runs: far less sensitive to a busy machine.
#   Benchmarks/gateway.sh     env: N (requests/round, 20000), ROUNDS (3), SPEC ("-c 8 -m 16 -t 2"),
#                                  LAT_N (2000), BIN (default: release build), THREADS (2),
#                                  PERF_RECORD (a file: perf record -g of the default gateway
#                                  during round 1's throughput run), STRACE_LATENCY (a file:
#                                  strace -c of it during round 1's latency run),
#                                  PERF_RECORD_LATENCY (perf record -g of it during that run),
#                                  REF_BIN (another build's directory: its nimbus-gateway also runs,
#                                  default settings, as path "ref" right after "gateway" in every
#                                  round — an A/B of two builds under the same load and noise)
# Targets: throughput ratio gateway/direct >= 0.7, median latency ratio <= 1.4. Release builds
# only; every run counts only when all requests succeeded and compute counted as many OK
# GetInstance calls (Benchmarks/lib.sh), or the script stops before printing a ratio.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

N=${N:-20000}
ROUNDS=${ROUNDS:-3}
SPEC=${SPEC:-"-c 8 -m 16 -t 2"}
LAT_N=${LAT_N:-2000}
THREADS=${THREADS:-2}
PY=${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}
BENCH_NAME=gateway.sh
. Benchmarks/lib.sh
command -v h2load >/dev/null || { echo "gateway.sh: needs h2load (nghttp2-client)" >&2; exit 1; }
if [ -z "${BIN:-}" ]; then
  echo "gateway.sh: building (release)"
  BIN=$(bench_release_bin nimbus-identity nimbus-compute nimbus-gateway)
fi
bench_require_release "$BIN"
[ -z "${REF_BIN:-}" ] || bench_require_release "$REF_BIN"

WORK=$(mktemp -d)
PGDIR=$(mktemp -d /tmp/nimbus-bench-pg.XXXXXX)  # directly under /tmp: the postgres user must reach it
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  "$repo/scripts/test-postgres.sh" stop "$PGDIR" >/dev/null 2>&1 || true
  NIMBUS_PODMAN_DIR="$WORK/podman" "$repo/scripts/podman.sh" destroy >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_ready() {
  for _ in $(seq 300); do curl -fsS "http://127.0.0.1:$1/readyz" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "gateway.sh: $2 did not become ready"; tail -20 "$WORK/$2.log"; exit 1
}

echo "gateway.sh: starting PostgreSQL, podman, identity, compute, gateways"
dsn=$("$repo/scripts/test-postgres.sh" start "$PGDIR" --watch-pid $$ | sed -n 's/^TCP_DSN=//p')
export NIMBUS_PODMAN_DIR="$WORK/podman"
"$repo/scripts/podman.sh" start >/dev/null
"$repo/scripts/build-images.sh" >/dev/null
socket=$("$repo/scripts/podman.sh" env | sed -n 's/^NIMBUS_DOCKER_SOCKET=//p')

export NIMBUS_PRINCIPAL_KEY=benchmark-principal-key-0123456789abcdef NIMBUS_LOG_LEVEL=warning NIMBUS_THREADS=$THREADS
IDP=$(free_port); CMP=$(free_port); GW=$(free_port); GWS=$(free_port)
boot=$(NIMBUS_IDENTITY_DATABASE_URL=$dsn "$BIN/nimbus-identity" bootstrap --email bench@example.com --password bench-password-1 --tenant bench)
KEY=$(printf '%s\n' "$boot" | grep -oE 'nmb_[A-Za-z0-9_-]+' | head -1)
NIMBUS_IDENTITY_DATABASE_URL=$dsn "$BIN/nimbus-identity" serve --listen 127.0.0.1:$IDP > "$WORK/identity.log" 2>&1 &
PIDS+=($!)
NIMBUS_COMPUTE_DATABASE_URL=$dsn NIMBUS_DOCKER_SOCKET=$socket NIMBUS_IDENTITY_ENDPOINTS=127.0.0.1:$IDP \
NIMBUS_COMPUTE_KEK=YmVuY2htYXJrLWNvbXB1dGUta2VrLTAxMjM0NTY3ODk \
  "$BIN/nimbus-compute" serve --listen 127.0.0.1:$CMP > "$WORK/compute.log" 2>&1 &
PIDS+=($!)
wait_ready "$IDP" identity; wait_ready "$CMP" compute
common=(NIMBUS_IDENTITY_ENDPOINTS=127.0.0.1:$IDP NIMBUS_COMPUTE_ENDPOINTS=127.0.0.1:$CMP NIMBUS_GATEWAY_KEY_RATE=0 NIMBUS_GATEWAY_IP_RATE=0)
CMP_PID=${PIDS[-1]}
env "${common[@]}" "$BIN/nimbus-gateway" --listen 127.0.0.1:$GW > "$WORK/gateway.log" 2>&1 &
PIDS+=($!); GW_PID=$!
env "${common[@]}" NIMBUS_GATEWAY_AUTH_LEASE=false "$BIN/nimbus-gateway" --listen 127.0.0.1:$GWS > "$WORK/gateway-strict.log" 2>&1 &
PIDS+=($!); GWS_PID=$!
wait_ready "$GW" gateway; wait_ready "$GWS" gateway-strict
PATHS=(direct gateway strict)
if [ -n "${REF_BIN:-}" ]; then
  GWR=$(free_port)
  env "${common[@]}" "$REF_BIN/nimbus-gateway" --listen 127.0.0.1:$GWR > "$WORK/gateway-ref.log" 2>&1 &
  PIDS+=($!); GWR_PID=$!
  wait_ready "$GWR" gateway-ref
  PATHS=(direct gateway ref strict)
fi
# utime+stime of a process in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
TICK=$(getconf CLK_TCK)

AUTH=(-H "Authorization: Bearer $KEY" -H 'content-type: application/json')
id=$(curl -fsS "${AUTH[@]}" -d '{"name":"bench","image":"busybox","instanceType":"basic-1","command":["sleep","3600"]}' \
     "http://127.0.0.1:$GW/v1/instances" | $PY -c 'import json,sys; print(json.load(sys.stdin)["id"])')
who=$(curl -fsS "${AUTH[@]}" "http://127.0.0.1:$GW/v1/auth/whoami")

# GetInstanceRequest{id} framed for gRPC: flag 0, big-endian length, protobuf bytes.
$PY - "$id" "$WORK/get.bin" <<'PYEOF'
import struct, sys
ident = sys.argv[1].encode()
message = b"\x0a" + bytes([len(ident)]) + ident
open(sys.argv[2], "wb").write(b"\x00" + struct.pack(">I", len(message)) + message)
PYEOF

# A signed principal for direct calls (the format PrincipalSigner documents), valid 290 s.
mint() {
  $PY - "$who" "$NIMBUS_PRINCIPAL_KEY" <<'PYEOF'
import base64, hashlib, hmac, json, struct, sys, time
who, key = json.loads(sys.argv[1]), sys.argv[2].encode()
p = who["principal"]
def put(s):
    b = s.encode(); return struct.pack(">H", len(b)) + b
perms = sorted(p.get("permissions", []))
canonical = b"\x01" + put(p.get("userId", "")) + put(p.get("tenantId", "")) + put(p.get("role", "")) + put(p.get("keyId", "")) \
    + struct.pack(">H", len(perms)) + b"".join(put(x) for x in perms)
body = b"\x01" + struct.pack(">Q", int(time.time() * 1000) + 290_000) + struct.pack(">H", len(canonical)) + canonical
mac = hmac.new(key, b"nimbus-principal-v1\x00" + body, hashlib.sha256).digest()
print(base64.b64encode(body + mac).decode())
PYEOF
}

GRPC=(-d "$WORK/get.bin" -H 'content-type: application/grpc' -H 'te: trailers' -H 'grpc-timeout: 10S')
PATH_GET=/nimbus.compute.v1.Instances/GetInstance

# run <label> <port> <spec> <n> [headers…] → "req/s p50_us p99_us succeeded valid(1|0)": valid
# when h2load saw n successes and compute counted n more OK GetInstance calls (every path ends there).
run() {
  local label=$1 port=$2 spec=$3 n=$4; shift 4
  local log="$WORK/$label.log" before after valid=1
  before=$(bench_grpc_ok "$CMP" nimbus.compute.v1.Instances GetInstance)
  # shellcheck disable=SC2086
  bench_h2load "$WORK/$label.out" "$n" $spec --log-file="$log" "${GRPC[@]}" "$@" "http://127.0.0.1:$port$PATH_GET"
  after=$(bench_grpc_ok "$CMP" nimbus.compute.v1.Instances GetInstance)
  bench_check "$label" "$n" "$before" "$after" || valid=0
  local pct; pct=$(awk '{print $3}' "$log" | sort -n | awk '{a[NR]=$1} END{printf "%d %d", a[int(NR*0.50)], a[int(NR*0.99)]}')
  echo "$H2_RPS $pct $H2_OK $valid"
}
# h2load counts any HTTP 200 as success, and gRPC errors are HTTP 200: check each path with
# grpcio first, so a bad principal or key cannot pass for a fast success.
PRINCIPAL=$(mint)
$PY - "$GW" "$CMP" "$KEY" "$PRINCIPAL" "$id" "$GWS" <<'PYEOF' || { echo "gateway.sh: a sanity GetInstance failed"; exit 1; }
import base64, sys, grpc
gw, cmp, key, principal, ident, gws = sys.argv[1:7]
message = b"\x0a" + bytes([len(ident)]) + ident.encode()
for port, metadata in ((gw, [("authorization", f"Bearer {key}")]), (gws, [("authorization", f"Bearer {key}")]),
                       (cmp, [("x-nimbus-principal-bin", base64.b64decode(principal))])):
    call = grpc.insecure_channel(f"127.0.0.1:{port}").unary_unary("/nimbus.compute.v1.Instances/GetInstance",
        request_serializer=lambda b: b, response_deserializer=lambda b: b)
    assert ident.encode() in call(message, metadata=metadata, timeout=10)
PYEOF

for label in "${PATHS[@]}"; do  # warm-up, checked like a round
  case $label in
    direct) read -r _ _ _ _ valid < <(run warm-$label "$CMP" "$SPEC" 2000 -H "x-nimbus-principal-bin: $PRINCIPAL") ;;
    gateway) read -r _ _ _ _ valid < <(run warm-$label "$GW" "$SPEC" 2000 -H "Authorization: Bearer $KEY") ;;
    strict) read -r _ _ _ _ valid < <(run warm-$label "$GWS" "$SPEC" 2000 -H "Authorization: Bearer $KEY") ;;
    ref) read -r _ _ _ _ valid < <(run warm-$label "$GWR" "$SPEC" 2000 -H "Authorization: Bearer $KEY") ;;
  esac
  [ "$valid" = 1 ] || bench_die "the $label warm-up failed"
done
# The default gateway must have served the warm-up from its leased cache, or it measures the strict path.
hits=$(curl -fsS "http://127.0.0.1:$GW/metrics" | sed -n 's/^nimbus_gateway_auth_cache_total{result="hit"} //p')
[ "${hits%.*}" -gt 1000 ] 2>/dev/null || { echo "gateway.sh: the default gateway did not use its auth cache (hits: ${hits:-none})"; exit 1; }

printf '%-6s %-9s %-8s %10s %8s %8s %9s %9s\n' round path load req/s p50_us p99_us succeeded cpu_us/req
t_gw=(); t_strict=(); l_gw=(); l_strict=(); c_gw=(); c_strict=(); c_cmp=(); t_ref=(); l_ref=(); c_ref=()
for r in $(seq "$ROUNDS"); do
  PRINCIPAL=$(mint)
  declare -A R=()
  for label in "${PATHS[@]}"; do
    case $label in
      direct) port=$CMP; pid=$CMP_PID; hdr=(-H "x-nimbus-principal-bin: $PRINCIPAL") ;;
      gateway) port=$GW; pid=$GW_PID; hdr=(-H "Authorization: Bearer $KEY") ;;
      strict) port=$GWS; pid=$GWS_PID; hdr=(-H "Authorization: Bearer $KEY") ;;
      ref) port=$GWR; pid=$GWR_PID; hdr=(-H "Authorization: Bearer $KEY") ;;
    esac
    before=$(cpu_ticks "$pid")
    perf_pid=
    if [ -n "${PERF_RECORD:-}" ] && [ "$r" = 1 ] && [ "$label" = gateway ]; then
      perf record -q -g -o "$PERF_RECORD" -p "$pid" >/dev/null 2>&1 &
      perf_pid=$!; sleep 0.5
    fi
    read -r rps p50 p99 ok valid < <(run "$label-t$r" "$port" "$SPEC" "$N" "${hdr[@]}")
    if [ -n "$perf_pid" ]; then kill -INT "$perf_pid"; wait "$perf_pid" || true; fi
    # CPU of the process serving this path: the gateway's own for gateway/strict, compute's for direct.
    cpu=$($PY -c "print(f'{($(cpu_ticks "$pid") - $before) / $TICK * 1e6 / $N:.1f}')")
    printf '%-6s %-9s %-8s %10s %8s %8s %9s %9s\n' "$r" "$label" throughput "$rps" "$p50" "$p99" "$ok" "$cpu"
    [ "$valid" = 1 ] || bench_die "$label round $r is void (see above): no ratio is printed"
    R[$label-rps]=$rps; R[$label-cpu]=$cpu
    trace_pid=
    if [ -n "${STRACE_LATENCY:-}" ] && [ "$r" = 1 ] && [ "$label" = gateway ]; then
      strace -f -c -o "$STRACE_LATENCY" -p "$pid" >/dev/null 2>&1 &
      trace_pid=$!; sleep 0.5
    elif [ -n "${PERF_RECORD_LATENCY:-}" ] && [ "$r" = 1 ] && [ "$label" = gateway ]; then
      perf record -q -g -o "$PERF_RECORD_LATENCY" -p "$pid" >/dev/null 2>&1 &
      trace_pid=$!; sleep 0.5
    fi
    before=$(cpu_ticks "$pid")
    read -r lrps l50 l99 lok lvalid < <(run "$label-l$r" "$port" "-c 1 -m 1 -t 1" "$LAT_N" "${hdr[@]}")
    lcpu=$($PY -c "print(f'{($(cpu_ticks "$pid") - $before) / $TICK * 1e6 / $LAT_N:.1f}')")
    if [ -n "$trace_pid" ]; then kill -INT "$trace_pid"; wait "$trace_pid" || true; fi
    printf '%-6s %-9s %-8s %10s %8s %8s %9s %9s\n' "$r" "$label" latency "$lrps" "$l50" "$l99" "$lok" "$lcpu"
    [ "$lvalid" = 1 ] || bench_die "$label latency round $r is void (see above): no ratio is printed"
    R[$label-p50]=$l50
  done
  t_gw+=("$($PY -c "print(f'{${R[gateway-rps]}/${R[direct-rps]}:.3f}')")")
  t_strict+=("$($PY -c "print(f'{${R[strict-rps]}/${R[direct-rps]}:.3f}')")")
  l_gw+=("$($PY -c "print(f'{${R[gateway-p50]}/max(1,${R[direct-p50]}):.3f}')")")
  l_strict+=("$($PY -c "print(f'{${R[strict-p50]}/max(1,${R[direct-p50]}):.3f}')")")
  c_gw+=("${R[gateway-cpu]}"); c_strict+=("${R[strict-cpu]}"); c_cmp+=("${R[direct-cpu]}")
  if [ -n "${REF_BIN:-}" ]; then
    t_ref+=("$($PY -c "print(f'{${R[ref-rps]}/${R[direct-rps]}:.3f}')")")
    l_ref+=("$($PY -c "print(f'{${R[ref-p50]}/max(1,${R[direct-p50]}):.3f}')")")
    c_ref+=("${R[ref-cpu]}")
  fi
done
median() { bench_median "$@"; }
echo "gateway.sh: spec '$SPEC', $N requests/round for throughput, $LAT_N at one in flight for latency, $THREADS loop threads per process"
echo "gateway.sh: gateway (default, leased auth cache): throughput ratio $(median "${t_gw[@]}") (target >= 0.7), median latency ratio $(median "${l_gw[@]}") (target <= 1.4), gateway CPU $(median "${c_gw[@]}") us/request"
echo "gateway.sh: strict (NIMBUS_GATEWAY_AUTH_LEASE=false): throughput ratio $(median "${t_strict[@]}"), median latency ratio $(median "${l_strict[@]}"), gateway CPU $(median "${c_strict[@]}") us/request"
[ -z "${REF_BIN:-}" ] || echo "gateway.sh: ref ($REF_BIN, default settings): throughput ratio $(median "${t_ref[@]}"), median latency ratio $(median "${l_ref[@]}"), gateway CPU $(median "${c_ref[@]}") us/request"
echo "gateway.sh: compute CPU when called directly: $(median "${c_cmp[@]}") us/request"
