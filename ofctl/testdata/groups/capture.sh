#!/usr/bin/env bash
# Captures the golden files next to this script from a real Open vSwitch 3.1
# (userspace datapath) started in its own network namespace and run dir:
#
#   sudo ./capture.sh    # writes dump-groups.golden, errors.golden and
#                        # commands.golden (whole outputs, durations as X)
#
# groups.txt holds one add-group argument per line. For each line the script
# adds the group with the real ovs-ofctl, dumps that one group and records
# "INPUT<TAB>DUMPED LINE" (or "INPUT<TAB>ERROR: message" when ovs-ofctl or
# the switch refuses it). errors.txt lines ("COMMAND<TAB>ARGUMENT") run
# against the switch (ovs-ofctl connects before it parses) after a
# del-groups; the first line of their output, or "OK", is recorded.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
base=${GRP_BASE:-/tmp/grp-ovs}
ns=grp-ovs
br=grpbr
rm -rf "$base"; mkdir -p "$base"
# Every OVS program finds its control sockets through these.
export OVS_RUNDIR=$base OVS_LOGDIR=$base OVS_DBDIR=$base OVS_SYSCONFDIR=$base
cleanup() {
  for d in ovs-vswitchd ovsdb-server; do
    [ -f "$base/$d.pid" ] && kill "$(cat "$base/$d.pid")" 2>/dev/null || true
  done
  ip netns del "$ns" 2>/dev/null || true
}
trap cleanup EXIT
ip netns del "$ns" 2>/dev/null || true
ip netns add "$ns"
ip -n "$ns" link set lo up
db=$base/conf.db sock=$base/db.sock
ovsdb-tool create "$db" /usr/share/openvswitch/vswitch.ovsschema
ip netns exec "$ns" ovsdb-server "$db" --remote=punix:"$sock" --pidfile="$base/ovsdb-server.pid" \
  --detach --no-chdir --log-file="$base/ovsdb-server.log" -vconsole:off
vsctl() { ovs-vsctl --db=unix:"$sock" --timeout=20 "$@"; }
vsctl --no-wait init
ip netns exec "$ns" ovs-vswitchd unix:"$sock" --pidfile="$base/ovs-vswitchd.pid" --detach --no-chdir \
  --log-file="$base/ovs-vswitchd.log" -vconsole:off
vsctl add-br "$br" -- set bridge "$br" datapath_type=netdev
# OpenFlow ports 1 and 2 exist so that watch_port and output have real targets.
vsctl add-port "$br" p1 -- set interface p1 type=internal ofport_request=1
vsctl add-port "$br" p2 -- set interface p2 type=internal ofport_request=2
for i in $(seq 50); do [ -S "$base/$br.mgmt" ] && break; sleep 0.1; done
t=unix:$base/$br.mgmt
of() { ovs-ofctl -O OpenFlow13 "$@"; }

: > "$here/dump-groups.golden"
while IFS= read -r line; do
  [ -z "$line" ] && continue
  case $line in \#*) continue;; esac
  of del-groups "$t"
  if out=$(of add-group "$t" "$line" 2>&1); then
    id=$(of dump-groups "$t" | sed -n 2p | sed 's/^ group_id=\([0-9]*\),.*/\1/')
    printf '%s\t%s\n' "$line" "$(of dump-groups "$t" "$id" | sed -n 2p)" >> "$here/dump-groups.golden"
  else
    printf '%s\tERROR: %s\n' "$line" "$(echo "$out" | head -1)" >> "$here/dump-groups.golden"
  fi
done < "$here/groups.txt"

