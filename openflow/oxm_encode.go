package openflow

import (
	"fmt"

	"tapestry/flow"
)

// appendOXMFields writes the TLVs of m in the order Open vSwitch's
// nx_put_raw uses (in_port, Ethernet, VLAN, MPLS, L3, L4, tunnel,
// registers, pkt_mark, conntrack, metadata), so that our flow mods are byte
// for byte what ovs-ofctl sends. A field is written only where its
// prerequisites make it meaningful; bits of m that no TLV expresses are an
// error rather than being dropped silently.
func appendOXMFields(dst []byte, m *flow.Match) ([]byte, error) {
	e := oxmEncoder{dst: dst, m: m}
	k := &m.Key
	e.put(flow.FieldInPort)
	e.put(flow.FieldDlSrc)
	e.put(flow.FieldDlDst)
	e.put(flow.FieldDlType)
	e.putVLAN()
	if k.DlType == flow.EthTypeMPLS || k.DlType == flow.EthTypeMPLSMcast {
		e.put(flow.FieldMplsTC)
		e.put(flow.FieldMplsBOS)
		e.put(flow.FieldMplsLabel)
		e.put(flow.FieldMplsTTL)
	}
	switch k.DlType {
	case flow.EthTypeIPv4, flow.EthTypeIPv6:
		e.putIP()
	case flow.EthTypeARP, 0x8035:
		e.put(flow.FieldArpOp)
		e.put(flow.FieldArpSpa)
		e.put(flow.FieldArpTpa)
		e.put(flow.FieldArpSha)
		e.put(flow.FieldArpTha)
	}
	e.put(flow.FieldTunID)
	for r := flow.FieldReg0; r <= flow.FieldReg15; r++ {
		e.put(r)
	}
	e.put(flow.FieldPktMark)
	e.put(flow.FieldCtState)
	e.put(flow.FieldCtZone)
	e.put(flow.FieldCtMark)
	e.put(flow.FieldMetadata)
	if e.shadow.Mask != m.Mask {
		return dst, fmt.Errorf("openflow: match %s cannot be encoded in OXM (missing prerequisite or unsupported mask)", diffFields(&e.shadow.Mask, &m.Mask))
	}
	return e.dst, nil
}

// oxmEncoder appends TLVs and records in shadow what it has expressed.
type oxmEncoder struct {
	dst    []byte
	m      *flow.Match
	shadow flow.Match
}

func (e *oxmEncoder) put(f flow.Field) {
	v, mask := e.m.Get(f)
	if mask.IsZero() {
		return
	}
	if !f.Info().Maskable {
		mask = f.FullMask()
	}
	if f == flow.FieldTCPFlags {
		e.dst = appendONFTCPFlags(e.dst, v, mask)
	} else {
		e.dst = appendOXM(e.dst, f, v, mask)
	}
	e.shadow.SetMasked(f, v, mask)
}

// putICMP writes an ICMP type or code. The model matches them, as Open
// vSwitch does (match_set_icmp_type), on the whole 16-bit tp_src/tp_dst, whose
// high byte is zero for ICMP packets; OXM carries only the 8-bit field, which
// is not maskable. Both an 8-bit and a 16-bit exact mask are accepted.
func (e *oxmEncoder) putICMP(f, wide flow.Field) {
	v, mask := e.m.Get(wide)
	if m := mask.Uint64(); m != 0xffff && m != 0x00ff || v.Uint64() > 0xff {
		return // left unexpressed: the caller's shadow check reports it
	}
	e.dst = appendOXM(e.dst, f, v, f.FullMask())
	e.shadow.SetMasked(wide, v, mask)
}

// putVLAN writes VLAN_VID (with OFPVID_PRESENT as the CFI bit) and VLAN_PCP
// as OpenFlow 1.3 §7.2.3.7 describes; a PCP is only written with a tag.
func (e *oxmEncoder) putVLAN() {
	tci, mask := e.m.Key.VlanTCI, e.m.Mask.VlanTCI
	vidMask := mask & (flow.VlanVIDMask | flow.VlanCFI)
	if vidMask == 0 && mask&flow.VlanPCPMask != 0 {
		// A PCP match alone still needs the tag (vlan_vid=0x1000/0x1000).
		vidMask = flow.VlanCFI
	}
	if vidMask != 0 {
		e.dst = appendOXM(e.dst, flow.FieldVlanVID, flow.U64(uint64(tci&vidMask)), flow.U64(uint64(vidMask)))
		e.shadow.Key.VlanTCI |= tci & vidMask
		e.shadow.Mask.VlanTCI |= vidMask
	}
	if mask&flow.VlanPCPMask != 0 && tci&flow.VlanCFI != 0 {
		e.put(flow.FieldVlanPCP)
	}
}

