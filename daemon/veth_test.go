package daemon

import (
	"context"
	"fmt"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"tapestry/api"
	"tapestry/link"
	"tapestry/netstack"
)

func ipWant(t *testing.T, d *Daemon, ns, line, want string) {
	t.Helper()
	err := ipErr(d, ns, line)
	if err == nil || err.Error() != want {
		t.Errorf("ip -n %q %s: err = %v, want %q", ns, line, err, want)
	}
}

// firstLines keeps the first line of each interface of `ip link show`.
func headers(s string) []string {
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		if !strings.HasPrefix(l, " ") {
			out = append(out, l)
		}
	}
	return out
}

func TestVethPair(t *testing.T) {
	dir := t.TempDir()
	d := newTestDaemon(t, dir, &MemDevices{})
	ip(t, d, "", "netns add n1")
	ip(t, d, "", "netns add n2")
	ip(t, d, "n1", "link add xa type veth peer name xb")
	ip(t, d, "n1", "link add xc type veth")
	ip(t, d, "n1", "link add type veth")
	ip(t, d, "n1", "link add xe type veth peer xf netns n2")
	want := []string{
		"1: lo: <LOOPBACK> mtu 65536 qdisc noop state DOWN mode DEFAULT group default qlen 1000",
		"2: xb@xa: <BROADCAST,MULTICAST,M-DOWN> mtu 1500 qdisc noop state DOWN mode DEFAULT group default qlen 1000",
		"3: xa@xb: <BROADCAST,MULTICAST,M-DOWN> mtu 1500 qdisc noop state DOWN mode DEFAULT group default qlen 1000",
		"4: veth0@xc: <BROADCAST,MULTICAST,M-DOWN> mtu 1500 qdisc noop state DOWN mode DEFAULT group default qlen 1000",
		"5: xc@veth0: <BROADCAST,MULTICAST,M-DOWN> mtu 1500 qdisc noop state DOWN mode DEFAULT group default qlen 1000",
		"6: veth1@veth2: <BROADCAST,MULTICAST,M-DOWN> mtu 1500 qdisc noop state DOWN mode DEFAULT group default qlen 1000",
		"7: veth2@veth1: <BROADCAST,MULTICAST,M-DOWN> mtu 1500 qdisc noop state DOWN mode DEFAULT group default qlen 1000",
		"8: xe@if2: <BROADCAST,MULTICAST> mtu 1500 qdisc noop state DOWN mode DEFAULT group default qlen 1000",
	}
	if d := cmp.Diff(want, headers(ip(t, d, "n1", "link show"))); d != "" {
		t.Errorf("ip -n n1 link show (-want +got):\n%s", d)
	}
	if got := ip(t, d, "n2", "link show xf"); !strings.Contains(got, "2: xf@if8: ") || !strings.HasSuffix(got, " brd ff:ff:ff:ff:ff:ff link-netns n1\n") {
		t.Errorf("ip -n n2 link show xf = %q", got)
	}
	ipWant(t, d, "n1", "link add xa type veth peer name xz", "RTNETLINK answers: File exists")
	ipWant(t, d, "n1", "link add xz type veth peer name xe", "RTNETLINK answers: File exists")
	ipWant(t, d, "n1", "link add xz type veth peer name xy netns nope", `Error: argument "nope" is wrong: Invalid "netns" value`)
	ipWant(t, d, "n1", "link add xz type bridge", "Error: Unknown device type.")
	ipWant(t, d, "n1", "link del zz", `Cannot find device "zz"`)
	ipWant(t, d, "n1", "link del lo", "RTNETLINK answers: Operation not supported")
	ipWant(t, d, "", "link add xz type veth", `tapestry ip: the root namespace is the kernel's; use -n NETNS for a tapestry namespace (only "ip link set DEV netns NETNS" moves a bridge's internal port into one)`)

	// Traffic crosses the pair between the namespaces.
	ip(t, d, "n1", "addr add 10.9.0.1/24 dev xe")
	ip(t, d, "n1", "link set xe up")
	ip(t, d, "n2", "addr add 10.9.0.2/24 dev xf")
	ip(t, d, "n2", "link set xf up")
	if code := pingCode(t, d, "n1", "-c 1 10.9.0.2"); code != 0 {
		t.Errorf("ping across the veth: exit %d", code)
	}
	macs := ip(t, d, "n1", "link show")

	// A restart rebuilds every pair with the same addresses.
	d.Close()
	d = newTestDaemon(t, dir, &MemDevices{})
	if got := ip(t, d, "n1", "link show"); got != macs {
		t.Errorf("after restart ip -n n1 link show:\n%s\nwant\n%s", got, macs)
	}
	if code := pingCode(t, d, "n1", "-c 1 10.9.0.2"); code != 0 {
		t.Errorf("ping across the veth after restart: exit %d", code)
	}

	// Deleting one end deletes both; the other pairs stay.
	ip(t, d, "n1", "link del xa")
	ipWant(t, d, "n1", "link show xb", `Device "xb" does not exist.`)
	ip(t, d, "n2", "link del xf")
	ipWant(t, d, "n1", "link show xe", `Device "xe" does not exist.`)
	if got := len(headers(ip(t, d, "n1", "link show"))); got != 5 {
		t.Errorf("after two deletions n1 has %d interfaces, want 5", got)
	}
}

