package openflow

import (
	"bytes"
	"reflect"
	"testing"

	"tapestry/flow"
	"tapestry/internal/hosttest"
)

// ctFlows are ct actions whose Open vSwitch encoding (captured from the
// real ovs-ofctl) we must decode and reproduce byte for byte.
var ctFlows = []string{
	"ip,actions=ct(commit)",
	"ip,actions=ct()",
	"ip,actions=ct(table=1)",
	"ipv6,actions=ct(commit,force)",
	"ip,actions=ct(table=0,zone=65535)",
	"ip,actions=ct(zone=NXM_NX_REG0[0..15],commit)",
	"ip,actions=ct(zone=reg1[16..31],table=2),output:2",
	"ip,actions=ct(commit,zone=5,table=3,exec(set_field:0x1->ct_mark))",
	"ip,actions=ct(commit,exec(set_field:0x1/0xff->ct_mark))",
	"ip,actions=ct(commit,exec(load:0x2->NXM_NX_CT_MARK[]))",
	"ip,actions=ct(commit,exec(set_field:1->ct_mark,set_field:2->ct_mark)),ct(table=4)",
	"tcp,actions=ct(commit,alg=ftp)",
	"udp,actions=ct(commit,alg=tftp,zone=1)",
}

// TestOVSCTEncoding sends each flow with the real ovs-ofctl to a fake
// switch, decodes the flow mod into the model and re-encodes it: the
// bytes must be Open vSwitch's. With exec(set_field) ovs-ofctl speaks NXM
// in OpenFlow 1.0 (set_format, then NXT_FLOW_MOD): the actions are
// compared then.
func TestOVSCTEncoding(t *testing.T) {
	hosttest.Need(t, "ovs-ofctl", "openvswitch-common")
	for _, version := range []uint8{Version10, Version13} {
		for _, f := range ctFlows {
			msgs := captureOVS(t, version, "add-flow", f)
			if len(msgs) == 0 {
				t.Errorf("v%d %q: captured nothing", version, f)
				continue
			}
			raw := msgs[len(msgs)-1]
			if raw[1] == 4 { // OFPT_VENDOR: NXT_FLOW_MOD
				checkNXCT(t, f, raw)
				continue
			}
			fm, ok := reencodeOVS(t, version, f, raw)
			if ok && (len(fm.Actions) == 0 || fm.Actions[0].Type != ActCT) {
				t.Errorf("v%d %q: decoded actions %+v, want ct first", version, f, fm.Actions)
			}
		}
	}
}

func checkNXCT(t *testing.T, f string, raw []byte) {
	t.Helper()
	var m NXFlowMod
	if err := DecodeNXFlowMod(raw[16:], &m, false); err != nil {
		t.Errorf("%q: DecodeNXFlowMod(%x): %v", f, raw, err)
		return
	}
	out, err := AppendNXFlowMod(nil, be32(raw[4:]), &m.FlowMod, false)
	if err != nil {
		t.Errorf("%q: AppendNXFlowMod: %v", f, err)
		return
	}
	// The actions end the message, after the padded nx_match; compare
	// that tail byte for byte (ovs-ofctl writes the match's NXM headers,
	// tapestry its OXM ones: same fields, other bytes).
	start := 48 + (int(be16(raw[40:]))+7)/8*8
	n := len(raw) - start
	if len(out) < n || !bytes.Equal(out[len(out)-n:], raw[start:]) {
		t.Errorf("%q: NXM encoding differs from OVS\n got %x\nwant %x", f, out, raw)
	}
}

// TestOVSPrintsCT encodes the model's ct actions and has ovs-ofctl
// ofp-print decode them.
func TestOVSPrintsCT(t *testing.T) {
	hosttest.Need(t, "ovs-ofctl", "openvswitch-common")
	mark := func(v uint64) Action { return setFieldAction(flow.FieldCtMark, flow.U64(v)) }
	cases := []struct {
		name string
		ct   CT
		want map[uint8]string
	}{
		{"commit", CT{Commit: true, Table: CTRecircNone}, nil},
		{"recirc", CT{Table: 1}, nil},
		{"zone", CT{Commit: true, Force: true, Zone: 7, Table: 2}, nil},
		{"zone_reg", CT{ZoneSrc: sf(flow.FieldReg0+2, 16, 16), Table: CTRecircNone}, nil},
		{"exec", CT{Commit: true, Table: 3, Zone: 5, Exec: []Action{mark(1)}},
			map[uint8]string{Version10: "actions=ct(commit,table=3,zone=5,exec(load:0x1->NXM_NX_CT_MARK[]))",
				Version13: "actions=ct(commit,table=3,zone=5,exec(set_field:0x1->ct_mark))"}},
	}
	std := map[string]string{
		"commit":   "actions=ct(commit)",
		"recirc":   "actions=ct(table=1)",
		"zone":     "actions=ct(commit,force,table=2,zone=7)",
		"zone_reg": "actions=ct(zone=NXM_NX_REG2[16..31])",
	}
	for _, tc := range cases {
		for _, v := range []uint8{Version10, Version13} {
			c := tc.ct
			c.Exec = append([]Action(nil), c.Exec...)
			acts := []Action{c.Action()}
			want := std[tc.name]
			if tc.want != nil {
				want = tc.want[v]
			}
			back := printsInOVS(t, tc.name, v, acts, want)
			if tc.name == "exec" && v == Version10 {
				// OpenFlow 1.0 carries set_field as NXAST_REG_LOAD.
				acts[0].Nested[0].Type = ActLoad
			}
			if !reflect.DeepEqual(back, acts) {
				t.Errorf("%s v%d: round trip\n got %+v\nwant %+v", tc.name, v, back, acts)
			}
		}
	}
}

