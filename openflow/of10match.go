package openflow

import (
	"encoding/binary"
	"fmt"

	"tapestry/flow"
)

// OpenFlow 1.0's fixed ofp_match (OpenFlow 1.0 §5.2.3): 40 bytes, a
// wildcard word and one slot per field.
const (
	match10Len = 40

	m10Wildcards = 0
	m10InPort    = 4
	m10DlSrc     = 6
	m10DlDst     = 12
	m10DlVlan    = 18
	m10DlVlanPCP = 20
	m10DlType    = 22
	m10NwTos     = 24
	m10NwProto   = 25
	m10NwSrc     = 28
	m10NwDst     = 32
	m10TpSrc     = 36
	m10TpDst     = 38
)

// OFPFW_* wildcard bits.
const (
	fw10InPort     = 1 << 0
	fw10DlVlan     = 1 << 1
	fw10DlSrc      = 1 << 2
	fw10DlDst      = 1 << 3
	fw10DlType     = 1 << 4
	fw10NwProto    = 1 << 5
	fw10TpSrc      = 1 << 6
	fw10TpDst      = 1 << 7
	fw10NwSrcShift = 8
	fw10NwDstShift = 14
	fw10DlVlanPCP  = 1 << 20
	fw10NwTos      = 1 << 21
	fw10All        = 1<<22 - 1

	vlan10None = 0xffff // OFP_VLAN_NONE: match untagged packets
)

// port10To32 widens an OpenFlow 1.0 port: the reserved ports 0xff00 and up
// become 0xffffff00 and up (OpenFlow 1.3 §7.2.1 kept their low bits).
func port10To32(p uint16) uint32 {
	if p >= 0xff00 {
		return uint32(p) | 0xffff0000
	}
	return uint32(p)
}

// port32To10 narrows a port for OpenFlow 1.0; ok is false for ports that
// have no 16-bit form.
func port32To10(p uint32) (uint16, bool) {
	switch {
	case p < 0xff00:
		return uint16(p), true
	case p >= 0xffffff00:
		return uint16(p), true
	}
	return 0, false
}

// decodeMatch10 parses an OpenFlow 1.0 ofp_match. Fields whose
// prerequisites the match does not meet are dropped, as the 1.0 spec says
// switches ignore them and as Open vSwitch normalizes.
func decodeMatch10(b []byte, m *flow.Match) error {
	*m = flow.Match{}
	if len(b) < match10Len {
		return errorf(ErrBadRequest, BRCBadLen, "ofp_match truncated to %d bytes", len(b))
	}
	w := binary.BigEndian.Uint32(b[m10Wildcards:])
	set := func(bit uint32, f flow.Field, v flow.Value) {
		if w&bit == 0 {
			m.Set(f, v)
		}
	}
	set(fw10InPort, flow.FieldInPort, flow.U64(uint64(port10To32(be16(b[m10InPort:])))))
	set(fw10DlSrc, flow.FieldDlSrc, flow.Bytes(b[m10DlSrc:m10DlSrc+6]))
	set(fw10DlDst, flow.FieldDlDst, flow.Bytes(b[m10DlDst:m10DlDst+6]))
	set(fw10DlType, flow.FieldDlType, flow.U64(uint64(be16(b[m10DlType:]))))
	decodeVLAN10(w, be16(b[m10DlVlan:]), b[m10DlVlanPCP], m)
	ip := m.Mask.DlType == 0xffff && m.Key.DlType == flow.EthTypeIPv4
	arp := m.Mask.DlType == 0xffff && m.Key.DlType == flow.EthTypeARP
	if !ip && !arp {
		return nil
	}
	set(fw10NwProto, flow.FieldNwProto, flow.U64(uint64(b[m10NwProto])))
	nwPrefix(m, flow.FieldNwSrc, b[m10NwSrc:m10NwSrc+4], (w>>fw10NwSrcShift)&63)
	nwPrefix(m, flow.FieldNwDst, b[m10NwDst:m10NwDst+4], (w>>fw10NwDstShift)&63)
	if !ip {
		return nil
	}
	set(fw10NwTos, flow.FieldIPDSCP, flow.U64(uint64(b[m10NwTos]>>2)))
	if m.Mask.NwProto == 0 {
		return nil
	}
	switch m.Key.NwProto {
	case flow.ProtoTCP, flow.ProtoUDP, flow.ProtoSCTP:
		set(fw10TpSrc, flow.FieldTpSrc, flow.U64(uint64(be16(b[m10TpSrc:]))))
		set(fw10TpDst, flow.FieldTpDst, flow.U64(uint64(be16(b[m10TpDst:]))))
	case flow.ProtoICMP:
		// ICMP type and code travel in tp_src/tp_dst; only the low byte
		// means anything.
		set(fw10TpSrc, flow.FieldICMPType, flow.U64(uint64(be16(b[m10TpSrc:])&0xff)))
		set(fw10TpDst, flow.FieldICMPCode, flow.U64(uint64(be16(b[m10TpDst:])&0xff)))
	}
	return nil
}