func pingCode(t *testing.T, d *Daemon, ns, args string) int {
	t.Helper()
	code := -1
	var lines []string
	err := d.Ping(context.Background(), ns, api.ExecRequest{Args: strings.Fields(args)}, func(l api.PingLine) {
		if l.Done {
			code = l.ExitCode
		}
		lines = append(lines, l.Line)
	})
	if err != nil {
		t.Fatalf("ping %s: %v", args, err)
	}
	if code != 0 {
		t.Logf("ping %s:\n%s", args, strings.Join(lines, "\n"))
	}
	return code
}

func TestVethMove(t *testing.T) {
	dir := t.TempDir()
	d := newTestDaemon(t, dir, &MemDevices{})
	for _, n := range []string{"n1", "n2", "n3"} {
		ip(t, d, "", "netns add "+n)
	}
	ip(t, d, "n1", "link add xa type veth peer name xb")
	mac := ip(t, d, "n1", "link show xb")
	mac = mac[strings.Index(mac, "link/ether"):]
	ip(t, d, "n1", "addr add 10.9.0.2/24 dev xb")
	ip(t, d, "n1", "link set xb up")
	ip(t, d, "n1", "link set xb netns n2")
	if got := ip(t, d, "n2", "addr show xb"); strings.Contains(got, "inet ") || strings.Contains(got, ",UP") || !strings.Contains(got, "2: xb@if3: ") {
		t.Errorf("xb moved into n2 = %q, want down, without addresses, index 2, @if3", got)
	}
	if got := ip(t, d, "n2", "link show xb"); !strings.Contains(got, strings.Replace(mac, "\n", " link-netns n1\n", 1)) {
		t.Errorf("xb lost its MAC in the move: %q, want %q", got, mac)
	}
	if got := ip(t, d, "n1", "link show xa"); !strings.HasPrefix(got, "3: xa@if2: ") || !strings.Contains(got, "link-netns n2") {
		t.Errorf("xa after its peer moved = %q", got)
	}
	// On to n3, and both ends into the same namespace again.
	ip(t, d, "n2", "link set xb netns n3")
	ip(t, d, "n1", "link set xa netns n3")
	ip(t, d, "n3", "addr add 10.9.0.1/24 dev xa")
	ip(t, d, "n3", "link set xa up")
	want := []string{
		"1: lo: <LOOPBACK> mtu 65536 qdisc noop state DOWN mode DEFAULT group default qlen 1000",
		"2: xb@xa: <BROADCAST,MULTICAST> mtu 1500 qdisc noop state DOWN mode DEFAULT group default qlen 1000",
		"3: xa@xb: <NO-CARRIER,BROADCAST,MULTICAST,UP,M-DOWN> mtu 1500 qdisc noqueue state LOWERLAYERDOWN mode DEFAULT group default qlen 1000",
	}
	if d := cmp.Diff(want, headers(ip(t, d, "n3", "link show"))); d != "" {
		t.Errorf("ip -n n3 link show (-want +got):\n%s", d)
	}
	if got := len(headers(ip(t, d, "n1", "link show"))); got != 1 {
		t.Errorf("n1 still has %d interfaces", got)
	}
	// Deleting a namespace destroys the pairs with an end in it.
	ip(t, d, "n2", "link add xc type veth peer name xd netns n3")
	ip(t, d, "", "netns del n2")
	ipWant(t, d, "n3", "link show xd", `Device "xd" does not exist.`)
	d.Close()
	d = newTestDaemon(t, dir, &MemDevices{})
	if d := cmp.Diff(want, headers(ip(t, d, "n3", "link show"))); d != "" {
		t.Errorf("after restart ip -n n3 link show (-want +got):\n%s", d)
	}
}

