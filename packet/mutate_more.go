package packet

import "encoding/binary"

// ipv6At returns the IPv6 header at l3, or nil when the frame cannot hold it.
func ipv6At(frame []byte, l3 int) IPv6 {
	if l3 < 0 || l3 > len(frame)-IPv6MinimumSize {
		return nil
	}
	return IPv6(frame[l3:])
}

// SetIPv6Src sets the IPv6 source address of the header at l3 and updates the
// TCP, UDP or ICMPv6 checksum found after any extension headers.
func SetIPv6Src(frame []byte, l3 int, addr [16]byte) {
	setIPv6Addr(frame, l3, ipv6Src, addr)
}

// SetIPv6Dst sets the IPv6 destination address. When a routing header is
// present the transport checksum is left alone: its pseudo-header holds the
// final destination from the routing header, not this one (RFC 8200
// section 8.1), which is what OVS does too.
func SetIPv6Dst(frame []byte, l3 int, addr [16]byte) {
	setIPv6Addr(frame, l3, ipv6Dst, addr)
}

func setIPv6Addr(frame []byte, l3, off int, addr [16]byte) {
	ip := ipv6At(frame, l3)
	if ip == nil {
		return
	}
	end := min(len(ip), IPv6MinimumSize+int(ip.PayloadLen()))
	u, ok := WalkIPv6(ip[:end])
	if ok && !(off == ipv6Dst && u.Routing) {
		updatePseudo6(ip[u.Off:end], u.Proto, ip[off:off+16], addr[:])
	}
	copy(ip[off:], addr[:])
}

// updatePseudo6 adjusts the transport checksum at the start of l4 for a
// change of an IPv6 address from from to to.
func updatePseudo6(l4 []byte, proto uint8, from, to []byte) {
	var off int
	switch proto {
	case ProtoTCP:
		if len(l4) < TCPMinimumSize {
			return
		}
		off = tcpChecksum
	case ProtoUDP:
		// RFC 8200 section 8.1 makes the UDP checksum mandatory over IPv6,
		// but a zero one is still left zero rather than invented (OVS).
		if len(l4) < UDPMinimumSize || UDP(l4).Checksum() == 0 {
			return
		}
		c := ChecksumUpdateBytes(UDP(l4).Checksum(), from, to)
		UDP(l4).SetChecksum(udpMangled(c))
		return
	case ProtoICMPv6:
		if len(l4) < 4 {
			return
		}
		off = icmpChecksum
	default:
		return
	}
	c := binary.BigEndian.Uint16(l4[off:])
	binary.BigEndian.PutUint16(l4[off:], ChecksumUpdateBytes(c, from, to))
}

// SetIPv6TOS sets the DSCP bits of the traffic class and keeps the ECN bits.
func SetIPv6TOS(frame []byte, l3 int, tos uint8) {
	if ip := ipv6At(frame, l3); ip != nil {
		ip.SetTrafficClass(ip.TrafficClass()&ECNMask | tos&DSCPMask)
	}
}

// SetIPv6ECN sets the ECN bits of the traffic class and keeps the DSCP bits.
func SetIPv6ECN(frame []byte, l3 int, ecn uint8) {
	if ip := ipv6At(frame, l3); ip != nil {
		ip.SetTrafficClass(ip.TrafficClass()&DSCPMask | ecn&ECNMask)
	}
}

// SetIPv6HopLimit sets the hop limit (IPv6 has no header checksum).
func SetIPv6HopLimit(frame []byte, l3 int, hl uint8) {
	if ip := ipv6At(frame, l3); ip != nil {
		ip.SetHopLimit(hl)
	}
}

// SetIPv6Label sets the 20-bit flow label.
func SetIPv6Label(frame []byte, l3 int, label uint32) {
	if ip := ipv6At(frame, l3); ip != nil {
		ip.SetFlowLabel(label)
	}
}

// arpAt returns the ARP packet at l3, or nil when the frame cannot hold it.
func arpAt(frame []byte, l3 int) ARP {
	if l3 < 0 || l3 > len(frame)-ARPSize {
		return nil
	}
	return ARP(frame[l3:])
}

// SetARPOp sets the ARP opcode of the packet at l3.
func SetARPOp(frame []byte, l3 int, op uint16) {
	if a := arpAt(frame, l3); a != nil {
		a.SetOp(op)
	}
}

// SetARPSha sets the ARP sender hardware address.
func SetARPSha(frame []byte, l3 int, m MAC) {
	if a := arpAt(frame, l3); a != nil {
		a.SetSHA(m)
	}
}

// SetARPSpa sets the ARP sender protocol address.
func SetARPSpa(frame []byte, l3 int, ip [4]byte) {
	if a := arpAt(frame, l3); a != nil {
		a.SetSPA(ip)
	}
}

// SetARPTha sets the ARP target hardware address.
func SetARPTha(frame []byte, l3 int, m MAC) {
	if a := arpAt(frame, l3); a != nil {
		a.SetTHA(m)
	}
}

// SetARPTpa sets the ARP target protocol address.
func SetARPTpa(frame []byte, l3 int, ip [4]byte) {
	if a := arpAt(frame, l3); a != nil {
		a.SetTPA(ip)
	}
}

// PushVLAN inserts an 802.1Q tag (tpid 0x8100 or 0x88a8, and tci) after the
// MAC addresses of the frame buf[start:], using the headroom in front of
// start: only the 12 address bytes move. It returns the new start of the
// frame, start-4, or -1 with buf unchanged when there are fewer than 4 bytes
// of headroom or the frame is shorter than its two addresses. A pushed tag
// goes outside any existing tag (IEEE 802.1ad order; OpenFlow push_vlan).
func PushVLAN(buf []byte, start int, tpid, tci uint16) int {
	if start < VLANTagSize || start > len(buf)-EthernetAddrOffsetEnd {
		return -1
	}
	ns := start - VLANTagSize
	copy(buf[ns:], buf[start:start+EthernetAddrOffsetEnd])
	binary.BigEndian.PutUint16(buf[ns+EthernetAddrOffsetEnd:], tpid)
	binary.BigEndian.PutUint16(buf[ns+EthernetAddrOffsetEnd+2:], tci)
	return ns
}

// PopVLAN removes the outermost 802.1Q/802.1ad tag of frame by moving the MAC
// addresses forward 4 bytes and returns the shorter frame, which starts 4
// bytes later in the same array. An untagged or too short frame is returned
// unchanged.
func PopVLAN(frame []byte) []byte {
	if len(frame) < TaggedEthernetSize || !IsVLANType(Ethernet(frame).Type()) {
		return frame
	}
	copy(frame[VLANTagSize:], frame[:EthernetAddrOffsetEnd])
	return frame[VLANTagSize:]
}

// SetVLANTCI sets the TCI of the outermost tag of a tagged frame; an untagged
// or too short frame is left unchanged.
func SetVLANTCI(frame []byte, tci uint16) {
	if len(frame) >= TaggedEthernetSize && IsVLANType(Ethernet(frame).Type()) {
		VLAN(frame[EthernetAddrOffsetEnd:]).SetTCI(tci)
	}
}
