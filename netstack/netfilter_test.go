package netstack

import (
	"net/netip"
	"strings"
	"testing"

	"tapestry/conntrack"
	"tapestry/iptables"
	"tapestry/netfilter"
	"tapestry/packet"
)

// setRules gives ns the tables of iptables-restore input text.
func setRules(t testing.TB, ns *Namespace, text string) {
	t.Helper()
	ts, err := iptables.Restore(netfilter.Tables{}, text, iptables.RestoreOptions{})
	must(t, err)
	must(t, ns.SetNetfilter(ts))
}

// sendTCP sends a SYN from ns to dst.
func sendTCP(t *testing.T, ns *Namespace, src, dst string) {
	t.Helper()
	f := packet.TCPSegment(packet.MAC{}, packet.MAC{}, netip.MustParseAddrPort(src), netip.MustParseAddrPort(dst), packet.TCPFlagSYN, nil)
	l4 := f[packet.EthernetMinimumSize+packet.IPv4MinimumSize:]
	a := netip.MustParseAddrPort(src).Addr()
	if _, err := ns.Send(SendOptions{Src: a, Dst: netip.MustParseAddrPort(dst).Addr(), Proto: packet.ProtoTCP}, l4); err != nil {
		t.Fatalf("send %s -> %s: %v", src, dst, err)
	}
}

// TestMarkSteersPolicyRouting is the seed's scenario in one process: a
// mark set in mangle PREROUTING selects the `ip rule fwmark` table, so
// TCP to port 5222 leaves by next hop C and everything else by B.
func TestMarkSteersPolicyRouting(t *testing.T) {
	tp := newTopo(t, "10.0.1.2/24")
	c := NewNamespace("c", tp.clk)
	cEth, r2, err := AddVethPair(c, "eth0", tp.r, "eth2")
	must(t, err)
	addAddr(t, c, cEth, "10.0.3.2/24")
	addAddr(t, tp.r, r2, "10.0.3.1/24")
	// Next hops count what reaches them as unforwardable (forwarding off).
	exec(t, c, "route add default via 10.0.3.1")
	exec(t, tp.r, "route add default via 10.0.2.2")
	exec(t, tp.r, "rule add fwmark 1 table 100")
	exec(t, tp.r, "route add default via 10.0.3.2 table 100")
	setRules(t, tp.r, "*mangle\n-A PREROUTING -i eth0 -p tcp --dport 5222 -j MARK --set-mark 1\nCOMMIT\n")

	tests := []struct {
		dst      string
		toB, toC uint64
	}{
		{"198.51.100.7:5222", 0, 1},
		{"198.51.100.7:80", 1, 0},
		{"198.51.100.7:5223", 1, 0},
	}
	for _, tc := range tests {
		b0, c0 := tp.b.drops[dropUnreachable].Load(), c.drops[dropUnreachable].Load()
		sendTCP(t, tp.a, "10.0.1.2:40000", tc.dst)
		gotB, gotC := tp.b.drops[dropUnreachable].Load()-b0, c.drops[dropUnreachable].Load()-c0
		if gotB != tc.toB || gotC != tc.toC {
			t.Errorf("%s: next hop B got %d, C got %d; want %d, %d", tc.dst, gotB, gotC, tc.toB, tc.toC)
		}
	}
	ts := tp.r.Netfilter()
	if ts[netfilter.TableFilter] != nil || ts[netfilter.TableMangle] == nil {
		t.Errorf("tables present: %v", ts)
	}
	if n := ts[netfilter.TableMangle].Chain("PREROUTING").Rules[0].Counters.Packets; n != 1 {
		t.Errorf("MARK rule counted %d packets, want 1", n)
	}
}

// TestMasqueradeRoundTrip: with MASQUERADE on the way out, B sees the
// router's address and the reply is de-NATed back to A through the
// connection conntrack recorded.
func TestMasqueradeRoundTrip(t *testing.T) {
	tp := newTopo(t, "10.0.1.2/24")
	exec(t, tp.b, "route del default")
	setRules(t, tp.r, "*nat\n-A POSTROUTING -o eth1 -j MASQUERADE\nCOMMIT\n")
	res := ping(t, tp.a, PingOptions{Dest: ip("10.0.2.2"), Count: 1})
	if res.Received != 1 {
		t.Fatalf("ping through MASQUERADE: %v", strings.Join(res.Lines, "\n"))
	}
	conns := tp.r.Conntrack().List(nil, tp.clk.Now().UnixNano())
	if len(conns) != 1 {
		t.Fatalf("conntrack has %d entries, want 1", len(conns))
	}
	line := conns[0].Line(tp.clk.Now().UnixNano())
	if !strings.Contains(line, "src=10.0.1.2 dst=10.0.2.2") || !strings.Contains(line, "src=10.0.2.2 dst=10.0.2.1") {
		t.Errorf("conntrack entry %q: want the reply to the router's address", line)
	}
}

