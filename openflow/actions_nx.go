package openflow

import (
	"tapestry/flow"
)

// Nicira extension actions: every one starts with
// type(0xffff) len vendor(0x00002320) subtype.
const nxActionHeaderLen = 10

func decodeExperimenterAction(version uint8, b []byte) (Action, error) {
	if len(b) < 16 && len(b) >= 8 && be32(b[4:]) != niciraExperimenterID {
		return Action{}, errorf(ErrBadAction, BACBadExperimenter, "unknown experimenter 0x%08x", be32(b[4:]))
	}
	if be32(b[4:]) != niciraExperimenterID {
		return Action{}, errorf(ErrBadAction, BACBadExperimenter, "unknown experimenter 0x%08x", be32(b[4:]))
	}
	if len(b) < 16 {
		return Action{}, errorf(ErrBadAction, BACBadLen, "Nicira action of %d bytes", len(b))
	}
	sub := be16(b[8:])
	body := b[nxActionHeaderLen:]
	switch sub {
	case nxastResubmit, nxastResubmitTable:
		return decodeResubmit(sub, b)
	case nxastSetQueue:
		return nxFixed(b, 16, Action{Type: ActSetQueue, Queue: be32(body[2:])})
	case nxastPopQueue:
		return nxFixed(b, 16, Action{Type: ActPopQueue})
	// set_tunnel is a load of the whole tun_id: that is what a set_field of
	// tun_id encodes as in OpenFlow 1.0 (NXAST_REG_LOAD, as Open vSwitch
	// does), so what decodes from either re-encodes the same way.
	case nxastSetTunnel:
		return nxFixed(b, 16, Action{Type: ActLoad, Dst: flow.Whole(flow.FieldTunID), Value: flow.U64(uint64(be32(body[2:])))})
	case nxastSetTunnel64:
		if len(b) != 24 {
			return Action{}, errorf(ErrBadAction, BACBadLen, "set_tunnel64 of %d bytes", len(b))
		}
		return Action{Type: ActLoad, Dst: flow.Whole(flow.FieldTunID), Value: flow.U64(be64(body[6:]))}, nil
	case nxastRegMove:
		return decodeRegMove(b)
	case nxastRegLoad:
		return decodeRegLoad(b)
	case nxastRegLoad2:
		return decodeSetField(body, true)
	case nxastNote:
		return Action{Type: ActNote, Note: append([]byte(nil), body...)}, nil
	case nxastDecTTL:
		return nxFixed(b, 16, Action{Type: ActDecTTL})
	case nxastController:
		a := Action{Type: ActController, MaxLen: be16(body), ID: be16(body[2:]), Reason: body[4]}
		if a.Reason == reasonAction && a.ID == 0 {
			// The plain output to CONTROLLER it is the same as (and how
			// it is encoded back: both print CONTROLLER:max_len).
			a = Action{Type: ActOutput, Port: PortController, MaxLen: a.MaxLen}
		}
		return nxFixed(b, 16, a)
	case nxastWriteMetadata:
		if len(b) != 32 {
			return Action{}, errorf(ErrBadAction, BACBadLen, "write_metadata of %d bytes", len(b))
		}
		return writeMetadata(be64(b[16:]), be64(b[24:])), nil
	case nxastPushMPLS:
		a, err := pushAction(ActPushMPLS, be16(body))
		if err != nil {
			return a, err
		}
		return nxFixed(b, 16, a)
	case nxastPopMPLS:
		return nxFixed(b, 16, Action{Type: ActPopMPLS, EtherType: be16(body)})
	case nxastSetMPLSTTL:
		return nxFixed(b, 16, Action{Type: ActSetMPLSTTL, TTL: body[0]})
	case nxastDecMPLSTTL:
		return nxFixed(b, 16, Action{Type: ActDecMPLSTTL})
	case nxastSetMPLSLabel:
		return nxFixed(b, 16, setFieldAction(flow.FieldMplsLabel, flow.U64(uint64(be32(body[2:])))))
	case nxastGroup:
		return nxFixed(b, 16, Action{Type: ActGroup, Group: be32(body[2:])})
	case nxastSetMPLSTC:
		return nxFixed(b, 16, setFieldAction(flow.FieldMplsTC, flow.U64(uint64(body[0]))))
	}
	if a, ok, err := decodeNXAction2(version, sub, b); ok {
		return a, err
	}
	return Action{}, errorf(ErrBadAction, BACBadExpType, "unsupported Nicira action subtype %d", sub)
}

