package cloud

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRouterFloatingIPErrors(t *testing.T) {
	// helpers making a second private subnet routed by r1 and a port on it
	net2 := func(f *fix) (string, string) {
		n := must(f.st.CreateNetwork(f.env, NetworkRequest{Name: sp("net2")}))
		sn := must(f.st.CreateSubnet(f.env, SubnetRequest{NetworkID: &n.ID, CIDR: sp("10.0.0.0/24")}))
		return n.ID, sn.ID
	}
	runErrCases(t, []errCase{
		{"gw not external", nil, func(f *fix) error {
			_, err := f.st.UpdateRouter(f.env, f.r1, RouterRequest{ExternalGatewayInfo: val(GatewayRequest{NetworkID: f.priv})})
			return err
		}, 409, "RouterExternalGatewayInUseByFloatingIp", msg("Gateway cannot be updated for router %s, since a gateway to external network %s is required by one or more floating IPs.", r1, pub)},
		{"new router gw not external", nil, func(f *fix) error {
			_, err := f.st.CreateRouter(f.env, RouterRequest{ExternalGatewayInfo: val(GatewayRequest{NetworkID: f.priv})})
			return err
		}, 400, "BadRequest", msg("Bad router request: Network %s is not an external network.", priv)},
		{"clear gw with fips", nil, func(f *fix) error {
			_, err := f.st.UpdateRouter(f.env, f.r1, RouterRequest{ExternalGatewayInfo: null[GatewayRequest]()})
			return err
		}, 409, "RouterExternalGatewayInUseByFloatingIp", msg("Gateway cannot be updated for router %s, since a gateway to external network %s is required by one or more floating IPs.", r1, pub)},
		{"route not connected", nil, func(f *fix) error {
			_, err := f.st.UpdateRouter(f.env, f.r1, RouterRequest{Routes: &[]HostRoute{{prefix("192.168.0.0/16"), ip("172.16.0.1")}}})
			return err
		}, 400, "InvalidRoutes", msg("Invalid format for routes: [{'destination': '192.168.0.0/16', 'nexthop': '172.16.0.1'}], the nexthop is not connected with router.")},
		{"route via own address", nil, func(f *fix) error {
			_, err := f.st.UpdateRouter(f.env, f.r1, RouterRequest{Routes: &[]HostRoute{{prefix("192.168.0.0/16"), ip("10.0.0.1")}}})
			return err
		}, 400, "InvalidRoutes", msg("Invalid format for routes: [{'destination': '192.168.0.0/16', 'nexthop': '10.0.0.1'}], the nexthop is used by router.")},
		{"router in use", nil, func(f *fix) error { return f.st.DeleteRouter(f.r1) }, 409, "RouterInUse", msg("Router %s still has ports", r1)},
		{"router not found", nil, func(f *fix) error { return f.st.DeleteRouter("nope") }, 404, "RouterNotFound", msg("Router nope could not be found")},
		{"dup interface", nil, func(f *fix) error {
			_, err := f.st.AddRouterInterface(f.env, f.r1, RouterInterfaceRequest{SubnetID: f.privSub})
			return err
		}, 400, "BadRequest", msg("Bad router request: Router already has a port on subnet %s.", privSub)},
		{"overlapping interface", func(f *fix) { f.x, f.y = net2(f) }, func(f *fix) error {
			_, err := f.st.AddRouterInterface(f.env, f.r1, RouterInterfaceRequest{SubnetID: f.y})
			return err
		}, 400, "BadRequest", msg("Bad router request: Cidr 10.0.0.0/24 of subnet %s overlaps with cidr 10.0.0.0/24 of subnet %s.", func(f *fix) string { return f.y }, privSub)},
		{"both subnet and port", nil, func(f *fix) error {
			_, err := f.st.AddRouterInterface(f.env, f.r1, RouterInterfaceRequest{SubnetID: f.privSub, PortID: f.vm})
			return err
		}, 400, "BadRequest", msg("Bad router request: Cannot specify both subnet-id and port-id.")},
		{"neither", nil, func(f *fix) error {
			_, err := f.st.AddRouterInterface(f.env, f.r1, RouterInterfaceRequest{})
			return err
		}, 400, "BadRequest", msg("Bad router request: Either subnet_id or port_id must be specified.")},
		{"port in use", nil, func(f *fix) error {
			_, err := f.st.AddRouterInterface(f.env, f.r1, RouterInterfaceRequest{PortID: f.vm})
			return err
		}, 409, "PortInUse", msg("Unable to complete operation on port %s for network %s. Port already has an attached device vm1.", vm, priv)},
		{"no gateway subnet", func(f *fix) {
			n := must(f.st.CreateNetwork(f.env, NetworkRequest{}))
			f.x = must(f.st.CreateSubnet(f.env, SubnetRequest{NetworkID: &n.ID, CIDR: sp("10.7.0.0/24"), GatewayIP: null[string]()})).ID
		}, func(f *fix) error {
			_, err := f.st.AddRouterInterface(f.env, f.r1, RouterInterfaceRequest{SubnetID: f.x})
			return err
		}, 400, "BadRequest", msg("Bad router request: Subnet for router interface must have a gateway IP.")},
		{"remove needed by fip", nil, func(f *fix) error {
			_, err := f.st.RemoveRouterInterface(f.r1, RouterInterfaceRequest{SubnetID: f.privSub})
			return err
		}, 409, "RouterInterfaceInUseByFloatingIP", msg("Router interface for subnet %s on router %s cannot be deleted, as it is required by one or more floating IPs.", privSub, r1)},
		{"remove not there", nil, func(f *fix) error {
			_, err := f.st.RemoveRouterInterface(f.r1, RouterInterfaceRequest{SubnetID: f.pubSub})
			return err
		}, 404, "RouterInterfaceNotFoundForSubnet", msg("Router %s has no interface on subnet %s", r1, pubSub)},
		{"remove by wrong port", nil, func(f *fix) error {
			_, err := f.st.RemoveRouterInterface(f.r1, RouterInterfaceRequest{PortID: f.vm})
			return err
		}, 404, "RouterInterfaceNotFound", msg("Router %s does not have an interface with id %s", r1, vm)},
		{"fip on internal net", nil, func(f *fix) error {
			_, err := f.st.CreateFloatingIP(f.env, FloatingIPRequest{FloatingNetworkID: &f.priv})
			return err
		}, 400, "BadRequest", msg("Bad floatingip request: Network %s is not a valid external network.", priv)},
		{"fip address taken", nil, func(f *fix) error {
			_, err := f.st.CreateFloatingIP(f.env, FloatingIPRequest{FloatingNetworkID: &f.pub, FloatingIPAddress: sp("203.0.113.3")})
			return err
		}, 409, "IpAddressAlreadyAllocated", msg("IP address 203.0.113.3 already allocated in subnet %s", pubSub)},
		{"fip already associated", nil, func(f *fix) error {
			_, err := f.st.CreateFloatingIP(f.env, FloatingIPRequest{FloatingNetworkID: &f.pub, PortID: val(f.vm)})
			return err
		}, 409, "FloatingIPPortAlreadyAssociated", msg("Cannot associate floating IP 203.0.113.4 (00000000-0000-4000-8000-000000000016) with port %s using fixed IP 10.0.0.2, as that fixed IP already has a floating IP on external network %s.", vm, pub)},
		{"fip fixed ip not on port", nil, func(f *fix) error {
			_, err := f.st.UpdateFloatingIP(f.fip, FloatingIPRequest{PortID: val(f.vm), FixedIPAddress: val("10.0.0.77")})
			return err
		}, 400, "BadRequest", msg("Bad floatingip request: Port %s does not have fixed ip 10.0.0.77.", vm)},
		{"fip fixed without port", nil, func(f *fix) error {
			_, err := f.st.CreateFloatingIP(f.env, FloatingIPRequest{FloatingNetworkID: &f.pub, FixedIPAddress: val("10.0.0.2")})
			return err
		}, 400, "BadRequest", msg("Bad floatingip request: fixed_ip_address cannot be specified without a port_id.")},
		{"fip unreachable", func(f *fix) {
			n, sn := net2(f)
			f.x, f.y = must(f.st.CreatePort(f.env, PortRequest{NetworkID: &n})).ID, sn
		}, func(f *fix) error {
			_, err := f.st.UpdateFloatingIP(f.fip, FloatingIPRequest{PortID: val(f.x)})
			return err
		}, 404, "ExternalGatewayForFloatingIPNotFound", msg("External network %s is not reachable from subnet %s.  Therefore, cannot associate Port %s with a Floating IP.",
			pub, func(f *fix) string { return f.y }, func(f *fix) string { return f.x })},
		{"fip multiple ips", func(f *fix) {
			must(f.st.UpdatePort(f.vm, PortRequest{FixedIPs: &[]FixedIPRequest{{IPAddress: "10.0.0.2"}, {SubnetID: f.privSub}}}))
		}, func(f *fix) error {
			_, err := f.st.CreateFloatingIP(f.env, FloatingIPRequest{FloatingNetworkID: &f.pub, PortID: val(f.vm)})
			return err
		}, 400, "BadRequest", msg("Bad floatingip request: Port %s has multiple fixed IPv4 addresses.  Must provide a specific IPv4 address when assigning a floating IP.", vm)},
		{"fip to router port", nil, func(f *fix) error {
			_, err := f.st.UpdateFloatingIP(f.fip, FloatingIPRequest{PortID: val(f.r1If)})
			return err
		}, 400, "BadRequest", msg("Bad floatingip request: Port %s is unable to be assigned a floating IP.", r1If)},
		{"fip not found", nil, func(f *fix) error { return f.st.DeleteFloatingIP("nope") }, 404, "FloatingIPNotFound", msg("Floating IP nope could not be found")},
	})
}