: > "$here/errors.golden"
while IFS= read -r line; do
  [ -z "$line" ] && continue
  cmd=${line%%	*} arg=${line#*	}
  of del-groups "$t"
  if out=$(of "$cmd" "$t" "$arg" 2>&1); then out="OK $(echo "$out" | sed -n 2p)"; fi
  printf '%s\t%s\t%s\n' "$cmd" "$arg" "$(echo "$out" | head -1)" >> "$here/errors.golden"
done < "$here/errors.txt"

# Whole-command output: several groups, stats and features.
of del-groups "$t"
of add-group "$t" 'group_id=1,type=all,bucket=output:1,bucket=output:2'
of add-group "$t" 'group_id=7,type=select,bucket=weight:100,actions=output:1,bucket=weight:50,output:2'
of add-group "$t" 'group_id=3,type=fast_failover,bucket=watch_port:1,output:1,bucket=watch_port:2,output:2'
of add-flow "$t" 'in_port=1,actions=group:1'
of add-flow "$t" 'in_port=2,actions=group:1'
{
  echo '$ ovs-ofctl -O OpenFlow13 dump-groups BR 7'; of dump-groups "$t" 7
  echo '$ ovs-ofctl -O OpenFlow13 dump-group-stats BR group_id=1'; of dump-group-stats "$t" group_id=1 | sed 's/duration=[0-9.]*s/duration=Xs/' || true
  echo '$ ovs-ofctl -O OpenFlow13 dump-group-stats BR group_id=7'; of dump-group-stats "$t" group_id=7 | sed 's/duration=[0-9.]*s/duration=Xs/'
  echo '$ ovs-ofctl -O OpenFlow13 dump-group-stats BR'; of dump-group-stats "$t" | sed 's/duration=[0-9.]*s/duration=Xs/' || true
  echo '$ ovs-ofctl -O OpenFlow13 dump-group-features BR'; of dump-group-features "$t"
  echo '$ ovs-ofctl -O OpenFlow13 dump-groups BR 99'; of dump-groups "$t" 99 2>&1 || true
  echo '$ ovs-ofctl -O OpenFlow13 add-group BR group_id=1,type=all,bucket=output:1'; of add-group "$t" group_id=1,type=all,bucket=output:1 2>&1 || true
  echo '$ ovs-ofctl -O OpenFlow13 mod-group BR group_id=5,type=all,bucket=output:1'; of mod-group "$t" group_id=5,type=all,bucket=output:1 2>&1 || true
  echo '$ ovs-ofctl -O OpenFlow13 add-flow BR actions=group:42'; of add-flow "$t" actions=group:42 2>&1 || true
  echo '$ ovs-ofctl -O OpenFlow13 del-groups BR group_id=1 ; dump-flows'; of del-groups "$t" group_id=1; of dump-flows "$t" | sed 's/duration=[0-9.]*s/duration=Xs/'
  echo '$ ovs-ofctl -O OpenFlow10 dump-groups BR'; ovs-ofctl -O OpenFlow10 dump-groups "$t" 2>&1 || true
  echo '$ ovs-ofctl dump-groups BR'; ovs-ofctl dump-groups "$t" 2>&1 || true
  echo '$ ovs-ofctl dump-group-stats BR'; ovs-ofctl dump-group-stats "$t" 2>&1 | sed 's/duration=[0-9.]*s/duration=Xs/' || true
  echo '$ ovs-ofctl dump-group-features BR'; ovs-ofctl dump-group-features "$t" 2>&1 || true
  echo '$ ovs-ofctl add-group BR group_id=8,type=all,bucket=output:1'; ovs-ofctl add-group "$t" group_id=8,type=all,bucket=output:1 2>&1 || true
  echo '$ ovs-ofctl add-group BR group_id=8,type=all,bucket=output:1 (again)'; ovs-ofctl add-group "$t" group_id=8,type=all,bucket=output:1 2>&1 || true
  echo '$ ovs-ofctl -O OpenFlow13 del-groups BR group_id=12345'; of del-groups "$t" group_id=12345 2>&1 || true
  printf 'group_id=40,type=all,bucket=output:1\ngroup_id=41,type=all,bucket=output:1\ngroup_id=40,type=all\n' > "$base/groups.txt"
  echo '$ ovs-ofctl -O OpenFlow13 add-groups BR FILE (line 3 exists)'; of add-groups "$t" "$base/groups.txt" 2>&1 || true
  printf 'group_id=50,type=all,bucket=output:1\ngroup_id=51,type=bogus\n' > "$base/groups2.txt"
  echo '$ ovs-ofctl -O OpenFlow13 add-groups BR FILE (line 2 bad)'; of add-groups "$t" "$base/groups2.txt" 2>&1 || true
  echo '$ ovs-ofctl -O OpenFlow13 dump-groups BR (after add-groups)'; of dump-groups "$t" 2>&1 || true
  echo '$ ovs-ofctl -O OpenFlow13 mod-group BR group_id=7,type=all,bucket=output:2'; of mod-group "$t" group_id=7,type=all,bucket=output:2 2>&1 || true
  echo '$ ovs-ofctl -O OpenFlow13 dump-groups BR (after mod-group)'; of dump-groups "$t" 2>&1 || true
  echo '$ ovs-ofctl -O OpenFlow13 dump-group-stats BR group_id=999'; of dump-group-stats "$t" group_id=999 2>&1 || true
  echo '$ ovs-ofctl -O OpenFlow13 add-flow BR in_port=1,actions=group:7 ; dump-flows'; of add-flow "$t" in_port=1,actions=group:7; of dump-flows "$t" | sed 's/duration=[0-9.]*s/duration=Xs/'
} > "$here/commands.golden" 2>&1
echo "captured into $here"
