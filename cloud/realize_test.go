package cloud_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"tapestry/cloud"
	"tapestry/iptables"
	nf "tapestry/netfilter"
	"tapestry/ofctl"
	"tapestry/openflow"
)

// Object ids of the test States: UUIDs, so that DevName truncates and
// CookieOf reads them as Neutron's do. The golden lines name them {key}.
var ids = map[string]string{
	"n1": "10000000-0000-4000-8000-000000000001", "n2": "10000000-0000-4000-8000-000000000002",
	"pub": "10000000-0000-4000-8000-0000000000aa", "priv": "10000000-0000-4000-8000-000000000003",
	"s1": "20000000-0000-4000-8000-000000000001", "s2": "20000000-0000-4000-8000-000000000002",
	"spub": "20000000-0000-4000-8000-0000000000aa", "spriv": "20000000-0000-4000-8000-000000000003",
	"vm1a": "a0000001-0000-4000-8000-000000000001", "vm1b": "a0000002-0000-4000-8000-000000000002",
	"qr1": "b0000001-0000-4000-8000-000000000001", "qr2": "b0000002-0000-4000-8000-000000000002",
	"qg": "c0000001-0000-4000-8000-000000000001", "fport": "c0000009-0000-4000-8000-000000000009",
	"r1": "d0000001-0000-4000-8000-000000000001", "srv1": "e0000001-0000-4000-8000-000000000001",
	"f1": "f0000001-0000-4000-8000-000000000001", "f2": "f0000002-0000-4000-8000-000000000002",
}

var expandIDs = func() *strings.Replacer {
	var pairs []string
	for k, v := range ids {
		pairs = append(pairs, "{"+k+"}", v)
	}
	return strings.NewReplacer(pairs...)
}()

func addr(s string) netip.Addr  { return netip.MustParseAddr(s) }
func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }

func network(key, name string, vlan int) *cloud.Network {
	return &cloud.Network{ID: ids[key], Name: name, AdminStateUp: true, NetworkType: "vxlan", SegmentationID: 100 + vlan,
		LocalVLAN: vlan, Status: "ACTIVE", MTU: 1450}
}

func external(key string) *cloud.Network {
	return &cloud.Network{ID: ids[key], Name: "public", AdminStateUp: true, External: true, NetworkType: "flat",
		PhysicalNetwork: "physnet1", Status: "ACTIVE", MTU: 1500}
}

func subnet(key, net, cidr, gw string) *cloud.Subnet {
	s := &cloud.Subnet{ID: ids[key], NetworkID: ids[net], IPVersion: 4, CIDR: pfx(cidr)}
	if gw != "" {
		s.GatewayIP = addr(gw)
	}
	return s
}

// port is an admin-up port with port security; fixed is "subnet=ip ...".
func port(key, net, mac, owner, device, fixed string) *cloud.Port {
	p := &cloud.Port{ID: ids[key], NetworkID: ids[net], MACAddress: mac, DeviceOwner: owner, DeviceID: ids[device],
		PortSecurityEnabled: true, AdminStateUp: true, Status: "ACTIVE"}
	for _, f := range strings.Fields(fixed) {
		sn, ip, _ := strings.Cut(f, "=")
		p.FixedIPs = append(p.FixedIPs, cloud.FixedIP{SubnetID: ids[sn], IPAddress: addr(ip)})
	}
	return p
}

func router(key string, gw *cloud.GatewayInfo) *cloud.Router {
	return &cloud.Router{ID: ids[key], Name: "router1", AdminStateUp: true, Status: "ACTIVE", ExternalGatewayInfo: gw}
}

func gateway(ip string) *cloud.GatewayInfo {
	return &cloud.GatewayInfo{NetworkID: ids["pub"], EnableSNAT: true,
		ExternalFixedIPs: []cloud.FixedIP{{SubnetID: ids["spub"], IPAddress: addr(ip)}}}
}

func fip(key, ip, portKey, fixed string) *cloud.FloatingIP {
	f := &cloud.FloatingIP{ID: ids[key], FloatingNetworkID: ids["pub"], FloatingIPAddress: addr(ip), RouterID: ids["r1"], Status: "DOWN"}
	if portKey != "" {
		f.PortID, f.FixedIPAddress, f.Status = ids[portKey], addr(fixed), "ACTIVE"
	}
	return f
}

func server(key, name string, tap bool, ports ...string) *cloud.Server {
	s := &cloud.Server{ID: ids[key], Name: name, Status: "ACTIVE", TAP: tap}
	for _, p := range ports {
		s.Ports = append(s.Ports, ids[p])
	}
	return s
}

// state builds a State from objects, keyed by their ids.
func state(objs ...any) *cloud.State {
	s := &cloud.State{Networks: map[string]*cloud.Network{}, Subnets: map[string]*cloud.Subnet{}, Ports: map[string]*cloud.Port{},
		Routers: map[string]*cloud.Router{}, FloatingIPs: map[string]*cloud.FloatingIP{},
		SecurityGroups: map[string]*cloud.SecurityGroup{}, Servers: map[string]*cloud.Server{}}
	for _, o := range objs {
		switch o := o.(type) {
		case *cloud.Network:
			s.Networks[o.ID] = o
		case *cloud.Subnet:
			s.Subnets[o.ID] = o
			s.Networks[o.NetworkID].Subnets = append(s.Networks[o.NetworkID].Subnets, o.ID)
		case *cloud.Port:
			s.Ports[o.ID] = o
		case *cloud.Router:
			s.Routers[o.ID] = o
		case *cloud.FloatingIP:
			s.FloatingIPs[o.ID] = o
		case *cloud.Server:
			s.Servers[o.ID] = o
		default:
			panic(fmt.Sprintf("state: %T", o))
		}
	}
	return s
}

