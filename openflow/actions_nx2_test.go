package openflow

import (
	"bytes"
	"encoding/hex"
	"reflect"
	"strings"
	"testing"

	"tapestry/flow"
	"tapestry/internal/hosttest"
)

// nxFlows are flows with the Nicira actions of actions_nx2.go whose Open
// vSwitch encoding (captured from the real ovs-ofctl) we must decode and
// reproduce byte for byte, in both versions.
var nxFlows = []string{
	"actions=output:NXM_NX_REG0[]",
	"actions=output:reg1[0..15],output:NXM_NX_REG2[16..31]",
	"actions=output:NXM_OF_IN_PORT[]",
	"actions=output:metadata[0..31],output:tun_id[8..23]",
	"actions=clone(mod_dl_src:00:00:00:00:00:01,output:1),output:2",
	"actions=clone(clone(output:1),load:5->NXM_NX_REG0[],resubmit(,2)),output:3",
	"actions=clone(),output:1",
	"ip,actions=dec_ttl(1,2,3),output:1",
	"ip,actions=dec_ttl(0),dec_ttl,output:1",
	"ip,actions=dec_ttl(7),output:1",
	"actions=multipath(eth_src,50,modulo_n,1,0,NXM_NX_REG0[])",
	"actions=multipath(symmetric_l4,1024,hrw,12,0,reg0[0..3])",
	"actions=multipath(symmetric_l3l4,1,hash_threshold,65536,0,reg1)",
	"actions=multipath(symmetric_l3l4+udp,7,iter_hash,5,3,reg2[4..6]),multipath(nw_src,0,modulo_n,2,0,reg3[0]),multipath(nw_dst,0,hrw,2,0,reg3[1]),multipath(symmetric_l3,9,modulo_n,3,0,reg3[2..3])",
	"actions=bundle(eth_src,0,hrw,ofport,members:4,8)",
	"actions=bundle(symmetric_l4,60,active_backup,ofport,members:1)",
	"actions=bundle_load(symmetric_l4,60,active_backup,ofport,reg0,members:1,2,3)",
	"actions=bundle_load(eth_src,5,hrw,ofport,NXM_NX_REG1[0..15],members:1,2,3,4,5)",
	"actions=bundle(nw_src,0,hrw,ofport,members:1,LOCAL)",
}

// TestOVSNXActionEncoding sends each flow with the real ovs-ofctl to a fake
// switch, decodes what arrives into the model and re-encodes it: the bytes
// must be Open vSwitch's.
func TestOVSNXActionEncoding(t *testing.T) {
	hosttest.Need(t, "ovs-ofctl", "openvswitch-common")
	for _, version := range []uint8{Version10, Version13} {
		for _, f := range nxFlows {
			msgs := captureOVS(t, version, "add-flow", f)
			if len(msgs) != 1 {
				t.Errorf("v%d %q: captured %d messages", version, f, len(msgs))
				continue
			}
			reencodeOVS(t, version, f, msgs[0])
		}
	}
}

// reencodeOVS decodes raw, a flow mod ovs-ofctl sent for flow f, and
// checks that encoding it again gives raw; it returns the decoded flow
// mod, or ok false after reporting why not.
func reencodeOVS(t *testing.T, version uint8, f string, raw []byte) (fm FlowMod, ok bool) {
	t.Helper()
	if err := DecodeFlowMod(raw, &fm); err != nil {
		t.Errorf("v%d %q: DecodeFlowMod(%x): %v", version, f, raw, err)
		return fm, false
	}
	out, err := fm.Append(nil, version, be32(raw[4:]))
	if err != nil {
		t.Errorf("v%d %q: Append: %v", version, f, err)
		return fm, false
	}
	if !bytes.Equal(out, raw) {
		t.Errorf("v%d %q: encoding differs from OVS\n got %x\nwant %x", version, f, out, raw)
		return fm, false
	}
	return fm, true
}

// printsInOVS encodes acts in a flow mod of version v, checks that
// ovs-ofctl ofp-print shows want, and returns the actions decoded back.
func printsInOVS(t *testing.T, name string, v uint8, acts []Action, want string) []Action {
	t.Helper()
	match := flow.Match{}
	match.Set(flow.FieldDlType, flow.U64(flow.EthTypeIPv4))
	fm := &FlowMod{Command: FlowAdd, Priority: 10, Match: match, BufferID: NoBuffer, OutPort: PortAny, OutGroup: GroupAny, Actions: acts}
	b, err := fm.Append(nil, v, 7)
	if err != nil {
		t.Fatalf("%s v%d: Append: %v", name, v, err)
	}
	text := ovsPrint(t, b)
	if strings.Contains(text, "***") || !strings.Contains(text, want) {
		t.Errorf("%s v%d: ovs-ofctl ofp-print %s:\n%s\nwant it to contain %q", name, v, hex.EncodeToString(b), text, want)
	}
	var back FlowMod
	if err := DecodeFlowMod(b, &back); err != nil {
		t.Fatalf("%s v%d: DecodeFlowMod: %v", name, v, err)
	}
	return back.Actions
}

func sf(f flow.Field, ofs, n uint16) flow.Subfield {
	return flow.Subfield{Field: f, Ofs: ofs, NBits: n}
}