func TestSecurityGroupServerErrors(t *testing.T) {
	rule := func(f *fix, r SecurityGroupRuleRequest) error {
		r.SecurityGroupID = &f.sg
		_, err := f.st.CreateSecurityGroupRule(f.env, r)
		return err
	}
	n := func(v int) *int { return &v }
	runErrCases(t, []errCase{
		{"sg in use", nil, func(f *fix) error { return f.st.DeleteSecurityGroup(f.sg) }, 409, "SecurityGroupInUse", msg("Security Group %s in use.", sgID)},
		{"sg default name", nil, func(f *fix) error {
			_, err := f.st.CreateSecurityGroup(f.env, SecurityGroupRequest{Name: sp("default")})
			return err
		}, 409, "SecurityGroupDefaultAlreadyExists", msg("Default security group already exists.")},
		{"rule direction", nil, func(f *fix) error { return rule(f, SecurityGroupRuleRequest{Direction: sp("up")}) }, 400, "HTTPBadRequest", msg("Invalid input for direction. Reason: 'up' is not in ['ingress', 'egress'].")},
		{"rule ethertype", nil, func(f *fix) error {
			return rule(f, SecurityGroupRuleRequest{Direction: sp("ingress"), Ethertype: sp("IPX")})
		}, 400, "HTTPBadRequest", msg("Invalid input for ethertype. Reason: 'IPX' is not in ['IPv4', 'IPv6'].")},
		{"rule range", nil, func(f *fix) error {
			return rule(f, SecurityGroupRuleRequest{Direction: sp("ingress"), Protocol: sp("tcp"), PortRangeMin: n(90), PortRangeMax: n(80)})
		}, 400, "SecurityGroupInvalidPortRange", msg("For TCP/UDP protocols, port_range_min must be <= port_range_max")},
		{"rule port value", nil, func(f *fix) error {
			return rule(f, SecurityGroupRuleRequest{Direction: sp("ingress"), Protocol: sp("udp"), PortRangeMin: n(0), PortRangeMax: n(80)})
		}, 400, "SecurityGroupInvalidPortValue", msg("Invalid value for port 0")},
		{"rule ports without proto", nil, func(f *fix) error {
			return rule(f, SecurityGroupRuleRequest{Direction: sp("ingress"), PortRangeMin: n(22), PortRangeMax: n(22)})
		}, 400, "SecurityGroupProtocolRequiredWithPorts", msg("Must also specify protocol if port range is given.")},
		{"rule icmp", nil, func(f *fix) error {
			return rule(f, SecurityGroupRuleRequest{Direction: sp("ingress"), Protocol: sp("icmp"), PortRangeMin: n(300)})
		}, 400, "SecurityGroupInvalidIcmpValue", msg("Invalid value for ICMP type (port_range_min) 300. It must be 0 to 255.")},
		{"rule proto", nil, func(f *fix) error {
			return rule(f, SecurityGroupRuleRequest{Direction: sp("ingress"), Protocol: sp("bogus")})
		}, 400, "SecurityGroupRuleInvalidProtocol",
			msg("Security group rule protocol bogus not supported. Only protocol values [None, 'ah', 'esp', 'gre', 'icmp', 'icmpv6', 'sctp', 'tcp', 'udp'] and their integer representation (0 to 255) are supported.")},
		{"rule prefix", nil, func(f *fix) error {
			return rule(f, SecurityGroupRuleRequest{Direction: sp("ingress"), RemoteIPPrefix: sp("10.0.0.0/33")})
		}, 400, "HTTPBadRequest", msg("Invalid input for remote_ip_prefix. Reason: '10.0.0.0/33' is not a valid IP subnet.")},
		{"rule exists", nil, func(f *fix) error { return rule(f, SecurityGroupRuleRequest{Direction: sp("egress")}) }, 409, "SecurityGroupRuleExists",
			msg("Security group rule already exists. Rule id is %s.", func(f *fix) string { return f.st.SecurityGroups[f.sg].Rules[0].ID })},
		{"rule not found", nil, func(f *fix) error { return f.st.DeleteSecurityGroupRule("nope") }, 404, "SecurityGroupRuleNotFound", msg("Security group rule nope does not exist")},
		{"server bad name", nil, func(f *fix) error {
			_, err := f.st.CreateServer(f.env, ServerRequest{Name: sp("a/b")})
			return err
		}, 400, "BadRequest", msg("Invalid server name 'a/b': tapestry uses it as the instance's namespace name, which must be 1 to 64 characters of [A-Za-z0-9_.-] and not '.' or '..'.")},
		{"server port in use", nil, func(f *fix) error {
			_, err := f.st.CreateServer(f.env, ServerRequest{Name: sp("vm9"), Networks: []ServerNetwork{{UUID: f.priv}, {Port: f.vm}}})
			return err
		}, 409, "PortInUse", msg("Unable to complete operation on port %s for network %s. Port already has an attached device vm1.", vm, priv)},
		{"server bad fixed ip", nil, func(f *fix) error {
			_, err := f.st.CreateServer(f.env, ServerRequest{Name: sp("vm9"), Networks: []ServerNetwork{{UUID: f.priv, FixedIP: "10.0.0.9"}, {UUID: f.priv, FixedIP: "10.0.0.9"}}})
			return err
		}, 409, "IpAddressAlreadyAllocated", msg("IP address 10.0.0.9 already allocated in subnet %s", privSub)},
		{"server dup name", func(f *fix) { must(f.st.CreateServer(f.env, ServerRequest{Name: sp("web")})) }, func(f *fix) error {
			_, err := f.st.CreateServer(f.env, ServerRequest{Name: sp("web"), Networks: []ServerNetwork{{UUID: f.priv}}})
			return err
		}, 409, "Conflict", msg("A server named 'web' already exists: tapestry uses the name as the instance's namespace name, so it must be unique.")},
		{"server not found", nil, func(f *fix) error { return f.st.DeleteServer("nope") }, 404, "InstanceNotFound", msg("Instance nope could not be found.")},
	})
}

