package cloud

import (
	"cmp"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"tapestry/iptables"
)

// Realize turns a State into the Plan one Neutron host would run, as the
// OVS agent (neutron-openvswitch-agent) and the legacy L3 agent
// (neutron-l3-agent, external_network_bridge style) would build it:
//
//   - br-int (fail_mode secure): one port per instance NIC (tap<id>,
//     internal for a userspace server, a kernel TAP for a TAP server) and
//     per router interface (qr-<id>), each tagged with its network's local
//     VLAN and carrying the OVS agent's external_ids. Flows are the
//     agent's tables, compacted: table 0 classifies (ARP to 24, the rest of
//     a port-security port to 25, everything else to 60), table 24 is ARP
//     anti-spoofing (arp_spa of the fixed IPs and allowed address pairs),
//     table 25 is MAC anti-spoofing (dl_src), table 60 is NORMAL.
//   - br-ex (fail_mode standalone): each router's gateway port (qg-<id>),
//     tagged with the external network's VLAN when it is a vlan network;
//     one NORMAL flow.
//   - qrouter-<router id> namespaces, as the L3 agent makes them: qr-
//     interfaces with the router's subnet addresses, the qg- interface
//     with the gateway address and every floating IP as /32, ip_forward
//     and arp_notify, the default route to the external subnet's gateway,
//     the router's static routes, and the agent's nat chains
//     (neutron-l3-agent-PREROUTING/OUTPUT DNAT, float-snat SNAT, snat for
//     the gateway address).
//   - one namespace per userspace server (named after it): eth<i> per NIC
//     with the fixed IPs, the default route and the subnets' host routes,
//     what DHCP would have configured in the guest.
//
// An admin-down port, or any port of an admin-down network, is still
// planned but is dead, as the OVS agent makes it (port_dead): tagged with
// DeadVLAN and dropped at table 0 priority 20, so no traffic enters or
// leaves it. An admin-down router keeps its namespace with its links down
// and no routes (the kernel drops routes through down links).
//
// Realize is pure and deterministic: every list is sorted (bridges, ports
// and namespaces by name; flows by table, priority descending, match) or
// follows an order the State itself gives (NIC order, route order), so the
// same State always yields the same Plan. Objects that refer to missing
// objects (a port whose server is gone, a fixed IP on an unknown subnet)
// are left out rather than guessed at.
func Realize(s *State) Plan {
	x := newRealizer(s)
	return Plan{
		Bridges:    []BridgePlan{x.brEx(), x.brInt()}, // by name: br-ex < br-int
		Namespaces: x.namespaces(),
	}
}

// DeadVLAN is the tag the OVS agent gives a port that must not forward
// (neutron DEAD_VLAN_TAG): no live port carries it, so NORMAL delivers
// nothing to it, and the table 0 drop flow stops what it sends.
const DeadVLAN = 4095

// The L3 agent's nat chains (neutron-l3-agent's iptables wrapper names).
const (
	chainPrerouting  = "neutron-l3-agent-PREROUTING"
	chainOutput      = "neutron-l3-agent-OUTPUT"
	chainPostrouting = "neutron-l3-agent-POSTROUTING"
	chainFloatSNAT   = "neutron-l3-agent-float-snat"
	chainSNAT        = "neutron-l3-agent-snat"
)

// The OVS agent's br-int tables (neutron/plugins/ml2/drivers/openvswitch
// constants: LOCAL_SWITCHING 0, ARP_SPOOF_TABLE 24, MAC_SPOOF_TABLE 25,
// TRANSIENT_TABLE 60).
const (
	tableLocalSwitching = 0
	tableARPSpoof       = 24
	tableMACSpoof       = 25
	tableTransient      = 60
)

// routerPorts are a router's ports, found once.
type routerPorts struct {
	ifaces []*Port // network:router_interface, by id
	gw     *Port   // network:router_gateway on the gateway network; nil: none
}

