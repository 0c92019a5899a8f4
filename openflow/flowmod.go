package openflow

import (
	"fmt"
	"time"

	"tapestry/flow"
)

// ofp_flow_mod offsets after the header. OpenFlow 1.0 (§5.3.3): match(40)
// cookie command idle hard priority buffer_id out_port(16) flags, actions.
// OpenFlow 1.3 (§7.3.4.1): cookie cookie_mask table_id command idle hard
// priority buffer_id out_port out_group flags pad(2), match, instructions.
const (
	fm10Fixed = 64 // bytes from the body start to the actions
	fm13Fixed = 40 // bytes from the body start to the match
)

// Type implements Message.
func (*FlowMod) Type() Type { return TypeFlowMod }

func decodeFlowModMsg(version uint8, b []byte) (Message, error) {
	fm := &FlowMod{}
	if err := decodeFlowModBody(version, b, fm); err != nil {
		return nil, err
	}
	return fm, nil
}

// DecodeFlowMod parses a complete OFPT_FLOW_MOD message into fm, reusing
// fm.Actions' storage. It is the allocation-free path for a switch that
// handles flow mods in bulk.
func DecodeFlowMod(b []byte, fm *FlowMod) error {
	h, err := ParseHeader(b)
	if err != nil {
		return err
	}
	if int(h.Length) != len(b) {
		return errorf(ErrBadRequest, BRCBadLen, "header length %d but %d bytes", h.Length, len(b))
	}
	if t, ok := TypeOf(h.Version, h.Type); !ok || t != TypeFlowMod {
		return errorf(ErrBadRequest, BRCBadType, "message type %d is not a flow mod", h.Type)
	}
	return decodeFlowModBody(h.Version, b[HeaderLen:], fm)
}

func decodeFlowModBody(version uint8, b []byte, fm *FlowMod) error {
	acts := fm.Actions[:0]
	*fm = FlowMod{}
	var err error
	if version == Version10 {
		if len(b) < fm10Fixed {
			return errorf(ErrBadRequest, BRCBadLen, "flow mod of %d bytes", len(b))
		}
		if err = decodeMatch10(b, &fm.Match); err != nil {
			return err
		}
		fm.Cookie = be64(b[40:])
		cmd := be16(b[48:])
		if cmd > uint16(FlowDeleteStrict) {
			return errorf(ErrFlowModFailed, FMFCBadCommand, "flow mod command %d", cmd)
		}
		fm.Command = FlowModCommand(cmd)
		fm.IdleTimeout, fm.HardTimeout, fm.Priority = be16(b[50:]), be16(b[52:]), be16(b[54:])
		fm.BufferID = be32(b[56:])
		fm.OutPort = port10To32(be16(b[60:]))
		fm.Flags = FlowModFlags(be16(b[62:]))
		fm.OutGroup = GroupAny
		fm.Table = TableAll
		if fm.Command == FlowAdd {
			fm.Table = 0
		}
		fm.Actions, err = decodeActions(version, b[fm10Fixed:], acts)
	} else {
		if len(b) < fm13Fixed+matchHeaderLen {
			return errorf(ErrBadRequest, BRCBadLen, "flow mod of %d bytes", len(b))
		}
		fm.Cookie, fm.CookieMask = be64(b), be64(b[8:])
		fm.Table = b[16]
		if b[17] > uint8(FlowDeleteStrict) {
			return errorf(ErrFlowModFailed, FMFCBadCommand, "flow mod command %d", b[17])
		}
		fm.Command = FlowModCommand(b[17])
		fm.IdleTimeout, fm.HardTimeout, fm.Priority = be16(b[18:]), be16(b[20:]), be16(b[22:])
		fm.BufferID, fm.OutPort, fm.OutGroup = be32(b[24:]), be32(b[28:]), be32(b[32:])
		fm.Flags = FlowModFlags(be16(b[36:]))
		var n int
		if n, err = decodeMatch13(b[fm13Fixed:], &fm.Match); err != nil {
			return err
		}
		fm.Actions, err = decodeInstructions(b[fm13Fixed+n:], acts)
	}
	if err != nil {
		return err
	}
	return checkActions(fm.Actions, &fm.Match)
}

