package netfilter_test

import (
	"net/netip"
	"testing"

	"tapestry/conntrack"
	nf "tapestry/netfilter"
	"tapestry/packet"
)

// forward runs p through PREROUTING, FORWARD and POSTROUTING, as a router.
func forward(rs *nf.Ruleset, p *nf.Packet) nf.Verdict {
	for _, h := range []nf.Hook{nf.HookPrerouting, nf.HookForward, nf.HookPostrouting} {
		if v := rs.Hook(h, p); v != nf.VerdictAccept {
			return v
		}
	}
	return nf.VerdictAccept
}

func endpoints(p *nf.Packet) (netip.AddrPort, netip.AddrPort) {
	ip := packet.IPv4(p.Frame[p.Off.L3:])
	th := packet.TCP(p.Frame[p.Off.L4:])
	return netip.AddrPortFrom(netip.AddrFrom4(ip.Src()), th.SrcPort()), netip.AddrPortFrom(netip.AddrFrom4(ip.Dst()), th.DstPort())
}

func checksumsOK(t *testing.T, p *nf.Packet) {
	t.Helper()
	ip := packet.IPv4(p.Frame[p.Off.L3:])
	if !ip.ChecksumValid() {
		t.Errorf("IP checksum invalid")
	}
	l4 := p.Frame[p.Off.L4:]
	if packet.Sum(l4, ip.PseudoHeaderSum(len(l4))) != 0xffff {
		t.Errorf("TCP checksum invalid")
	}
}

func TestDNATAndReply(t *testing.T) {
	rs := compile(t, newEnv(), "-t nat -A PREROUTING -i eth1 -p tcp --dport 80 -j DNAT --to-destination 10.0.0.5:8080")
	p := pkt(tcp("198.51.100.7:40000", "192.0.2.1:80", syn), "eth1", "eth0")
	if v := forward(rs, p); v != nf.VerdictAccept {
		t.Fatalf("forward: %v", v)
	}
	src, dst := endpoints(p)
	if src != ap("198.51.100.7:40000") || dst != ap("10.0.0.5:8080") {
		t.Errorf("DNAT: %v -> %v", src, dst)
	}
	checksumsOK(t, p)
	// The server's reply is un-DNATed at POSTROUTING: its source becomes
	// the address the client talked to.
	r := pkt(tcp("10.0.0.5:8080", "198.51.100.7:40000", synack), "eth0", "eth1")
	if v := forward(rs, r); v != nf.VerdictAccept {
		t.Fatalf("reply: %v", v)
	}
	src, dst = endpoints(r)
	if src != ap("192.0.2.1:80") || dst != ap("198.51.100.7:40000") {
		t.Errorf("reply: %v -> %v, want 192.0.2.1:80 -> client", src, dst)
	}
	checksumsOK(t, r)
	if r.CtInfo != conntrack.InfoEstablishedReply || r.Conn.Status()&conntrack.StatusDstNAT == 0 {
		t.Errorf("reply ctinfo %d status %#x", r.CtInfo, r.Conn.Status())
	}
}

func TestSNATPortClash(t *testing.T) {
	rs := compile(t, newEnv(), "-t nat -A POSTROUTING -o eth1 -p tcp -j SNAT --to-source 192.0.2.1:1024-1026")
	var got []netip.AddrPort
	// Three clients using the same source port to the same server.
	for _, c := range []string{"10.0.0.2:1025", "10.0.0.3:1025", "10.0.0.4:1025", "10.0.0.5:1025"} {
		p := pkt(tcp(c, "198.51.100.1:443", syn), "eth0", "eth1")
		v := forward(rs, p)
		if c == "10.0.0.5:1025" {
			if v != nf.VerdictDrop || p.DropReason != nf.ReasonNATNoTuple {
				t.Errorf("fourth client with three ports: %v %q, want a drop", v, p.DropReason)
			}
			continue
		}
		if v != nf.VerdictAccept {
			t.Fatalf("%s: %v %s", c, v, p.DropReason)
		}
		src, _ := endpoints(p)
		got = append(got, src)
	}
	// The first keeps its port (in range and unique); the others get the
	// free ports of the range.
	want := []netip.AddrPort{ap("192.0.2.1:1025"), ap("192.0.2.1:1024"), ap("192.0.2.1:1026")}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("client %d source %v, want %v", i, got[i], want[i])
		}
	}
}

