package packet

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// Offsets of the headers in the untagged frames the builders make.
const (
	l3   = EthernetMinimumSize
	l4v4 = l3 + IPv4MinimumSize
	l4v6 = l3 + IPv6MinimumSize
)

var (
	tcp4 = func() []byte {
		return TCPSegment(macA, macB, ap("10.0.0.1:1234"), ap("10.0.0.2:80"), TCPFlagSYN, []byte("abc"))
	}
	udp4  = func() []byte { return UDPDatagram(macA, macB, ap("10.0.0.1:1234"), ap("10.0.0.2:80"), []byte("abc")) }
	icmp4 = func() []byte { return ICMPEcho(macA, macB, ip("10.0.0.1"), ip("10.0.0.2"), 1, 2, []byte("abc"), false) }
	tcp6  = func() []byte {
		return TCPSegment(macA, macB, ap("[fd00::1]:1234"), ap("[fd00::2]:80"), TCPFlagSYN, []byte("abc"))
	}
	udp6  = func() []byte { return UDPDatagram(macA, macB, ap("[fd00::1]:1234"), ap("[fd00::2]:80"), []byte("abc")) }
	icmp6 = func() []byte { return ICMPEcho(macA, macB, ip("fd00::1"), ip("fd00::2"), 1, 2, []byte("abc"), false) }
	sctp4 = func() []byte {
		return SCTPPacket(macA, macB, ap("10.0.0.1:5000"), ap("10.0.0.2:5001"), 9, []byte{14, 0, 0, 4})
	}
	arp = func() []byte { return ARPRequest(macA, ip("10.0.0.1"), ip("10.0.0.2")) }
)

// edit applies view changes to a fresh frame and recomputes every checksum:
// the slow, obvious way to get the frame a mutator must produce.
func edit(f []byte, change func(f []byte)) []byte {
	change(f)
	FixChecksums(f)
	return f
}

func a4(s string) [4]byte   { return ip(s).As4() }
func a16(s string) [16]byte { return ip(s).As16() }

func zeroUDPChecksum(f []byte, l4 int) []byte { UDP(f[l4:]).SetChecksum(0); return f }

