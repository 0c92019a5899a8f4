#!/usr/bin/env bash
# Several floating IPs for one instance, the seed's second way: one NIC with
# several fixed IPs, each fixed IP mapped to its own floating IP.
#
#   tapestry daemon &                       # if none runs yet
#   examples/floating-ips-multi-fixed-ip.sh # as root
#
# The port gets both fixed IPs at creation (`--fixed-ip` twice; on an
# existing port, `port-update PORT --fixed-ip ... --fixed-ip ...` sets the
# whole list), and each floating IP is associated with
# `--fixed-ip-address`. Inside, the instance holds both addresses on its one
# NIC; a reply leaves from the address the request was sent to, and what it
# sends itself from the second address (ping -I) is SNATed to the second
# floating IP. No source-based routing is needed: one NIC, one way out.
cd "$(dirname "$0")"
. ./lib.sh
VM=${PFX}-vm2

kernel_cleanup
[ -n "${KEEP:-}" ] || trap 'kernel_cleanup' EXIT

external_network
say "the tenant network (the seed's private 10.0.0.0/24) on router1"
$T cloud net-create private
$T cloud subnet-create private 10.0.0.0/24 --name private-subnet
$T cloud router-interface-add router1 private-subnet
$T cloud net-list

say "the instance: one port with two fixed IPs"
$T cloud port-create private --name vm2-nic0 --fixed-ip ip_address=10.0.0.5 --fixed-ip ip_address=10.0.0.6
$T cloud server-create "$VM" --tap --nic port-id=vm2-nic0

say "a floating IP for each fixed IP"
FIP1=$($T cloud floatingip-create public --floating-ip-address 172.24.4.230 -f value -c id)
FIP2=$($T cloud floatingip-create public --floating-ip-address 172.24.4.231 -f value -c id)
$T cloud floatingip-associate "$FIP1" vm2-nic0 --fixed-ip-address 10.0.0.5
$T cloud floatingip-associate "$FIP2" vm2-nic0 --fixed-ip-address 10.0.0.6
$T cloud floatingip-list

say "inside the instance ($VM, a kernel namespace)"
NIC0=$(tap_of vm2-nic0)
ip netns add "$VM"
ip link set "$NIC0" netns "$VM"
ip -n "$VM" addr add 10.0.0.5/24 dev "$NIC0"
ip -n "$VM" addr add 10.0.0.6/24 dev "$NIC0"
ip -n "$VM" link set lo up
ip -n "$VM" link set "$NIC0" up
ip -n "$VM" route add default via 10.0.0.1 dev "$NIC0"
ip netns exec "$VM" iptables -A OUTPUT -s 10.0.0.5 -o "$NIC0" -p icmp --icmp-type echo-reply
ip netns exec "$VM" iptables -A OUTPUT -s 10.0.0.6 -o "$NIC0" -p icmp --icmp-type echo-reply
ip -n "$VM" addr show "$NIC0"

external_host

say "the external host pings both floating IPs"
ping_ok "$EXT_NS" 172.24.4.230
ping_ok "$EXT_NS" 172.24.4.231
expect_more "$VM" OUTPUT "-s 10.0.0.5/32 -o $NIC0" 0 "the replies for 172.24.4.230 come from 10.0.0.5"
expect_more "$VM" OUTPUT "-s 10.0.0.6/32 -o $NIC0" 0 "the replies for 172.24.4.231 come from 10.0.0.6"

say "the instance's own traffic leaves with the floating IP of its source address"
watch_source 172.24.4.230
watch_source 172.24.4.231
ping_ok "$VM" 172.24.4.225
ping_ok "$VM" 172.24.4.225 -I 10.0.0.6
expect_more "$EXT_NS" seen "-s 172.24.4.230/32" 0 "traffic from 10.0.0.5 arrives from 172.24.4.230"
expect_more "$EXT_NS" seen "-s 172.24.4.231/32" 0 "traffic from 10.0.0.6 arrives from 172.24.4.231"

say "disassociating 172.24.4.231"
$T cloud floatingip-disassociate "$FIP2"
ping_fails "$EXT_NS" 172.24.4.231
ping_ok "$EXT_NS" 172.24.4.230

if [ "$FAILED" != 0 ]; then echo; echo "some checks FAILED"; exit 1; fi
echo; echo "all checks passed"
