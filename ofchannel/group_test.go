package ofchannel

import (
	"encoding/binary"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"tapestry/internal/hosttest"
	"tapestry/ofproto"
	"tapestry/openflow"
)

func out(port uint32) []openflow.Action {
	return []openflow.Action{{Type: openflow.ActOutput, Port: port}}
}

func bucket(acts ...openflow.Action) openflow.Bucket {
	return openflow.Bucket{Weight: 1, WatchPort: openflow.PortAny, WatchGroup: openflow.GroupAny, Actions: acts}
}

func gmod(cmd uint16, typ uint8, id uint32, bs ...openflow.Bucket) *openflow.GroupMod {
	return &openflow.GroupMod{Command: cmd, Group: openflow.Group{GroupType: typ, ID: id, Buckets: bs}}
}

func groupFlow(group uint32) *openflow.FlowMod {
	return &openflow.FlowMod{Command: openflow.FlowAdd, Priority: 10, BufferID: openflow.NoBuffer,
		OutPort: openflow.PortAny, OutGroup: openflow.GroupAny,
		Actions: []openflow.Action{{Type: openflow.ActGroup, Group: group}}}
}

// TestGroupModMessages sends encoded group mods and checks each answer:
// nothing (a barrier proves success) or the OpenFlow error of the failure.
func TestGroupModMessages(t *testing.T) {
	ff := bucket(out(1)...)
	ff.WatchPort = 1
	tests := []struct {
		name    string
		msg     openflow.Message
		errType openflow.ErrorType // 0: success
		errCode uint16
	}{
		{"add all", gmod(openflow.GroupAdd, openflow.GroupTypeAll, 1, bucket(out(1)...), bucket(out(2)...)), 0, 0},
		{"add exists", gmod(openflow.GroupAdd, openflow.GroupTypeAll, 1, bucket(out(1)...)), openflow.ErrGroupModFailed, openflow.GMFCGroupExists},
		{"modify", gmod(openflow.GroupModify, openflow.GroupTypeSelect, 1, bucket(out(2)...)), 0, 0},
		{"modify unknown", gmod(openflow.GroupModify, openflow.GroupTypeAll, 9, bucket(out(1)...)), openflow.ErrGroupModFailed, openflow.GMFCUnknownGroup},
		{"reserved id", gmod(openflow.GroupAdd, openflow.GroupTypeAll, 0xffffff01), openflow.ErrGroupModFailed, openflow.GMFCInvalidGroup},
		{"indirect two buckets", gmod(openflow.GroupAdd, openflow.GroupTypeIndirect, 2, bucket(out(1)...), bucket(out(2)...)), openflow.ErrGroupModFailed, openflow.GMFCBadBucket},
		{"ff without watch", gmod(openflow.GroupAdd, openflow.GroupTypeFastFailover, 2, bucket(out(1)...)), openflow.ErrGroupModFailed, openflow.GMFCBadWatch},
		{"ff", gmod(openflow.GroupAdd, openflow.GroupTypeFastFailover, 2, ff), 0, 0},
		{"chain", gmod(openflow.GroupAdd, openflow.GroupTypeIndirect, 3, bucket(openflow.Action{Type: openflow.ActGroup, Group: 1})), 0, 0},
		{"loop", gmod(openflow.GroupModify, openflow.GroupTypeIndirect, 1, bucket(openflow.Action{Type: openflow.ActGroup, Group: 3})), openflow.ErrGroupModFailed, openflow.GMFCLoop},
		{"bucket missing group", gmod(openflow.GroupAdd, openflow.GroupTypeAll, 4, bucket(openflow.Action{Type: openflow.ActGroup, Group: 8})), openflow.ErrBadAction, openflow.BACBadOutGroup},
		{"bucket bad port", gmod(openflow.GroupAdd, openflow.GroupTypeAll, 4, bucket(out(0xffffff10)...)), openflow.ErrBadAction, openflow.BACBadOutPort},
		{"flow to group", groupFlow(1), 0, 0},
		{"flow to missing group", groupFlow(7), openflow.ErrBadAction, openflow.BACBadOutGroup},
		{"delete absent", gmod(openflow.GroupDelete, 0, 77), 0, 0},
	}
	var flowChanges []ofproto.FlowChanges
	groupChanges := 0
	var mu sync.Mutex
	tb := newTestBed(t, Config{
		OnFlowChanges:  func(ch ofproto.FlowChanges) { mu.Lock(); flowChanges = append(flowChanges, ch); mu.Unlock() },
		OnGroupChanges: func() { mu.Lock(); groupChanges++; mu.Unlock() },
	})
	c := tb.dial(t, openflow.Version13)
	wantChanges := 0
	for _, tc := range tests {
		c.ctx = tc.name
		xid := c.write(tc.msg)
		if tc.errType != 0 {
			c.expectError(xid, tc.errType, tc.errCode)
			continue
		}
		if _, ok := tc.msg.(*openflow.GroupMod); ok {
			wantChanges++
		}
		bx := c.write(&openflow.BarrierRequest{})
		if m, h := c.recvReply(); h.Xid != bx {
			t.Fatalf("%s: got %T xid %d, want the barrier reply", tc.name, m, h.Xid)
		}
	}
	mu.Lock()
	if groupChanges != wantChanges {
		t.Errorf("OnGroupChanges called %d times, want %d", groupChanges, wantChanges)
	}
	mu.Unlock()

	// Group desc lists the groups as they are now.
	want := []openflow.Group{
		{GroupType: openflow.GroupTypeSelect, ID: 1, Buckets: []openflow.Bucket{bucket(out(2)...)}},
		{GroupType: openflow.GroupTypeFastFailover, ID: 2, Buckets: []openflow.Bucket{ff}},
		{GroupType: openflow.GroupTypeIndirect, ID: 3, Buckets: []openflow.Bucket{bucket(openflow.Action{Type: openflow.ActGroup, Group: 1})}},
	}
	c.write(&openflow.MultipartRequest{MPType: openflow.MPGroupDesc})
	m, _ := c.recvReply()
	if diff := cmp.Diff(want, m.(*openflow.MultipartReply).GroupDescs); diff != "" {
		t.Errorf("group desc (-want +got):\n%s", diff)
	}

	// Deleting group 1 removes the flow using it; the daemon hears of it.
	c.write(gmod(openflow.GroupDelete, 0, 1))
	c.write(&openflow.BarrierRequest{})
	c.recvReply()
	mu.Lock()
	if n := len(flowChanges); n == 0 || len(flowChanges[n-1].Removed) != 1 {
		t.Errorf("OnFlowChanges after group delete: %+v, want one flow removed", flowChanges)
	}
	mu.Unlock()
	if n := len(tb.br.DumpFlows(openflow.FlowMod{Table: openflow.TableAll, OutPort: openflow.PortAny, OutGroup: 1})); n != 0 {
		t.Errorf("%d flows still use deleted group 1", n)
	}
}