// putIP writes the IPv4/IPv6 and transport fields (nx_put_ip's order).
func (e *oxmEncoder) putIP() {
	k, mk := &e.m.Key, &e.m.Mask
	if k.DlType == flow.EthTypeIPv4 {
		e.put(flow.FieldNwSrc)
		e.put(flow.FieldNwDst)
	} else {
		e.put(flow.FieldIPv6Src)
		e.put(flow.FieldIPv6Dst)
		e.put(flow.FieldIPv6Label)
	}
	e.put(flow.FieldNwFrag)
	if mk.NwTos&0xfc != 0 {
		e.put(flow.FieldIPDSCP)
	}
	if mk.NwTos&0x03 != 0 {
		e.put(flow.FieldNwECN)
	}
	e.put(flow.FieldNwTTL)
	if mk.NwProto == 0 {
		return
	}
	e.put(flow.FieldNwProto)
	switch k.NwProto {
	case flow.ProtoTCP:
		e.put(flow.FieldTCPSrc)
		e.put(flow.FieldTCPDst)
		e.put(flow.FieldTCPFlags)
	case flow.ProtoUDP:
		e.put(flow.FieldUDPSrc)
		e.put(flow.FieldUDPDst)
	case flow.ProtoSCTP:
		e.put(flow.FieldSCTPSrc)
		e.put(flow.FieldSCTPDst)
	case flow.ProtoICMP:
		if k.DlType == flow.EthTypeIPv4 {
			e.putICMP(flow.FieldICMPType, flow.FieldTpSrc)
			e.putICMP(flow.FieldICMPCode, flow.FieldTpDst)
		}
	case flow.ProtoICMPv6:
		if k.DlType == flow.EthTypeIPv6 {
			e.putICMP(flow.FieldICMPv6Type, flow.FieldTpSrc)
			e.putICMP(flow.FieldICMPv6Code, flow.FieldTpDst)
		}
	}
}

// ONF's experimenter OXM for tcp_flags (ONFOXM_ET_TCP_FLAGS, field 42), which
// Open vSwitch uses in OpenFlow 1.3 because OXM_OF_TCP_FLAGS only arrived in
// 1.5.
const onfTCPFlagsField = 42

func appendONFTCPFlags(dst []byte, v, m flow.Value) []byte {
	masked := m != flow.FieldTCPFlags.FullMask()
	n, hm := byte(6), byte(0)
	if masked {
		n, hm = 8, 1
	}
	dst = append(dst, 0xff, 0xff, onfTCPFlagsField<<1|hm, n)
	dst = put32(dst, onfExperimenterID)
	dst = append(dst, v.Tail(2)...)
	if masked {
		dst = append(dst, m.Tail(2)...)
	}
	return dst
}

// experimenterField maps an experimenter OXM to a flow field: only ONF's
// tcp_flags is known. It returns the TLV with the experimenter id stripped.
func experimenterField(t *oxmTLV, body []byte) (flow.Field, error) {
	if len(body) < 4 || be32(body) != onfExperimenterID || t.field != onfTCPFlagsField {
		return flow.FieldInvalid, errorf(ErrBadMatch, BMCBadField, "unknown experimenter OXM field %d", t.field)
	}
	rest := body[4:]
	if t.hasMask {
		if len(rest)%2 != 0 {
			return flow.FieldInvalid, errorf(ErrBadMatch, BMCBadLen, "masked tcp_flags has odd length")
		}
		t.value, t.mask = rest[:len(rest)/2], rest[len(rest)/2:]
	} else {
		t.value = rest
	}
	t.class = flow.ClassNXM1 // width rules as NXM_NX_TCP_FLAGS
	return flow.FieldTCPFlags, nil
}

// diffFields names the fields whose mask bits differ between a and b.
func diffFields(a, b *flow.Mask) string {
	out := ""
	for _, f := range flow.All() {
		if f.Get((*flow.Key)(a)) != f.Get((*flow.Key)(b)) {
			if out != "" {
				out += ","
			}
			out += f.String()
		}
	}
	return "[" + out + "]"
}
