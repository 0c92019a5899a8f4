#!/usr/bin/env bash
# The seed's PING experiment with tapestry, as a user types it: a bridge br-int,
# two TAP devices tap0/tap1 moved into namespaces ns0/ns1, flows with ofctl.
# Prints every command and what it printed; removes everything it created.
# Needs root (TAP devices, namespaces). Run by `make demo`.
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
T=${TAPESTRY:-$here/bin/tapestry}
[ "$(id -u)" = 0 ] || { echo "seed-ping: needs root (TAP devices, namespaces); try 'tapestry demo'"; exit 1; }
[ -x "$T" ] || { echo "seed-ping: $T not built; run 'make build'"; exit 1; }

# A private daemon: its own state and run dirs, so a system daemon is untouched.
work=$(mktemp -d /tmp/tapestry-demo.XXXXXX)
export TAPESTRY_STATEDIR=$work/state TAPESTRY_RUNDIR=$work/run
pass=0; fail=0

cleanup() {
  [ -n "${dpid:-}" ] && kill "$dpid" 2>/dev/null && wait "$dpid" 2>/dev/null
  ip netns del ns0 2>/dev/null; ip netns del ns1 2>/dev/null
  ip link del tap0 2>/dev/null; ip link del tap1 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
for ns in ns0 ns1; do ip netns list | grep -qw "$ns" && { echo "seed-ping: netns $ns exists; remove it first"; exit 1; }; done
for l in tap0 tap1; do ip link show "$l" >/dev/null 2>&1 && { echo "seed-ping: device $l exists; remove it first"; exit 1; }; done

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@" 2>&1 | sed 's/^/  /'; return "${PIPESTATUS[0]}"; }
expect() { # expect ok|fail description command...
  local want=$1 what=$2; shift 2
  if step "$@"; then got=ok; else got=fail; fi
  if [ "$got" = "$want" ]; then pass=$((pass+1)); echo "  => $what: $got, as expected"
  else fail=$((fail+1)); echo "  => $what: $got, expected $want  <-- FAIL"; fi
}
tapestry() { "$T" "$@"; }

printf '$ tapestry daemon &   (state in %s)\n' "$work"
"$T" daemon >"$work/daemon.log" 2>&1 & dpid=$!
for _ in $(seq 50); do [ -S "$TAPESTRY_RUNDIR/tapestry.sock" ] && break; sleep 0.1; done

step tapestry vsctl add-br br-int
step ip tuntap add tap0 mode tap
step ip tuntap add tap1 mode tap
step tapestry vsctl add-port br-int tap0
step tapestry vsctl add-port br-int tap1
for i in 0 1; do
  step ip netns add ns$i
  step ip link set tap$i netns ns$i
  step ip -n ns$i addr add 10.0.0.$((i+1))/24 dev tap$i
  step ip -n ns$i link set tap$i up
done
step tapestry vsctl show
step tapestry ofctl dump-flows br-int
expect ok "a new bridge switches with NORMAL" ip netns exec ns0 ping -c3 -i0.2 -W1 10.0.0.2
step tapestry ofctl del-flows br-int
step tapestry ofctl add-flow br-int in_port=1,actions=output:2
step tapestry ofctl add-flow br-int in_port=2,actions=output:1
expect ok "in_port flows forward" ip netns exec ns0 ping -c3 -i0.2 -W1 10.0.0.2
step tapestry ofctl dump-flows br-int
step tapestry ofctl del-flows br-int
ip -n ns0 neigh flush all
expect fail "no flows, no forwarding" ip netns exec ns0 ping -c2 -i0.2 -W1 10.0.0.2
step tapestry ofctl add-flow br-int actions=NORMAL
expect ok "NORMAL learns MACs and forwards" ip netns exec ns0 ping -c3 -i0.2 -W1 10.0.0.2
step tapestry ofctl dump-flows br-int
step tapestry ofctl trace br-int "in_port=1,icmp,nw_src=10.0.0.1,nw_dst=10.0.0.2"
step tapestry ofctl dump-ports br-int

printf '\n%d passed, %d failed\n' "$pass" "$fail"
[ "$fail" = 0 ]
