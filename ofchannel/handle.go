package ofchannel

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"

	"tapestry/ofproto"
	"tapestry/openflow"
)

// Capabilities Open vSwitch reports in features replies (OFPC_*): flow,
// table, port and queue stats plus ARP_MATCH_IP in 1.0, group stats in 1.3.
const (
	capabilities10 = 1 | 2 | 4 | 0x40 | 0x80
	capabilities13 = 1 | 2 | 4 | 8 | 0x40
	// actions10 is every OpenFlow 1.0 action bit (OFPAT_OUTPUT..ENQUEUE).
	actions10 = 0xfff
	// numTables is the table count Open vSwitch advertises (tables 0..253).
	numTables = 254
)

func codecErr(t openflow.ErrorType, code uint16, format string, args ...any) error {
	return &openflow.CodecError{Type: t, Code: code, Reason: fmt.Sprintf(format, args...)}
}

var errIsSlave = codecErr(openflow.ErrBadRequest, openflow.BRCIsSlave, "controller is a slave")

func (c *conn) isSlave() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.role == openflow.RoleSlave
}

// handle answers one message that is not part of a flow-mod run.
func (c *conn) handle(raw []byte) {
	h, _ := openflow.ParseHeader(raw)
	if h.Version != c.version {
		// OpenFlow 1.3 §6.3.1: once negotiated, every message carries
		// the negotiated version.
		c.replyError(h.Xid, codecErr(openflow.ErrBadRequest, openflow.BRCBadVersion,
			"version 0x%02x on a 0x%02x connection", h.Version, c.version), raw)
		return
	}
	msg, err := openflow.Decode(raw)
	if err != nil {
		c.replyError(h.Xid, err, raw)
		return
	}
	if err := c.dispatch(msg, h.Xid, raw); err != nil {
		c.replyError(h.Xid, err, raw)
	}
}

// modifies reports whether a message changes switch state, which a slave
// may not do (OpenFlow 1.3 §6.3.5).
func modifies(t openflow.Type) bool {
	switch t {
	case openflow.TypePacketOut, openflow.TypeFlowMod, openflow.TypeGroupMod, openflow.TypePortMod,
		openflow.TypeTableMod, openflow.TypeMeterMod:
		return true
	}
	return false
}

func (c *conn) dispatch(msg openflow.Message, xid uint32, raw []byte) error {
	if modifies(msg.Type()) && c.isSlave() {
		return errIsSlave
	}
	switch m := msg.(type) {
	case *openflow.Hello, *openflow.EchoReply, *openflow.BarrierReply:
		// A late hello is harmless; echo replies only refresh lastRecv.
	case *openflow.Error:
		c.a.log.Info("ofchannel: peer sent an error", "peer", c.nc.RemoteAddr(), "error", m.String())
	case *openflow.EchoRequest:
		c.reply(&openflow.EchoReply{Data: m.Data}, xid)
	case *openflow.Experimenter:
		return c.experimenter(m)
	case *openflow.FeaturesRequest:
		c.reply(c.features(), xid)
	case *openflow.GetConfigRequest:
		c.mu.Lock()
		r := &openflow.SwitchConfig{Flags: c.cfgFlags, MissSendLen: c.missSendLen}
		c.mu.Unlock()
		c.reply(r, xid)
	case *openflow.SwitchConfig:
		return c.setConfig(m)
	case *openflow.PacketOut:
		return c.packetOut(m)
	case *openflow.FlowMod:
		dropOutputMaxLen(m.Actions)
		c.applyOne([]openflow.FlowMod{*m}, xid, raw)
	case *openflow.GroupMod:
		return c.groupMod(m)
	case *openflow.PortMod:
		return c.portMod(m)
	case *openflow.TableMod:
		// Every table id (0..254, 255 = all) names a table. OpenFlow 1.3
		// table config bits are deprecated (§7.3.3); Open vSwitch accepts
		// and ignores them.
	case *openflow.MultipartRequest:
		return c.multipart(m, xid)
	case *openflow.BarrierRequest:
		// Every earlier message was handled before this one was read.
		c.reply(&openflow.BarrierReply{}, xid)
	case *openflow.QueueGetConfigRequest:
		if m.Port != openflow.PortAny && !c.a.hasPort(m.Port) {
			return codecErr(openflow.ErrQueueOpFailed, openflow.QOFCBadPort, "port %d", m.Port)
		}
		c.reply(&openflow.QueueGetConfigReply{Port: m.Port}, xid)
	case *openflow.Role:
		return c.roleRequest(m, xid)
	case *openflow.GetAsyncRequest:
		c.mu.Lock()
		r := c.async
		c.mu.Unlock()
		r.IsSet = false
		c.reply(&r, xid)
	case *openflow.AsyncConfig:
		if !m.IsSet {
			return codecErr(openflow.ErrBadRequest, openflow.BRCBadType, "%v from a controller", m.Type())
		}
		c.mu.Lock()
		c.async, c.asyncOn = *m, true
		c.mu.Unlock()
	case *openflow.MeterMod:
		// Open vSwitch without meter support answers every meter mod so.
		return codecErr(openflow.ErrMeterModFailed, openflow.MMFCOutOfMeters, "meters are not supported")
	default:
		// Switch-to-controller messages (features reply, packet-in ...).
		return codecErr(openflow.ErrBadRequest, openflow.BRCBadType, "%v sent to a switch", msg.Type())
	}
	return nil
}