// checkActions verifies what Open vSwitch's ofpacts_check verifies at decode
// time that does not need switch state: set_field and load of a field whose
// prerequisites the match (as changed by earlier actions) does not meet is
// OFPBAC_MATCH_INCONSISTENT. Push/pop actions change what later actions may
// assume, so those are followed.
func checkActions(acts []Action, m *flow.Match) error {
	cur := *m
	for i := range acts {
		a := &acts[i]
		switch a.Type {
		case ActSetField, ActLoad:
			if !prereqOK(a.Dst.Field.Info().Prereq, &cur) {
				return errorf(ErrBadAction, BACMatchInconsistent, "set_field %v lacks its prerequisite", a.Dst.Field)
			}
		case ActMove:
			if !prereqOK(a.Dst.Field.Info().Prereq, &cur) || !prereqOK(a.Src.Field.Info().Prereq, &cur) {
				return errorf(ErrBadAction, BACMatchInconsistent, "move between %v and %v lacks a prerequisite", a.Src.Field, a.Dst.Field)
			}
		case ActPushVlan:
			cur.Key.VlanTCI |= flow.VlanCFI
			cur.Mask.VlanTCI |= flow.VlanCFI
		case ActPopVlan, ActStripVlan:
			cur.Key.VlanTCI, cur.Mask.VlanTCI = 0, 0xffff
		case ActPushMPLS, ActPopMPLS:
			cur.Mask.DlType = 0xffff
			cur.Key.DlType = a.EtherType
		case ActCT:
			if err := checkCTMatch(&cur); err != nil { // actions_ct.go
				return err
			}
		case ActWriteActions, ActClone:
			if err := checkActions(a.Nested, &cur); err != nil {
				return err
			}
		}
	}
	return nil
}

// Append implements Message.
func (fm *FlowMod) Append(dst []byte, version uint8, xid uint32) ([]byte, error) {
	dst, start, err := appendHeader(dst, version, TypeFlowMod, xid)
	if err != nil {
		return dst, err
	}
	if version == Version10 {
		if dst, err = appendMatch10(dst, &fm.Match); err != nil {
			return dst[:start], err
		}
		out, ok := port32To10(fm.OutPort)
		if !ok {
			return dst[:start], fmt.Errorf("openflow: out_port %d has no OpenFlow 1.0 number", fm.OutPort)
		}
		dst = put64(dst, fm.Cookie)
		dst = put16(put16(put16(put16(dst, uint16(fm.Command)), fm.IdleTimeout), fm.HardTimeout), fm.Priority)
		dst = put16(put16(put32(dst, fm.BufferID), out), uint16(fm.Flags))
		dst, err = appendActions(dst, version, fm.Actions, &fm.Match)
	} else {
		dst = put64(put64(dst, fm.Cookie), fm.CookieMask)
		dst = append(dst, fm.Table, byte(fm.Command))
		dst = put16(put16(put16(dst, fm.IdleTimeout), fm.HardTimeout), fm.Priority)
		dst = put32(put32(put32(dst, fm.BufferID), fm.OutPort), fm.OutGroup)
		dst = pad(put16(dst, uint16(fm.Flags)), 2)
		if dst, err = appendMatch13(dst, &fm.Match); err != nil {
			return dst[:start], err
		}
		dst, err = appendInstructions(dst, fm.Actions, &fm.Match)
	}
	if err != nil {
		return dst[:start], err
	}
	return finish(dst, start)
}

// Packet-in reasons (OFPR_*).
const (
	ReasonNoMatch    = 0
	ReasonAction     = 1
	ReasonInvalidTTL = 2
)

// PacketIn is OFPT_PACKET_IN. In OpenFlow 1.3 the match carries the
// packet's pipeline fields (in_port at least, OpenFlow 1.3 §7.4.1); InPort
// mirrors the match's in_port so that both versions read the same.
type PacketIn struct {
	BufferID uint32
	TotalLen uint16
	InPort   uint32
	Reason   uint8
	Table    uint8  // 1.3
	Cookie   uint64 // 1.3
	Match    flow.Match
	Data     []byte
}

// Type implements Message.
func (*PacketIn) Type() Type { return TypePacketIn }