func TestMutators(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		mut  func(f []byte) []byte
		want []byte
	}{
		{"eth src", tcp4(), func(f []byte) []byte { SetEthSrc(f, macB); return f }, TCPSegment(macB, macB, ap("10.0.0.1:1234"), ap("10.0.0.2:80"), TCPFlagSYN, []byte("abc"))},
		{"eth dst", tcp4(), func(f []byte) []byte { SetEthDst(f, macA); return f }, TCPSegment(macA, macA, ap("10.0.0.1:1234"), ap("10.0.0.2:80"), TCPFlagSYN, []byte("abc"))},
		{"ipv4 src tcp", tcp4(), func(f []byte) []byte { SetIPv4Src(f, l3, a4("192.168.7.9")); return f }, TCPSegment(macA, macB, ap("192.168.7.9:1234"), ap("10.0.0.2:80"), TCPFlagSYN, []byte("abc"))},
		{"ipv4 dst tcp", tcp4(), func(f []byte) []byte { SetIPv4Dst(f, l3, a4("172.16.255.1")); return f }, TCPSegment(macA, macB, ap("10.0.0.1:1234"), ap("172.16.255.1:80"), TCPFlagSYN, []byte("abc"))},
		{"ipv4 src udp", udp4(), func(f []byte) []byte { SetIPv4Src(f, l3, a4("1.2.3.4")); return f }, UDPDatagram(macA, macB, ap("1.2.3.4:1234"), ap("10.0.0.2:80"), []byte("abc"))},
		{"ipv4 dst udp", udp4(), func(f []byte) []byte { SetIPv4Dst(f, l3, a4("255.255.255.255")); return f }, UDPDatagram(macA, macB, ap("10.0.0.1:1234"), ap("255.255.255.255:80"), []byte("abc"))},
		{"ipv4 src udp no checksum", zeroUDPChecksum(udp4(), l4v4), func(f []byte) []byte { SetIPv4Src(f, l3, a4("1.2.3.4")); return f }, zeroUDPChecksum(UDPDatagram(macA, macB, ap("1.2.3.4:1234"), ap("10.0.0.2:80"), []byte("abc")), l4v4)},
		{"ipv4 src icmp", icmp4(), func(f []byte) []byte { SetIPv4Src(f, l3, a4("9.9.9.9")); return f }, ICMPEcho(macA, macB, ip("9.9.9.9"), ip("10.0.0.2"), 1, 2, []byte("abc"), false)},
		{"ipv4 same src", tcp4(), func(f []byte) []byte { SetIPv4Src(f, l3, a4("10.0.0.1")); return f }, tcp4()},
		{"ipv4 tos keeps ecn", edit(tcp4(), func(f []byte) { IPv4(f[l3:]).SetTOS(0x03) }), func(f []byte) []byte { SetIPv4TOS(f, l3, 0xb8|0x01); return f }, edit(tcp4(), func(f []byte) { IPv4(f[l3:]).SetTOS(0xbb) })},
		{"ipv4 ecn keeps dscp", edit(tcp4(), func(f []byte) { IPv4(f[l3:]).SetTOS(0xb8) }), func(f []byte) []byte { SetIPv4ECN(f, l3, 0xfe); return f }, edit(tcp4(), func(f []byte) { IPv4(f[l3:]).SetTOS(0xba) })},
		{"ipv4 ttl", tcp4(), func(f []byte) []byte { SetIPv4TTL(f, l3, 1); return f }, edit(tcp4(), func(f []byte) { IPv4(f[l3:]).SetTTL(1) })},
		{"dec ttl", tcp4(), func(f []byte) []byte { DecTTL(f, l3); return f }, edit(tcp4(), func(f []byte) { IPv4(f[l3:]).SetTTL(63) })},
		{"dec ttl at 1", edit(tcp4(), func(f []byte) { IPv4(f[l3:]).SetTTL(1) }), func(f []byte) []byte { DecTTL(f, l3); return f }, edit(tcp4(), func(f []byte) { IPv4(f[l3:]).SetTTL(1) })},
		{"dec hop limit", tcp6(), func(f []byte) []byte { DecHopLimit(f, l3); return f }, edit(tcp6(), func(f []byte) { IPv6(f[l3:]).SetHopLimit(63) })},
		{"tcp src port", tcp4(), func(f []byte) []byte { SetL4Src(f, l3, l4v4, ProtoTCP, 40000); return f }, TCPSegment(macA, macB, ap("10.0.0.1:40000"), ap("10.0.0.2:80"), TCPFlagSYN, []byte("abc"))},
		{"tcp dst port", tcp4(), func(f []byte) []byte { SetL4Dst(f, l3, l4v4, ProtoTCP, 8080); return f }, TCPSegment(macA, macB, ap("10.0.0.1:1234"), ap("10.0.0.2:8080"), TCPFlagSYN, []byte("abc"))},
		{"udp src port", udp4(), func(f []byte) []byte { SetL4Src(f, l3, l4v4, ProtoUDP, 65535); return f }, UDPDatagram(macA, macB, ap("10.0.0.1:65535"), ap("10.0.0.2:80"), []byte("abc"))},
		{"udp dst port no checksum", zeroUDPChecksum(udp4(), l4v4), func(f []byte) []byte { SetL4Dst(f, l3, l4v4, ProtoUDP, 5300); return f }, zeroUDPChecksum(UDPDatagram(macA, macB, ap("10.0.0.1:1234"), ap("10.0.0.2:5300"), []byte("abc")), l4v4)},
		{"udp6 dst port", udp6(), func(f []byte) []byte { SetL4Dst(f, l3, l4v6, ProtoUDP, 5300); return f }, UDPDatagram(macA, macB, ap("[fd00::1]:1234"), ap("[fd00::2]:5300"), []byte("abc"))},
		{"sctp src port", sctp4(), func(f []byte) []byte { SetL4Src(f, l3, l4v4, ProtoSCTP, 7); return f }, SCTPPacket(macA, macB, ap("10.0.0.1:7"), ap("10.0.0.2:5001"), 9, []byte{14, 0, 0, 4})},
		{"sctp dst port", sctp4(), func(f []byte) []byte { SetL4Dst(f, l3, l4v4, ProtoSCTP, 8); return f }, SCTPPacket(macA, macB, ap("10.0.0.1:5000"), ap("10.0.0.2:8"), 9, []byte{14, 0, 0, 4})},
		{"icmp type", icmp4(), func(f []byte) []byte { SetL4Src(f, l3, l4v4, ProtoICMP, ICMPv4EchoReply); return f }, ICMPEcho(macA, macB, ip("10.0.0.1"), ip("10.0.0.2"), 1, 2, []byte("abc"), true)},
		{"icmp code", icmp4(), func(f []byte) []byte { SetL4Dst(f, l3, l4v4, ProtoICMP, 3); return f }, edit(icmp4(), func(f []byte) { ICMPv4(f[l4v4:]).SetCode(3) })},
		{"icmpv6 type", icmp6(), func(f []byte) []byte { SetL4Src(f, l3, l4v6, ProtoICMPv6, ICMPv6EchoReply); return f }, ICMPEcho(macA, macB, ip("fd00::1"), ip("fd00::2"), 1, 2, []byte("abc"), true)},
		{"ipv6 src tcp", tcp6(), func(f []byte) []byte { SetIPv6Src(f, l3, a16("2001:db8::77")); return f }, TCPSegment(macA, macB, ap("[2001:db8::77]:1234"), ap("[fd00::2]:80"), TCPFlagSYN, []byte("abc"))},
		{"ipv6 dst tcp", tcp6(), func(f []byte) []byte { SetIPv6Dst(f, l3, a16("ff02::1")); return f }, TCPSegment(macA, macB, ap("[fd00::1]:1234"), ap("[ff02::1]:80"), TCPFlagSYN, []byte("abc"))},
		{"ipv6 src udp", udp6(), func(f []byte) []byte { SetIPv6Src(f, l3, a16("::ffff:1.2.3.4")); return f }, UDPDatagram(macA, macB, ap("[::ffff:1.2.3.4]:1234"), ap("[fd00::2]:80"), []byte("abc"))},
		{"ipv6 dst icmpv6", icmp6(), func(f []byte) []byte { SetIPv6Dst(f, l3, a16("fe80::1")); return f }, ICMPEcho(macA, macB, ip("fd00::1"), ip("fe80::1"), 1, 2, []byte("abc"), false)},
		{"ipv6 tos", tcp6(), func(f []byte) []byte { SetIPv6TOS(f, l3, 0x2e<<2); return f }, edit(tcp6(), func(f []byte) { IPv6(f[l3:]).SetTrafficClass(0xb8) })},
		{"ipv6 ecn", tcp6(), func(f []byte) []byte { SetIPv6ECN(f, l3, 3); return f }, edit(tcp6(), func(f []byte) { IPv6(f[l3:]).SetTrafficClass(3) })},
		{"ipv6 label", tcp6(), func(f []byte) []byte { SetIPv6Label(f, l3, 0x12345); return f }, edit(tcp6(), func(f []byte) { IPv6(f[l3:]).SetFlowLabel(0x12345) })},
		{"ipv6 hop limit", tcp6(), func(f []byte) []byte { SetIPv6HopLimit(f, l3, 9); return f }, edit(tcp6(), func(f []byte) { IPv6(f[l3:]).SetHopLimit(9) })},
		{"arp op", arp(), func(f []byte) []byte { SetARPOp(f, l3, ARPOpReply); return f }, ARPFrame(ARPOpReply, macA, ip("10.0.0.1"), MAC{}, ip("10.0.0.2"), Broadcast)},
		{"arp sha", arp(), func(f []byte) []byte { SetARPSha(f, l3, macB); return f }, edit(arp(), func(f []byte) { ARP(f[l3:]).SetSHA(macB) })},
		{"arp spa", arp(), func(f []byte) []byte { SetARPSpa(f, l3, a4("10.9.9.9")); return f }, ARPRequest(macA, ip("10.9.9.9"), ip("10.0.0.2"))},
		{"arp tha", arp(), func(f []byte) []byte { SetARPTha(f, l3, macB); return f }, ARPFrame(ARPOpRequest, macA, ip("10.0.0.1"), macB, ip("10.0.0.2"), Broadcast)},
		{"arp tpa", arp(), func(f []byte) []byte { SetARPTpa(f, l3, a4("10.0.0.3")); return f }, ARPRequest(macA, ip("10.0.0.1"), ip("10.0.0.3"))},
		{"pop vlan", Tagged(tcp4(), 0x2005), PopVLAN, tcp4()},
		{"pop untagged", tcp4(), PopVLAN, tcp4()},
		{"pop outer of two", TaggedTPID(Tagged(tcp4(), 10), EtherTypeQinQ, 20), PopVLAN, Tagged(tcp4(), 10)},
		{"set vlan tci", Tagged(tcp4(), 0x2005), func(f []byte) []byte { SetVLANTCI(f, 0xe0ff); return f }, Tagged(tcp4(), 0xe0ff)},
		{"set vlan tci untagged", tcp4(), func(f []byte) []byte { SetVLANTCI(f, 0xe0ff); return f }, tcp4()},
		{"push vlan", tcp4(), pushVLAN(EtherTypeVLAN, 0x0064), Tagged(tcp4(), 0x0064)},
		{"push s-tag", Tagged(tcp4(), 0x0064), pushVLAN(EtherTypeQinQ, 0x00c8), TaggedTPID(Tagged(tcp4(), 0x0064), EtherTypeQinQ, 0x00c8)},
		{"short frame untouched", tcp4()[:l3+10], func(f []byte) []byte { SetIPv4Src(f, l3, a4("1.1.1.1")); DecTTL(f, l3); return f }, tcp4()[:l3+10]},
		{"offset none untouched", tcp4(), func(f []byte) []byte {
			SetIPv4Src(f, 0xffff, a4("1.1.1.1"))
			SetL4Src(f, l3, 0xffff, ProtoTCP, 1)
			return f
		}, tcp4()},
	}
	for _, tt := range tests {
		got := tt.mut(tt.in)
		if !bytes.Equal(got, tt.want) {
			t.Errorf("%s:\n got % x\nwant % x", tt.name, got, tt.want)
			continue
		}
		if len(got) > l3+10 {
			decode(t, got)
		}
	}
}