func (c *conn) features() *openflow.FeaturesReply {
	f := &openflow.FeaturesReply{DatapathID: c.a.datapathID(), Tables: numTables, Capabilities: capabilities13}
	if c.version == openflow.Version10 {
		f.Capabilities, f.Actions = capabilities10, actions10
		for _, p := range c.a.sw.Ports() {
			f.Ports = append(f.Ports, p.Desc)
		}
	}
	return f
}

func (c *conn) setConfig(m *openflow.SwitchConfig) error {
	if m.Flags > openflow.ConfigFragReasm {
		return codecErr(openflow.ErrSwitchConfigFailed, openflow.SCFCBadFlags, "flags 0x%x", m.Flags)
	}
	c.mu.Lock()
	c.cfgFlags, c.missSendLen, c.asyncOn = m.Flags, m.MissSendLen, true
	c.mu.Unlock()
	return nil
}

// portConfigBits are the OFPPC_* bits a port mod may change.
const portConfigBits = openflow.PortDown | openflow.PortNoRecv | openflow.PortNoFwd | openflow.PortNoPacketIn | openflow.PortNoFlood

func (c *conn) portMod(m *openflow.PortMod) error {
	var info *ofproto.PortInfo
	ports := c.a.sw.Ports()
	for i := range ports {
		if ports[i].OFPort == m.Port {
			info = &ports[i]
		}
	}
	if info == nil {
		return codecErr(openflow.ErrPortModFailed, openflow.PMFCBadPort, "port %d", m.Port)
	}
	if m.HWAddr != info.Desc.HWAddr {
		// OpenFlow 1.3 §7.3.3: hw_addr must match the port's.
		return codecErr(openflow.ErrPortModFailed, openflow.PMFCBadHWAddr, "port %d hw_addr %x", m.Port, m.HWAddr)
	}
	if m.Mask&^portConfigBits != 0 {
		return codecErr(openflow.ErrPortModFailed, openflow.PMFCBadConfig, "config mask 0x%x", uint32(m.Mask))
	}
	if err := c.a.sw.ModPort(m.Port, m.Config, m.Mask); err != nil {
		return codecErr(openflow.ErrPortModFailed, openflow.PMFCBadPort, "%v", err)
	}
	c.a.PortsChanged()
	return nil
}

// validPacketOutPort: a packet-out's in_port is a real port, LOCAL,
// CONTROLLER or ANY (OFPP_NONE in 1.0), as Open vSwitch accepts.
func validPacketOutPort(p uint32) bool {
	return p < openflow.PortMax || p == openflow.PortLocal || p == openflow.PortController || p == openflow.PortAny
}

