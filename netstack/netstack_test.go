package netstack

import (
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"tapestry/link"
	"tapestry/neigh"
	"tapestry/packet"
	"tapestry/route"
)

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }
func ip(s string) netip.Addr    { return netip.MustParseAddr(s) }

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func addAddr(t testing.TB, ns *Namespace, ifc *Interface, p string) {
	t.Helper()
	must(t, ns.AddAddr(ifc, Addr{Prefix: pfx(p), Scope: route.ScopeUniverse}))
	must(t, ns.SetUp(ifc))
}

func exec(t testing.TB, ns *Namespace, line string) {
	t.Helper()
	must(t, ns.routes.Update(func(tx *route.Tx) error { return route.Exec(tx, line) }))
}

// topo is hostA -- router -- hostB on two /24s.
type topo struct {
	clk        *VirtualClock
	a, r, b    *Namespace
	aEth, bEth *Interface
	r0, r1     *Interface
}

func newTopo(t testing.TB, aPrefix string) *topo {
	t.Helper()
	clk := NewVirtualClock(time.Unix(1_700_000_000, 0))
	tp := &topo{clk: clk, a: NewNamespace("a", clk), r: NewNamespace("r", clk), b: NewNamespace("b", clk)}
	var err error
	tp.aEth, tp.r0, err = AddVethPair(tp.a, "eth0", tp.r, "eth0")
	must(t, err)
	tp.bEth, tp.r1, err = AddVethPair(tp.b, "eth0", tp.r, "eth1")
	must(t, err)
	addAddr(t, tp.a, tp.aEth, aPrefix)
	addAddr(t, tp.r, tp.r0, "10.0.1.1/24")
	addAddr(t, tp.r, tp.r1, "10.0.2.1/24")
	addAddr(t, tp.b, tp.bEth, "10.0.2.2/24")
	exec(t, tp.a, "route add default via 10.0.1.1")
	exec(t, tp.b, "route add default via 10.0.2.1")
	must(t, tp.r.SetSysctl("net.ipv4.ip_forward", "1"))
	return tp
}

func ping(t *testing.T, ns *Namespace, o PingOptions) PingResult {
	t.Helper()
	r, err := Ping(ns, o)
	if err != nil {
		t.Fatalf("Ping(%v): %v", o.Dest, err)
	}
	return r
}

func TestPingOneWire(t *testing.T) {
	clk := NewVirtualClock(time.Unix(1_700_000_000, 0))
	h1, h2 := NewNamespace("h1", clk), NewNamespace("h2", clk)
	e1, e2, err := AddVethPair(h1, "eth0", h2, "eth0")
	must(t, err)
	addAddr(t, h1, e1, "10.0.0.1/24")
	addAddr(t, h2, e2, "10.0.0.2/24")
	got := ping(t, h1, PingOptions{Dest: ip("10.0.0.2"), Count: 3})
	want := []string{
		"PING 10.0.0.2 (10.0.0.2) 56(84) bytes of data.",
		"64 bytes from 10.0.0.2: icmp_seq=1 ttl=64 time=0.000 ms",
		"64 bytes from 10.0.0.2: icmp_seq=2 ttl=64 time=0.000 ms",
		"64 bytes from 10.0.0.2: icmp_seq=3 ttl=64 time=0.000 ms",
		"",
		"--- 10.0.0.2 ping statistics ---",
		"3 packets transmitted, 3 received, 0% packet loss, time 2000ms",
		"rtt min/avg/max/mdev = 0.000/0.000/0.000/0.000 ms",
	}
	if d := cmp.Diff(want, got.Lines); d != "" {
		t.Errorf("Ping lines (-want +got):\n%s", d)
	}
	e, _ := h1.Neigh().Lookup(e1.Index(), ip("10.0.0.2"))
	if want := "10.0.0.2 dev eth0 lladdr " + macStr(e2.MAC()) + " REACHABLE"; neigh.Format(e, "eth0") != want {
		t.Errorf("h1 neighbour = %q, want %q", neigh.Format(e, "eth0"), want)
	}
	e, _ = h2.Neigh().Lookup(e2.Index(), ip("10.0.0.1"))
	if e.State != neigh.StateStale && e.State != neigh.StateDelay {
		t.Errorf("h2 neighbour 10.0.0.1 = %v, want STALE or DELAY (learnt from the request)", e.State)
	}
}

