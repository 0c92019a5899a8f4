package netfilter

import (
	"encoding/binary"

	"tapestry/flow"
	"tapestry/packet"
)

// rejectICMP maps --reject-with to ICMP destination unreachable codes
// (RFC 792, RFC 1812 5.2.7.1).
var rejectICMP = [...]uint8{
	RejectPortUnreach:     3,
	RejectNetUnreach:      0,
	RejectHostUnreach:     1,
	RejectProtoUnreach:    2,
	RejectNetProhibited:   9,
	RejectHostProhibited:  10,
	RejectAdminProhibited: 13,
}

const (
	defaultTTL      = 64  // net.ipv4.ip_default_ttl
	icmpErrorMaxLen = 576 // RFC 1812 4.3.2.3: an ICMP error fits in 576 bytes
	ipDF            = 0x4000
	tosPrecControl  = 0xc0 // IPTOS_PREC_INTERNETCONTROL
	tosMask         = 0x1e // IPTOS_TOS_MASK
)

// buildReject writes REJECT's reply into p.Reply, as nf_reject_ipv4 does,
// and reports whether one was built. Like the kernel it sends nothing for
// non-first fragments, for ICMP errors (icmp_send's rule), and for a RST
// (no reset for a reset). The reply is an IPv4 packet to the original
// source; the stack routes it (through OUTPUT and POSTROUTING, with
// Packet.Attach for the RST as nf_ct_attach does).
func buildReject(p *Packet, with RejectWith, h Hook, env *Env) bool {
	k := &p.Key
	if k.DlType != flow.EthTypeIPv4 || !p.Off.HasL3() || k.NwFrag&flow.FragLater != 0 {
		return false
	}
	l3 := int(p.Off.L3)
	ipLen := p.ipLen()
	if ipLen < packet.IPv4MinimumSize || l3+ipLen > len(p.Frame) {
		return false
	}
	orig := packet.IPv4(p.Frame[l3 : l3+ipLen])
	if with == RejectTCPReset {
		return buildReset(p, orig)
	}
	if k.NwProto == packet.ProtoICMP && isICMPError(uint8(k.TpSrc)) {
		return false
	}
	n := min(ipLen, icmpErrorMaxLen-packet.IPv4MinimumSize-8)
	total := packet.IPv4MinimumSize + 8 + n
	b := grow(p.Reply[:0], total)
	ip := packet.IPv4(b)
	ip.SetVersionIHL(packet.IPv4MinimumSize)
	ip.SetTOS(orig.TOS()&tosMask | tosPrecControl)
	ip.SetTotalLen(uint16(total))
	ip.SetTTL(defaultTTL)
	ip.SetProtocol(packet.ProtoICMP)
	// icmp_send answers from the destination when it is local and from
	// the receiving interface's address when the packet was forwarded.
	src := orig.Dst()
	if h == HookForward {
		if a, ok := primary(env, p.In); ok {
			src = a
		}
	}
	ip.SetSrc(src)
	ip.SetDst(orig.Src())
	ip.SetChecksum(ip.ComputeChecksum())
	icmp := b[packet.IPv4MinimumSize:]
	icmp[0], icmp[1] = 3, rejectICMP[with] // destination unreachable
	copy(icmp[8:], orig[:n])
	binary.BigEndian.PutUint16(icmp[2:], packet.Checksum(icmp))
	p.Reply = b
	return true
}

func isICMPError(t uint8) bool { return t == 3 || t == 4 || t == 5 || t == 11 || t == 12 }

// grow returns b resized to n zero bytes, reusing its array when it fits.
func grow(b []byte, n int) []byte {
	if cap(b) < n {
		return make([]byte, n)
	}
	b = b[:n]
	clear(b)
	return b
}

// buildReset is nf_send_reset: a bare RST with DF set, TOS 0 and id 0. If
// the offending segment had ACK, the RST takes its sequence from that ack;
// otherwise it acknowledges everything the segment occupied.
func buildReset(p *Packet, orig packet.IPv4) bool {
	hl := orig.HeaderLen()
	if orig.Protocol() != packet.ProtoTCP || hl < packet.IPv4MinimumSize || len(orig) < hl+packet.TCPMinimumSize {
		return false
	}
	oth := packet.TCP(orig[hl:])
	flags := oth.Flags()
	if flags&packet.TCPFlagRST != 0 {
		return false
	}
	total := packet.IPv4MinimumSize + packet.TCPMinimumSize
	b := grow(p.Reply[:0], total)
	ip := packet.IPv4(b)
	ip.SetVersionIHL(packet.IPv4MinimumSize)
	ip.SetTotalLen(uint16(total))
	ip.SetFlagsFrag(ipDF)
	ip.SetTTL(defaultTTL)
	ip.SetProtocol(packet.ProtoTCP)
	ip.SetSrc(orig.Dst())
	ip.SetDst(orig.Src())
	ip.SetChecksum(ip.ComputeChecksum())
	th := packet.TCP(b[packet.IPv4MinimumSize:])
	th.SetSrcPort(oth.DstPort())
	th.SetDstPort(oth.SrcPort())
	rst := uint16(packet.TCPFlagRST)
	if flags&packet.TCPFlagACK != 0 {
		th.SetSeq(oth.Ack())
	} else {
		segLen := uint32(len(orig) - hl - oth.HeaderLen())
		if flags&packet.TCPFlagSYN != 0 {
			segLen++
		}
		if flags&packet.TCPFlagFIN != 0 {
			segLen++
		}
		th.SetAck(oth.Seq() + segLen)
		rst |= packet.TCPFlagACK
	}
	th.SetHeaderLenFlags(packet.TCPMinimumSize, rst)
	sum := ip.PseudoHeaderSum(packet.TCPMinimumSize)
	th.SetChecksum(^packet.Sum(th, sum))
	p.Reply = b
	return true
}
