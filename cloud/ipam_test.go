package cloud

import (
	"encoding/json"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDefaultPools(t *testing.T) {
	cases := []struct {
		cidr, gw string
		want     []Pool
	}{
		{"10.0.0.0/24", "10.0.0.1", []Pool{{ip("10.0.0.2"), ip("10.0.0.254")}}},
		{"10.0.0.0/24", "10.0.0.254", []Pool{{ip("10.0.0.1"), ip("10.0.0.253")}}},
		{"10.0.0.0/24", "10.0.0.100", []Pool{{ip("10.0.0.1"), ip("10.0.0.99")}, {ip("10.0.0.101"), ip("10.0.0.254")}}},
		{"10.0.0.0/24", "", []Pool{{ip("10.0.0.1"), ip("10.0.0.254")}}},
		{"10.0.0.0/30", "10.0.0.1", []Pool{{ip("10.0.0.2"), ip("10.0.0.2")}}},
		{"10.0.0.0/31", "", []Pool{{ip("10.0.0.0"), ip("10.0.0.1")}}},
		{"10.0.0.7/32", "10.0.0.7", []Pool{}},
	}
	for _, c := range cases {
		var gw netip.Addr
		if c.gw != "" {
			gw = ip(c.gw)
		}
		if got := defaultPools(prefix(c.cidr), gw); !cmp.Equal(c.want, got, cmpAddr) {
			t.Errorf("defaultPools(%s, %s) = %v, want %v", c.cidr, c.gw, got, c.want)
		}
	}
}

// TestAllocation walks a /29 (gateway .1, hosts .2-.6): addresses come
// lowest first, never the gateway, exhaustion is IpAddressGenerationFailure,
// a released address is handed out again.
func TestAllocation(t *testing.T) {
	st, env := NewState(), testEnv()
	n := must(st.CreateNetwork(env, NetworkRequest{}))
	sn := must(st.CreateSubnet(env, SubnetRequest{NetworkID: &n.ID, CIDR: sp("192.0.2.0/29")}))
	var got []string
	var ports []string
	for range 5 {
		p := must(st.CreatePort(env, PortRequest{NetworkID: &n.ID}))
		got = append(got, p.FixedIPs[0].IPAddress.String())
		ports = append(ports, p.ID)
	}
	if want := []string{"192.0.2.2", "192.0.2.3", "192.0.2.4", "192.0.2.5", "192.0.2.6"}; !slices.Equal(got, want) {
		t.Errorf("allocated %v, want %v", got, want)
	}
	before := st.Clone()
	_, err := st.CreatePort(env, PortRequest{NetworkID: &n.ID})
	if e, ok := err.(*Error); !ok || e.Type != "IpAddressGenerationFailure" || e.Message != "No more IP addresses available on network "+n.ID+"." {
		t.Errorf("exhausted pool: err = %v", err)
	}
	if d := cmp.Diff(before, st, cmpAddr); d != "" {
		t.Errorf("failed allocation changed the state:\n%s", d)
	}
	if err := st.DeletePort(ports[2]); err != nil {
		t.Fatal(err)
	}
	p := must(st.CreatePort(env, PortRequest{NetworkID: &n.ID, FixedIPs: &[]FixedIPRequest{{SubnetID: sn.ID}}}))
	if p.FixedIPs[0].IPAddress != ip("192.0.2.4") {
		t.Errorf("after release got %s, want 192.0.2.4", p.FixedIPs[0].IPAddress)
	}
	// explicit addresses outside the pool but inside the CIDR are allowed
	// (Neutron lets an admin pick them); the gateway is not.
	must(st.UpdateSubnet(sn.ID, SubnetRequest{AllocationPools: &[]Pool{{ip("192.0.2.2"), ip("192.0.2.3")}}}))
	if _, err := st.UpdatePort(ports[0], PortRequest{FixedIPs: &[]FixedIPRequest{{SubnetID: sn.ID}, {IPAddress: "192.0.2.1"}}}); err == nil {
		t.Errorf("a VM port took the gateway address")
	}
}

// TestUpdateFixedIPsKeeps: a port update keeps held addresses named again
// (by address or by subnet) and releases the others.
func TestUpdateFixedIPsKeeps(t *testing.T) {
	f := newFix(t)
	st := f.st
	p := must(st.CreatePort(f.env, PortRequest{NetworkID: &f.priv, FixedIPs: &[]FixedIPRequest{{IPAddress: "10.0.0.10"}, {IPAddress: "10.0.0.11"}}}))
	p = must(st.UpdatePort(p.ID, PortRequest{FixedIPs: &[]FixedIPRequest{{SubnetID: f.privSub}, {IPAddress: "10.0.0.12"}}}))
	got := []string{p.FixedIPs[0].IPAddress.String(), p.FixedIPs[1].IPAddress.String()}
	if want := []string{"10.0.0.10", "10.0.0.12"}; !slices.Equal(got, want) {
		t.Errorf("updated fixed IPs %v, want %v", got, want)
	}
	q := must(st.CreatePort(f.env, PortRequest{NetworkID: &f.priv, FixedIPs: &[]FixedIPRequest{{IPAddress: "10.0.0.11"}}}))
	if q.FixedIPs[0].IPAddress != ip("10.0.0.11") {
		t.Errorf("released address not reusable: %v", q.FixedIPs)
	}
}

// TestAllocatorOracle compares random allocations with an obvious model:
// the set of addresses held equals the ports' addresses, all distinct,
// all in pools, none the gateway.
func TestAllocatorOracle(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	st, env := NewState(), testEnv()
	n := must(st.CreateNetwork(env, NetworkRequest{}))
	sn := must(st.CreateSubnet(env, SubnetRequest{NetworkID: &n.ID, CIDR: sp("10.9.0.0/27"), AllocationPools: &[]Pool{{ip("10.9.0.5"), ip("10.9.0.9")}, {ip("10.9.0.20"), ip("10.9.0.25")}}}))
	var live []string
	for range 300 {
		if len(live) > 0 && rng.IntN(3) == 0 {
			i := rng.IntN(len(live))
			if err := st.DeletePort(live[i]); err != nil {
				t.Fatal(err)
			}
			live = slices.Delete(live, i, i+1)
			continue
		}
		p, err := st.CreatePort(env, PortRequest{NetworkID: &n.ID})
		if len(live) == 11 {
			if err == nil {
				t.Fatalf("allocated a 12th address from 11: %v", p.FixedIPs)
			}
			continue
		}
		if err != nil {
			t.Fatalf("allocation with %d of 11 used: %v", len(live), err)
		}
		live = append(live, p.ID)
		seen := map[netip.Addr]bool{}
		for _, id := range live {
			a := st.Ports[id].FixedIPs[0].IPAddress
			if seen[a] || a == sn.GatewayIP || !(inPool(sn.AllocationPools[0], a) || inPool(sn.AllocationPools[1], a)) {
				t.Fatalf("bad allocation %s (duplicate %v)", a, seen[a])
			}
			seen[a] = true
		}
	}
}

func TestCloneIndependent(t *testing.T) {
	f := newFix(t)
	orig := f.st
	lo, hi := 80, 90
	r := must(orig.CreateSecurityGroupRule(f.env, SecurityGroupRuleRequest{SecurityGroupID: &f.sg, Direction: sp("ingress"), Protocol: sp("tcp"), PortRangeMin: &lo, PortRangeMax: &hi}))
	snap := must(json.Marshal(orig))
	lo = 1 // the stored rule must not share the request's pointers
	c := orig.Clone()
	if d := cmp.Diff(orig, c, cmpAddr); d != "" {
		t.Fatalf("Clone differs (-orig +clone):\n%s", d)
	}
	// mutate every kind of object in the clone, through every slice, map
	// and pointer
	c.Networks[f.priv].Subnets[0] = "x"
	c.Networks[f.priv].Name = "x"
	c.Subnets[f.privSub].AllocationPools[0].Start = ip("10.0.0.99")
	c.Subnets[f.privSub].DNSNameservers = append(c.Subnets[f.privSub].DNSNameservers, ip("1.1.1.1"))
	c.Ports[f.vm].FixedIPs[0].IPAddress = ip("10.0.0.99")
	c.Ports[f.vm].SecurityGroups[0] = "x"
	c.Routers[f.r1].ExternalGatewayInfo.ExternalFixedIPs[0].SubnetID = "x"
	c.Routers[f.r1].ExternalGatewayInfo.EnableSNAT = false
	c.FloatingIPs[f.fip].PortID = "x"
	*c.securityGroupRule(r.ID).PortRangeMin = 5
	*r.PortRangeMax = 7 // nor the returned copy
	c.SecurityGroups[f.sg].Rules[1].Direction = "x"
	c.Servers["s"] = &Server{}
	delete(c.Ports, f.r1If)
	if got := must(json.Marshal(orig)); string(got) != string(snap) {
		t.Errorf("mutating the clone changed the original:\n%s\nwas\n%s", got, snap)
	}
}

func TestStateJSONRoundTrip(t *testing.T) {
	f := newFix(t)
	min, max := 22, 22
	must(f.st.CreateSecurityGroupRule(f.env, SecurityGroupRuleRequest{SecurityGroupID: &f.sg, Direction: sp("ingress"), Protocol: sp("tcp"), PortRangeMin: &min, PortRangeMax: &max, RemoteIPPrefix: sp("0.0.0.0/0")}))
	must(f.st.CreateServer(f.env, ServerRequest{Name: sp("web"), Networks: []ServerNetwork{{UUID: f.priv}}, TAP: bp(true)}))
	must(f.st.CreateSubnet(f.env, SubnetRequest{NetworkID: &f.priv, CIDR: sp("10.1.0.0/24"), GatewayIP: null[string](), DNSNameservers: &[]netip.Addr{ip("9.9.9.9")},
		HostRoutes: &[]HostRoute{{prefix("10.2.0.0/16"), ip("10.1.0.254")}}}))
	must(f.st.CreateFloatingIP(f.env, FloatingIPRequest{FloatingNetworkID: &f.pub, Description: sp("spare")}))
	b := must(json.Marshal(f.st))
	var back State
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(f.st, &back, cmpAddr); d != "" {
		t.Errorf("JSON round trip (-want +got):\n%s", d)
	}
	var empty State
	if err := json.Unmarshal([]byte(`{}`), &empty); err != nil || empty.Ports == nil || empty.Servers == nil {
		t.Errorf("decoding {} = %+v, %v; want non-nil maps", empty, err)
	}
}

func TestNeutronJSON(t *testing.T) {
	cases := []struct {
		name string
		v    any
		want string
	}{
		{"fip unassociated", FloatingIP{ID: "f", FloatingNetworkID: "n", FloatingIPAddress: ip("203.0.113.9"), Status: "DOWN"},
			`{"id":"f","floating_network_id":"n","floating_ip_address":"203.0.113.9","status":"DOWN","port_id":null,"fixed_ip_address":null,"router_id":null}`},
		{"fip associated", FloatingIP{ID: "f", FloatingNetworkID: "n", FloatingIPAddress: ip("203.0.113.9"), PortID: "p", FixedIPAddress: ip("10.0.0.2"), RouterID: "r", Status: "ACTIVE"},
			`{"id":"f","floating_network_id":"n","floating_ip_address":"203.0.113.9","status":"ACTIVE","port_id":"p","fixed_ip_address":"10.0.0.2","router_id":"r"}`},
		{"subnet no gateway", Subnet{ID: "s", CIDR: prefix("10.0.0.0/24"), IPVersion: 4},
			`{"id":"s","name":"","network_id":"","ip_version":4,"cidr":"10.0.0.0/24","allocation_pools":null,"dns_nameservers":null,"host_routes":null,"enable_dhcp":false,"gateway_ip":null}`},
		{"router no gateway", Router{ID: "r"}, `{"id":"r","name":"","admin_state_up":false,"status":"","external_gateway_info":null,"routes":null}`},
		{"rule any", SecurityGroupRule{ID: "r", SecurityGroupID: "g", Direction: "egress", Ethertype: "IPv4"},
			`{"id":"r","security_group_id":"g","direction":"egress","ethertype":"IPv4","port_range_min":null,"port_range_max":null,"protocol":null,"remote_ip_prefix":null,"remote_group_id":null}`},
		{"error", &Error{Status: 404, Type: "NetworkNotFound", Message: "Network x could not be found."},
			`{"NeutronError":{"type":"NetworkNotFound","message":"Network x could not be found.","detail":""}}`},
	}
	for _, c := range cases {
		if got := string(must(json.Marshal(c.v))); got != c.want {
			t.Errorf("%s: json =\n%s\nwant\n%s", c.name, got, c.want)
		}
	}
}

func TestRandomEnv(t *testing.T) {
	env := RandomEnv()
	id, mac := env.NewID(), env.NewMAC()
	if len(id) != 36 || id[14] != '4' || !slices.Contains([]byte("89ab"), id[19]) || id[8] != '-' || id[13] != '-' || id[18] != '-' || id[23] != '-' {
		t.Errorf("NewID() = %q, want a lowercase UUID v4", id)
	}
	if len(mac) != 17 || mac[:9] != "fa:16:3e:" {
		t.Errorf("NewMAC() = %q, want fa:16:3e:xx:xx:xx", mac)
	}
	if env.NewID() == id {
		t.Errorf("NewID repeated %q", id)
	}
}
