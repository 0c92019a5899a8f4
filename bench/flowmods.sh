#!/usr/bin/env bash
# OpenFlow flow-mods over one connection: the same stream of N OpenFlow 1.3
# adds and a barrier (bench/ofstream) sent to Open vSwitch (userspace
# datapath, its management socket) and to a tapestry bridge (its
# management socket, flows stored by the daemon). Three runs each, fresh
# bridge every run.
# Usage: sudo bench/flowmods.sh [N]      Results: bench/results/flowmods.tsv
. "$(dirname "$0")/lib.sh"
need_root
N=${1:-200000}
go build -o "$WORK/ofstream" "$ROOT/bench/ofstream"
trap 'tap_stop; ovs_stop' EXIT
out=$RESULTS/flowmods.tsv
printf 'system\tflowmods\trun\tflowmods_per_s\n' >"$out"
rate() { "$WORK/ofstream" -n "$N" "$1" | awk '{print $(NF-1)}'; }

ovs_start
for run in 1 2 3; do
  ovs-vsctl add-br fbr -- set bridge fbr datapath_type=netdev protocols=OpenFlow13
  printf 'ovs\t%d\t%d\t%s\n' "$N" $run "$(rate "unix:$OVS_RUNDIR/fbr.mgmt")" >>"$out"
  ovs-vsctl del-br fbr
done
ovs_stop

tap_start
for run in 1 2 3; do
  "$TAPESTRY" vsctl add-br fbr
  printf 'tapestry\t%d\t%d\t%s\n' "$N" $run "$(rate "unix:$TAPESTRY_RUNDIR/fbr.mgmt")" >>"$out"
  "$TAPESTRY" vsctl del-br fbr
done
column -t "$out"
