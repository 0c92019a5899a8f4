#!/usr/bin/env bash
# Regenerates golden.txt: adds every flow of flows.txt, one at a time, to a
# private Open vSwitch (userspace datapath, bridge tpcbr, ports tpcp1=1 and
# tpcp2=2) and records what ovs-ofctl 3.1 dump-flows prints for it, with and
# without --no-stats, as OpenFlow 1.0 and OpenFlow 1.3, and with --names.
# Needs root and Open vSwitch; never run by `go test`.
#
#   sudo ofctl/testdata/mkgolden.sh            # writes ofctl/testdata/golden.txt
#
# Record format (one blank line between records):
#   flow <input line>
#   add10 ok|ERROR <message>       (ovs-ofctl add-flow, OpenFlow 1.0 + NXM)
#   of10 <dump-flows --no-stats line>            (or "ERROR <message>")
#   of10s <dump-flows line with stats>
#   names <dump-flows --names --no-stats line>
#   add13 ok|ERROR <message>       (ovs-ofctl -O OpenFlow13 add-flow)
#   of13 <dump-flows -O OpenFlow13 --no-stats line>
#   of13s <dump-flows -O OpenFlow13 line with stats>
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
base=/tmp/tpc-ovs
export OVS_RUNDIR=$base/run OVS_LOGDIR=$base/log OVS_DBDIR=$base/db OVS_SYSCONFDIR=$base/etc
started=0
if ! ovs-vsctl --timeout=2 show >/dev/null 2>&1; then
  mkdir -p "$OVS_RUNDIR" "$OVS_LOGDIR" "$OVS_DBDIR" "$OVS_SYSCONFDIR/openvswitch"
  [ -f "$OVS_DBDIR/conf.db" ] || ovsdb-tool create "$OVS_DBDIR/conf.db" /usr/share/openvswitch/vswitch.ovsschema
  ovsdb-server "$OVS_DBDIR/conf.db" --remote="punix:$OVS_RUNDIR/db.sock" \
    --pidfile="$OVS_RUNDIR/ovsdb-server.pid" --detach --no-chdir --log-file="$OVS_LOGDIR/ovsdb-server.log" -vconsole:off
  ovs-vsctl --no-wait init
  ovs-vswitchd "unix:$OVS_RUNDIR/db.sock" --pidfile="$OVS_RUNDIR/ovs-vswitchd.pid" --detach --no-chdir \
    --log-file="$OVS_LOGDIR/ovs-vswitchd.log" -vconsole:off
  started=1
fi
ovs-vsctl --may-exist add-br tpcbr -- set bridge tpcbr datapath_type=netdev
ovs-vsctl --may-exist add-port tpcbr tpcp1 -- set interface tpcp1 type=internal ofport_request=1
ovs-vsctl --may-exist add-port tpcbr tpcp2 -- set interface tpcp2 type=internal ofport_request=2
ovs-ofctl -O OpenFlow13 del-groups tpcbr
ovs-ofctl -O OpenFlow13 add-group tpcbr group_id=1,type=all,bucket=output:1

one() { # $1 = label, rest = command; prints "label line" or "label ERROR msg"
  local label=$1 out; shift
  if out=$("$@" 2>/tmp/tpc-ovs/stderr); then
    printf '%s %s\n' "$label" "$(echo "$out" | grep -v '^OFPST_FLOW\|^NXST_FLOW')"
  else
    printf '%s ERROR %s\n' "$label" "$(tail -1 /tmp/tpc-ovs/stderr)"
  fi
}
out=$here/golden.txt
: > "$out"
grep -v '^#' "$here/flows.txt" | while IFS= read -r flow; do
  [ -n "$flow" ] || continue
  ovs-ofctl del-flows tpcbr
  printf 'flow %s\n' "$flow" >> "$out"
  # Each version gets its own add, so that a dump shows what a flow added
  # with that version reads back as (OVS keeps actions as they arrived).
  if msg=$(ovs-ofctl add-flow tpcbr "$flow" 2>&1); then
    echo "add10 ok" >> "$out"
    {
      one of10 ovs-ofctl --no-stats dump-flows tpcbr
      one of10s ovs-ofctl dump-flows tpcbr
      one names ovs-ofctl --names --no-stats dump-flows tpcbr
    } >> "$out"
  else
    printf 'add10 ERROR %s\n' "$(echo "$msg" | grep -v '^[0-9a-f]\{8\} ' | tail -1)" >> "$out"
  fi
  ovs-ofctl del-flows tpcbr
  if msg=$(ovs-ofctl -O OpenFlow13 add-flow tpcbr "$flow" 2>&1); then
    echo "add13 ok" >> "$out"
    {
      one of13 ovs-ofctl -O OpenFlow13 --no-stats dump-flows tpcbr
      one of13s ovs-ofctl -O OpenFlow13 dump-flows tpcbr
    } >> "$out"
  else
    printf 'add13 ERROR %s\n' "$(echo "$msg" | grep -v '^[0-9a-f]\{8\} ' | tail -1)" >> "$out"
  fi
  echo >> "$out"
done
ovs-ofctl del-flows tpcbr
if [ "$started" = 1 ]; then
  for d in ovs-vswitchd ovsdb-server; do kill "$(cat "$OVS_RUNDIR/$d.pid")"; done
fi
