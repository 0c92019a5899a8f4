package flow

import (
	"encoding/binary"

	"tapestry/packet"
)

// Extract parses an Ethernet frame once, the way Open vSwitch's
// miniflow_extract does, and fills k:
//
//	Ethernet  -> dl_src, dl_dst; a frame under 14 bytes leaves every packet
//	             field zero.
//	802.1Q    -> one tag (TPID 0x8100 or 0x88a8, OVS's default vlan-limit of
//	             1): VlanTCI with the CFI bit forced on, dl_type from after the
//	             tag. A tag without 2 more bytes for a type is not parsed and
//	             dl_type is the TPID.
//	802.3     -> a length below 0x600 gives dl_type 0x05ff, unless an RFC 1042
//	             LLC/SNAP header follows with an EtherType, which becomes
//	             dl_type and is parsed further.
//	MPLS      -> the outermost label stack entry; nothing under the stack.
//	ARP/RARP  -> when the 28-byte Ethernet/IPv4 form is complete: SPA/TPA in
//	             NwSrc/NwDst, SHA/THA, and the opcode in NwProto only when it
//	             fits in 8 bits.
//	IPv4      -> only if the header passes OVS's sanity check (IHL >= 5, the
//	             header and the total length fit in the frame, total length >=
//	             header length); otherwise no L3 field is set. The version and
//	             header checksum are not checked. Bytes past the total length
//	             are padding and never parsed.
//	IPv6      -> only if the fixed header and the payload length fit. Then
//	             addresses are set; traffic class, label, hop limit, protocol
//	             and fragment bits only if the extension header chain parses.
//	L4        -> not for later fragments. TCP (20 bytes: ports and flags),
//	             UDP (8), SCTP (12), ICMP, ICMPv6 and IGMP (8: type and code
//	             in TpSrc/TpDst). A truncated L4 header leaves them zero.
//	             ICMPv6 neighbour solicitations and advertisements put their
//	             source and target link-layer address options in ArpSha and
//	             ArpTha (OVS nd_sll/nd_tll), all or nothing.
//
// So a truncated or malformed header ends the key at the last complete header
// before it. Extract sets InPort and zeroes every other packet field first,
// so k may be reused; it leaves the metadata fields (Metadata, TunID, Regs,
// PktMark, Ct*) alone for the caller. It never allocates.
func Extract(frame []byte, inPort uint32, k *Key) Offsets {
	k.clearPacket()
	k.InPort = inPort
	off := Offsets{MPLS: OffsetNone, L3: OffsetNone, L4: OffsetNone}
	if len(frame) < packet.EthernetMinimumSize {
		return off
	}
	eth := packet.Ethernet(frame)
	k.DlDst, k.DlSrc = eth.Dst(), eth.Src()
	p := packet.EthernetAddrOffsetEnd
	typ := eth.Type()
	if packet.IsVLANType(typ) && len(frame)-p >= packet.VLANMinimumSize {
		k.VlanTCI = packet.VLAN(frame[p:]).TCI() | VlanCFI
		p += packet.VLANTagSize
		typ = binary.BigEndian.Uint16(frame[p:])
	}
	p += 2
	if typ < packet.EtherTypeMin {
		typ = EthTypeNone
		if t, ok := packet.SNAPType(frame[p:]); ok {
			p += packet.LLCSNAPSize
			if t >= packet.EtherTypeMin {
				typ = t
			}
		}
	}
	k.DlType = typ
	if typ == EthTypeMPLS || typ == EthTypeMPLSMcast {
		off.MPLS = uint16(p)
		p = extractMPLS(frame, p, k)
	}
	off.L3 = uint16(p)
	switch typ {
	case EthTypeIPv4:
		extractIPv4(frame, p, k, &off)
	case EthTypeIPv6:
		extractIPv6(frame, p, k, &off)
	case EthTypeARP, packet.EtherTypeRARP:
		extractARP(frame[p:], k)
	}
	return off
}

