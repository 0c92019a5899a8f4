package openflow

import (
	"tapestry/flow"
)

// Action wire formats. OpenFlow 1.0 §5.2.4 and 1.3 §7.2.5 define the native
// actions, a 4-byte type/length header padded to 8 bytes; Nicira extensions
// (Open vSwitch's nicira-ext.h) are experimenter actions with vendor
// 0x00002320 and a 16-bit subtype. Decoding is strict in the way Open
// vSwitch is, so that a switch answers bad actions with the same
// OFPET_BAD_ACTION code OVS would.

// OpenFlow 1.0 action types (enum ofp_action_type).
const (
	at10Output     = 0
	at10SetVlanVID = 1
	at10SetVlanPCP = 2
	at10StripVlan  = 3
	at10SetDlSrc   = 4
	at10SetDlDst   = 5
	at10SetNwSrc   = 6
	at10SetNwDst   = 7
	at10SetNwTos   = 8
	at10SetTpSrc   = 9
	at10SetTpDst   = 10
	at10Enqueue    = 11
	atExperimenter = 0xffff
)

// OpenFlow 1.3 action types.
const (
	at13Output     = 0
	at13CopyTTLOut = 11
	at13CopyTTLIn  = 12
	at13SetMPLSTTL = 15
	at13DecMPLSTTL = 16
	at13PushVlan   = 17
	at13PopVlan    = 18
	at13PushMPLS   = 19
	at13PopMPLS    = 20
	at13SetQueue   = 21
	at13Group      = 22
	at13SetNwTTL   = 23
	at13DecNwTTL   = 24
	at13SetField   = 25
)

// Nicira action subtypes (enum nx_action_subtype).
const (
	nxastResubmit      = 1
	nxastSetTunnel     = 2
	nxastSetQueue      = 4
	nxastPopQueue      = 5
	nxastRegMove       = 6
	nxastRegLoad       = 7
	nxastNote          = 8
	nxastSetTunnel64   = 9
	nxastResubmitTable = 14
	nxastDecTTL        = 18
	nxastController    = 20
	nxastWriteMetadata = 22
	nxastPushMPLS      = 23
	nxastPopMPLS       = 24
	nxastSetMPLSTTL    = 25
	nxastDecMPLSTTL    = 26
	nxastSetMPLSLabel  = 30
	nxastSetMPLSTC     = 31
	nxastRegLoad2      = 33
)

// ActPopQueue is pop_queue (Nicira NXAST_POP_QUEUE): restore the queue the
// packet had before set_queue. Open vSwitch emits it after enqueue's output
// in OpenFlow 1.1+. The value is outside model.go's iota range on purpose.
const ActPopQueue ActionType = 200

// OFPR_ACTION, the packet-in reason of an output to the controller.
const reasonAction = 1

// decodeActions parses a list of actions of the given version, appending
// to acts (which may be a reused slice).
func decodeActions(version uint8, b []byte, acts []Action) ([]Action, error) {
	for len(b) > 0 {
		if len(b) < 8 {
			return acts, errorf(ErrBadAction, BACBadLen, "action truncated to %d bytes", len(b))
		}
		n := int(be16(b[2:]))
		if n < 8 || n%8 != 0 || n > len(b) {
			return acts, errorf(ErrBadAction, BACBadLen, "action type %d has bad length %d", be16(b), n)
		}
		var a Action
		var err error
		if be16(b) == atExperimenter {
			a, err = decodeExperimenterAction(version, b[:n])
		} else if version == Version10 {
			a, err = decodeAction10(b[:n])
		} else {
			a, err = decodeAction13(b[:n])
		}
		if err != nil {
			return acts, err
		}
		acts = append(acts, a)
		b = b[n:]
	}
	return acts, nil
}

// wantLen checks a fixed-size action's length.
func wantLen(b []byte, n int) error {
	if len(b) != n {
		return errorf(ErrBadAction, BACBadLen, "action type %d has length %d, want %d", be16(b), len(b), n)
	}
	return nil
}

