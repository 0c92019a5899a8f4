package ofproto

import (
	"bytes"
	"encoding/binary"
	"testing"

	"tapestry/link"
	"tapestry/packet"
)

// vnetLink is a capLink that takes offloaded frames and records the header
// written with each.
type vnetLink struct {
	*capLink
	hdrs []packet.VnetHdr
	sink bool // keep nothing (allocation tests)
}

func (l *vnetLink) Offload() bool { return true }
func (l *vnetLink) ReadVnet(bufs [][]byte, sizes []int, hdrs []packet.VnetHdr, offset int) (int, error) {
	<-l.closed
	return 0, link.ErrClosed
}
func (l *vnetLink) WriteVnet(pkts [][]byte, hdrs []packet.VnetHdr) (int, error) {
	if l.sink {
		return len(pkts), nil
	}
	l.mu.Lock()
	l.hdrs = append(l.hdrs, hdrs[:len(pkts)]...)
	l.mu.Unlock()
	return l.capLink.Write(pkts)
}

// superTCP is a TCP super-frame from macA to macB as a TAP with TSO hands
// it over: 20000 payload bytes, gso_size 1448, a partial checksum.
func superTCP(t testing.TB) ([]byte, packet.VnetHdr) {
	t.Helper()
	data := make([]byte, 20000)
	for i := range data {
		data[i] = byte(i * 13)
	}
	f := packet.TCPSegment(macA, macB, ap("10.0.0.1:40000"), ap("10.0.0.2:5201"), packet.TCPFlagACK|packet.TCPFlagPSH, data)
	const l4 = 14 + 20
	ph := packet.PseudoHeaderSum(packet.ProtoTCP, f[26:30], f[30:34], uint32(len(f)-l4))
	binary.BigEndian.PutUint16(f[l4+16:], ph)
	return f, packet.VnetHdr{Flags: packet.VnetNeedsCsum, GSOType: packet.GSOTCPv4, HdrLen: l4 + 20, GSOSize: 1448, CsumStart: l4, CsumOffset: 16}
}

// checkWire checks that frames are valid TCP/IPv4 wire segments (under at
// most one VLAN tag) whose payloads, in order, are want's.
func checkWire(t *testing.T, port string, frames [][]byte, want []byte) {
	t.Helper()
	var got []byte
	for i, f := range frames {
		l3 := 14
		if binary.BigEndian.Uint16(f[12:]) == packet.EtherTypeVLAN {
			l3 = 18
		}
		ip := packet.IPv4(f[l3:])
		l4 := l3 + ip.HeaderLen()
		ph := packet.PseudoHeaderSum(packet.ProtoTCP, f[l3+12:l3+16], f[l3+16:l3+20], uint32(len(f)-l4))
		if !ip.ChecksumValid() || packet.Sum(f[l4:], ph) != 0xffff || int(ip.TotalLen()) != len(f)-l3 || len(f) > 14+4+1500 {
			t.Errorf("%s: frame %d (%d bytes) is not a valid wire segment", port, i, len(f))
		}
		got = append(got, f[l4+packet.TCP(f[l4:]).HeaderLen():]...)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s: %d segments carry %d payload bytes, not the super-frame's %d", port, len(frames), len(got), len(want))
	}
}

func TestOffloadDatapath(t *testing.T) {
	super, h := superTCP(t)
	payload := super[14+20+20:]
	pushed := h
	pushed.Shift(4)
	for _, tc := range []struct {
		name  string
		flows []string
		hdr   packet.VnetHdr
		whole map[string]packet.VnetHdr // vnet port -> header of the one whole frame it gets
		wire  []string                  // ports that get wire segments
		soft  uint64                    // SoftSegmented after
	}{
		{"flood", nil, h, map[string]packet.VnetHdr{"v2": h}, []string{"p3"}, 1},
		{"output vnet", []string{"actions=output:2"}, h, map[string]packet.VnetHdr{"v2": h}, nil, 0},
		{"push vlan", []string{"actions=push_vlan:0x8100,mod_vlan_vid:10,output:2"}, h, map[string]packet.VnetHdr{"v2": pushed}, nil, 0},
		{"mod_dl_src", []string{"actions=mod_dl_src:02:00:00:00:00:99,output:2,output:3"}, h, map[string]packet.VnetHdr{"v2": h}, []string{"p3"}, 1},
		{"mod_nw_tos", []string{"actions=mod_nw_tos:32,output:2,output:3"}, h, nil, []string{"v2", "p3"}, 1},
		{"dec_ttl", []string{"actions=dec_ttl,output:2"}, h, nil, []string{"v2"}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := New(Config{Name: "br0"})
			t.Cleanup(b.Close)
			links := map[string]*capLink{}
			var vnets = map[string]*vnetLink{}
			for _, name := range []string{"v1", "v2", "p3"} {
				c := newCapLink(name)
				links[name] = c
				var l link.Link = c
				if name[0] == 'v' {
					vnets[name] = &vnetLink{capLink: c}
					l = vnets[name]
				}
				if _, err := b.AddPort(PortSpec{Name: name, Link: l}); err != nil {
					t.Fatal(err)
				}
			}
			if tc.flows != nil {
				(&testBridge{Bridge: b, t: t}).flows(tc.flows...)
			}
			pr := newProc(b, b.ports.Load().byNo(1), 1, true)
			n := copy(pr.bufs[0][link.Headroom:], super)
			pr.sizes[0], pr.off.hdrs[0] = n, tc.hdr
			pr.batch(1)
			for name, want := range tc.whole {
				got := links[name].take()
				if len(got) != 1 || len(vnets[name].hdrs) != 1 || vnets[name].hdrs[0] != want {
					t.Errorf("%s: got %d frames with headers %+v, want one with %+v", name, len(got), vnets[name].hdrs, want)
				}
			}
			for _, name := range tc.wire {
				checkWire(t, name, links[name].take(), payload)
			}
			if st := b.OffloadStats(); st.RxSuper != 1 || st.SoftSegmented != tc.soft {
				t.Errorf("OffloadStats = %+v, want RxSuper 1, SoftSegmented %d", st, tc.soft)
			}
		})
	}
}

