package openflow

import (
	"fmt"

	"tapestry/flow"
)

// actionEncoder writes actions for one version. It tracks whether the packet
// carries a VLAN tag at this point of the list, because Open vSwitch turns
// mod_vlan_vid into push_vlan + set_field in OpenFlow 1.1+ when it does not.
type actionEncoder struct {
	version uint8
	match   *flow.Match // the flow's match, for context (may be empty)
	tagged  bool
}

func newActionEncoder(version uint8, m *flow.Match) actionEncoder {
	if m == nil {
		m = &flow.Match{}
	}
	return actionEncoder{version: version, match: m,
		tagged: m.Mask.VlanTCI&flow.VlanCFI != 0 && m.Key.VlanTCI&flow.VlanCFI != 0}
}

// appendActions encodes a plain action list (no instructions).
func appendActions(dst []byte, version uint8, acts []Action, m *flow.Match) ([]byte, error) {
	e := newActionEncoder(version, m)
	return e.appendList(dst, acts)
}

func (e *actionEncoder) appendList(dst []byte, acts []Action) ([]byte, error) {
	var err error
	for i := range acts {
		if dst, err = e.append(dst, &acts[i]); err != nil {
			return dst, err
		}
	}
	return dst, nil
}

func act8(dst []byte, t uint16) []byte { return append(dst, byte(t>>8), byte(t), 0, 8) }

// nxHeader starts a Nicira action of length n (the caller fills the body).
func nxHeader(dst []byte, n int, sub uint16) []byte {
	dst = append(dst, 0xff, 0xff, byte(n>>8), byte(n))
	return put16(put32(dst, niciraExperimenterID), sub)
}

func (e *actionEncoder) append(dst []byte, a *Action) ([]byte, error) {
	v10 := e.version == Version10
	switch a.Type {
	case ActOutput:
		return e.output(dst, a.Port, a.MaxLen)
	case ActController:
		if a.Reason == reasonAction && a.ID == 0 {
			return e.output(dst, PortController, a.MaxLen)
		}
		dst = nxHeader(dst, 16, nxastController)
		dst = append(put16(put16(dst, a.MaxLen), a.ID), a.Reason, 0)
		return dst, nil
	case ActEnqueue:
		return e.enqueue(dst, a)
	case ActSetQueue:
		if v10 {
			return put32(pad(nxHeader(dst, 16, nxastSetQueue), 2), a.Queue), nil
		}
		return put32(act8(dst, at13SetQueue), a.Queue), nil
	case ActPopQueue:
		return pad(nxHeader(dst, 16, nxastPopQueue), 6), nil
	case ActGroup:
		if v10 {
			return put32(pad(nxHeader(dst, 16, nxastGroup), 2), a.Group), nil
		}
		return put32(act8(dst, at13Group), a.Group), nil
	case ActModDlSrc, ActModDlDst, ActModNwSrc, ActModNwDst, ActModNwTos, ActModNwECN,
		ActModTpSrc, ActModTpDst, ActModVlanVID, ActModVlanPCP:
		return e.modField(dst, a)
	case ActStripVlan, ActPopVlan:
		e.tagged = false
		if v10 {
			return pad(act8(dst, at10StripVlan), 4), nil
		}
		return pad(act8(dst, at13PopVlan), 4), nil
	case ActPushVlan:
		e.tagged = true
		if v10 {
			// OpenFlow 1.0 pushes a tag as a side effect of the
			// set_vlan_vid/pcp that follows; Open vSwitch writes nothing.
			return dst, nil
		}
		return pad(put16(act8(dst, at13PushVlan), a.EtherType), 2), nil
	case ActPushMPLS, ActPopMPLS:
		return e.mpls(dst, a)
	case ActSetField:
		return e.setField(dst, a.Dst.Field, a.Value, a.Mask)
	case ActLoad:
		return e.load(dst, a)
	case ActMove:
		return appendRegMove(dst, a)
	case ActDecTTL:
		if len(a.Note) > 0 { // dec_ttl(ids): see model_nx.go
			return appendDecTTLCntIDs(dst, a.Note), nil
		}
		if v10 {
			return pad(nxHeader(dst, 16, nxastDecTTL), 6), nil
		}
		return pad(act8(dst, at13DecNwTTL), 4), nil
	case ActSetTTL:
		if v10 {
			return appendRegLoad(dst, flow.Whole(flow.FieldNwTTL), uint64(a.TTL))
		}
		return pad(append(act8(dst, at13SetNwTTL), a.TTL), 3), nil
	case ActDecMPLSTTL:
		if v10 {
			return pad(nxHeader(dst, 16, nxastDecMPLSTTL), 6), nil
		}
		return pad(act8(dst, at13DecMPLSTTL), 4), nil
	case ActSetMPLSTTL:
		if v10 {
			return pad(append(nxHeader(dst, 16, nxastSetMPLSTTL), a.TTL), 5), nil
		}
		return pad(append(act8(dst, at13SetMPLSTTL), a.TTL), 3), nil
	case ActResubmit:
		return e.resubmit(dst, a.Port, a.Table)
	case ActNote:
		start := len(dst)
		dst = nxHeader(dst, 0, nxastNote)
		dst = append(dst, a.Note...)
		if len(dst)-start < 16 {
			dst = pad(dst, 16-(len(dst)-start))
		}
		dst = padTo8(dst, start)
		n := len(dst) - start
		dst[start+2], dst[start+3] = byte(n>>8), byte(n)
		return dst, nil
	case ActGotoTable:
		if v10 {
			return e.resubmit(dst, PortInPort, a.Table)
		}
	case ActWriteMetadata:
		if v10 {
			mask := a.Mask.Uint64()
			if a.Mask.IsZero() {
				mask = ^uint64(0)
			}
			return put64(put64(pad(nxHeader(dst, 32, nxastWriteMetadata), 6), a.Value.Uint64()), mask), nil
		}
	}
	if out, ok, err := e.appendNXAction2(dst, a); ok {
		return out, err
	}
	return dst, fmt.Errorf("openflow: action %d cannot be encoded in an action list for version 0x%02x", a.Type, e.version)
}