func (c *conn) packetOut(m *openflow.PacketOut) error {
	if m.BufferID != openflow.NoBuffer {
		// tapestry buffers nothing: packet-ins always carry the whole
		// packet with buffer_id NO_BUFFER.
		return codecErr(openflow.ErrBadRequest, openflow.BRCBufferUnknown, "buffer %d", m.BufferID)
	}
	if !validPacketOutPort(m.InPort) {
		return codecErr(openflow.ErrBadRequest, openflow.BRCBadPort, "packet-out in_port %d", m.InPort)
	}
	for _, act := range m.Actions {
		if act.Type == openflow.ActOutput && act.Port < openflow.PortMax && !c.a.hasPort(act.Port) {
			return codecErr(openflow.ErrBadAction, openflow.BACBadOutPort, "output to port %d", act.Port)
		}
	}
	if ex, ok := c.a.sw.(Executor); ok {
		if err := ex.Execute(m.InPort, m.Actions, m.Data); err != nil {
			return mapBridgeError(err)
		}
		return nil
	}
	if len(m.Actions) == 1 && m.Actions[0].Type == openflow.ActOutput && m.Actions[0].Port == openflow.PortTable {
		c.a.sw.Inject(m.InPort, m.Data)
		return nil
	}
	if len(m.Actions) == 0 {
		return nil // a packet-out without actions drops the packet
	}
	return codecErr(openflow.ErrBadAction, openflow.BACBadType, "this bridge executes only output:TABLE in packet-outs")
}

// roleRequest implements OFPT_ROLE_REQUEST (OpenFlow 1.3 §6.3.5): a master
// or slave request with a generation id older than the last one seen is
// stale; a new master demotes the old one to slave.
func (c *conn) roleRequest(m *openflow.Role, xid uint32) error {
	if m.IsReply {
		return codecErr(openflow.ErrBadRequest, openflow.BRCBadType, "role reply sent to a switch")
	}
	if m.Role > openflow.RoleSlave {
		return codecErr(openflow.ErrRoleRequestFailed, openflow.RRFCBadRole, "role %d", m.Role)
	}
	a := c.a
	a.mu.Lock()
	if m.Role == openflow.RoleMaster || m.Role == openflow.RoleSlave {
		if a.genSet && int64(m.GenerationID-a.genID) < 0 {
			a.mu.Unlock()
			return codecErr(openflow.ErrRoleRequestFailed, openflow.RRFCStale, "generation id %d < %d", m.GenerationID, a.genID)
		}
		a.genID, a.genSet = m.GenerationID, true
	}
	if m.Role == openflow.RoleMaster {
		for o := range a.conns {
			if o != c {
				o.mu.Lock()
				if o.role == openflow.RoleMaster {
					o.role = openflow.RoleSlave
				}
				o.mu.Unlock()
			}
		}
	}
	gen := a.genID
	a.mu.Unlock()
	c.mu.Lock()
	if m.Role != openflow.RoleNoChange {
		c.role = m.Role
	}
	role := c.role
	c.mu.Unlock()
	c.reply(&openflow.Role{IsReply: true, Role: role, GenerationID: gen}, xid)
	return nil
}

// mapBridgeError turns an ofproto error into the OpenFlow error Open vSwitch
// answers with.
func mapBridgeError(err error) error {
	if _, _, ok := openflow.ErrorCodeOf(err); ok {
		return err
	}
	var t openflow.ErrorType
	var code uint16
	switch {
	case errors.Is(err, ofproto.ErrBadCommand):
		t, code = openflow.ErrFlowModFailed, openflow.FMFCBadCommand
	case errors.Is(err, ofproto.ErrBadTable):
		// Open vSwitch checks table ids as a request error
		// (OFPBRC_BAD_TABLE_ID), in both versions.
		t, code = openflow.ErrBadRequest, openflow.BRCBadTableID
	case errors.Is(err, ofproto.ErrOverlap):
		t, code = openflow.ErrFlowModFailed, openflow.FMFCOverlap
	case errors.Is(err, ofproto.ErrBadOutPort):
		t, code = openflow.ErrBadAction, openflow.BACBadOutPort
	case errors.Is(err, ofproto.ErrBadOutGroup):
		t, code = openflow.ErrBadAction, openflow.BACBadOutGroup
	case errors.Is(err, ofproto.ErrBadArgument):
		t, code = openflow.ErrBadAction, openflow.BACBadArgument
	case errors.Is(err, ofproto.ErrBadField):
		t, code = openflow.ErrBadAction, openflow.BACBadSetType
	case errors.Is(err, ofproto.ErrBadGotoTable):
		t, code = openflow.ErrBadInstruction, openflow.BICBadTableID
	case errors.Is(err, ofproto.ErrBadInstruction):
		t, code = openflow.ErrBadInstruction, openflow.BICUnsupInst
	default:
		t, code = openflow.ErrFlowModFailed, openflow.FMFCUnknown
	}
	return &openflow.CodecError{Type: t, Code: code, Reason: err.Error()}
}

