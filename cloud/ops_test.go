package cloud

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// testEnv hands out ids 00000000-0000-4000-8000-000000000001, ... and MACs
// fa:16:3e:00:00:01, ... in order.
func testEnv() Env {
	var ids, macs int
	return Env{
		NewID:  func() string { ids++; return fmt.Sprintf("00000000-0000-4000-8000-%012d", ids) },
		NewMAC: func() string { macs++; return fmt.Sprintf("fa:16:3e:00:%02x:%02x", macs>>8, macs&0xff) },
	}
}

// cmpAddr compares netip values by ==.
var cmpAddr = cmpopts.EquateComparable(netip.Addr{}, netip.Prefix{})

func sp(s string) *string { return &s }
func bp(b bool) *bool     { return &b }
func ip(s string) netip.Addr {
	return netip.MustParseAddr(s)
}
func null[T any]() Nullable[T]   { return Nullable[T]{Set: true, Null: true} }
func val[T any](v T) Nullable[T] { return Nullable[T]{Set: true, Value: v} }

// fix is a small cloud: public (external, 203.0.113.0/24), private
// (10.0.0.0/24) routed to public by r1, a VM port vm on private with
// 10.0.0.3 and a floating IP fip on it.
type fix struct {
	st                               *State
	env                              Env
	pub, pubSub, priv, privSub, r1   string
	vm, fip, r1If, r1GW, fipPort, sg string
	x, y                             string // set by a case's setup
}

// must unwraps a setup step; setup failing is a bug in the test.
func must[T any](v T, err error) T {
	if err != nil {
		panic(fmt.Sprintf("setup: %v", err))
	}
	return v
}

func newFix(t testing.TB) *fix {
	t.Helper()
	f := &fix{st: NewState(), env: testEnv()}
	st, env := f.st, f.env
	f.pub = must(st.CreateNetwork(env, NetworkRequest{Name: sp("public"), External: bp(true)})).ID
	f.pubSub = must(st.CreateSubnet(env, SubnetRequest{NetworkID: &f.pub, CIDR: sp("203.0.113.0/24")})).ID
	f.priv = must(st.CreateNetwork(env, NetworkRequest{Name: sp("private")})).ID
	f.privSub = must(st.CreateSubnet(env, SubnetRequest{NetworkID: &f.priv, CIDR: sp("10.0.0.0/24")})).ID
	f.r1 = must(st.CreateRouter(env, RouterRequest{Name: sp("r1"), ExternalGatewayInfo: val(GatewayRequest{NetworkID: f.pub})})).ID
	f.r1If = must(st.AddRouterInterface(env, f.r1, RouterInterfaceRequest{SubnetID: f.privSub})).PortID
	vm := must(st.CreatePort(env, PortRequest{NetworkID: &f.priv, DeviceOwner: sp(OwnerCompute), DeviceID: sp("vm1")}))
	f.vm, f.sg = vm.ID, vm.SecurityGroups[0]
	f.fip = must(st.CreateFloatingIP(env, FloatingIPRequest{FloatingNetworkID: &f.pub, PortID: val(f.vm)})).ID
	for _, p := range st.Ports {
		switch {
		case p.DeviceOwner == OwnerRouterGateway:
			f.r1GW = p.ID
		case p.DeviceOwner == OwnerFloatingIP:
			f.fipPort = p.ID
		}
	}
	return f
}