func TestLinkAddress(t *testing.T) {
	dir := t.TempDir()
	dev := &MemDevices{}
	d := newTestDaemon(t, dir, dev)
	vsctl(t, d, cmd("add-br", "br0"), cmd("add-port", "br0", "p0"),
		api.Command{Name: "set", Args: []string{"interface", "p0"}, Settings: []api.Setting{{Column: "type", Value: "internal"}}})
	ip(t, d, "", "netns add n1")
	ip(t, d, "", "link set p0 netns n1")
	ip(t, d, "n1", "link add xa type veth peer name xb")
	ip(t, d, "n1", "link set p0 address 02:00:00:00:0a:01")
	ip(t, d, "n1", "link set xa address 02:00:00:00:0a:02")
	ipWant(t, d, "n1", "link set xa address 01:00:00:00:00:01", "RTNETLINK answers: Cannot assign requested address")
	ipWant(t, d, "n1", "link set xa address zz", `"zz" is invalid lladdr.`)
	check := func(when string) {
		for dev, want := range map[string]string{"p0": "02:00:00:00:0a:01", "xa": "02:00:00:00:0a:02"} {
			if got := ip(t, d, "n1", "link show "+dev); !strings.Contains(got, "link/ether "+want+" ") {
				t.Errorf("%s: ip -n n1 link show %s = %q, want address %s", when, dev, got, want)
			}
		}
	}
	check("after set")
	d.Close()
	d = newTestDaemon(t, dir, dev)
	check("after restart")
	ip(t, d, "", "netns add n2")
	ip(t, d, "n1", "link set p0 netns n2")
	if got := ip(t, d, "n2", "link show p0"); !strings.Contains(got, "link/ether 02:00:00:00:0a:01 ") {
		t.Errorf("p0 moved lost its address: %q", got)
	}
}

// memTAPs are in-memory devices with TAPs: names in TAPs exist.
type memTAPs struct {
	MemDevices
	TAPs map[string]bool
}

func (m *memTAPs) OpenTAP(name string) (link.Link, error) {
	if !m.TAPs[name] {
		return nil, fmt.Errorf("no TAP %s: %w", name, fs.ErrNotExist)
	}
	return m.MemDevices.Open(name, "tap")
}

func TestTAPIntoNetns(t *testing.T) {
	dir := t.TempDir()
	dev := &memTAPs{TAPs: map[string]bool{"tap5": true}}
	d := newTestDaemon(t, dir, dev)
	ip(t, d, "", "netns add n1")
	ipWant(t, d, "", "link set tap9 netns n1", `Cannot find device "tap9"`)
	ip(t, d, "", "link set tap5 netns n1")
	ipWant(t, d, "", "link set tap5 netns n1", `Cannot find device "tap5"`)
	got := ip(t, d, "n1", "link show tap5")
	wantMAC := netstackMAC(tapMAC("tap5"))
	if !strings.HasPrefix(got, "2: tap5: <BROADCAST,MULTICAST> mtu 1500") || !strings.Contains(got, "link/ether "+wantMAC+" ") {
		t.Errorf("ip -n n1 link show tap5 = %q", got)
	}
	ip(t, d, "n1", "addr add 10.7.0.2/24 dev tap5")
	d.Close()
	d = newTestDaemon(t, dir, dev)
	if got := ip(t, d, "n1", "addr show tap5"); !strings.Contains(got, "inet 10.7.0.2/24 ") || !strings.Contains(got, wantMAC) {
		t.Errorf("after restart ip -n n1 addr show tap5 = %q", got)
	}
	ip(t, d, "", "netns add n2")
	ip(t, d, "n1", "link set tap5 netns n2")
	if got := ip(t, d, "n2", "link show tap5"); !strings.Contains(got, wantMAC) {
		t.Errorf("tap5 moved into n2 = %q", got)
	}
	ipWant(t, d, "n2", "link del tap5", "RTNETLINK answers: Operation not supported")
}

func netstackMAC(m [6]byte) string {
	const hex = "0123456789abcdef"
	var b strings.Builder
	for i, x := range m {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteByte(hex[x>>4])
		b.WriteByte(hex[x&15])
	}
	return b.String()
}