// realizer holds the State and the indexes Realize needs more than once.
type realizer struct {
	s       *State
	routers map[string]*routerPorts
	fips    map[string][]*FloatingIP // router id -> realized floating IPs, by address
}

func newRealizer(s *State) *realizer {
	x := &realizer{s: s, routers: map[string]*routerPorts{}, fips: map[string][]*FloatingIP{}}
	for _, id := range sortedIDs(s.Routers) {
		x.routers[id] = &routerPorts{}
	}
	for _, id := range sortedIDs(s.Ports) {
		p := s.Ports[id]
		rp := x.routers[p.DeviceID]
		if rp == nil {
			continue
		}
		switch p.DeviceOwner {
		case OwnerRouterInterface:
			rp.ifaces = append(rp.ifaces, p)
		case OwnerRouterGateway:
			gi := s.Routers[p.DeviceID].ExternalGatewayInfo
			if gi != nil && p.NetworkID == gi.NetworkID && rp.gw == nil {
				rp.gw = p // the first by id when the State holds several
			}
		}
	}
	for _, id := range sortedIDs(s.FloatingIPs) {
		f := s.FloatingIPs[id]
		rp := x.routers[f.RouterID]
		// Only an associated floating IP whose router has a gateway on
		// the floating IP's network can be NATed there.
		if rp == nil || rp.gw == nil || f.PortID == "" || !f.FixedIPAddress.Is4() ||
			!f.FloatingIPAddress.Is4() || f.FloatingNetworkID != rp.gw.NetworkID {
			continue
		}
		x.fips[f.RouterID] = append(x.fips[f.RouterID], f)
	}
	for _, l := range x.fips {
		slices.SortStableFunc(l, func(a, b *FloatingIP) int { return a.FloatingIPAddress.Compare(b.FloatingIPAddress) })
	}
	return x
}

func origin(kind, id string) string { return kind + " " + id }

// instanceServer is the server a compute port is bound to, or nil.
func (x *realizer) instanceServer(p *Port) *Server {
	if !strings.HasPrefix(p.DeviceOwner, "compute:") {
		return nil
	}
	return x.s.Servers[p.DeviceID]
}

// dead reports whether a port must not forward: it or its network is
// administratively down (or its network is missing).
func (x *realizer) dead(p *Port) bool {
	n := x.s.Networks[p.NetworkID]
	return !p.AdminStateUp || n == nil || !n.AdminStateUp
}

// tag is a br-int port's VLAN: its network's local VLAN, DeadVLAN when dead.
func (x *realizer) tag(p *Port) int {
	if x.dead(p) {
		return DeadVLAN
	}
	return x.s.Networks[p.NetworkID].LocalVLAN
}

func ifaceIDs(p *Port) map[string]string {
	return map[string]string{"iface-id": p.ID, "attached-mac": p.MACAddress, "iface-status": "active"}
}

// brInt is the integration bridge: instance and router interface ports and
// the OVS agent's flows.
func (x *realizer) brInt() BridgePlan {
	b := BridgePlan{Name: IntegrationBridge, FailMode: "secure", Flows: baseIntFlows()}
	for _, id := range sortedIDs(x.s.Ports) {
		p := x.s.Ports[id]
		var pp PortPlan
		switch {
		case x.instanceServer(p) != nil:
			srv := x.instanceServer(p)
			pp = PortPlan{Name: DevName("tap", p.ID), Type: "internal", Tag: x.tag(p), MAC: p.MACAddress,
				ExternalIDs: ifaceIDs(p), Origin: origin("port", p.ID)}
			if srv.TAP {
				pp.Type = "tap"
			}
			pp.ExternalIDs["vm-uuid"] = srv.ID
			if !x.dead(p) && p.PortSecurityEnabled {
				b.Flows = append(b.Flows, x.antiSpoofFlows(p, pp.Name)...)
			}
		case p.DeviceOwner == OwnerRouterInterface && x.s.Routers[p.DeviceID] != nil:
			pp = PortPlan{Name: DevName("qr-", p.ID), Type: "internal", Tag: x.tag(p), MAC: p.MACAddress,
				ExternalIDs: ifaceIDs(p), Origin: origin("port", p.ID)}
		default:
			continue
		}
		if x.dead(p) {
			b.Flows = append(b.Flows, portFlow(p, tableLocalSwitching, 20, "in_port="+pp.Name, "drop"))
		}
		b.Ports = append(b.Ports, pp)
	}
	sortPorts(b.Ports)
	sortFlows(b.Flows)
	return b
}