// publicSide is the external network, its subnet and the router's gateway
// port, as the seed has them.
func publicSide() []any {
	return []any{external("pub"), subnet("spub", "pub", "172.24.4.224/28", "172.24.4.225"),
		port("qg", "pub", "fa:16:3e:00:02:01", cloud.OwnerRouterGateway, "r1", "spub=172.24.4.226")}
}

// seedMultiNIC is case (a): the seed's router on networks "1" and "2", a
// server with a NIC on each, a floating IP per NIC.
func seedMultiNIC() *cloud.State {
	return state(append(publicSide(),
		network("n1", "1", 1), subnet("s1", "n1", "10.0.1.0/24", "10.0.1.1"),
		network("n2", "2", 2), subnet("s2", "n2", "10.0.2.0/24", "10.0.2.1"),
		port("qr1", "n1", "fa:16:3e:00:01:01", cloud.OwnerRouterInterface, "r1", "s1=10.0.1.1"),
		port("qr2", "n2", "fa:16:3e:00:01:02", cloud.OwnerRouterInterface, "r1", "s2=10.0.2.1"),
		port("vm1a", "n1", "fa:16:3e:00:00:01", cloud.OwnerCompute, "srv1", "s1=10.0.1.5"),
		port("vm1b", "n2", "fa:16:3e:00:00:02", cloud.OwnerCompute, "srv1", "s2=10.0.2.5"),
		// The floating IP's own port is Neutron bookkeeping, not realized.
		port("fport", "pub", "fa:16:3e:00:09:09", cloud.OwnerFloatingIP, "f1", "spub=172.24.4.228"),
		router("r1", gateway("172.24.4.226")),
		fip("f1", "172.24.4.228", "vm1a", "10.0.1.5"),
		fip("f2", "172.24.4.229", "vm1b", "10.0.2.5"),
		server("srv1", "vm1", false, "vm1a", "vm1b"))...)
}

// twoFixedIPs is case (b): one NIC with two fixed IPs, each with a
// floating IP; f1 has the higher address so that id order is not address
// order.
func twoFixedIPs(associated bool) *cloud.State {
	f2 := fip("f2", "172.24.4.230", "vm1a", "10.0.0.6")
	if !associated {
		f2 = fip("f2", "172.24.4.230", "", "")
	}
	return state(append(publicSide(),
		network("priv", "private", 3), subnet("spriv", "priv", "10.0.0.0/24", "10.0.0.1"),
		port("qr1", "priv", "fa:16:3e:00:01:01", cloud.OwnerRouterInterface, "r1", "spriv=10.0.0.1"),
		port("vm1a", "priv", "fa:16:3e:00:00:01", cloud.OwnerCompute, "srv1", "spriv=10.0.0.5 spriv=10.0.0.6"),
		router("r1", gateway("172.24.4.226")),
		fip("f1", "172.24.4.231", "vm1a", "10.0.0.5"), f2,
		server("srv1", "vm1", false, "vm1a"))...)
}

// noGateway is case (e): a router with one interface and no gateway; its
// floating IP cannot be realized; one static route is on-link, one not.
func noGateway() *cloud.State {
	r := router("r1", nil)
	r.Routes = []cloud.HostRoute{{Destination: pfx("192.168.0.0/16"), Nexthop: addr("10.0.1.254")},
		{Destination: pfx("192.169.0.0/16"), Nexthop: addr("10.9.9.9")}}
	return state(external("pub"), subnet("spub", "pub", "172.24.4.224/28", "172.24.4.225"),
		network("n1", "1", 1), subnet("s1", "n1", "10.0.1.0/24", "10.0.1.1"),
		port("qr1", "n1", "fa:16:3e:00:01:01", cloud.OwnerRouterInterface, "r1", "s1=10.0.1.1"), r,
		fip("f1", "172.24.4.228", "vm1a", "10.0.1.5"))
}

// deadPorts is case (g): an admin-down port, a router interface on an
// admin-down network, a port without port security, allowed address
// pairs, subnet host routes, an admin-down router on a vlan external
// network.
func deadPorts() *cloud.State {
	down := port("vm1b", "n1", "fa:16:3e:00:00:02", cloud.OwnerCompute, "srv1", "s1=10.0.1.6")
	down.AdminStateUp = false
	n2 := network("n2", "2", 2)
	n2.AdminStateUp = false
	pairs := port("vm1a", "n1", "FA:16:3E:00:00:01", cloud.OwnerCompute, "srv1", "s1=10.0.1.5")
	pairs.AllowedAddressPairs = []cloud.AddressPair{{IPAddress: "10.0.1.50"}, {IPAddress: "10.0.1.70/26", MACAddress: "fa:16:3e:aa:bb:cc"},
		{IPAddress: "fd00::5", MACAddress: "fa:16:3e:aa:bb:cc"}, {IPAddress: "10.0.1.5/32"}}
	open := port("qr2", "n2", "fa:16:3e:00:01:02", cloud.OwnerRouterInterface, "r1", "s2=10.0.2.1")
	s1 := subnet("s1", "n1", "10.0.1.0/24", "")
	s1.HostRoutes = []cloud.HostRoute{{Destination: pfx("192.168.10.0/24"), Nexthop: addr("10.0.1.254")}}
	pub := external("pub")
	pub.NetworkType, pub.SegmentationID = "vlan", 40
	r := router("r1", gateway("172.24.4.226"))
	r.AdminStateUp = false
	noSec := port("fport", "n1", "fa:16:3e:00:00:09", "compute:az1", "srv1", "s1=10.0.1.9")
	noSec.PortSecurityEnabled = false
	return state(pub, subnet("spub", "pub", "172.24.4.224/28", "172.24.4.225"),
		port("qg", "pub", "fa:16:3e:00:02:01", cloud.OwnerRouterGateway, "r1", "spub=172.24.4.226"),
		network("n1", "1", 1), s1, n2, subnet("s2", "n2", "10.0.2.0/24", "10.0.2.1"),
		pairs, down, open, noSec, r, server("srv1", "vm1", false, "vm1a", "vm1b", "fport"))
}