func TestFixture(t *testing.T) {
	f := newFix(t)
	st := f.st
	if got := st.Networks[f.priv]; got.NetworkType != "vxlan" || got.SegmentationID != 1 || got.MTU != 1450 || got.LocalVLAN != 1 {
		t.Errorf("private network = %+v", got)
	}
	if got := st.Networks[f.pub]; got.NetworkType != "flat" || got.PhysicalNetwork != "physnet1" || got.MTU != 1500 || got.LocalVLAN != 0 {
		t.Errorf("public network = %+v", got)
	}
	want := &Subnet{ID: f.privSub, NetworkID: f.priv, IPVersion: 4, CIDR: netip.MustParsePrefix("10.0.0.0/24"), GatewayIP: ip("10.0.0.1"),
		AllocationPools: []Pool{{ip("10.0.0.2"), ip("10.0.0.254")}}, DNSNameservers: []netip.Addr{}, HostRoutes: []HostRoute{}, EnableDHCP: true}
	if d := cmp.Diff(want, st.Subnets[f.privSub], cmpAddr); d != "" {
		t.Errorf("subnet (-want +got):\n%s", d)
	}
	checks := []struct {
		name string
		got  any
		want any
	}{
		{"gateway port ip", st.Ports[f.r1GW].FixedIPs[0].IPAddress, ip("203.0.113.2")},
		{"router gw info", st.Routers[f.r1].ExternalGatewayInfo.ExternalFixedIPs[0].IPAddress, ip("203.0.113.2")},
		{"snat default", st.Routers[f.r1].ExternalGatewayInfo.EnableSNAT, true},
		{"interface ip", st.Ports[f.r1If].FixedIPs[0].IPAddress, ip("10.0.0.1")},
		{"interface status", st.Ports[f.r1If].Status, "ACTIVE"},
		{"vm ip", st.Ports[f.vm].FixedIPs[0].IPAddress, ip("10.0.0.2")},
		{"vm status", st.Ports[f.vm].Status, "ACTIVE"},
		{"vm mac", st.Ports[f.vm].MACAddress, "fa:16:3e:00:00:03"},
		{"fip address", st.FloatingIPs[f.fip].FloatingIPAddress, ip("203.0.113.3")},
		{"fip fixed", st.FloatingIPs[f.fip].FixedIPAddress, ip("10.0.0.2")},
		{"fip router", st.FloatingIPs[f.fip].RouterID, f.r1},
		{"fip status", st.FloatingIPs[f.fip].Status, "ACTIVE"},
		{"fip port owner", st.Ports[f.fipPort].DeviceID, f.fip},
		{"default sg", st.SecurityGroups[f.sg].Name, "default"},
		{"default sg rules", len(st.SecurityGroups[f.sg].Rules), 4},
		{"router if has no sg", len(st.Ports[f.r1If].SecurityGroups), 0},
	}
	for _, c := range checks {
		if !cmp.Equal(c.got, c.want, cmpAddr) {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

// errCase is one refused operation: the state must be unchanged and the
// error exactly Neutron's.
type errCase struct {
	name   string
	setup  func(f *fix) // before the state is saved for comparison
	op     func(f *fix) error
	status int
	typ    string
	msg    func(f *fix) string
}

func msg(format string, fields ...func(f *fix) string) func(f *fix) string {
	return func(f *fix) string {
		args := make([]any, len(fields))
		for i, fn := range fields {
			args[i] = fn(f)
		}
		return fmt.Sprintf(format, args...)
	}
}

var (
	pub     = func(f *fix) string { return f.pub }
	priv    = func(f *fix) string { return f.priv }
	privSub = func(f *fix) string { return f.privSub }
	pubSub  = func(f *fix) string { return f.pubSub }
	r1      = func(f *fix) string { return f.r1 }
	vm      = func(f *fix) string { return f.vm }
	r1If    = func(f *fix) string { return f.r1If }
	sgID    = func(f *fix) string { return f.sg }
)

func runErrCases(t *testing.T, cases []errCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFix(t)
			if c.setup != nil {
				c.setup(f)
			}
			before := f.st.Clone()
			err := c.op(f)
			e, ok := err.(*Error)
			if !ok {
				t.Fatalf("%s: err = %v (%T), want *Error", c.name, err, err)
			}
			if e.Status != c.status || e.Type != c.typ || e.Message != c.msg(f) {
				t.Errorf("%s:\n got %d %s %q\nwant %d %s %q", c.name, e.Status, e.Type, e.Message, c.status, c.typ, c.msg(f))
			}
			if d := cmp.Diff(before, f.st, cmpAddr); d != "" {
				t.Errorf("%s changed the state on error (-before +after):\n%s", c.name, d)
			}
		})
	}
}