// brEx is the external bridge: the routers' gateway ports, switched NORMAL.
func (x *realizer) brEx() BridgePlan {
	b := BridgePlan{Name: ExternalBridge, FailMode: "standalone", Flows: []FlowPlan{
		{Table: 0, Priority: 0, Cookie: AgentCookie, Actions: "NORMAL", Origin: "agent"},
	}}
	for _, id := range sortedIDs(x.s.Routers) {
		gw := x.routers[id].gw
		if gw == nil {
			continue
		}
		tag := 0
		if n := x.s.Networks[gw.NetworkID]; n != nil && n.NetworkType == "vlan" {
			tag = n.SegmentationID
		}
		b.Ports = append(b.Ports, PortPlan{Name: DevName("qg-", gw.ID), Type: "internal", Tag: tag,
			MAC: gw.MACAddress, ExternalIDs: ifaceIDs(gw), Origin: origin("port", gw.ID)})
	}
	sortPorts(b.Ports)
	return b
}

// baseIntFlows are br-int's table-miss flows: unclassified traffic goes
// straight to NORMAL, what fails anti-spoofing is dropped.
func baseIntFlows() []FlowPlan {
	base := func(table, prio int, actions string) FlowPlan {
		return FlowPlan{Table: table, Priority: prio, Cookie: AgentCookie, Actions: actions, Origin: "agent"}
	}
	return []FlowPlan{
		base(tableLocalSwitching, 0, "resubmit(,"+strconv.Itoa(tableTransient)+")"),
		base(tableARPSpoof, 0, "drop"),
		base(tableMACSpoof, 0, "drop"),
		base(tableTransient, 3, "NORMAL"),
	}
}

func portFlow(p *Port, table, prio int, match, actions string) FlowPlan {
	return FlowPlan{Table: table, Priority: prio, Cookie: CookieOf(p.ID), Match: match, Actions: actions,
		Origin: origin("port", p.ID)}
}

// antiSpoofFlows are the OVS agent's ARP and MAC spoofing protection for
// a port with port security: ARP must claim one of the port's addresses
// (fixed IPs, allowed address pairs), every frame must carry one of its
// MACs (its own, the pairs').
func (x *realizer) antiSpoofFlows(p *Port, dev string) []FlowPlan {
	in := "in_port=" + dev
	fl := []FlowPlan{
		portFlow(p, tableLocalSwitching, 10, "arp,"+in, "resubmit(,24)"),
		portFlow(p, tableLocalSwitching, 9, in, "resubmit(,25)"),
	}
	var spas, macs []string
	add := func(l []string, v string) []string {
		if v == "" || slices.Contains(l, v) {
			return l
		}
		return append(l, v)
	}
	own := canonicalMAC(p.MACAddress)
	macs = add(macs, own)
	for _, f := range p.FixedIPs {
		if f.IPAddress.Is4() {
			spas = add(spas, f.IPAddress.String())
		}
	}
	for _, ap := range p.AllowedAddressPairs {
		spas = add(spas, arpSPA(ap.IPAddress))
		if ap.MACAddress == "" {
			continue
		}
		macs = add(macs, canonicalMAC(ap.MACAddress))
	}
	for _, spa := range spas {
		fl = append(fl, portFlow(p, tableARPSpoof, 2, "arp,"+in+",arp_spa="+spa, "resubmit(,25)"))
	}
	for _, mac := range macs {
		fl = append(fl, portFlow(p, tableMACSpoof, 2, in+",dl_src="+mac, "resubmit(,60)"))
	}
	return fl
}

