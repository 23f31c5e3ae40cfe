#!/usr/bin/env bash
# Runs a project-local podman API service (the Docker Engine API over a unix socket) for
# nimbus-compute, `make up` and the tests.
#
#   scripts/podman.sh start [--watch-pid PID]|stop [--all]|status|env|destroy|podman ARGS…
#
# Everything lives under NIMBUS_PODMAN_DIR (default: <repo>/.run/podman):
#   containers.conf   runtime runc, ulimits, cgroupfs, file events, local network config dir
#   root/ runroot/    podman storage (--root/--runroot), never the system's
#   networks/         network definitions (netavark), never /etc/containers/networks
#   podman.sock       the API socket          podman.pid / podman.log   the service process
# `start` is idempotent (a running service is reused) and waits until GET /_ping answers OK;
# with --watch-pid PID a detached watchdog destroys the instance once PID exits.
# `env` prints NIMBUS_DOCKER_SOCKET=… for the socket; `podman ARGS…` runs the podman CLI on
# this instance's storage; `destroy` removes the service, its containers, storage and dir.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
dir=${NIMBUS_PODMAN_DIR:-$repo/.run/podman}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
sock="$dir/podman.sock"
pidfile="$dir/podman.pid"
conf="$dir/containers.conf"
log="$dir/podman.log"

die() { echo "podman.sh: $*" >&2; exit 1; }

# crun fails on this host's hybrid cgroups; runc works. The ulimits keep containers inside the
# host's limits (podman's defaults ask for more than the sandbox grants).
write_conf() {
  mkdir -p "$dir/networks" "$dir/tmp"
  cat > "$conf" <<EOF
# Written by scripts/podman.sh — edits are overwritten on start.
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
log_driver = "k8s-file"

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$dir/events.log"
# Per-instance scratch (container exit files, network run state) and file locks: the defaults
# (/run/libpod and one shared-memory lock segment) are shared by every podman on the machine,
# and one instance's reset would break another's containers.
tmp_dir = "$dir/tmp"
lock_type = "file"

[network]
network_backend = "netavark"
network_config_dir = "$dir/networks"
EOF
}

podman_cmd() {
  CONTAINERS_CONF="$conf" podman --root "$dir/root" --runroot "$dir/runroot" "$@"
}

ping_ok() {
  [ -S "$sock" ] && [ "$(curl -s -m 2 --unix-socket "$sock" http://d/_ping 2>/dev/null)" = "OK" ]
}

running_pid() {
  local pid
  pid=$(cat "$pidfile" 2>/dev/null) || return 1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  # The pid must still be our podman (pids get reused).
  tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q "system service" || return 1
  echo "$pid"
}

# VPC isolation is nimbus-compute's: it keeps its own nftables table (inet nimbus, see
# README "VPC isolation"), whose verdicts do not depend on the order of netavark's rules. This
# script checks the host can carry it, once, and removes the iptables rule older versions of
# this script inserted (it could sit below netavark's jump and never match).
# Host requirements (NIMBUS_COMPUTE_FIREWALL=off skips the nftables one):
#   nf_tables in the kernel and the nft tool (apt-get install nftables), as root / CAP_NET_ADMIN
#   net.ipv4.ip_forward=1 (netavark sets it too; set here so a refusal is clear)
# br_netfilter is not needed (if loaded, traffic inside a VPC passes Nimbus's table and stays
# allowed).
legacy_rule=(FORWARD -i nv+ -o nv+ -m physdev ! --physdev-is-bridged
             -m comment --comment "nimbus: no routing between VPC networks" -j DROP)

check_host() {
  if [ "${NIMBUS_COMPUTE_FIREWALL:-nftables}" != off ]; then
    command -v nft >/dev/null || [ -x /usr/sbin/nft ] || die "nft is not installed (apt-get install nftables); nimbus-compute keeps VPCs apart with it (or set NIMBUS_COMPUTE_FIREWALL=off)"
    local nft; nft=$(command -v nft || echo /usr/sbin/nft)
    "$nft" list tables >/dev/null 2>&1 || die "nftables is not usable here ('nft list tables' failed: no nf_tables in the kernel, or not root / CAP_NET_ADMIN); nimbus-compute needs it for VPC isolation (or set NIMBUS_COMPUTE_FIREWALL=off)"
  fi
  if [ "$(cat /proc/sys/net/ipv4/ip_forward 2>/dev/null)" != 1 ]; then
    sysctl -qw net.ipv4.ip_forward=1 2>/dev/null || echo 1 > /proc/sys/net/ipv4/ip_forward 2>/dev/null \
      || die "net.ipv4.ip_forward is 0 and could not be set (sysctl -w net.ipv4.ip_forward=1 as root); instances cannot reach their gateway without it"
  fi
  if command -v iptables >/dev/null; then
    while iptables -C "${legacy_rule[@]}" 2>/dev/null; do iptables -D "${legacy_rule[@]}" || break; done
  fi
}