func (e *actionEncoder) output(dst []byte, port uint32, maxLen uint16) ([]byte, error) {
	if e.version == Version10 {
		p, ok := port32To10(port)
		if !ok {
			return dst, fmt.Errorf("openflow: port %d has no OpenFlow 1.0 number", port)
		}
		return put16(put16(act8(dst, at10Output), p), maxLen), nil
	}
	dst = append(dst, 0, at13Output, 0, 16)
	return pad(put16(put32(dst, port), maxLen), 6), nil
}

// enqueue: OpenFlow 1.0 has OFPAT_ENQUEUE; later versions spell it
// set_queue, output, pop_queue, as Open vSwitch does.
func (e *actionEncoder) enqueue(dst []byte, a *Action) ([]byte, error) {
	if e.version == Version10 {
		p, ok := port32To10(a.Port)
		if !ok {
			return dst, fmt.Errorf("openflow: port %d has no OpenFlow 1.0 number", a.Port)
		}
		dst = append(dst, 0, at10Enqueue, 0, 16)
		return put32(pad(put16(dst, p), 6), a.Queue), nil
	}
	dst = put32(act8(dst, at13SetQueue), a.Queue)
	dst, _ = e.output(dst, a.Port, 0)
	return pad(nxHeader(dst, 16, nxastPopQueue), 6), nil
}

func (e *actionEncoder) resubmit(dst []byte, port uint32, table uint8) ([]byte, error) {
	p, ok := port32To10(port)
	if !ok {
		return dst, fmt.Errorf("openflow: resubmit port %d has no 16-bit number", port)
	}
	// Open vSwitch encodes every resubmit it parses from text as
	// RESUBMIT_TABLE (table 255 = this table); plain RESUBMIT is only
	// decoded.
	return pad(append(put16(nxHeader(dst, 16, nxastResubmitTable), p), table), 3), nil
}

func (e *actionEncoder) mpls(dst []byte, a *Action) ([]byte, error) {
	if e.version == Version10 {
		sub := uint16(nxastPushMPLS)
		if a.Type == ActPopMPLS {
			sub = nxastPopMPLS
		}
		return pad(put16(nxHeader(dst, 16, sub), a.EtherType), 4), nil
	}
	t := uint16(at13PushMPLS)
	if a.Type == ActPopMPLS {
		t = at13PopMPLS
	}
	return pad(put16(act8(dst, t), a.EtherType), 2), nil
}

// modField handles the mod_* actions: native OpenFlow 1.0 actions, set_field
// in 1.3 (choosing tcp/udp/sctp ports from the flow's nw_proto, as OVS does).
func (e *actionEncoder) modField(dst []byte, a *Action) ([]byte, error) {
	f := modFields[a.Type]
	v := a.Value
	switch a.Type {
	case ActModNwTos:
		f, v = flow.FieldIPDSCP, flow.U64(v.Uint64()>>2&0x3f)
	case ActModTpSrc, ActModTpDst:
		if e.version != Version10 {
			var err error
			if f, err = l4Field(e.match, a.Type == ActModTpSrc); err != nil {
				return dst, err
			}
		}
	case ActModVlanVID, ActModVlanPCP:
		if a.Type == ActModVlanVID {
			v = flow.U64(v.Uint64()&flow.VlanVIDMask | flow.VlanCFI)
		}
		if e.version != Version10 {
			if !e.tagged {
				dst = pad(put16(act8(dst, at13PushVlan), flow.EthTypeVLAN), 2)
				e.tagged = true
			}
		}
	}
	return e.setField(dst, f, v, flow.Value{})
}