// render prints a Plan as golden lines: ports, flows as ovs-ofctl takes
// them, namespaces' links, sysctls, routes as `ip route` prints them and
// nat rules as `iptables -t nat -S` prints them.
func render(p cloud.Plan) []string {
	var out []string
	for _, b := range p.Bridges {
		out = append(out, "bridge "+b.Name+" "+b.FailMode)
		for _, pp := range b.Ports {
			out = append(out, fmt.Sprintf("  port %s %s tag=%d %s [%s]", pp.Name, pp.Type, pp.Tag, pp.MAC, pp.Origin))
		}
		for _, f := range b.Flows {
			out = append(out, "  "+f.Text())
		}
	}
	for _, ns := range p.Namespaces {
		out = append(out, fmt.Sprintf("netns %s %s [%s]", ns.Name, ns.Role, ns.Origin))
		for _, l := range ns.Links {
			state := "down"
			if l.Up {
				state = "up"
			}
			out = append(out, fmt.Sprintf("  link %s@%s %s %v %s", l.Name, l.Port, l.MAC, l.Addrs, state))
		}
		for _, s := range ns.Sysctls {
			out = append(out, "  sysctl "+s.Name+"="+s.Value)
		}
		for _, r := range ns.Routes {
			dst := r.Dst.String()
			if r.Dst.Bits() == 0 {
				dst = "default"
			}
			out = append(out, fmt.Sprintf("  route %s via %s dev %s [%s]", dst, r.Via, r.Dev, r.Origin))
		}
		for _, c := range ns.Iptables {
			if !c.Builtin {
				out = append(out, "  -t "+c.Table+" -N "+c.Chain)
			}
			for _, r := range c.Rules {
				out = append(out, "  -t "+c.Table+" -A "+c.Chain+" "+r.Spec)
			}
		}
	}
	return out
}

// Golden pieces every case shares.
var (
	brExBase = []string{
		"  table=0,priority=0,cookie=0x7461706573747279,actions=NORMAL",
	}
	brIntBase = map[int]string{
		0:  "  table=0,priority=0,cookie=0x7461706573747279,actions=resubmit(,60)",
		24: "  table=24,priority=0,cookie=0x7461706573747279,actions=drop",
		25: "  table=25,priority=0,cookie=0x7461706573747279,actions=drop",
		60: "  table=60,priority=3,cookie=0x7461706573747279,actions=NORMAL",
	}
	routerSysctls = []string{
		"  sysctl net.ipv4.ip_forward=1",
		"  sysctl net.ipv4.conf.all.arp_notify=1",
	}
)

// natGolden is a router's nat table: pre/out are the DNAT rules, post the
// POSTROUTING accept, fsnat the float-snat rules, snat the snat chain's
// gateway rule (after its jump to float-snat).
func natGolden(pre, post, fsnat, snat []string) []string {
	c := `-m comment --comment "router {r1}" `
	var out []string
	chain := func(name string, rules []string) {
		out = append(out, "  -t nat -N "+name)
		for _, r := range rules {
			out = append(out, "  -t nat -A "+name+" "+r)
		}
	}
	chain("neutron-l3-agent-PREROUTING", pre)
	chain("neutron-l3-agent-OUTPUT", pre)
	chain("neutron-l3-agent-POSTROUTING", post)
	chain("neutron-l3-agent-float-snat", fsnat)
	chain("neutron-l3-agent-snat", append([]string{c + "-j neutron-l3-agent-float-snat"}, snat...))
	return append(out,
		"  -t nat -A PREROUTING "+c+"-j neutron-l3-agent-PREROUTING",
		"  -t nat -A OUTPUT "+c+"-j neutron-l3-agent-OUTPUT",
		"  -t nat -A POSTROUTING "+c+"-j neutron-l3-agent-POSTROUTING",
		"  -t nat -A POSTROUTING "+c+"-j neutron-l3-agent-snat")
}

func join(parts ...[]string) []string { return slices.Concat(parts...) }

func lines(l ...string) []string { return l }

