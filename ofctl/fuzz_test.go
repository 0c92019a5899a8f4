package ofctl

import (
	"testing"

	"tapestry/openflow"
)

// FuzzParseFlowMod checks that no input panics and that anything that
// parses round-trips through FormatFlowMod.
func FuzzParseFlowMod(f *testing.F) {
	for _, l := range inputFlows(f) {
		f.Add(l)
	}
	f.Add("cookie=0x5/0xff,table=3,out_port=2,tcp,tp_dst=80")
	f.Fuzz(func(t *testing.T, s string) {
		for _, cmd := range []openflow.FlowModCommand{openflow.FlowAdd, openflow.FlowModify, openflow.FlowDelete} {
			parseBoth(t, s, cmd)
			fm, err := ParseFlowMod(s, cmd, goldenPorts)
			if err != nil {
				continue
			}
			roundTrip(t, &fm, goldenPorts)
			for _, v := range []uint8{OpenFlow10, OpenFlow13} {
				fs := openflow.FlowStats{Priority: fm.Priority, Match: fm.Match, Actions: fm.Actions}
				_ = FormatFlowStats(&fs, FormatOptions{Version: v})
			}
		}
	})
}

// FuzzParseActions checks that no action text panics and that parsed
// actions print back to text that parses to the same actions.
func FuzzParseActions(f *testing.F) {
	for _, s := range []string{"output:2", "resubmit(,3)", "load:0x1->NXM_NX_REG0[0..15]", "set_field:1.2.3.4/255.0.0.0->ip_src",
		"controller(reason=no_match,max_len=1,id=2)", "note:01.02", "write_actions(output:1),goto_table:2", "enqueue(1,2)",
		"ct(commit,force,zone=reg0[0..15],table=1,exec(set_field:0x1/0xf->ct_mark,load:2->NXM_NX_CT_MARK[4..7]),alg=ftp)"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		acts, err := ParseActions(s, goldenPorts)
		if err != nil {
			return
		}
		text := FormatActions(acts, goldenPorts)
		back, err := ParseActions(text, goldenPorts)
		if err != nil {
			t.Fatalf("ParseActions(FormatActions(ParseActions(%q)) = %q): %v", s, text, err)
		}
		if again := FormatActions(back, goldenPorts); again != text {
			t.Fatalf("actions %q print as %q then %q", s, text, again)
		}
	})
}