// Offsets locates headers in a frame Extract parsed, so that actions can
// rewrite fields without parsing again. Each is a byte offset from the start
// of the frame, or OffsetNone.
type Offsets struct {
	// MPLS is the start of the MPLS label stack (OVS l2_5_ofs), set only for
	// MPLS frames.
	MPLS uint16
	// L3 is the first byte after the Ethernet header, VLAN tag, LLC/SNAP
	// header and MPLS label stack (OVS l3_ofs): where an IPv4, IPv6 or ARP
	// header starts. It is set whenever the frame has a complete Ethernet
	// header, whether or not the network header is valid.
	L3 uint16
	// L4 is the start of the transport header (OVS l4_ofs): set when the
	// IPv4 or IPv6 header (and extension chain) was valid and the packet is
	// not a later fragment, even when the transport header is truncated or
	// of an unknown protocol.
	L4 uint16
}

// OffsetNone marks an absent header in Offsets. It is beyond the end of any
// frame, so the packet mutators treat it as out of range and do nothing.
const OffsetNone = 0xffff

// HasL3 reports whether o.L3 is set.
func (o Offsets) HasL3() bool { return o.L3 != OffsetNone }

// HasL4 reports whether o.L4 is set.
func (o Offsets) HasL4() bool { return o.L4 != OffsetNone }

// clearPacket zeroes every field Extract owns, leaving the metadata.
func (k *Key) clearPacket() {
	k.IPv6Label, k.MplsLSE = 0, 0
	k.NwSrc, k.NwDst = [4]byte{}, [4]byte{}
	k.DlType, k.VlanTCI, k.TpSrc, k.TpDst, k.TCPFlags = 0, 0, 0, 0, 0
	k.DlSrc, k.DlDst, k.ArpSha, k.ArpTha = [6]byte{}, [6]byte{}, [6]byte{}, [6]byte{}
	k.NwProto, k.NwTos, k.NwTTL, k.NwFrag = 0, 0, 0, 0
	k.IPv6Src, k.IPv6Dst = [16]byte{}, [16]byte{}
}

// extractMPLS records the outermost label stack entry of the stack at p and
// returns the offset after the stack (after the entry with the bottom-of-stack
// bit, or the end of the complete entries).
func extractMPLS(frame []byte, p int, k *Key) int {
	first := true
	for len(frame)-p >= packet.MPLSSize {
		lse := binary.BigEndian.Uint32(frame[p:])
		if first {
			k.MplsLSE, first = lse, false
		}
		p += packet.MPLSSize
		if lse&packet.MPLSBOS != 0 {
			break
		}
	}
	return p
}

// extractARP fills the ARP fields from the packet b.
func extractARP(b []byte, k *Key) {
	if len(b) < packet.ARPSize {
		return
	}
	a := packet.ARP(b)
	if !a.IsEthernetIPv4() {
		return
	}
	// OVS matches only the low 8 bits of the opcode and leaves the field
	// zero for opcodes that do not fit.
	if op := a.Op(); op <= 0xff {
		k.NwProto = uint8(op)
	}
	k.NwSrc, k.NwDst = a.SPA(), a.TPA()
	k.ArpSha, k.ArpTha = a.SHA(), a.THA()
}

// extractIPv4 fills the IPv4 and transport fields from the header at p.
func extractIPv4(frame []byte, p int, k *Key, off *Offsets) {
	b := frame[p:]
	if len(b) < packet.IPv4MinimumSize {
		return
	}
	ip := packet.IPv4(b)
	hl, tot := ip.HeaderLen(), int(ip.TotalLen())
	// OVS's ipv4_sanity_check, including its refusal of more than 64 KiB
	// of trailing padding.
	if hl < packet.IPv4MinimumSize || hl > len(b) || tot > len(b) || hl > tot || len(b)-tot > 0xffff {
		return
	}
	k.NwSrc, k.NwDst = ip.Src(), ip.Dst()
	k.NwTos, k.NwTTL, k.NwProto = ip.TOS(), ip.TTL(), ip.Protocol()
	if ip.IsFragment() {
		k.NwFrag = FragAny
		if ip.FragOffset() != 0 {
			k.NwFrag |= FragLater
			return
		}
	}
	off.L4 = uint16(p + hl)
	extractL4(b[hl:tot], k)
}