func TestOffloadChecksumOnly(t *testing.T) {
	super, h := superTCP(t)
	f := super[:14+20+20+1000]
	binary.BigEndian.PutUint16(f[16:], uint16(len(f)-14))
	packet.IPv4(f[14:]).SetChecksum(packet.IPv4(f[14:]).ComputeChecksum())
	ph := packet.PseudoHeaderSum(packet.ProtoTCP, f[26:30], f[30:34], uint32(len(f)-34))
	binary.BigEndian.PutUint16(f[34+16:], ph)
	h.GSOType, h.GSOSize = packet.GSONone, 0
	tb := newTestBridge(t, 0)
	v := &vnetLink{capLink: newCapLink("v1")}
	if _, err := tb.AddPort(PortSpec{Name: "v1", Link: v}); err != nil {
		t.Fatal(err)
	}
	tb.addPort(PortSpec{Name: "p2"})
	pr := newProc(tb.Bridge, tb.ports.Load().byNo(1), 1, true)
	copy(pr.bufs[0][link.Headroom:], f)
	pr.sizes[0], pr.off.hdrs[0] = len(f), h
	pr.batch(1)
	checkWire(t, "p2", tb.links[2].take(), f[54:])
	if st := tb.OffloadStats(); st.SoftChecksummed != 1 {
		t.Errorf("OffloadStats = %+v, want SoftChecksummed 1", st)
	}
}

// TestOffloadAllocs: forwarding a super-frame to an offloading port and to
// a plain one (segmenting it) allocates nothing once warm.
func TestOffloadAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race; the normal unit run checks them")
	}
	super, h := superTCP(t)
	b := New(Config{Name: "br0"})
	t.Cleanup(b.Close)
	for _, name := range []string{"v1", "v2"} {
		if _, err := b.AddPort(PortSpec{Name: name, Link: &vnetLink{capLink: newCapLink(name), sink: true}}); err != nil {
			t.Fatal(err)
		}
	}
	s := &sinkLink{capLink: *newCapLink("p3")}
	if _, err := b.AddPort(PortSpec{Name: "p3", Link: s}); err != nil {
		t.Fatal(err)
	}
	pr := newProc(b, b.ports.Load().byNo(1), 1, true)
	run := func() {
		n := copy(pr.bufs[0][link.Headroom:], super)
		pr.sizes[0], pr.off.hdrs[0] = n, h
		pr.batch(1)
	}
	run()
	if a := testing.AllocsPerRun(50, run); a != 0 {
		t.Errorf("forwarding a super-frame allocates %v times", a)
	}
	if s.n == 0 {
		t.Errorf("the plain port got no segments")
	}
}

// BenchmarkOffloadSuperFrame forwards a 20 KB super-frame between two
// offloading ports (the TAP-to-TAP case) and, for comparison, segments it
// for a plain port.
func BenchmarkOffloadSuperFrame(b *testing.B) {
	for _, plain := range []bool{false, true} {
		name := "vnet-to-vnet"
		if plain {
			name = "vnet-to-plain"
		}
		b.Run(name, func(b *testing.B) {
			super, h := superTCP(b)
			br := New(Config{Name: "br0"})
			defer br.Close()
			for i, name := range []string{"v1", "v2"} {
				var l link.Link = &vnetLink{capLink: newCapLink(name), sink: true}
				if plain && i == 1 {
					l = &sinkLink{capLink: *newCapLink(name)}
				}
				if _, err := br.AddPort(PortSpec{Name: name, Link: l}); err != nil {
					b.Fatal(err)
				}
			}
			(&testBridge{Bridge: br, t: b}).flows("actions=output:2")
			pr := newProc(br, br.ports.Load().byNo(1), 1, true)
			b.ReportAllocs()
			b.SetBytes(int64(len(super)))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				n := copy(pr.bufs[0][link.Headroom:], super)
				pr.sizes[0], pr.off.hdrs[0] = n, h
				pr.batch(1)
			}
		})
	}
}
