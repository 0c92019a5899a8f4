package controller

import (
	"tapestry/flow"
	"tapestry/ofctl"
	"tapestry/openflow"
)

// parseFlowMod is ofctl.ParseFlowMod for flows the controller sends.
//
// ofctl keeps icmp_type/icmp_code where Open vSwitch keeps them, in the
// 16-bit tp_src/tp_dst, and sets the whole 16-bit mask; the OXM encoder
// then finds the high byte unexpressed by the 8-bit OXM_OF_ICMPV4_TYPE
// and refuses the flow for OpenFlow 1.3. Open vSwitch writes the 8-bit
// TLV whenever any tp_src mask bit is set (nx_put_raw), because an ICMP
// type never has high bits. Narrowing the mask to the field's 8 bits says
// the same thing in a form both encoders accept.
func parseFlowMod(text string, cmd openflow.FlowModCommand) (openflow.FlowMod, error) {
	fm, err := ofctl.ParseFlowMod(text, cmd, nil)
	if err == nil {
		narrowICMPMask(&fm.Match)
	}
	return fm, err
}

// narrowICMPMask narrows full 16-bit tp_src/tp_dst masks of an ICMP or
// ICMPv6 match whose values fit in 8 bits to 0xff.
func narrowICMPMask(m *flow.Match) {
	k, mk := &m.Key, &m.Mask
	if mk.NwProto != 0xff || (k.NwProto != flow.ProtoICMP && k.NwProto != flow.ProtoICMPv6) {
		return
	}
	if mk.TpSrc == 0xffff && k.TpSrc <= 0xff {
		mk.TpSrc = 0xff
	}
	if mk.TpDst == 0xffff && k.TpDst <= 0xff {
		mk.TpDst = 0xff
	}
}
