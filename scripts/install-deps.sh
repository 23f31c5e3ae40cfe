#!/usr/bin/env bash
# Installs what building, running and testing Nimbus needs on Debian 12, only when missing:
# the apt packages and a Python venv (.venv) with the test clients from PyPI.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_packages=(
  pkg-config libnghttp2-dev libprotobuf-c-dev libpq-dev libssl-dev libcurl4-openssl-dev libmimalloc-dev zlib1g-dev
  protobuf-c-compiler protobuf-compiler libprotoc-dev postgresql postgresql-contrib
  nghttp2-client nghttp2-server python3-venv podman runc uidmap slirp4netns nftables
  pgbouncer curl busybox-static iptables
  chromium chromium-driver
)
missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: apt-get install ${missing[*]}"
  sudo_cmd=""; [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null
fi

req=Tests/python/requirements.txt
stamp=.venv/.requirements.sha256
want=$(sha256sum "$req" | cut -d' ' -f1)
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "install-deps: python venv (.venv) from $req"
  python3 -m venv .venv
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -r "$req"
  echo "$want" > "$stamp"
fi