func TestServerLifecycle(t *testing.T) {
	f := newFix(t)
	st := f.st
	free := must(st.CreatePort(f.env, PortRequest{NetworkID: &f.priv, Name: sp("mine")}))
	if free.Status != "DOWN" {
		t.Errorf("unbound port status = %s, want DOWN", free.Status)
	}
	sv := must(st.CreateServer(f.env, ServerRequest{Name: sp("web"), Networks: []ServerNetwork{{UUID: f.priv, FixedIP: "10.0.0.20"}, {Port: free.ID}}}))
	created := st.Ports[sv.Ports[0]]
	if created.DeviceOwner != OwnerCompute || created.DeviceID != sv.ID || created.Status != "ACTIVE" || created.FixedIPs[0].IPAddress != ip("10.0.0.20") {
		t.Errorf("created port = %+v", created)
	}
	if p := st.Ports[free.ID]; p.DeviceID != sv.ID || p.Status != "ACTIVE" {
		t.Errorf("taken port = %+v", p)
	}
	fip := must(st.CreateFloatingIP(f.env, FloatingIPRequest{FloatingNetworkID: &f.pub, PortID: val(created.ID)}))
	if err := st.DeleteServer(sv.ID); err != nil {
		t.Fatalf("DeleteServer: %v", err)
	}
	if _, ok := st.Ports[created.ID]; ok {
		t.Errorf("DeleteServer kept the port it created")
	}
	if p := st.Ports[free.ID]; p == nil || p.DeviceID != "" || p.DeviceOwner != "" || p.Status != "DOWN" {
		t.Errorf("DeleteServer: given port = %+v, want released", p)
	}
	if got := st.FloatingIPs[fip.ID]; got.PortID != "" || got.RouterID != "" || got.Status != "DOWN" || got.FixedIPAddress.IsValid() {
		t.Errorf("floating IP after server delete = %+v, want disassociated", got)
	}
}

