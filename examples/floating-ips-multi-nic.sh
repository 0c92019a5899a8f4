#!/usr/bin/env bash
# Several floating IPs for one instance, the seed's first way: the instance
# has one NIC per network, and each NIC's fixed IP has its own floating IP.
#
#   tapestry daemon &                  # if none runs yet
#   examples/floating-ips-multi-nic.sh # as root
#
# Everything in the cloud is made with `tapestry cloud` alone; the instance
# is a kernel namespace holding the server's two TAP devices (server-create
# --tap), and the external host a kernel namespace behind a TAP on br-ex.
# What the instance needs inside is plain Linux: addresses, a default
# route, and a source-based rule so that replies from the second NIC's
# address leave by the second NIC (else they would follow the default
# route out of the first NIC, and the router would see them on the wrong
# side).
cd "$(dirname "$0")"
. ./lib.sh
VM=${PFX}-vm1

kernel_cleanup
[ -n "${KEEP:-}" ] || trap 'kernel_cleanup' EXIT

external_network
say "two tenant networks on router1 (the seed's networks 1 and 2)"
$T cloud net-create 1
$T cloud subnet-create 1 10.0.1.0/24 --name sub1
$T cloud net-create 2
$T cloud subnet-create 2 10.0.2.0/24 --name sub2
$T cloud router-interface-add router1 sub1
$T cloud router-interface-add router1 sub2
$T cloud net-list

say "the instance: one port on each network"
$T cloud port-create 1 --name vm1-nic0 --fixed-ip ip_address=10.0.1.5
$T cloud port-create 2 --name vm1-nic1 --fixed-ip ip_address=10.0.2.5
$T cloud server-create "$VM" --tap --nic port-id=vm1-nic0 --nic port-id=vm1-nic1

say "a floating IP for each NIC"
FIP1=$($T cloud floatingip-create public --floating-ip-address 172.24.4.228 -f value -c id)
FIP2=$($T cloud floatingip-create public --floating-ip-address 172.24.4.229 -f value -c id)
$T cloud floatingip-associate "$FIP1" vm1-nic0
$T cloud floatingip-associate "$FIP2" vm1-nic1
$T cloud floatingip-list

say "inside the instance ($VM, a kernel namespace)"
NIC0=$(tap_of vm1-nic0)
NIC1=$(tap_of vm1-nic1)
ip netns add "$VM"
ip link set "$NIC0" netns "$VM"
ip link set "$NIC1" netns "$VM"
ip -n "$VM" addr add 10.0.1.5/24 dev "$NIC0"
ip -n "$VM" addr add 10.0.2.5/24 dev "$NIC1"
ip -n "$VM" link set lo up
ip -n "$VM" link set "$NIC0" up
ip -n "$VM" link set "$NIC1" up
ip -n "$VM" route add default via 10.0.1.1 dev "$NIC0"
# Source-based routing: what is sent from 10.0.2.5 leaves by the second NIC.
ip -n "$VM" rule add from 10.0.2.5 table 102
ip -n "$VM" route add default via 10.0.2.1 dev "$NIC1" table 102
# Count the echo replies each NIC sends, by source address.
ip netns exec "$VM" iptables -A OUTPUT -s 10.0.1.5 -o "$NIC0" -p icmp --icmp-type echo-reply
ip netns exec "$VM" iptables -A OUTPUT -s 10.0.2.5 -o "$NIC1" -p icmp --icmp-type echo-reply
ip -n "$VM" addr show
ip -n "$VM" rule show

external_host

say "the external host pings both floating IPs"
ping_ok "$EXT_NS" 172.24.4.228
ping_ok "$EXT_NS" 172.24.4.229
expect_more "$VM" OUTPUT "-s 10.0.1.5/32 -o $NIC0" 0 "the replies for 172.24.4.228 come from 10.0.1.5 by $NIC0"
expect_more "$VM" OUTPUT "-s 10.0.2.5/32 -o $NIC1" 0 "the replies for 172.24.4.229 come from 10.0.2.5 by $NIC1"

say "the instance's own traffic leaves with the floating IP of its NIC"
watch_source 172.24.4.228
watch_source 172.24.4.229
ping_ok "$VM" 172.24.4.225
ping_ok "$VM" 172.24.4.225 -I 10.0.2.5
expect_more "$EXT_NS" seen "-s 172.24.4.228/32" 0 "traffic from 10.0.1.5 arrives from 172.24.4.228"
expect_more "$EXT_NS" seen "-s 172.24.4.229/32" 0 "traffic from 10.0.2.5 arrives from 172.24.4.229"

say "the router (tapestry namespace qrouter-...) and br-int"
ROUTER=qrouter-$($T cloud router-show router1 -f value -c id)
$T ip netns exec "$ROUTER" iptables -t nat -S
$T ip -n "$ROUTER" addr show
$T ofctl dump-flows br-int --no-stats

say "disassociating 172.24.4.228"
$T cloud floatingip-disassociate "$FIP1"
ping_fails "$EXT_NS" 172.24.4.228
GW=$($T cloud router-show router1 -f json -c external_gateway_info | grep -o '172\.24\.4\.[0-9]*' | head -1)
watch_source "$GW"
ping_ok "$VM" 172.24.4.225
expect_more "$EXT_NS" seen "-s $GW/32" 0 "traffic from 10.0.1.5 now leaves as the router's address $GW (default SNAT)"
ping_ok "$EXT_NS" 172.24.4.229

if [ "$FAILED" != 0 ]; then echo; echo "some checks FAILED"; exit 1; fi
echo; echo "all checks passed"
