package packet

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// superFrame builds a TCP super-frame as the kernel hands one to a TAP with
// TSO: one header, payload bytes of payload, a partial checksum (the
// pseudo-header sum over the whole length) and a virtio header.
func superFrame(t testing.TB, v6 bool, vlan bool, payload int, flags uint16, mss uint16) ([]byte, VnetHdr) {
	t.Helper()
	data := make([]byte, payload)
	for i := range data {
		data[i] = byte(i*7 + i>>8)
	}
	src, dst := netip.MustParseAddrPort("10.0.0.1:40000"), netip.MustParseAddrPort("10.0.0.2:5201")
	typ := uint8(GSOTCPv4)
	if v6 {
		src, dst = netip.MustParseAddrPort("[fd00::1]:40000"), netip.MustParseAddrPort("[fd00::2]:5201")
		typ = GSOTCPv6
	}
	f := TCPSegment(MustMAC("02:00:00:00:00:01"), MustMAC("02:00:00:00:00:02"), src, dst, flags, data)
	if vlan {
		f = Tagged(f, 100)
	}
	l4 := 14 + 20
	if v6 {
		l4 = 14 + 40
	}
	if vlan {
		l4 += 4
	}
	binary.BigEndian.PutUint32(f[l4+4:], 0xfffff000) // sequence numbers wrap inside the frame
	if !v6 {
		binary.BigEndian.PutUint16(f[l4-20+4:], 0xfffe) // so do IPv4 IDs
	}
	// The kernel leaves ~pseudo-header sum in the field (CHECKSUM_PARTIAL).
	tlen := len(f) - l4
	var ph uint16
	if v6 {
		ph = PseudoHeaderSum(ProtoTCP, f[l4-32:l4-16], f[l4-16:l4], uint32(tlen))
	} else {
		ph = PseudoHeaderSum(ProtoTCP, f[l4-8:l4-4], f[l4-4:l4], uint32(tlen))
	}
	binary.BigEndian.PutUint16(f[l4+16:], ph)
	return f, VnetHdr{Flags: VnetNeedsCsum, GSOType: typ, HdrLen: uint16(l4 + 20), GSOSize: mss, CsumStart: uint16(l4), CsumOffset: 16}
}

func TestSegment(t *testing.T) {
	fin := uint16(TCPFlagACK | TCPFlagPSH | TCPFlagFIN | TCPFlagCWR)
	for _, tc := range []struct {
		name    string
		v6      bool
		vlan    bool
		payload int
		mss     uint16
		flags   uint16
		segs    int
	}{
		{"v4 64k", false, false, 65000, 1448, fin, 45},
		{"v4 exact multiple", false, false, 1448 * 4, 1448, TCPFlagACK, 4},
		{"v4 one segment", false, false, 100, 1448, TCPFlagACK | TCPFlagPSH, 1},
		{"v4 no payload", false, false, 0, 1448, TCPFlagACK, 1},
		{"v4 vlan", false, true, 10000, 1448, fin, 7},
		{"v6 64k", true, false, 64000, 1428, fin, 45},
		{"v6 vlan", true, true, 3000, 1000, TCPFlagACK, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, h := superFrame(t, tc.v6, tc.vlan, tc.payload, tc.flags, tc.mss)
			n, total, err := GSOSegments(&h, f)
			if err != nil || n != tc.segs {
				t.Fatalf("GSOSegments = %d, %d, %v; want %d segments", n, total, err, tc.segs)
			}
			dst, segs := make([]byte, total), make([][]byte, n)
			if got, err := Segment(&h, f, dst, segs); err != nil || got != n {
				t.Fatalf("Segment = %d, %v; want %d", got, err, n)
			}
			checkSegments(t, f, segs, tc.flags, tc.mss)
			if a := testing.AllocsPerRun(20, func() { _, _ = Segment(&h, f, dst, segs) }); a != 0 {
				t.Errorf("Segment allocates %v times", a)
			}
		})
	}
}

