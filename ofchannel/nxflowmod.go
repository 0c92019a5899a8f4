package ofchannel

import "tapestry/openflow"

// nxFlowMod applies an NXT_FLOW_MOD: what ovs-ofctl sends over OpenFlow
// 1.0 for a flow ofp_match cannot express (registers, IPv6, ct_state,
// metadata, a cookie mask). It is applied on its own, like an
// OFPT_FLOW_MOD that arrives alone, and its errors are the message's.
func (c *conn) nxFlowMod(body []byte) error {
	c.mu.Lock()
	tableID := c.flowModTableID
	c.mu.Unlock()
	var m openflow.NXFlowMod
	if err := openflow.DecodeNXFlowMod(body, &m, tableID); err != nil {
		return err
	}
	fm := &m.FlowMod
	dropOutputMaxLen(fm.Actions)
	ch, err := c.a.flowMods([]openflow.FlowMod{*fm})
	if err != nil {
		return mapBridgeError(err)
	}
	c.a.flowsChanged(ch)
	return unknownBuffer(fm)
}
