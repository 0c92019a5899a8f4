package ofctl

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"tapestry/openflow"
)

// inputFlows returns the flows of testdata/flows.txt that parse.
func inputFlows(t testing.TB) []string {
	f, err := os.Open("testdata/flows.txt")
	if err != nil {
		t.Fatalf("open flows: %v", err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := sc.Text(); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}

// roundTrip checks that FormatFlowMod's text parses back to fm.
func roundTrip(t testing.TB, fm *openflow.FlowMod, names PortNamer) {
	text := FormatFlowMod(fm, names)
	back, err := ParseFlowMod(text, fm.Command, names)
	if err != nil {
		t.Fatalf("ParseFlowMod(FormatFlowMod(...) = %q): %v", text, err)
	}
	if diff := cmp.Diff(*fm, back); diff != "" {
		t.Fatalf("round trip through %q (-want +got):\n%s", text, diff)
	}
}

func TestRoundTrip(t *testing.T) {
	cmds := []openflow.FlowModCommand{openflow.FlowAdd, openflow.FlowModify, openflow.FlowModifyStrict}
	n := 0
	for _, in := range inputFlows(t) {
		for _, cmd := range cmds {
			fm, err := ParseFlowMod(in, cmd, goldenPorts)
			if err != nil {
				continue // the golden test covers which flows must parse
			}
			n++
			t.Run(fmt.Sprintf("%d/%s", cmd, in), func(t *testing.T) {
				roundTrip(t, &fm, nil)
				roundTrip(t, &fm, goldenPorts)
			})
		}
	}
	for _, in := range []string{"in_port=1", "cookie=0x5/0xff,table=3,out_port=2,out_group=7,tcp,tp_dst=80", "priority=0"} {
		fm, err := ParseFlowMod(in, openflow.FlowDeleteStrict, nil)
		if err != nil {
			t.Fatalf("ParseFlowMod(%q, delete): %v", in, err)
		}
		roundTrip(t, &fm, nil)
		n++
	}
	if n < 200 {
		t.Errorf("only %d flows round-tripped, want at least 200", n)
	}
}

func TestFormatActions(t *testing.T) {
	tests := []struct{ in, want string }{
		{"drop", "drop"},
		{"output:2", "output:2"},
		{"tpcp2", "output:2"},
		{"normal,IN_PORT,controller,output:CONTROLLER,CONTROLLER:5", "NORMAL,IN_PORT,CONTROLLER:65535,CONTROLLER:65535,CONTROLLER:5"},
		{"resubmit(,1),resubmit:3,resubmit(4,5)", "resubmit(,1),resubmit:3,resubmit(4,5)"},
		{"load:0x1->reg0[],set_field:0x5->reg1,move:reg0[0..3]->reg1[4..7]", "load:0x1->NXM_NX_REG0[],set_field:0x5->reg1,move:NXM_NX_REG0[0..3]->NXM_NX_REG1[4..7]"},
		{"set_field:1.2.3.4/255.255.0.0->ip_src", "set_field:1.2.0.0/255.255.0.0->ip_src"},
		{"strip_vlan,pop_vlan", "strip_vlan,pop_vlan"},
		{"enqueue(1,2)", "enqueue:1:2"},
		{"write_metadata:0/0x1,goto_table:2", "write_metadata:0/0x1,goto_table:2"},
	}
	for _, tt := range tests {
		acts, err := ParseActions(tt.in, goldenPorts)
		if err != nil {
			t.Errorf("ParseActions(%q): %v", tt.in, err)
			continue
		}
		if got := FormatActions(acts, nil); got != tt.want {
			t.Errorf("FormatActions(ParseActions(%q)) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestSortFlows(t *testing.T) {
	mk := func(text string) openflow.FlowStats {
		fm, err := ParseFlowMod(text, openflow.FlowAdd, nil)
		if err != nil {
			t.Fatalf("ParseFlowMod(%q): %v", text, err)
		}
		return openflow.FlowStats{Priority: fm.Priority, Match: fm.Match, Actions: fm.Actions}
	}
	order := func(fs []openflow.FlowStats) string {
		var s []string
		for i := range fs {
			s = append(s, FormatMatch(&fs[i].Match, fs[i].Priority, nil))
		}
		return strings.Join(s, " ")
	}
	flows := []openflow.FlowStats{
		mk("priority=5,in_port=3,actions=drop"), mk("priority=9,actions=drop"),
		mk("priority=1,in_port=1,actions=drop"), mk("priority=7,in_port=2,actions=drop"),
	}
	tests := []struct {
		field string
		desc  bool
		want  string
	}{
		{"", false, "priority=1,in_port=1 priority=5,in_port=3 priority=7,in_port=2 priority=9"},
		{"priority", true, "priority=9 priority=7,in_port=2 priority=5,in_port=3 priority=1,in_port=1"},
		{"in_port", false, "priority=1,in_port=1 priority=7,in_port=2 priority=5,in_port=3 priority=9"},
		{"in_port", true, "priority=5,in_port=3 priority=7,in_port=2 priority=1,in_port=1 priority=9"},
	}
	for _, tt := range tests {
		fs := append([]openflow.FlowStats(nil), flows...)
		if err := SortFlows(fs, tt.field, tt.desc); err != nil {
			t.Fatalf("SortFlows(%q): %v", tt.field, err)
		}
		if got := order(fs); got != tt.want {
			t.Errorf("SortFlows(%q, desc=%v) = %q, want %q", tt.field, tt.desc, got, tt.want)
		}
	}
	if err := SortFlows(flows, "in_prot", false); err == nil || !strings.Contains(err.Error(), `"in_port"`) {
		t.Errorf("SortFlows(in_prot) error = %v, want a suggestion of in_port", err)
	}
}