// groupStatsEntry is a decoded struct ofp_group_stats.
type groupStatsEntry struct {
	ID, RefCount   uint32
	Packets, Bytes uint64
	Buckets        [][2]uint64
}

func decodeGroupStats(t *testing.T, b []byte) []groupStatsEntry {
	t.Helper()
	var out []groupStatsEntry
	for len(b) > 0 {
		n := int(binary.BigEndian.Uint16(b))
		if n < groupStatsLen || n > len(b) || (n-groupStatsLen)%16 != 0 {
			t.Fatalf("group stats entry length %d of %d bytes", n, len(b))
		}
		e := groupStatsEntry{ID: be32(b[4:]), RefCount: be32(b[8:]),
			Packets: binary.BigEndian.Uint64(b[16:]), Bytes: binary.BigEndian.Uint64(b[24:])}
		for o := groupStatsLen; o < n; o += 16 {
			e.Buckets = append(e.Buckets, [2]uint64{binary.BigEndian.Uint64(b[o:]), binary.BigEndian.Uint64(b[o+8:])})
		}
		out = append(out, e)
		b = b[n:]
	}
	return out
}

func TestGroupStatsAndFeaturesReplies(t *testing.T) {
	tb := newTestBed(t, Config{})
	if _, err := tb.br.GroupMod(*gmod(openflow.GroupAdd, openflow.GroupTypeAll, 5, bucket(out(1)...), bucket(out(2)...))); err != nil {
		t.Fatal(err)
	}
	if _, err := tb.br.GroupMod(*gmod(openflow.GroupAdd, openflow.GroupTypeIndirect, 6, bucket(out(2)...))); err != nil {
		t.Fatal(err)
	}
	if _, err := tb.br.FlowMods([]openflow.FlowMod{*groupFlow(5)}); err != nil {
		t.Fatal(err)
	}
	frame := []byte("\xff\xff\xff\xff\xff\xff\x02\x00\x00\x00\x00\x09\x08\x06" + strings.Repeat("\x00", 46))
	tb.br.Inject(openflow.PortController, frame)
	n := uint64(len(frame))
	c := tb.dial(t, openflow.Version13)
	tests := []struct {
		group uint32
		want  []groupStatsEntry
	}{
		{openflow.GroupAll, []groupStatsEntry{{5, 1, 1, n, [][2]uint64{{1, n}, {1, n}}}, {6, 0, 0, 0, [][2]uint64{{0, 0}}}}},
		{6, []groupStatsEntry{{6, 0, 0, 0, [][2]uint64{{0, 0}}}}},
		{9, nil},
	}
	for _, tc := range tests {
		c.write(&openflow.MultipartRequest{MPType: openflow.MPGroup, Group: tc.group})
		m, _ := c.recvReply()
		r := m.(*openflow.MultipartReply)
		if r.MPType != openflow.MPGroup {
			t.Fatalf("reply type %d, want group stats", r.MPType)
		}
		if diff := cmp.Diff(tc.want, decodeGroupStats(t, r.Body)); diff != "" {
			t.Errorf("group stats for %#x (-want +got):\n%s", tc.group, diff)
		}
	}
	c.write(&openflow.MultipartRequest{MPType: openflow.MPGroupFeatures})
	m, _ := c.recvReply()
	if diff := cmp.Diff(tb.br.GroupFeatures(), m.(*openflow.MultipartReply).GroupFeatures); diff != "" {
		t.Errorf("group features (-want +got):\n%s", diff)
	}
	// OpenFlow 1.0 has no group statistics.
	c10 := tb.dial(t, openflow.Version10)
	xid := c10.write(&openflow.MultipartRequest{MPType: openflow.MPGroupDesc})
	c10.expectError(xid, openflow.ErrBadRequest, openflow.BRCBadMultipart)
}