// TestOVSPrintsNXActions encodes the model's forms of each action and has
// ovs-ofctl ofp-print decode them.
func TestOVSPrintsNXActions(t *testing.T) {
	hosttest.Need(t, "ovs-ofctl", "openvswitch-common")
	reg0, reg1 := flow.FieldReg0, flow.FieldReg0+1
	outReg2 := OutputReg(sf(reg1, 0, 16))
	outReg2.MaxLen = 128
	cases := []struct {
		name string
		acts []Action
		want string
	}{
		{"output_reg", []Action{OutputReg(flow.Whole(reg0))}, "actions=output:NXM_NX_REG0[]"},
		{"output_reg2", []Action{outReg2}, "actions=output:NXM_NX_REG1[0..15]"},
		{"clone", []Action{{Type: ActClone, Nested: []Action{{Type: ActOutput, Port: 1}, {Type: ActClone}}}}, "actions=clone(output:1,clone(drop))"},
		{"dec_ttl_ids", []Action{DecTTLIDs(1, 2, 3)}, "actions=dec_ttl(1,2,3)"},
		{"multipath", []Action{Multipath{Fields: HashSymmetricL4, Basis: 1024, Algorithm: MultipathHRW, NLinks: 12, Dst: sf(reg0, 0, 4)}.Action()},
			"actions=multipath(symmetric_l4,1024,hrw,12,0,NXM_NX_REG0[0..3])"},
		{"bundle", []Action{Bundle{Fields: HashEthSrc, Algorithm: BundleHRW, Members: []uint32{4, 8}}.Action()},
			"actions=bundle(eth_src,0,hrw,ofport,members:4,8)"},
		{"bundle_load", []Action{Bundle{Load: true, Fields: HashSymmetricL3L4UDP, Basis: 3, Dst: flow.Whole(reg1), Members: []uint32{1, 2, 3}}.Action()},
			"actions=bundle_load(symmetric_l3l4+udp,3,active_backup,ofport,NXM_NX_REG1[],members:1,2,3)"},
	}
	for _, tc := range cases {
		for _, v := range []uint8{Version10, Version13} {
			if back := printsInOVS(t, tc.name, v, tc.acts, tc.want); !reflect.DeepEqual(back, tc.acts) {
				t.Errorf("%s v%d: round trip\n got %+v\nwant %+v", tc.name, v, back, tc.acts)
			}
		}
	}
}

// TestDecodeNXActionErrors checks that malformed actions are refused with
// the error Open vSwitch gives.
func TestDecodeNXActionErrors(t *testing.T) {
	h := func(sub uint16, n int) []byte { return nxHeader(nil, n, sub) }
	cases := []struct {
		name string
		b    []byte
		want string
	}{
		{"output_reg short", pad(h(nxastOutputReg, 16), 6), "OFPBAC_BAD_LEN"},
		{"output_reg pad", append(put32(put16(h(nxastOutputReg, 24), 31), 0x00010004), 0xff, 0xff, 1, 0, 0, 0, 0, 0), "OFPBAC_BAD_ARGUMENT"},
		{"output_reg bits", pad(put32(put16(h(nxastOutputReg, 24), 32<<6|31), 0x00010004), 8), "OFPBAC_BAD_SET_LEN"},
		{"cnt_ids short", put16(put16(pad(put16(h(nxastDecTTLCntIDs, 16), 3), 4), 0), 0)[:16], "OFPBAC_BAD_LEN"},
		{"multipath alg", pad(put16(pad(put16(put16(h(nxastMultipath, 32), 0), 0), 2), 9), 16), "OFPBAC_BAD_ARGUMENT"},
		{"multipath fields", pad(put16(h(nxastMultipath, 32), 9), 20), "OFPBAC_BAD_ARGUMENT"},
		{"bundle type", pad(put32(put16(put16(put16(h(nxastBundle, 32), 1), 0), 0), 5), 12), "OFPBAC_BAD_ARGUMENT"},
		{"clone nested bad", pad(append(pad(h(nxastClone, 32), 6), 0, 0, 0, 16), 12), "OFPBAC_BAD_LEN"},
	}
	for _, tc := range cases {
		_, err := decodeActions(Version10, tc.b, nil)
		typ, code, ok := ErrorCodeOf(err)
		if !ok || ErrorName(typ, code) != tc.want {
			t.Errorf("%s: decodeActions(%x) = %v, want %s", tc.name, tc.b, err, tc.want)
		}
	}
}

// nxFuzzSeeds are FuzzActions seeds for the actions of actions_nx2.go.
func nxFuzzSeeds() [][]byte {
	var out [][]byte
	for _, acts := range [][]Action{
		{OutputReg(flow.Whole(flow.FieldReg0))},
		{{Type: ActClone, Nested: []Action{{Type: ActOutput, Port: 1}, {Type: ActClone, Nested: []Action{DecTTLIDs(1, 2)}}}}},
		{Multipath{Fields: HashSymmetricL4, NLinks: 4, Dst: flow.Whole(flow.FieldReg0)}.Action()},
		{Bundle{Load: true, Algorithm: BundleHRW, Dst: flow.Whole(flow.FieldReg0), Members: []uint32{1, 2, 3}}.Action()},
	} {
		b, err := appendActions(nil, Version13, acts, nil)
		if err != nil {
			panic(err)
		}
		out = append(out, b)
	}
	return out
}