// checkSegments decodes the super-frame and each segment with gopacket and
// checks what a receiver would: payload bytes in order, sequence numbers,
// lengths, flags, IP IDs and valid checksums.
func checkSegments(t *testing.T, super []byte, segs [][]byte, flags uint16, mss uint16) {
	t.Helper()
	sp := gopacket.NewPacket(super, layers.LayerTypeEthernet, gopacket.Default)
	stcp := sp.Layer(layers.LayerTypeTCP).(*layers.TCP)
	var sid uint16
	if ip, ok := sp.Layer(layers.LayerTypeIPv4).(*layers.IPv4); ok {
		sid = ip.Id
	}
	var joined []byte
	for i, s := range segs {
		p := gopacket.NewPacket(s, layers.LayerTypeEthernet, gopacket.Default)
		if el := p.ErrorLayer(); el != nil {
			t.Fatalf("segment %d: gopacket: %v", i, el.Error())
		}
		tcp := p.Layer(layers.LayerTypeTCP).(*layers.TCP)
		if c, err := tcpResidue(p, tcp); err != nil || c != 0 {
			t.Errorf("segment %d: TCP checksum %#04x invalid (residue %#04x, %v)", i, tcp.Checksum, c, err)
		}
		if want := stcp.Seq + uint32(len(joined)); tcp.Seq != want {
			t.Errorf("segment %d: seq %d, want %d", i, tcp.Seq, want)
		}
		if len(tcp.Payload) > int(mss) || i < len(segs)-1 && len(tcp.Payload) != int(mss) {
			t.Errorf("segment %d: %d payload bytes with gso_size %d", i, len(tcp.Payload), mss)
		}
		last, first := i == len(segs)-1, i == 0
		if tcp.FIN != (last && flags&TCPFlagFIN != 0) || tcp.PSH != (last && flags&TCPFlagPSH != 0) ||
			tcp.CWR != (first && flags&TCPFlagCWR != 0) || !tcp.ACK {
			t.Errorf("segment %d: flags FIN=%v PSH=%v CWR=%v ACK=%v", i, tcp.FIN, tcp.PSH, tcp.CWR, tcp.ACK)
		}
		if ip, ok := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4); ok {
			if int(ip.Length) != len(ip.Contents)+len(ip.Payload) || ip.Id != sid+uint16(i) || rfc1071(ip.Contents) != 0 {
				t.Errorf("segment %d: IPv4 length %d id %d checksum %#04x", i, ip.Length, ip.Id, ip.Checksum)
			}
		}
		if ip, ok := p.Layer(layers.LayerTypeIPv6).(*layers.IPv6); ok && int(ip.Length) != len(ip.Payload) {
			t.Errorf("segment %d: IPv6 payload length %d, carries %d", i, ip.Length, len(ip.Payload))
		}
		joined = append(joined, tcp.Payload...)
	}
	if !bytes.Equal(joined, stcp.Payload) {
		t.Errorf("segments carry %d payload bytes, differing from the super-frame's %d", len(joined), len(stcp.Payload))
	}
}

// tcpResidue is gopacket's checksum over the segment as it is: 0 when the
// stored checksum is right.
func tcpResidue(p gopacket.Packet, tcp *layers.TCP) (uint16, error) {
	if err := tcp.SetNetworkLayerForChecksum(p.NetworkLayer()); err != nil {
		return 0, err
	}
	return tcp.ComputeChecksum()
}

// rfc1071 is an independent Internet checksum: 0 over a header whose
// checksum field is right.
func rfc1071(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	return ^uint16(s)
}

func TestCompleteChecksum(t *testing.T) {
	f, h := superFrame(t, false, false, 999, TCPFlagACK, 1448)
	h.GSOType, h.GSOSize = GSONone, 0
	if err := CompleteChecksum(&h, f); err != nil {
		t.Fatal(err)
	}
	p := gopacket.NewPacket(f, layers.LayerTypeEthernet, gopacket.Default)
	tcp := p.Layer(layers.LayerTypeTCP).(*layers.TCP)
	if c, err := tcpResidue(p, tcp); err != nil || c != 0 {
		t.Errorf("CompleteChecksum: TCP checksum %#04x invalid (residue %#04x)", tcp.Checksum, c)
	}
	if a := testing.AllocsPerRun(20, func() { _ = CompleteChecksum(&h, f) }); a != 0 {
		t.Errorf("CompleteChecksum allocates %v times", a)
	}
}