// decodeVLAN10 maps dl_vlan/dl_vlan_pcp onto VlanTCI with OVS's meaning:
// OFP_VLAN_NONE is vlan_tci=0/0xffff; a VID or PCP implies the tag.
func decodeVLAN10(w uint32, vid uint16, pcp uint8, m *flow.Match) {
	if w&fw10DlVlan == 0 {
		if vid == vlan10None {
			m.Mask.VlanTCI = 0xffff
			return
		}
		m.Key.VlanTCI |= vid&flow.VlanVIDMask | flow.VlanCFI
		m.Mask.VlanTCI |= flow.VlanVIDMask | flow.VlanCFI
	}
	if w&fw10DlVlanPCP == 0 {
		m.Key.VlanTCI |= uint16(pcp&7)<<flow.VlanPCPShift | flow.VlanCFI
		m.Mask.VlanTCI |= flow.VlanPCPMask | flow.VlanCFI
	}
}

// nwPrefix applies a 1.0 address with its wildcard bit count (0 = exact,
// 32 or more = any).
func nwPrefix(m *flow.Match, f flow.Field, addr []byte, wild uint32) {
	if wild >= 32 {
		return
	}
	mask := uint32(0xffffffff) << wild
	m.SetMasked(f, flow.Bytes(addr), flow.U64(uint64(mask)))
}

// appendMatch10 encodes m as an OpenFlow 1.0 ofp_match. It fails when m
// uses what 1.0 cannot say: registers, metadata, IPv6, masked Ethernet
// addresses, non-prefix IPv4 masks, partial VLAN masks.
func appendMatch10(dst []byte, m *flow.Match) ([]byte, error) {
	var b [match10Len]byte
	var shadow flow.Match
	// Open vSwitch writes 32 (not 63) for a fully wildcarded address.
	w := uint32(fw10All)&^(63<<fw10NwSrcShift|63<<fw10NwDstShift) | 32<<fw10NwSrcShift | 32<<fw10NwDstShift
	k, mk := &m.Key, &m.Mask
	exact := func(bit uint32, f flow.Field, off, width int) {
		v, mask := m.Get(f)
		if mask.IsZero() {
			return
		}
		w &^= bit
		copy(b[off:off+width], v.Tail(width))
		shadow.SetMasked(f, v, f.FullMask())
	}
	if mk.InPort != 0 {
		p, ok := port32To10(k.InPort)
		if !ok {
			return dst, fmt.Errorf("openflow: in_port %d has no OpenFlow 1.0 number", k.InPort)
		}
		w &^= fw10InPort
		binary.BigEndian.PutUint16(b[m10InPort:], p)
		shadow.Set(flow.FieldInPort, flow.U64(uint64(k.InPort)))
	}
	exact(fw10DlSrc, flow.FieldDlSrc, m10DlSrc, 6)
	exact(fw10DlDst, flow.FieldDlDst, m10DlDst, 6)
	exact(fw10DlType, flow.FieldDlType, m10DlType, 2)
	w = encodeVLAN10(w, &b, m, &shadow)
	if mk.DlType == 0xffff && (k.DlType == flow.EthTypeIPv4 || k.DlType == flow.EthTypeARP) {
		exact(fw10NwProto, flow.FieldNwProto, m10NwProto, 1)
		w = encodePrefix10(w, fw10NwSrcShift, b[m10NwSrc:], flow.FieldNwSrc, m, &shadow)
		w = encodePrefix10(w, fw10NwDstShift, b[m10NwDst:], flow.FieldNwDst, m, &shadow)
		if mk.NwTos&0xfc != 0 && k.DlType == flow.EthTypeIPv4 {
			w &^= fw10NwTos
			b[m10NwTos] = k.NwTos & 0xfc
			shadow.Set(flow.FieldIPDSCP, flow.U64(uint64(k.NwTos>>2)))
		}
		if mk.NwProto != 0 && k.DlType == flow.EthTypeIPv4 {
			encodeTp10(&w, &b, m, &shadow)
		}
	}
	if shadow.Mask != *mk {
		return dst, fmt.Errorf("openflow: match %s cannot be encoded in an OpenFlow 1.0 ofp_match", diffFields(&shadow.Mask, mk))
	}
	binary.BigEndian.PutUint32(b[m10Wildcards:], w)
	return append(dst, b[:]...), nil
}