// maxBatch bounds a run of flow mods applied as one bridge batch.
const maxBatch = 4096

// flowModBatch is a run of flow mods read back to back.
type flowModBatch struct {
	fms  []openflow.FlowMod
	reqs []request
}

// request remembers what an error reply needs of a message.
type request struct {
	xid  uint32
	n    int
	head [64]byte
}

func (c *conn) isFlowMod(raw []byte) bool {
	t, ok := openflow.TypeOf(raw[0], raw[1])
	return ok && t == openflow.TypeFlowMod && raw[0] == c.version
}

// flowMods handles the flow mod raw and every complete flow mod already
// buffered behind it as one batch: one bridge lock and one cache
// invalidation for the run, which is what makes bulk loading fast. A
// failing batch was rolled back by the bridge and is replayed message by
// message so that each failure is answered as if alone.
func (c *conn) flowMods(b *flowModBatch, raw []byte, br *bufio.Reader, buf []byte) {
	b.fms, b.reqs = b.fms[:0], b.reqs[:0]
	if c.isSlave() {
		c.replyError(binary.BigEndian.Uint32(raw[4:]), errIsSlave, raw)
		return
	}
	for {
		if !c.addFlowMod(b, raw) || len(b.fms) >= maxBatch {
			break
		}
		next := peekFlowMod(br, c.version)
		if next == 0 {
			break
		}
		var err error
		if raw, err = openflow.ReadMessage(br, buf); err != nil {
			break // cannot happen: the message is buffered whole
		}
	}
	c.apply(b)
}

// addFlowMod decodes raw into the batch; a message that does not decode is
// answered right away after applying what came before it.
func (c *conn) addFlowMod(b *flowModBatch, raw []byte) bool {
	xid := binary.BigEndian.Uint32(raw[4:])
	if len(b.fms) < cap(b.fms) {
		b.fms = b.fms[:len(b.fms)+1]
	} else {
		b.fms = append(b.fms, openflow.FlowMod{})
	}
	fm := &b.fms[len(b.fms)-1]
	r := request{xid: xid, n: min(len(raw), 64)}
	copy(r.head[:], raw)
	table, withTable := c.takeTableID(raw)
	if err := openflow.DecodeFlowMod(raw, fm); err != nil {
		b.fms = b.fms[:len(b.fms)-1]
		c.apply(b)
		b.fms, b.reqs = b.fms[:0], b.reqs[:0]
		c.replyError(xid, err, r.head[:r.n])
		return false
	}
	if withTable {
		fm.Table = table
	}
	dropOutputMaxLen(fm.Actions)
	b.reqs = append(b.reqs, r)
	return true
}

// dropOutputMaxLen clears max_len of output actions to ordinary ports.
// Controllers send it on every output (os-ken's OFPActionOutput defaults
// to 0xffe5), but it only means something for OFPP_CONTROLLER (OpenFlow
// 1.3 §7.2.5); Open vSwitch drops it elsewhere, so the flow dumps as
// output:N rather than as a truncating output(port=N,max_len=M).
func dropOutputMaxLen(acts []openflow.Action) {
	for i := range acts {
		if acts[i].Type == openflow.ActOutput && acts[i].Port != openflow.PortController {
			acts[i].MaxLen = 0
		}
	}
}

// peekFlowMod returns the length of the next message if it is a flow mod
// of version v that is already buffered whole, else 0.
func peekFlowMod(br *bufio.Reader, v uint8) int {
	if br.Buffered() < openflow.HeaderLen {
		return 0
	}
	h, err := br.Peek(openflow.HeaderLen)
	if err != nil || h[0] != v {
		return 0
	}
	if t, ok := openflow.TypeOf(h[0], h[1]); !ok || t != openflow.TypeFlowMod {
		return 0
	}
	n := int(binary.BigEndian.Uint16(h[2:]))
	if n < openflow.HeaderLen || n > br.Buffered() {
		return 0
	}
	return n
}