// arpSPA is an allowed address pair's address as an arp_spa value: a host
// address bare, a prefix masked (ovs-ofctl would mask it anyway); "" for
// what ARP cannot carry (IPv6) or what does not parse.
func arpSPA(s string) string {
	pfx, err := netip.ParsePrefix(s)
	if err != nil {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return ""
		}
		pfx = netip.PrefixFrom(a, a.BitLen())
	}
	if !pfx.Addr().Is4() {
		return ""
	}
	if pfx.IsSingleIP() {
		return pfx.Addr().String()
	}
	return pfx.Masked().String()
}

// canonicalMAC is a MAC as ovs-ofctl prints it (lower case, colons); ""
// when it is not an Ethernet MAC.
func canonicalMAC(s string) string {
	hw, err := net.ParseMAC(s)
	if err != nil || len(hw) != 6 {
		return ""
	}
	return hw.String()
}

func sortPorts(l []PortPlan) {
	slices.SortFunc(l, func(a, b PortPlan) int {
		return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.Origin, b.Origin))
	})
}

func sortFlows(l []FlowPlan) {
	slices.SortFunc(l, func(a, b FlowPlan) int {
		return cmp.Or(cmp.Compare(a.Table, b.Table), cmp.Compare(b.Priority, a.Priority),
			strings.Compare(a.Match, b.Match), strings.Compare(a.Actions, b.Actions),
			strings.Compare(a.Origin, b.Origin))
	})
}

// namespaces are the routers' and the userspace servers' namespaces.
func (x *realizer) namespaces() []NamespacePlan {
	var l []NamespacePlan
	for _, id := range sortedIDs(x.s.Routers) {
		l = append(l, x.routerNamespace(x.s.Routers[id]))
	}
	for _, id := range sortedIDs(x.s.Servers) {
		if srv := x.s.Servers[id]; !srv.TAP {
			l = append(l, x.instanceNamespace(srv))
		}
	}
	slices.SortStableFunc(l, func(a, b NamespacePlan) int {
		return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.Origin, b.Origin))
	})
	return l
}

// addrs are a port's fixed IPs, each with its subnet's prefix length.
func (x *realizer) addrs(fixed []FixedIP) []netip.Prefix {
	var l []netip.Prefix
	for _, f := range fixed {
		sn := x.s.Subnets[f.SubnetID]
		if sn == nil || !f.IPAddress.Is4() {
			continue
		}
		l = append(l, netip.PrefixFrom(f.IPAddress, sn.CIDR.Bits()))
	}
	return l
}

// routerNamespace is qrouter-<id> as the L3 agent builds it.
func (x *realizer) routerNamespace(r *Router) NamespacePlan {
	rp, fips := x.routers[r.ID], x.fips[r.ID]
	o := origin("router", r.ID)
	ns := NamespacePlan{Name: "qrouter-" + r.ID, Role: RoleRouter, Origin: o,
		Sysctls: []Sysctl{
			{Name: "net.ipv4.ip_forward", Value: "1"},
			// The L3 agent arpings each address it adds to qg-; with
			// arp_notify the namespace announces it itself.
			{Name: "net.ipv4.conf.all.arp_notify", Value: "1"},
		}}
	for _, p := range rp.ifaces {
		ns.Links = append(ns.Links, LinkPlan{Name: DevName("qr-", p.ID), Port: DevName("qr-", p.ID),
			MAC: p.MACAddress, Addrs: x.addrs(p.FixedIPs), Up: r.AdminStateUp})
	}
	qg := ""
	if rp.gw != nil {
		qg = DevName("qg-", rp.gw.ID)
		addrs := x.addrs(rp.gw.FixedIPs)
		for _, f := range fips {
			addrs = append(addrs, netip.PrefixFrom(f.FloatingIPAddress, 32))
		}
		ns.Links = append(ns.Links, LinkPlan{Name: qg, Port: qg, MAC: rp.gw.MACAddress, Addrs: addrs, Up: r.AdminStateUp})
	}
	if r.AdminStateUp {
		ns.Routes = x.routerRoutes(r, ns.Links, qg)
	}
	ns.Iptables = x.routerNAT(r, qg, fips)
	for _, f := range fips {
		ns.NAT = append(ns.NAT, NATPlan{FloatingIP: f.FloatingIPAddress, FixedIP: f.FixedIPAddress, Origin: origin("floatingip", f.ID)})
	}
	return ns
}

