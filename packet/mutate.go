package packet

import "encoding/binary"

// Frame mutators: the set-field, mod_* and dec_ttl actions a bridge executes.
// Each works in place on a whole Ethernet frame, given the header offsets
// flow.Extract returned, and keeps every checksum that covers the changed
// bytes correct by incremental update (RFC 1624), as OVS's packet_set_*
// functions do:
//   - an IPv4 address is in the IPv4 header checksum and in the TCP and UDP
//     pseudo-headers; an IPv6 address is in the TCP, UDP and ICMPv6
//     pseudo-headers;
//   - a UDP checksum of zero means "none" (RFC 768) and stays zero; an update
//     that yields zero stores 0xffff instead;
//   - later IPv4/IPv6 fragments carry no transport header and are not touched
//     beyond the IP header;
//   - an SCTP checksum is a CRC-32C over the whole packet, so port changes
//     recompute it, keeping a checksum that was wrong before wrong after.
//
// Unlike the views, the mutators check bounds: a frame too short for the
// header it is asked to change, or an offset out of range (such as a
// flow.OffsetNone sentinel), leaves the frame unchanged. They never allocate.

// SetEthSrc sets the Ethernet source address of frame.
func SetEthSrc(frame []byte, m MAC) {
	if len(frame) >= EthernetMinimumSize {
		Ethernet(frame).SetSrc(m)
	}
}

// SetEthDst sets the Ethernet destination address of frame.
func SetEthDst(frame []byte, m MAC) {
	if len(frame) >= EthernetMinimumSize {
		Ethernet(frame).SetDst(m)
	}
}

// ipv4At returns the IPv4 header at l3 and its header length, or nil when the
// frame cannot hold the header its IHL describes.
func ipv4At(frame []byte, l3 int) (IPv4, int) {
	if l3 < 0 || l3 > len(frame)-IPv4MinimumSize {
		return nil, 0
	}
	ip := IPv4(frame[l3:])
	hl := ip.HeaderLen()
	if hl < IPv4MinimumSize || hl > len(ip) {
		return nil, 0
	}
	return ip, hl
}

// setIPv4Addr writes a 4-byte address at off within the IPv4 header ip and
// updates the header checksum and the TCP/UDP checksum.
func setIPv4Addr(ip IPv4, hl, off int, addr [4]byte) {
	old := binary.BigEndian.Uint32(ip[off:])
	nw := binary.BigEndian.Uint32(addr[:])
	if old == nw {
		return
	}
	ip.SetChecksum(ChecksumUpdate32(ip.Checksum(), old, nw))
	// The transport header ends where the total length says: bytes after it
	// are Ethernet padding, which OVS never rewrites either.
	if ip.FlagsFrag()&IPv4FragOffsetMask == 0 {
		updatePseudo(ip.Payload(), ip.Protocol(), old, nw)
	}
	binary.BigEndian.PutUint32(ip[off:], nw)
}

// updatePseudo adjusts the TCP or UDP checksum at the start of l4 for a
// 32-bit change in the IPv4 pseudo-header.
func updatePseudo(l4 []byte, proto uint8, from, to uint32) {
	switch proto {
	case ProtoTCP:
		if len(l4) >= TCPMinimumSize {
			t := TCP(l4)
			t.SetChecksum(ChecksumUpdate32(t.Checksum(), from, to))
		}
	case ProtoUDP:
		if len(l4) >= UDPMinimumSize {
			u := UDP(l4)
			if c := u.Checksum(); c != 0 {
				u.SetChecksum(udpMangled(ChecksumUpdate32(c, from, to)))
			}
		}
	}
}

// udpMangled maps a computed UDP checksum of zero to 0xffff, its other one's
// complement representation, since zero on the wire means "no checksum"
// (RFC 768).
func udpMangled(c uint16) uint16 {
	if c == 0 {
		return 0xffff
	}
	return c
}

// SetIPv4Src sets the IPv4 source address of the header at l3.
func SetIPv4Src(frame []byte, l3 int, addr [4]byte) {
	if ip, hl := ipv4At(frame, l3); ip != nil {
		setIPv4Addr(ip, hl, ipv4Src, addr)
	}
}

// SetIPv4Dst sets the IPv4 destination address of the header at l3.
func SetIPv4Dst(frame []byte, l3 int, addr [4]byte) {
	if ip, hl := ipv4At(frame, l3); ip != nil {
		setIPv4Addr(ip, hl, ipv4Dst, addr)
	}
}

// setIPv4Byte sets the header byte at off and updates the header checksum
// with the 16-bit word that contains it.
func setIPv4Byte(ip IPv4, off int, v uint8) {
	w := off &^ 1
	old := binary.BigEndian.Uint16(ip[w:])
	ip[off] = v
	ip.SetChecksum(ChecksumUpdate16(ip.Checksum(), old, binary.BigEndian.Uint16(ip[w:])))
}

// SetIPv4TOS sets the DSCP bits (the high six) of the TOS byte to those of tos
// and keeps the ECN bits, as OVS's mod_nw_tos and set_field:nw_tos do.
func SetIPv4TOS(frame []byte, l3 int, tos uint8) {
	if ip, _ := ipv4At(frame, l3); ip != nil {
		setIPv4Byte(ip, ipv4TOS, ip.TOS()&ECNMask|tos&DSCPMask)
	}
}