func setFieldAction(f flow.Field, v flow.Value) Action {
	return Action{Type: ActSetField, Dst: flow.Whole(f), Value: v}
}

// writeMetadata builds the action; an all-ones mask is stored as zero
// ("exact"), as the model documents.
func writeMetadata(v, mask uint64) Action {
	a := Action{Type: ActWriteMetadata, Value: flow.U64(v & mask)}
	if mask != ^uint64(0) {
		a.Mask = flow.U64(mask)
	}
	return a
}

func nxFixed(b []byte, n int, a Action) (Action, error) {
	if len(b) != n {
		return Action{}, errorf(ErrBadAction, BACBadLen, "Nicira action subtype %d has length %d, want %d", be16(b[8:]), len(b), n)
	}
	return a, nil
}

// decodeResubmit: nx_action_resubmit is in_port(16) table(8) pad(24).
// Plain NXAST_RESUBMIT ignores the table byte and means "this table".
func decodeResubmit(sub uint16, b []byte) (Action, error) {
	if len(b) != 16 {
		return Action{}, errorf(ErrBadAction, BACBadLen, "resubmit of %d bytes", len(b))
	}
	a := Action{Type: ActResubmit, Port: port10To32(be16(b[10:])), Table: TableAll}
	if sub == nxastResubmitTable {
		if b[13] != 0 || b[14] != 0 || b[15] != 0 {
			return Action{}, errorf(ErrBadAction, BACBadArgument, "resubmit padding is not zero")
		}
		a.Table = b[12]
	}
	return a, nil
}

// nxmSubfield resolves an NXM/OXM header (no mask allowed) plus a bit range.
func nxmSubfield(h uint32, ofs, nbits uint16) (flow.Subfield, error) {
	class, field, hm, n := uint16(h>>16), uint8(h>>9), h&0x100 != 0, int(h&0xff)
	f := oxmField(class, field&0x7f)
	if f == flow.FieldInvalid || hm || n != oxmWidth(f, class) {
		return flow.Subfield{}, errorf(ErrBadAction, BACBadSetType, "unknown or masked NXM header 0x%08x", h)
	}
	width := uint16(n * 8)
	if class != flow.ClassNXM0 || f != flow.FieldInPort {
		width = uint16(f.Bits())
	}
	if nbits == 0 || uint32(ofs)+uint32(nbits) > uint32(width) {
		return flow.Subfield{}, errorf(ErrBadAction, BACBadSetLen, "bits %d..%d outside %v", ofs, int(ofs)+int(nbits)-1, f)
	}
	return flow.Subfield{Field: f, Ofs: ofs, NBits: nbits}, nil
}

// decodeRegMove: n_bits src_ofs dst_ofs src dst (nx_action_reg_move).
func decodeRegMove(b []byte) (Action, error) {
	if len(b) != 24 {
		return Action{}, errorf(ErrBadAction, BACBadLen, "move of %d bytes", len(b))
	}
	n := be16(b[10:])
	src, err := nxmSubfield(be32(b[16:]), be16(b[12:]), n)
	if err != nil {
		return Action{}, err
	}
	dst, err := nxmSubfield(be32(b[20:]), be16(b[14:]), n)
	if err != nil {
		return Action{}, err
	}
	return Action{Type: ActMove, Src: src, Dst: dst}, nil
}

// decodeRegLoad: ofs_nbits(ofs<<6 | nbits-1) dst value (nx_action_reg_load).
func decodeRegLoad(b []byte) (Action, error) {
	if len(b) != 24 {
		return Action{}, errorf(ErrBadAction, BACBadLen, "load of %d bytes", len(b))
	}
	on := be16(b[10:])
	dst, err := nxmSubfield(be32(b[12:]), on>>6, on&0x3f+1)
	if err != nil {
		return Action{}, err
	}
	v := be64(b[16:])
	if dst.NBits < 64 && v>>dst.NBits != 0 {
		return Action{}, errorf(ErrBadAction, BACBadArgument, "load value 0x%x does not fit in %d bits", v, dst.NBits)
	}
	return Action{Type: ActLoad, Dst: dst, Value: flow.U64(v)}, nil
}
