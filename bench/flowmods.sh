#!/usr/bin/env bash
# OpenFlow flow-mods over one connection: the same stream of N OpenFlow 1.3
# adds and a barrier (bench/ofstream) sent to Open vSwitch (userspace
# datapath, its management socket) and to a tapestry bridge (its
# management socket, flows stored by the daemon). Three runs each, fresh
# bridge every run.
# Usage: sudo bench/flowmods.sh [N]      Results: bench/results/flowmods.tsv
# SYSTEMS="ovs tapestry" (the default) picks what to measure; the load
# average at the start of each run goes in the last column.
. "$(dirname "$0")/lib.sh"
need_root
N=${1:-200000}
go build -o "$WORK/ofstream" "$ROOT/bench/ofstream"
trap 'tap_stop; ovs_stop' EXIT
out=$RESULTS/flowmods.tsv
SYSTEMS=${SYSTEMS:-ovs tapestry}
printf 'system\tflowmods\trun\tflowmods_per_s\tloadavg\n' >"$out"
rate() { "$WORK/ofstream" -n "$N" "$1" | awk '{print $(NF-1)}'; }
load() { cut -d' ' -f1 /proc/loadavg; }

if [[ " $SYSTEMS " == *" ovs "* ]]; then
  ovs_start
  for run in 1 2 3; do
    ovs-vsctl add-br fbr -- set bridge fbr datapath_type=netdev protocols=OpenFlow13
    l=$(load)
    printf 'ovs\t%d\t%d\t%s\t%s\n' "$N" $run "$(rate "unix:$OVS_RUNDIR/fbr.mgmt")" "$l" >>"$out"
    ovs-vsctl del-br fbr
  done
  ovs_stop
fi

if [[ " $SYSTEMS " == *" tapestry "* ]]; then
  tap_start
  for run in 1 2 3; do
    "$TAPESTRY" vsctl add-br fbr
    l=$(load)
    printf 'tapestry\t%d\t%d\t%s\t%s\n' "$N" $run "$(rate "unix:$TAPESTRY_RUNDIR/fbr.mgmt")" "$l" >>"$out"
    "$TAPESTRY" vsctl del-br fbr
  done
fi
column -t "$out"
