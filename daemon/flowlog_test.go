package daemon

import (
	"fmt"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"tapestry/api"
	"tapestry/ofctl"
	"tapestry/ofproto"
	"tapestry/openflow"
	"tapestry/store"
)

// storedFlows returns the flow bucket of br: key -> stored text.
func storedFlows(tb testing.TB, d *Daemon, br string) map[string]string {
	tb.Helper()
	m := map[string]string{}
	err := d.st.View(func(tx *store.Tx) error {
		return tx.ForEach(flowsPath(br), func(k string, v []byte) error { m[k] = string(v); return nil })
	})
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

// wantFlowTexts returns the stored texts of the flows flowModStream adds
// for [first, first+n), plus the bridge's default flow.
func wantFlowTexts(ranges ...[2]int) []string {
	want := []string{defaultFlowText}
	for _, r := range ranges {
		for i := r[0]; i < r[0]+r[1]; i++ {
			want = append(want, fmt.Sprintf("priority=100,ip,nw_dst=10.%d.%d.%d,actions=output:2", i>>16, i>>8&255, i&255))
		}
	}
	return want
}

// values returns m's values.
func values(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// sorted returns a sorted copy of lines.
func sorted(lines []string) []string { return slices.Sorted(slices.Values(lines)) }

// TestOpenFlowFlowModsStored: 5,000 flows streamed over the management
// socket (as a controller pushes them, one message each, then a barrier),
// half of them deleted again over OpenFlow, then an API change: the store
// holds exactly the bridge's flows, and a restart brings all of them back.
func TestOpenFlowFlowModsStored(t *testing.T) {
	const n = 5000
	dir := t.TempDir()
	dev := &MemDevices{}
	d := newTestDaemon(t, dir, dev)
	vsctl(t, d, cmd("add-br", "br0"))
	nc, c := dialMgmt(t, d, "br0")
	sendStream(t, nc, c, flowModStream(t, openflow.FlowAdd, 0, n))
	sendStream(t, nc, c, flowModStream(t, openflow.FlowDeleteStrict, n/2, n/2))
	// An API change drains the flow log first: the store then holds every
	// OpenFlow change the barrier acknowledged, in the bridge's order.
	addFlows(t, d, "br0", api.FlowCmdAdd, "priority=100,ip,nw_dst=10.0.0.0,actions=output:3")
	want := wantFlowTexts([2]int{1, n/2 - 1})
	want = append(want, "priority=100,ip,nw_dst=10.0.0.0,actions=output:3")
	if diff := cmp.Diff(sorted(want), sorted(values(storedFlows(t, d, "br0")))); diff != "" {
		t.Errorf("store after OpenFlow and API changes (-want +got):\n%s", diff)
	}
	// More over OpenFlow, acknowledged, then a restart.
	sendStream(t, nc, c, flowModStream(t, openflow.FlowAdd, n, n))
	d.Close()
	d = newTestDaemon(t, dir, dev)
	want = append(want, wantFlowTexts([2]int{n, n})[1:]...)
	got := dumpFlows(t, d, "br0", api.DumpFlowsRequest{Format: api.DumpFlowMod})
	if diff := cmp.Diff(sorted(want), sortLines(got)); diff != "" {
		t.Errorf("flows after restart (-want +got):\n%s", diff)
	}
	if got, want := len(storedFlows(t, d, "br0")), len(want); got != want {
		t.Errorf("store holds %d flows after restart, want %d", got, want)
	}
}

// TestFlowLogRecords checks the flow log's formatting of many queued
// batches at once against flowRecords, batch by batch (the slow oracle:
// what add wrote when it formatted on the connection's goroutine), on both
// sides of the size from which formatting runs in parallel.
func TestFlowLogRecords(t *testing.T) {
	stats := func(first, n int, port uint32) []openflow.FlowStats {
		var out []openflow.FlowStats
		for i := first; i < first+n; i++ {
			fm, err := ofctl.ParseFlowMod(fmt.Sprintf("table=%d,priority=%d,ip,nw_dst=10.%d.%d.%d,actions=output:%d",
				i%3, 100+i%7, i>>16, i>>8&255, i&255, port), openflow.FlowAdd, nil)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, openflow.FlowStats{Table: fm.Table, Priority: fm.Priority, Match: fm.Match, Cookie: uint64(i), Actions: fm.Actions})
		}
		return out
	}
	// applied returns the changes a bridge reports for adding fss, by
	// copy (FlowMods) and by reference (RecordFlowMods).
	applied := func(fss []openflow.FlowStats) (copies, refs ofproto.FlowChanges) {
		fms := make([]openflow.FlowMod, len(fss))
		for i := range fss {
			fms[i] = statsToMod(&fss[i])
		}
		var err error
		if copies, err = ofproto.New(ofproto.Config{}).FlowMods(fms); err != nil {
			t.Fatal(err)
		}
		if refs, err = ofproto.New(ofproto.Config{}).RecordFlowMods(fms); err != nil {
			t.Fatal(err)
		}
		return copies, refs
	}
	small, smallRefs := applied(stats(0, 5, 2))
	big, bigRefs := applied(stats(0, parallelMin, 3))
	tests := []struct {
		name string
		bs   []flowBatch
		refs []flowBatch // when set, formatted instead of bs; want is from bs
	}{
		{"refs", []flowBatch{{"br0", small}}, []flowBatch{{"br0", smallRefs}}},
		{"refs parallel", []flowBatch{{"br0", big}, {"br1", small}}, []flowBatch{{"br0", bigRefs}, {"br1", smallRefs}}},
		{"one add", []flowBatch{{"br0", ofproto.FlowChanges{Added: stats(0, 1, 2)}}}, nil},
		{"one removal", []flowBatch{{"br0", ofproto.FlowChanges{Removed: stats(0, 1, 2)}}}, nil},
		{"modify", []flowBatch{{"br0", ofproto.FlowChanges{Removed: stats(0, 1, 2), Added: stats(0, 1, 3)}}}, nil},
		{"two bridges", []flowBatch{{"br0", ofproto.FlowChanges{Added: stats(0, 3, 2)}}, {"br1", ofproto.FlowChanges{Removed: stats(1, 2, 2)}}}, nil},
		{"parallel", []flowBatch{{"br0", ofproto.FlowChanges{Added: stats(0, parallelMin, 2)}}, {"br0", ofproto.FlowChanges{Removed: stats(10, 100, 2), Added: stats(10, 100, 4)}}}, nil},
	}
	for _, tc := range tests {
		got := flowLogRecords(tc.bs)
		if tc.refs != nil {
			got = flowLogRecords(tc.refs) // the same flows, by reference
		}
		want := make([]flowWrite, len(tc.bs))
		for i := range tc.bs {
			want[i] = flowRecords(tc.bs[i].br, tc.bs[i].ch)
		}
		if diff := cmp.Diff(want, got, cmp.AllowUnexported(flowWrite{})); diff != "" {
			t.Errorf("%s: flowLogRecords (-flowRecords +got):\n%s", tc.name, diff)
		}
	}
}
