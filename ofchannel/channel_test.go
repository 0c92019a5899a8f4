package ofchannel

import (
	"encoding/binary"
	"testing"

	"tapestry/flow"
	"tapestry/openflow"
)

func TestHandshake(t *testing.T) {
	tb := newTestBed(t, Config{})
	for _, v := range []uint8{openflow.Version10, openflow.Version13} {
		c := tb.dial(t, v)
		c.echo()
		xid := c.write(&openflow.FeaturesRequest{})
		m, h := c.recvReply()
		f, ok := m.(*openflow.FeaturesReply)
		if !ok || h.Xid != xid || h.Version != v || f.DatapathID != 0x1234 || f.Tables != numTables {
			t.Fatalf("version %d: features reply %+v (xid %d version %d)", v, m, h.Xid, h.Version)
		}
		if v == openflow.Version10 && len(f.Ports) != 2 {
			t.Errorf("1.0 features reply has %d ports, want 2", len(f.Ports))
		}
	}
}

func TestHelloIncompatible(t *testing.T) {
	tb := newTestBed(t, Config{Protocols: []uint8{openflow.Version13}})
	c := tb.dial(t, openflow.Version13)
	c.echo()
	// A peer that only speaks OpenFlow 1.0 (header version 1, no bitmap).
	c2 := &client{t: t, version: openflow.Version10}
	c2.nc = mustDial(t, tb.sock)
	c2.br, c2.buf = newReader(c2.nc), make([]byte, openflow.MaxMessageLen)
	c2.write(&openflow.Hello{})
	if m, _ := c2.recv(); m.Type() != openflow.TypeHello {
		t.Fatalf("got %T, want hello", m)
	}
	m, _ := c2.recv()
	e, ok := m.(*openflow.Error)
	if !ok || e.ErrType != uint16(openflow.ErrHelloFailed) || e.Code != openflow.HFCIncompatible {
		t.Fatalf("got %+v, want OFPET_HELLO_FAILED/OFPHFC_INCOMPATIBLE", m)
	}
}

// raw13 builds an OpenFlow 1.3 message of wire type typ with body.
func raw13(typ uint8, length int, body ...byte) []byte {
	b := append([]byte{openflow.Version13, typ, 0, 0, 0, 0, 0, 77}, body...)
	if length < 0 {
		length = len(b)
	}
	binary.BigEndian.PutUint16(b[2:], uint16(length))
	return b
}

func fmAdd(prio uint16, port uint32) *openflow.FlowMod {
	fm := &openflow.FlowMod{Command: openflow.FlowAdd, Priority: prio, BufferID: openflow.NoBuffer,
		OutPort: openflow.PortAny, OutGroup: openflow.GroupAny,
		Actions: []openflow.Action{{Type: openflow.ActOutput, Port: port}}}
	fm.Match.Set(flow.FieldDlType, flow.U64(0x0800))
	return fm
}

