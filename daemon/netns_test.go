package daemon

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"tapestry/api"
	"tapestry/netstack"
)

func ip(tb testing.TB, d *Daemon, ns string, line string) string {
	tb.Helper()
	res, err := d.IP(context.Background(), api.IPRequest{Netns: ns, Args: strings.Fields(line)})
	if err != nil {
		tb.Fatalf("ip -n %q %s: %v", ns, line, err)
	}
	return res.Output
}

func ipErr(d *Daemon, ns string, line string) error {
	_, err := d.IP(context.Background(), api.IPRequest{Netns: ns, Args: strings.Fields(line)})
	return err
}

func TestInternalPortRule(t *testing.T) {
	dir := t.TempDir()
	dev := &MemDevices{}
	d := newTestDaemon(t, dir, dev)
	vsctl(t, d, cmd("add-br", "br0"), cmd("add-port", "br0", "p0"),
		api.Command{Name: "set", Args: []string{"interface", "p0"}, Settings: []api.Setting{{Column: "type", Value: "internal"}}})
	rootWire := dev.Peer("p0")
	if rootWire == nil {
		t.Fatal("an unclaimed internal port was not opened through the devices")
	}
	ip(t, d, "", "netns add n1")
	ip(t, d, "", "link set p0 netns n1")
	if dev.Peer("p0") != rootWire {
		t.Error("a claimed internal port was opened through the devices again")
	}
	if got := ip(t, d, "n1", "link show p0"); !strings.HasPrefix(got, "2: p0: <BROADCAST,MULTICAST> mtu 1500 qdisc noop state DOWN") {
		t.Errorf("ip -n n1 link show p0 = %q", got)
	}
	// The namespace's interface has the port's MAC, as an OVS internal device.
	mac := d.portMAC(d.bridges["br0"], d.bridges["br0"].ports["p0"].conf, true)
	if ifc, _ := d.nsrt["n1"].Interface("p0"); ifc == nil || ifc.MAC() != mac {
		t.Errorf("p0's MAC in n1 is not the port's %x", mac)
	}
	if err := ipErr(d, "", "link set p0 netns n1"); err == nil || err.Error() != `Cannot find device "p0"` {
		t.Errorf("moving a claimed port from the root: err = %v", err)
	}
	ip(t, d, "n1", "addr add 192.0.2.1/24 dev p0")
	ip(t, d, "n1", "link set p0 up")

	// Moving it on: it arrives down and without addresses, as in Linux.
	ip(t, d, "", "netns add n2")
	ip(t, d, "n1", "link set p0 netns n2")
	if err := ipErr(d, "n1", "link show p0"); err == nil || err.Error() != `Device "p0" does not exist.` {
		t.Errorf("p0 still in n1: err = %v", err)
	}
	if got := ip(t, d, "n2", "addr show p0"); strings.Contains(got, "inet ") || strings.Contains(got, ",UP") {
		t.Errorf("p0 moved into n2 kept its state: %q", got)
	}
	ip(t, d, "n2", "addr add 192.0.2.2/24 dev p0")

	// A restart keeps the claim and the address.
	d.Close()
	d = newTestDaemon(t, dir, dev)
	if got := ip(t, d, "n2", "addr show p0"); !strings.Contains(got, "inet 192.0.2.2/24 scope global p0") {
		t.Errorf("after restart, ip -n n2 addr show p0 = %q", got)
	}
	if got := ip(t, d, "", "netns list"); got != "n1\nn2\n" {
		t.Errorf("after restart, ip netns list = %q", got)
	}

	// Deleting the port takes the device out of the namespace.
	vsctl(t, d, cmd("del-port", "p0"))
	if err := ipErr(d, "n2", "link show p0"); err == nil {
		t.Error("p0 still in n2 after del-port")
	}
	if d.netns["n2"].link("p0") != nil {
		t.Error("n2's desired state still has p0 after del-port")
	}

	// Deleting a namespace gives its internal port back to the root.
	vsctl(t, d, cmd("add-port", "br0", "p1"),
		api.Command{Name: "set", Args: []string{"interface", "p1"}, Settings: []api.Setting{{Column: "type", Value: "internal"}}})
	ip(t, d, "", "link set p1 netns n1")
	before := dev.Peer("p1")
	ip(t, d, "", "netns del n1")
	if dev.Peer("p1") == before || d.findPort("p1") == nil || !d.findPort("p1").attached {
		t.Error("p1 did not go back to the root as an ordinary internal port")
	}
	if err := ipErr(d, "", "netns del n1"); err == nil || err.Error() != `Cannot remove namespace file "/run/netns/n1": No such file or directory` {
		t.Errorf("deleting a missing netns: err = %v", err)
	}
}