var groupDurationRE = regexp.MustCompile(`duration=[0-9.]+s`)

// TestOvsOfctlGroups drives groups with the real ovs-ofctl.
func TestOvsOfctlGroups(t *testing.T) {
	hosttest.Need(t, "ovs-ofctl", "openvswitch-common")
	changes := 0
	var mu sync.Mutex
	tb := newTestBed(t, Config{OnGroupChanges: func() { mu.Lock(); changes++; mu.Unlock() }})
	run := func(args ...string) string {
		t.Helper()
		out, err := ofctl(t, tb.sock, "OpenFlow13", args...)
		if err != nil {
			t.Fatalf("ovs-ofctl %v: %v\n%s", args, err, out)
		}
		return groupDurationRE.ReplaceAllString(out, "duration=X")
	}
	check := func(what string, got []string, want ...string) {
		t.Helper()
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", what, diff)
		}
	}
	run("add-group", "group_id=1,type=all,bucket=output:1,bucket=output:2")
	run("add-group", "group_id=2,type=select,bucket=weight:3,actions=output:1,bucket=weight:1,actions=output:2")
	run("add-group", "group_id=3,type=fast_failover,bucket=watch_port:1,actions=output:1,bucket=watch_port:2,actions=output:2")
	out, err := ofctl(t, tb.sock, "OpenFlow13", "add-group", "group_id=1,type=all,bucket=output:1")
	if err == nil || !strings.Contains(out, "OFPGMFC_GROUP_EXISTS") {
		t.Errorf("add-group of an existing group: err %v, output %q", err, out)
	}
	check("dump-groups", ofctlLines(run("dump-groups")),
		"group_id=1,type=all,bucket=actions=output:1,bucket=actions=output:2",
		"group_id=2,type=select,bucket=weight:3,actions=output:1,bucket=actions=output:2",
		"group_id=3,type=ff,bucket=watch_port:1,actions=output:1,bucket=watch_port:2,actions=output:2")
	run("add-flow", "priority=100,actions=group:1")
	out, err = ofctl(t, tb.sock, "OpenFlow13", "add-flow", "priority=90,actions=group:9")
	if err == nil || !strings.Contains(out, "OFPBAC_BAD_OUT_GROUP") {
		t.Errorf("add-flow to a missing group: err %v, output %q", err, out)
	}
	// A packet from the controller goes through the flow to the group
	// and out of both ports.
	run("packet-out", "in_port=controller packet=ffffffffffff020000000001080600010800060400010200000000010a0000010000000000000a000002 actions=table")
	check("dump-group-stats", ofctlLines(run("dump-group-stats")),
		"group_id=1,duration=X,ref_count=1,packet_count=1,byte_count=42,bucket0:packet_count=1,byte_count=42,bucket1:packet_count=1,byte_count=42",
		"group_id=2,duration=X,ref_count=0,packet_count=0,byte_count=0,bucket0:packet_count=0,byte_count=0,bucket1:packet_count=0,byte_count=0",
		"group_id=3,duration=X,ref_count=0,packet_count=0,byte_count=0,bucket0:packet_count=0,byte_count=0,bucket1:packet_count=0,byte_count=0")
	if ports := run("dump-ports"); strings.Count(ports, "tx pkts=1, bytes=42,") != 2 {
		t.Errorf("dump-ports: want one 42-byte frame sent on each port:\n%s", ports)
	}
	if f := run("dump-group-features"); !strings.Contains(f, "Types:  0xf") || !strings.Contains(f, "select group:\n       max_groups=0xffffff00") {
		t.Errorf("dump-group-features:\n%s", f)
	}
	run("del-groups", "group_id=1")
	check("dump-flows after deleting group 1", ofctlLines(run("dump-flows")),
		"cookie=0x0, duration=X, table=0, n_packets=0, n_bytes=0, priority=0 actions=NORMAL")
	run("del-groups")
	check("dump-groups after del-groups", ofctlLines(run("dump-groups")))
	mu.Lock()
	defer mu.Unlock()
	if changes != 5 { // three adds, two deletes
		t.Errorf("OnGroupChanges called %d times, want 5", changes)
	}
}
