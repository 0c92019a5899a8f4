package ofchannel

import (
	"encoding/binary"
	"testing"

	"github.com/google/go-cmp/cmp"

	"tapestry/openflow"
)

// expectNXGroupError reads the reply to xid: a Nicira vendor error
// (NXET_VENDOR) carrying OFPET_GROUP_MOD_FAILED and code, as Open vSwitch
// sends group errors to OpenFlow 1.0 peers.
func (c *client) expectNXGroupError(xid uint32, code uint16) {
	c.t.Helper()
	m, h := c.recvReply()
	e, ok := m.(*openflow.Error)
	if !ok || h.Xid != xid || e.ErrType != openflow.Err10NiciraVendor || len(e.Data) < 8 ||
		be32(e.Data) != niciraVendor || binary.BigEndian.Uint16(e.Data[4:]) != uint16(openflow.ErrGroupModFailed) ||
		binary.BigEndian.Uint16(e.Data[6:]) != code {
		c.t.Fatalf("%s: got %T %+v xid %d, want Nicira group error %s xid %d", c.ctx, m, m, h.Xid,
			openflow.ErrorName(openflow.ErrGroupModFailed, code), xid)
	}
}

// nxGroupReply sends a Nicira group stats request and decodes the reply.
func (c *client) nxGroupReply(sub, group uint32) *openflow.NXGroupStatsReply {
	c.t.Helper()
	c.xid++
	b, err := (&openflow.NXGroupStatsRequest{Subtype: sub, Group: group}).Append(nil, c.xid)
	if err != nil {
		c.t.Fatal(err)
	}
	c.writeRaw(b)
	m, h := c.recvReply()
	mr, ok := m.(*openflow.MultipartReply)
	if !ok || h.Xid != c.xid {
		c.t.Fatalf("NXST %d: got %T xid %d", sub, m, h.Xid)
	}
	r, err := openflow.DecodeNXGroupStatsReply(mr)
	if err != nil || r.Subtype != sub {
		c.t.Fatalf("NXST %d reply: %v %+v", sub, err, r)
	}
	return r
}

// TestNXGroupMessages drives groups over an OpenFlow 1.0 connection with
// the Nicira messages: each group mod succeeds (a barrier proves it) or
// fails with its Nicira-wrapped group error; the dumps list what is left.
func TestNXGroupMessages(t *testing.T) {
	ff := bucket(out(1)...)
	ff.Weight, ff.WatchPort = 0, 1
	all := func(acts ...openflow.Action) openflow.Bucket {
		b := bucket(acts...)
		b.Weight = 0
		return b
	}
	tests := []struct {
		name string
		gm   *openflow.GroupMod
		code uint16 // 0xffff: success
	}{
		{"add all", gmod(openflow.GroupAdd, openflow.GroupTypeAll, 1, all(out(1)...), all(out(2)...)), 0xffff},
		{"add exists", gmod(openflow.GroupAdd, openflow.GroupTypeAll, 1, all(out(1)...)), openflow.GMFCGroupExists},
		{"add select", gmod(openflow.GroupAdd, openflow.GroupTypeSelect, 2, bucket(out(2)...)), 0xffff},
		{"modify unknown", gmod(openflow.GroupModify, openflow.GroupTypeAll, 9, all(out(1)...)), openflow.GMFCUnknownGroup},
		{"ff without watch", gmod(openflow.GroupAdd, openflow.GroupTypeFastFailover, 3, all(out(1)...)), openflow.GMFCBadWatch},
		{"ff", gmod(openflow.GroupAdd, openflow.GroupTypeFastFailover, 3, ff), 0xffff},
		{"loop", gmod(openflow.GroupAdd, openflow.GroupTypeIndirect, 4, all(openflow.Action{Type: openflow.ActGroup, Group: 4})), openflow.GMFCLoop},
		{"delete", gmod(openflow.GroupDelete, 0, 2), 0xffff},
	}
	tb := newTestBed(t, Config{})
	c := tb.dial(t, openflow.Version10)
	for _, tc := range tests {
		c.ctx = tc.name
		c.xid++
		b, err := openflow.AppendNXGroupMod(nil, c.xid, tc.gm)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		c.writeRaw(b)
		if tc.code != 0xffff {
			c.expectNXGroupError(c.xid, tc.code)
			continue
		}
		bx := c.write(&openflow.BarrierRequest{})
		if m, h := c.recvReply(); h.Xid != bx {
			t.Fatalf("%s: got %T xid %d, want the barrier reply", tc.name, m, h.Xid)
		}
	}
	want := []openflow.Group{
		{GroupType: openflow.GroupTypeAll, ID: 1, Buckets: []openflow.Bucket{all(out(1)...), all(out(2)...)}},
		{GroupType: openflow.GroupTypeFastFailover, ID: 3, Buckets: []openflow.Bucket{ff}},
	}
	if diff := cmp.Diff(want, c.nxGroupReply(openflow.NXSTGroupDesc, openflow.GroupAll).GroupDescs); diff != "" {
		t.Errorf("NXST_GROUP_DESC (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want[1:], c.nxGroupReply(openflow.NXSTGroupDesc, 3).GroupDescs); diff != "" {
		t.Errorf("NXST_GROUP_DESC group 3 (-want +got):\n%s", diff)
	}
	st := c.nxGroupReply(openflow.NXSTGroup, 1).Groups
	if len(st) != 1 || st[0].ID != 1 || len(st[0].Buckets) != 2 {
		t.Errorf("NXST_GROUP group 1: %+v", st)
	}
	f := c.nxGroupReply(openflow.NXSTGroupFeatures, 0).Features
	if f.Types != 0xf || f.Actions != [4]uint32{actions10, actions10, actions10, actions10} {
		t.Errorf("NXST_GROUP_FEATURES: %+v", f)
	}
	c.echo()
}

// TestNXGroupModOn13: NXT_GROUP_MOD belongs to OpenFlow 1.0; on a 1.3
// connection it is an unknown Nicira subtype, as before.
func TestNXGroupModOn13(t *testing.T) {
	tb := newTestBed(t, Config{})
	c := tb.dial(t, openflow.Version13)
	body, err := openflow.AppendNXGroupMod(nil, 1, gmod(openflow.GroupDelete, 0, openflow.GroupAll))
	if err != nil {
		t.Fatal(err)
	}
	xid := c.write(&openflow.Experimenter{Experimenter: niciraVendor, ExpType: openflow.NXTGroupMod, Data: body[openflow.HeaderLen+8:]})
	c.expectError(xid, openflow.ErrBadRequest, openflow.BRCBadExpType)
}