// SetIPv4ECN sets the two ECN bits of the TOS byte and keeps the DSCP bits.
func SetIPv4ECN(frame []byte, l3 int, ecn uint8) {
	if ip, _ := ipv4At(frame, l3); ip != nil {
		setIPv4Byte(ip, ipv4TOS, ip.TOS()&DSCPMask|ecn&ECNMask)
	}
}

// SetIPv4TTL sets the TTL.
func SetIPv4TTL(frame []byte, l3 int, ttl uint8) {
	if ip, _ := ipv4At(frame, l3); ip != nil {
		setIPv4Byte(ip, ipv4TTL, ttl)
	}
}

// DecTTL decrements the IPv4 TTL of the header at l3. It returns false and
// leaves the packet alone when the TTL is already 0 or 1, so the caller can
// drop it or send it to the controller (OVS dec_ttl, RFC 1812 section
// 5.3.1), and when there is no complete IPv4 header at l3.
func DecTTL(frame []byte, l3 int) bool {
	ip, _ := ipv4At(frame, l3)
	if ip == nil || ip.TTL() <= 1 {
		return false
	}
	setIPv4Byte(ip, ipv4TTL, ip.TTL()-1)
	return true
}

// DecHopLimit is DecTTL for the IPv6 header at l3.
func DecHopLimit(frame []byte, l3 int) bool {
	ip := ipv6At(frame, l3)
	if ip == nil || ip.HopLimit() <= 1 {
		return false
	}
	ip.SetHopLimit(ip.HopLimit() - 1)
	return true
}

// l3End returns the end of the IP packet at l3 from its length field, or the
// end of frame when the field is absent or claims more than the frame holds.
// The version nibble picks the IPv4 or IPv6 length field.
func l3End(frame []byte, l3 int) int {
	if l3 < 0 || l3 >= len(frame) {
		return len(frame)
	}
	var end int
	switch frame[l3] >> 4 {
	case 4:
		if l3+IPv4MinimumSize <= len(frame) {
			end = l3 + int(IPv4(frame[l3:]).TotalLen())
		}
	case 6:
		if l3+IPv6MinimumSize <= len(frame) {
			end = l3 + IPv6MinimumSize + int(IPv6(frame[l3:]).PayloadLen())
		}
	}
	if end <= l3 || end > len(frame) {
		return len(frame)
	}
	return end
}

// SetL4Src sets the transport source port of the proto header at l4 (the IP
// header is at l3), updating its checksum. For ICMP and ICMPv6 it sets the
// type (low byte of port), as OVS's tp_src alias icmp_type does.
func SetL4Src(frame []byte, l3, l4 int, proto uint8, port uint16) {
	setL4(frame, l3, l4, proto, port, 0)
}

// SetL4Dst sets the transport destination port, or the ICMP code.
func SetL4Dst(frame []byte, l3, l4 int, proto uint8, port uint16) {
	setL4(frame, l3, l4, proto, port, 2)
}

// setL4 writes port at offset off (0 source, 2 destination) of the L4 header.
func setL4(frame []byte, l3, l4 int, proto uint8, port uint16, off int) {
	end := l3End(frame, l3)
	if l4 < 0 || l4 > end {
		return
	}
	b := frame[l4:end]
	switch proto {
	case ProtoTCP:
		if len(b) >= TCPMinimumSize {
			setWord(b, off, port, tcpChecksum)
		}
	case ProtoUDP:
		if len(b) >= UDPMinimumSize {
			old := binary.BigEndian.Uint16(b[off:])
			binary.BigEndian.PutUint16(b[off:], port)
			if c := UDP(b).Checksum(); c != 0 {
				UDP(b).SetChecksum(udpMangled(ChecksumUpdate16(c, old, port)))
			}
		}
	case ProtoICMP, ProtoICMPv6:
		if len(b) >= 4 {
			// Type and code share the first word; off/2 picks the byte.
			old := binary.BigEndian.Uint16(b)
			b[off/2] = uint8(port)
			c := ICMPv4(b).Checksum()
			ICMPv4(b).SetChecksum(ChecksumUpdate16(c, old, binary.BigEndian.Uint16(b)))
		}
	case ProtoSCTP:
		if len(b) >= SCTPMinimumSize {
			setSCTPPort(b, off, port)
		}
	}
}

// setWord replaces the 16-bit word at off of the header b and updates the
// checksum at csum.
func setWord(b []byte, off int, v uint16, csum int) {
	old := binary.BigEndian.Uint16(b[off:])
	binary.BigEndian.PutUint16(b[off:], v)
	c := binary.BigEndian.Uint16(b[csum:])
	binary.BigEndian.PutUint16(b[csum:], ChecksumUpdate16(c, old, v))
}

// setSCTPPort rewrites a port of the SCTP packet b and its CRC-32C. A correct
// checksum stays correct and an incorrect one stays incorrect by the same
// difference, so a switch never repairs corruption it did not cause.
func setSCTPPort(b []byte, off int, port uint16) {
	s := SCTP(b)
	was, good := s.Checksum(), SCTPChecksum(b)
	binary.BigEndian.PutUint16(b[off:], port)
	s.SetChecksum(was ^ good ^ SCTPChecksum(b))
}