func decodeAction10(b []byte) (Action, error) {
	t := be16(b)
	size := 8
	switch t {
	case at10SetDlSrc, at10SetDlDst, at10Enqueue:
		size = 16
	}
	if t > at10Enqueue {
		return Action{}, errorf(ErrBadAction, BACBadType, "unknown OpenFlow 1.0 action type %d", t)
	}
	if err := wantLen(b, size); err != nil {
		return Action{}, err
	}
	switch t {
	case at10Output:
		return outputAction(port10To32(be16(b[4:])), be16(b[6:]))
	case at10SetVlanVID:
		vid := be16(b[4:])
		if vid > flow.VlanVIDMask {
			return Action{}, errorf(ErrBadAction, BACBadArgument, "VLAN id %d out of range", vid)
		}
		return Action{Type: ActModVlanVID, Value: flow.U64(uint64(vid))}, nil
	case at10SetVlanPCP:
		if b[4] > 7 {
			return Action{}, errorf(ErrBadAction, BACBadArgument, "VLAN PCP %d out of range", b[4])
		}
		return Action{Type: ActModVlanPCP, Value: flow.U64(uint64(b[4]))}, nil
	case at10StripVlan:
		return Action{Type: ActStripVlan}, nil
	case at10SetDlSrc:
		return Action{Type: ActModDlSrc, Value: flow.Bytes(b[4:10])}, nil
	case at10SetDlDst:
		return Action{Type: ActModDlDst, Value: flow.Bytes(b[4:10])}, nil
	case at10SetNwSrc:
		return Action{Type: ActModNwSrc, Value: flow.Bytes(b[4:8])}, nil
	case at10SetNwDst:
		return Action{Type: ActModNwDst, Value: flow.Bytes(b[4:8])}, nil
	case at10SetNwTos:
		if b[4]&^0xfc != 0 {
			return Action{}, errorf(ErrBadAction, BACBadArgument, "nw_tos 0x%02x sets ECN bits", b[4])
		}
		return Action{Type: ActModNwTos, Value: flow.U64(uint64(b[4]))}, nil
	case at10SetTpSrc:
		return Action{Type: ActModTpSrc, Value: flow.U64(uint64(be16(b[4:])))}, nil
	case at10SetTpDst:
		return Action{Type: ActModTpDst, Value: flow.U64(uint64(be16(b[4:])))}, nil
	}
	// at10Enqueue
	p := port10To32(be16(b[4:]))
	if p >= PortMax && p != PortInPort && p != PortLocal {
		return Action{}, errorf(ErrBadAction, BACBadOutPort, "enqueue to port 0x%x", p)
	}
	return Action{Type: ActEnqueue, Port: p, Queue: be32(b[12:])}, nil
}

// outputAction validates an output port as ofputil_port_from_ofp11 and
// ofpact_check_output_port do: OFPP_ANY is never a destination.
func outputAction(port uint32, maxLen uint16) (Action, error) {
	if port == PortAny || (port >= 0xff00 && port < PortMax) {
		return Action{}, errorf(ErrBadAction, BACBadOutPort, "output to port 0x%x", port)
	}
	return Action{Type: ActOutput, Port: port, MaxLen: maxLen}, nil
}