// routerRoutes are the default route through the external subnet's
// gateway and the router's static routes, each through the interface whose
// subnet holds its nexthop (the kernel refuses any other).
func (x *realizer) routerRoutes(r *Router, links []LinkPlan, qg string) []RoutePlan {
	o := origin("router", r.ID)
	var l []RoutePlan
	if gw := x.routers[r.ID].gw; gw != nil {
		for _, f := range gw.FixedIPs {
			if sn := x.s.Subnets[f.SubnetID]; sn != nil && sn.GatewayIP.Is4() {
				l = addRoute(l, RoutePlan{Dst: defaultRoute, Via: sn.GatewayIP, Dev: qg, Origin: o})
				break
			}
		}
	}
	for _, hr := range r.Routes {
		if dev := onLinkDev(links, hr.Nexthop); dev != "" {
			l = addRoute(l, RoutePlan{Dst: hr.Destination.Masked(), Via: hr.Nexthop, Dev: dev, Origin: o})
		}
	}
	return l
}

var defaultRoute = netip.PrefixFrom(netip.IPv4Unspecified(), 0)

// addRoute appends a route unless one to the same destination is there:
// the main table holds one route per destination (the kernel answers
// "File exists"), the first wins.
func addRoute(l []RoutePlan, r RoutePlan) []RoutePlan {
	if !r.Dst.IsValid() || !r.Dst.Addr().Is4() {
		return l
	}
	for _, e := range l {
		if e.Dst == r.Dst {
			return l
		}
	}
	return append(l, r)
}

// onLinkDev is the link with a subnet address whose prefix holds via (not
// via itself: a local address is no gateway), "" when none has.
func onLinkDev(links []LinkPlan, via netip.Addr) string {
	for _, ln := range links {
		for _, a := range ln.Addrs {
			if a.Bits() < 32 && a.Contains(via) && a.Addr() != via {
				return ln.Name
			}
		}
	}
	return ""
}

// routerNAT is the L3 agent's nat table: its chains (always, so that the
// jumps from the builtin chains are valid), the floating IPs' DNAT and
// SNAT, and the gateway's SNAT. User chains come first so that they exist
// when the builtin chains jump to them; float-snat before snat, which
// jumps to it.
func (x *realizer) routerNAT(r *Router, qg string, fips []*FloatingIP) []ChainPlan {
	o := origin("router", r.ID)
	var pre, out, post, fsnat, snat []RulePlan
	for _, f := range fips {
		fo := origin("floatingip", f.ID)
		dnat := rule(fo, fmt.Sprintf("-d %s/32", f.FloatingIPAddress), "DNAT --to-destination "+f.FixedIPAddress.String())
		pre, out = append(pre, dnat), append(out, dnat)
		fsnat = append(fsnat, rule(fo, fmt.Sprintf("-s %s/32", f.FixedIPAddress), "SNAT --to-source "+f.FloatingIPAddress.String()))
	}
	snat = append(snat, rule(o, "", chainFloatSNAT))
	if qg != "" {
		// Traffic between the router's own subnets, and replies to DNATed
		// connections, leave unNATed.
		post = append(post, rule(o, "! -o "+qg+" -m conntrack ! --ctstate DNAT", "ACCEPT"))
		gi := r.ExternalGatewayInfo
		if ip := x.gatewayIP(r); gi.EnableSNAT && ip.IsValid() {
			snat = append(snat, rule(o, "-o "+qg, "SNAT --to-source "+ip.String()))
		}
	}
	nat := func(chain string, builtin bool, rules []RulePlan) ChainPlan {
		return ChainPlan{Table: "nat", Chain: chain, Builtin: builtin, Rules: rules}
	}
	return []ChainPlan{
		nat(chainPrerouting, false, pre),
		nat(chainOutput, false, out),
		nat(chainPostrouting, false, post),
		nat(chainFloatSNAT, false, fsnat),
		nat(chainSNAT, false, snat),
		nat("PREROUTING", true, []RulePlan{rule(o, "", chainPrerouting)}),
		nat("OUTPUT", true, []RulePlan{rule(o, "", chainOutput)}),
		nat("POSTROUTING", true, []RulePlan{rule(o, "", chainPostrouting), rule(o, "", chainSNAT)}),
	}
}