// TestRejectReply: REJECT in FORWARD answers the sender with the ICMP
// error, sent from the router through OUTPUT and POSTROUTING.
func TestRejectReply(t *testing.T) {
	tp := newTopo(t, "10.0.1.2/24")
	setRules(t, tp.r, "*filter\n-A FORWARD -p icmp -j REJECT\nCOMMIT\n")
	res := ping(t, tp.a, PingOptions{Dest: ip("10.0.2.2"), Count: 1})
	if res.Received != 0 || !strings.Contains(strings.Join(res.Lines, "\n"), "From 10.0.1.1 icmp_seq=1 Destination Port Unreachable") {
		t.Errorf("ping through REJECT:\n%s", strings.Join(res.Lines, "\n"))
	}
	if n := tp.r.NetfilterDrops()[netfilter.ReasonReject]; n != 1 {
		t.Errorf("REJECT drops %d, want 1", n)
	}
	if n := tp.r.Drops()["netfilter_drop"]; n != 1 {
		t.Errorf("namespace netfilter_drop %d, want 1", n)
	}
}

// TestOutputMarkReroutes: a mark set in mangle OUTPUT re-routes the
// router's own packet by the fwmark rule (ip_route_me_harder).
func TestOutputMarkReroutes(t *testing.T) {
	tp := newTopo(t, "10.0.1.2/24")
	exec(t, tp.r, "rule add fwmark 7 table 100")
	exec(t, tp.r, "route add 10.0.2.0/24 via 10.0.1.2 table 100")
	setRules(t, tp.r, "*mangle\n-A OUTPUT -p tcp --dport 5222 -j MARK --set-mark 7\nCOMMIT\n")
	tests := []struct {
		dst      string
		toA, toB uint64
	}{
		{"10.0.2.2:5222", 1, 0},
		{"10.0.2.2:80", 0, 1},
	}
	for _, tc := range tests {
		a0, b0 := tp.a.drops[dropUnreachable].Load(), tp.b.ifaces.Load().byName["eth0"].rxPackets.Load()
		sendTCP(t, tp.r, "10.0.2.1:40000", tc.dst)
		gotA, gotB := tp.a.drops[dropUnreachable].Load()-a0, tp.b.ifaces.Load().byName["eth0"].rxPackets.Load()-b0
		if gotA != tc.toA || gotB < tc.toB || tc.toB == 0 && gotB != 0 {
			t.Errorf("%s: A got %d, B received %d frames; want %d, %d", tc.dst, gotA, gotB, tc.toA, tc.toB)
		}
	}
}

// TestNetfilterDropInput: a DROP policy in INPUT stops local delivery and
// counts the drop.
func TestNetfilterDropInput(t *testing.T) {
	tp := newTopo(t, "10.0.1.2/24")
	setRules(t, tp.r, "*filter\n:INPUT DROP [0:0]\nCOMMIT\n")
	res := ping(t, tp.a, PingOptions{Dest: ip("10.0.1.1"), Count: 1})
	if res.Received != 0 {
		t.Errorf("ping through INPUT DROP answered")
	}
	if n := tp.r.NetfilterDrops()[netfilter.ReasonPolicyDrop]; n != 1 {
		t.Errorf("policy drops %d, want 1", n)
	}
	must(t, tp.r.SetNetfilter(netfilter.Tables{}))
	if res := ping(t, tp.a, PingOptions{Dest: ip("10.0.1.1"), Count: 1}); res.Received != 1 {
		t.Errorf("ping after the tables went: %s", strings.Join(res.Lines, "\n"))
	}
}

// TestForwardAllocsConntrack: forwarding a packet of a tracked
// connection through mangle, filter and the conntrack state match
// allocates nothing.
func TestForwardAllocsConntrack(t *testing.T) {
	ns, i0, out, tmpl := benchRouter(t)
	setRules(t, ns, "*mangle\n-A PREROUTING -i eth0 -p udp --dport 2000 -j MARK --set-mark 1\nCOMMIT\n"+
		"*filter\n:FORWARD DROP [0:0]\n-A FORWARD -m conntrack --ctstate NEW,ESTABLISHED -j ACCEPT\nCOMMIT\n")
	buf := make([]byte, len(tmpl))
	fwd := func() {
		copy(buf, tmpl)
		i0.Inject(buf)
	}
	fwd()
	if out.n.Load() != 1 {
		t.Fatalf("forwarded %d frames, want 1; drops %v %v", out.n.Load(), ns.Drops(), ns.NetfilterDrops())
	}
	if n := ns.Conntrack().Count(); n != 1 {
		t.Fatalf("conntrack entries %d, want 1", n)
	}
	if n := testing.AllocsPerRun(1000, fwd); n != 0 {
		t.Errorf("forwarding with conntrack allocs = %v, want 0", n)
	}
	if out.n.Load() != 1002 {
		t.Errorf("forwarded %d frames, want 1002", out.n.Load())
	}
}

