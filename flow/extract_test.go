package flow

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"

	"tapestry/packet"
)

var (
	macA = packet.MustMAC("02:00:00:00:00:0a")
	macB = packet.MustMAC("02:00:00:00:00:0b")
	macC = packet.MustMAC("02:00:00:00:00:0c")
)

func ip(s string) netip.Addr     { return netip.MustParseAddr(s) }
func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }
func a4(s string) [4]byte        { return ip(s).As4() }
func a16(s string) [16]byte      { return ip(s).As16() }

const inPort = 7

// key returns the key of a frame from macA to macB with dl_type t, changed by
// each of the edits.
func key(t uint16, edits ...func(*Key)) Key {
	k := Key{InPort: inPort, DlSrc: macA, DlDst: macB, DlType: t}
	for _, e := range edits {
		e(&k)
	}
	return k
}

// Key edits for test tables.
func nw(src, dst string, proto, tos, ttl uint8) func(*Key) {
	return func(k *Key) {
		k.NwSrc, k.NwDst, k.NwProto, k.NwTos, k.NwTTL = a4(src), a4(dst), proto, tos, ttl
	}
}

func nw6(src, dst string, proto, tc, hlim uint8, label uint32) func(*Key) {
	return func(k *Key) {
		k.IPv6Src, k.IPv6Dst, k.NwProto, k.NwTos, k.NwTTL, k.IPv6Label = a16(src), a16(dst), proto, tc, hlim, label
	}
}

func tp(src, dst uint16) func(*Key)     { return func(k *Key) { k.TpSrc, k.TpDst = src, dst } }
func flags(f uint16) func(*Key)         { return func(k *Key) { k.TCPFlags = f } }
func frag(f uint8) func(*Key)           { return func(k *Key) { k.NwFrag = f } }
func tci(v uint16) func(*Key)           { return func(k *Key) { k.VlanTCI = v } }
func dlDst(m packet.MAC) func(*Key)     { return func(k *Key) { k.DlDst = m } }
func lse(v uint32) func(*Key)           { return func(k *Key) { k.MplsLSE = v } }
func arpHW(sha, tha [6]byte) func(*Key) { return func(k *Key) { k.ArpSha, k.ArpTha = sha, tha } }
func arpKey(op uint8, spa, tpa string) func(*Key) {
	return func(k *Key) { k.NwProto, k.NwSrc, k.NwDst = op, a4(spa), a4(tpa) }
}

func offs(mpls, l3, l4 uint16) Offsets { return Offsets{MPLS: mpls, L3: l3, L4: l4} }

const none = OffsetNone

var (
	tcp4  = packet.TCPSegment(macA, macB, ap("10.0.0.1:1234"), ap("10.0.0.2:80"), packet.TCPFlagSYN|packet.TCPFlagECE, []byte("hello"))
	udp4  = packet.UDPDatagram(macA, macB, ap("10.0.0.1:5000"), ap("10.0.0.2:4789"), []byte("x"))
	icmp4 = packet.ICMPEcho(macA, macB, ip("10.0.0.1"), ip("10.0.0.2"), 1, 2, nil, false)
	tcp6  = packet.TCPSegment(macA, macB, ap("[fd00::1]:1234"), ap("[fd00::2]:443"), packet.TCPFlagACK|packet.TCPFlagFIN, nil)
)

// edit returns a copy of f changed by fn, with checksums recomputed.
func edit(f []byte, fn func(f []byte)) []byte {
	f = append([]byte(nil), f...)
	fn(f)
	packet.FixChecksums(f)
	return f
}

// v4 returns a frame carrying an IPv4 packet with protocol proto and l4 bytes.
func v4(proto uint8, l4 []byte) []byte {
	return packet.IPFrame(macA, macB, packet.IPv4Datagram(ip("10.0.0.1"), ip("10.0.0.2"), proto, l4))
}