// extractIPv6 fills the IPv6 and transport fields from the header at p.
func extractIPv6(frame []byte, p int, k *Key, off *Offsets) {
	b := frame[p:]
	if len(b) < packet.IPv6MinimumSize {
		return
	}
	ip := packet.IPv6(b)
	end := packet.IPv6MinimumSize + int(ip.PayloadLen())
	if end > len(b) || len(b)-end > 0xffff {
		return
	}
	b = b[:end]
	k.IPv6Src, k.IPv6Dst = ip.Src(), ip.Dst()
	u, ok := packet.WalkIPv6(b)
	if !ok {
		return
	}
	k.NwTos, k.IPv6Label, k.NwTTL = ip.TrafficClass(), ip.FlowLabel(), ip.HopLimit()
	k.NwProto, k.NwFrag = u.Proto, u.Frag
	if u.Frag&FragLater != 0 {
		return
	}
	off.L4 = uint16(p + u.Off)
	extractL4(b[u.Off:], k)
}

// extractL4 fills the transport fields for protocol k.NwProto from b, which
// ends where the IP packet ends.
func extractL4(b []byte, k *Key) {
	switch k.NwProto {
	case ProtoTCP:
		if len(b) >= packet.TCPMinimumSize {
			t := packet.TCP(b)
			k.TpSrc, k.TpDst, k.TCPFlags = t.SrcPort(), t.DstPort(), t.Flags()
		}
	case ProtoUDP:
		if len(b) >= packet.UDPMinimumSize {
			u := packet.UDP(b)
			k.TpSrc, k.TpDst = u.SrcPort(), u.DstPort()
		}
	case ProtoSCTP:
		if len(b) >= packet.SCTPMinimumSize {
			s := packet.SCTP(b)
			k.TpSrc, k.TpDst = s.SrcPort(), s.DstPort()
		}
	case ProtoICMP, packet.ProtoIGMP:
		// IGMP type and code sit where ICMP's do (RFC 2236 section 2).
		if len(b) >= packet.ICMPv4MinimumSize {
			k.TpSrc, k.TpDst = uint16(b[0]), uint16(b[1])
		}
	case ProtoICMPv6:
		if len(b) >= packet.ICMPv6MinimumSize {
			k.TpSrc, k.TpDst = uint16(b[0]), uint16(b[1])
			extractND(b, k)
		}
	}
}

// Neighbor discovery layout (RFC 4861 sections 4.3, 4.4 and 4.6.1).
const (
	ndTargetOff   = 8                // target address after the 8-byte ICMPv6 header
	ndOptionsOff  = ndTargetOff + 16 // options after the target address
	ndOptSrcLL    = 1
	ndOptTargetLL = 2
	ndOptUnit     = 8
)

// extractND puts the link-layer address options of a neighbour solicitation
// or advertisement into ArpSha (source) and ArpTha (target). Like OVS it takes
// them only when every option is well formed and neither address option
// appears twice; otherwise both stay zero.
func extractND(b []byte, k *Key) {
	if b[1] != 0 || (b[0] != packet.ICMPv6NeighborSolicit && b[0] != packet.ICMPv6NeighborAdvert) {
		return
	}
	if len(b) < ndOptionsOff {
		return
	}
	var sll, tll [6]byte
	for o := b[ndOptionsOff:]; len(o) >= ndOptUnit; {
		n := int(o[1]) * ndOptUnit
		if n == 0 || n > len(o) {
			return
		}
		if n == ndOptUnit && (o[0] == ndOptSrcLL || o[0] == ndOptTargetLL) {
			dst := &sll
			if o[0] == ndOptTargetLL {
				dst = &tll
			}
			// A repeated option is invalid; OVS detects it by a non-zero
			// address already stored.
			if *dst != [6]byte{} {
				return
			}
			*dst = [6]byte(o[2:8])
		}
		o = o[n:]
	}
	k.ArpSha, k.ArpTha = sll, tll
}
