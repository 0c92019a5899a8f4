package netstack

import (
	"strings"
	"testing"
	"time"

	"tapestry/neigh"
	"tapestry/packet"
)

func TestSetMAC(t *testing.T) {
	clk := NewVirtualClock(time.Unix(0, 0))
	h1, h2 := NewNamespace("h1", clk), NewNamespace("h2", clk)
	e1, e2, _ := AddVethPair(h1, "eth0", h2, "eth0")
	addAddr(t, h1, e1, "10.0.0.1/24")
	addAddr(t, h2, e2, "10.0.0.2/24")
	must(t, h1.SetUp(e1))
	must(t, h2.SetUp(e2))
	perm := packet.MAC{2, 0, 0, 0, 0, 5}
	must(t, h1.Neigh().Add(e1.Index(), ip("10.0.0.5"), &perm, neigh.StatePermanent, false))
	ping(t, h2, PingOptions{Dest: ip("10.0.0.1")}) // h2 learns 10.0.0.1's MAC

	// Without arp_notify, nobody is told: h2 keeps the old address.
	old, mac := e1.MAC(), packet.MAC{2, 0xaa, 0, 0, 0, 1}
	must(t, h1.SetMAC(e1, mac))
	if e1.MAC() != mac {
		t.Fatalf("SetMAC: MAC() = %s, want %s", macStr(e1.MAC()), macStr(mac))
	}
	// neigh_changeaddr flushes every entry of the device, PERMANENT too.
	if got := h1.Neigh().Entries(neigh.Filter{IfIndex: e1.Index()}); len(got) != 0 {
		t.Errorf("neighbours of eth0 after a MAC change: %d, want none", len(got))
	}
	if e, _ := h2.Neigh().Lookup(e2.Index(), ip("10.0.0.1")); e.MAC != old {
		t.Errorf("without arp_notify h2 has 10.0.0.1 at %s, want the old %s", macStr(e.MAC), macStr(old))
	}
	if got := FormatLink(e1); !strings.Contains(got, "link/ether 02:aa:00:00:00:01 brd") {
		t.Errorf("ip link show after SetMAC:\n%s", got)
	}

	// With arp_notify, a gratuitous ARP announces the new address.
	must(t, h1.SetSysctl("net.ipv4.conf.eth0.arp_notify", "1"))
	mac2 := packet.MAC{2, 0xaa, 0, 0, 0, 2}
	must(t, h1.SetMAC(e1, mac2))
	if e, _ := h2.Neigh().Lookup(e2.Index(), ip("10.0.0.1")); e.MAC != mac2 {
		t.Errorf("with arp_notify h2 has 10.0.0.1 at %s, want %s", macStr(e.MAC), macStr(mac2))
	}
	if r := ping(t, h2, PingOptions{Dest: ip("10.0.0.1")}); r.Received != 1 {
		t.Errorf("ping after the MAC change: %v", r.Lines)
	}
}

func TestSetMACRefused(t *testing.T) {
	h := NewNamespace("h", NewVirtualClock(time.Unix(0, 0)))
	e, _, _ := AddVethPair(h, "xa", h, "xb")
	lo, _ := h.Interface("lo")
	tests := []struct {
		ifc  *Interface
		mac  packet.MAC
		want string
	}{
		{e, packet.MAC{1, 0, 0x5e, 0, 0, 1}, "netstack: xa: address 01:00:5e:00:00:01: RTNETLINK answers: Cannot assign requested address"},
		{e, packet.MAC{}, "netstack: xa: address 00:00:00:00:00:00: RTNETLINK answers: Cannot assign requested address"},
		{lo, packet.MAC{2, 0, 0, 0, 0, 1}, "netstack: lo: RTNETLINK answers: Operation not supported"},
	}
	for _, tt := range tests {
		before := tt.ifc.MAC()
		err := h.SetMAC(tt.ifc, tt.mac)
		if err == nil || err.Error() != tt.want {
			t.Errorf("SetMAC(%s, %s) = %v, want %q", tt.ifc.Name(), macStr(tt.mac), err, tt.want)
		}
		if tt.ifc.MAC() != before {
			t.Errorf("SetMAC(%s, %s) changed the address although refused", tt.ifc.Name(), macStr(tt.mac))
		}
	}
}

func TestMACBits(t *testing.T) {
	for _, m := range []packet.MAC{{}, {2, 0, 0, 0, 0, 1}, {0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0xfa}} {
		if got := macFromBits(macBits(m)); got != m {
			t.Errorf("macFromBits(macBits(%s)) = %s", macStr(m), macStr(got))
		}
	}
	var ifc Interface
	ifc.mac.Store(macBits(packet.MAC{2, 1, 2, 3, 4, 5}))
	if n := testing.AllocsPerRun(100, func() { _ = ifc.MAC() }); n != 0 {
		t.Errorf("Interface.MAC allocates %v times", n)
	}
}

// TestVethSameNamespace checks ip link show of a pair whose ends share a
// namespace against what Linux 6.1 prints (captured with iproute2 6.1):
// NAME@PEER, and M-DOWN while the peer is down.
func TestVethSameNamespace(t *testing.T) {
	h := NewNamespace("h", NewVirtualClock(time.Unix(0, 0)))
	b, a, _ := AddVethPair(h, "xb", h, "xa") // the kernel registers the peer first
	tests := []struct {
		step func() error
		ifc  *Interface
		want string
	}{
		{nil, a, "3: xa@xb: <BROADCAST,MULTICAST,M-DOWN> mtu 1500 qdisc noop state DOWN mode DEFAULT group default qlen 1000"},
		{func() error { return h.SetUp(a) }, a, "3: xa@xb: <NO-CARRIER,BROADCAST,MULTICAST,UP,M-DOWN> mtu 1500 qdisc noqueue state LOWERLAYERDOWN mode DEFAULT group default qlen 1000"},
		{nil, b, "2: xb@xa: <BROADCAST,MULTICAST> mtu 1500 qdisc noop state DOWN mode DEFAULT group default qlen 1000"},
		{func() error { return h.SetUp(b) }, b, "2: xb@xa: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP mode DEFAULT group default qlen 1000"},
		{nil, a, "3: xa@xb: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP mode DEFAULT group default qlen 1000"},
	}
	for i, tt := range tests {
		if tt.step != nil {
			must(t, tt.step())
		}
		got, _, _ := strings.Cut(FormatLink(tt.ifc), "\n")
		if got != tt.want {
			t.Errorf("step %d: ip link show %s:\n got %s\nwant %s", i, tt.ifc.Name(), got, tt.want)
		}
	}
}