func TestVnetHdrErrors(t *testing.T) {
	f, good := superFrame(t, false, false, 3000, TCPFlagACK, 1000)
	for _, tc := range []struct {
		name  string
		mod   func(h *VnetHdr)
		field string
	}{
		{"gso_size zero", func(h *VnetHdr) { h.GSOSize = 0 }, "gso_size"},
		{"udp gso", func(h *VnetHdr) { h.GSOType = GSOUDPL4 }, "gso_type"},
		{"v6 type on v4", func(h *VnetHdr) { h.GSOType = GSOTCPv6 }, "gso_type"},
		{"csum_start elsewhere", func(h *VnetHdr) { h.CsumStart = 20 }, "csum_start"},
		{"csum_offset wrong", func(h *VnetHdr) { h.CsumOffset = 6 }, "csum_offset"},
	} {
		h := good
		tc.mod(&h)
		_, _, err := GSOSegments(&h, f)
		if err == nil || !bytes.Contains([]byte(err.Error()), []byte(tc.field)) {
			t.Errorf("%s: GSOSegments error %v, want one naming %s", tc.name, err, tc.field)
		}
	}
	for _, tc := range []struct {
		name string
		h    VnetHdr
	}{
		{"csum_start beyond", VnetHdr{Flags: VnetNeedsCsum, CsumStart: 60000}},
		{"csum_offset beyond", VnetHdr{Flags: VnetNeedsCsum, CsumStart: 34, CsumOffset: 60000}},
		{"csum_offset odd", VnetHdr{Flags: VnetNeedsCsum, CsumStart: 34, CsumOffset: 15}},
	} {
		if err := CompleteChecksum(&tc.h, f); !errors.Is(err, ErrVnetHdr) {
			t.Errorf("%s: CompleteChecksum = %v, want ErrVnetHdr", tc.name, err)
		}
	}
	dst := make([]byte, 100)
	if _, err := Segment(&good, f, dst, make([][]byte, 1)); !errors.Is(err, ErrGSO) {
		t.Errorf("Segment into too small a buffer = %v, want ErrGSO", err)
	}
}

func TestVnetHdrRoundTrip(t *testing.T) {
	h := VnetHdr{Flags: 1, GSOType: GSOTCPv6 | GSOECN, HdrLen: 0x1234, GSOSize: 1448, CsumStart: 54, CsumOffset: 16}
	var b [VnetHdrLen]byte
	h.Encode(b[:])
	if got := DecodeVnetHdr(b[:]); got != h {
		t.Errorf("DecodeVnetHdr(Encode(%+v)) = %+v", h, got)
	}
	if !h.IsGSO() || !h.Offloaded() || (&VnetHdr{Flags: VnetDataValid}).Offloaded() {
		t.Errorf("IsGSO/Offloaded wrong for %+v", h)
	}
	h.Shift(4)
	if h.CsumStart != 58 || h.HdrLen != 0x1238 {
		t.Errorf("Shift(4) = %+v", h)
	}
}

// FuzzSegment feeds arbitrary virtio headers and frames, as a kernel or a
// peer might send them: Segment and CompleteChecksum must return an error
// or valid segments, never panic, and never write past the room they asked
// for.
func FuzzSegment(f *testing.F) {
	sf, h := superFrame(f, false, false, 3000, TCPFlagACK|TCPFlagFIN, 1000)
	var hb [VnetHdrLen]byte
	h.Encode(hb[:])
	f.Add(hb[:], sf)
	sf6, h6 := superFrame(f, true, true, 2000, TCPFlagACK, 700)
	h6.Encode(hb[:])
	f.Add(hb[:], sf6)
	f.Fuzz(func(t *testing.T, hdr, frame []byte) {
		if len(hdr) < VnetHdrLen {
			return
		}
		h := DecodeVnetHdr(hdr)
		c := bytes.Clone(frame)
		_ = CompleteChecksum(&h, c)
		n, total, err := GSOSegments(&h, frame)
		if err != nil {
			return
		}
		if n < 1 || total < len(frame) && n > 1 {
			t.Fatalf("GSOSegments = %d, %d for a %d-byte frame", n, total, len(frame))
		}
		dst := make([]byte, total+8)
		segs := make([][]byte, n)
		got, err := Segment(&h, frame, dst[:total], segs)
		if err != nil || got != n {
			t.Fatalf("Segment = %d, %v after GSOSegments said %d", got, err, n)
		}
		var payload int
		for _, s := range segs {
			payload += len(s)
		}
		if payload != total || !bytes.Equal(dst[total:], make([]byte, 8)) {
			t.Fatalf("segments take %d bytes, GSOSegments said %d", payload, total)
		}
	})
}

// BenchmarkSegment cuts a 64 KB TCP super-frame into 45 wire segments.
func BenchmarkSegment(b *testing.B) {
	f, h := superFrame(b, false, false, 65000, TCPFlagACK|TCPFlagPSH, 1448)
	n, total, err := GSOSegments(&h, f)
	if err != nil {
		b.Fatal(err)
	}
	dst, segs := make([]byte, total), make([][]byte, n)
	b.ReportAllocs()
	b.SetBytes(int64(len(f)))
	for i := 0; i < b.N; i++ {
		if _, err := Segment(&h, f, dst, segs); err != nil {
			b.Fatal(err)
		}
	}
}
