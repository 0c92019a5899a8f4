package ofctl

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"tapestry/flow"
	"tapestry/internal/hosttest"
	"tapestry/openflow"
)

func reg(n int) flow.Field { return flow.FieldReg0 + flow.Field(n) }

func subf(f flow.Field, ofs, n uint16) flow.Subfield {
	return flow.Subfield{Field: f, Ofs: ofs, NBits: n}
}

// TestParseNXActions parses each form into the model and prints it back as
// ovs-ofctl does.
func TestParseNXActions(t *testing.T) {
	out1 := openflow.Action{Type: openflow.ActOutput, Port: 1}
	tests := []struct {
		in   string
		want []openflow.Action
		text string
	}{
		{"output:reg0[0..15]", []openflow.Action{openflow.OutputReg(subf(reg(0), 0, 16))}, "output:NXM_NX_REG0[0..15]"},
		{"output:NXM_NX_REG1[]", []openflow.Action{openflow.OutputReg(flow.Whole(reg(1)))}, "output:NXM_NX_REG1[]"},
		{"output:reg2", []openflow.Action{openflow.OutputReg(flow.Whole(reg(2)))}, "output:NXM_NX_REG2[]"},
		{"output:NXM_OF_IN_PORT[]", []openflow.Action{openflow.OutputReg(subf(flow.FieldInPort, 0, 16))}, "output:NXM_OF_IN_PORT[]"},
		{"output:in_port", []openflow.Action{{Type: openflow.ActOutput, Port: openflow.PortInPort}}, "IN_PORT"},
		{"clone(output:1)", []openflow.Action{{Type: openflow.ActClone, Nested: []openflow.Action{out1}}}, "clone(output:1)"},
		{"clone()", []openflow.Action{{Type: openflow.ActClone}}, "clone(drop)"},
		{"clone(clone(output:1),pop_vlan),output:1", []openflow.Action{{Type: openflow.ActClone, Nested: []openflow.Action{
			{Type: openflow.ActClone, Nested: []openflow.Action{out1}}, {Type: openflow.ActPopVlan}}}, out1}, "clone(clone(output:1),pop_vlan),output:1"},
		{"dec_ttl(1,2,3)", []openflow.Action{openflow.DecTTLIDs(1, 2, 3)}, "dec_ttl(1,2,3)"},
		{"dec_ttl(0)", []openflow.Action{openflow.DecTTLIDs(0)}, "dec_ttl(0)"},
		{"dec_ttl()", []openflow.Action{{Type: openflow.ActDecTTL}}, "dec_ttl"},
		{"dec_ttl(1,x,65537)", []openflow.Action{openflow.DecTTLIDs(1, 0, 1)}, "dec_ttl(1,0,1)"},
		{"multipath(eth_src,50,modulo_n,1,0,NXM_NX_REG0[])", []openflow.Action{openflow.Multipath{Basis: 50, NLinks: 1, Dst: flow.Whole(reg(0))}.Action()},
			"multipath(eth_src,50,modulo_n,1,0,NXM_NX_REG0[])"},
		{"multipath(symmetric_l3l4+udp,1024,iter_hash,12,7,reg0[0..3])", []openflow.Action{openflow.Multipath{Fields: openflow.HashSymmetricL3L4UDP, Basis: 1024,
			Algorithm: openflow.MultipathIterHash, NLinks: 12, Arg: 7, Dst: subf(reg(0), 0, 4)}.Action()}, "multipath(symmetric_l3l4+udp,1024,iter_hash,12,7,NXM_NX_REG0[0..3])"},
		{"bundle(eth_src,0,hrw,ofport,members:4,8)", []openflow.Action{openflow.Bundle{Algorithm: openflow.BundleHRW, Members: []uint32{4, 8}}.Action()},
			"bundle(eth_src,0,hrw,ofport,members:4,8)"},
		{"bundle(symmetric_l4,60,active_backup,ofport,slaves:tpcp1,LOCAL)", []openflow.Action{openflow.Bundle{Fields: openflow.HashSymmetricL4, Basis: 60,
			Members: []uint32{1, openflow.PortLocal}}.Action()}, "bundle(symmetric_l4,60,active_backup,ofport,members:1,LOCAL)"},
		{"bundle_load(nw_dst,1,hrw,ofport,reg3[16..31],members:1,2)", []openflow.Action{openflow.Bundle{Load: true, Fields: openflow.HashNwDst, Basis: 1,
			Algorithm: openflow.BundleHRW, Dst: subf(reg(3), 16, 16), Members: []uint32{1, 2}}.Action()}, "bundle_load(nw_dst,1,hrw,ofport,NXM_NX_REG3[16..31],members:1,2)"},
	}
	for _, tc := range tests {
		got, err := ParseActions(tc.in, goldenPorts)
		if err != nil {
			t.Errorf("ParseActions(%q): %v", tc.in, err)
			continue
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("ParseActions(%q) (-want +got):\n%s", tc.in, diff)
		}
		if s := FormatActions(got, nil); s != tc.text {
			t.Errorf("FormatActions(ParseActions(%q)) = %q, want %q", tc.in, s, tc.text)
		}
		back, err := ParseActions(tc.text, nil)
		if err != nil || !cmp.Equal(back, got) {
			t.Errorf("ParseActions(%q) = %+v, %v; want %+v", tc.text, back, err, got)
		}
	}
}

func TestParseNXActionErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"output:reg0[40..50]", `"reg0[40..50]": output to unknown port`},
		{"output:nosuch", `output to unknown port`},
		{"clone(goto_table:1)", "clone: "},
		{"clone(write_actions(output:1))", "clone: "},
		{"multipath(eth_src,50,modulo_n,1,0)", "not enough arguments"},
		{"multipath(eth_dst,50,modulo_n,1,0,reg0)", `unknown fields "eth_dst"`},
		{"multipath(eth_src,50,modulo_x,1,0,reg0)", `unknown algorithm "modulo_x"`},
		{"multipath(eth_src,50,modulo_n,0,0,reg0)", "n_links 0 is not in valid range"},
		{"multipath(eth_src,50,modulo_n,65537,0,reg0)", "n_links 65537 is not in valid range"},
		{"multipath(eth_src,50,modulo_n,5,0,reg0[0..1])", "2-bit destination field has 4 possible values, less than specified n_links 5"},
		{"multipath(eth_src,50,modulo_n,5,0,nosuch)", `unknown field "nosuch"`},
		{"bundle(eth_src,0,hrw,ofport)", "not enough arguments"},
		{"bundle(eth_src,0,hrx,ofport,members:1)", `unknown algorithm "hrx"`},
		{"bundle(eth_src,0,hrw,port,members:1)", `unknown member_type "port"`},
		{"bundle(eth_src,0,hrw,ofport,ports:1)", "missing member delimiter"},
		{"bundle(eth_src,0,hrw,ofport,members:1,xyz)", `"xyz": bad member port`},
		{"bundle_load(eth_src,0,hrw,ofport,reg0[0..7],members:1)", "destination field must be at least 16 bits"},
	}
	checkActionErrors(t, tests)
}

// checkActionErrors checks that each in fails to parse with an error
// containing want.
func checkActionErrors(t *testing.T, tests []struct{ in, want string }) {
	t.Helper()
	for _, tc := range tests {
		_, err := ParseActions(tc.in, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseActions(%q) = %v, want an error containing %q", tc.in, err, tc.want)
		}
	}
}