var modFields = map[ActionType]flow.Field{
	ActModDlSrc: flow.FieldDlSrc, ActModDlDst: flow.FieldDlDst,
	ActModNwSrc: flow.FieldNwSrc, ActModNwDst: flow.FieldNwDst,
	ActModNwTos: flow.FieldIPDSCP, ActModNwECN: flow.FieldNwECN,
	ActModTpSrc: flow.FieldTpSrc, ActModTpDst: flow.FieldTpDst,
	ActModVlanVID: flow.FieldVlanVID, ActModVlanPCP: flow.FieldVlanPCP,
}

func l4Field(m *flow.Match, src bool) (flow.Field, error) {
	if m.Mask.NwProto == 0xff {
		switch m.Key.NwProto {
		case flow.ProtoTCP:
			return pick(src, flow.FieldTCPSrc, flow.FieldTCPDst), nil
		case flow.ProtoUDP:
			return pick(src, flow.FieldUDPSrc, flow.FieldUDPDst), nil
		case flow.ProtoSCTP:
			return pick(src, flow.FieldSCTPSrc, flow.FieldSCTPDst), nil
		}
	}
	return flow.FieldInvalid, errorf(ErrBadAction, BACMatchInconsistent, "mod_tp_src/dst needs a tcp, udp or sctp match")
}

func pick(c bool, a, b flow.Field) flow.Field {
	if c {
		return a
	}
	return b
}

// setField writes set_field for the version: OFPAT_SET_FIELD in 1.3 (with
// the field's OXM header, else its NXM one, as OVS does), the legacy action
// in 1.0 where one exists, and Nicira REG_LOAD/REG_LOAD2 otherwise.
func (e *actionEncoder) setField(dst []byte, f flow.Field, v, mask flow.Value) ([]byte, error) {
	if !f.Valid() {
		return dst, fmt.Errorf("openflow: set_field of invalid field %d", f)
	}
	full := f.FullMask()
	exact := mask.IsZero() || mask == full
	// Open vSwitch decodes NXAST_SET_MPLS_LABEL and _TC without a range
	// check (set_mpls_tc(10) is among os-ken's captured vectors): such a
	// value has no OXM encoding, so it goes back out as the Nicira action
	// it came as, in every version.
	outOfRange := (f == flow.FieldMplsLabel || f == flow.FieldMplsTC) && v.Uint64() > full.Uint64()
	if (e.version == Version10 || outOfRange) && exact {
		if out, ok := legacySetField10(dst, f, v); ok {
			return out, nil
		}
	}
	if _, _, ok := oxmHeaderFor(f); !ok {
		return dst, fmt.Errorf("openflow: field %v has no OXM or NXM encoding", f)
	}
	if e.version != Version10 && exact {
		start := len(dst)
		dst = append(dst, 0, at13SetField, 0, 0)
		if f == flow.FieldTCPFlags {
			dst = appendONFTCPFlags(dst, v, full)
		} else {
			dst = appendOXM(dst, f, v, full)
		}
		dst = padTo8(dst, start)
		n := len(dst) - start
		dst[start+2], dst[start+3] = byte(n>>8), byte(n)
		return dst, nil
	}
	if exact && f.Info().NXMName != "" && f.Bits() <= 64 {
		return appendRegLoad(dst, flow.Whole(f), v.Uint64())
	}
	return appendRegLoad2(dst, f, v, mask), nil
}

// legacySetField10 maps set_field onto OpenFlow 1.0's native actions and
// the Nicira MPLS ones (Open vSwitch's set_field_to_legacy_openflow).
func legacySetField10(dst []byte, f flow.Field, v flow.Value) ([]byte, bool) {
	x := v.Uint64()
	switch f {
	case flow.FieldDlSrc, flow.FieldDlDst:
		t := uint16(at10SetDlSrc)
		if f == flow.FieldDlDst {
			t = at10SetDlDst
		}
		return pad(append(append(dst, 0, byte(t), 0, 16), v.Tail(6)...), 6), true
	case flow.FieldVlanVID:
		if x&flow.VlanCFI == 0 {
			return pad(act8(dst, at10StripVlan), 4), true
		}
		return pad(put16(act8(dst, at10SetVlanVID), uint16(x&flow.VlanVIDMask)), 2), true
	case flow.FieldVlanPCP:
		return pad(append(act8(dst, at10SetVlanPCP), byte(x)), 3), true
	case flow.FieldNwSrc:
		return append(act8(dst, at10SetNwSrc), v.Tail(4)...), true
	case flow.FieldNwDst:
		return append(act8(dst, at10SetNwDst), v.Tail(4)...), true
	case flow.FieldIPDSCP:
		return pad(append(act8(dst, at10SetNwTos), byte(x<<2)), 3), true
	case flow.FieldTCPSrc, flow.FieldUDPSrc, flow.FieldTpSrc:
		return pad(put16(act8(dst, at10SetTpSrc), uint16(x)), 2), true
	case flow.FieldTCPDst, flow.FieldUDPDst, flow.FieldTpDst:
		return pad(put16(act8(dst, at10SetTpDst), uint16(x)), 2), true
	case flow.FieldMplsLabel:
		return put32(pad(nxHeader(dst, 16, nxastSetMPLSLabel), 2), uint32(x)), true
	case flow.FieldMplsTC:
		return pad(append(nxHeader(dst, 16, nxastSetMPLSTC), byte(x)), 5), true
	case flow.FieldMplsTTL:
		return pad(append(nxHeader(dst, 16, nxastSetMPLSTTL), byte(x)), 5), true
	}
	return dst, false
}