var realizeCases = []struct {
	name  string
	state *cloud.State
	want  []string
}{
	{"seed multi-NIC", seedMultiNIC(), join(
		lines("bridge br-ex standalone",
			"  port qg-c0000001-00 internal tag=0 fa:16:3e:00:02:01 [port {qg}]"),
		brExBase,
		lines("bridge br-int secure",
			"  port qr-b0000001-00 internal tag=1 fa:16:3e:00:01:01 [port {qr1}]",
			"  port qr-b0000002-00 internal tag=2 fa:16:3e:00:01:02 [port {qr2}]",
			"  port tapa0000001-00 internal tag=1 fa:16:3e:00:00:01 [port {vm1a}]",
			"  port tapa0000002-00 internal tag=2 fa:16:3e:00:00:02 [port {vm1b}]",
			"  table=0,priority=10,cookie=0xa000000100004000,arp,in_port=tapa0000001-00,actions=resubmit(,24)",
			"  table=0,priority=10,cookie=0xa000000200004000,arp,in_port=tapa0000002-00,actions=resubmit(,24)",
			"  table=0,priority=9,cookie=0xa000000100004000,in_port=tapa0000001-00,actions=resubmit(,25)",
			"  table=0,priority=9,cookie=0xa000000200004000,in_port=tapa0000002-00,actions=resubmit(,25)",
			brIntBase[0],
			"  table=24,priority=2,cookie=0xa000000100004000,arp,in_port=tapa0000001-00,arp_spa=10.0.1.5,actions=resubmit(,25)",
			"  table=24,priority=2,cookie=0xa000000200004000,arp,in_port=tapa0000002-00,arp_spa=10.0.2.5,actions=resubmit(,25)",
			brIntBase[24],
			"  table=25,priority=2,cookie=0xa000000100004000,in_port=tapa0000001-00,dl_src=fa:16:3e:00:00:01,actions=resubmit(,60)",
			"  table=25,priority=2,cookie=0xa000000200004000,in_port=tapa0000002-00,dl_src=fa:16:3e:00:00:02,actions=resubmit(,60)",
			brIntBase[25], brIntBase[60],
			"netns qrouter-{r1} router [router {r1}]",
			"  link qr-b0000001-00@qr-b0000001-00 fa:16:3e:00:01:01 [10.0.1.1/24] up",
			"  link qr-b0000002-00@qr-b0000002-00 fa:16:3e:00:01:02 [10.0.2.1/24] up",
			"  link qg-c0000001-00@qg-c0000001-00 fa:16:3e:00:02:01 [172.24.4.226/28 172.24.4.228/32 172.24.4.229/32] up"),
		routerSysctls,
		lines("  route default via 172.24.4.225 dev qg-c0000001-00 [router {r1}]"),
		natGolden(
			lines(`-d 172.24.4.228/32 -m comment --comment "floatingip {f1}" -j DNAT --to-destination 10.0.1.5`,
				`-d 172.24.4.229/32 -m comment --comment "floatingip {f2}" -j DNAT --to-destination 10.0.2.5`),
			lines(`! -o qg-c0000001-00 -m conntrack ! --ctstate DNAT -m comment --comment "router {r1}" -j ACCEPT`),
			lines(`-s 10.0.1.5/32 -m comment --comment "floatingip {f1}" -j SNAT --to-source 172.24.4.228`,
				`-s 10.0.2.5/32 -m comment --comment "floatingip {f2}" -j SNAT --to-source 172.24.4.229`),
			lines(`-o qg-c0000001-00 -m comment --comment "router {r1}" -j SNAT --to-source 172.24.4.226`)),
		lines("netns vm1 instance [server {srv1}]",
			"  link eth0@tapa0000001-00 fa:16:3e:00:00:01 [10.0.1.5/24] up",
			"  link eth1@tapa0000002-00 fa:16:3e:00:00:02 [10.0.2.5/24] up",
			"  route default via 10.0.1.1 dev eth0 [subnet {s1}]"),
	)},
	{"one NIC two fixed IPs", twoFixedIPs(true), join(
		lines("bridge br-ex standalone",
			"  port qg-c0000001-00 internal tag=0 fa:16:3e:00:02:01 [port {qg}]"),
		brExBase,
		lines("bridge br-int secure",
			"  port qr-b0000001-00 internal tag=3 fa:16:3e:00:01:01 [port {qr1}]",
			"  port tapa0000001-00 internal tag=3 fa:16:3e:00:00:01 [port {vm1a}]",
			"  table=0,priority=10,cookie=0xa000000100004000,arp,in_port=tapa0000001-00,actions=resubmit(,24)",
			"  table=0,priority=9,cookie=0xa000000100004000,in_port=tapa0000001-00,actions=resubmit(,25)",
			brIntBase[0],
			"  table=24,priority=2,cookie=0xa000000100004000,arp,in_port=tapa0000001-00,arp_spa=10.0.0.5,actions=resubmit(,25)",
			"  table=24,priority=2,cookie=0xa000000100004000,arp,in_port=tapa0000001-00,arp_spa=10.0.0.6,actions=resubmit(,25)",
			brIntBase[24],
			"  table=25,priority=2,cookie=0xa000000100004000,in_port=tapa0000001-00,dl_src=fa:16:3e:00:00:01,actions=resubmit(,60)",
			brIntBase[25], brIntBase[60],
			"netns qrouter-{r1} router [router {r1}]",
			"  link qr-b0000001-00@qr-b0000001-00 fa:16:3e:00:01:01 [10.0.0.1/24] up",
			"  link qg-c0000001-00@qg-c0000001-00 fa:16:3e:00:02:01 [172.24.4.226/28 172.24.4.230/32 172.24.4.231/32] up"),
		routerSysctls,
		lines("  route default via 172.24.4.225 dev qg-c0000001-00 [router {r1}]"),
		natGolden(
			lines(`-d 172.24.4.230/32 -m comment --comment "floatingip {f2}" -j DNAT --to-destination 10.0.0.6`,
				`-d 172.24.4.231/32 -m comment --comment "floatingip {f1}" -j DNAT --to-destination 10.0.0.5`),
			lines(`! -o qg-c0000001-00 -m conntrack ! --ctstate DNAT -m comment --comment "router {r1}" -j ACCEPT`),
			lines(`-s 10.0.0.6/32 -m comment --comment "floatingip {f2}" -j SNAT --to-source 172.24.4.230`,
				`-s 10.0.0.5/32 -m comment --comment "floatingip {f1}" -j SNAT --to-source 172.24.4.231`),
			lines(`-o qg-c0000001-00 -m comment --comment "router {r1}" -j SNAT --to-source 172.24.4.226`)),
		lines("netns vm1 instance [server {srv1}]",
			"  link eth0@tapa0000001-00 fa:16:3e:00:00:01 [10.0.0.5/24 10.0.0.6/24] up",
			"  route default via 10.0.0.1 dev eth0 [subnet {spriv}]"),
	)},
	{"empty", &cloud.State{}, join(
		lines("bridge br-ex standalone"), brExBase,
		lines("bridge br-int secure", brIntBase[0], brIntBase[24], brIntBase[25], brIntBase[60]),
	)},
	{"TAP server", state(network("n1", "1", 1), subnet("s1", "n1", "10.0.1.0/24", "10.0.1.1"),
		port("vm1a", "n1", "fa:16:3e:00:00:01", cloud.OwnerCompute, "srv1", "s1=10.0.1.5"),
		server("srv1", "vm1", true, "vm1a")), join(
		lines("bridge br-ex standalone"), brExBase,
		lines("bridge br-int secure",
			"  port tapa0000001-00 tap tag=1 fa:16:3e:00:00:01 [port {vm1a}]",
			"  table=0,priority=10,cookie=0xa000000100004000,arp,in_port=tapa0000001-00,actions=resubmit(,24)",
			"  table=0,priority=9,cookie=0xa000000100004000,in_port=tapa0000001-00,actions=resubmit(,25)",
			brIntBase[0],
			"  table=24,priority=2,cookie=0xa000000100004000,arp,in_port=tapa0000001-00,arp_spa=10.0.1.5,actions=resubmit(,25)",
			brIntBase[24],
			"  table=25,priority=2,cookie=0xa000000100004000,in_port=tapa0000001-00,dl_src=fa:16:3e:00:00:01,actions=resubmit(,60)",
			brIntBase[25], brIntBase[60]),
	)},
	{"router without gateway", noGateway(), join(
		lines("bridge br-ex standalone"), brExBase,
		lines("bridge br-int secure",
			"  port qr-b0000001-00 internal tag=1 fa:16:3e:00:01:01 [port {qr1}]",
			brIntBase[0], brIntBase[24], brIntBase[25], brIntBase[60],
			"netns qrouter-{r1} router [router {r1}]",
			"  link qr-b0000001-00@qr-b0000001-00 fa:16:3e:00:01:01 [10.0.1.1/24] up"),
		routerSysctls,
		lines("  route 192.168.0.0/16 via 10.0.1.254 dev qr-b0000001-00 [router {r1}]"),
		natGolden(nil, nil, nil, nil),
	)},
	{"disassociated floating IP", twoFixedIPs(false), join(
		lines("bridge br-ex standalone",
			"  port qg-c0000001-00 internal tag=0 fa:16:3e:00:02:01 [port {qg}]"),
		brExBase,
		lines("bridge br-int secure",
			"  port qr-b0000001-00 internal tag=3 fa:16:3e:00:01:01 [port {qr1}]",
			"  port tapa0000001-00 internal tag=3 fa:16:3e:00:00:01 [port {vm1a}]",
			"  table=0,priority=10,cookie=0xa000000100004000,arp,in_port=tapa0000001-00,actions=resubmit(,24)",
			"  table=0,priority=9,cookie=0xa000000100004000,in_port=tapa0000001-00,actions=resubmit(,25)",
			brIntBase[0],
			"  table=24,priority=2,cookie=0xa000000100004000,arp,in_port=tapa0000001-00,arp_spa=10.0.0.5,actions=resubmit(,25)",
			"  table=24,priority=2,cookie=0xa000000100004000,arp,in_port=tapa0000001-00,arp_spa=10.0.0.6,actions=resubmit(,25)",
			brIntBase[24],
			"  table=25,priority=2,cookie=0xa000000100004000,in_port=tapa0000001-00,dl_src=fa:16:3e:00:00:01,actions=resubmit(,60)",
			brIntBase[25], brIntBase[60],
			"netns qrouter-{r1} router [router {r1}]",
			"  link qr-b0000001-00@qr-b0000001-00 fa:16:3e:00:01:01 [10.0.0.1/24] up",
			"  link qg-c0000001-00@qg-c0000001-00 fa:16:3e:00:02:01 [172.24.4.226/28 172.24.4.231/32] up"),
		routerSysctls,
		lines("  route default via 172.24.4.225 dev qg-c0000001-00 [router {r1}]"),
		natGolden(
			lines(`-d 172.24.4.231/32 -m comment --comment "floatingip {f1}" -j DNAT --to-destination 10.0.0.5`),
			lines(`! -o qg-c0000001-00 -m conntrack ! --ctstate DNAT -m comment --comment "router {r1}" -j ACCEPT`),
			lines(`-s 10.0.0.5/32 -m comment --comment "floatingip {f1}" -j SNAT --to-source 172.24.4.231`),
			lines(`-o qg-c0000001-00 -m comment --comment "router {r1}" -j SNAT --to-source 172.24.4.226`)),
		lines("netns vm1 instance [server {srv1}]",
			"  link eth0@tapa0000001-00 fa:16:3e:00:00:01 [10.0.0.5/24 10.0.0.6/24] up",
			"  route default via 10.0.0.1 dev eth0 [subnet {spriv}]"),
	)},
	{"dead ports, address pairs, admin-down router", deadPorts(), join(
		lines("bridge br-ex standalone",
			"  port qg-c0000001-00 internal tag=40 fa:16:3e:00:02:01 [port {qg}]"),
		brExBase,
		lines("bridge br-int secure",
			"  port qr-b0000002-00 internal tag=4095 fa:16:3e:00:01:02 [port {qr2}]",
			"  port tapa0000001-00 internal tag=1 FA:16:3E:00:00:01 [port {vm1a}]",
			"  port tapa0000002-00 internal tag=4095 fa:16:3e:00:00:02 [port {vm1b}]",
			"  port tapc0000009-00 internal tag=1 fa:16:3e:00:00:09 [port {fport}]",
			"  table=0,priority=20,cookie=0xb000000200004000,in_port=qr-b0000002-00,actions=drop",
			"  table=0,priority=20,cookie=0xa000000200004000,in_port=tapa0000002-00,actions=drop",
			"  table=0,priority=10,cookie=0xa000000100004000,arp,in_port=tapa0000001-00,actions=resubmit(,24)",
			"  table=0,priority=9,cookie=0xa000000100004000,in_port=tapa0000001-00,actions=resubmit(,25)",
			brIntBase[0],
			"  table=24,priority=2,cookie=0xa000000100004000,arp,in_port=tapa0000001-00,arp_spa=10.0.1.5,actions=resubmit(,25)",
			"  table=24,priority=2,cookie=0xa000000100004000,arp,in_port=tapa0000001-00,arp_spa=10.0.1.50,actions=resubmit(,25)",
			"  table=24,priority=2,cookie=0xa000000100004000,arp,in_port=tapa0000001-00,arp_spa=10.0.1.64/26,actions=resubmit(,25)",
			brIntBase[24],
			"  table=25,priority=2,cookie=0xa000000100004000,in_port=tapa0000001-00,dl_src=fa:16:3e:00:00:01,actions=resubmit(,60)",
			"  table=25,priority=2,cookie=0xa000000100004000,in_port=tapa0000001-00,dl_src=fa:16:3e:aa:bb:cc,actions=resubmit(,60)",
			brIntBase[25], brIntBase[60],
			"netns qrouter-{r1} router [router {r1}]",
			"  link qr-b0000002-00@qr-b0000002-00 fa:16:3e:00:01:02 [10.0.2.1/24] down",
			"  link qg-c0000001-00@qg-c0000001-00 fa:16:3e:00:02:01 [172.24.4.226/28] down"),
		routerSysctls,
		natGolden(nil,
			lines(`! -o qg-c0000001-00 -m conntrack ! --ctstate DNAT -m comment --comment "router {r1}" -j ACCEPT`),
			nil,
			lines(`-o qg-c0000001-00 -m comment --comment "router {r1}" -j SNAT --to-source 172.24.4.226`)),
		lines("netns vm1 instance [server {srv1}]",
			"  link eth0@tapa0000001-00 FA:16:3E:00:00:01 [10.0.1.5/24] up",
			"  link eth1@tapa0000002-00 fa:16:3e:00:00:02 [10.0.1.6/24] up",
			"  link eth2@tapc0000009-00 fa:16:3e:00:00:09 [10.0.1.9/24] up",
			"  route 192.168.10.0/24 via 10.0.1.254 dev eth0 [subnet {s1}]"),
	)},
}

