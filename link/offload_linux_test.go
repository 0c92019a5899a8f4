package link

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"
)

// udpFrame builds an Ethernet/IPv4/UDP frame, with tags VLAN tags, whose
// UDP checksum field holds the folded pseudo-header sum, as the kernel
// leaves it for CHECKSUM_PARTIAL.
func udpFrame(payload string, tags int) []byte {
	f := ethHeader([6]byte{2, 0, 0, 0, 0, 2}, testMAC, 0x0800)
	for i := 0; i < tags; i++ {
		f = append(f[:12], append([]byte{0x81, 0x00, 0x00, byte(10 + i)}, f[12:]...)...)
	}
	ulen := 8 + len(payload)
	ip := []byte{0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, ipProtoUDP, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2}
	binary.BigEndian.PutUint16(ip[2:], uint16(20+ulen))
	binary.BigEndian.PutUint16(ip[10:], csum(ip))
	udp := []byte{0x30, 0x39, 0x27, 0x0f, 0, 0, 0, 0}
	binary.BigEndian.PutUint16(udp[4:], uint16(ulen))
	pseudo := append(append([]byte{}, ip[12:20]...), 0, ipProtoUDP, byte(ulen>>8), byte(ulen))
	binary.BigEndian.PutUint16(udp[6:], fold(sum16(pseudo)))
	return append(append(append(f, ip...), udp...), payload...)
}

// tcp6Frame is the same for TCP over IPv6.
func tcp6Frame(payload string) []byte {
	f := ethHeader([6]byte{2, 0, 0, 0, 0, 2}, testMAC, 0x86dd)
	l := 20 + len(payload)
	ip := make([]byte, 40)
	ip[0] = 0x60
	binary.BigEndian.PutUint16(ip[4:], uint16(l))
	ip[6], ip[7] = ipProtoTCP, 64
	copy(ip[8:], netip.MustParseAddr("fd00::1").AsSlice())
	copy(ip[24:], netip.MustParseAddr("fd00::2").AsSlice())
	tcp := make([]byte, 20)
	tcp[12] = 5 << 4
	pseudo := append(append([]byte{}, ip[8:40]...), 0, 0, byte(l>>8), byte(l), 0, 0, 0, ipProtoTCP)
	binary.BigEndian.PutUint16(tcp[16:], fold(sum16(pseudo)))
	return append(append(append(f, ip...), tcp...), payload...)
}

// l4 finds, the slow and obvious way, the pseudo-header (RFC 768, RFC
// 8200 section 8.1), the transport segment and the checksum offset in it of
// a frame completeChecksum accepted.
func l4(f []byte) (pseudo, seg []byte, at int) {
	off := 12
	for t := binary.BigEndian.Uint16(f[off:]); t == etherTypeVLAN || t == etherTypeQinQ; t = binary.BigEndian.Uint16(f[off:]) {
		off += 4
	}
	typ := binary.BigEndian.Uint16(f[off:])
	ip := f[off+2:]
	var proto byte
	if typ == etherTypeIPv4 {
		seg = ip[int(ip[0]&0xf)*4 : binary.BigEndian.Uint16(ip[2:])]
		proto = ip[9]
		pseudo = append(append([]byte{}, ip[12:20]...), 0, proto, byte(len(seg)>>8), byte(len(seg)))
	} else {
		seg = ip[40 : 40+int(binary.BigEndian.Uint16(ip[4:]))]
		proto = ip[6]
		pseudo = append(append([]byte{}, ip[8:40]...), 0, 0, byte(len(seg)>>8), byte(len(seg)), 0, 0, 0, proto)
	}
	at = udpChecksumOff
	if proto == ipProtoTCP {
		at = tcpChecksumOff
	}
	return pseudo, seg, at
}

// verifyL4 checks a frame's transport checksum: pseudo-header plus
// segment must sum to 0xffff.
func verifyL4(t *testing.T, f []byte) {
	t.Helper()
	pseudo, seg, _ := l4(f)
	if c := csum(append(pseudo, seg...)); c != 0 {
		t.Errorf("checksum does not verify (residue %#04x): % x", c, f)
	}
}

