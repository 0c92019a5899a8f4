package ofproto

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"tapestry/openflow"
)

// TestFlowDumpChunks checks a chunked dump against DumpFlows, for several
// chunk sizes and filters.
func TestFlowDumpChunks(t *testing.T) {
	tb := newTestBridge(t, 0)
	var lines []string
	for i := range 50 {
		lines = append(lines, "table="+itoa(i%3)+",priority="+itoa(10+i)+",in_port="+itoa(1+i%4)+" actions=output:"+itoa(1+i%5))
	}
	tb.flows(lines...)
	all := openflow.FlowMod{Table: openflow.TableAll, OutPort: openflow.PortAny, OutGroup: openflow.GroupAny}
	table1, out2 := all, all
	table1.Table = 1
	out2.OutPort = 2
	tests := []struct {
		name   string
		filter openflow.FlowMod
		chunk  int
	}{
		{"all by 1", all, 1},
		{"all by 7", all, 7},
		{"all at once", all, 1000},
		{"table 1 by 4", table1, 4},
		{"out_port 2 by 3", out2, 3},
	}
	for _, tc := range tests {
		want := tb.DumpFlows(tc.filter)
		d := tb.StartDump(tc.filter)
		if d.Len() != len(want) {
			t.Fatalf("%s: Len = %d, want %d", tc.name, d.Len(), len(want))
		}
		var got []openflow.FlowStats
		for fs := d.Next(tc.chunk); fs != nil; fs = d.Next(tc.chunk) {
			if len(fs) > tc.chunk {
				t.Fatalf("%s: Next(%d) returned %d flows", tc.name, tc.chunk, len(fs))
			}
			got = append(got, fs...)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s: chunked dump (-DumpFlows +FlowDump):\n%s", tc.name, diff)
		}
	}
}

// TestFlowDumpFixedAtStart checks Open vSwitch's semantics: the flows are
// those selected when the dump started, with the statistics they have
// when read.
func TestFlowDumpFixedAtStart(t *testing.T) {
	tb := newTestBridge(t, 0)
	tb.flows("priority=1,in_port=1 actions=output:2", "priority=2,in_port=2 actions=output:1")
	all := openflow.FlowMod{Table: openflow.TableAll, OutPort: openflow.PortAny, OutGroup: openflow.GroupAny}
	d := tb.StartDump(all)
	first := d.Next(1)
	if len(first) != 1 || first[0].Priority != 2 && first[0].Priority != 1 {
		t.Fatalf("Next(1) = %+v", first)
	}
	read := first[0].Priority
	tb.clock.Advance(3e9)
	if _, err := tb.FlowMods([]openflow.FlowMod{
		mod(t, openflow.FlowDelete, ""),
		mod(t, openflow.FlowAdd, "priority=9,tcp actions=drop"),
	}); err != nil {
		t.Fatal(err)
	}
	rest := d.Next(10)
	if len(rest) != 1 || rest[0].Priority == read || rest[0].Priority == 9 {
		t.Fatalf("after deleting every flow, Next = %+v; want the other flow selected at the start", rest)
	}
	if rest[0].Duration < 3e9 {
		t.Errorf("the flow read late has duration %v, want it read when its chunk was (3s or more)", rest[0].Duration)
	}
	if d.Next(10) != nil || d.Len() != 0 {
		t.Errorf("a finished dump still returns flows")
	}
}