func TestPingSameSubnetUnreachable(t *testing.T) {
	clk := NewVirtualClock(time.Unix(1_700_000_000, 0))
	h1, h2 := NewNamespace("h1", clk), NewNamespace("h2", clk)
	e1, e2, _ := AddVethPair(h1, "eth0", h2, "eth0")
	addAddr(t, h1, e1, "10.0.0.1/24")
	addAddr(t, h2, e2, "10.0.0.2/24")
	got := ping(t, h1, PingOptions{Dest: ip("10.0.0.99"), Count: 3})
	want := []string{
		"PING 10.0.0.99 (10.0.0.99) 56(84) bytes of data.",
		"From 10.0.0.1 icmp_seq=1 Destination Host Unreachable",
		"From 10.0.0.1 icmp_seq=2 Destination Host Unreachable",
		"From 10.0.0.1 icmp_seq=3 Destination Host Unreachable",
		"",
		"--- 10.0.0.99 ping statistics ---",
		"3 packets transmitted, 0 received, +3 errors, 100% packet loss, time 3000ms",
	}
	if d := cmp.Diff(want, got.Lines); d != "" {
		t.Errorf("Ping lines (-want +got):\n%s", d)
	}
	e, _ := h1.Neigh().Lookup(e1.Index(), ip("10.0.0.99"))
	if got := neigh.Format(e, "eth0"); got != "10.0.0.99 dev eth0  FAILED" {
		t.Errorf("neighbour = %q", got)
	}
}