// nxmHeader is the 32-bit header load/move use for sf's field: its NXM
// form when it has one, else its OXM form (Open vSwitch's
// nx_put_mff_header for NXM). NXM_OF_IN_PORT is 16 bits wide: a subfield
// of in_port beyond bit 15 needs OXM's 32-bit in_port.
func nxmHeader(sf flow.Subfield) uint32 {
	f := sf.Field
	in := f.Info()
	class, field := in.OXMClass, in.OXMField
	if in.NXMName != "" && (f != flow.FieldInPort || int(sf.Ofs)+int(sf.NBits) <= 16) {
		class, field = in.NXMClass, in.NXMField
	}
	return uint32(class)<<16 | uint32(field)<<9 | uint32(oxmWidth(f, class))
}

func appendRegLoad(dst []byte, sf flow.Subfield, v uint64) ([]byte, error) {
	if sf.NBits == 0 || sf.NBits > 64 || int(sf.Ofs)+int(sf.NBits) > sf.Field.Bits() {
		return dst, fmt.Errorf("openflow: load to %v[%d..%d] out of range", sf.Field, sf.Ofs, int(sf.Ofs)+int(sf.NBits)-1)
	}
	dst = nxHeader(dst, 24, nxastRegLoad)
	dst = put16(dst, sf.Ofs<<6|(sf.NBits-1))
	return put64(put32(dst, nxmHeader(sf)), v), nil
}

func appendRegLoad2(dst []byte, f flow.Field, v, mask flow.Value) []byte {
	start := len(dst)
	dst = nxHeader(dst, 0, nxastRegLoad2)
	if f == flow.FieldTCPFlags {
		dst = appendONFTCPFlags(dst, v, mask)
	} else {
		dst = appendOXM(dst, f, v, mask)
	}
	dst = padTo8(dst, start)
	n := len(dst) - start
	dst[start+2], dst[start+3] = byte(n>>8), byte(n)
	return dst
}

// load encodes load:Value->Dst as NXAST_REG_LOAD (OVS keeps that encoding
// for load in every version), or REG_LOAD2 for fields without an NXM header.
func (e *actionEncoder) load(dst []byte, a *Action) ([]byte, error) {
	sf := a.Dst
	if !sf.Field.Valid() {
		return dst, fmt.Errorf("openflow: load to invalid field")
	}
	if sf.Field.Info().NXMName != "" {
		return appendRegLoad(dst, sf, a.Value.Uint64())
	}
	if sf.NBits == 0 || int(sf.Ofs)+int(sf.NBits) > sf.Field.Bits() || sf.Field.Bits() > 64 {
		return dst, fmt.Errorf("openflow: load to %v[%d..] out of range", sf.Field, sf.Ofs)
	}
	mask := (^uint64(0) >> (64 - sf.NBits)) << sf.Ofs
	return appendRegLoad2(dst, sf.Field, flow.U64(a.Value.Uint64()<<sf.Ofs&mask), flow.U64(mask)), nil
}

func appendRegMove(dst []byte, a *Action) ([]byte, error) {
	s, d := a.Src, a.Dst
	if !s.Field.Valid() || !d.Field.Valid() || s.NBits == 0 || s.NBits != d.NBits ||
		int(s.Ofs)+int(s.NBits) > s.Field.Bits() || int(d.Ofs)+int(d.NBits) > d.Field.Bits() {
		return dst, fmt.Errorf("openflow: move %v[%d+%d] -> %v[%d+%d] is invalid", s.Field, s.Ofs, s.NBits, d.Field, d.Ofs, d.NBits)
	}
	dst = nxHeader(dst, 24, nxastRegMove)
	dst = put16(put16(put16(dst, s.NBits), s.Ofs), d.Ofs)
	return put32(put32(dst, nxmHeader(s)), nxmHeader(d)), nil
}
