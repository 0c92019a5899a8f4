package ofproto

import (
	"errors"
	"testing"

	"tapestry/openflow"
)

// TestCloneGroupChecks checks group actions inside clone(...) as Open
// vSwitch 3.1 checks them in a flow (ovs-ofctl add-flow br
// "actions=clone(group:5)" without group 5: OFPBAC_BAD_OUT_GROUP), and as
// tapestry checks a bucket's group:N (the group must exist, no loop).
func TestCloneGroupChecks(t *testing.T) {
	tests := []struct {
		name  string
		flow  string // added to a bridge holding group 5 -> output:1
		group *openflow.GroupMod
		want  error // nil: accepted
	}{
		{"flow clone of a missing group", "actions=clone(group:9)", nil, ErrBadOutGroup},
		{"flow clone in clone of a missing group", "actions=clone(output:1,clone(group:9))", nil, ErrBadOutGroup},
		{"flow clone of a group", "actions=clone(group:5),output:2", nil, nil},
		{"flow write_actions of a missing group", "actions=write_actions(group:9)", nil, ErrBadOutGroup},
		{"bucket clone of a missing group", "", ptr(addGroup(gAll, 6, bkt("clone(group:9)"))), ErrBadOutGroup},
		{"bucket clone of a group", "", ptr(addGroup(gAll, 6, bkt("clone(group:5)"))), nil},
		{"bucket clone of itself", "", ptr(modGroup(gAll, 5, bkt("clone(group:5)"))), ErrGroupLoop},
		{"loop through a clone", "", ptr(modGroup(gAll, 5, bkt("clone(output:2)"), bkt("group:7"))), ErrGroupLoop},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tb := newTestBridge(t, 0)
			tb.groups(addGroup(gAll, 5, bkt("output:1")), addGroup(gAll, 7, bkt("clone(group:5)")))
			var err error
			if tc.flow != "" {
				_, err = tb.FlowMods([]openflow.FlowMod{mod(t, openflow.FlowAdd, tc.flow)})
			} else {
				_, err = tb.GroupMod(*tc.group)
			}
			if !errors.Is(err, tc.want) || (err == nil) != (tc.want == nil) {
				t.Fatalf("%s: error = %v, want %v", tc.name, err, tc.want)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// TestCloneGroupRefs checks that a flow naming a group inside clone
// counts in the group's ref_count (Open vSwitch 3.1: "actions=group:5" and
// "actions=clone(group:5)" make ref_count=2) and goes with the group when
// it is deleted.
func TestCloneGroupRefs(t *testing.T) {
	tb := newTestBridge(t, 0)
	tb.groups(addGroup(gAll, 5, bkt("output:1")))
	tb.flows("priority=1,actions=group:5", "priority=2,actions=clone(group:5)", "priority=3,actions=output:1")
	if gs := tb.GroupStats(5); len(gs) != 1 || gs[0].RefCount != 2 {
		t.Fatalf("GroupStats(5) = %+v, want ref_count 2", gs)
	}
	ch, err := tb.GroupMod(delGroup(5))
	if err != nil || len(ch.Removed) != 2 {
		t.Fatalf("GroupMod(delete 5) = %d removed, %v; want 2", len(ch.Removed), err)
	}
	if got := dump(tb.Bridge); len(got) != 1 || got[0] != "table=0,priority=3 actions=output:1" {
		t.Fatalf("after deleting group 5: %q, want only the output:1 flow", got)
	}
}