// pushVLAN returns a mutator that pushes a tag into headroom, the way the
// bridge does with link.Headroom bytes in front of every frame.
func pushVLAN(tpid, tci uint16) func(f []byte) []byte {
	return func(f []byte) []byte {
		buf := make([]byte, 64+len(f))
		copy(buf[64:], f)
		start := PushVLAN(buf, 64, tpid, tci)
		if start != 60 {
			return nil
		}
		return buf[start:]
	}
}

func TestMutatorResults(t *testing.T) {
	f := edit(tcp4(), func(f []byte) { IPv4(f[l3:]).SetTTL(2) })
	if !DecTTL(f, l3) || IPv4(f[l3:]).TTL() != 1 {
		t.Errorf("DecTTL(ttl 2) = false or ttl %d, want true and 1", IPv4(f[l3:]).TTL())
	}
	if DecTTL(f, l3) {
		t.Errorf("DecTTL(ttl 1) = true, want false")
	}
	if DecTTL(f[:l3+19], l3) {
		t.Errorf("DecTTL(truncated) = true, want false")
	}
	if got := PushVLAN(make([]byte, 20), 3, EtherTypeVLAN, 1); got != -1 {
		t.Errorf("PushVLAN(3 bytes headroom) = %d, want -1", got)
	}
	// A UDP checksum whose update would be zero is sent as 0xffff (RFC 768).
	u := udp4()
	c := UDP(u[l4v4:]).Checksum()
	port := UDP(u[l4v4:]).SrcPort()
	// Choose the new port so that the one's complement sum flips to zero:
	// ~c' = ~c + ~old + new = 0xffff  <=>  new = c + old (one's complement).
	SetL4Src(u, l3, l4v4, ProtoUDP, Add(c, port))
	if got := UDP(u[l4v4:]).Checksum(); got != 0xffff {
		t.Errorf("UDP checksum after a zero-yielding update = %#x, want 0xffff", got)
	}
	decode(t, u)
}

