package link

import (
	"encoding/binary"

	"tapestry/packet"
)

// Software completion of the work a NIC would have done for frames the
// kernel hands over "offloaded": a VLAN tag kept beside the frame
// (skb->vlan_tci) instead of inside it, and a TCP/UDP checksum left partial
// (CHECKSUM_PARTIAL) because the sending device advertised tx checksumming,
// as veth does by default. AF_PACKET reports both through PACKET_AUXDATA
// (TP_STATUS_VLAN_VALID, TP_STATUS_CSUMNOTREADY); a bridge must finish them
// before the frame leaves through another port, or the receiver sees a bad
// checksum and TCP stalls.

const (
	etherTypeIPv4  = 0x0800
	etherTypeIPv6  = 0x86dd
	etherTypeVLAN  = 0x8100
	etherTypeQinQ  = 0x88a8
	ipProtoTCP     = 6
	ipProtoUDP     = 17
	tcpChecksumOff = 16 // RFC 9293 section 3.1
	udpChecksumOff = 6  // RFC 768
)

// insertVLAN puts an 802.1Q tag (tpid, tci) after the MAC addresses of the
// n-byte frame at the start of buf, moving the rest right by four bytes. It
// returns the new length, or false if buf has no room or the frame is not
// even an Ethernet header.
func insertVLAN(buf []byte, n int, tpid, tci uint16) (int, bool) {
	if n < 14 || n+4 > len(buf) {
		return n, false
	}
	copy(buf[16:n+4], buf[12:n])
	binary.BigEndian.PutUint16(buf[12:], tpid)
	binary.BigEndian.PutUint16(buf[14:], tci)
	return n + 4, true
}

// completeChecksum fills in the TCP or UDP checksum of an Ethernet frame
// whose checksum field holds only the folded pseudo-header sum, as the
// kernel leaves it for CHECKSUM_PARTIAL (tcp_v4_send_check stores
// ~tcp_v4_check(len, saddr, daddr, 0)): the one's-complement sum of the
// transport header and payload, checksum field included, complemented, is
// the final checksum (RFC 1071). It handles IPv4 and IPv6 without extension
// headers under up to two VLAN tags, and reports whether it changed the
// frame. Anything else is left alone: it is not this link's to repair.
func completeChecksum(f []byte) bool {
	typ, off, ok := packet.SkipVLANs(f, 2)
	if !ok {
		return false
	}
	var proto byte
	var l4 []byte
	switch typ {
	case etherTypeIPv4:
		ip := f[off:]
		if len(ip) < 20 || ip[0]>>4 != 4 {
			return false
		}
		ihl := int(ip[0]&0xf) * 4
		total := int(binary.BigEndian.Uint16(ip[2:]))
		// In a fragment (MF set or a non-zero offset) the checksum covers
		// data this frame does not hold; the kernel never leaves those
		// partial.
		if ihl < 20 || total < ihl || total > len(ip) || binary.BigEndian.Uint16(ip[6:])&0x3fff != 0 {
			return false
		}
		proto, l4 = ip[9], ip[ihl:total]
	case etherTypeIPv6:
		ip := f[off:]
		if len(ip) < 40 || ip[0]>>4 != 6 {
			return false
		}
		plen := int(binary.BigEndian.Uint16(ip[4:]))
		if 40+plen > len(ip) {
			return false
		}
		proto, l4 = ip[6], ip[40:40+plen]
	default:
		return false
	}
	var at int
	switch proto {
	case ipProtoTCP:
		at = tcpChecksumOff
	case ipProtoUDP:
		at = udpChecksumOff
	default:
		return false
	}
	if len(l4) < at+2 {
		return false
	}
	c := ^fold(sum16(l4))
	if c == 0 && proto == ipProtoUDP {
		c = 0xffff // RFC 768: zero means "no checksum"
	}
	binary.BigEndian.PutUint16(l4[at:], c)
	return true
}

// sum16 is the 32-bit accumulated one's-complement sum of b as big-endian
// 16-bit words, an odd last byte padded with zero.
func sum16(b []byte) uint64 {
	var s uint64
	for len(b) >= 8 {
		s += uint64(binary.BigEndian.Uint32(b)) + uint64(binary.BigEndian.Uint32(b[4:]))
		b = b[8:]
	}
	for len(b) >= 2 {
		s += uint64(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		s += uint64(b[0]) << 8
	}
	return s
}

// fold reduces a one's-complement accumulator to 16 bits.
func fold(s uint64) uint16 {
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	return uint16(s)
}