func (c *conn) apply(b *flowModBatch) {
	if len(b.fms) == 0 {
		return
	}
	ch, err := c.a.flowMods(b.fms)
	if err != nil && len(b.fms) > 1 {
		for i := range b.fms {
			c.applyOne(b.fms[i:i+1], b.reqs[i].xid, b.reqs[i].head[:b.reqs[i].n])
		}
		return
	}
	if err != nil {
		c.replyError(b.reqs[0].xid, mapBridgeError(err), b.reqs[0].head[:b.reqs[0].n])
		return
	}
	c.a.flowsChanged(ch)
	for i := range b.fms {
		c.checkBuffer(&b.fms[i], b.reqs[i].xid, b.reqs[i].head[:b.reqs[i].n])
	}
}

// applyOne applies the flow mod in one, a one-element batch (a sub-slice
// of the batch being replayed, so nothing is copied), and answers its
// failure.
func (c *conn) applyOne(one []openflow.FlowMod, xid uint32, raw []byte) {
	ch, err := c.a.flowMods(one)
	if err != nil {
		c.replyError(xid, mapBridgeError(err), raw)
		return
	}
	c.a.flowsChanged(ch)
	c.checkBuffer(&one[0], xid, raw)
}

// checkBuffer: a flow mod naming a buffer is applied (the buffer only
// says which packet to run through it afterwards), then the unknown buffer
// is reported, as Open vSwitch does.
func (c *conn) checkBuffer(fm *openflow.FlowMod, xid uint32, raw []byte) {
	if err := unknownBuffer(fm); err != nil {
		c.replyError(xid, err, raw)
	}
}

// unknownBuffer is the error for an add or modify that names a buffer
// (this switch buffers no packets), or nil.
func unknownBuffer(fm *openflow.FlowMod) error {
	if fm.BufferID != openflow.NoBuffer && (fm.Command == openflow.FlowAdd || fm.Command == openflow.FlowModify || fm.Command == openflow.FlowModifyStrict) {
		return codecErr(openflow.ErrBadRequest, openflow.BRCBufferUnknown, "buffer %d", fm.BufferID)
	}
	return nil
}

// flowApplier is implemented by a switch that can apply flow mods without
// copying the added flows' statistics (*ofproto.Bridge): ApplyFlowMods
// only counts them, RecordFlowMods reports them by reference.
type flowApplier interface {
	ApplyFlowMods(fms []openflow.FlowMod) (ofproto.FlowChanges, error)
	RecordFlowMods(fms []openflow.FlowMod) (ofproto.FlowChanges, error)
}

// flowMods applies fms as one batch. Copying a FlowStats (about 450 bytes)
// for every added flow was most of the garbage, and so of the GC work, of
// a bulk load: without an OnFlowChanges consumer nobody reads the added
// flows, and with one (the daemon's flow log) they are reported as
// ofproto.FlowRefs in FlowChanges.AddedRefs. Removed flows are reported
// either way (flow-removed messages need them).
func (a *Agent) flowMods(fms []openflow.FlowMod) (ofproto.FlowChanges, error) {
	ap, ok := a.sw.(flowApplier)
	switch {
	case ok && a.cfg.OnFlowChanges == nil:
		return ap.ApplyFlowMods(fms)
	case ok:
		return ap.RecordFlowMods(fms)
	}
	return a.sw.FlowMods(fms)
}

func (a *Agent) flowsChanged(ch ofproto.FlowChanges) {
	if a.cfg.OnFlowChanges != nil && len(ch.Added)+len(ch.AddedRefs)+len(ch.Removed)+len(ch.RemovedRefs) > 0 {
		a.cfg.OnFlowChanges(ch)
	}
}

func (a *Agent) hasPort(no uint32) bool {
	for _, p := range a.sw.Ports() {
		if p.OFPort == no {
			return true
		}
	}
	return false
}
