package ofctl

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"tapestry/openflow"
)

// parseBoth parses s with ParseFlowMod and with ParseFlowModBuf onto a
// buffer that already holds one action, and fails when they disagree or
// when ParseFlowModBuf touches what the buffer held.
func parseBoth(t *testing.T, s string, cmd openflow.FlowModCommand) {
	t.Helper()
	want, wantErr := ParseFlowMod(s, cmd, goldenPorts)
	prev := openflow.Action{Type: openflow.ActOutput, Port: 7}
	buf := append(make([]openflow.Action, 0, 2), prev)
	got, buf, gotErr := ParseFlowModBuf(s, cmd, goldenPorts, buf)
	if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
		t.Fatalf("ParseFlowModBuf(%q) error = %v, ParseFlowMod's %v", s, gotErr, wantErr)
	}
	if len(buf) == 0 || buf[0].Type != prev.Type || buf[0].Port != prev.Port {
		t.Fatalf("ParseFlowModBuf(%q) changed the buffer's earlier action: %+v", s, buf)
	}
	if wantErr != nil {
		if len(buf) != 1 {
			t.Fatalf("ParseFlowModBuf(%q) failed but left %d actions on the buffer, want 1", s, len(buf))
		}
		return
	}
	if diff := cmp.Diff(FormatFlowMod(&want, goldenPorts), FormatFlowMod(&got, goldenPorts)); diff != "" {
		t.Fatalf("ParseFlowModBuf(%q) (-ParseFlowMod +ParseFlowModBuf):\n%s", s, diff)
	}
	if len(got.Actions) != len(want.Actions) || (got.Actions == nil) != (want.Actions == nil) {
		t.Fatalf("ParseFlowModBuf(%q) actions = %#v, want %#v", s, got.Actions, want.Actions)
	}
	if cap(got.Actions) != len(got.Actions) {
		t.Fatalf("ParseFlowModBuf(%q) actions have room to append into the buffer (len %d, cap %d)", s, len(got.Actions), cap(got.Actions))
	}
}

func TestParseFlowModBuf(t *testing.T) {
	tests := []struct {
		text string
		cmd  openflow.FlowModCommand
	}{
		{"priority=5,ip,in_port=1,nw_dst=10.0.0.1,actions=output:2", openflow.FlowAdd},
		{"tcp,tp_dst=80 actions=drop", openflow.FlowAdd},
		{"actions=mod_dl_dst:00:00:00:00:00:01,output:1,output:2,output:3,normal", openflow.FlowAdd},
		{"actions=write_actions(output:1),goto_table:2", openflow.FlowAdd},
		{"in_port=1", openflow.FlowDelete},
		{"ip actions=output:2", openflow.FlowDelete},
		{"ip", openflow.FlowAdd},
		{"actions=output:2,drop", openflow.FlowAdd},
		{"actions=goto_table:2,output:1", openflow.FlowAdd},
		{"nw_dts=1.2.3.4 actions=output:1", openflow.FlowAdd},
		{"actions=output:1,bogus:3", openflow.FlowAdd},
		{"ip actions=mod_tp_dst:80", openflow.FlowAdd},
	}
	for _, tc := range tests {
		parseBoth(t, tc.text, tc.cmd)
	}
	for _, l := range inputFlows(t) {
		parseBoth(t, l, openflow.FlowAdd)
	}
}

// TestParseFlowModBufAllocs checks that a reused buffer spares the
// allocation ParseFlowMod makes for the action slice.
func TestParseFlowModBufAllocs(t *testing.T) {
	buf := make([]openflow.Action, 0, 64)
	for _, l := range typicalFlows(4) {
		allocs := testing.AllocsPerRun(100, func() {
			var err error
			if _, buf, err = ParseFlowModBuf(l, openflow.FlowAdd, nil, buf[:0]); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("ParseFlowModBuf(%q): %v allocs per flow, want 0", l, allocs)
		}
	}
}