func TestRouter(t *testing.T) {
	tp := newTopo(t, "10.0.1.2/24")
	exec(t, tp.r, "route add unreachable 10.9.0.0/16")
	exec(t, tp.r, "route add prohibit 10.8.0.0/16")
	exec(t, tp.r, "route add blackhole 10.7.0.0/16")
	tests := []struct {
		name  string
		o     PingOptions
		lines []string // replies and errors
		stats string
	}{
		{"across", PingOptions{Dest: ip("10.0.2.2"), Count: 2}, []string{
			"64 bytes from 10.0.2.2: icmp_seq=1 ttl=63 time=0.000 ms",
			"64 bytes from 10.0.2.2: icmp_seq=2 ttl=63 time=0.000 ms"}, "2 packets transmitted, 2 received, 0% packet loss, time 1000ms"},
		{"router", PingOptions{Dest: ip("10.0.2.1")}, []string{
			"64 bytes from 10.0.2.1: icmp_seq=1 ttl=64 time=0.000 ms"}, "1 packets transmitted, 1 received, 0% packet loss, time 0ms"},
		{"ttl 1", PingOptions{Dest: ip("10.0.2.2"), TTL: 1}, []string{
			"From 10.0.1.1 icmp_seq=1 Time to live exceeded"}, "1 packets transmitted, 0 received, +1 errors, 100% packet loss, time 0ms"},
		{"unreachable", PingOptions{Dest: ip("10.9.1.1")}, []string{
			"From 10.0.1.1 icmp_seq=1 Destination Host Unreachable"}, "1 packets transmitted, 0 received, +1 errors, 100% packet loss, time 0ms"},
		{"prohibit", PingOptions{Dest: ip("10.8.1.1")}, []string{
			"From 10.0.1.1 icmp_seq=1 Packet filtered"}, "1 packets transmitted, 0 received, +1 errors, 100% packet loss, time 0ms"},
		{"no route", PingOptions{Dest: ip("10.6.1.1")}, []string{
			"From 10.0.1.1 icmp_seq=1 Destination Net Unreachable"}, "1 packets transmitted, 0 received, +1 errors, 100% packet loss, time 0ms"},
		{"blackhole", PingOptions{Dest: ip("10.7.1.1"), Timeout: time.Second}, nil, "1 packets transmitted, 0 received, 100% packet loss, time 1000ms"},
	}
	for _, tt := range tests {
		got := ping(t, tp.a, tt.o)
		n := len(got.Lines)
		if d := cmp.Diff(tt.lines, slices.Clip(got.Lines[1:n-4+boolInt(got.Received == 0)]), cmpopts.EquateEmpty()); d != "" {
			t.Errorf("%s: ping lines (-want +got):\n%s", tt.name, d)
		}
		stats := got.Lines[n-2+boolInt(got.Received == 0)]
		if stats != tt.stats {
			t.Errorf("%s: stats %q, want %q", tt.name, stats, tt.stats)
		}
	}
	if d := tp.r.Drops(); d["ip_blackhole"] != 1 || d["ip_ttl_expired"] != 1 || d["ip_prohibit"] != 1 || d["ip_unreachable"] != 1 {
		t.Errorf("router drops = %v", d)
	}
	e, _ := tp.r.Neigh().Lookup(tp.r1.Index(), ip("10.0.2.2"))
	if e.State != neigh.StateReachable || e.MAC != tp.bEth.MAC() {
		t.Errorf("router neighbour 10.0.2.2 = %v %v, want REACHABLE %v", e.State, macStr(e.MAC), macStr(tp.bEth.MAC()))
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestForwardingOff(t *testing.T) {
	tp := newTopo(t, "10.0.1.2/24")
	must(t, tp.r.SetSysctl("net.ipv4.ip_forward", "0"))
	got := ping(t, tp.a, PingOptions{Dest: ip("10.0.2.2")})
	if got.Lines[1] != "From 10.0.1.1 icmp_seq=1 Destination Host Unreachable" {
		t.Errorf("forwarding off: %q", got.Lines[1])
	}
}

func TestRPFilterStrict(t *testing.T) {
	tp := newTopo(t, "10.0.1.2/24")
	spoofed := func() []byte {
		return packet.ICMPEcho(tp.aEth.MAC(), tp.r0.MAC(), ip("10.0.2.99"), ip("10.0.2.2"), 1, 1, nil, false)
	}
	tp.r0.Inject(spoofed())
	if n := tp.r.Drops()["ip_rpfilter"]; n != 0 {
		t.Fatalf("rp_filter 0 dropped %d", n)
	}
	for _, mode := range []string{"1", "2"} {
		must(t, tp.r.SetSysctl("net.ipv4.conf.eth0.rp_filter", mode))
		tr := &Trace{}
		tp.r0.InjectTrace(spoofed(), tr)
		wantDrop := mode == "1"
		if dropped := strings.Contains(tr.String(), "drop: ip_rpfilter"); dropped != wantDrop {
			t.Errorf("rp_filter=%s: dropped=%v, want %v; trace:\n%s", mode, dropped, wantDrop, tr)
		}
	}
	// Loose mode drops a source with no route back at all.
	tp.r0.Inject(packet.ICMPEcho(tp.aEth.MAC(), tp.r0.MAC(), ip("192.0.2.1"), ip("10.0.2.2"), 1, 1, nil, false))
	if n := tp.r.Drops()["ip_rpfilter"]; n != 2 {
		t.Errorf("ip_rpfilter drops = %d, want 2", n)
	}
}

func TestProxyARP(t *testing.T) {
	// A thinks 10.0.0.0/16 is on-link, so it ARPs for 10.0.2.2 itself.
	tp := newTopo(t, "10.0.1.2/16")
	exec(t, tp.a, "route del default")
	got := ping(t, tp.a, PingOptions{Dest: ip("10.0.2.2")})
	if got.Received != 0 {
		t.Fatalf("without proxy_arp: received %d", got.Received)
	}
	tp.a.Neigh().Flush(neigh.Filter{})
	must(t, tp.r.SetSysctl("net.ipv4.conf.eth0.proxy_arp", "1"))
	got = ping(t, tp.a, PingOptions{Dest: ip("10.0.2.2")})
	if got.Received != 1 {
		t.Fatalf("with proxy_arp: %q", got.Lines)
	}
	e, _ := tp.a.Neigh().Lookup(tp.aEth.Index(), ip("10.0.2.2"))
	if e.MAC != tp.r0.MAC() {
		t.Errorf("10.0.2.2 resolved to %s, want router %s", macStr(e.MAC), macStr(tp.r0.MAC()))
	}
}

func TestGratuitousARPOnAddrAdd(t *testing.T) {
	tp := newTopo(t, "10.0.1.2/24")
	old := packet.MAC{2, 9, 9, 9, 9, 9}
	must(t, tp.r.Neigh().Replace(tp.r0.Index(), ip("10.0.1.5"), &old, neigh.StateStale, false))
	must(t, tp.a.SetSysctl("net.ipv4.conf.eth0.arp_notify", "1"))
	must(t, tp.a.AddAddr(tp.aEth, Addr{Prefix: pfx("10.0.1.5/24")}))
	e, _ := tp.r.Neigh().Lookup(tp.r0.Index(), ip("10.0.1.5"))
	if e.MAC != tp.aEth.MAC() {
		t.Errorf("after gratuitous ARP 10.0.1.5 is-at %s, want %s", macStr(e.MAC), macStr(tp.aEth.MAC()))
	}
}

func TestARPIgnore(t *testing.T) {
	tp := newTopo(t, "10.0.1.2/24")
	req := func(target string) []byte {
		return packet.ARPRequest(tp.aEth.MAC(), ip("10.0.1.2"), ip(target))
	}
	tests := []struct {
		ignore, target string
		reply          bool
	}{
		{"0", "10.0.2.1", true}, // any local address
		{"1", "10.0.2.1", false},
		{"1", "10.0.1.1", true},
		{"8", "10.0.1.1", false},
	}
	for _, tt := range tests {
		must(t, tp.r.SetSysctl("net.ipv4.conf.all.arp_ignore", tt.ignore))
		tr := &Trace{}
		tp.r0.InjectTrace(req(tt.target), tr)
		if got := strings.Contains(tr.String(), ": reply"); got != tt.reply {
			t.Errorf("arp_ignore=%s who-has %s: reply=%v, want %v\n%s", tt.ignore, tt.target, got, tt.reply, tr)
		}
	}
}

func TestLinkDownRemovesRoutes(t *testing.T) {
	tp := newTopo(t, "10.0.1.2/24")
	must(t, tp.r.SetDown(tp.r1))
	if _, err := tp.r.Routes().Output(route.Query{Dst: ip("10.0.2.2")}); err == nil {
		t.Fatal("route to 10.0.2.2 after eth1 down")
	}
	must(t, tp.r.SetUp(tp.r1))
	res, err := tp.r.Routes().Output(route.Query{Dst: ip("10.0.2.2")})
	if err != nil || res.Dev != "eth1" {
		t.Fatalf("after up: %v %v", res, err)
	}
}

func TestUDPAndTCPLocal(t *testing.T) {
	tp := newTopo(t, "10.0.1.2/24")
	tp.b.ListenUDPEcho(7)
	ping(t, tp.a, PingOptions{Dest: ip("10.0.2.2")}) // resolve neighbours
	before := tp.b.Drops()["no_socket"]
	_, err := tp.a.Send(SendOptions{Dst: ip("10.0.2.2"), Proto: packet.ProtoUDP}, udp(1234, 9))
	must(t, err)
	_, err = tp.a.Send(SendOptions{Dst: ip("10.0.2.2"), Proto: packet.ProtoUDP}, udp(1234, 7))
	must(t, err)
	if got := tp.b.Drops()["no_socket"] - before; got != 1 {
		t.Errorf("closed-port drops at b = %d, want 1", got)
	}
	// The echo comes back to a, which has no socket: port unreachable
	// from a to b, counted at a.
	if got := tp.a.Drops()["no_socket"]; got != 1 {
		t.Errorf("no_socket at a = %d, want 1 (the echo)", got)
	}
}

func udp(src, dst uint16) []byte {
	b := make([]byte, 12)
	u := packet.UDP(b)
	u.SetSrcPort(src)
	u.SetDstPort(dst)
	u.SetLength(12)
	return b
}

func TestSysctl(t *testing.T) {
	ns := NewNamespace("s", NewVirtualClock(time.Unix(0, 0)))
	tests := []struct{ name, want string }{
		{"net.ipv4.ip_forward", "0"},
		{"net.ipv4.ip_default_ttl", "64"},
		{"net.ipv4.icmp_ratelimit", "1000"},
		{"net.ipv4.icmp_ratemask", "6168"},
		{"net.ipv4.conf.all.rp_filter", "0"},
		{"net/ipv4/conf/lo/arp_ignore", "0"},
		{"net.ipv4.neigh.default.gc_thresh3", "1024"},
		{"net.ipv4.neigh.default.base_reachable_time_ms", "30000"},
	}
	for _, tt := range tests {
		got, err := ns.Sysctl(tt.name)
		if err != nil || got != tt.want {
			t.Errorf("Sysctl(%q) = %q, %v; want %q", tt.name, got, err, tt.want)
		}
	}
	must(t, ns.SetSysctl("net.ipv4.ip_forward", "1"))
	if v, _ := ns.Sysctl("net.ipv4.conf.lo.forwarding"); v != "1" {
		t.Errorf("ip_forward=1 did not set conf.lo.forwarding: %q", v)
	}
	if _, err := ns.Sysctl("net.ipv4.bogus"); err == nil || err.Error() != "sysctl: cannot stat /proc/sys/net/ipv4/bogus: No such file or directory" {
		t.Errorf("bogus sysctl: %v", err)
	}
	if !slices.Contains(ns.SysctlNames(), "net.ipv4.conf.lo.proxy_arp") {
		t.Error("SysctlNames lacks conf.lo.proxy_arp")
	}
}

// sink is a link.Link that counts written frames and never delivers any.
type sink struct {
	n    atomic.Uint64
	done chan struct{}
}

func newSink() *sink                                         { return &sink{done: make(chan struct{})} }
func (s *sink) Name() string                                 { return "sink" }
func (s *sink) MTU() int                                     { return 1500 }
func (s *sink) Write(p [][]byte) (int, error)                { s.n.Add(uint64(len(p))); return len(p), nil }
func (s *sink) Read(_ [][]byte, _ []int, _ int) (int, error) { <-s.done; return 0, link.ErrClosed }
func (s *sink) Close() error {
	select {
	case <-s.done:
	default:
		close(s.done)
	}
	return nil
}

// benchRouter is a router between two sink links with permanent
// neighbours, and a frame to forward.
func benchRouter(tb testing.TB) (*Namespace, *Interface, *sink, []byte) {
	ns := NewNamespace("bench", NewVirtualClock(time.Unix(0, 0)))
	tb.Cleanup(ns.Close)
	in, out := newSink(), newSink()
	i0, err := ns.AddLink("eth0", in, packet.MAC{2, 0, 0, 0, 0, 1})
	must(tb, err)
	i1, err := ns.AddLink("eth1", out, packet.MAC{2, 0, 0, 0, 1, 1})
	must(tb, err)
	addAddr(tb, ns, i0, "10.0.1.1/24")
	addAddr(tb, ns, i1, "10.0.2.1/24")
	must(tb, ns.SetSysctl("net.ipv4.ip_forward", "1"))
	m := packet.MAC{2, 0, 0, 0, 2, 2}
	must(tb, ns.Neigh().Replace(i1.Index(), ip("10.0.2.2"), &m, neigh.StatePermanent, false))
	f := packet.UDPDatagram(packet.MAC{2, 0, 0, 0, 1, 2}, i0.MAC(), netip.MustParseAddrPort("10.0.1.2:1000"),
		netip.MustParseAddrPort("10.0.2.2:2000"), make([]byte, 18))
	return ns, i0, out, f
}

func TestForwardAllocs(t *testing.T) {
	ns, i0, out, tmpl := benchRouter(t)
	buf := make([]byte, len(tmpl))
	fwd := func() {
		copy(buf, tmpl)
		i0.Inject(buf)
	}
	fwd()
	if out.n.Load() != 1 {
		t.Fatalf("forwarded %d frames, want 1; drops %v", out.n.Load(), ns.Drops())
	}
	if buf[packet.EthernetMinimumSize+8] != 63 || packet.MAC(buf[:6]) != (packet.MAC{2, 0, 0, 0, 2, 2}) {
		t.Errorf("forwarded frame ttl %d dst %s", buf[22], macStr(packet.MAC(buf[:6])))
	}
	if !packet.IPv4(buf[packet.EthernetMinimumSize:]).ChecksumValid() {
		t.Error("forwarded frame has a bad IPv4 checksum")
	}
	if n := testing.AllocsPerRun(1000, fwd); n != 0 {
		t.Errorf("forwarding allocs = %v, want 0", n)
	}
}

func BenchmarkForward(b *testing.B) {
	_, i0, out, tmpl := benchRouter(b)
	buf := make([]byte, len(tmpl))
	b.ReportAllocs()
	for b.Loop() {
		copy(buf, tmpl)
		i0.Inject(buf)
	}
	if out.n.Load() == 0 {
		b.Fatal("nothing forwarded")
	}
}

// TestPingStreamsLines: OnLine sees every line ping collects, in order, as
// it is printed; a ping that cannot send streams nothing (iputils prints
// only the error).
func TestPingStreamsLines(t *testing.T) {
	clk := NewVirtualClock(time.Unix(1_700_000_000, 0))
	h1, h2 := NewNamespace("h1", clk), NewNamespace("h2", clk)
	e1, e2, err := AddVethPair(h1, "eth0", h2, "eth0")
	must(t, err)
	addAddr(t, h1, e1, "10.0.0.1/24")
	addAddr(t, h2, e2, "10.0.0.2/24")
	var streamed []string
	got := ping(t, h1, PingOptions{Dest: ip("10.0.0.2"), Count: 2, OnLine: func(l string) { streamed = append(streamed, l) }})
	if d := cmp.Diff(got.Lines, streamed); d != "" {
		t.Errorf("streamed lines differ from the result's (-result +streamed):\n%s", d)
	}
	streamed = nil
	if _, err := Ping(h1, PingOptions{Dest: ip("192.0.2.9"), Count: 1, OnLine: func(l string) { streamed = append(streamed, l) }}); err == nil {
		t.Fatalf("ping to an unroutable address succeeded")
	}
	if len(streamed) != 0 {
		t.Errorf("a ping that could not send streamed %q, want nothing", streamed)
	}
}