func TestRealizeGolden(t *testing.T) {
	for _, tt := range realizeCases {
		t.Run(tt.name, func(t *testing.T) {
			want := make([]string, len(tt.want))
			for i, l := range tt.want {
				want[i] = expandIDs.Replace(l)
			}
			if diff := cmp.Diff(want, render(cloud.Realize(tt.state))); diff != "" {
				t.Errorf("Realize: plan (-want +got):\n%s", diff)
			}
		})
	}
}

// shuffled rebuilds s with every map filled in a random order, so that a
// Plan that leaked map order would differ.
func shuffled(s *cloud.State, r *rand.Rand) *cloud.State {
	var objs []any
	for _, n := range s.Networks {
		c := *n
		c.Subnets = nil // state() appends them again, in subnet order below
		objs = append(objs, &c)
	}
	var rest []any
	for _, m := range []any{s.Subnets, s.Ports, s.Routers, s.FloatingIPs, s.Servers} {
		v := reflect.ValueOf(m)
		for _, k := range v.MapKeys() {
			rest = append(rest, v.MapIndex(k).Interface())
		}
	}
	r.Shuffle(len(rest), func(i, j int) { rest[i], rest[j] = rest[j], rest[i] })
	// Subnets keep their relative order: it is the networks' subnet order.
	slices.SortStableFunc(rest, func(a, b any) int {
		sa, aok := a.(*cloud.Subnet)
		sb, bok := b.(*cloud.Subnet)
		if aok && bok {
			return slices.Index(s.Networks[sa.NetworkID].Subnets, sa.ID) - slices.Index(s.Networks[sb.NetworkID].Subnets, sb.ID)
		}
		return 0
	})
	return state(append(objs, rest...)...)
}

