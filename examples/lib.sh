# Shared by the floating IP examples: the external network, its router and
# an external host, plus the checks. Source it; it needs a running tapestry
# daemon (`tapestry daemon &`) and root for the kernel namespaces.
#
# Names are prefixed with $PFX (default "fip") so that several runs, or a
# test, can share a machine. KEEP=1 leaves everything in place to explore.

set -euo pipefail

T=${TAPESTRY:-tapestry}
PFX=${PFX:-fip}
EXT_NS=${PFX}-ext          # the external host: a kernel namespace ...
EXT_TAP=${PFX}-ext0        # ... behind this TAP on br-ex
FAILED=0

say() { printf '\n### %s\n' "$*"; }
ok() { printf 'ok: %s\n' "$*"; }
bad() { printf 'FAIL: %s\n' "$*"; FAILED=1; }

# kernel_cleanup removes what the example made in the kernel (namespaces
# and TAP devices whose names start with $PFX, and the instance TAPs).
kernel_cleanup() {
	local ns
	for ns in $(ip netns list | awk -v p="$PFX-" 'index($1, p) == 1 {print $1}'); do
		ip netns del "$ns"
	done
	ip link del "$EXT_TAP" 2>/dev/null || true
}

# external_network creates "public" (the seed's 172.24.4.224/28) with a
# gateway address the external host will hold, and a router on it.
external_network() {
	if [ -n "$($T cloud net-list -f value -c id)" ]; then
		echo "this example builds its own cloud and expects an empty one; start a fresh daemon:" >&2
		echo "  tapestry daemon --state-dir \$(mktemp -d) --run-dir \$(mktemp -d)   (and TAPESTRY_RUNDIR for the CLI)" >&2
		exit 1
	fi
	say "external network and router"
	$T cloud net-create public --router:external --provider:network_type flat
	$T cloud subnet-create public 172.24.4.224/28 --name public-subnet --gateway 172.24.4.225 \
		--allocation-pool start=172.24.4.226,end=172.24.4.238 --disable-dhcp
	$T cloud router-create router1
	$T cloud router-gateway-set router1 public
}

# external_host puts a kernel namespace on br-ex at 172.24.4.225, the
# external subnet's gateway, as the physical network's router would be.
external_host() {
	say "external host $EXT_NS (kernel namespace, TAP $EXT_TAP on br-ex)"
	ip netns add "$EXT_NS"
	ip tuntap add "$EXT_TAP" mode tap
	$T vsctl add-port br-ex "$EXT_TAP"
	ip link set "$EXT_TAP" netns "$EXT_NS"
	ip -n "$EXT_NS" addr add 172.24.4.225/28 dev "$EXT_TAP"
	ip -n "$EXT_NS" link set "$EXT_TAP" up
	ip -n "$EXT_NS" link set lo up
	# Count what arrives, by source address, to see each floating IP at work.
	ip netns exec "$EXT_NS" iptables -N seen
	ip netns exec "$EXT_NS" iptables -A INPUT -p icmp --icmp-type echo-request -j seen
}

# tap_of PORT prints the TAP device of a port of a --tap server:
# tap + the first 11 characters of the port id, as Neutron names it.
tap_of() {
	local id
	id=$($T cloud port-show "$1" -f value -c id)
	echo "tap${id:0:11}"
}

# count NS CHAIN MATCH prints the packet count of the rule of CHAIN in NS
# whose iptables -S text contains MATCH.
count() {
	ip netns exec "$1" iptables -S "$2" -v | awk -v m="$3" 'index($0, m) {for (i = 1; i <= NF; i++) if ($i == "-c") {print $(i+1); exit}}'
}

# ping_ok NS DEST [ARGS...] pings and reports.
ping_ok() {
	local ns=$1 dst=$2
	shift 2
	if ip netns exec "$ns" ping -c 2 -i 0.2 -W 2 "$@" "$dst" >/dev/null; then
		ok "$ns pings $dst $*"
	else
		bad "$ns cannot ping $dst $*"
	fi
}

ping_fails() {
	local ns=$1 dst=$2
	shift 2
	if ip netns exec "$ns" ping -c 1 -W 1 "$@" "$dst" >/dev/null; then
		bad "$ns still pings $dst $*"
	else
		ok "$ns no longer reaches $dst $*"
	fi
}

# watch_source NS SRC adds a counting rule for echo requests from SRC.
watch_source() {
	ip netns exec "$EXT_NS" iptables -A seen -s "$1"
}

# expect_more NS CHAIN MATCH BEFORE WHAT checks that a counter grew.
expect_more() {
	local now
	now=$(count "$1" "$2" "$3")
	if [ "${now:-0}" -gt "$4" ]; then ok "$5 ($4 -> $now packets)"; else bad "$5 (counter stayed at ${now:-0})"; fi
}