func TestMasqueradeAndRedirect(t *testing.T) {
	rs := compile(t, newEnv(),
		"-t nat -A POSTROUTING -o eth1 -j MASQUERADE",
		"-t nat -A PREROUTING -i eth0 -p tcp --dport 80 -j REDIRECT --to-ports 3128",
	)
	p := pkt(tcp("10.0.0.2:5000", "198.51.100.1:443", syn), "eth0", "eth1")
	forward(rs, p)
	if src, _ := endpoints(p); src != ap("192.0.2.1:5000") {
		t.Errorf("MASQUERADE source %v, want eth1's address", src)
	}
	q := pkt(tcp("10.0.0.2:5001", "198.51.100.1:80", syn), "eth0", "")
	rs.Hook(nf.HookPrerouting, q)
	if _, dst := endpoints(q); dst != ap("10.0.0.1:3128") {
		t.Errorf("REDIRECT destination %v, want eth0's address:3128", dst)
	}
}

func TestImplicitSourcePortReallocation(t *testing.T) {
	// The first client is SNATed onto the second client's address and
	// port; the second matches no rule, yet its null binding sees the clash
	// and moves its source port (nf_nat's implicit port reallocation).
	rs := compile(t, newEnv(), "-t nat -A POSTROUTING -s 10.0.0.2 -j SNAT --to-source 10.0.0.3")
	a := pkt(tcp("10.0.0.2:7000", "198.51.100.1:80", syn), "eth0", "eth1")
	forward(rs, a)
	b := pkt(tcp("10.0.0.3:7000", "198.51.100.1:80", syn), "eth0", "eth1")
	if v := forward(rs, b); v != nf.VerdictAccept {
		t.Fatalf("second client: %v %s", v, b.DropReason)
	}
	sa, _ := endpoints(a)
	sb, _ := endpoints(b)
	if sa != ap("10.0.0.3:7000") || sb.Addr() != ip("10.0.0.3") || sb.Port() == 7000 {
		t.Errorf("sources %v and %v: want the second moved off port 7000", sa, sb)
	}
}

func TestConntrackStatesThroughHooks(t *testing.T) {
	rs := compile(t, newEnv(),
		"-P FORWARD DROP",
		"-A FORWARD -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT",
		"-A FORWARD -i eth0 -m conntrack --ctstate NEW -j ACCEPT",
		"-A FORWARD -m conntrack --ctstate INVALID -j DROP",
	)
	tests := []struct {
		name   string
		frame  []byte
		in     string
		want   nf.Verdict
		reason string
	}{
		{"new from inside", tcp("10.0.0.2:5000", "198.51.100.1:80", syn), "eth0", nf.VerdictAccept, ""},
		{"reply", tcp("198.51.100.1:80", "10.0.0.2:5000", synack), "eth1", nf.VerdictAccept, ""},
		{"new from outside", tcp("198.51.100.1:6000", "10.0.0.2:22", syn), "eth1", nf.VerdictDrop, nf.ReasonPolicyDrop},
		{"invalid", tcp("198.51.100.1:6001", "10.0.0.2:22", synack), "eth1", nf.VerdictDrop, nf.ReasonRuleDrop},
	}
	for _, tt := range tests {
		p := pkt(tt.frame, tt.in, "x")
		if v := forward(rs, p); v != tt.want || p.DropReason != tt.reason {
			t.Errorf("%s: %v %q, want %v %q", tt.name, v, p.DropReason, tt.want, tt.reason)
		}
	}
}
