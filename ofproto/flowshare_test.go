package ofproto

import (
	"fmt"
	"reflect"
	"testing"

	"tapestry/openflow"
)

// TestSameActionCoversEveryField: sameAction compares every field of
// openflow.Action by name; a new field would make different lists look
// the same and flows share the wrong actions, so this fails until
// sameAction (and this count) learn about it.
func TestSameActionCoversEveryField(t *testing.T) {
	if n := reflect.TypeOf(openflow.Action{}).NumField(); n != 16 {
		t.Fatalf("openflow.Action has %d fields; sameAction compares 16", n)
	}
	a := openflow.Action{Type: openflow.ActOutput, Port: 2}
	for _, b := range []openflow.Action{
		{Type: openflow.ActOutput, Port: 3},
		{Type: openflow.ActOutput, Port: 2, MaxLen: 1},
		{Type: openflow.ActOutput, Port: 2, Note: []byte{1}},
	} {
		if sameAction(&a, &b) {
			t.Errorf("%+v and %+v compare the same", a, b)
		}
	}
}

// TestBulkAddsShareActionLists: a bulk load whose flows have equal actions
// stores the list once; flows with other actions, and a later modify of
// one flow, leave every other flow's actions as they were.
func TestBulkAddsShareActionLists(t *testing.T) {
	tb := newTestBridge(t, 3)
	var lines []string
	for i := 0; i < 64; i++ {
		act := "output:2"
		if i%16 == 15 {
			act = "output:3"
		}
		lines = append(lines, fmt.Sprintf("priority=%d,ip,nw_dst=10.0.0.%d,actions=%s", 100+i, i, act))
	}
	tb.flows(lines...)
	lists := map[*[]openflow.Action]int{}
	tb.mu.Lock()
	all := tb.selectFlows(&openflow.FlowMod{Table: openflow.TableAll}, false, false)
	tb.mu.Unlock()
	if len(all) != 64 {
		t.Fatalf("%d flows, want 64", len(all))
	}
	for _, f := range all {
		lists[f.acts.Load()]++
	}
	// One list of each kind.
	if len(lists) != 2 {
		t.Fatalf("%d distinct action lists for 64 flows with two kinds of actions", len(lists))
	}
	mod := parseFlow(t, "ip,nw_dst=10.0.0.1,actions=drop", tb.Bridge)
	mod.Command = openflow.FlowModifyStrict
	mod.Priority = 101
	if _, err := tb.FlowMods([]openflow.FlowMod{mod}); err != nil {
		t.Fatal(err)
	}
	for _, fs := range tb.DumpFlows(openflow.FlowMod{Table: openflow.TableAll, OutPort: openflow.PortAny, OutGroup: openflow.GroupAny}) {
		want := "output:2"
		switch {
		case fs.Priority == 101:
			want = "drop"
		case (fs.Priority-100)%16 == 15:
			want = "output:3"
		}
		got := "drop"
		if len(fs.Actions) == 1 {
			got = fmt.Sprintf("output:%d", fs.Actions[0].Port)
		}
		if got != want {
			t.Errorf("priority %d: actions %s, want %s", fs.Priority, got, want)
		}
	}
}