func TestNetworkSubnetErrors(t *testing.T) {
	runErrCases(t, []errCase{
		{"net not found", nil, func(f *fix) error { return f.st.DeleteNetwork("nope") }, 404, "NetworkNotFound", msg("Network nope could not be found.")},
		{"net in use", nil, func(f *fix) error { return f.st.DeleteNetwork(f.priv) }, 409, "NetworkInUse", msg("Unable to complete operation on network %s. There are one or more ports still in use on the network.", priv)},
		{"flat in use", nil, func(f *fix) error {
			_, err := f.st.CreateNetwork(f.env, NetworkRequest{External: bp(true)})
			return err
		}, 409, "FlatNetworkInUse", msg("Unable to create the flat network. Physical network physnet1 is in use.")},
		{"vlan range", nil, func(f *fix) error {
			_, err := f.st.CreateNetwork(f.env, NetworkRequest{NetworkType: sp("vlan"), SegmentationID: new(int)})
			return err
		}, 400, "InvalidInput", msg("Invalid input for operation: provider:segmentation_id out of range (1 through 4094).")},
		{"vxlan vni in use", nil, func(f *fix) error {
			one := 1
			_, err := f.st.CreateNetwork(f.env, NetworkRequest{SegmentationID: &one})
			return err
		}, 409, "TunnelIdInUse", msg("Unable to create the network. The tunnel ID 1 is in use.")},
		{"bad type", nil, func(f *fix) error {
			_, err := f.st.CreateNetwork(f.env, NetworkRequest{NetworkType: sp("gre")})
			return err
		}, 400, "HTTPBadRequest", msg("Invalid input for provider:network_type. Reason: 'gre' is not in ['flat', 'vlan', 'vxlan', 'local'].")},
		{"update provider", nil, func(f *fix) error {
			_, err := f.st.UpdateNetwork(f.priv, NetworkRequest{NetworkType: sp("vlan")})
			return err
		}, 400, "InvalidInput", msg("Invalid input for operation: Plugin does not support updating provider attributes.")},
		{"cidr host bits", nil, func(f *fix) error {
			_, err := f.st.CreateSubnet(f.env, SubnetRequest{NetworkID: &f.priv, CIDR: sp("10.1.0.1/24")})
			return err
		}, 400, "InvalidInput", msg("Invalid input for operation: '10.1.0.1/24' isn't a recognized IP subnet cidr, '10.1.0.0/24' is recommended.")},
		{"cidr garbage", nil, func(f *fix) error {
			_, err := f.st.CreateSubnet(f.env, SubnetRequest{NetworkID: &f.priv, CIDR: sp("ten/8")})
			return err
		}, 400, "InvalidInput", msg("Invalid input for operation: 'ten/8' is not a valid IP subnet.")},
		{"ipv6", nil, func(f *fix) error {
			six := 6
			_, err := f.st.CreateSubnet(f.env, SubnetRequest{NetworkID: &f.priv, IPVersion: &six, CIDR: sp("fd00::/64")})
			return err
		}, 400, "InvalidInput", msg("Invalid input for operation: ip_version 6 is not supported yet: tapestry subnets are IPv4 only.")},
		{"overlap", nil, func(f *fix) error {
			_, err := f.st.CreateSubnet(f.env, SubnetRequest{NetworkID: &f.priv, CIDR: sp("10.0.0.128/25")})
			return err
		}, 400, "InvalidInput", msg("Invalid input for operation: Requested subnet with cidr: 10.0.0.128/25 for network: %s overlaps with another subnet.", priv)},
		{"subnet net missing", nil, func(f *fix) error {
			_, err := f.st.CreateSubnet(f.env, SubnetRequest{NetworkID: sp("nope"), CIDR: sp("10.9.0.0/24")})
			return err
		}, 404, "NetworkNotFound", msg("Network nope could not be found.")},
		{"pool out of cidr", nil, func(f *fix) error {
			_, err := f.st.CreateSubnet(f.env, SubnetRequest{NetworkID: &f.priv, CIDR: sp("10.1.0.0/24"), AllocationPools: &[]Pool{{ip("10.1.0.10"), ip("10.1.1.5")}}})
			return err
		}, 400, "OutOfBoundsAllocationPool", msg("The allocation pool 10.1.0.10-10.1.1.5 spans beyond the subnet cidr 10.1.0.0/24.")},
		{"pool reversed", nil, func(f *fix) error {
			_, err := f.st.CreateSubnet(f.env, SubnetRequest{NetworkID: &f.priv, CIDR: sp("10.1.0.0/24"), AllocationPools: &[]Pool{{ip("10.1.0.10"), ip("10.1.0.5")}}})
			return err
		}, 400, "InvalidAllocationPool", msg("The allocation pool 10.1.0.10-10.1.0.5 is not valid.")},
		{"pools overlap", nil, func(f *fix) error {
			_, err := f.st.CreateSubnet(f.env, SubnetRequest{NetworkID: &f.priv, CIDR: sp("10.1.0.0/24"), AllocationPools: &[]Pool{{ip("10.1.0.10"), ip("10.1.0.20")}, {ip("10.1.0.20"), ip("10.1.0.30")}}})
			return err
		}, 409, "OverlappingAllocationPools", msg("Found overlapping allocation pools: 10.1.0.10-10.1.0.20 10.1.0.20-10.1.0.30 for subnet 10.1.0.0/24.")},
		{"pool has gateway", nil, func(f *fix) error {
			_, err := f.st.CreateSubnet(f.env, SubnetRequest{NetworkID: &f.priv, CIDR: sp("10.1.0.0/24"), AllocationPools: &[]Pool{{ip("10.1.0.1"), ip("10.1.0.20")}}})
			return err
		}, 409, "GatewayConflictWithAllocationPools", msg("Gateway ip 10.1.0.1 conflicts with allocation pool 10.1.0.1-10.1.0.20.")},
		{"gateway outside", nil, func(f *fix) error {
			_, err := f.st.CreateSubnet(f.env, SubnetRequest{NetworkID: &f.priv, CIDR: sp("10.1.0.0/24"), GatewayIP: val("10.2.0.1")})
			return err
		}, 400, "InvalidInput", msg("Invalid input for operation: Gateway is not valid on subnet.")},
		{"subnet in use", nil, func(f *fix) error { return f.st.DeleteSubnet(f.privSub) }, 409, "SubnetInUse", msg("Unable to complete operation on subnet %s: One or more ports have an IP allocation from this subnet.", privSub)},
		{"subnet gw held by router", nil, func(f *fix) error {
			_, err := f.st.UpdateSubnet(f.privSub, SubnetRequest{GatewayIP: val("10.0.0.254")})
			return err
		}, 409, "SubnetInUse", msg("Unable to complete operation on subnet %s: gateway 10.0.0.1 is used by router interface %s.", privSub, r1If)},
		{"subnet update pools bad", nil, func(f *fix) error {
			_, err := f.st.UpdateSubnet(f.privSub, SubnetRequest{Name: sp("x"), AllocationPools: &[]Pool{{ip("10.0.0.0"), ip("10.0.0.9")}}})
			return err
		}, 400, "OutOfBoundsAllocationPool", msg("The allocation pool 10.0.0.0-10.0.0.9 spans beyond the subnet cidr 10.0.0.0/24.")},
	})
}