func TestRealizeDeterministic(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, tt := range realizeCases {
		first := cloud.Realize(tt.state)
		if again := cloud.Realize(tt.state); !reflect.DeepEqual(first, again) {
			t.Errorf("%s: two Realize calls differ:\n%s", tt.name, cmp.Diff(first, again))
		}
		for i := 0; i < 20 && len(tt.state.Networks) > 0; i++ {
			s := shuffled(tt.state, r)
			if got := cloud.Realize(s); !reflect.DeepEqual(first, got) {
				t.Fatalf("%s: Realize of the same State built in another order differs (-first +got):\n%s",
					tt.name, cmp.Diff(first, got))
			}
		}
	}
}

func TestRealizeIsPure(t *testing.T) {
	for _, tt := range realizeCases {
		before, err := json.Marshal(tt.state)
		if err != nil {
			t.Fatal(err)
		}
		cloud.Realize(tt.state)
		after, _ := json.Marshal(tt.state)
		if string(before) != string(after) {
			t.Errorf("%s: Realize changed its State:\n%s", tt.name, cmp.Diff(string(before), string(after)))
		}
	}
}

// portNames numbers a bridge plan's ports 1, 2, ... as ofctl.PortNamer.
type portNames []string

func (p portNames) PortNumber(name string) (uint32, bool) {
	i := slices.Index(p, name)
	return uint32(i + 1), i >= 0
}

func (p portNames) PortName(no uint32) (string, bool) {
	if no == 0 || int(no) > len(p) {
		return "", false
	}
	return p[no-1], true
}

// TestRealizeFlowsParse proves every planned flow is ovs-ofctl syntax
// that tapestry's parser takes, with the plan's own port names, and that
// it says what the FlowPlan says.
func TestRealizeFlowsParse(t *testing.T) {
	for _, tt := range realizeCases {
		for _, b := range cloud.Realize(tt.state).Bridges {
			var names portNames
			for _, p := range b.Ports {
				names = append(names, p.Name)
			}
			for _, f := range b.Flows {
				fm, err := ofctl.ParseFlowMod(f.Text(), openflow.FlowAdd, names)
				if err != nil {
					t.Errorf("%s: %s: ParseFlowMod(%q): %v", tt.name, b.Name, f.Text(), err)
					continue
				}
				if int(fm.Table) != f.Table || int(fm.Priority) != f.Priority || fm.Cookie != f.Cookie {
					t.Errorf("%s: ParseFlowMod(%q) = table %d priority %d cookie %#x", tt.name, f.Text(), fm.Table, fm.Priority, fm.Cookie)
				}
			}
		}
	}
}