// gatewayIP is the router's first IPv4 address on its gateway port.
func (x *realizer) gatewayIP(r *Router) netip.Addr {
	if gw := x.routers[r.ID].gw; gw != nil {
		for _, f := range gw.FixedIPs {
			if f.IPAddress.Is4() {
				return f.IPAddress
			}
		}
	}
	return netip.Addr{}
}

// rule is one rule as `iptables -S` prints it back: the ipt_ip matches,
// the other matches, the comment (the last match given), the target.
func rule(origin, matches, target string) RulePlan {
	spec := "-m comment --comment " + iptables.SaveString(origin) + " -j " + target
	if matches != "" {
		spec = matches + " " + spec
	}
	return RulePlan{Spec: spec, Origin: origin}
}

// instanceNamespace is a userspace server's namespace: what the guest
// would hold after DHCP on each NIC. NICs are the server's ports in order
// that exist and are bound to it, numbered eth0, eth1, ... as a guest's
// kernel numbers the NICs it finds.
func (x *realizer) instanceNamespace(srv *Server) NamespacePlan {
	ns := NamespacePlan{Name: srv.Name, Role: RoleInstance, Origin: origin("server", srv.ID)}
	var nics []*Port
	for _, id := range srv.Ports {
		p := x.s.Ports[id]
		if p == nil || x.instanceServer(p) != srv {
			continue
		}
		ns.Links = append(ns.Links, LinkPlan{Name: "eth" + strconv.Itoa(len(nics)), Port: DevName("tap", p.ID),
			MAC: p.MACAddress, Addrs: x.addrs(p.FixedIPs), Up: true})
		nics = append(nics, p)
	}
	// The default route: the first subnet, NIC by NIC, that has a gateway
	// (a guest takes the first DHCP lease's router option).
	for i, p := range nics {
		if sn := x.firstGatewaySubnet(p); sn != nil {
			if dev := onLinkDev(ns.Links[i:i+1], sn.GatewayIP); dev != "" {
				ns.Routes = addRoute(ns.Routes, RoutePlan{Dst: defaultRoute, Via: sn.GatewayIP, Dev: dev,
					Origin: origin("subnet", sn.ID)})
				break
			}
		}
	}
	for _, p := range nics {
		for _, sn := range x.subnetsOf(p) {
			for _, hr := range sn.HostRoutes {
				if dev := onLinkDev(ns.Links, hr.Nexthop); dev != "" {
					ns.Routes = addRoute(ns.Routes, RoutePlan{Dst: hr.Destination.Masked(), Via: hr.Nexthop,
						Dev: dev, Origin: origin("subnet", sn.ID)})
				}
			}
		}
	}
	return ns
}

// subnetsOf are the distinct subnets of a port's fixed IPs, in order.
func (x *realizer) subnetsOf(p *Port) []*Subnet {
	var l []*Subnet
	for _, f := range p.FixedIPs {
		if sn := x.s.Subnets[f.SubnetID]; sn != nil && !slices.Contains(l, sn) {
			l = append(l, sn)
		}
	}
	return l
}

func (x *realizer) firstGatewaySubnet(p *Port) *Subnet {
	for _, sn := range x.subnetsOf(p) {
		if sn.GatewayIP.Is4() {
			return sn
		}
	}
	return nil
}