func TestRouterGatewayAndInterfaces(t *testing.T) {
	f := newFix(t)
	st := f.st
	// disassociate, then clear the gateway: its port goes.
	must(st.UpdateFloatingIP(f.fip, FloatingIPRequest{PortID: null[string]()}))
	r := must(st.UpdateRouter(f.env, f.r1, RouterRequest{ExternalGatewayInfo: null[GatewayRequest]()}))
	if r.ExternalGatewayInfo != nil || st.Ports[f.r1GW] != nil {
		t.Errorf("gateway not cleared: %+v, port %v", r.ExternalGatewayInfo, st.Ports[f.r1GW])
	}
	r = must(st.UpdateRouter(f.env, f.r1, RouterRequest{ExternalGatewayInfo: val(GatewayRequest{NetworkID: f.pub, EnableSNAT: bp(false),
		ExternalFixedIPs: []FixedIPRequest{{IPAddress: "203.0.113.50"}}})}))
	if g := r.ExternalGatewayInfo; g.EnableSNAT || g.ExternalFixedIPs[0].IPAddress != ip("203.0.113.50") {
		t.Errorf("gateway = %+v", g)
	}
	must(st.UpdateRouter(f.env, f.r1, RouterRequest{Routes: &[]HostRoute{{prefix("192.168.0.0/16"), ip("10.0.0.9")}}}))
	if _, err := st.RemoveRouterInterface(f.r1, RouterInterfaceRequest{SubnetID: f.privSub}); err == nil || err.(*Error).Type != "RouterInterfaceInUseByRoute" {
		t.Errorf("remove interface under a route: err = %v", err)
	}
	must(st.UpdateRouter(f.env, f.r1, RouterRequest{Routes: &[]HostRoute{}}))
	info := must(st.RemoveRouterInterface(f.r1, RouterInterfaceRequest{SubnetID: f.privSub}))
	want := &RouterInterfaceInfo{ID: f.r1, NetworkID: f.priv, PortID: f.r1If, SubnetID: f.privSub, SubnetIDs: []string{f.privSub}}
	if d := cmp.Diff(want, info); d != "" {
		t.Errorf("RemoveRouterInterface (-want +got):\n%s", d)
	}
	// an unbound port becomes an interface
	p := must(st.CreatePort(f.env, PortRequest{NetworkID: &f.priv, FixedIPs: &[]FixedIPRequest{{IPAddress: "10.0.0.100"}}}))
	info = must(st.AddRouterInterface(f.env, f.r1, RouterInterfaceRequest{PortID: p.ID}))
	if info.PortID != p.ID || st.Ports[p.ID].DeviceOwner != OwnerRouterInterface || st.Ports[p.ID].DeviceID != f.r1 {
		t.Errorf("port interface: %+v, port %+v", info, st.Ports[p.ID])
	}
	must(st.RemoveRouterInterface(f.r1, RouterInterfaceRequest{PortID: p.ID}))
	if err := st.DeleteRouter(f.r1); err != nil {
		t.Fatalf("DeleteRouter: %v", err)
	}
	for _, p := range st.Ports {
		if p.DeviceID == f.r1 {
			t.Errorf("port %s of the deleted router remains", p.ID)
		}
	}
}

