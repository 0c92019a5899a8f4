#!/usr/bin/env bash
# iperf3 TCP between two namespaces behind TAP devices: through a tapestry
# bridge (NORMAL), through Open vSwitch's userspace datapath (type=tap, NORMAL),
# and through the Linux bridge with veth pairs. Same machine, same run.
# Usage: sudo bench/iperf.sh [seconds]     Results: bench/results/iperf.tsv
. "$(dirname "$0")/lib.sh"
need_root
DUR=${1:-10}
out=$RESULTS/iperf.tsv
printf 'path\tgbit_s\tping_p50_ms\n' >"$out"
cleanup() {
  tap_stop; ovs_stop
  for ns in bns0 bns1; do ip netns del $ns 2>/dev/null || true; done
  for l in btap0 btap1 bbr0 bv0 bv1; do ip link del $l 2>/dev/null || true; done
}
trap cleanup EXIT
cleanup

netns_pair() { # dev0 dev1: move into bns0/bns1 and address them
  for i in 0 1; do
    local dev=$1; shift
    ip netns add bns$i; ip link set "$dev" netns bns$i
    ip -n bns$i addr add 10.201.0.$((i+1))/24 dev "$dev"; ip -n bns$i link set "$dev" up; ip -n bns$i link set lo up
  done
}
measure() { # label
  ip netns exec bns0 ping -c3 -W1 10.201.0.2 >/dev/null
  ip netns exec bns1 iperf3 -s -1 -D -B 10.201.0.2 >/dev/null; sleep 0.3
  local g p
  g=$(ip netns exec bns0 iperf3 -c 10.201.0.2 -t "$DUR" -J | awk -F: '/"sum_received"/{f=1} f&&/bits_per_second/{gsub(/[ ,]/,"",$2); printf "%.2f", $2/1e9; exit}')
  p=$(ip netns exec bns0 ping -c 50 -i 0.01 -q 10.201.0.2 | awk -F/ '/rtt/{print $5}')
  printf '%s\t%s\t%s\n' "$1" "$g" "$p" >>"$out"
  for ns in bns0 bns1; do ip netns del $ns; done
}

ip tuntap add btap0 mode tap; ip tuntap add btap1 mode tap
tap_start
"$TAPESTRY" vsctl add-br bbr0
"$TAPESTRY" vsctl add-port bbr0 btap0; "$TAPESTRY" vsctl add-port bbr0 btap1
netns_pair btap0 btap1
measure "tapestry, tap, NORMAL"
tap_stop; ip link del btap0 2>/dev/null || true; ip link del btap1 2>/dev/null || true

# The same without checksum offload and TSO on the TAPs (one syscall per
# wire frame each way), as tapestry was before offloads.
ip tuntap add btap0 mode tap; ip tuntap add btap1 mode tap
tap_start
"$TAPESTRY" vsctl add-br bbr0
for t in btap0 btap1; do
  "$TAPESTRY" vsctl add-port bbr0 $t -- set Interface $t other_config:userspace-tso-enable=false
done
netns_pair btap0 btap1
measure "tapestry, tap, NORMAL, offloads off"
tap_stop; ip link del btap0 2>/dev/null || true; ip link del btap1 2>/dev/null || true

ovs_start
ip tuntap add btap0 mode tap; ip tuntap add btap1 mode tap
ovs-vsctl add-br bbr0 -- set bridge bbr0 datapath_type=netdev
ovs-vsctl add-port bbr0 btap0 -- set Interface btap0 type=tap
ovs-vsctl add-port bbr0 btap1 -- set Interface btap1 type=tap
netns_pair btap0 btap1
measure "ovs userspace, tap, NORMAL"
ovs_stop; ip link del btap0 2>/dev/null || true; ip link del btap1 2>/dev/null || true

ip link add bbr0 type bridge; ip link set bbr0 up
ip link add bv0 type veth peer name bp0; ip link add bv1 type veth peer name bp1
ip link set bv0 master bbr0; ip link set bv1 master bbr0; ip link set bv0 up; ip link set bv1 up
netns_pair bp0 bp1
measure "linux bridge, veth"
column -t -s $'\t' "$out"