// TestConntrackExpiresOnTick: the namespace tick reaps expired entries.
func TestConntrackExpiresOnTick(t *testing.T) {
	tp := newTopo(t, "10.0.1.2/24")
	setRules(t, tp.r, "*filter\nCOMMIT\n")
	ping(t, tp.a, PingOptions{Dest: ip("10.0.2.2"), Count: 1})
	if n := tp.r.Conntrack().Count(); n != 1 {
		t.Fatalf("conntrack entries %d, want 1", n)
	}
	tp.clk.Advance(conntrack.TimeoutICMP + 2e9)
	if n := tp.r.Conntrack().Count(); n != 0 {
		t.Errorf("conntrack entries after the ICMP timeout: %d, want 0", n)
	}
}

func BenchmarkForwardConntrack(b *testing.B) {
	ns, i0, out, tmpl := benchRouter(b)
	setRules(b, ns, "*filter\n:FORWARD DROP [0:0]\n-A FORWARD -m conntrack --ctstate NEW,ESTABLISHED -j ACCEPT\nCOMMIT\n")
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

// TestTraceShowsRules: a traced packet records the rules it passed and
// the hook verdicts.
func TestTraceShowsRules(t *testing.T) {
	ns, i0, _, tmpl := benchRouter(t)
	setRules(t, ns, "*mangle\n-A PREROUTING -i eth0 -p udp --dport 2000 -j MARK --set-mark 1\nCOMMIT\n*filter\n-A FORWARD -m mark --mark 1 -j DROP\nCOMMIT\n")
	var tr Trace
	i0.InjectTrace(append([]byte(nil), tmpl...), &tr)
	got := tr.String()
	for _, want := range []string{
		"netfilter: mangle:PREROUTING:rule:1",
		"prerouting: ACCEPT mark 0x1",
		"netfilter: filter:FORWARD:rule:1",
		"forward: DROP: " + netfilter.ReasonRuleDrop,
		"drop: netfilter_drop",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("trace lacks %q:\n%s", want, got)
		}
	}
}

// TestRPFilterSrcValidMark: a mark set in mangle PREROUTING takes part in
// rp_filter's reverse lookup only with src_valid_mark (fib_validate_source).
func TestRPFilterSrcValidMark(t *testing.T) {
	tests := []struct {
		validMark string
		dropped   uint64
	}{
		{"0", 1},
		{"1", 0},
	}
	for _, tc := range tests {
		tp := newTopo(t, "10.0.1.2/24")
		exec(t, tp.r, "route add 10.9.9.0/24 via 10.0.2.2")
		exec(t, tp.r, "route add 10.9.9.0/24 via 10.0.1.2 table 100")
		exec(t, tp.r, "rule add fwmark 1 table 100")
		must(t, tp.r.SetSysctl("net.ipv4.conf.all.rp_filter", "1"))
		must(t, tp.r.SetSysctl("net.ipv4.conf.eth0.src_valid_mark", tc.validMark))
		setRules(t, tp.r, "*mangle\n-A PREROUTING -i eth0 -j MARK --set-mark 1\nCOMMIT\n")
		f := packet.UDPDatagram(tp.aEth.MAC(), tp.r0.MAC(), netip.MustParseAddrPort("10.9.9.9:1000"), netip.MustParseAddrPort("10.0.2.2:2000"), []byte("x"))
		tp.r0.Inject(f)
		if got := tp.r.drops[dropRPFilter].Load(); got != tc.dropped {
			t.Errorf("src_valid_mark=%s: rp_filter drops %d, want %d", tc.validMark, got, tc.dropped)
		}
	}
}

// TestLocalTrafficThroughHooks: a namespace pinging its own address
// passes OUTPUT, POSTROUTING, PREROUTING and INPUT with one connection.
func TestLocalTrafficThroughHooks(t *testing.T) {
	tp := newTopo(t, "10.0.1.2/24")
	must(t, tp.r.SetUp(tp.r.ifaces.Load().byName["lo"]))
	setRules(t, tp.r, "*filter\n-A INPUT -i lo -p icmp -j ACCEPT\n-A OUTPUT -p icmp\nCOMMIT\n")
	if res := ping(t, tp.r, PingOptions{Dest: ip("10.0.1.1"), Count: 1}); res.Received != 1 {
		t.Fatalf("ping own address: %s; drops %v %v", strings.Join(res.Lines, "\n"), tp.r.Drops(), tp.r.NetfilterDrops())
	}
	ts := tp.r.Netfilter()
	f := ts[netfilter.TableFilter]
	if in, out := f.Chain("INPUT").Rules[0].Counters.Packets, f.Chain("OUTPUT").Rules[0].Counters.Packets; in != 2 || out != 2 {
		t.Errorf("INPUT -i lo counted %d, OUTPUT %d; want 2, 2 (request and reply)", in, out)
	}
	if n := tp.r.Conntrack().Count(); n != 1 {
		t.Errorf("conntrack entries %d, want 1", n)
	}
}