func TestCompleteChecksum(t *testing.T) {
	tests := []struct {
		name  string
		frame []byte
		want  bool
	}{
		{"udp", udpFrame("hello", 0), true},
		{"udp odd length", udpFrame("hello!!", 0), true},
		{"udp empty", udpFrame("", 0), true},
		{"udp vlan", udpFrame("tagged", 1), true},
		{"udp qinq", udpFrame("double tagged", 2), true},
		{"tcp ipv6", tcp6Frame("segment"), true},
		{"udp padded to 60 bytes", append(udpFrame("x", 0), make([]byte, 16)...), true},
		{"arp", arpRequest(testMAC, netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")), false},
		{"truncated ip", udpFrame("hello", 0)[:30], false},
		{"short", []byte{1, 2, 3}, false},
	}
	for _, tc := range tests {
		f := append([]byte(nil), tc.frame...)
		if got := completeChecksum(f); got != tc.want {
			t.Errorf("%s: completeChecksum = %v, want %v", tc.name, got, tc.want)
			continue
		}
		if tc.want {
			verifyL4(t, f)
		} else if !bytes.Equal(f, tc.frame) {
			t.Errorf("%s: frame changed although completeChecksum returned false", tc.name)
		}
	}
	f := udpFrame("x", 0)
	if a := testing.AllocsPerRun(100, func() { completeChecksum(f) }); a != 0 {
		t.Errorf("completeChecksum: %v allocs, want 0", a)
	}
}

func TestInsertVLAN(t *testing.T) {
	f := udpFrame("payload", 0)
	buf := make([]byte, len(f)+4)
	copy(buf, f)
	n, ok := insertVLAN(buf, len(f), etherTypeVLAN, 0x2064)
	want := append(append(append([]byte{}, f[:12]...), 0x81, 0x00, 0x20, 0x64), f[12:]...)
	if !ok || !bytes.Equal(buf[:n], want) {
		t.Errorf("insertVLAN = %v, % x; want % x", ok, buf[:n], want)
	}
	if _, ok := insertVLAN(buf, len(buf)-3, etherTypeVLAN, 1); ok {
		t.Errorf("insertVLAN without room succeeded")
	}
	if _, ok := insertVLAN(buf, 13, etherTypeVLAN, 1); ok {
		t.Errorf("insertVLAN of a 13-byte frame succeeded")
	}
}

func TestParseAuxdata(t *testing.T) {
	cmsg := func(level, typ int32, data []byte) []byte {
		b := make([]byte, 16, 16+len(data)+8)
		binary.NativeEndian.PutUint64(b, uint64(16+len(data)))
		binary.NativeEndian.PutUint32(b[8:], uint32(level))
		binary.NativeEndian.PutUint32(b[12:], uint32(typ))
		b = append(b, data...)
		for len(b)%8 != 0 {
			b = append(b, 0)
		}
		return b
	}
	aux := make([]byte, 20)
	binary.NativeEndian.PutUint32(aux, 0x18) // CSUMNOTREADY|VLAN_VALID
	binary.NativeEndian.PutUint16(aux[16:], 0x0064)
	binary.NativeEndian.PutUint16(aux[18:], 0x88a8)
	tests := []struct {
		name   string
		b      []byte
		status uint32
		ok     bool
	}{
		{"auxdata", cmsg(263, 8, aux), 0x18, true},
		{"after another message", append(cmsg(1, 29, make([]byte, 12)), cmsg(263, 8, aux)...), 0x18, true},
		{"other message only", cmsg(1, 29, make([]byte, 12)), 0, false},
		{"truncated", cmsg(263, 8, aux)[:30], 0, false},
		{"empty", nil, 0, false},
	}
	for _, tc := range tests {
		status, tci, tpid, ok := parseAuxdata(tc.b)
		if ok != tc.ok || status != tc.status || (ok && (tci != 0x64 || tpid != 0x88a8)) {
			t.Errorf("%s: parseAuxdata = %#x, %#x, %#x, %v; want %#x, 0x64, 0x88a8, %v", tc.name, status, tci, tpid, ok, tc.status, tc.ok)
		}
	}
}

// FuzzCompleteChecksum feeds arbitrary frames, as a peer could send them:
// completeChecksum must not panic, and for any frame it accepts, once the
// checksum field holds the pseudo-header sum (what CHECKSUM_PARTIAL
// means), the completed checksum must verify.
func FuzzCompleteChecksum(f *testing.F) {
	f.Add(udpFrame("hello", 0))
	f.Add(udpFrame("tagged", 2))
	f.Add(tcp6Frame("segment"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if !completeChecksum(b) {
			return
		}
		pseudo, seg, at := l4(b)
		binary.BigEndian.PutUint16(seg[at:], fold(sum16(pseudo)))
		if !completeChecksum(b) {
			t.Fatalf("completeChecksum accepted % x once, then refused it", b)
		}
		verifyL4(t, b)
	})
}

// FuzzParseAuxdata feeds arbitrary control messages.
func FuzzParseAuxdata(f *testing.F) {
	f.Add(make([]byte, 40))
	f.Add([]byte{36, 0, 0, 0, 0, 0, 0, 0, 7, 1, 0, 0, 8, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) { parseAuxdata(b) })
}
