package packet

// FixChecksums recomputes, in place, every checksum of an Ethernet frame
// (one or two VLAN tags allowed): the IPv4 header checksum, and the TCP,
// UDP, ICMP, ICMPv6 or SCTP checksum of an unfragmented IPv4 or IPv6 packet.
// Tests use it after changing a built frame through the views. A frame it
// cannot parse is left unchanged. It allocates nothing.
func FixChecksums(frame []byte) {
	if len(frame) < EthernetMinimumSize {
		return
	}
	p := EthernetAddrOffsetEnd
	t := Ethernet(frame).Type()
	for i := 0; i < 2 && IsVLANType(t) && len(frame)-p >= VLANMinimumSize; i++ {
		p += VLANTagSize
		t = VLAN(frame[p-VLANTagSize:]).Type()
	}
	p += 2
	switch t {
	case EtherTypeIPv4:
		fixIPv4(frame[p:])
	case EtherTypeIPv6:
		fixIPv6(frame[p:])
	}
}

// fixIPv4 recomputes the checksums of the IPv4 packet b.
func fixIPv4(b []byte) {
	if len(b) < IPv4MinimumSize {
		return
	}
	ip := IPv4(b)
	hl := ip.HeaderLen()
	if hl < IPv4MinimumSize || hl > len(b) {
		return
	}
	ip.SetChecksum(0)
	ip.SetChecksum(ip.ComputeChecksum())
	if ip.IsFragment() {
		return // the transport checksum covers the reassembled datagram
	}
	l4 := ip.Payload()
	fixL4(l4, ip.Protocol(), ip.PseudoHeaderSum(len(l4)))
}

// fixIPv6 recomputes the transport checksum of the IPv6 packet b.
func fixIPv6(b []byte) {
	if len(b) < IPv6MinimumSize {
		return
	}
	ip := IPv6(b)
	end := IPv6MinimumSize + int(ip.PayloadLen())
	if end > len(b) {
		return
	}
	u, ok := WalkIPv6(b[:end])
	if !ok || u.Frag != 0 || u.Routing {
		return
	}
	l4 := b[u.Off:end]
	fixL4(l4, u.Proto, ip.PseudoHeaderSum(u.Proto, len(l4)))
}

// fixL4 recomputes the checksum of the transport packet l4 given the sum of
// its pseudo-header (ignored for ICMP and IGMP, which have none).
func fixL4(l4 []byte, proto uint8, pseudo uint16) {
	switch proto {
	case ProtoSCTP:
		if len(l4) >= SCTPMinimumSize {
			SCTP(l4).SetChecksum(SCTPChecksum(l4))
		}
		return
	case ProtoICMP, ProtoIGMP:
		pseudo = 0
	}
	off, ok := ChecksumOffset(proto)
	if !ok || len(l4) < off+2 || proto == ProtoUDP && len(l4) < UDPMinimumSize {
		return
	}
	l4[off], l4[off+1] = 0, 0
	c := ^Sum(l4, pseudo)
	if proto == ProtoUDP {
		c = udpMangled(c)
	}
	l4[off], l4[off+1] = byte(c>>8), byte(c)
}