func TestRootNamespaceRefusals(t *testing.T) {
	d := newTestDaemon(t, t.TempDir(), &MemDevices{})
	vsctl(t, d, cmd("add-br", "br0"), cmd("add-port", "br0", "tap9"))
	ip(t, d, "", "netns add n1")
	for _, tt := range []struct{ ns, line, want string }{
		{"", "link set tap9 netns n1", "tapestry ip: tap9 is not an internal port: only internal ports (type=internal) move into tapestry namespaces"},
		{"", "link set nope netns n1", `Cannot find device "nope"`},
		{"", "link set tap9 netns n9", `Invalid "netns" value "n9"`},
		{"", "addr show", `tapestry ip: the root namespace is the kernel's; use -n NETNS for a tapestry namespace (only "ip link set DEV netns NETNS" moves a bridge's internal port into one)`},
		{"", "xfrm state", `Object "xfrm" is not supported by tapestry ip.`},
		{"", "frob", `Object "frob" is unknown, try "ip help".`},
		{"n1", "link set lo mtu 0", `ip link: invalid mtu "0"`},
		{"n1", "addr add 10.0.0.1/24 dev eth9", `Cannot find device "eth9"`},
		{"n1", "route add 10.0.0.0/8 via 192.0.2.1", "Error: Nexthop has invalid gateway."},
		{"n1", "link frob", `Command "frob" is unknown, try "ip link help".`},
	} {
		if err := ipErr(d, tt.ns, tt.line); err == nil || err.Error() != tt.want {
			t.Errorf("ip -n %q %s: err = %v, want %q", tt.ns, tt.line, err, tt.want)
		}
	}
}

func TestIPObjectAbbreviations(t *testing.T) {
	for _, tt := range []struct{ word, want string }{
		{"a", "address"}, {"addr", "address"}, {"r", "route"}, {"ro", "route"}, {"ru", "rule"},
		{"n", "neigh"}, {"neigh", "neigh"}, {"neighbour", "neigh"}, {"l", "link"}, {"link", "link"},
		{"net", "netns"}, {"netns", "netns"},
	} {
		if got, err := ipObject(tt.word); err != nil || got != tt.want {
			t.Errorf("ipObject(%q) = %q, %v; want %q", tt.word, got, err, tt.want)
		}
	}
}

func TestParsePing(t *testing.T) {
	dst := func(s string) netstack.PingOptions {
		o, _ := ParsePing([]string{s})
		return o
	}
	with := func(f func(*netstack.PingOptions)) netstack.PingOptions {
		o := dst("10.0.0.2")
		f(&o)
		return o
	}
	tests := []struct {
		args    string
		want    netstack.PingOptions
		wantErr string
	}{
		{"10.0.0.2", dst("10.0.0.2"), ""},
		{"-c3 -i0.2 -W1 10.0.0.2", with(func(o *netstack.PingOptions) {
			o.Count, o.Interval, o.Timeout = 3, 200*time.Millisecond, time.Second
		}), ""},
		{"-c 1 -t 1 -I eth0 -m 0x10 -s 100 10.0.0.2", with(func(o *netstack.PingOptions) {
			o.Count, o.TTL, o.Interface, o.Mark, o.Size = 1, 1, "eth0", 16, 100
		}), ""},
		{"-I 10.0.0.6 10.0.0.2", with(func(o *netstack.PingOptions) { o.Source = netip.MustParseAddr("10.0.0.6") }), ""},
		{"-q -n 10.0.0.2", dst("10.0.0.2"), ""},
		{"", netstack.PingOptions{}, "ping: usage error: Destination address required"},
		{"-c", netstack.PingOptions{}, "ping: option requires an argument -- 'c'"},
		{"-c 0 10.0.0.2", netstack.PingOptions{}, "ping: invalid argument: '0': out of range: 1 <= value <= 2147483647"},
		{"-t 256 10.0.0.2", netstack.PingOptions{}, "ping: invalid argument: '256': out of range: 1 <= value <= 255"},
		{"-i x 10.0.0.2", netstack.PingOptions{}, "ping: bad timing interval: x"},
		{"-z 10.0.0.2", netstack.PingOptions{}, "ping: invalid option -- 'z'"},
		{"example.org", netstack.PingOptions{}, "ping: example.org: Name or service not known"},
		{"10.0.0.1 10.0.0.2", netstack.PingOptions{}, "ping: usage error: Destination address required"},
	}
	for _, tt := range tests {
		got, err := ParsePing(strings.Fields(tt.args))
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("ParsePing(%q) err = %v, want %q", tt.args, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParsePing(%q): %v", tt.args, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got, cmp.Comparer(func(a, b netstack.PingOptions) bool {
			a.OnLine, b.OnLine = nil, nil // parsing never sets the callback
			return fmt.Sprintf("%+v", a) == fmt.Sprintf("%+v", b)
		})); diff != "" {
			t.Errorf("ParsePing(%q) (-want +got):\n%s", tt.args, diff)
		}
	}
}

