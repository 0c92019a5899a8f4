package ofchannel

import (
	"encoding/binary"

	"tapestry/openflow"
)

// Nicira extensions ovs-ofctl relies on. With OpenFlow 1.0, ovs-ofctl puts
// a table id in a flow mod only after NXT_FLOW_MOD_TABLE_ID has enabled the
// "OpenFlow10+table_id" format: the table then travels in the high byte of
// the 16-bit command (Open vSwitch nicira-ext.h).
const (
	niciraVendor          = 0x00002320
	nxtSetFlowFormat      = 12
	nxtFlowModTableID     = 15
	of10FlowModCommandOff = openflow.HeaderLen + 48 // ofp_flow_mod.command
)

// experimenter handles an experimenter (1.0: vendor) message.
func (c *conn) experimenter(m *openflow.Experimenter) error {
	if m.Experimenter != niciraVendor {
		return openflow.UnknownExperimenter(m.Experimenter)
	}
	sub, body := m.ExpType, m.Data
	if c.version == openflow.Version10 {
		if len(body) < 4 {
			return codecErr(openflow.ErrBadRequest, openflow.BRCBadLen, "nicira message without a subtype")
		}
		sub, body = binary.BigEndian.Uint32(body), body[4:]
	}
	switch sub {
	case nxtFlowModTableID:
		if len(body) != 8 {
			return codecErr(openflow.ErrBadRequest, openflow.BRCBadLen, "NXT_FLOW_MOD_TABLE_ID body of %d bytes", len(body))
		}
		c.mu.Lock()
		c.flowModTableID = body[0] != 0
		c.mu.Unlock()
		return nil
	case nxtSetFlowFormat:
		// ovs-ofctl asks for NXM before every OpenFlow 1.0 dump and then
		// uses NXST_FLOW (nxst.go). Dumps do not depend on the choice
		// (NXST requests carry their own nx_match), so it is only checked:
		// NXFF_OPENFLOW10 (0) and NXFF_NXM (2) exist, anything else is
		// refused as Open vSwitch refuses it.
		if len(body) != 4 {
			return codecErr(openflow.ErrBadRequest, openflow.BRCBadLen, "NXT_SET_FLOW_FORMAT body of %d bytes", len(body))
		}
		if f := binary.BigEndian.Uint32(body); f != nxffOpenFlow10 && f != nxffNXM {
			return codecErr(openflow.ErrBadRequest, openflow.BRCEPerm, "flow format %d", f)
		}
		return nil
	case openflow.NXTGroupMod:
		return c.nxGroupMod(body)
	case openflow.NXTFlowMod:
		return c.nxFlowMod(body)
	}
	return codecErr(openflow.ErrBadRequest, openflow.BRCBadExpType, "nicira subtype %d", sub)
}

// takeTableID strips the table id from the high byte of an OpenFlow 1.0
// flow mod's command when the connection enabled NXT_FLOW_MOD_TABLE_ID;
// ok is false when there is none to apply.
func (c *conn) takeTableID(raw []byte) (table uint8, ok bool) {
	if c.version != openflow.Version10 || len(raw) < of10FlowModCommandOff+2 {
		return 0, false
	}
	c.mu.Lock()
	on := c.flowModTableID
	c.mu.Unlock()
	if !on {
		return 0, false
	}
	table = raw[of10FlowModCommandOff]
	raw[of10FlowModCommandOff] = 0
	return table, true
}
