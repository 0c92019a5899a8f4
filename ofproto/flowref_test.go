package ofproto

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"tapestry/ofctl"
	"tapestry/openflow"
)

// refText is the stored text of a flow reported by reference.
func refText(r FlowRef) string { fm := r.FlowMod(); return ofctl.FormatFlowMod(&fm, nil) }

// statsText is the stored text of a flow reported by copy, the oracle.
func statsText(fs openflow.FlowStats) string {
	fm := openflow.FlowMod{Command: openflow.FlowAdd, Table: fs.Table, Priority: fs.Priority, Match: fs.Match,
		Cookie: fs.Cookie, IdleTimeout: fs.IdleTimeout, HardTimeout: fs.HardTimeout, Flags: fs.Flags,
		Importance: fs.Importance, OutPort: openflow.PortAny, OutGroup: openflow.GroupAny,
		BufferID: openflow.NoBuffer, Actions: fs.Actions}
	return ofctl.FormatFlowMod(&fm, nil)
}

// TestRecordFlowMods checks that RecordFlowMods reports by reference
// exactly the flows FlowMods reports by copy, for the same batches on two
// bridges, and that a reference keeps describing the flow as the batch left
// it after a later modify changes the flow.
func TestRecordFlowMods(t *testing.T) {
	batches := [][]string{
		{"priority=7,in_port=1 actions=output:2", "table=1,priority=8,ip,nw_dst=10.0.0.0/8 actions=output:1"},
		{"cookie=0x5,idle_timeout=30,hard_timeout=60,send_flow_rem,priority=9,tcp,tp_dst=80 actions=mod_nw_tos:4,output:1"},
		{"priority=7,in_port=1 actions=output:3", "priority=7,in_port=1 actions=output:4"}, // replaced twice: one flow
		{"modify: in_port=1 actions=output:5"},
	}
	copies, refs := New(Config{Name: "c"}), New(Config{Name: "r"})
	var kept []FlowRef
	for i, lines := range batches {
		var fms []openflow.FlowMod
		for _, l := range lines {
			cmd := openflow.FlowAdd
			if len(l) > 8 && l[:8] == "modify: " {
				l, cmd = l[8:], openflow.FlowModify
			}
			fms = append(fms, mod(t, cmd, l))
		}
		want, err := copies.FlowMods(fms)
		if err != nil {
			t.Fatal(err)
		}
		got, err := refs.RecordFlowMods(fms)
		if err != nil {
			t.Fatal(err)
		}
		var wantText, gotText []string
		for _, fs := range want.Added {
			wantText = append(wantText, statsText(fs))
		}
		for _, r := range got.AddedRefs {
			gotText = append(gotText, refText(r))
		}
		if diff := cmp.Diff(wantText, gotText); diff != "" {
			t.Errorf("batch %d: RecordFlowMods refs (-FlowMods copies +got):\n%s", i, diff)
		}
		if got.Added != nil || got.NAdded != want.NAdded {
			t.Errorf("batch %d: RecordFlowMods Added %d, NAdded %d; want none and %d", i, len(got.Added), got.NAdded, want.NAdded)
		}
		if i == 2 {
			kept = got.AddedRefs
		}
	}
	// A delete of everything: RemovedRefs names every flow FlowMods
	// reports in Removed; Removed keeps only the send_flow_rem one.
	del := []openflow.FlowMod{mod(t, openflow.FlowDelete, "")}
	want, err := copies.FlowMods(del)
	if err != nil {
		t.Fatal(err)
	}
	got, err := refs.RecordFlowMods(del)
	if err != nil {
		t.Fatal(err)
	}
	var wantText, gotText []string
	for _, fs := range want.Removed {
		wantText = append(wantText, statsText(fs))
	}
	for _, r := range got.RemovedRefs {
		gotText = append(gotText, refText(r))
	}
	if diff := cmp.Diff(wantText, gotText); diff != "" {
		t.Errorf("delete: RecordFlowMods RemovedRefs (-FlowMods Removed +got):\n%s", diff)
	}
	if got.NRemoved != 4 || len(got.Removed) != 1 || got.Removed[0].Priority != 9 {
		t.Errorf("delete: NRemoved %d, Removed %+v; want 4 and the send_flow_rem flow", got.NRemoved, got.Removed)
	}
	// Batch 3 modified the flow batch 2 reported: its ref still says
	// output:4.
	if got, want := refText(kept[0]), "priority=7,in_port=1,actions=output:4"; got != want {
		t.Errorf("ref after a later modify = %q, want %q", got, want)
	}
}
