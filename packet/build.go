package packet

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
)

// Builders make well-formed frames for tests in every package: correct
// lengths, TTL/hop limit 64, and correct IPv4 header and transport
// checksums. They allocate and are not for the data path. Frames are not
// padded to Ethernet's 60-byte minimum; Pad does that when it matters.
//
// To build a variant (a fragment, an odd TOS, options), build the plain
// frame, change it through the views and call FixChecksums.

// MustMAC parses a colon-separated MAC address and panics on a bad one; it is
// for test tables.
func MustMAC(s string) MAC {
	hw, err := net.ParseMAC(s)
	if err != nil || len(hw) != 6 {
		panic(fmt.Sprintf("packet: bad MAC %q", s))
	}
	return MAC(hw)
}

// EthernetFrame returns an untagged Ethernet II frame.
func EthernetFrame(src, dst MAC, ethertype uint16, payload []byte) []byte {
	f := make([]byte, EthernetMinimumSize+len(payload))
	e := Ethernet(f)
	e.SetDst(dst)
	e.SetSrc(src)
	e.SetType(ethertype)
	copy(f[EthernetMinimumSize:], payload)
	return f
}

// Tagged returns a copy of frame with an 802.1Q tag (TPID 0x8100) carrying
// tci inserted after the MAC addresses, outside any existing tag.
func Tagged(frame []byte, tci uint16) []byte {
	return TaggedTPID(frame, EtherTypeVLAN, tci)
}

// TaggedTPID is Tagged with a chosen TPID (0x88a8 for an 802.1ad S-tag).
func TaggedTPID(frame []byte, tpid, tci uint16) []byte {
	buf := make([]byte, VLANTagSize+len(frame))
	copy(buf[VLANTagSize:], frame)
	if PushVLAN(buf, VLANTagSize, tpid, tci) < 0 {
		panic("packet: Tagged: frame shorter than its MAC addresses")
	}
	return buf
}

// Pad returns frame extended with zeros to the 60-byte Ethernet minimum
// (IEEE 802.3 minimum frame without the FCS), or frame itself if longer.
func Pad(frame []byte) []byte {
	const minFrame = 60
	if len(frame) >= minFrame {
		return frame
	}
	out := make([]byte, minFrame)
	copy(out, frame)
	return out
}

// ARPFrame returns an Ethernet/IPv4 ARP packet in a frame from sha to dst.
func ARPFrame(op uint16, sha MAC, spa netip.Addr, tha MAC, tpa netip.Addr, dst MAC) []byte {
	b := make([]byte, ARPSize)
	binary.BigEndian.PutUint16(b[arpHType:], ARPHTypeEthernet)
	binary.BigEndian.PutUint16(b[arpPType:], EtherTypeIPv4)
	b[arpHLen], b[arpPLen] = 6, 4
	a := ARP(b)
	a.SetOp(op)
	a.SetSHA(sha)
	a.SetSPA(spa.As4())
	a.SetTHA(tha)
	a.SetTPA(tpa.As4())
	return EthernetFrame(sha, dst, EtherTypeARP, b)
}

// ARPRequest returns a broadcast "who-has dstIP tell srcIP" (RFC 826), with a
// zero target hardware address as Linux sends it.
func ARPRequest(srcMAC MAC, srcIP, dstIP netip.Addr) []byte {
	return ARPFrame(ARPOpRequest, srcMAC, srcIP, MAC{}, dstIP, Broadcast)
}

// ARPReply returns a unicast "srcIP is-at srcMAC" sent to dstMAC/dstIP.
func ARPReply(srcMAC MAC, srcIP netip.Addr, dstMAC MAC, dstIP netip.Addr) []byte {
	return ARPFrame(ARPOpReply, srcMAC, srcIP, dstMAC, dstIP, dstMAC)
}