func TestDeletes(t *testing.T) {
	f := newFix(t)
	st := f.st
	steps := []struct {
		name string
		do   func() error
	}{
		{"delete vm port", func() error { return st.DeletePort(f.vm) }},
		{"remove interface", func() error {
			_, err := st.RemoveRouterInterface(f.r1, RouterInterfaceRequest{PortID: f.r1If})
			return err
		}},
		{"delete private subnet", func() error { return st.DeleteSubnet(f.privSub) }},
		{"delete private network", func() error { return st.DeleteNetwork(f.priv) }},
		{"delete floating ip", func() error { return st.DeleteFloatingIP(f.fip) }},
		{"delete router", func() error { return st.DeleteRouter(f.r1) }},
		{"delete public network", func() error { return st.DeleteNetwork(f.pub) }},
		{"delete default group", func() error { return st.DeleteSecurityGroup(f.sg) }},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
	}
	if d := cmp.Diff(NewState(), st, cmpAddr); d != "" {
		t.Errorf("after deleting everything (-want +got):\n%s", d)
	}
}

func TestUpdatePort(t *testing.T) {
	f := newFix(t)
	st := f.st
	sg := must(st.CreateSecurityGroup(f.env, SecurityGroupRequest{Name: sp("web")}))
	p := must(st.CreatePort(f.env, PortRequest{NetworkID: &f.priv, SecurityGroups: &[]string{sg.ID}}))
	if p.Status != "DOWN" || len(p.SecurityGroups) != 1 || p.SecurityGroups[0] != sg.ID || len(sg.Rules) != 2 {
		t.Fatalf("created port %+v, group %+v", p, sg)
	}
	p = must(st.UpdatePort(p.ID, PortRequest{DeviceID: sp("dev"), DeviceOwner: sp("compute:nova"), Name: sp("p1"),
		AllowedAddressPairs: &[]AddressPair{{IPAddress: "10.0.0.0/24"}}, SecurityGroups: &[]string{f.sg, sg.ID}}))
	if p.Status != "ACTIVE" || p.Name != "p1" || len(p.SecurityGroups) != 2 || p.AllowedAddressPairs[0].IPAddress != "10.0.0.0/24" {
		t.Errorf("updated port %+v", p)
	}
	if err := st.DeleteSecurityGroup(sg.ID); err == nil {
		t.Errorf("deleted a group in use")
	}
	p = must(st.UpdatePort(p.ID, PortRequest{SecurityGroups: &[]string{}, AllowedAddressPairs: &[]AddressPair{}, PortSecurityEnabled: bp(false)}))
	if p.PortSecurityEnabled || len(p.SecurityGroups) != 0 {
		t.Errorf("port security off: %+v", p)
	}
	if err := st.DeleteSecurityGroup(sg.ID); err != nil {
		t.Errorf("DeleteSecurityGroup after release: %v", err)
	}
	// a vlan network on physnet1 and one that clashes with it
	seven := 7
	n := must(st.CreateNetwork(f.env, NetworkRequest{NetworkType: sp("vlan"), SegmentationID: &seven}))
	if n.PhysicalNetwork != "physnet1" || n.MTU != 1500 || n.LocalVLAN != 2 {
		t.Errorf("vlan network %+v", n)
	}
	if _, err := st.CreateNetwork(f.env, NetworkRequest{NetworkType: sp("vlan"), SegmentationID: &seven}); err == nil || err.Error() != "Unable to create the network. The VLAN 7 on physical network physnet1 is in use." {
		t.Errorf("duplicate vlan: %v", err)
	}
}