func TestRequests(t *testing.T) {
	overlap := fmAdd(7, 1)
	overlap.Flags = openflow.FlagCheckOverlap
	overlap.Match = flow.Match{} // overlaps "priority=7,ip"
	badTable := fmAdd(7, 1)
	badTable.Table = openflow.TableAll // not a table for an add
	gotoBack := fmAdd(8, 1)
	gotoBack.Table = 3
	gotoBack.Actions = []openflow.Action{{Type: openflow.ActGotoTable, Table: 1}}
	buffered := fmAdd(9, 1)
	buffered.BufferID = 5
	truncMatch := raw13(14, -1, make([]byte, 40)...) // flow mod whose match header is missing
	tests := []struct {
		name     string
		msg      openflow.Message // or raw
		raw      []byte
		wantType openflow.Type // reply type when no error
		errType  openflow.ErrorType
		errCode  uint16
		isErr    bool
		noReply  bool // success is silent: a barrier proves it
	}{
		{name: "echo", msg: &openflow.EchoRequest{Data: []byte{1, 2}}, wantType: openflow.TypeEchoReply},
		{name: "features", msg: &openflow.FeaturesRequest{}, wantType: openflow.TypeFeaturesReply},
		{name: "get config", msg: &openflow.GetConfigRequest{}, wantType: openflow.TypeGetConfigReply},
		{name: "barrier", msg: &openflow.BarrierRequest{}, wantType: openflow.TypeBarrierReply},
		{name: "desc", msg: &openflow.MultipartRequest{MPType: openflow.MPDesc}, wantType: openflow.TypeMultipartReply},
		{name: "flow stats", msg: &openflow.MultipartRequest{MPType: openflow.MPFlow, Flow: openflow.FlowStatsRequest{Table: openflow.TableAll, OutPort: openflow.PortAny, OutGroup: openflow.GroupAny}}, wantType: openflow.TypeMultipartReply},
		{name: "aggregate", msg: &openflow.MultipartRequest{MPType: openflow.MPAggregate, Flow: openflow.FlowStatsRequest{Table: openflow.TableAll, OutPort: openflow.PortAny, OutGroup: openflow.GroupAny}}, wantType: openflow.TypeMultipartReply},
		{name: "table stats", msg: &openflow.MultipartRequest{MPType: openflow.MPTable}, wantType: openflow.TypeMultipartReply},
		{name: "port stats", msg: &openflow.MultipartRequest{MPType: openflow.MPPortStats, Port: openflow.PortAny}, wantType: openflow.TypeMultipartReply},
		{name: "port stats bad port", msg: &openflow.MultipartRequest{MPType: openflow.MPPortStats, Port: 99}, isErr: true, errType: openflow.ErrBadRequest, errCode: openflow.BRCBadPort},
		{name: "port desc", msg: &openflow.MultipartRequest{MPType: openflow.MPPortDesc}, wantType: openflow.TypeMultipartReply},
		{name: "group desc", msg: &openflow.MultipartRequest{MPType: openflow.MPGroupDesc}, wantType: openflow.TypeMultipartReply},
		{name: "group features", msg: &openflow.MultipartRequest{MPType: openflow.MPGroupFeatures}, wantType: openflow.TypeMultipartReply},
		{name: "meter features", msg: &openflow.MultipartRequest{MPType: openflow.MPMeterFeatures}, wantType: openflow.TypeMultipartReply},
		{name: "experimenter multipart", msg: &openflow.MultipartRequest{MPType: openflow.MPExperimenter, Experimenter: 0xabcd}, isErr: true, errType: openflow.ErrBadRequest, errCode: openflow.BRCBadExperimenter},
		{name: "get async", msg: &openflow.GetAsyncRequest{}, wantType: openflow.TypeGetAsyncReply},
		{name: "role nochange", msg: &openflow.Role{Role: openflow.RoleNoChange}, wantType: openflow.TypeRoleReply},
		{name: "role bad", msg: &openflow.Role{Role: 9}, isErr: true, errType: openflow.ErrRoleRequestFailed, errCode: openflow.RRFCBadRole},
		{name: "flow mod ok", msg: fmAdd(7, 1), noReply: true},
		{name: "check overlap", msg: overlap, isErr: true, errType: openflow.ErrFlowModFailed, errCode: openflow.FMFCOverlap},
		{name: "bad out port", msg: fmAdd(3, 0xffffff10), isErr: true, errType: openflow.ErrBadAction, errCode: openflow.BACBadOutPort},
		{name: "bad table", msg: badTable, isErr: true, errType: openflow.ErrBadRequest, errCode: openflow.BRCBadTableID},
		{name: "goto backwards", msg: gotoBack, isErr: true, errType: openflow.ErrBadInstruction, errCode: openflow.BICBadTableID},
		{name: "flow mod buffer", msg: buffered, isErr: true, errType: openflow.ErrBadRequest, errCode: openflow.BRCBufferUnknown},
		{name: "packet-out buffer", msg: &openflow.PacketOut{BufferID: 3, InPort: openflow.PortController}, isErr: true, errType: openflow.ErrBadRequest, errCode: openflow.BRCBufferUnknown},
		{name: "packet-out bad in_port", msg: &openflow.PacketOut{BufferID: openflow.NoBuffer, InPort: 0xffffff10}, isErr: true, errType: openflow.ErrBadRequest, errCode: openflow.BRCBadPort},
		{name: "group modify unknown", msg: &openflow.GroupMod{Command: openflow.GroupModify, Group: openflow.Group{ID: 1}}, isErr: true, errType: openflow.ErrGroupModFailed, errCode: openflow.GMFCUnknownGroup},
		{name: "group delete", msg: &openflow.GroupMod{Command: openflow.GroupDelete, Group: openflow.Group{ID: openflow.GroupAll}}, noReply: true},
		{name: "port mod bad port", msg: &openflow.PortMod{Port: 42}, isErr: true, errType: openflow.ErrPortModFailed, errCode: openflow.PMFCBadPort},
		{name: "port mod bad hw addr", msg: &openflow.PortMod{Port: 1, HWAddr: [6]byte{9}}, isErr: true, errType: openflow.ErrPortModFailed, errCode: openflow.PMFCBadHWAddr},
		{name: "table mod", msg: &openflow.TableMod{Table: 3}, noReply: true},
		{name: "meter mod", msg: &openflow.MeterMod{Meter: 1}, isErr: true, errType: openflow.ErrMeterModFailed, errCode: openflow.MMFCOutOfMeters},
		{name: "experimenter", msg: &openflow.Experimenter{Experimenter: 0x1234}, isErr: true, errType: openflow.ErrBadRequest, errCode: openflow.BRCBadExperimenter},
		{name: "features reply to switch", msg: &openflow.FeaturesReply{}, isErr: true, errType: openflow.ErrBadRequest, errCode: openflow.BRCBadType},
		{name: "unknown type", raw: raw13(99, -1), isErr: true, errType: openflow.ErrBadRequest, errCode: openflow.BRCBadType},
		{name: "bad version", raw: append([]byte{0x06, 2, 0, 8}, 0, 0, 0, 77), isErr: true, errType: openflow.ErrBadRequest, errCode: openflow.BRCBadVersion},
		{name: "bad length echo", raw: raw13(5, -1, 1, 2, 3), isErr: true, errType: openflow.ErrBadRequest, errCode: openflow.BRCBadLen},
		{name: "truncated flow mod", raw: truncMatch, isErr: true, errType: openflow.ErrBadRequest, errCode: openflow.BRCBadLen},
		{name: "bad action", raw: badActionFlowMod(), isErr: true, errType: openflow.ErrBadAction, errCode: openflow.BACBadType},
	}
	tb := newTestBed(t, Config{})
	c := tb.dial(t, openflow.Version13)
	for _, tc := range tests {
		c.ctx = tc.name
		var xid uint32
		if tc.raw != nil {
			xid = be32(tc.raw[4:])
			c.writeRaw(tc.raw)
		} else {
			xid = c.write(tc.msg)
		}
		switch {
		case tc.isErr:
			e := c.expectError(xid, tc.errType, tc.errCode)
			if len(e.Data) == 0 {
				t.Errorf("%s: error carries no request data", tc.name)
			}
		case tc.noReply:
			// No reply on success: a barrier proves it.
			bx := c.write(&openflow.BarrierRequest{})
			if m, h := c.recvReply(); m.Type() != openflow.TypeBarrierReply || h.Xid != bx {
				t.Errorf("%s: got %v xid %d, want barrier reply %d", tc.name, m.Type(), h.Xid, bx)
			}
		default:
			m, h := c.recvReply()
			if m.Type() != tc.wantType || h.Xid != xid {
				t.Errorf("%s: got %v xid %d, want %v xid %d", tc.name, m.Type(), h.Xid, tc.wantType, xid)
			}
		}
		c.echo() // the connection survives
	}
}

