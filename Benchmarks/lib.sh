# Shared checks for the benchmark scripts (sourced): a benchmark measures the success path or
# prints no ratio. h2load counts every HTTP 2xx as a success and gRPC errors travel as HTTP 200
# with a grpc-status trailer, so a round counts only when h2load's succeeded == requested AND
# the server's own grpc_server_handled_total{…,grpc_code="OK"} grew by exactly the requests
# sent; otherwise the round is void and the script fails before printing any ratio.
#
#   bench_release_bin PRODUCT…        builds the products in release; prints the bin dir
#   bench_require_release DIR         refuses a bin dir that is not a release build
#   bench_grpc_ok PORT SERVICE METHOD count of OK calls of one method on the server's /metrics
#   bench_h2load OUT N ARGS…          runs h2load; sets H2_RPS, H2_OK (succeeded), H2_REQ (requested)
#   bench_check LABEL N OK_BEFORE OK_AFTER   the round's verdict (h2load's counts + the metric)
#   bench_sanity_grpc PORT PATH BODY_FILE METADATA…   one call with grpcio must answer OK
#   bench_median VALUE…               the median

bench_die() { echo "${BENCH_NAME:-bench}: $*" >&2; exit 1; }

bench_require_release() {
  local dir=${1%/}
  case "$dir" in
    */release|*/release/*|*-release) ;;
    *) bench_die "refusing $dir: benchmarks measure release builds only (swift build -c release)" ;;
  esac
}

bench_release_bin() {
  local product
  for product in "$@"; do
    swift build -c release --product "$product" 2>&1 | tail -1 >&2
  done
  local dir; dir=$(swift build -c release --show-bin-path)
  bench_require_release "$dir"
  echo "$dir"
}

# Sum of grpc_server_handled_total for one method with grpc_code="OK" (0 when not yet counted).
bench_grpc_ok() {
  local port=$1 service=$2 method=$3
  curl -fsS -m 10 "http://127.0.0.1:$port/metrics" | awk -v s="grpc_service=\"$service\"" -v m="grpc_method=\"$method\"" '
    /^grpc_server_handled_total\{/ && index($0, s) && index($0, m) && index($0, "grpc_code=\"OK\"") { total += $NF }
    END { printf "%d\n", total }'
}

bench_h2load() {
  local out=$1 n=$2; shift 2
  h2load -n "$n" "$@" > "$out" 2>&1 || true
  H2_RPS=$(grep -oE 'finished in [0-9.]+m?s, [0-9.]+ req/s' "$out" | grep -oE '[0-9.]+ req/s' | cut -d' ' -f1)
  H2_OK=$(grep -oE '[0-9]+ succeeded' "$out" | head -1 | cut -d' ' -f1)
  H2_REQ=$(grep -oE 'requests: [0-9]+ total' "$out" | grep -oE '[0-9]+')
  H2_RPS=${H2_RPS:-0}; H2_OK=${H2_OK:-0}; H2_REQ=${H2_REQ:-0}
}

# bench_check LABEL N OK_BEFORE OK_AFTER — uses H2_OK/H2_REQ of the last bench_h2load. Pass
# "-" for OK_BEFORE/OK_AFTER when the server keeps no gRPC metric (a plain HTTP reference).
bench_check() {
  local label=$1 n=$2 before=$3 after=$4
  if [ "$H2_REQ" != "$n" ] || [ "$H2_OK" != "$n" ]; then
    echo "${BENCH_NAME:-bench}: $label: round void: h2load requested $H2_REQ of $n, $H2_OK succeeded" >&2
    return 1
  fi
  if [ "$before" != - ] && [ $((after - before)) -ne "$n" ]; then
    echo "${BENCH_NAME:-bench}: $label: round void: the server counted $((after - before)) OK calls for $n requests (grpc errors travel as HTTP 200)" >&2
    return 1
  fi
}

# One real grpcio call per path before timing: a bad principal, key or body cannot pass for a
# fast success. Metadata pairs as NAME=VALUE; a name ending in -bin takes base64.
bench_sanity_grpc() {
  local port=$1 path=$2 body=$3; shift 3
  "${PY:-python3}" - "$port" "$path" "$body" "$@" <<'PYEOF' || bench_die "sanity call of $2 on port $1 failed"
import base64, sys, grpc
port, path, body, pairs = sys.argv[1], sys.argv[2], open(sys.argv[3], "rb").read(), sys.argv[4:]
metadata = []
for pair in pairs:
    name, value = pair.split("=", 1)
    metadata.append((name, base64.b64decode(value) if name.endswith("-bin") else value))
message = body[5:]  # the gRPC frame's payload
call = grpc.insecure_channel(f"127.0.0.1:{port}").unary_unary(path, request_serializer=lambda b: b, response_deserializer=lambda b: b)
try:
    call(message, metadata=metadata, timeout=10)
except grpc.RpcError as error:
    sys.exit(f"{path}: {error.code().name}: {error.details()}")
PYEOF
}

bench_median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