// TestRealizeOrigins checks each element names the object that made it:
// flows by cookie and Origin, rules by their comment.
func TestRealizeOrigins(t *testing.T) {
	for _, tt := range realizeCases {
		p := cloud.Realize(tt.state)
		for _, b := range p.Bridges {
			for _, f := range b.Flows {
				kind, id, _ := strings.Cut(f.Origin, " ")
				switch {
				case f.Origin == "agent" && f.Cookie == cloud.AgentCookie:
				case kind == "port" && tt.state.Ports[id] != nil && f.Cookie == cloud.CookieOf(id):
				default:
					t.Errorf("%s: flow %q has origin %q", tt.name, f.Text(), f.Origin)
				}
			}
		}
		for _, ns := range p.Namespaces {
			for _, c := range ns.Iptables {
				for _, r := range c.Rules {
					if !strings.Contains(r.Spec, `-m comment --comment "`+r.Origin+`" -j `) {
						t.Errorf("%s: rule %q does not carry its origin %q", tt.name, r.Spec, r.Origin)
					}
				}
			}
		}
	}
}

func TestRealizeExternalIDs(t *testing.T) {
	p := cloud.Realize(seedMultiNIC())
	got := map[string]map[string]string{}
	for _, b := range p.Bridges {
		for _, pp := range b.Ports {
			got[b.Name+" "+pp.Name] = pp.ExternalIDs
		}
	}
	want := map[string]map[string]string{
		"br-ex qg-c0000001-00":  {"iface-id": ids["qg"], "attached-mac": "fa:16:3e:00:02:01", "iface-status": "active"},
		"br-int qr-b0000001-00": {"iface-id": ids["qr1"], "attached-mac": "fa:16:3e:00:01:01", "iface-status": "active"},
		"br-int qr-b0000002-00": {"iface-id": ids["qr2"], "attached-mac": "fa:16:3e:00:01:02", "iface-status": "active"},
		"br-int tapa0000001-00": {"iface-id": ids["vm1a"], "attached-mac": "fa:16:3e:00:00:01", "iface-status": "active", "vm-uuid": ids["srv1"]},
		"br-int tapa0000002-00": {"iface-id": ids["vm1b"], "attached-mac": "fa:16:3e:00:00:02", "iface-status": "active", "vm-uuid": ids["srv1"]},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Realize(seed): external_ids (-want +got):\n%s", diff)
	}
}

// TestRealizeIptables applies each router's chains the way the daemon
// does (-N each user chain, then -A each rule, chains in plan order) with
// tapestry's iptables, which refuses a jump to a chain that does not exist
// yet, and checks that `iptables -t nat -S CHAIN` prints every Spec back
// unchanged.
func TestRealizeIptables(t *testing.T) {
	for _, tt := range realizeCases {
		checkIptables(t, tt.name, cloud.Realize(tt.state))
	}
	// Origins iptables must quote, and escape, inside the comment.
	odd := noGateway()
	r := odd.Routers[ids["r1"]]
	delete(odd.Routers, r.ID)
	r.ID = `r"1\x`
	odd.Routers[r.ID] = r
	odd.Ports[ids["qr1"]].DeviceID = r.ID
	p := cloud.Realize(odd)
	if got, want := p.Namespaces[0].Iptables[5].Rules[0].Spec, `-m comment --comment "router r\"1\\x" -j neutron-l3-agent-PREROUTING`; got != want {
		t.Errorf("Realize(router %q): PREROUTING jump %s, want %s", r.ID, got, want)
	}
	checkIptables(t, "odd router id", p)
}

func checkIptables(t *testing.T, name string, p cloud.Plan) {
	t.Helper()
	for _, ns := range p.Namespaces {
		if len(ns.Iptables) == 0 {
			continue
		}
		var ts nf.Tables
		run := func(line string) {
			t.Helper()
			args, err := iptables.SplitLine(line)
			if err == nil {
				var c *iptables.Command
				if c, err = iptables.ParseCommand(args); err == nil {
					_, err = iptables.Apply(&ts, c)
				}
			}
			if err != nil {
				t.Errorf("%s: %s: iptables %s: %v", name, ns.Name, line, err)
			}
		}
		for _, c := range ns.Iptables {
			if !c.Builtin {
				run("-t " + c.Table + " -N " + c.Chain)
			}
			for _, r := range c.Rules {
				run("-t " + c.Table + " -A " + c.Chain + " " + r.Spec)
			}
		}
		for _, c := range ns.Iptables {
			id, _ := nf.TableByName(c.Table)
			got, err := iptables.ListRules(ts[id], c.Chain, false)
			if err != nil {
				t.Fatalf("%s: ListRules(%s): %v", name, c.Chain, err)
			}
			want := []string{"-N " + c.Chain}
			if c.Builtin {
				want = []string{"-P " + c.Chain + " ACCEPT"}
			}
			for _, r := range c.Rules {
				want = append(want, "-A "+c.Chain+" "+r.Spec)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s: %s: iptables -t %s -S %s (-want +got):\n%s", name, ns.Name, c.Table, c.Chain, diff)
			}
		}
	}
}

