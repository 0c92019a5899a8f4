package daemon

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"tapestry/api"
)

// chunkedFile returns n add-flows lines, 1-based line i replaced by
// subst[i], spanning several chunks of addChunkLines.
func chunkedFile(n int, subst map[int]string) string {
	var sb strings.Builder
	for i := 1; i <= n; i++ {
		if s, ok := subst[i]; ok {
			sb.WriteString(s + "\n")
			continue
		}
		fmt.Fprintf(&sb, "priority=%d,ip,in_port=1,nw_dst=10.0.%d.%d,actions=output:2\n", 100+i%7, i>>8&255, i&255)
	}
	return sb.String()
}

// flowModsText sends text as add-flows from source, like the CLI does.
func flowModsText(d *Daemon, br, source, text string) (api.FlowModResult, error) {
	req, err := api.DecodeFlowModRequest(api.FlowCmdAdd, []byte(text))
	if err != nil {
		return api.FlowModResult{}, err
	}
	return d.FlowMods(context.Background(), br, source, req)
}

// TestAddFlowsChunked checks the chunked add-flows path against the
// one-shot path (a file ending in a delete_strict of nothing goes that
// way, with the same line numbers): same error text, bridge and store
// untouched on any error wherever it is, and everything added otherwise.
func TestAddFlowsChunked(t *testing.T) {
	const n = 3*addChunkLines + 100
	late, mid := 3*addChunkLines+50, addChunkLines+10
	tests := []struct {
		name    string
		subst   map[int]string
		wantErr string // "" for success
	}{
		{"all good", nil, ""},
		{"replaced within the batch", map[int]string{late: "priority=101,ip,in_port=1,nw_dst=10.0.0.1,actions=drop"}, ""},
		{"keyword add", map[int]string{mid: "add priority=5,tcp,actions=drop"}, ""},
		{"parse error in the last chunk", map[int]string{late: "in_port=1,nw_dts=1,actions=drop"}, fmt.Sprintf("big.txt:%d: ", late)},
		{"parse error on line 1", map[int]string{1: "actions=bogus"}, "big.txt:1: "},
		{"overlap in chunk 2", map[int]string{mid: "check_overlap,priority=5,tcp,actions=drop"}, fmt.Sprintf("big.txt:%d: ", mid)},
		{"missing group in chunk 2", map[int]string{mid: "priority=9,actions=group:77"}, "OFPT_ERROR "},
		{"goto backward in the last chunk", map[int]string{late: "table=3,actions=goto_table:1"}, fmt.Sprintf("big.txt:%d: ", late)},
		{"parse error after an overlap", map[int]string{mid: "check_overlap,priority=5,tcp,actions=drop", late: "nw_dts=1,actions=drop"}, fmt.Sprintf("big.txt:%d: ", late)},
		{"bad table after a missing group", map[int]string{10: "priority=9,actions=group:77", late: "table=3,actions=goto_table:1"}, fmt.Sprintf("big.txt:%d: ", late)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, oracle := newTestDaemon(t, t.TempDir(), &MemDevices{}), newTestDaemon(t, t.TempDir(), &MemDevices{})
			for _, dd := range []*Daemon{d, oracle} {
				vsctl(t, dd, cmd("add-br", "br0"))
				addFlows(t, dd, "br0", api.FlowCmdAdd, "priority=5,ip,actions=drop")
			}
			ns := api.DumpFlowsRequest{NoStats: true}
			before, storedBefore := dumpFlows(t, d, "br0", ns), storedFlows(t, d, "br0")
			text := chunkedFile(n, tc.subst)
			res, err := flowModsText(d, "br0", "big.txt", text)
			wantRes, wantErr := flowModsText(oracle, "br0", "big.txt", text+"delete_strict priority=1,in_port=99\n")
			if fmt.Sprint(err) != fmt.Sprint(wantErr) {
				t.Fatalf("add-flows error = %v\nthe one-shot path's = %v", err, wantErr)
			}
			if !strings.HasPrefix(fmt.Sprint(err), tc.wantErr) || (tc.wantErr == "") != (err == nil) {
				t.Fatalf("add-flows error = %v, want it to start with %q", err, tc.wantErr)
			}
			got, stored := dumpFlows(t, d, "br0", ns), storedFlows(t, d, "br0")
			if err != nil {
				if got != before || !maps.Equal(stored, storedBefore) {
					t.Fatalf("a refused add-flows changed the bridge (%d lines, was %d) or the store (%d flows, was %d)",
						strings.Count(got, "\n"), strings.Count(before, "\n"), len(stored), len(storedBefore))
				}
				return
			}
			if res != wantRes {
				t.Errorf("add-flows = %+v, the one-shot path's %+v", res, wantRes)
			}
			if diff := cmp.Diff(dumpFlows(t, oracle, "br0", ns), got); diff != "" {
				t.Fatalf("flows (-one-shot +chunked):\n%s", diff)
			}
			if diff := cmp.Diff(storedFlows(t, oracle, "br0"), stored); diff != "" {
				t.Fatalf("store (-one-shot +chunked):\n%s", diff)
			}
		})
	}
}