// TestMutatorChecksumsOracle applies mutators with random values and checks
// each result against FixChecksums, the full recomputation.
func TestMutatorChecksumsOracle(t *testing.T) {
	frames := [][]byte{tcp4(), udp4(), icmp4(), tcp6(), udp6(), icmp6()}
	for i := range 3000 {
		base := frames[i%len(frames)]
		f := append([]byte(nil), base...)
		v := uint32(i)*2654435761 + 12345
		v6 := base[l3]>>4 == 6
		l4, proto := l4v4, IPv4(f[l3:]).Protocol()
		if v6 {
			l4, proto = l4v6, IPv6(f[l3:]).NextHeader()
		}
		switch (i / len(frames)) % 5 {
		case 0:
			if v6 {
				var a [16]byte
				binary.BigEndian.PutUint32(a[12:], v)
				SetIPv6Src(f, l3, a)
			} else {
				SetIPv4Src(f, l3, [4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
			}
		case 1:
			if v6 {
				var a [16]byte
				binary.BigEndian.PutUint32(a[4:], v)
				SetIPv6Dst(f, l3, a)
			} else {
				SetIPv4Dst(f, l3, [4]byte{byte(v), byte(v >> 8), byte(v >> 16), byte(v >> 24)})
			}
		case 2:
			SetL4Src(f, l3, l4, proto, uint16(v))
		case 3:
			SetL4Dst(f, l3, l4, proto, uint16(v>>16))
		default:
			if !v6 {
				SetIPv4TOS(f, l3, uint8(v))
				SetIPv4TTL(f, l3, uint8(v>>8))
			}
		}
		want := append([]byte(nil), f...)
		FixChecksums(want)
		if !bytes.Equal(f, want) && !sameUpToZero(f, want) {
			t.Fatalf("case %d: incremental\n% x\nfull\n% x", i, f, want)
		}
	}
}

// sameUpToZero reports whether a and b differ only in a 16-bit checksum being
// 0x0000 in one and 0xffff in the other, the two zeros of one's complement.
func sameUpToZero(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if a[i] != b[i] {
			if i+1 >= len(a) || a[i]^b[i] != 0xff || a[i+1]^b[i+1] != 0xff || (a[i] != 0 && a[i] != 0xff) {
				return false
			}
			i++
		}
	}
	return true
}

func TestGopacketCatchesBadChecksum(t *testing.T) {
	// decode must be able to fail, or the tests above prove nothing.
	f := tcp4()
	f[len(f)-1] ^= 1
	if bad, err := verifyChecksums(gopacketNew(f)); err != nil || len(bad) == 0 {
		t.Errorf("gopacket accepted a corrupted TCP payload: err %v mismatches %v", err, bad)
	}
}

func TestMutatorsAllocs(t *testing.T) {
	f := tcp4()
	n := testing.AllocsPerRun(100, func() {
		SetIPv4Src(f, l3, a4("10.0.0.9"))
		SetIPv4Src(f, l3, a4("10.0.0.1"))
		SetL4Dst(f, l3, l4v4, ProtoTCP, 81)
		DecTTL(f, l3)
		SetIPv4TTL(f, l3, 64)
		SetEthSrc(f, macB)
	})
	if n != 0 {
		t.Errorf("mutators allocate %v times per run, want 0", n)
	}
}

func BenchmarkSetIPv4SrcTCP(b *testing.B) {
	f := tcp4()
	addrs := [2][4]byte{a4("10.0.0.9"), a4("10.0.0.1")}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		SetIPv4Src(f, l3, addrs[i&1])
		i++
	}
}

func BenchmarkPushPopVLAN(b *testing.B) {
	buf := make([]byte, 64+len(tcp4()))
	copy(buf[64:], tcp4())
	b.ReportAllocs()
	for b.Loop() {
		s := PushVLAN(buf, 64, EtherTypeVLAN, 100)
		PopVLAN(buf[s:])
	}
}