// nxLines are flows ovs-ofctl 3.1 accepts; TestNXActionsMatchOVS compares
// our printing of each with what ovs-ofctl parse-flow prints.
var nxLines = []string{
	"actions=output:NXM_NX_REG0[]",
	"actions=output:reg1[0..15],output:NXM_NX_REG2[16..31],output:reg3",
	"actions=output:NXM_OF_IN_PORT[],output:in_port,output:tun_id[0..15],output:metadata[8..23]",
	"actions=clone(mod_dl_src:00:00:00:00:00:01,output:1),output:2",
	"actions=clone(clone(output:1),load:5->NXM_NX_REG0[],resubmit(,2)),output:3",
	"actions=clone(),clone(drop),output:1",
	"ip,actions=clone(mod_nw_src:1.2.3.4,mod_vlan_vid:5,output:1),output:2",
	"ip,actions=dec_ttl(1,2,3),output:1",
	"ip,actions=dec_ttl(0),dec_ttl,dec_ttl(),output:1",
	"ip,actions=dec_ttl(1,x,65537)",
	"actions=multipath(eth_src,50,modulo_n,1,0,NXM_NX_REG0[])",
	"actions=multipath(symmetric_l4,1024,hrw,12,0,reg0[0..3])",
	"actions=multipath(symmetric_l3l4,1,hash_threshold,65536,0,reg1)",
	"actions=multipath(symmetric_l3l4+udp,7,iter_hash,5,3,reg2[4..6]),multipath(nw_src,0,modulo_n,2,0,reg3[0])",
	"actions=multipath(nw_dst,x,hrw,2,y,reg3[1]),multipath(symmetric_l3,9,modulo_n,3,0,reg3[2..3])",
	"actions=bundle(eth_src,0,hrw,ofport,members:4,8)",
	"actions=bundle(symmetric_l4,60,active_backup,ofport,slaves:1)",
	"actions=bundle_load(symmetric_l4,60,active_backup,ofport,reg0,members:1,2,3)",
	"actions=bundle_load(eth_src,5,hrw,ofport,NXM_NX_REG1[0..15],members:1,2,3,4,5)",
	"actions=bundle(nw_src,0,hrw,ofport,members:tpcp1,LOCAL),output:tpcp2",
}

// ovsParseFlow returns the actions ovs-ofctl parse-flow prints for line.
func ovsParseFlow(t *testing.T, proto, line string) string {
	t.Helper()
	out, err := exec.Command("ovs-ofctl", "-O", proto, "parse-flow", line).CombinedOutput()
	if err != nil {
		t.Fatalf("ovs-ofctl -O %s parse-flow %q: %v\n%s", proto, line, err, out)
	}
	_, acts, ok := strings.Cut(strings.TrimSpace(string(out)), " actions=")
	if !ok {
		t.Fatalf("ovs-ofctl parse-flow %q printed no actions:\n%s", line, out)
	}
	return acts
}

// TestNXActionsMatchOVS compares the text of every line of nxLines with
// the real ovs-ofctl's, for OpenFlow 1.0 and 1.3.
func TestNXActionsMatchOVS(t *testing.T) {
	checkAgainstOVS(t, nxLines)
}

// checkAgainstOVS compares our printing of each line's actions with what
// ovs-ofctl parse-flow prints, for OpenFlow 1.0 and 1.3.
func checkAgainstOVS(t *testing.T, lines []string) {
	t.Helper()
	hosttest.Need(t, "ovs-ofctl", "openvswitch-common")
	// ovs-ofctl parse-flow has no port map: name the golden ports by number.
	r := strings.NewReplacer("tpcp1", "1", "tpcp2", "2")
	for _, line := range lines {
		fm, err := ParseFlowMod(line, openflow.FlowAdd, goldenPorts)
		if err != nil {
			t.Errorf("ParseFlowMod(%q): %v", line, err)
			continue
		}
		for _, v := range []struct {
			proto string
			mode  fmtMode
		}{{"OpenFlow10", modeOF10}, {"OpenFlow13", modeOF13}} {
			want := ovsParseFlow(t, v.proto, r.Replace(line))
			if got := string(appendActions(nil, fm.Actions, nil, v.mode, &fm.Match)); got != want {
				t.Errorf("%s %q:\n got %s\nwant %s", v.proto, line, got, want)
			}
		}
	}
}
