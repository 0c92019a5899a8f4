package api

import (
	"context"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"tapestry/openflow"
)

// fakeGroupReqs records, per fake backend, the group requests it got
// (fakeBackend's fields belong to api_test.go).
var fakeGroupReqs struct {
	sync.Mutex
	m map[*fakeBackend][]GroupRequest
}

func (f *fakeBackend) Groups(_ context.Context, br string, req GroupRequest) (GroupResult, error) {
	if br != "br0" {
		return GroupResult{}, NotFound("%s is not a bridge or a socket", br)
	}
	fakeGroupReqs.Lock()
	defer fakeGroupReqs.Unlock()
	if fakeGroupReqs.m == nil {
		fakeGroupReqs.m = map[*fakeBackend][]GroupRequest{}
	}
	fakeGroupReqs.m[f] = append(fakeGroupReqs.m[f], req)
	switch req.Op {
	case GroupOpDump:
		return GroupResult{Lines: []string{"group_id=1,type=all,bucket=actions=output:1"}}, nil
	case GroupOpStats:
		return GroupResult{Stats: []openflow.GroupStats{{ID: 1, RefCount: 2, Buckets: [][2]uint64{{3, 4}}}}}, nil
	case GroupOpFeatures:
		return GroupResult{Features: &openflow.GroupFeatures{Types: 0xf, MaxGroups: [4]uint32{1, 2, 3, 4}}}, nil
	}
	return GroupResult{RemovedFlows: len(req.Lines)}, nil
}

func TestGroupRoundTrips(t *testing.T) {
	fb := &fakeBackend{}
	c := startServer(t, fb)
	ctx := context.Background()
	res, err := c.GroupMods(ctx, "br0", GroupCmdAdd, "g.txt", 1, []byte("# groups\ngroup_id=1,type=all,bucket=output:1\n\ngroup_id=2,type=all\n"))
	if err != nil || res.RemovedFlows != 2 {
		t.Fatalf("GroupMods = %+v, %v", res, err)
	}
	if _, err := c.GroupMods(ctx, "br0", GroupCmdDelete, "", 0, nil); err != nil {
		t.Fatalf("GroupMods delete: %v", err)
	}
	lines, err := c.DumpGroups(ctx, "br0", true, 1)
	if err != nil || len(lines) != 1 {
		t.Fatalf("DumpGroups = %q, %v", lines, err)
	}
	stats, err := c.GroupStats(ctx, "br0", "group_id=1")
	if diff := cmp.Diff([]openflow.GroupStats{{ID: 1, RefCount: 2, Buckets: [][2]uint64{{3, 4}}}}, stats); err != nil || diff != "" {
		t.Fatalf("GroupStats: %v (-want +got):\n%s", err, diff)
	}
	gf, err := c.GroupFeatures(ctx, "br0")
	if err != nil || gf.MaxGroups != [4]uint32{1, 2, 3, 4} {
		t.Fatalf("GroupFeatures = %+v, %v", gf, err)
	}
	want := []GroupRequest{
		{Op: GroupOpMod, Command: GroupCmdAdd, Source: "g.txt", Version: 1, Lines: []FlowLine{{No: 2, Text: "group_id=1,type=all,bucket=output:1"}, {No: 4, Text: "group_id=2,type=all"}}},
		{Op: GroupOpMod, Command: GroupCmdDelete, Lines: []FlowLine{{No: 1}}},
		{Op: GroupOpDump, Names: true, Version: 1},
		{Op: GroupOpStats, Group: "group_id=1"},
		{Op: GroupOpFeatures},
	}
	fakeGroupReqs.Lock()
	got := fakeGroupReqs.m[fb]
	fakeGroupReqs.Unlock()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
	if _, err := c.DumpGroups(ctx, "nobr", false, 0); err == nil || err.Error() != "nobr is not a bridge or a socket" || StatusOf(err) != 404 {
		t.Errorf("DumpGroups(nobr) = %v", err)
	}
}

func TestDecodeGroupModRequest(t *testing.T) {
	tests := []struct {
		cmd, body string
		lines     int
		err       string
	}{
		{GroupCmdAdd, "group_id=1,type=all\n", 1, ""},
		{GroupCmdDelete, "", 1, ""},
		{GroupCmdAdd, "", 0, ""},
		{"", "x", 0, "missing group command"},
		{"frob", "x", 0, `unknown group command "frob"`},
	}
	for _, tt := range tests {
		req, err := DecodeGroupModRequest(tt.cmd, []byte(tt.body))
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("DecodeGroupModRequest(%q, %q) = %v, want %q", tt.cmd, tt.body, err, tt.err)
			}
			continue
		}
		if err != nil || len(req.Lines) != tt.lines {
			t.Errorf("DecodeGroupModRequest(%q, %q) = %+v, %v; want %d lines", tt.cmd, tt.body, req, err, tt.lines)
		}
	}
}