func decodePacketIn(version uint8, b []byte) (Message, error) {
	p := &PacketIn{}
	if version == Version10 {
		if err := minBody(TypePacketIn, b, 10); err != nil {
			return nil, err
		}
		p.BufferID, p.TotalLen = be32(b), be16(b[4:])
		p.InPort, p.Reason = port10To32(be16(b[6:])), b[8]
		p.Data = clone(b[10:])
		return p, nil
	}
	if err := minBody(TypePacketIn, b, 16+matchHeaderLen); err != nil {
		return nil, err
	}
	p.BufferID, p.TotalLen, p.Reason, p.Table, p.Cookie = be32(b), be16(b[4:]), b[6], b[7], be64(b[8:])
	n, err := decodeMatch13(b[16:], &p.Match)
	if err != nil {
		return nil, err
	}
	rest := b[16+n:]
	if len(rest) < 2 {
		return nil, errorf(ErrBadRequest, BRCBadLen, "packet-in without its 2 pad bytes")
	}
	p.InPort = p.Match.Key.InPort
	p.Data = clone(rest[2:])
	return p, nil
}

// Append implements Message.
func (p *PacketIn) Append(dst []byte, version uint8, xid uint32) ([]byte, error) {
	dst, start, err := appendHeader(dst, version, TypePacketIn, xid)
	if err != nil {
		return dst, err
	}
	if version == Version10 {
		port, ok := port32To10(p.InPort)
		if !ok {
			return dst[:start], fmt.Errorf("openflow: in_port %d has no OpenFlow 1.0 number", p.InPort)
		}
		dst = put16(put16(put32(dst, p.BufferID), p.TotalLen), port)
		dst = append(dst, p.Reason, 0)
	} else {
		dst = put64(append(put16(put32(dst, p.BufferID), p.TotalLen), p.Reason, p.Table), p.Cookie)
		m := p.Match
		if !m.Has(flow.FieldInPort) && p.InPort != 0 {
			m.Set(flow.FieldInPort, flow.U64(uint64(p.InPort)))
		}
		if dst, err = appendMatch13(dst, &m); err != nil {
			return dst[:start], err
		}
		dst = pad(dst, 2)
	}
	return finish(append(dst, p.Data...), start)
}

// PacketOut is OFPT_PACKET_OUT.
type PacketOut struct {
	BufferID uint32
	InPort   uint32
	Actions  []Action
	Data     []byte
}

// Type implements Message.
func (*PacketOut) Type() Type { return TypePacketOut }

func decodePacketOut(version uint8, b []byte) (Message, error) {
	p := &PacketOut{}
	var n, alen int
	if version == Version10 {
		if err := minBody(TypePacketOut, b, 8); err != nil {
			return nil, err
		}
		p.BufferID, p.InPort, alen, n = be32(b), port10To32(be16(b[4:])), int(be16(b[6:])), 8
	} else {
		if err := minBody(TypePacketOut, b, 16); err != nil {
			return nil, err
		}
		p.BufferID, p.InPort, alen, n = be32(b), be32(b[4:]), int(be16(b[8:])), 16
	}
	if n+alen > len(b) {
		return nil, errorf(ErrBadRequest, BRCBadLen, "packet-out actions_len %d runs past the message", alen)
	}
	var err error
	if p.Actions, err = decodeActions(version, b[n:n+alen], nil); err != nil {
		return nil, err
	}
	p.Data = clone(b[n+alen:])
	return p, nil
}

// Append implements Message.
func (p *PacketOut) Append(dst []byte, version uint8, xid uint32) ([]byte, error) {
	dst, start, err := appendHeader(dst, version, TypePacketOut, xid)
	if err != nil {
		return dst, err
	}
	var lenAt int
	if version == Version10 {
		port, ok := port32To10(p.InPort)
		if !ok {
			return dst[:start], fmt.Errorf("openflow: in_port %d has no OpenFlow 1.0 number", p.InPort)
		}
		dst = put16(put32(dst, p.BufferID), port)
		lenAt = len(dst)
		dst = append(dst, 0, 0)
	} else {
		dst = put32(put32(dst, p.BufferID), p.InPort)
		lenAt = len(dst)
		dst = pad(dst, 8)
	}
	m := flow.Match{}
	m.Set(flow.FieldInPort, flow.U64(uint64(p.InPort)))
	actStart := len(dst)
	if dst, err = appendActions(dst, version, p.Actions, &m); err != nil {
		return dst[:start], err
	}
	n := len(dst) - actStart
	dst[lenAt], dst[lenAt+1] = byte(n>>8), byte(n)
	return finish(append(dst, p.Data...), start)
}

