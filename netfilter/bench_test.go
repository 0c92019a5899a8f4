package netfilter_test

import (
	"fmt"
	"testing"

	nf "tapestry/netfilter"
)

// chainOf builds a filter INPUT chain of n rules, each for another host and
// port, so that a packet to the last rule's host and port matches only it.
func chainOf(t testing.TB, env *nf.Env, n int) *nf.Ruleset {
	cmds := []string{"-P INPUT DROP"}
	for i := range n {
		cmds = append(cmds, fmt.Sprintf("-A INPUT -s 10.%d.%d.%d -p tcp --dport %d -j ACCEPT", i>>16&0xff, i>>8&0xff, i&0xff, 1000+i%50000))
	}
	return compile(t, env, cmds...)
}

func lastPacket(n int) *nf.Packet {
	i := n - 1
	return pkt(tcp(fmt.Sprintf("10.%d.%d.%d:40000", i>>16&0xff, i>>8&0xff, i&0xff), fmt.Sprintf("10.200.0.1:%d", 1000+i%50000), ack), "eth0", "")
}

// TestLongChainMatchesLastRule checks first-match semantics through the
// index: the last rule's packet is accepted by it, others fall to policy.
func TestLongChainMatchesLastRule(t *testing.T) {
	for _, n := range []int{10, 1000} {
		rs := chainOf(t, &nf.Env{}, n)
		p := lastPacket(n)
		if v := rs.Hook(nf.HookInput, p); v != nf.VerdictAccept {
			t.Errorf("%d rules: last rule's packet %v %s", n, v, p.DropReason)
		}
		ts := rs.Export()
		if c := ts[nf.TableFilter].Chain("INPUT").Rules[n-1].Counters.Packets; c != 1 {
			t.Errorf("%d rules: last rule counted %d", n, c)
		}
		q := pkt(tcp("10.250.0.1:1", "10.200.0.1:1000", ack), "eth0", "")
		if v := rs.Hook(nf.HookInput, q); v != nf.VerdictDrop {
			t.Errorf("%d rules: unmatched packet %v", n, v)
		}
	}
}

func TestHookAllocs(t *testing.T) {
	env := newEnv()
	rs := compile(t, env,
		"-t raw -A PREROUTING -p udp --dport 9 -j CT --notrack",
		"-t mangle -A PREROUTING -i eth0 -p tcp --dport 80 -j MARK --set-mark 1",
		"-t mangle -A FORWARD -j TOS --set-tos 0x10",
		"-A FORWARD -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT",
		"-A FORWARD -p tcp --syn -j ACCEPT",
		"-t nat -A POSTROUTING -o eth1 -j MASQUERADE",
	)
	frame := tcp("10.0.0.2:5000", "198.51.100.1:80", syn)
	forward(rs, pkt(append([]byte(nil), frame...), "eth0", "eth1"))
	forward(rs, pkt(tcp("198.51.100.1:80", "192.0.2.1:5000", synack), "eth1", "eth0"))
	est := tcp("10.0.0.2:5000", "198.51.100.1:80", ack)
	frame2 := make([]byte, len(est))
	var p nf.Packet
	allocs := testing.AllocsPerRun(200, func() {
		copy(frame2, est)
		p.Reset()
		p.Frame, p.In, p.Out = frame2, "eth0", "eth1"
		p.Off = extract(frame2, &p)
		forward(rs, &p)
	})
	if allocs != 0 {
		t.Errorf("established packet through three hooks: %v allocs, want 0", allocs)
	}
	if p.Key.PktMark != 1 {
		t.Errorf("mark %d", p.Key.PktMark)
	}
}

// BenchmarkChain measures one INPUT hook traversal where the last of n
// rules matches.
func BenchmarkChain(b *testing.B) {
	for _, n := range []int{10, 1000, 10000} {
		b.Run(fmt.Sprintf("rules=%d", n), func(b *testing.B) {
			rs := chainOf(b, &nf.Env{}, n)
			p := lastPacket(n)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if rs.Hook(nf.HookInput, p) != nf.VerdictAccept {
					b.Fatal("not accepted")
				}
			}
		})
	}
}

// BenchmarkChainLinear is the same with indexing defeated (every rule has
// a wildcard source and port range), for comparison with the kernel's
// linear scan.
func BenchmarkChainLinear(b *testing.B) {
	for _, n := range []int{10, 1000} {
		b.Run(fmt.Sprintf("rules=%d", n), func(b *testing.B) {
			cmds := []string{"-P INPUT DROP"}
			for i := range n - 1 {
				cmds = append(cmds, fmt.Sprintf("-A INPUT -s 10.%d.%d.0/24 -p tcp --dport %d:%d -j ACCEPT", i>>8&0xff, i&0xff, 1000+i, 1001+i))
			}
			cmds = append(cmds, "-A INPUT -s 10.250.0.0/24 -p tcp -j ACCEPT")
			rs := compile(b, &nf.Env{}, cmds...)
			p := pkt(tcp("10.250.0.1:1", "10.200.0.1:80", ack), "eth0", "")
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if rs.Hook(nf.HookInput, p) != nf.VerdictAccept {
					b.Fatal("not accepted")
				}
			}
		})
	}
}

// BenchmarkForwardEstablished is an established TCP packet through
// PREROUTING, FORWARD and POSTROUTING with conntrack and a few rules.
func BenchmarkForwardEstablished(b *testing.B) {
	env := newEnv()
	rs := compile(b, env,
		"-t mangle -A PREROUTING -i eth0 -p tcp --dport 80 -j MARK --set-mark 1",
		"-A FORWARD -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT",
		"-A FORWARD -p tcp --syn -j ACCEPT",
		"-t nat -A POSTROUTING -o eth1 -j MASQUERADE",
	)
	forward(rs, pkt(tcp("10.0.0.2:5000", "198.51.100.1:80", syn), "eth0", "eth1"))
	forward(rs, pkt(tcp("198.51.100.1:80", "192.0.2.1:5000", synack), "eth1", "eth0"))
	est := tcp("10.0.0.2:5000", "198.51.100.1:80", ack)
	frame := make([]byte, len(est))
	var p nf.Packet
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		copy(frame, est)
		p.Reset()
		p.Frame, p.In, p.Out = frame, "eth0", "eth1"
		p.Off = extract(frame, &p)
		if forward(rs, &p) != nf.VerdictAccept {
			b.Fatal("dropped")
		}
	}
}