// TestCTRoundTrip needs no Open vSwitch: every form survives encode and
// decode in both versions.
func TestCTRoundTrip(t *testing.T) {
	load := Action{Type: ActLoad, Dst: flow.Subfield{Field: flow.FieldCtMark, Ofs: 0, NBits: 8}, Value: flow.U64(3)}
	for i, c := range []CT{
		{Table: CTRecircNone},
		{Commit: true, Table: CTRecircNone},
		{Commit: true, Force: true, Zone: 0xffff, Table: 0},
		{ZoneSrc: sf(flow.FieldReg0, 0, 16), Table: 9},
		{Commit: true, Alg: 21, Table: CTRecircNone, Exec: []Action{load, load}},
	} {
		for _, v := range []uint8{Version10, Version13} {
			want := []Action{c.Action()}
			b, err := appendActions(nil, v, want, nil)
			if err != nil {
				t.Fatalf("case %d v%d: appendActions: %v", i, v, err)
			}
			if len(b)%8 != 0 || int(be16(b[2:])) != len(b) {
				t.Errorf("case %d v%d: length field %d of %d bytes", i, v, be16(b[2:]), len(b))
			}
			got, err := decodeActions(v, b, nil)
			if err != nil || !reflect.DeepEqual(got, want) {
				t.Errorf("case %d v%d: decodeActions(%x) = %+v, %v, want %+v", i, v, b, got, err, want)
			}
		}
	}
}

// TestDecodeCTErrors checks that malformed ct actions are refused with the
// error Open vSwitch gives.
func TestDecodeCTErrors(t *testing.T) {
	ct := func(flags uint16, src uint32, zone uint16, nested ...byte) []byte {
		b := put16(put32(put16(nxHeader(nil, 24+len(nested), nxastCT), flags), src), zone)
		b = pad(append(b, 0xff), 5)
		return append(b, nested...)
	}
	output := []byte{0, 0, 0, 8, 0, 1, 0, 0}
	regLoadMark := []byte{0xff, 0xff, 0, 24, 0, 0, 0x23, 0x20, 0, 7, 0, 0x1f, 0, 1, 0xd6, 4, 0, 0, 0, 0, 0, 0, 0, 1}
	regLoadReg0 := []byte{0xff, 0xff, 0, 24, 0, 0, 0x23, 0x20, 0, 7, 0, 0x1f, 0, 1, 0, 4, 0, 0, 0, 0, 0, 0, 0, 1}
	cases := []struct {
		name string
		b    []byte
		want string
	}{
		{"short", pad(nxHeader(nil, 16, nxastCT), 6), "OFPBAC_BAD_LEN"},
		{"zone bits", ct(0, 0x00010004, 7<<6|7), "OFPBAC_BAD_SET_LEN"},
		{"zone field", ct(0, 0x7fff0004, 15), "OFPBAC_BAD_SET_TYPE"},
		{"flags", ct(4, 0, 0), "OFPBAC_BAD_ARGUMENT"},
		{"force alone", ct(2, 0, 0), "OFPBAC_BAD_ARGUMENT"},
		{"exec output", ct(1, 0, 0, output...), "OFPBAC_BAD_ARGUMENT"},
		{"exec reg0", ct(1, 0, 0, regLoadReg0...), "OFPBAC_BAD_ARGUMENT"},
		{"exec no commit", ct(0, 0, 0, regLoadMark...), "OFPBAC_BAD_ARGUMENT"},
		{"nested short", ct(1, 0, 0, 0, 0, 0, 16, 0, 0, 0, 0), "OFPBAC_BAD_LEN"},
	}
	for _, tc := range cases {
		_, err := decodeActions(Version10, tc.b, nil)
		typ, code, ok := ErrorCodeOf(err)
		if !ok || ErrorName(typ, code) != tc.want {
			t.Errorf("%s: decodeActions(%x) = %v, want %s", tc.name, tc.b, err, tc.want)
		}
	}
	if _, err := decodeActions(Version10, ct(1, 0, 0, regLoadMark...), nil); err != nil {
		t.Errorf("commit,exec(load:1->ct_mark): %v", err)
	}
}

// TestCTNeedsIPMatch: Open vSwitch refuses ct in a flow that does not
// match IPv4 or IPv6.
func TestCTNeedsIPMatch(t *testing.T) {
	for _, tc := range []struct {
		dlType uint64
		ok     bool
	}{
		{0, false},
		{flow.EthTypeARP, false},
		{flow.EthTypeIPv4, true},
		{flow.EthTypeIPv6, true},
	} {
		var m flow.Match
		if tc.dlType != 0 {
			m.Set(flow.FieldDlType, flow.U64(tc.dlType))
		}
		err := checkActions([]Action{CT{Commit: true, Table: CTRecircNone}.Action()}, &m)
		typ, code, _ := ErrorCodeOf(err)
		if tc.ok != (err == nil) || !tc.ok && ErrorName(typ, code) != "OFPBAC_MATCH_INCONSISTENT" {
			t.Errorf("dl_type=0x%04x: checkActions = %v, want ok=%v", tc.dlType, err, tc.ok)
		}
	}
}

// ctFuzzSeeds are FuzzActions seeds for ct.
func ctFuzzSeeds() [][]byte {
	var out [][]byte
	for _, c := range []CT{
		{Commit: true, Zone: 3, Table: 1, Exec: []Action{setFieldAction(flow.FieldCtMark, flow.U64(9))}},
		{ZoneSrc: flow.Subfield{Field: flow.FieldReg0, NBits: 16}, Table: CTRecircNone},
	} {
		b, err := appendActions(nil, Version13, []Action{c.Action()}, nil)
		if err != nil {
			panic(err)
		}
		out = append(out, b)
	}
	return out
}
