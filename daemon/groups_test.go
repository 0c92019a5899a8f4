package daemon

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"tapestry/api"
	"tapestry/ofconn"
	"tapestry/openflow"
	"tapestry/store"
)

func groupMods(tb testing.TB, d *Daemon, br, command, source, text string) (api.GroupResult, error) {
	tb.Helper()
	req, err := api.DecodeGroupModRequest(command, []byte(text))
	if err != nil {
		tb.Fatal(err)
	}
	req.Source = source
	return d.Groups(context.Background(), br, req)
}

func mustGroupMods(tb testing.TB, d *Daemon, br, command, text string) api.GroupResult {
	tb.Helper()
	res, err := groupMods(tb, d, br, command, "", text)
	if err != nil {
		tb.Fatalf("Groups(%s, %q): %v", command, text, err)
	}
	return res
}

func dumpGroups(tb testing.TB, d *Daemon, br string) []string {
	tb.Helper()
	res, err := d.Groups(context.Background(), br, api.GroupRequest{Op: api.GroupOpDump})
	if err != nil {
		tb.Fatalf("dump groups: %v", err)
	}
	return res.Lines
}

// storedGroups returns the group bucket of br: id -> text.
func storedGroups(tb testing.TB, d *Daemon, br string) map[string]string {
	tb.Helper()
	m := map[string]string{}
	d.st.View(func(tx *store.Tx) error {
		return tx.ForEach(groupsPath(br), func(k string, v []byte) error { m[k] = string(v); return nil })
	})
	return m
}

func TestGroupsAddModifyDeleteRestart(t *testing.T) {
	dir := t.TempDir()
	dev := &MemDevices{}
	d := newTestDaemon(t, dir, dev)
	vsctl(t, d, cmd("add-br", "br0"), cmd("add-port", "br0", "p1"), cmd("add-port", "br0", "p2"))
	// Group 3 chains to group 20: in the store "20" sorts before "3",
	// and the restart below must still add 20 first.
	mustGroupMods(t, d, "br0", api.GroupCmdAdd, "group_id=1,type=all,bucket=output:p1,bucket=output:2\n"+
		"group_id=20,type=select,bucket=weight:5,output:1\n# comment\ngroup_id=3,type=indirect,bucket=group:20\n")
	want := []string{
		"group_id=1,type=all,bucket=actions=output:1,bucket=actions=output:2",
		"group_id=3,type=indirect,bucket=actions=group:20",
		"group_id=20,type=select,bucket=weight:5,actions=output:1",
	}
	if diff := cmp.Diff(want, dumpGroups(t, d, "br0")); diff != "" {
		t.Errorf("dump after add (-want +got):\n%s", diff)
	}
	addFlows(t, d, "br0", api.FlowCmdAdd, "in_port=1,actions=group:1\nin_port=2,actions=group:3\n")

	// Modify, then restart: groups and the flows that use them survive.
	mustGroupMods(t, d, "br0", api.GroupCmdModify, "group_id=1,type=all,bucket=output:2")
	want[0] = "group_id=1,type=all,bucket=actions=output:2"
	d.Close()
	d = newTestDaemon(t, dir, dev)
	if diff := cmp.Diff(want, dumpGroups(t, d, "br0")); diff != "" {
		t.Errorf("dump after restart (-want +got):\n%s", diff)
	}
	flows := dumpFlows(t, d, "br0", api.DumpFlowsRequest{NoStats: true})
	for _, f := range []string{"in_port=1 actions=group:1", "in_port=2 actions=group:3"} {
		if !strings.Contains(flows, f) {
			t.Errorf("after restart, flow %q missing:\n%s", f, flows)
		}
	}

	// Deleting a group deletes its flows, in the bridge and in the store.
	if res := mustGroupMods(t, d, "br0", api.GroupCmdDelete, "group_id=1"); res.RemovedFlows != 1 {
		t.Errorf("del-groups group_id=1 removed %d flows, want 1", res.RemovedFlows)
	}
	if flows := dumpFlows(t, d, "br0", api.DumpFlowsRequest{NoStats: true}); strings.Contains(flows, "group:1") {
		t.Errorf("flow of a deleted group still there:\n%s", flows)
	}
	d.st.View(func(tx *store.Tx) error {
		return tx.ForEach(flowsPath("br0"), func(_ string, v []byte) error {
			if strings.HasSuffix(string(v), "actions=group:1") {
				t.Errorf("store still holds %q", v)
			}
			return nil
		})
	})
	if diff := cmp.Diff(map[string]string{
		"3":  "group_id=3,type=indirect,bucket=actions=group:20",
		"20": "group_id=20,type=select,bucket=weight:5,actions=output:1",
	}, storedGroups(t, d, "br0")); diff != "" {
		t.Errorf("store after delete (-want +got):\n%s", diff)
	}
	mustGroupMods(t, d, "br0", api.GroupCmdDelete, "")
	if got, st := dumpGroups(t, d, "br0"), storedGroups(t, d, "br0"); len(got) != 0 || len(st) != 0 {
		t.Errorf("after del-groups: bridge %q, store %q", got, st)
	}
}