// Flow-removed reasons (OFPRR_*).
const (
	RemovedIdleTimeout = 0
	RemovedHardTimeout = 1
	RemovedDelete      = 2
	RemovedGroupDelete = 3
)

// FlowRemoved is OFPT_FLOW_REMOVED.
type FlowRemoved struct {
	Cookie      uint64
	Priority    uint16
	Reason      uint8
	Table       uint8 // 1.3
	Duration    time.Duration
	IdleTimeout uint16
	HardTimeout uint16 // 1.3
	Packets     uint64
	Bytes       uint64
	Match       flow.Match
}

// Type implements Message.
func (*FlowRemoved) Type() Type { return TypeFlowRemoved }

// durationOf reads duration_sec and duration_nsec. The spec's nsec is the
// part beyond the seconds, below 10^9; a peer that sends more gets it clamped
// so that the value decodes the same after a re-encode.
func durationOf(b []byte) time.Duration {
	nsec := min(be32(b[4:]), 999_999_999)
	return time.Duration(be32(b))*time.Second + time.Duration(nsec)
}

func putDuration(dst []byte, d time.Duration) []byte {
	if d < 0 {
		d = 0
	}
	return put32(put32(dst, uint32(d/time.Second)), uint32(d%time.Second))
}

func decodeFlowRemoved(version uint8, b []byte) (Message, error) {
	r := &FlowRemoved{}
	if version == Version10 {
		if err := fixedBody(TypeFlowRemoved, b, 80); err != nil {
			return nil, err
		}
		if err := decodeMatch10(b, &r.Match); err != nil {
			return nil, err
		}
		r.Cookie, r.Priority, r.Reason = be64(b[40:]), be16(b[48:]), b[50]
		r.Duration, r.IdleTimeout = durationOf(b[52:]), be16(b[60:])
		r.Packets, r.Bytes = be64(b[64:]), be64(b[72:])
		return r, nil
	}
	if err := minBody(TypeFlowRemoved, b, 40+matchHeaderLen); err != nil {
		return nil, err
	}
	r.Cookie, r.Priority, r.Reason, r.Table = be64(b), be16(b[8:]), b[10], b[11]
	r.Duration, r.IdleTimeout, r.HardTimeout = durationOf(b[12:]), be16(b[20:]), be16(b[22:])
	r.Packets, r.Bytes = be64(b[24:]), be64(b[32:])
	n, err := decodeMatch13(b[40:], &r.Match)
	if err != nil {
		return nil, err
	}
	if 40+n != len(b) {
		return nil, errorf(ErrBadRequest, BRCBadLen, "flow removed has %d trailing bytes", len(b)-40-n)
	}
	return r, nil
}

// Append implements Message.
func (r *FlowRemoved) Append(dst []byte, version uint8, xid uint32) ([]byte, error) {
	dst, start, err := appendHeader(dst, version, TypeFlowRemoved, xid)
	if err != nil {
		return dst, err
	}
	if version == Version10 {
		if dst, err = appendMatch10(dst, &r.Match); err != nil {
			return dst[:start], err
		}
		dst = append(put16(put64(dst, r.Cookie), r.Priority), r.Reason, 0)
		dst = pad(put16(putDuration(dst, r.Duration), r.IdleTimeout), 2)
		return finish(put64(put64(dst, r.Packets), r.Bytes), start)
	}
	dst = append(put16(put64(dst, r.Cookie), r.Priority), r.Reason, r.Table)
	dst = put16(put16(putDuration(dst, r.Duration), r.IdleTimeout), r.HardTimeout)
	dst = put64(put64(dst, r.Packets), r.Bytes)
	if dst, err = appendMatch13(dst, &r.Match); err != nil {
		return dst[:start], err
	}
	return finish(dst, start)
}