start() {
  check_host
  command -v podman >/dev/null || die "podman is not installed (apt-get install podman runc)"
  command -v runc >/dev/null || [ -x /usr/sbin/runc ] || die "runc is not installed (apt-get install runc)"
  if running_pid >/dev/null && ping_ok; then
    echo "podman.sh: already running (pid $(running_pid)), socket $sock"
    return 0
  fi
  stop_quiet
  write_conf
  rm -f "$sock"
  # setsid: the service outlives this shell and ignores the caller's terminal signals. It must
  # not inherit the caller's descriptors either: a caller waiting for EOF on a pipe (or, like
  # Foundation's Process, for a socket to close) would otherwise wait for the service to exit.
  (
    for fd in /proc/$BASHPID/fd/*; do
      fd=${fd##*/}
      [ "$fd" -gt 2 ] && eval "exec $fd>&-" 2>/dev/null || true
    done
    # env --default-signal: default handlers and nothing blocked (a parent such as a Swift
    # test runs with most signals blocked, which containers would inherit).
    CONTAINERS_CONF="$conf" exec env --default-signal setsid podman --root "$dir/root" --runroot "$dir/runroot" \
      system service --time=0 "unix://$sock" >>"$log" 2>&1 < /dev/null
  ) &
  echo $! > "$pidfile"
  if [ -n "$watch_pid" ]; then
    # Detached watchdog: when PID exits (a crashed test run included) this instance goes away.
    (
      for fd in /proc/$BASHPID/fd/*; do
        fd=${fd##*/}
        [ "$fd" -gt 2 ] && eval "exec $fd>&-" 2>/dev/null || true
      done
      exec setsid env NIMBUS_PODMAN_DIR="$dir" bash -c \
        "while kill -0 $watch_pid 2>/dev/null && [ -f '$conf' ]; do sleep 1; done; [ -f '$conf' ] && '$repo/scripts/podman.sh' destroy" \
        >/dev/null 2>&1 < /dev/null
    ) &
  fi
  for _ in $(seq 1 100); do
    if ping_ok; then
      echo "podman.sh: started (pid $(cat "$pidfile")), socket $sock"
      return 0
    fi
    kill -0 "$(cat "$pidfile")" 2>/dev/null || break
    sleep 0.1
  done
  tail -n 20 "$log" >&2 || true
  die "the podman API service did not answer /_ping on $sock (log: $log)"
}

stop_quiet() {
  local pid
  if pid=$(running_pid); then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile" "$sock"
}

# Containers keep running under conmon when the API service stops (like dockerd's live
# restore); `stop --all` also removes the containers and networks this instance created.
stop() {
  if [ "${1:-}" = "--all" ] && [ -f "$conf" ]; then
    podman_cmd rm -a -f -t 0 >/dev/null 2>&1 || true
    podman_cmd network prune -f >/dev/null 2>&1 || true
  fi
  stop_quiet
  echo "podman.sh: stopped"
}

# Removes everything: containers, networks, images, storage (unmounting it), the directory.
destroy() {
  stop --all >/dev/null
  if [ -f "$conf" ]; then
    podman_cmd system reset -f >/dev/null 2>&1 || true
  fi
  if mountpoint -q "$dir/root/overlay" 2>/dev/null; then umount "$dir/root/overlay" || true; fi
  rm -rf "$dir"
  echo "podman.sh: destroyed $dir"
}

status() {
  if pid=$(running_pid) && ping_ok; then
    echo "podman.sh: running (pid $pid), socket $sock"
  else
    echo "podman.sh: not running (dir $dir)"
    return 1
  fi
}

watch_pid=""
if [ "${1:-}" = start ] && [ "${2:-}" = --watch-pid ]; then
  watch_pid=${3:?--watch-pid needs a PID}
fi

case "${1:-}" in
  start) start ;;
  stop) shift; stop "$@" ;;
  status) status ;;
  destroy) destroy ;;
  env) echo "NIMBUS_DOCKER_SOCKET=$sock" ;;
  podman) shift; [ -f "$conf" ] || write_conf; podman_cmd "$@" ;;
  *) echo "usage: $0 start|stop [--all]|status|env|destroy|podman ARGS…  (dir: \$NIMBUS_PODMAN_DIR, default .run/podman)" >&2; exit 2 ;;
esac