// v6 returns a frame carrying an IPv6 packet whose payload (extension headers
// included) follows a fixed header with next header next.
func v6(next uint8, payload []byte) []byte {
	return packet.IPFrame(macA, macB, packet.IPv6Datagram(ip("fd00::1"), ip("fd00::2"), next, payload))
}

// ext returns an 8-byte extension header with next header next.
func ext(next uint8) []byte { return []byte{next, 0, 0, 0, 0, 0, 0, 0} }

// fragHdr returns an IPv6 fragment header.
func fragHdr(next uint8, offset uint16, more bool) []byte {
	w := offset << 3
	if more {
		w |= 1
	}
	return []byte{next, 0, byte(w >> 8), byte(w), 0, 0, 0, 1}
}

func cat(bs ...[]byte) []byte {
	var out []byte
	for _, b := range bs {
		out = append(out, b...)
	}
	return out
}

func udpHdr(src, dst uint16) []byte {
	return []byte{byte(src >> 8), byte(src), byte(dst >> 8), byte(dst), 0, 8, 0, 0}
}

// nd returns an ICMPv6 neighbour message of type typ with the given options.
func nd(typ uint8, opts ...[]byte) []byte {
	b := make([]byte, 24)
	b[0] = typ
	return cat(b, cat(opts...))
}

func llOpt(typ uint8, m packet.MAC) []byte { return cat([]byte{typ, 1}, m[:]) }

