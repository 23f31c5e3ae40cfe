#!/usr/bin/env bash
# Builds each libFuzzer target under Fuzz/ (swiftc -sanitize=fuzzer,address, together with the
# parser sources it exercises) and runs it for FUZZ_SECONDS (default 60). Fails on any crash,
# sanitizer report or broken property. Crash inputs land in .build/fuzz/<target>/crashes/.
#   scripts/fuzz.sh [target…]     targets: HTTP1Parser GRPCDeframer GatewayJSON GatewayProtoWire (default: all)
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_PER_TARGET=${FUZZ_SECONDS:-60}
OUT=.build/fuzz
declare -A SOURCES=(
  [HTTP1Parser]="Sources/Wire/NimbusHTTP/HTTP1/HTTP1RequestParser.swift Sources/Wire/NimbusHTTP/HTTP1/HTTPTypes.swift"
  [GRPCDeframer]="Sources/Wire/NimbusGRPC/Wire/GRPCFraming.swift Sources/Wire/NimbusGRPC/Wire/GRPCCompression.swift"
  [GatewayJSON]="Sources/Wire/NimbusProtoJSON/JSON/JSONValue.swift Sources/Wire/NimbusProtoJSON/JSON/JSONParser.swift Sources/Wire/NimbusProtoJSON/JSON/JSONWriter.swift"
  [GatewayProtoWire]="Sources/Wire/NimbusProtoJSON/Protobuf/ProtoWire.swift"
)
# C modules a target's sources import (module map directory, library).
declare -A CFLAGS=(
  [GRPCDeframer]="-I Sources/C/CZlib -lz"
)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(HTTP1Parser GRPCDeframer GatewayJSON GatewayProtoWire)

status=0
for target in "${targets[@]}"; do
  [ -n "${SOURCES[$target]:-}" ] || { echo "fuzz: unknown target $target" >&2; exit 2; }
  dir=$OUT/$target
  mkdir -p "$dir/corpus" "$dir/crashes"
  cp -n Fuzz/corpus/"$target"/* "$dir/corpus/" 2>/dev/null || true
  echo "fuzz: building $target"
  # shellcheck disable=SC2086
  swiftc -sanitize=fuzzer,address -parse-as-library -O -module-name "Fuzz$target" \
    Fuzz/"$target"/*.swift ${SOURCES[$target]} ${CFLAGS[$target]:-} -o "$dir/fuzzer" 2> "$dir/build.log" \
    || { cat "$dir/build.log" >&2; exit 1; }
  echo "fuzz: running $target for ${SECONDS_PER_TARGET}s"
  if "$dir/fuzzer" -max_total_time="$SECONDS_PER_TARGET" -max_len=8192 -timeout=10 -rss_limit_mb=2048 \
      -artifact_prefix="$dir/crashes/" -print_final_stats=1 "$dir/corpus" > "$dir/run.log" 2>&1; then
    echo "fuzz: $target ok ($(grep -oE 'Done [0-9]+ runs' "$dir/run.log" || echo 'no stats'))"
  else
    echo "fuzz: $target FAILED — see $dir/run.log and $dir/crashes/" >&2
    tail -40 "$dir/run.log" >&2
    status=1
  fi
done
exit $status