// TestRealizeDisassociate checks that disassociating a floating IP takes
// exactly its rules and its qg- address away, nothing else.
func TestRealizeDisassociate(t *testing.T) {
	before, after := render(cloud.Realize(twoFixedIPs(true))), render(cloud.Realize(twoFixedIPs(false)))
	var gone []string
	for _, l := range before {
		if !slices.Contains(after, l) {
			gone = append(gone, l)
		}
	}
	want := []string{
		"  link qg-c0000001-00@qg-c0000001-00 fa:16:3e:00:02:01 [172.24.4.226/28 172.24.4.230/32 172.24.4.231/32] up",
		`  -t nat -A neutron-l3-agent-PREROUTING -d 172.24.4.230/32 -m comment --comment "floatingip {f2}" -j DNAT --to-destination 10.0.0.6`,
		`  -t nat -A neutron-l3-agent-OUTPUT -d 172.24.4.230/32 -m comment --comment "floatingip {f2}" -j DNAT --to-destination 10.0.0.6`,
		`  -t nat -A neutron-l3-agent-float-snat -s 10.0.0.6/32 -m comment --comment "floatingip {f2}" -j SNAT --to-source 172.24.4.230`,
	}
	for i := range want {
		want[i] = expandIDs.Replace(want[i])
	}
	if diff := cmp.Diff(want, gone); diff != "" {
		t.Errorf("lines gone after disassociating (-want +got):\n%s", diff)
	}
	if len(after) != len(before)-len(want)+1 { // the qg- line changed, not vanished
		t.Errorf("disassociating changed %d lines to %d, want %d", len(before), len(after), len(before)-len(want)+1)
	}
	// The router's NAT list, from which the daemon deletes the connections
	// of a floating IP that went away, loses exactly that one.
	nat := func(s *cloud.State) []string {
		var out []string
		for _, n := range cloud.Realize(s).Namespaces {
			for _, f := range n.NAT {
				out = append(out, f.FloatingIP.String()+"->"+f.FixedIP.String())
			}
		}
		return out
	}
	if diff := cmp.Diff([]string{"172.24.4.230->10.0.0.6", "172.24.4.231->10.0.0.5"}, nat(twoFixedIPs(true))); diff != "" {
		t.Errorf("NAT with both floating IPs (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"172.24.4.231->10.0.0.5"}, nat(twoFixedIPs(false))); diff != "" {
		t.Errorf("NAT after disassociating (-want +got):\n%s", diff)
	}
}

func BenchmarkRealize(b *testing.B) {
	s := seedMultiNIC()
	b.ReportAllocs()
	for b.Loop() {
		cloud.Realize(s)
	}
}

// largeState is a host with 50 tenant networks each behind its own
// router with a gateway, and 1000 single-NIC servers, each with a
// floating IP.
func largeState() *cloud.State {
	id := func(kind byte, i int) string { return fmt.Sprintf("%c%07x-0000-4000-8000-%012x", kind, i, i) }
	objs := publicSide()
	objs[1].(*cloud.Subnet).CIDR = pfx("172.24.0.0/16")
	for n := range 50 {
		net := &cloud.Network{ID: id('1', n), AdminStateUp: true, NetworkType: "vxlan", LocalVLAN: n + 1}
		sn := &cloud.Subnet{ID: id('2', n), NetworkID: net.ID, CIDR: netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(n), 0, 0}), 24),
			GatewayIP: netip.AddrFrom4([4]byte{10, byte(n), 0, 1})}
		r := &cloud.Router{ID: id('d', n), AdminStateUp: true, ExternalGatewayInfo: &cloud.GatewayInfo{NetworkID: ids["pub"], EnableSNAT: true}}
		qr := &cloud.Port{ID: id('b', n), NetworkID: net.ID, MACAddress: "fa:16:3e:00:01:01", DeviceOwner: cloud.OwnerRouterInterface,
			DeviceID: r.ID, AdminStateUp: true, FixedIPs: []cloud.FixedIP{{SubnetID: sn.ID, IPAddress: sn.GatewayIP}}}
		qg := &cloud.Port{ID: id('c', n), NetworkID: ids["pub"], MACAddress: "fa:16:3e:00:02:01", DeviceOwner: cloud.OwnerRouterGateway,
			DeviceID: r.ID, AdminStateUp: true, FixedIPs: []cloud.FixedIP{{SubnetID: ids["spub"], IPAddress: netip.AddrFrom4([4]byte{172, 24, 1, byte(n)})}}}
		objs = append(objs, net, sn, r, qr, qg)
		for v := range 20 {
			i := n*20 + v
			ip := netip.AddrFrom4([4]byte{10, byte(n), 0, byte(10 + v)})
			p := &cloud.Port{ID: id('a', i), NetworkID: net.ID, MACAddress: "fa:16:3e:00:00:01", DeviceOwner: cloud.OwnerCompute,
				DeviceID: id('e', i), AdminStateUp: true, PortSecurityEnabled: true, FixedIPs: []cloud.FixedIP{{SubnetID: sn.ID, IPAddress: ip}}}
			f := &cloud.FloatingIP{ID: id('f', i), FloatingNetworkID: ids["pub"], PortID: p.ID, FixedIPAddress: ip, RouterID: r.ID,
				FloatingIPAddress: netip.AddrFrom4([4]byte{172, 24, 2 + byte(i>>8), byte(i)})}
			objs = append(objs, p, f, &cloud.Server{ID: id('e', i), Name: "vm-" + id('e', i), Ports: []string{p.ID}})
		}
	}
	return state(objs...)
}

func BenchmarkRealizeLarge(b *testing.B) {
	s := largeState()
	if p := cloud.Realize(s); len(p.Namespaces) != 1050 || len(p.Bridges[1].Ports) != 1050 {
		b.Fatalf("Realize(large): %d namespaces, %d br-int ports, want 1050 of each", len(p.Namespaces), len(p.Bridges[1].Ports))
	}
	b.ReportAllocs()
	for b.Loop() {
		cloud.Realize(s)
	}
}