func FuzzParsePing(f *testing.F) {
	for _, s := range []string{"-c3 -i0.2 -W1 10.0.0.2", "-c 1 -t 1 -I eth0 -m 0x10 -s 100 10.0.0.2", "-", "-c", "1.2.3.4 -W"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		o, err := ParsePing(strings.Fields(s))
		if err == nil && (!o.Dest.Is4() || o.TTL > 255 || o.Size > 65507 || o.Interval < 0 || o.Timeout < 0) {
			t.Errorf("ParsePing(%q) accepted %+v", s, o)
		}
	})
}

func TestSysctlPersists(t *testing.T) {
	dir := t.TempDir()
	d := newTestDaemon(t, dir, &MemDevices{})
	ip(t, d, "", "netns add r")
	ctx := context.Background()
	for _, args := range [][]string{
		{"-w", "net.ipv4.ip_forward=1"},
		{"-w", "net.ipv4.conf.lo.forwarding=0"},
		{"net.ipv4.ip_default_ttl=32"},
	} {
		if _, err := d.Sysctl(ctx, "r", api.ExecRequest{Args: args}); err != nil {
			t.Fatalf("sysctl %v: %v", args, err)
		}
	}
	d.Close()
	d = newTestDaemon(t, dir, &MemDevices{})
	res, err := d.Sysctl(ctx, "r", api.ExecRequest{Args: []string{"net.ipv4.ip_forward", "net.ipv4.conf.lo.forwarding", "net/ipv4/ip_default_ttl"}})
	want := "net.ipv4.ip_forward = 1\nnet.ipv4.conf.lo.forwarding = 0\nnet.ipv4.ip_default_ttl = 32\n"
	if err != nil || res.Output != want {
		t.Errorf("after restart, sysctl = %q, %v; want %q", res.Output, err, want)
	}
	if _, err := d.Sysctl(ctx, "nope", api.ExecRequest{Args: []string{"-a"}}); api.StatusOf(err) != 404 {
		t.Errorf("sysctl in a missing netns: err = %v", err)
	}
}

// TestRenamedClaim: an internal port can appear under another name inside
// a namespace (the cloud's instances see eth0 for port tap5b1e3c2a-9f), with
// the Interface mac column as its address, across a restart and a move.
func TestRenamedClaim(t *testing.T) {
	dir := t.TempDir()
	dev := &MemDevices{}
	d := newTestDaemon(t, dir, dev)
	vsctl(t, d, cmd("add-br", "br0"), cmd("add-port", "br0", "tapabc"),
		api.Command{Name: "set", Args: []string{"interface", "tapabc"}, Settings: []api.Setting{{Column: "type", Value: "internal"}, {Column: "mac", Value: `"fa:16:3e:00:00:01"`}}})
	ip(t, d, "", "netns add vm1")
	if _, err := d.moveLink("", "tapabc", "vm1", "eth0"); err != nil {
		t.Fatal(err)
	}
	check := func(ns, when string) {
		t.Helper()
		got := ip(t, d, ns, "link show eth0")
		if !strings.Contains(got, ": eth0: ") || !strings.Contains(got, "link/ether fa:16:3e:00:00:01") {
			t.Errorf("%s: ip -n %s link show eth0 = %q", when, ns, got)
		}
		if ns2, ifname := d.claimOf("tapabc"); ns2 != ns || ifname != "eth0" {
			t.Errorf("%s: claimOf(tapabc) = %q %q, want %s eth0", when, ns2, ifname, ns)
		}
	}
	check("vm1", "claimed")
	if got := vsctlGet(t, d, "interface", "tapabc", "mac"); got != "fa:16:3e:00:00:01" {
		t.Errorf("get interface tapabc mac = %q", got)
	}
	ip(t, d, "vm1", "addr add 10.0.0.5/24 dev eth0")
	d.Close()
	d = newTestDaemon(t, dir, dev)
	check("vm1", "after restart")
	if got := ip(t, d, "vm1", "addr show eth0"); !strings.Contains(got, "inet 10.0.0.5/24") {
		t.Errorf("after restart: %q", got)
	}
	ip(t, d, "", "netns add vm2")
	ip(t, d, "vm1", "link set eth0 netns vm2")
	check("vm2", "moved")
	vsctl(t, d, cmd("del-port", "tapabc"))
	if err := ipErr(d, "vm2", "link show eth0"); err == nil {
		t.Error("eth0 still in vm2 after del-port tapabc")
	}
}
