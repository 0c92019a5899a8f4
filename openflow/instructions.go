package openflow

import (
	"fmt"

	"tapestry/flow"
)

// OpenFlow 1.3 instructions (§7.2.4). The model keeps them in the action
// list, in the order Open vSwitch's ofpacts use and the pipeline executes
// them: meter, the apply-actions list, clear_actions, write_actions,
// write_metadata, goto_table.

const (
	instGotoTable     = 1
	instWriteMetadata = 2
	instWriteActions  = 3
	instApplyActions  = 4
	instClearActions  = 5
	instMeter         = 6
)

// instruction stages in execution order; index = stage.
const (
	stageMeter = iota
	stageApply
	stageClear
	stageWrite
	stageMetadata
	stageGoto
	numStages
)

// decodeInstructions parses an instruction list into acts.
func decodeInstructions(b []byte, acts []Action) ([]Action, error) {
	var found [numStages][]byte
	var seen [numStages]bool
	for len(b) > 0 {
		if len(b) < 4 {
			return acts, errorf(ErrBadInstruction, BICBadLen, "instruction truncated to %d bytes", len(b))
		}
		t, n := be16(b), int(be16(b[2:]))
		if n < 8 || n%8 != 0 || n > len(b) {
			return acts, errorf(ErrBadInstruction, BICBadLen, "instruction type %d has bad length %d", t, n)
		}
		st, err := instStage(t, n)
		if err != nil {
			return acts, err
		}
		if seen[st] {
			return acts, errorf(ErrBadInstruction, BICDupInst, "instruction type %d appears twice", t)
		}
		seen[st], found[st] = true, b[:n]
		b = b[n:]
	}
	var err error
	for st := range numStages {
		if !seen[st] {
			continue
		}
		if acts, err = decodeInstruction(st, found[st], acts); err != nil {
			return acts, err
		}
	}
	return acts, nil
}

func instStage(t uint16, n int) (int, error) {
	want := 0
	switch t {
	case instGotoTable, instClearActions, instMeter:
		want = 8
	case instWriteMetadata:
		want = 24
	}
	if want != 0 && n != want {
		return 0, errorf(ErrBadInstruction, BICBadLen, "instruction type %d has length %d, want %d", t, n, want)
	}
	switch t {
	case instGotoTable:
		return stageGoto, nil
	case instWriteMetadata:
		return stageMetadata, nil
	case instWriteActions:
		return stageWrite, nil
	case instApplyActions:
		return stageApply, nil
	case instClearActions:
		return stageClear, nil
	case instMeter:
		return stageMeter, nil
	case 0xffff:
		return 0, errorf(ErrBadInstruction, BICBadExperimenter, "experimenter instruction")
	}
	return 0, errorf(ErrBadInstruction, BICUnknownInst, "unknown instruction type %d", t)
}

func decodeInstruction(st int, b []byte, acts []Action) ([]Action, error) {
	switch st {
	case stageMeter:
		id := be32(b[4:])
		if id > 0xffff {
			return acts, errorf(ErrMeterModFailed, MMFCInvalidMeter, "meter id %d is beyond what the model holds", id)
		}
		return append(acts, Action{Type: ActMeter, ID: uint16(id)}), nil
	case stageApply:
		return decodeActions(Version13, b[8:], acts)
	case stageClear:
		return append(acts, Action{Type: ActClearActions}), nil
	case stageWrite:
		nested, err := decodeActions(Version13, b[8:], nil)
		if err != nil {
			return acts, err
		}
		return append(acts, Action{Type: ActWriteActions, Nested: nested}), nil
	case stageMetadata:
		return append(acts, writeMetadata(be64(b[8:]), be64(b[16:]))), nil
	}
	return append(acts, Action{Type: ActGotoTable, Table: b[4]}), nil
}

// actionStage returns the instruction stage an action belongs to.
func actionStage(t ActionType) int {
	switch t {
	case ActMeter:
		return stageMeter
	case ActClearActions:
		return stageClear
	case ActWriteActions:
		return stageWrite
	case ActWriteMetadata:
		return stageMetadata
	case ActGotoTable:
		return stageGoto
	}
	return stageApply
}

// appendInstructions encodes acts as OpenFlow 1.3 instructions. Actions must
// be in stage order (see the file comment) with each instruction at most
// once, which is what flow text and decoding produce.
func appendInstructions(dst []byte, acts []Action, m *flow.Match) ([]byte, error) {
	last := -1
	e := newActionEncoder(Version13, m)
	for i := 0; i < len(acts); {
		st := actionStage(acts[i].Type)
		if st < last || (st == last && st != stageApply) {
			return dst, fmt.Errorf("openflow: instruction %d out of order or repeated", acts[i].Type)
		}
		last = st
		a := &acts[i]
		var err error
		switch st {
		case stageMeter:
			dst = put32(append(dst, 0, instMeter, 0, 8), a.meterID())
		case stageClear:
			dst = append(dst, 0, instClearActions, 0, 8, 0, 0, 0, 0)
		case stageGoto:
			dst = append(dst, 0, instGotoTable, 0, 8, a.Table, 0, 0, 0)
		case stageMetadata:
			mask := a.Mask.Uint64()
			if a.Mask.IsZero() {
				mask = ^uint64(0)
			}
			dst = put64(put64(append(dst, 0, instWriteMetadata, 0, 24, 0, 0, 0, 0), a.Value.Uint64()), mask)
		case stageWrite:
			w := newActionEncoder(Version13, m)
			dst, err = appendActionsInst(dst, instWriteActions, &w, a.Nested)
		case stageApply:
			j := i
			for j < len(acts) && actionStage(acts[j].Type) == stageApply {
				j++
			}
			if dst, err = appendActionsInst(dst, instApplyActions, &e, acts[i:j]); err != nil {
				return dst, err
			}
			i = j
			continue
		}
		if err != nil {
			return dst, err
		}
		i++
	}
	return dst, nil
}

func appendActionsInst(dst []byte, t uint16, e *actionEncoder, acts []Action) ([]byte, error) {
	start := len(dst)
	dst = append(dst, 0, byte(t), 0, 0, 0, 0, 0, 0)
	dst, err := e.appendList(dst, acts)
	if err != nil {
		return dst[:start], err
	}
	n := len(dst) - start
	if n > 0xffff {
		return dst[:start], fmt.Errorf("openflow: instruction of %d bytes is too long", n)
	}
	dst[start+2], dst[start+3] = byte(n>>8), byte(n)
	return dst, nil
}

// meterID is the meter instruction's id; the model's Action.ID holds it
// (meter ids above 65535 are refused at decode time).
func (a *Action) meterID() uint32 { return uint32(a.ID) }