// badActionFlowMod is an OpenFlow 1.3 flow mod with an apply-actions
// instruction holding an action of unknown type 0x0077.
func badActionFlowMod() []byte {
	fm := fmAdd(1, 1)
	b, _ := fm.Append(nil, openflow.Version13, 77)
	// The output action is the last 16 bytes: type(2) at the start.
	binary.BigEndian.PutUint16(b[len(b)-16:], 0x0077)
	return b
}

func TestTableFeatures(t *testing.T) {
	tb := newTestBed(t, Config{})
	c := tb.dial(t, openflow.Version13)
	xid := c.write(&openflow.MultipartRequest{MPType: openflow.MPTableFeatures})
	tables := 0
	for {
		m, h := c.recvReply()
		r, ok := m.(*openflow.MultipartReply)
		if !ok || h.Xid != xid || r.MPType != openflow.MPTableFeatures {
			t.Fatalf("got %T %+v", m, h)
		}
		tables += len(r.TableFeatures)
		if r.Flags&openflow.MultipartMore == 0 {
			break
		}
	}
	if tables != numTables {
		t.Fatalf("table features for %d tables, want %d", tables, numTables)
	}
}

func TestRoles(t *testing.T) {
	tb := newTestBed(t, Config{})
	a, b := tb.dial(t, openflow.Version13), tb.dial(t, openflow.Version13)
	role := func(c *client, r uint32, gen uint64) (openflow.Message, uint32) {
		xid := c.write(&openflow.Role{Role: r, GenerationID: gen})
		m, _ := c.recvReply()
		return m, xid
	}
	if m, _ := role(a, openflow.RoleMaster, 10); m.(*openflow.Role).Role != openflow.RoleMaster {
		t.Fatalf("a master: %+v", m)
	}
	if m, _ := role(b, openflow.RoleMaster, 11); m.(*openflow.Role).Role != openflow.RoleMaster {
		t.Fatalf("b master: %+v", m)
	}
	// a was demoted: it is now a slave and may not modify flows.
	if m, _ := role(a, openflow.RoleNoChange, 0); m.(*openflow.Role).Role != openflow.RoleSlave {
		t.Fatalf("a after b became master: %+v", m)
	}
	xid := a.write(fmAdd(5, 1))
	a.expectError(xid, openflow.ErrBadRequest, openflow.BRCIsSlave)
	xid = a.write(&openflow.Role{Role: openflow.RoleMaster, GenerationID: 9})
	a.expectError(xid, openflow.ErrRoleRequestFailed, openflow.RRFCStale)
	a.echo()
}