func encodeTp10(w *uint32, b *[match10Len]byte, m *flow.Match, shadow *flow.Match) {
	k, mk := &m.Key, &m.Mask
	switch k.NwProto {
	case flow.ProtoTCP, flow.ProtoUDP, flow.ProtoSCTP, flow.ProtoICMP:
	default:
		return
	}
	// 1.0 has no transport masks: any mask on tp_src means exact, as in
	// Open vSwitch (an ICMP type mask is the low byte).
	full := uint16(0xffff)
	if k.NwProto == flow.ProtoICMP {
		full = 0xff
	}
	if mk.TpSrc == full {
		*w &^= fw10TpSrc
		binary.BigEndian.PutUint16(b[m10TpSrc:], k.TpSrc)
		shadow.Key.TpSrc, shadow.Mask.TpSrc = k.TpSrc, full
	}
	if mk.TpDst == full {
		*w &^= fw10TpDst
		binary.BigEndian.PutUint16(b[m10TpDst:], k.TpDst)
		shadow.Key.TpDst, shadow.Mask.TpDst = k.TpDst, full
	}
}

func encodeVLAN10(w uint32, b *[match10Len]byte, m *flow.Match, shadow *flow.Match) uint32 {
	tci, mask := m.Key.VlanTCI, m.Mask.VlanTCI
	switch {
	case mask == 0:
		return w
	case mask == 0xffff && tci == 0:
		binary.BigEndian.PutUint16(b[m10DlVlan:], vlan10None)
		shadow.Mask.VlanTCI = 0xffff
		// Open vSwitch also writes the PCP as exact (0) for OFP_VLAN_NONE.
		return w &^ (fw10DlVlan | fw10DlVlanPCP)
	}
	if mask&flow.VlanCFI == 0 || tci&flow.VlanCFI == 0 {
		return w // left for the shadow check to report
	}
	if mask&flow.VlanVIDMask == flow.VlanVIDMask {
		w &^= fw10DlVlan
		binary.BigEndian.PutUint16(b[m10DlVlan:], tci&flow.VlanVIDMask)
		shadow.Mask.VlanTCI |= flow.VlanVIDMask | flow.VlanCFI
	}
	if mask&flow.VlanPCPMask == flow.VlanPCPMask {
		w &^= fw10DlVlanPCP
		b[m10DlVlanPCP] = byte(tci >> flow.VlanPCPShift)
		shadow.Mask.VlanTCI |= flow.VlanPCPMask | flow.VlanCFI
	}
	shadow.Key.VlanTCI = tci & shadow.Mask.VlanTCI
	return w
}

func encodePrefix10(w uint32, shift uint, dst []byte, f flow.Field, m *flow.Match, shadow *flow.Match) uint32 {
	v, mask := m.Get(f)
	mm := uint32(mask.Uint64())
	if mm == 0 {
		return w
	}
	n := 0
	for mm<<n != 0 && mm<<n&0x80000000 != 0 {
		n++
	}
	if uint32(0xffffffff)<<(32-n) != mm {
		return w // not a prefix: the shadow check reports it
	}
	w = w&^(63<<shift) | uint32(32-n)<<shift
	copy(dst[:4], v.Tail(4))
	shadow.SetMasked(f, v, mask)
	return w
}
