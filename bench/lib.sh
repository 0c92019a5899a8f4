# Shared by the bench/ scripts: a private Open vSwitch on the userspace datapath,
# a private tapestry daemon, and cleanup. Source it; needs root.
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
TAPESTRY=${TAPESTRY:-$ROOT/bin/tapestry}
WORK=${BENCH_WORK:-/tmp/tapestry-bench}
RESULTS=${BENCH_RESULTS:-$ROOT/bench/results}
mkdir -p "$WORK" "$RESULTS"

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.3f", b-a}'; }
rss_mb() { awk '/VmRSS/{printf "%.1f", $2/1024}' "/proc/$1/status"; }
need_root() { [ "$(id -u)" = 0 ] || { echo "$0: needs root" >&2; exit 1; }; }

# --- Open vSwitch, private instance (own db, sockets and logs under $WORK/ovs) ---
export OVS_RUNDIR=$WORK/ovs/run OVS_LOGDIR=$WORK/ovs/log OVS_DBDIR=$WORK/ovs/db
ovs_start() {
  # Two userspace ovs-vswitchd in one network namespace collide on the
  # kernel device ovs-netdev; refuse rather than measure a broken one.
  local me p
  me=$(readlink /proc/self/ns/net)
  for p in $(pgrep -x ovs-vswitchd); do
    if [ "$(readlink "/proc/$p/ns/net")" = "$me" ]; then
      echo "$0: ovs-vswitchd $p runs in this network namespace; stop it first (two userspace OVS collide)" >&2; exit 1
    fi
  done
  mkdir -p "$OVS_RUNDIR" "$OVS_LOGDIR" "$OVS_DBDIR"
  rm -f "$OVS_DBDIR/conf.db"
  ovsdb-tool create "$OVS_DBDIR/conf.db" /usr/share/openvswitch/vswitch.ovsschema
  ovsdb-server "$OVS_DBDIR/conf.db" --remote="punix:$OVS_RUNDIR/db.sock" \
    --pidfile="$OVS_RUNDIR/ovsdb-server.pid" --detach --no-chdir \
    --log-file="$OVS_LOGDIR/ovsdb-server.log" -vconsole:off
  ovs-vsctl --no-wait init
  ovs-vswitchd "unix:$OVS_RUNDIR/db.sock" --pidfile="$OVS_RUNDIR/ovs-vswitchd.pid" \
    --detach --no-chdir --log-file="$OVS_LOGDIR/ovs-vswitchd.log" -vconsole:off
  for _ in $(seq 100); do ovs-appctl -t ovs-vswitchd version >/dev/null 2>&1 && break; sleep 0.1; done
}
ovs_pid() { cat "$OVS_RUNDIR/ovs-vswitchd.pid"; }
ovs_stop() {
  for b in $(ovs-vsctl --timeout=5 list-br 2>/dev/null); do ovs-vsctl --timeout=5 del-br "$b"; done
  for p in ovs-vswitchd ovsdb-server; do
    [ -f "$OVS_RUNDIR/$p.pid" ] && kill "$(cat "$OVS_RUNDIR/$p.pid")" 2>/dev/null || true
  done
  sleep 0.3
}

# --- tapestry, private daemon ---
tap_start() {
  export TAPESTRY_STATEDIR=$WORK/tapestry/state TAPESTRY_RUNDIR=$WORK/tapestry/run
  rm -rf "$WORK/tapestry"; mkdir -p "$TAPESTRY_STATEDIR" "$TAPESTRY_RUNDIR"
  "$TAPESTRY" daemon >"$WORK/tapestry.log" 2>&1 & TAP_PID=$!
  for _ in $(seq 100); do [ -S "$TAPESTRY_RUNDIR/tapestry.sock" ] && break; sleep 0.05; done
}
tap_stop() { [ -n "${TAP_PID:-}" ] && kill "$TAP_PID" 2>/dev/null && wait "$TAP_PID" 2>/dev/null || true; TAP_PID=; }
