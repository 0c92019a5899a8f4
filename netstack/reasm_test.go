package netstack

import (
	"bytes"
	"math/rand/v2"
	"testing"
	"time"

	"tapestry/packet"
)

// fragFrame builds an Ethernet frame holding one IPv4 fragment of
// datagram id from 10.0.1.2 to 10.0.2.2: payload bytes [off, off+len(b)).
func fragFrame(dst packet.MAC, id uint16, off int, b []byte, more bool) []byte {
	f := make([]byte, packet.EthernetMinimumSize+packet.IPv4MinimumSize+len(b))
	copy(f, dst[:])
	f[12], f[13] = 0x08, 0x00
	ip := packet.IPv4(f[packet.EthernetMinimumSize:])
	ip.SetVersionIHL(packet.IPv4MinimumSize)
	ip.SetTotalLen(uint16(len(ip)))
	ip.SetID(id)
	ff := uint16(off/8) & packet.IPv4FragOffsetMask
	if more {
		ff |= packet.IPv4FlagMF
	}
	ip.SetFlagsFrag(ff)
	ip.SetTTL(64)
	ip.SetProtocol(packet.ProtoICMP)
	ip.SetSrc([4]byte{10, 0, 1, 2})
	ip.SetDst([4]byte{10, 0, 2, 2})
	ip.SetChecksum(ip.ComputeChecksum())
	copy(ip[packet.IPv4MinimumSize:], b)
	return f
}

type piece struct {
	off, n int
	more   bool
}

// TestReassembler feeds pieces of a 64-byte payload (offsets in bytes)
// and checks the outcome of the last one and what the queues hold.
func TestReassembler(t *testing.T) {
	tests := []struct {
		name   string
		pieces []piece
		want   fragVerdict // of the last piece
		queues int         // left afterwards
	}{
		{"in order", []piece{{0, 24, true}, {24, 24, true}, {48, 16, false}}, fragComplete, 0},
		{"reversed", []piece{{48, 16, false}, {24, 24, true}, {0, 24, true}}, fragComplete, 0},
		{"first missing", []piece{{48, 16, false}, {24, 24, true}}, fragHeld, 1},
		{"last missing", []piece{{0, 24, true}, {24, 24, true}}, fragHeld, 1},
		{"exact duplicate", []piece{{0, 24, true}, {0, 24, true}}, fragDup, 1},
		{"duplicate then complete", []piece{{0, 24, true}, {0, 24, true}, {24, 40, false}}, fragComplete, 0},
		{"overlap kills", []piece{{0, 24, true}, {16, 24, true}}, fragDropped, 0},
		{"overlap then rest", []piece{{0, 24, true}, {16, 24, true}, {24, 40, false}}, fragHeld, 1},
		{"contained overlap", []piece{{0, 64, true}, {8, 8, true}}, fragDropped, 0},
		{"two last fragments disagree", []piece{{48, 16, false}, {40, 16, false}}, fragDropped, 0},
		{"data past the end", []piece{{8, 8, false}, {16, 16, true}}, fragDropped, 0},
		{"last before seen data", []piece{{40, 16, true}, {0, 16, false}}, fragDropped, 0},
		{"oversize", []piece{{65520, 16, false}}, fragDropped, 0},
		{"non-final trimmed to 8", []piece{{0, 20, true}, {16, 48, false}}, fragComplete, 0},
	}
	payload := make([]byte, 65536)
	for i := range payload {
		payload[i] = byte(i * 7)
	}
	now := time.Unix(1_700_000_000, 0)
	for _, tt := range tests {
		var r reassembler
		sys := defaultSysctls()
		var got fragVerdict
		var out []byte
		for _, p := range tt.pieces {
			out, got = r.add(fragFrame(packet.MAC{}, 7, p.off, payload[p.off:p.off+p.n], p.more), nil, 0, now, sys)
		}
		if got != tt.want || len(r.queues) != tt.queues {
			t.Errorf("%s: last add = %d with %d queues, want %d with %d", tt.name, got, len(r.queues), tt.want, tt.queues)
		}
		if got == fragComplete {
			ip := packet.IPv4(out[packet.EthernetMinimumSize:])
			if !bytes.Equal(ip.Payload(), payload[:64]) || ip.IsFragment() || !ip.ChecksumValid() || int(ip.TotalLen()) != 84 {
				t.Errorf("%s: reassembled %x (frag %#x, csum ok %v, len %d), want payload %x", tt.name, ip.Payload(), ip.FlagsFrag(), ip.ChecksumValid(), ip.TotalLen(), payload[:64])
			}
		}
		if tt.queues == 0 && r.mem != 0 {
			t.Errorf("%s: memory %d with no queues", tt.name, r.mem)
		}
	}
}

