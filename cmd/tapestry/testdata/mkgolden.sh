#!/usr/bin/env bash
# Captures ovs-ofctl / ovs-vsctl 3.1 output from a private Open vSwitch
# (userspace datapath) for the golden tests in this directory. Run as root
# by hand; `go test` never runs it. It expects the private instance started
# by /work/shared/peers/setup-ovs.sh with PB_BASE=/tmp/tpf-ovs, its
# ovs-vswitchd running inside the network namespace tpf-ovsns (so that its
# "ovs-netdev" device does not collide with other instances on the host):
#   ip netns add tpf-ovsns
#   ip netns exec tpf-ovsns ovs-vswitchd unix:$OVS_RUNDIR/db.sock --pidfile=... --detach
set -euo pipefail
export OVS_RUNDIR=${OVS_RUNDIR:-/tmp/tpf-ovs/run}
NS=tpf-ovsns
BR=tpfbr
out=$(cd "$(dirname "$0")" && pwd)
V=ovs-vsctl O=ovs-ofctl
nsx() { ip netns exec $NS "$@"; }

$V --if-exists del-br $BR
nsx ip link del tpft0 2>/dev/null || true
nsx ip link del tpft1 2>/dev/null || true
nsx ip tuntap add tpft0 mode tap
nsx ip tuntap add tpft1 mode tap
nsx ip link set tpft0 address 02:00:00:00:00:01
nsx ip link set tpft1 address 02:00:00:00:00:02
$V add-br $BR -- set bridge $BR datapath_type=netdev \
   other-config:hwaddr=\"02:00:00:00:00:fe\" other-config:datapath-id=00000200000000fe
$V add-port $BR tpft0 -- set interface tpft0 type=tap
$V add-port $BR tpft1 tag=10 -- set interface tpft1 type=tap -- set port tpft1 trunks=10,20
$V add-port $BR tpfq1 -- set interface tpfq1 type=internal mac=\"02:00:00:00:00:03\" ofport_request=7
nsx ip link set tpft0 up
sleep 1
$O mod-port $BR tpft1 no-flood
$O add-flow $BR "in_port=1,actions=output:2"
$O add-flow $BR "priority=100,ip,nw_dst=10.0.0.1,actions=NORMAL"

for v in 10 13; do
  $O -O OpenFlow$v show $BR > "$out/ovs-show-of$v.txt"
  $O -O OpenFlow$v dump-ports-desc $BR > "$out/ovs-dump-ports-desc-of$v.txt"
  $O -O OpenFlow$v dump-tables $BR > "$out/ovs-dump-tables-of$v.txt"
  $O -O OpenFlow$v dump-ports $BR | sed 's/duration=[0-9.]*s/duration=1.500s/' > "$out/ovs-dump-ports-of$v.txt"
  $O -O OpenFlow$v dump-aggregate $BR > "$out/ovs-dump-aggregate-of$v.txt"
  $O -O OpenFlow$v dump-aggregate $BR in_port=1 > "$out/ovs-dump-aggregate-filter-of$v.txt"
done
$V show > "$out/ovs-vsctl-show.txt"
echo "captured into $out"