func TestExtract(t *testing.T) {
	tcp4Key := key(EthTypeIPv4, nw("10.0.0.1", "10.0.0.2", ProtoTCP, 0, 64), tp(1234, 80), flags(packet.TCPFlagSYN|packet.TCPFlagECE))
	tests := []struct {
		name  string
		frame []byte
		want  Key
		off   Offsets
	}{
		{"empty", nil, Key{InPort: inPort}, offs(none, none, none)},
		{"runt 13 bytes", tcp4[:13], Key{InPort: inPort}, offs(none, none, none)},
		{"ethernet only", packet.EthernetFrame(macA, macB, 0x88cc, nil), key(0x88cc), offs(none, 14, none)},
		{"802.3 length", packet.EthernetFrame(macA, macB, 0x0040, []byte{0x42, 0x42, 0x03, 0, 0, 0, 0, 0}), key(EthTypeNone), offs(none, 14, none)},
		{"802.3 short llc", packet.EthernetFrame(macA, macB, 0x0003, []byte{0xaa, 0xaa, 0x03}), key(EthTypeNone), offs(none, 14, none)},
		{"802.3 snap ipv4", packet.EthernetFrame(macA, macB, 0x0030, cat([]byte{0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00}, tcp4[14:])), tcp4Key, offs(none, 22, 42)},
		{"802.3 snap foreign oui", packet.EthernetFrame(macA, macB, 0x0030, []byte{0xaa, 0xaa, 0x03, 0, 0, 0x0c, 0x20, 0x00}), key(EthTypeNone), offs(none, 14, none)},
		{"802.3 snap length type", packet.EthernetFrame(macA, macB, 0x0030, []byte{0xaa, 0xaa, 0x03, 0, 0, 0, 0x00, 0x10}), key(EthTypeNone), offs(none, 22, none)},
		{"arp request", packet.ARPRequest(macA, ip("10.0.0.1"), ip("10.0.0.2")), key(EthTypeARP, dlDst(packet.Broadcast), arpKey(1, "10.0.0.1", "10.0.0.2"), arpHW(macA, [6]byte{})), offs(none, 14, none)},
		{"arp reply", packet.ARPReply(macA, ip("10.0.0.1"), macB, ip("10.0.0.2")), key(EthTypeARP, arpKey(2, "10.0.0.1", "10.0.0.2"), arpHW(macA, macB)), offs(none, 14, none)},
		{"rarp", packet.EthernetFrame(macA, macB, packet.EtherTypeRARP, packet.ARPReply(macC, ip("10.0.0.3"), macB, ip("10.0.0.2"))[14:]), key(packet.EtherTypeRARP, arpKey(2, "10.0.0.3", "10.0.0.2"), arpHW(macC, macB)), offs(none, 14, none)},
		{"arp truncated", packet.ARPRequest(macA, ip("10.0.0.1"), ip("10.0.0.2"))[:14+27], key(EthTypeARP, dlDst(packet.Broadcast)), offs(none, 14, none)},
		{"arp not ethernet", edit(packet.ARPRequest(macA, ip("10.0.0.1"), ip("10.0.0.2")), func(f []byte) { f[14+1] = 6 }), key(EthTypeARP, dlDst(packet.Broadcast)), offs(none, 14, none)},
		{"arp wide opcode", edit(packet.ARPReply(macA, ip("10.0.0.1"), macB, ip("10.0.0.2")), func(f []byte) { packet.ARP(f[14:]).SetOp(0x102) }), key(EthTypeARP, arpKey(0, "10.0.0.1", "10.0.0.2"), arpHW(macA, macB)), offs(none, 14, none)},
		{"ipv4 tcp", tcp4, tcp4Key, offs(none, 14, 34)},
		{"ipv4 udp", udp4, key(EthTypeIPv4, nw("10.0.0.1", "10.0.0.2", ProtoUDP, 0, 64), tp(5000, 4789)), offs(none, 14, 34)},
		{"ipv4 icmp", icmp4, key(EthTypeIPv4, nw("10.0.0.1", "10.0.0.2", ProtoICMP, 0, 64), tp(8, 0)), offs(none, 14, 34)},
		{"ipv4 sctp", packet.SCTPPacket(macA, macB, ap("10.0.0.1:5000"), ap("10.0.0.2:5001"), 1, nil), key(EthTypeIPv4, nw("10.0.0.1", "10.0.0.2", ProtoSCTP, 0, 64), tp(5000, 5001)), offs(none, 14, 34)},
		{"ipv4 igmp", v4(packet.ProtoIGMP, []byte{0x16, 0, 0, 0, 224, 0, 0, 251}), key(EthTypeIPv4, nw("10.0.0.1", "10.0.0.2", packet.ProtoIGMP, 0, 64), tp(0x16, 0)), offs(none, 14, 34)},
		{"ipv4 gre", v4(47, []byte{0, 0, 0x65, 0x58}), key(EthTypeIPv4, nw("10.0.0.1", "10.0.0.2", 47, 0, 64)), offs(none, 14, 34)},
		{"ipv4 tos ttl", edit(tcp4, func(f []byte) { packet.IPv4(f[14:]).SetTOS(0xb9); packet.IPv4(f[14:]).SetTTL(3) }), key(EthTypeIPv4, nw("10.0.0.1", "10.0.0.2", ProtoTCP, 0xb9, 3), tp(1234, 80), flags(0x42)), offs(none, 14, 34)},
		{"ipv4 options", ipv4Options(), key(EthTypeIPv4, nw("10.0.0.1", "10.0.0.2", ProtoUDP, 0, 64), tp(1, 2)), offs(none, 14, 38)},
		{"ipv4 header truncated", tcp4[:14+19], key(EthTypeIPv4), offs(none, 14, none)},
		{"ipv4 ihl 4", edit(tcp4, func(f []byte) { f[14] = 0x44 }), key(EthTypeIPv4), offs(none, 14, none)},
		{"ipv4 ihl beyond frame", edit(tcp4, func(f []byte) { f[14] = 0x4f })[:14+50], key(EthTypeIPv4), offs(none, 14, none)},
		{"ipv4 total length beyond frame", tcp4[:len(tcp4)-1], key(EthTypeIPv4), offs(none, 14, none)},
		{"ipv4 total length below ihl", edit(tcp4, func(f []byte) { packet.IPv4(f[14:]).SetTotalLen(19) }), key(EthTypeIPv4), offs(none, 14, none)},
		{"ipv4 version ignored", edit(tcp4, func(f []byte) { f[14] = 0x65 }), tcp4Key, offs(none, 14, 34)},
		{"ipv4 tcp in padding", edit(tcp4, func(f []byte) { packet.IPv4(f[14:]).SetTotalLen(20) }), key(EthTypeIPv4, nw("10.0.0.1", "10.0.0.2", ProtoTCP, 0, 64)), offs(none, 14, 34)},
		{"ipv4 tcp truncated", edit(tcp4, func(f []byte) { packet.IPv4(f[14:]).SetTotalLen(39) }), key(EthTypeIPv4, nw("10.0.0.1", "10.0.0.2", ProtoTCP, 0, 64)), offs(none, 14, 34)},
		{"ipv4 udp truncated", v4(ProtoUDP, []byte{0, 1, 0, 2, 0, 8, 0}), key(EthTypeIPv4, nw("10.0.0.1", "10.0.0.2", ProtoUDP, 0, 64)), offs(none, 14, 34)},
		{"ipv4 icmp truncated", icmp4[:len(icmp4)-1], key(EthTypeIPv4), offs(none, 14, none)},
		{"ipv4 icmp 7 bytes", v4(ProtoICMP, []byte{8, 0, 0, 0, 0, 0, 0}), key(EthTypeIPv4, nw("10.0.0.1", "10.0.0.2", ProtoICMP, 0, 64)), offs(none, 14, 34)},
		{"ipv4 first fragment", edit(tcp4, func(f []byte) { packet.IPv4(f[14:]).SetFlagsFrag(packet.IPv4FlagMF) }), key(EthTypeIPv4, nw("10.0.0.1", "10.0.0.2", ProtoTCP, 0, 64), tp(1234, 80), flags(0x42), frag(FragAny)), offs(none, 14, 34)},
		{"ipv4 middle fragment", edit(tcp4, func(f []byte) { packet.IPv4(f[14:]).SetFlagsFrag(packet.IPv4FlagMF | 3) }), key(EthTypeIPv4, nw("10.0.0.1", "10.0.0.2", ProtoTCP, 0, 64), frag(FragAny|FragLater)), offs(none, 14, none)},
		{"ipv4 last fragment", edit(tcp4, func(f []byte) { packet.IPv4(f[14:]).SetFlagsFrag(185) }), key(EthTypeIPv4, nw("10.0.0.1", "10.0.0.2", ProtoTCP, 0, 64), frag(FragAny|FragLater)), offs(none, 14, none)},
		{"ipv4 df not fragment", edit(tcp4, func(f []byte) { packet.IPv4(f[14:]).SetFlagsFrag(packet.IPv4FlagDF) }), tcp4Key, offs(none, 14, 34)},
		{"vlan tcp", packet.Tagged(tcp4, 0xa064), key(EthTypeIPv4, nw("10.0.0.1", "10.0.0.2", ProtoTCP, 0, 64), tp(1234, 80), flags(0x42), tci(0xb064)), offs(none, 18, 38)},
		{"vlan cfi in packet", packet.Tagged(tcp4, 0x1000), key(EthTypeIPv4, nw("10.0.0.1", "10.0.0.2", ProtoTCP, 0, 64), tp(1234, 80), flags(0x42), tci(0x1000)), offs(none, 18, 38)},
		{"vlan s-tag", packet.TaggedTPID(tcp4, packet.EtherTypeQinQ, 5), key(EthTypeIPv4, nw("10.0.0.1", "10.0.0.2", ProtoTCP, 0, 64), tp(1234, 80), flags(0x42), tci(0x1005)), offs(none, 18, 38)},
		{"vlan arp", packet.Tagged(packet.ARPRequest(macA, ip("10.0.0.1"), ip("10.0.0.2")), 10), key(EthTypeARP, dlDst(packet.Broadcast), tci(0x100a), arpKey(1, "10.0.0.1", "10.0.0.2"), arpHW(macA, [6]byte{})), offs(none, 18, none)},
		{"qinq stops at inner tag", packet.TaggedTPID(packet.Tagged(tcp4, 10), packet.EtherTypeQinQ, 20), key(EthTypeVLAN, tci(0x1014)), offs(none, 18, none)},
		{"vlan tag truncated", packet.Tagged(tcp4, 10)[:17], key(EthTypeVLAN), offs(none, 14, none)},
		{"vlan tag only", packet.Tagged(tcp4, 10)[:18], key(EthTypeIPv4, tci(0x100a)), offs(none, 18, none)},
		{"mpls one label", packet.EthernetFrame(macA, macB, EthTypeMPLS, cat([]byte{0x00, 0x06, 0x41, 0x40}, tcp4[14:])), key(EthTypeMPLS, lse(0x00064140)), offs(14, 18, none)},
		{"mpls two labels", packet.EthernetFrame(macA, macB, EthTypeMPLSMcast, []byte{0x00, 0x06, 0x40, 0x40, 0x00, 0x07, 0x41, 0x40, 0x45}), key(EthTypeMPLSMcast, lse(0x00064040)), offs(14, 22, none)},
		{"mpls truncated", packet.EthernetFrame(macA, macB, EthTypeMPLS, []byte{0x00, 0x06, 0x41}), key(EthTypeMPLS), offs(14, 14, none)},
		{"vlan mpls", packet.Tagged(packet.EthernetFrame(macA, macB, EthTypeMPLS, []byte{0xff, 0xff, 0xf1, 0x01}), 3), key(EthTypeMPLS, tci(0x1003), lse(0xfffff101)), offs(18, 22, none)},
		{"ipv6 tcp", tcp6, key(EthTypeIPv6, nw6("fd00::1", "fd00::2", ProtoTCP, 0, 64, 0), tp(1234, 443), flags(0x11)), offs(none, 14, 54)},
		{"ipv6 tc label", edit(tcp6, func(f []byte) { packet.IPv6(f[14:]).SetTrafficClass(0xe2); packet.IPv6(f[14:]).SetFlowLabel(0xabcde) }), key(EthTypeIPv6, nw6("fd00::1", "fd00::2", ProtoTCP, 0xe2, 64, 0xabcde), tp(1234, 443), flags(0x11)), offs(none, 14, 54)},
		{"ipv6 icmpv6 echo", packet.ICMPEcho(macA, macB, ip("fd00::1"), ip("fd00::2"), 1, 1, nil, true), key(EthTypeIPv6, nw6("fd00::1", "fd00::2", ProtoICMPv6, 0, 64, 0), tp(129, 0)), offs(none, 14, 54)},
		{"ipv6 hop-by-hop udp", v6(packet.ProtoHopOpts, cat(ext(ProtoUDP), udpHdr(546, 547))), key(EthTypeIPv6, nw6("fd00::1", "fd00::2", ProtoUDP, 0, 64, 0), tp(546, 547)), offs(none, 14, 62)},
		{"ipv6 chain udp", v6(packet.ProtoDstOpts, cat(ext(packet.ProtoRouting), ext(packet.ProtoAH), []byte{ProtoUDP, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, udpHdr(1, 2))), key(EthTypeIPv6, nw6("fd00::1", "fd00::2", ProtoUDP, 0, 64, 0), tp(1, 2)), offs(none, 14, 82)},
		{"ipv6 long dstopts", v6(packet.ProtoDstOpts, cat([]byte{ProtoUDP, 1}, make([]byte, 14), udpHdr(1, 2))), key(EthTypeIPv6, nw6("fd00::1", "fd00::2", ProtoUDP, 0, 64, 0), tp(1, 2)), offs(none, 14, 70)},
		{"ipv6 first fragment", v6(packet.ProtoFragment, cat(fragHdr(ProtoUDP, 0, true), udpHdr(1, 2))), key(EthTypeIPv6, nw6("fd00::1", "fd00::2", ProtoUDP, 0, 64, 0), tp(1, 2), frag(FragAny)), offs(none, 14, 62)},
		{"ipv6 later fragment", v6(packet.ProtoFragment, cat(fragHdr(ProtoUDP, 100, false), udpHdr(1, 2))), key(EthTypeIPv6, nw6("fd00::1", "fd00::2", packet.ProtoFragment, 0, 64, 0), frag(FragAny|FragLater)), offs(none, 14, none)},
		{"ipv6 atomic fragment", v6(packet.ProtoFragment, cat(fragHdr(ProtoUDP, 0, false), udpHdr(1, 2))), key(EthTypeIPv6, nw6("fd00::1", "fd00::2", ProtoUDP, 0, 64, 0), tp(1, 2)), offs(none, 14, 62)},
		{"ipv6 ext truncated", v6(packet.ProtoHopOpts, []byte{ProtoUDP, 0, 0, 0, 0, 0, 0}), key(EthTypeIPv6, nw6("fd00::1", "fd00::2", 0, 0, 0, 0)), offs(none, 14, none)},
		{"ipv6 ext length beyond", v6(packet.ProtoHopOpts, cat([]byte{ProtoUDP, 2}, make([]byte, 14))), key(EthTypeIPv6, nw6("fd00::1", "fd00::2", 0, 0, 0, 0)), offs(none, 14, none)},
		{"ipv6 no next header", v6(packet.ProtoNoNext, nil), key(EthTypeIPv6, nw6("fd00::1", "fd00::2", packet.ProtoNoNext, 0, 64, 0)), offs(none, 14, 54)},
		{"ipv6 header truncated", tcp6[:14+39], key(EthTypeIPv6), offs(none, 14, none)},
		{"ipv6 payload beyond frame", tcp6[:len(tcp6)-1], key(EthTypeIPv6), offs(none, 14, none)},
		{"ipv6 tcp truncated", edit(tcp6, func(f []byte) { packet.IPv6(f[14:]).SetPayloadLen(19) }), key(EthTypeIPv6, nw6("fd00::1", "fd00::2", ProtoTCP, 0, 64, 0)), offs(none, 14, 54)},
		{"nd solicitation", packet.NeighborSolicitation(macA, ip("fd00::1"), ip("fd00::2")), key(EthTypeIPv6, dlDst(packet.MAC{0x33, 0x33, 0xff, 0, 0, 2}), nw6("fd00::1", "ff02::1:ff00:2", ProtoICMPv6, 0, 255, 0), tp(135, 0), arpHW(macA, [6]byte{})), offs(none, 14, 54)},
		{"nd advertisement", packet.NeighborAdvertisement(macA, macB, ip("fd00::1"), ip("fd00::2")), key(EthTypeIPv6, nw6("fd00::1", "fd00::2", ProtoICMPv6, 0, 255, 0), tp(136, 0), arpHW([6]byte{}, macA)), offs(none, 14, 54)},
		{"nd both options", v6(ProtoICMPv6, nd(135, llOpt(1, macB), []byte{14, 1, 0, 0, 0, 0, 0, 0}, llOpt(2, macC))), key(EthTypeIPv6, nw6("fd00::1", "fd00::2", ProtoICMPv6, 0, 64, 0), tp(135, 0), arpHW(macB, macC)), offs(none, 14, 54)},
		{"nd repeated option", v6(ProtoICMPv6, nd(135, llOpt(1, macB), llOpt(1, macC))), key(EthTypeIPv6, nw6("fd00::1", "fd00::2", ProtoICMPv6, 0, 64, 0), tp(135, 0)), offs(none, 14, 54)},
		{"nd zero length option", v6(ProtoICMPv6, nd(136, llOpt(2, macB), []byte{1, 0, 0, 0, 0, 0, 0, 0})), key(EthTypeIPv6, nw6("fd00::1", "fd00::2", ProtoICMPv6, 0, 64, 0), tp(136, 0)), offs(none, 14, 54)},
		{"nd nonzero code", v6(ProtoICMPv6, edit(nd(135, llOpt(1, macB)), func(b []byte) { b[1] = 1 })), key(EthTypeIPv6, nw6("fd00::1", "fd00::2", ProtoICMPv6, 0, 64, 0), tp(135, 1)), offs(none, 14, 54)},
		{"nd truncated target", v6(ProtoICMPv6, nd(135)[:20]), key(EthTypeIPv6, nw6("fd00::1", "fd00::2", ProtoICMPv6, 0, 64, 0), tp(135, 0)), offs(none, 14, 54)},
	}
	for _, tt := range tests {
		var k Key
		off := Extract(tt.frame, inPort, &k)
		if diff := cmp.Diff(tt.want, k); diff != "" {
			t.Errorf("%s: Extract key (-want +got):\n%s", tt.name, diff)
		}
		if off != tt.off {
			t.Errorf("%s: Extract offsets = %+v, want %+v", tt.name, off, tt.off)
		}
	}
}

// ipv4Options returns a UDP datagram whose IPv4 header carries 4 bytes of
// options (a NOP and an end-of-list, padded).
func ipv4Options() []byte {
	b := make([]byte, 24+8)
	h := packet.IPv4(b)
	h.SetVersionIHL(24)
	h.SetTotalLen(uint16(len(b)))
	h.SetTTL(64)
	h.SetProtocol(ProtoUDP)
	h.SetSrc(a4("10.0.0.1"))
	h.SetDst(a4("10.0.0.2"))
	b[20] = 1
	copy(b[24:], udpHdr(1, 2))
	return edit(packet.IPFrame(macA, macB, b), func([]byte) {})
}

// TestExtractKeepsMetadata checks that Extract clears every packet field of a
// reused key but leaves the metadata the caller owns.
func TestExtractKeepsMetadata(t *testing.T) {
	var k Key
	for i := range k.Words() {
		k.Words()[i] = ^uint64(0)
	}
	Extract(packet.EthernetFrame(macA, macB, 0x88b5, nil), inPort, &k)
	want := key(0x88b5)
	want.Metadata, want.TunID, want.PktMark, want.CtMark, want.CtState, want.CtZone = ^uint64(0), ^uint64(0), ^uint32(0), ^uint32(0), ^uint32(0), 0xffff
	for i := range want.Regs {
		want.Regs[i] = ^uint32(0)
	}
	if diff := cmp.Diff(want, k); diff != "" {
		t.Errorf("Extract over a reused key (-want +got):\n%s", diff)
	}
}

func TestExtractAllocs(t *testing.T) {
	frames := [][]byte{tcp4, tcp6, packet.Tagged(udp4, 5), packet.ARPRequest(macA, ip("10.0.0.1"), ip("10.0.0.2")), packet.NeighborSolicitation(macA, ip("fd00::1"), ip("fd00::2"))}
	var k Key
	n := testing.AllocsPerRun(100, func() {
		for _, f := range frames {
			Extract(f, 1, &k)
		}
	})
	if n != 0 {
		t.Errorf("Extract allocates %v times per run, want 0", n)
	}
}

func benchExtract(b *testing.B, frame []byte) {
	var k Key
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		Extract(frame, 1, &k)
	}
}

func BenchmarkExtractTCPv4(b *testing.B) { benchExtract(b, tcp4) }
func BenchmarkExtractARP(b *testing.B) {
	benchExtract(b, packet.ARPRequest(macA, ip("10.0.0.1"), ip("10.0.0.2")))
}
func BenchmarkExtractVLANUDP(b *testing.B) { benchExtract(b, packet.Tagged(udp4, 100)) }
func BenchmarkExtractTCPv6(b *testing.B)   { benchExtract(b, tcp6) }
func BenchmarkExtractIPv6Ext(b *testing.B) {
	benchExtract(b, v6(packet.ProtoHopOpts, cat(ext(packet.ProtoFragment), fragHdr(ProtoUDP, 0, true), udpHdr(1, 2))))
}