// TestPingStops runs ping without -c in a daemon on virtual time: -w
// ends it, and so does a stop request naming it, after which the
// statistics still stream on the first request.
func TestPingStops(t *testing.T) {
	clk := netstack.NewVirtualClock(time.Unix(1_700_000_000, 0))
	d, err := New(Config{StateDir: t.TempDir(), RunDir: t.TempDir(), Devices: &MemDevices{}, Logger: quietLogger(), Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ip(t, d, "", "netns add n1")
	ip(t, d, "n1", "link add xa type veth peer name xb")
	ip(t, d, "n1", "addr add 10.9.0.1/24 dev xa")
	ip(t, d, "n1", "link set xa up")
	ip(t, d, "n1", "link set xb up")
	run := func(args []string, onReply func(n int)) ([]string, int) {
		var lines []string
		code, n := -1, 0
		err := d.Ping(context.Background(), "n1", api.ExecRequest{Args: args}, func(l api.PingLine) {
			if l.Done {
				code = l.ExitCode
				return
			}
			lines = append(lines, l.Line)
			if strings.HasPrefix(l.Line, "64 bytes") && onReply != nil {
				n++
				onReply(n)
			}
		})
		if err != nil {
			t.Fatalf("ping %v: %v", args, err)
		}
		return lines[len(lines)-3:], code
	}
	rtt := "rtt min/avg/max/mdev = 0.000/0.000/0.000/0.000 ms"
	tests := []struct {
		args     string
		stopAt   int
		want     []string
		wantCode int
	}{
		{"-w 3 10.9.0.1", 0, []string{"--- 10.9.0.1 ping statistics ---", "3 packets transmitted, 3 received, 0% packet loss, time 2000ms", rtt}, 0},
		{"-c 5 -w 2 10.9.0.1", 0, []string{"--- 10.9.0.1 ping statistics ---", "2 packets transmitted, 2 received, 0% packet loss, time 1000ms", rtt}, 1},
		{"--id p1 -i 0.5 10.9.0.1", 4, []string{"--- 10.9.0.1 ping statistics ---", "4 packets transmitted, 4 received, 0% packet loss, time 1500ms", rtt}, 0},
	}
	for _, tt := range tests {
		var stop func(int)
		if tt.stopAt > 0 {
			stop = func(n int) {
				if n == tt.stopAt {
					var code = -1
					_ = d.Ping(context.Background(), "n1", api.ExecRequest{Args: []string{"--stop", "p1"}}, func(l api.PingLine) { code = l.ExitCode })
					if code != 0 {
						t.Errorf("stop request: exit %d, want 0", code)
					}
				}
			}
		}
		got, code := run(strings.Fields(tt.args), stop)
		if d := cmp.Diff(tt.want, got); d != "" || code != tt.wantCode {
			t.Errorf("ping %s: exit %d (want %d), statistics (-want +got):\n%s", tt.args, code, tt.wantCode, d)
		}
	}
	// A cancelled request stops its ping too.
	ctx, cancel := context.WithCancel(context.Background())
	done := false
	_ = d.Ping(ctx, "n1", api.ExecRequest{Args: []string{"10.9.0.1"}}, func(l api.PingLine) {
		if strings.HasPrefix(l.Line, "64 bytes") {
			cancel()
		}
		done = done || l.Done
	})
	if !done {
		t.Error("a cancelled ping did not finish with a status")
	}
}

func TestParseLinkAdd(t *testing.T) {
	tests := []struct {
		in   string
		want linkAddSpec
		err  string
	}{
		{"xa type veth peer name xb", linkAddSpec{Dev: vethEnd{Name: "xa"}, Peer: vethEnd{Name: "xb"}}, ""},
		{"name xa type veth peer xb netns n2", linkAddSpec{Dev: vethEnd{Name: "xa"}, Peer: vethEnd{Name: "xb", Netns: "n2"}}, ""},
		{"xa netns n3 mtu 9000 type veth", linkAddSpec{Dev: vethEnd{Name: "xa", Netns: "n3", MTU: 9000}}, ""},
		{"type veth", linkAddSpec{}, ""},
		{"xa", linkAddSpec{}, `Not enough information: "type" argument is required`},
		{"xa type vxlan", linkAddSpec{}, "Error: Unknown device type."},
		{"xa type veth peer name xb peer name xc", linkAddSpec{}, `Error: either "peer" is duplicate, or "peer" is a garbage.`},
		{"xa xb type veth", linkAddSpec{}, `Error: either "dev" is duplicate, or "xb" is a garbage.`},
		{"xa type", linkAddSpec{}, `Command line is not complete. Try option "help"`},
		{"xa mtu 10 type veth", linkAddSpec{}, `Error: argument "10" is wrong: Invalid "mtu" value`},
		{"abcdefghijklmnop type veth", linkAddSpec{}, `Error: argument "abcdefghijklmnop" is wrong: "name" not a valid ifname`},
		{"xa address zz type veth", linkAddSpec{}, `"zz" is invalid lladdr.`},
	}
	for _, tt := range tests {
		got, err := parseLinkAdd(strings.Fields(tt.in))
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("parseLinkAdd(%q) err = %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("parseLinkAdd(%q): %v", tt.in, err)
		} else if d := cmp.Diff(tt.want, got); d != "" {
			t.Errorf("parseLinkAdd(%q) (-want +got):\n%s", tt.in, d)
		}
	}
}

func FuzzParseLinkAdd(f *testing.F) {
	f.Add("xa type veth peer name xb netns n2")
	f.Add("type veth peer xb address 02:00:00:00:00:01 mtu 9000")
	f.Fuzz(func(t *testing.T, s string) {
		sp, err := parseLinkAdd(strings.Fields(s))
		if err != nil {
			return
		}
		for _, e := range []vethEnd{sp.Dev, sp.Peer} {
			if len(e.Name) > 15 || e.MTU != 0 && (e.MTU < 68 || e.MTU > 65535) {
				t.Fatalf("accepted %q as %+v", s, sp)
			}
		}
	})
}