// TestReassemblerRandom is the oracle comparison: a random payload cut
// into random 8-byte-aligned pieces, delivered in random order with
// random exact duplicates, reassembles to the payload exactly when the
// last missing piece arrives.
func TestReassemblerRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	now := time.Unix(1_700_000_000, 0)
	for round := range 500 {
		payload := make([]byte, 8+rng.IntN(4000))
		for i := range payload {
			payload[i] = byte(rng.Uint32())
		}
		var ps []piece
		for off := 0; off < len(payload); {
			n := min(8*(1+rng.IntN(64)), len(payload)-off)
			ps = append(ps, piece{off, n, off+n < len(payload)})
			off += n
		}
		rng.Shuffle(len(ps), func(i, j int) { ps[i], ps[j] = ps[j], ps[i] })
		var r reassembler
		sys := defaultSysctls()
		for i, p := range ps {
			f := fragFrame(packet.MAC{}, uint16(round), p.off, payload[p.off:p.off+p.n], p.more)
			if i < len(ps)-1 && rng.IntN(4) == 0 {
				if _, v := r.add(f, nil, 0, now, sys); v != fragHeld && v != fragDup {
					t.Fatalf("round %d: early copy of piece %d = %d", round, i, v)
				}
			}
			out, v := r.add(f, nil, 0, now, sys)
			if i < len(ps)-1 {
				if v != fragHeld && v != fragDup {
					t.Fatalf("round %d: piece %d of %d = %d, want held", round, i, len(ps), v)
				}
				continue
			}
			if v != fragComplete || !bytes.Equal(packet.IPv4(out[packet.EthernetMinimumSize:]).Payload(), payload) {
				t.Fatalf("round %d: last piece = %d, payload equal %v", round, v, v == fragComplete)
			}
		}
		if len(r.queues) != 0 || r.mem != 0 {
			t.Fatalf("round %d: %d queues, %d bytes left", round, len(r.queues), r.mem)
		}
	}
}

// TestReassemblerMemoryLimit fills ipfrag_high_thresh with incomplete
// datagrams: past it every fragment is dropped, even one that would
// complete a held datagram, until the queues expire.
func TestReassemblerMemoryLimit(t *testing.T) {
	var r reassembler
	sys := defaultSysctls()
	now := time.Unix(1_700_000_000, 0)
	data := make([]byte, 1480)
	id := 0
	for ; r.mem <= sys.IPFragHighThresh; id++ {
		if _, v := r.add(fragFrame(packet.MAC{}, uint16(id), 0, data, true), nil, 0, now, sys); v != fragHeld {
			t.Fatalf("fragment %d under the limit = %d, want held", id, v)
		}
	}
	if id < 2000 || id > 3000 {
		t.Errorf("%d fragments of 1480 bytes filled 4 MB", id)
	}
	if _, v := r.add(fragFrame(packet.MAC{}, 0, 1480, data[:8], false), nil, 0, now, sys); v != fragDropped {
		t.Errorf("completing fragment over the limit = %d, want dropped", v)
	}
	if got := r.expired(now.Add(29 * time.Second)); len(got) != 0 || len(r.queues) != id {
		t.Errorf("after 29 s: %d expired, %d queues; want 0, %d", len(got), len(r.queues), id)
	}
	if got := r.expired(now.Add(30 * time.Second)); len(got) != id || len(r.queues) != 0 || r.mem != 0 {
		t.Errorf("after 30 s: %d expired, %d queues, %d bytes; want %d, 0, 0", len(got), len(r.queues), r.mem, id)
	}
}