// IPv4Datagram returns an IPv4 packet (no Ethernet header) with a 20-byte
// header, TTL 64, and correct header and transport checksums for TCP, UDP
// and ICMP payloads.
func IPv4Datagram(src, dst netip.Addr, proto uint8, payload []byte) []byte {
	b := make([]byte, IPv4MinimumSize+len(payload))
	ip := IPv4(b)
	ip.SetVersionIHL(IPv4MinimumSize)
	ip.SetTotalLen(uint16(len(b)))
	ip.SetTTL(64)
	ip.SetProtocol(proto)
	ip.SetSrc(src.As4())
	ip.SetDst(dst.As4())
	copy(b[IPv4MinimumSize:], payload)
	fixIPv4(b)
	return b
}

// IPv6Datagram returns an IPv6 packet (no Ethernet header) with hop limit 64
// whose fixed header's next header is next. payload may start with extension
// headers; the transport checksum after them is computed for TCP, UDP and
// ICMPv6.
func IPv6Datagram(src, dst netip.Addr, next uint8, payload []byte) []byte {
	b := make([]byte, IPv6MinimumSize+len(payload))
	ip := IPv6(b)
	ip.SetVersion()
	ip.SetPayloadLen(uint16(len(payload)))
	ip.SetNextHeader(next)
	ip.SetHopLimit(64)
	ip.SetSrc(src.As16())
	ip.SetDst(dst.As16())
	copy(b[IPv6MinimumSize:], payload)
	fixIPv6(b)
	return b
}

// IPFrame wraps an IPv4 or IPv6 packet from IPv4Datagram or IPv6Datagram in
// an Ethernet frame, choosing the EtherType from the version nibble.
func IPFrame(srcMAC, dstMAC MAC, ip []byte) []byte {
	t := uint16(EtherTypeIPv4)
	if len(ip) > 0 && ip[0]>>4 == 6 {
		t = EtherTypeIPv6
	}
	return EthernetFrame(srcMAC, dstMAC, t, ip)
}

// ipDatagram builds an IPv4 or IPv6 packet by the family of src.
func ipDatagram(src, dst netip.Addr, proto uint8, l4 []byte) []byte {
	if src.Is4() {
		return IPv4Datagram(src, dst, proto, l4)
	}
	return IPv6Datagram(src, dst, proto, l4)
}

// ICMPEcho returns an ICMP (IPv4 addresses) or ICMPv6 (IPv6 addresses) echo
// request, or echo reply when reply is set.
func ICMPEcho(srcMAC, dstMAC MAC, srcIP, dstIP netip.Addr, id, seq uint16, payload []byte, reply bool) []byte {
	b := make([]byte, 8+len(payload))
	c := ICMPv4(b)
	c.SetID(id)
	c.SetSeq(seq)
	copy(b[8:], payload)
	proto := uint8(ProtoICMP)
	switch {
	case srcIP.Is4() && reply:
		c.SetType(ICMPv4EchoReply)
	case srcIP.Is4():
		c.SetType(ICMPv4Echo)
	case reply:
		proto = ProtoICMPv6
		c.SetType(ICMPv6EchoReply)
	default:
		proto = ProtoICMPv6
		c.SetType(ICMPv6EchoRequest)
	}
	return IPFrame(srcMAC, dstMAC, ipDatagram(srcIP, dstIP, proto, b))
}

// TCPSegment returns a TCP segment with a 20-byte header, the given flags
// (TCPFlagSYN|TCPFlagACK...), sequence number 1, acknowledgment number 1 when
// ACK is set, and window 65535, over IPv4 or IPv6 by the address family.
func TCPSegment(srcMAC, dstMAC MAC, src, dst netip.AddrPort, flags uint16, payload []byte) []byte {
	b := make([]byte, TCPMinimumSize+len(payload))
	t := TCP(b)
	t.SetSrcPort(src.Port())
	t.SetDstPort(dst.Port())
	t.SetSeq(1)
	if flags&TCPFlagACK != 0 {
		t.SetAck(1)
	}
	t.SetHeaderLenFlags(TCPMinimumSize, flags)
	t.SetWindow(65535)
	copy(b[TCPMinimumSize:], payload)
	return IPFrame(srcMAC, dstMAC, ipDatagram(src.Addr(), dst.Addr(), ProtoTCP, b))
}

