#!/usr/bin/env bash
# Fails when committed generated code differs from a fresh generation (`make check-generated`):
# copies the working tree (tracked and untracked, not ignored files) to a temporary directory,
# regenerates there with scripts/gen-protos.sh, scripts/gen-migrations.sh and scripts/gen-console.sh,
# and compares the generated directories. The working tree itself is never modified.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
[ -d /opt/swift/usr/bin ] && export PATH="/opt/swift/usr/bin:$PATH"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
copy="$tmp/tree"
mkdir -p "$copy"
git ls-files -z --cached --others --exclude-standard |
  tar --null --files-from=- --ignore-failed-read -cf - 2>/dev/null | tar -xf - -C "$copy"

# The plugin is built once, here, from the committed sources (its own bootstrap included).
swift build --product protoc-gen-nimbus-swift >&2 || { echo "check-generated: building the plugin failed" >&2; exit 1; }
plugin="$(swift build --show-bin-path)/protoc-gen-nimbus-swift"

failed=0
# Compares one generated directory of the copy with the working tree's; prints drifted files.
compare() {
  local dir=$1 regen=$2
  local report
  if ! report=$(diff -rq "$repo/$dir" "$copy/$dir" 2>&1); then
    echo "check-generated: $dir is out of date (regenerate with: $regen)" >&2
    echo "$report" | while IFS= read -r line; do
      case "$line" in
        "Files $repo/"*) f=${line#"Files $repo/"}; echo "  changed: ${f%% and *}" ;;
        "Only in $repo/"*) f=${line#"Only in $repo/"}; echo "  stale, no longer generated: ${f/: //}" ;;
        "Only in $copy/"*) f=${line#"Only in $copy/"}; echo "  missing, not committed: ${f/: //}" ;;
        *) echo "  $line" ;;
      esac
    done >&2
    failed=1
  fi
}

echo "check-generated: regenerating protos in a scratch copy" >&2
(cd "$copy" && NIMBUS_PLUGIN="$plugin" scripts/gen-protos.sh) >&2
for dir in Sources/Generated/ProtocPluginC Sources/Generated/NimbusProtoC Sources/Generated/NimbusProto \
           Sources/Generated/NimbusTestingProtoC Sources/Generated/NimbusTestingProto; do
  compare "$dir" "make protos"
done

if [ -x "$repo/scripts/gen-migrations.sh" ]; then
  echo "check-generated: regenerating migrations in a scratch copy" >&2
  (cd "$copy" && scripts/gen-migrations.sh) >&2
  compare Sources/Generated/NimbusMigrations "make migrations"
  compare Sources/Generated/NimbusTestingMigrations "make migrations"
fi

echo "check-generated: regenerating the console in a scratch copy" >&2
(cd "$copy" && scripts/gen-console.sh) >&2
compare Sources/Generated/NimbusConsole "make console"

if [ $failed -ne 0 ]; then
  echo "check-generated: FAILED: committed generated code differs from a fresh generation" >&2
  exit 1
fi
echo "check-generated: generated code is up to date"