// TestPingFragmented is ping -s 3000 from a host on an MTU 9000 link to a
// host behind an MTU 1500 link: the router fragments each request (no
// DF), the far host reassembles and answers with a reply it fragments
// itself, and the sender reassembles that.
func TestPingFragmented(t *testing.T) {
	tp := newTopo(t, "10.0.1.2/24")
	must(t, tp.a.SetMTU(tp.aEth, 9000))
	must(t, tp.r.SetMTU(tp.r0, 9000))
	got := ping(t, tp.a, PingOptions{Dest: ip("10.0.2.2"), Count: 2, Size: 3000})
	want := []string{"3008 bytes from 10.0.2.2: icmp_seq=1 ttl=63 time=0.000 ms", "3008 bytes from 10.0.2.2: icmp_seq=2 ttl=63 time=0.000 ms"}
	if got.Received != 2 || len(got.Lines) < 3 || got.Lines[1] != want[0] || got.Lines[2] != want[1] {
		t.Fatalf("ping -s 3000 = %q, want replies %q", got.Lines, want)
	}
	// 3008 bytes of ICMP in 1480-byte pieces: 3 fragments per request out
	// of r1 (plus ARP), 3 per reply into a.
	if n := tp.r1.txPackets.Load(); n < 6 {
		t.Errorf("router sent %d frames on the MTU 1500 link, want >= 6 fragments", n)
	}
	for _, ns := range []*Namespace{tp.a, tp.b} {
		if q, m := ns.Fragments(); q != 0 || m != 0 {
			t.Errorf("%s: %d queues, %d bytes held after reassembly", ns.Name(), q, m)
		}
		if d := ns.Drops(); d["ip_fragment_reassembly"] != 0 || d["dup_frag"] != 0 {
			t.Errorf("%s: drops %v", ns.Name(), d)
		}
	}
}

// TestReassemblyTimeout sends b only the first fragment of an echo
// request: after ipfrag_time b answers with time exceeded, code 1, which
// reaches a's ping socket.
func TestReassemblyTimeout(t *testing.T) {
	tp := newTopo(t, "10.0.1.2/24")
	ping(t, tp.a, PingOptions{Dest: ip("10.0.2.2")}) // resolve neighbours both ways
	id, ch := tp.a.sockets.openPing()
	defer tp.a.sockets.closePing(id)
	l4 := make([]byte, 64)
	m := packet.ICMPv4(l4)
	m.SetType(packet.ICMPv4Echo)
	m.SetID(id)
	m.SetSeq(9)
	f := fragFrame(tp.bEth.MAC(), 99, 0, l4[:32], true)
	tp.bEth.Inject(f)
	if q, _ := tp.b.Fragments(); q != 1 {
		t.Fatalf("b holds %d queues after the first fragment, want 1", q)
	}
	tp.clk.Advance(29 * time.Second)
	if q, _ := tp.b.Fragments(); q != 1 || len(ch) != 0 {
		t.Fatalf("after 29 s: %d queues, %d events; want 1, 0", q, len(ch))
	}
	tp.clk.Advance(time.Second)
	if q, _ := tp.b.Fragments(); q != 0 || tp.b.Drops()["frag_reasm_timeout"] != 1 {
		t.Fatalf("after 30 s: %d queues, drops %v; want 0 and one frag_reasm_timeout", q, tp.b.Drops())
	}
	select {
	case ev := <-ch:
		if ev.Type != packet.ICMPv4TimeExceed || ev.Code != icmpFragTime || ev.Seq != 9 || ev.From != ip("10.0.2.2") {
			t.Errorf("a got %+v, want time exceeded code 1 for seq 9 from 10.0.2.2", ev)
		}
	default:
		t.Errorf("a got no time exceeded")
	}
	// A queue without its first fragment expires silently.
	tp.bEth.Inject(fragFrame(tp.bEth.MAC(), 100, 32, l4[32:], false))
	tp.clk.Advance(30 * time.Second)
	if len(ch) != 0 || tp.b.Drops()["frag_reasm_timeout"] != 2 {
		t.Errorf("queue without first fragment: %d events, drops %v; want none and 2 timeouts", len(ch), tp.b.Drops())
	}
}