func TestPortErrors(t *testing.T) {
	runErrCases(t, []errCase{
		{"mac in use", nil, func(f *fix) error {
			_, err := f.st.CreatePort(f.env, PortRequest{NetworkID: &f.priv, MACAddress: sp("FA:16:3E:00:00:03")})
			return err
		}, 409, "MacAddressInUse", msg("Unable to complete operation for network %s. The mac address fa:16:3e:00:00:03 is in use.", priv)},
		{"bad mac", nil, func(f *fix) error {
			_, err := f.st.CreatePort(f.env, PortRequest{NetworkID: &f.priv, MACAddress: sp("01:00:5e:00:00:01")})
			return err
		}, 400, "HTTPBadRequest", msg("Invalid input for mac_address. Reason: '01:00:5e:00:00:01' is not a valid MAC address.")},
		{"ip taken", nil, func(f *fix) error {
			_, err := f.st.CreatePort(f.env, PortRequest{NetworkID: &f.priv, FixedIPs: &[]FixedIPRequest{{IPAddress: "10.0.0.2"}}})
			return err
		}, 409, "IpAddressAlreadyAllocated", msg("IP address 10.0.0.2 already allocated in subnet %s", privSub)},
		{"ip twice in one request", nil, func(f *fix) error {
			_, err := f.st.CreatePort(f.env, PortRequest{NetworkID: &f.priv, FixedIPs: &[]FixedIPRequest{{IPAddress: "10.0.0.9"}, {IPAddress: "10.0.0.9"}}})
			return err
		}, 409, "IpAddressAlreadyAllocated", msg("IP address 10.0.0.9 already allocated in subnet %s", privSub)},
		{"ip not on network", nil, func(f *fix) error {
			_, err := f.st.CreatePort(f.env, PortRequest{NetworkID: &f.priv, FixedIPs: &[]FixedIPRequest{{IPAddress: "192.168.0.5"}}})
			return err
		}, 400, "InvalidIpForNetwork", msg("IP address 192.168.0.5 is not a valid IP for any of the subnets on the specified network.")},
		{"ip not in subnet", nil, func(f *fix) error {
			_, err := f.st.CreatePort(f.env, PortRequest{NetworkID: &f.priv, FixedIPs: &[]FixedIPRequest{{SubnetID: f.privSub, IPAddress: "10.0.1.5"}}})
			return err
		}, 400, "InvalidIpForSubnet", msg("IP address 10.0.1.5 is not a valid IP for the specified subnet.")},
		{"broadcast", nil, func(f *fix) error {
			_, err := f.st.CreatePort(f.env, PortRequest{NetworkID: &f.priv, FixedIPs: &[]FixedIPRequest{{IPAddress: "10.0.0.255"}}})
			return err
		}, 400, "InvalidIpForSubnet", msg("IP address 10.0.0.255 is not a valid IP for the specified subnet.")},
		{"gateway for vm", nil, func(f *fix) error {
			_, err := f.st.CreatePort(f.env, PortRequest{NetworkID: &f.pub, FixedIPs: &[]FixedIPRequest{{IPAddress: "203.0.113.1"}}})
			return err
		}, 409, "IpAddressInUse", msg("Unable to complete operation for network %s. The IP address 203.0.113.1 is in use.", pub)},
		{"subnet of other net", nil, func(f *fix) error {
			_, err := f.st.CreatePort(f.env, PortRequest{NetworkID: &f.priv, FixedIPs: &[]FixedIPRequest{{SubnetID: f.pubSub}}})
			return err
		}, 400, "InvalidInput", msg("Invalid input for operation: Failed to create port on network %s, because fixed_ips included invalid subnet %s.", priv, pubSub)},
		{"no sg", nil, func(f *fix) error {
			_, err := f.st.CreatePort(f.env, PortRequest{NetworkID: &f.priv, SecurityGroups: &[]string{"nope"}})
			return err
		}, 404, "SecurityGroupNotFound", msg("Security group nope does not exist")},
		{"sg without port security", nil, func(f *fix) error {
			_, err := f.st.UpdatePort(f.vm, PortRequest{PortSecurityEnabled: bp(false)})
			return err
		}, 409, "PortSecurityAndIPRequiredForSecurityGroups", msg("Port security must be enabled and port must have an IP address in order to use security groups.")},
		{"delete router port", nil, func(f *fix) error { return f.st.DeletePort(f.r1If) }, 409, "L3PortInUse", msg("Port %s has owner network:router_interface and therefore cannot be deleted directly via the port API.", r1If)},
		{"delete gw port", nil, func(f *fix) error { return f.st.DeletePort(f.r1GW) }, 409, "L3PortInUse", msg("Port %s has owner network:router_gateway and therefore cannot be deleted directly via the port API.", func(f *fix) string { return f.r1GW })},
		{"delete fip port", nil, func(f *fix) error { return f.st.DeletePort(f.fipPort) }, 409, "L3PortInUse", msg("Port %s has owner network:floatingip and therefore cannot be deleted directly via the port API.", func(f *fix) string { return f.fipPort })},
		{"drop fip address", nil, func(f *fix) error {
			_, err := f.st.UpdatePort(f.vm, PortRequest{FixedIPs: &[]FixedIPRequest{{IPAddress: "10.0.0.50"}}})
			return err
		}, 400, "BadRequest", msg("Bad port request: Cannot update the fixed_ips of the port %s, because its original fixed_ip has been associated to a floating ip.", vm)},
	})
}

func prefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }
