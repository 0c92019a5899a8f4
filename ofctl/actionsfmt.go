package ofctl

import (
	"strconv"

	"tapestry/flow"
	"tapestry/openflow"
)

// Action printing. FormatActions and FormatFlowMod print the model as it
// is ("native"), which ParseActions reads back to the same actions. A
// dump-flows line instead shows what a switch returns over OpenFlow, and
// that depends on the version: an action the version cannot carry is
// re-expressed, as Open vSwitch's encoders do (mod_nw_src becomes
// set_field:..->ip_src in OpenFlow 1.3; set_field:..->reg0 becomes
// load:..->NXM_NX_REG0[] in OpenFlow 1.0; enqueue becomes
// set_queue,output,pop_queue in 1.3; goto_table becomes resubmit(,N) in 1.0).

type fmtMode uint8

const (
	modeNative fmtMode = iota
	modeOF10
	modeOF13
)

func modeFor(version uint8) fmtMode {
	if version == OpenFlow13 {
		return modeOF13
	}
	return modeOF10
}

// FormatActions prints an action list as ovs-ofctl does ("output:2",
// "NORMAL", "drop" for an empty list, ...), in the form ParseActions reads
// back to the same list.
func FormatActions(acts []openflow.Action, names PortNamer) string {
	return string(appendActions(nil, acts, names, modeNative, nil))
}

// actCtx is what Open vSwitch's action checker learns from the match and
// that the encoders use: the IP protocol (to pick tcp_src or udp_src for
// mod_tp_src) and whether the packet is known to carry a VLAN tag (whether
// mod_vlan_vid must push one first in OpenFlow 1.1+).
type actCtx struct {
	ipProto uint8
	hasVlan bool
}

func ctxOf(m *flow.Match) actCtx {
	var c actCtx
	if m == nil {
		return c
	}
	if m.Mask.NwProto == 0xff && m.Mask.DlType == 0xffff &&
		(m.Key.DlType == flow.EthTypeIPv4 || m.Key.DlType == flow.EthTypeIPv6) {
		c.ipProto = m.Key.NwProto
	}
	c.hasVlan = m.Key.VlanTCI&flow.VlanCFI != 0
	return c
}

func appendActions(b []byte, acts []openflow.Action, names PortNamer, mode fmtMode, m *flow.Match) []byte {
	start := len(b)
	ctx := ctxOf(m)
	for i := range acts {
		n := len(b)
		if n > start {
			b = append(b, ',')
		}
		mark := len(b)
		b = appendAction(b, &acts[i], names, mode, &ctx)
		if len(b) == mark { // nothing printed (an action the version drops)
			b = b[:n]
		}
	}
	if len(b) == start {
		b = append(b, "drop"...)
	}
	return b
}

func appendAction(b []byte, a *openflow.Action, names PortNamer, mode fmtMode, ctx *actCtx) []byte {
	switch a.Type {
	case openflow.ActOutput:
		return appendOutput(b, a, names)
	case openflow.ActController:
		return appendController(b, a)
	case openflow.ActEnqueue:
		if mode == modeOF13 {
			b = append(b, "set_queue:"...)
			b = strconv.AppendUint(b, uint64(a.Queue), 10)
			b = append(b, ",output:"...)
			b = appendPort(b, a.Port, names)
			return append(b, ",pop_queue"...)
		}
		b = append(b, "enqueue:"...)
		b = appendPort(b, a.Port, names)
		b = append(b, ':')
		return strconv.AppendUint(b, uint64(a.Queue), 10)
	case openflow.ActSetQueue:
		return appendNum(b, "set_queue:", uint64(a.Queue))
	case openflow.ActGroup:
		return appendNum(b, "group:", uint64(a.Group))
	case openflow.ActModDlSrc, openflow.ActModDlDst, openflow.ActModNwSrc, openflow.ActModNwDst,
		openflow.ActModNwTos, openflow.ActModNwECN, openflow.ActModTpSrc, openflow.ActModTpDst,
		openflow.ActModVlanVID, openflow.ActModVlanPCP, openflow.ActSetTTL:
		return appendLegacySet(b, a, mode, ctx)
	case openflow.ActStripVlan, openflow.ActPopVlan:
		ctx.hasVlan = false
		if mode == modeOF10 || mode == modeNative && a.Type == openflow.ActStripVlan {
			return append(b, "strip_vlan"...)
		}
		return append(b, "pop_vlan"...)
	case openflow.ActPushVlan:
		ctx.hasVlan = true
		if mode == modeOF10 {
			return b // OpenFlow 1.0 pushes as a side effect of mod_vlan_vid
		}
		return appendHexNum(b, "push_vlan:0x", uint64(a.EtherType), 0)
	case openflow.ActPushMPLS:
		return appendHexNum(b, "push_mpls:0x", uint64(a.EtherType), 4)
	case openflow.ActPopMPLS:
		return appendHexNum(b, "pop_mpls:0x", uint64(a.EtherType), 4)
	case openflow.ActSetField:
		return appendSetField(b, a, names, mode, ctx)
	case openflow.ActLoad:
		return appendLoad(b, a.Value, a.Dst)
	case openflow.ActMove:
		b = append(b, "move:"...)
		b = appendSubfield(b, a.Src)
		b = append(b, "->"...)
		return appendSubfield(b, a.Dst)
	case openflow.ActDecTTL:
		if len(a.Note) > 0 {
			return appendDecTTLIDs(b, a)
		}
		return append(b, "dec_ttl"...)
	case openflow.ActDecMPLSTTL:
		return append(b, "dec_mpls_ttl"...)
	case openflow.ActSetMPLSTTL:
		b = appendNum(b, "set_mpls_ttl(", uint64(a.TTL))
		return append(b, ')')
	case openflow.ActResubmit:
		return appendResubmit(b, a.Port, a.Table, names)
	case openflow.ActNote:
		b = append(b, "note:"...)
		for i, x := range a.Note {
			if i > 0 {
				b = append(b, '.')
			}
			b = appendHexPad(b, uint64(x), 2)
		}
		return b
	case openflow.ActGotoTable:
		if mode == modeOF10 {
			return appendResubmit(b, openflow.PortInPort, a.Table, names)
		}
		return appendNum(b, "goto_table:", uint64(a.Table))
	case openflow.ActWriteMetadata:
		b = append(b, "write_metadata:"...)
		b = appendCHex(b, a.Value.Uint64())
		if !a.Mask.IsZero() && a.Mask.Uint64() != ^uint64(0) {
			b = append(b, '/')
			b = appendCHex(b, a.Mask.Uint64())
		}
		return b
	case openflow.ActClearActions:
		if mode == modeOF10 {
			return b
		}
		return append(b, "clear_actions"...)
	case openflow.ActWriteActions:
		if mode == modeOF10 {
			return b
		}
		b = append(b, "write_actions("...)
		inner := *ctx
		b = appendActions(b, a.Nested, names, mode, nil)
		*ctx = inner
		return append(b, ')')
	case openflow.ActMeter:
		if mode == modeOF10 {
			return b
		}
		return appendNum(b, "meter:", uint64(a.ID))
	}
	if out, ok := appendNXAction(b, a, names, mode, ctx); ok {
		return out
	}
	return appendNum(b, "unknown_action:", uint64(a.Type))
}

func appendNum(b []byte, prefix string, v uint64) []byte {
	b = append(b, prefix...)
	return strconv.AppendUint(b, v, 10)
}

func appendHexNum(b []byte, prefix string, v uint64, width int) []byte {
	b = append(b, prefix...)
	if width > 0 {
		return appendHexPad(b, v, width)
	}
	return strconv.AppendUint(b, v, 16)
}

// appendOutput prints output:N for ordinary ports and the bare name for
// reserved ones; CONTROLLER carries its max_len (ovs-actions(7) "output").
func appendOutput(b []byte, a *openflow.Action, names PortNamer) []byte {
	if a.Port == openflow.PortController {
		b = append(b, "CONTROLLER:"...)
		return strconv.AppendUint(b, uint64(a.MaxLen), 10)
	}
	if a.MaxLen != 0 {
		b = append(b, "output(port="...)
		b = appendPort(b, a.Port, names)
		b = appendNum(b, ",max_len=", uint64(a.MaxLen))
		return append(b, ')')
	}
	if a.Port < openflow.PortMax {
		b = append(b, "output:"...)
	}
	return appendPort(b, a.Port, names)
}

func appendController(b []byte, a *openflow.Action) []byte {
	if a.Reason == reasonAction && a.ID == 0 {
		b = append(b, "CONTROLLER:"...)
		return strconv.AppendUint(b, uint64(a.MaxLen), 10)
	}
	b = append(b, "controller("...)
	n := len(b)
	if a.Reason != reasonAction {
		b = append(b, "reason="...)
		if int(a.Reason) < len(reasonNames) {
			b = append(b, reasonNames[a.Reason]...)
		} else {
			b = strconv.AppendUint(b, uint64(a.Reason), 10)
		}
		b = append(b, ',')
	}
	if a.MaxLen != openflow.ControllerMaxLen {
		b = appendNum(b, "max_len=", uint64(a.MaxLen))
		b = append(b, ',')
	}
	if a.ID != 0 {
		b = appendNum(b, "id=", uint64(a.ID))
		b = append(b, ',')
	}
	if len(b) > n {
		b = b[:len(b)-1]
	}
	return append(b, ')')
}

func appendResubmit(b []byte, port uint32, table uint8, names PortNamer) []byte {
	if port != openflow.PortInPort && table == openflow.TableAll {
		b = append(b, "resubmit:"...)
		return appendPort(b, port, names)
	}
	b = append(b, "resubmit("...)
	if port != openflow.PortInPort {
		b = appendPort(b, port, names)
	}
	b = append(b, ',')
	if table != openflow.TableAll {
		b = strconv.AppendUint(b, uint64(table), 10)
	}
	return append(b, ')')
}