func decodeAction13(b []byte) (Action, error) {
	t := be16(b)
	switch t {
	case at13Output:
		if err := wantLen(b, 16); err != nil {
			return Action{}, err
		}
		return outputAction(be32(b[4:]), be16(b[8:]))
	case at13SetField:
		return decodeSetField(b[4:], false)
	case at13SetMPLSTTL, at13DecMPLSTTL, at13PushVlan, at13PopVlan, at13PushMPLS, at13PopMPLS,
		at13SetQueue, at13Group, at13SetNwTTL, at13DecNwTTL:
	default:
		return Action{}, errorf(ErrBadAction, BACBadType, "unsupported OpenFlow 1.3 action type %d", t)
	}
	if err := wantLen(b, 8); err != nil {
		return Action{}, err
	}
	switch t {
	case at13SetMPLSTTL:
		return Action{Type: ActSetMPLSTTL, TTL: b[4]}, nil
	case at13DecMPLSTTL:
		return Action{Type: ActDecMPLSTTL}, nil
	case at13PushVlan:
		return pushAction(ActPushVlan, be16(b[4:]))
	case at13PopVlan:
		return Action{Type: ActPopVlan}, nil
	case at13PushMPLS:
		return pushAction(ActPushMPLS, be16(b[4:]))
	case at13PopMPLS:
		return Action{Type: ActPopMPLS, EtherType: be16(b[4:])}, nil
	case at13SetQueue:
		return Action{Type: ActSetQueue, Queue: be32(b[4:])}, nil
	case at13Group:
		return Action{Type: ActGroup, Group: be32(b[4:])}, nil
	case at13SetNwTTL:
		return Action{Type: ActSetTTL, TTL: b[4]}, nil
	}
	return Action{Type: ActDecTTL}, nil
}

// pushAction checks the EtherType of push_vlan (802.1Q or 802.1ad) and
// push_mpls (unicast or multicast MPLS), as Open vSwitch does.
func pushAction(t ActionType, et uint16) (Action, error) {
	ok := et == flow.EthTypeVLAN || et == flow.EthTypeQinQ
	if t == ActPushMPLS {
		ok = et == flow.EthTypeMPLS || et == flow.EthTypeMPLSMcast
	}
	if !ok {
		return Action{}, errorf(ErrBadAction, BACBadArgument, "push with EtherType 0x%04x", et)
	}
	return Action{Type: t, EtherType: et}, nil
}

// decodeSetField parses the OXM TLV of OFPAT_SET_FIELD or NXAST_REG_LOAD2;
// b starts at the TLV and includes the padding. Only REG_LOAD2 may carry a
// mask (OpenFlow 1.3 §7.2.5: "the mask ... must be all-ones").
func decodeSetField(b []byte, maskOK bool) (Action, error) {
	t, n, err := parseOXMTLV(b)
	if err != nil {
		return Action{}, errorf(ErrBadAction, BACBadSetLen, "set_field TLV: %v", err)
	}
	if want := (4 + n + 7) &^ 7; want != len(b)+4 && !maskOK {
		return Action{}, errorf(ErrBadAction, BACBadSetLen, "set_field of %d bytes, want %d", len(b)+4, want)
	}
	for _, p := range b[n:] {
		if p != 0 {
			return Action{}, errorf(ErrBadAction, BACBadArgument, "set_field padding is not zero")
		}
	}
	f := oxmField(t.class, t.field)
	if t.class == oxmClassExperimenter {
		f, err = experimenterField(&t, b[oxmHeaderLen:n])
		if err != nil {
			f = flow.FieldInvalid
		}
	}
	if f == flow.FieldInvalid {
		return Action{}, errorf(ErrBadAction, BACBadSetType, "set_field of unknown field 0x%04x:%d", t.class, t.field)
	}
	if t.hasMask && !maskOK {
		return Action{}, errorf(ErrBadAction, BACBadSetArgument, "set_field %v with a mask", f)
	}
	if err := checkOXMValue(f, &t); err != nil {
		if _, code, _ := ErrorCodeOf(err); code == BMCBadLen {
			return Action{}, errorf(ErrBadAction, BACBadSetLen, "set_field: %v", err)
		}
		return Action{}, errorf(ErrBadAction, BACBadSetArgument, "set_field: %v", err)
	}
	a := Action{Type: ActSetField, Dst: flow.Whole(f), Value: flow.Bytes(t.value)}
	if t.hasMask {
		a.Mask = flow.Bytes(t.mask)
		a.Value = a.Value.And(a.Mask)
	}
	return a, nil
}