func TestGroupErrorsRejectBatch(t *testing.T) {
	d := newTestDaemon(t, t.TempDir(), &MemDevices{})
	vsctl(t, d, cmd("add-br", "br0"))
	mustGroupMods(t, d, "br0", api.GroupCmdAdd, "group_id=1,type=all,bucket=output:1")
	tests := []struct{ cmd, source, text, want string }{
		{api.GroupCmdAdd, "g.txt", "group_id=5,type=all\ngroup_id=6\n", "g.txt:2: must specify a type"},
		{api.GroupCmdAdd, "", "group_id=1,type=all,bucket=frob", `unknown action "frob"`},
		{api.GroupCmdAdd, "", "group_id=5,type=all\ngroup_id=1,type=all,bucket=output:1",
			"OFPT_ERROR (OF1.3) (xid=0x8): OFPGMFC_GROUP_EXISTS\nOFPT_GROUP_MOD (OF1.3) (xid=0x8):\n ADD group_id=1,type=all,bucket=actions=output:1"},
		{api.GroupCmdModify, "", "group_id=5,type=all,bucket=output:1",
			"OFPT_ERROR (OF1.3) (xid=0x6): OFPGMFC_UNKNOWN_GROUP\nOFPT_GROUP_MOD (OF1.3) (xid=0x6):\n MOD group_id=5,type=all,bucket=actions=output:1"},
		// A delete then a failing add: the deleted group comes back.
		{api.GroupCmdAdd, "", "group_id=9,type=all,bucket=group:1\ngroup_id=1,type=all", "OFPGMFC_GROUP_EXISTS"},
		{api.GroupCmdDelete, "", "group_id=1,type=all", "type is not needed"},
	}
	for _, tt := range tests {
		_, err := groupMods(t, d, "br0", tt.cmd, tt.source, tt.text)
		if err == nil || !strings.Contains(err.Error(), tt.want) || api.StatusOf(err) != http.StatusBadRequest {
			t.Errorf("Groups(%s, %q) = %v, want %q", tt.cmd, tt.text, err, tt.want)
		}
	}
	want := []string{"group_id=1,type=all,bucket=actions=output:1"}
	if diff := cmp.Diff(want, dumpGroups(t, d, "br0")); diff != "" {
		t.Errorf("refused batches changed the groups (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]string{"1": want[0]}, storedGroups(t, d, "br0")); diff != "" {
		t.Errorf("store (-want +got):\n%s", diff)
	}
	if _, err := d.Groups(context.Background(), "nobr", api.GroupRequest{Op: api.GroupOpDump}); err == nil || err.Error() != "nobr is not a bridge or a socket" {
		t.Errorf("Groups on a missing bridge: %v", err)
	}
}

func TestGroupUndoRestoresDeletedFlows(t *testing.T) {
	d := newTestDaemon(t, t.TempDir(), &MemDevices{})
	vsctl(t, d, cmd("add-br", "br0"))
	mustGroupMods(t, d, "br0", api.GroupCmdAdd, "group_id=1,type=all,bucket=output:1")
	addFlows(t, d, "br0", api.FlowCmdAdd, "in_port=1,actions=group:1")
	before := dumpFlows(t, d, "br0", api.DumpFlowsRequest{NoStats: true})
	// del-groups then a modify of a missing group, in one request.
	req := api.GroupRequest{Op: api.GroupOpMod, Command: api.GroupCmdDelete, Lines: []api.FlowLine{{No: 1, Text: "group_id=1"}, {No: 2, Text: "group_id=0xffffff01"}}}
	if _, err := d.Groups(context.Background(), "br0", req); err == nil {
		t.Fatal("a delete of a reserved group id was accepted")
	}
	if after := dumpFlows(t, d, "br0", api.DumpFlowsRequest{NoStats: true}); after != before {
		t.Errorf("flows after a refused delete batch:\n%s\nwant:\n%s", after, before)
	}
	if got := dumpGroups(t, d, "br0"); len(got) != 1 {
		t.Errorf("groups after a refused delete batch: %q", got)
	}
}

func TestFlowNamingMissingGroup(t *testing.T) {
	d := newTestDaemon(t, t.TempDir(), &MemDevices{})
	vsctl(t, d, cmd("add-br", "br0"))
	req, _ := api.DecodeFlowModRequest(api.FlowCmdAdd, []byte("actions=group:42"))
	_, err := d.FlowMods(context.Background(), "br0", "", req)
	if want := "OFPT_ERROR (OF1.3) (xid=0x6): OFPBAC_BAD_OUT_GROUP\nOFPT_FLOW_MOD (OF1.3) (xid=0x6): ADD actions=group:42"; err == nil || err.Error() != want {
		t.Errorf("flow naming a missing group: %v", err)
	}
}

func TestGroupStatsAndFeatures(t *testing.T) {
	d := newTestDaemon(t, t.TempDir(), &MemDevices{})
	vsctl(t, d, cmd("add-br", "br0"))
	mustGroupMods(t, d, "br0", api.GroupCmdAdd, "group_id=1,type=all,bucket=output:1,bucket=output:2\ngroup_id=2,type=all")
	addFlows(t, d, "br0", api.FlowCmdAdd, "in_port=1,actions=group:1\nin_port=2,actions=group:1")
	res, err := d.Groups(context.Background(), "br0", api.GroupRequest{Op: api.GroupOpStats, Group: "group_id=1"})
	if err != nil || len(res.Stats) != 1 || res.Stats[0].RefCount != 2 || len(res.Stats[0].Buckets) != 2 {
		t.Errorf("group stats of group 1: %+v, %v", res.Stats, err)
	}
	if res, err := d.Groups(context.Background(), "br0", api.GroupRequest{Op: api.GroupOpStats}); err != nil || len(res.Stats) != 2 {
		t.Errorf("group stats of all: %+v, %v", res.Stats, err)
	}
	if _, err := d.Groups(context.Background(), "br0", api.GroupRequest{Op: api.GroupOpStats, Group: "x"}); err == nil || err.Error() != "unknown keyword x" {
		t.Errorf("group stats of x: %v", err)
	}
	res, err = d.Groups(context.Background(), "br0", api.GroupRequest{Op: api.GroupOpFeatures})
	if err != nil || res.Features == nil || res.Features.Types != 0xf {
		t.Errorf("group features: %+v, %v", res.Features, err)
	}
}

// TestGroupsOverOpenFlowAreStored: groups an OpenFlow connection sets (as
// ovs-ofctl or a controller would, through the management socket) are
// stored and come back after a restart, deletes included.
func TestGroupsOverOpenFlowAreStored(t *testing.T) {
	dir := t.TempDir()
	dev := &MemDevices{}
	d := newTestDaemon(t, dir, dev)
	vsctl(t, d, cmd("add-br", "br0"))
	ctx := context.Background()
	conn, err := ofconn.Dial(ctx, "unix:"+MgmtPath(d.cfg.RunDir, "br0"), ofconn.Bitmap(openflow.Version13))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, gm := range []openflow.GroupMod{
		{Command: openflow.GroupAdd, Group: openflow.Group{ID: 7, Buckets: []openflow.Bucket{{WatchPort: openflow.PortAny, WatchGroup: openflow.GroupAny,
			Actions: []openflow.Action{{Type: openflow.ActOutput, Port: openflow.PortLocal}}}}}},
		{Command: openflow.GroupAdd, Group: openflow.Group{ID: 8}},
		{Command: openflow.GroupDelete, Group: openflow.Group{ID: 8}},
	} {
		if _, err := conn.Transact(ctx, &gm); err != nil {
			t.Fatalf("group mod %+v: %v", gm, err)
		}
	}
	want := map[string]string{"7": "group_id=7,type=all,bucket=actions=LOCAL"}
	if diff := cmp.Diff(want, storedGroups(t, d, "br0")); diff != "" {
		t.Errorf("store after OpenFlow group mods (-want +got):\n%s", diff)
	}
	d.Close()
	d = newTestDaemon(t, dir, dev)
	if diff := cmp.Diff([]string{want["7"]}, dumpGroups(t, d, "br0")); diff != "" {
		t.Errorf("groups after restart (-want +got):\n%s", diff)
	}
}