// UDPDatagram returns a UDP datagram over IPv4 or IPv6 by the address family.
func UDPDatagram(srcMAC, dstMAC MAC, src, dst netip.AddrPort, payload []byte) []byte {
	b := make([]byte, UDPMinimumSize+len(payload))
	u := UDP(b)
	u.SetSrcPort(src.Port())
	u.SetDstPort(dst.Port())
	u.SetLength(uint16(len(b)))
	copy(b[UDPMinimumSize:], payload)
	return IPFrame(srcMAC, dstMAC, ipDatagram(src.Addr(), dst.Addr(), ProtoUDP, b))
}

// SCTPPacket returns an SCTP packet (common header, verification tag vtag,
// then the given chunk bytes) with its CRC-32C, over IPv4 or IPv6 by the
// address family.
func SCTPPacket(srcMAC, dstMAC MAC, src, dst netip.AddrPort, vtag uint32, chunks []byte) []byte {
	b := make([]byte, SCTPMinimumSize+len(chunks))
	s := SCTP(b)
	s.SetSrcPort(src.Port())
	s.SetDstPort(dst.Port())
	binary.BigEndian.PutUint32(b[sctpVTag:], vtag)
	copy(b[SCTPMinimumSize:], chunks)
	s.SetChecksum(SCTPChecksum(b))
	return IPFrame(srcMAC, dstMAC, ipDatagram(src.Addr(), dst.Addr(), ProtoSCTP, b))
}

// NeighborSolicitation returns an ICMPv6 neighbour solicitation for target
// from src (RFC 4861 section 4.3), sent to target's solicited-node multicast
// address with a source link-layer address option, as Linux sends it.
func NeighborSolicitation(srcMAC MAC, src, target netip.Addr) []byte {
	t := target.As16()
	snm := netip.AddrFrom16([16]byte{0xff, 0x02, 11: 0x01, 12: 0xff, 13: t[13], 14: t[14], 15: t[15]})
	dst := MAC{0x33, 0x33, 0xff, t[13], t[14], t[15]} // RFC 2464 section 7
	return ndMessage(ICMPv6NeighborSolicit, 0, srcMAC, dst, src, snm, target, ndOptSrcLL)
}

// NeighborAdvertisement returns a solicited, override neighbour advertisement
// for target (RFC 4861 section 4.4) from srcMAC/target to dstMAC/dst, with a
// target link-layer address option.
func NeighborAdvertisement(srcMAC, dstMAC MAC, target, dst netip.Addr) []byte {
	const solicitedOverride = 0x60000000
	return ndMessage(ICMPv6NeighborAdvert, solicitedOverride, srcMAC, dstMAC, target, dst, target, ndOptTargetLL)
}

// ND option types used by the builders (RFC 4861 section 4.6.1).
const (
	ndOptSrcLL    = 1
	ndOptTargetLL = 2
)

func ndMessage(typ uint8, flags uint32, srcMAC, dstMAC MAC, src, dst, target netip.Addr, opt uint8) []byte {
	b := make([]byte, 8+16+8)
	b[icmpType] = typ
	binary.BigEndian.PutUint32(b[4:], flags)
	t := target.As16()
	copy(b[8:], t[:])
	b[24], b[25] = opt, 1
	copy(b[26:], srcMAC[:])
	ip := ipDatagram(src, dst, ProtoICMPv6, b)
	IPv6(ip).SetHopLimit(255) // RFC 4861 section 7.1.1 requires 255
	return IPFrame(srcMAC, dstMAC, ip)
}
