#!/usr/bin/env bash
# add-flows of N flows (default 100,000): tapestry vs Open vSwitch (userspace
# datapath), plain and with --bundle; dump-flows and memory after the load.
# Usage: sudo bench/add-flows.sh [N]      Results: bench/results/add-flows.tsv
# SYSTEMS="ovs tapestry" (the default) picks what to measure. rss_mb is
# VmRSS after dump-flows, hwm_mb the peak (VmHWM); loadavg is taken before
# the add.
. "$(dirname "$0")/lib.sh"
need_root
N=${1:-100000}
flows=$WORK/flows-$N.txt
awk -v n="$N" 'BEGIN{for(i=0;i<n;i++) printf "priority=%d,ip,in_port=1,nw_dst=10.%d.%d.%d,actions=output:2\n", 100+i%1000, int(i/65536)%256, int(i/256)%256, i%256}' >"$flows"
trap 'tap_stop; ovs_stop' EXIT
out=$RESULTS/add-flows.tsv
SYSTEMS=${SYSTEMS:-ovs tapestry}
printf 'system\tflows\tadd_s\tdump_s\tdel_s\trss_mb\thwm_mb\tloadavg\n' >"$out"
hwm_mb() { awk '/VmHWM/{printf "%.1f", $2/1024}' "/proc/$1/status"; }
load() { cut -d' ' -f1 /proc/loadavg; }

if [[ " $SYSTEMS " == *" ovs "* ]]; then
  ovs_start
  for mode in plain bundle; do
    ovs-vsctl add-br bbr -- set bridge bbr datapath_type=netdev
    args=(); [ $mode = bundle ] && args=(-O OpenFlow14 --bundle)
    l=$(load)
    t0=$(now); ovs-ofctl "${args[@]}" add-flows bbr "$flows"; t1=$(now)
    ovs-ofctl dump-flows bbr | wc -l >/dev/null; t2=$(now)
    rss=$(rss_mb "$(ovs_pid)") hwm=$(hwm_mb "$(ovs_pid)")
    ovs-ofctl del-flows bbr; t3=$(now)
    printf 'ovs-%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n' $mode "$N" "$(secs $t0 $t1)" "$(secs $t1 $t2)" "$(secs $t2 $t3)" "$rss" "$hwm" "$l" >>"$out"
    ovs-vsctl del-br bbr
  done
  ovs_stop
fi

if [[ " $SYSTEMS " == *" tapestry "* ]]; then
  tap_start
  "$TAPESTRY" vsctl add-br bbr
  l=$(load)
  t0=$(now); "$TAPESTRY" ofctl add-flows bbr "$flows"; t1=$(now)
  "$TAPESTRY" ofctl dump-flows bbr | wc -l >/dev/null; t2=$(now)
  rss=$(rss_mb "$TAP_PID") hwm=$(hwm_mb "$TAP_PID")
  "$TAPESTRY" ofctl del-flows bbr; t3=$(now)
  printf 'tapestry\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n' "$N" "$(secs $t0 $t1)" "$(secs $t1 $t2)" "$(secs $t2 $t3)" "$rss" "$hwm" "$l" >>"$out"
fi
column -t "$out"
