package openflow

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"

	"tapestry/flow"
)

// Captured from ovs-ofctl 3.1 (default protocol, OpenFlow 1.0 + NXM)
// talking to a bridge, through a logging proxy.
var ovsNXFlowMods = []struct {
	name    string
	hex     string
	tableID bool
	want    FlowMod
}{
	{"add reg0=1,actions=drop",
		"0104003800000008000023200000000d00000000000000000000000000008000ffffffffffff000000080000000000000001000400000001",
		false, FlowMod{Command: FlowAdd, Table: 0, Priority: 0x8000}},
	{"add cookie=0x5,reg0=1,actions=drop",
		"0104003800000008000023200000000d00000000000000050000000000008000ffffffffffff000000080000000000000001000400000001",
		false, FlowMod{Command: FlowAdd, Table: 0, Priority: 0x8000, Cookie: 5}},
	{"mod-flows reg0=1,actions=drop",
		"0104003800000008000023200000000d00000000000000000001000000008000ffffffffffff000000080000000000000001000400000001",
		false, FlowMod{Command: FlowModify, Table: TableAll, Priority: 0x8000}},
	{"mod-flows cookie=0x7,reg0=1,actions=drop",
		"0104003800000008000023200000000d00000000000000070001000000008000ffffffffffff000000080000000000000001000400000001",
		false, FlowMod{Command: FlowModify, Table: TableAll, Priority: 0x8000, Cookie: 7}},
	{"mod-flows cookie=0x7/-1,reg0=1,actions=drop",
		"0104004800000008000023200000000dffffffffffffffff0001000000008000ffffffffffff00000014000000000000000100040000000100013c08000000000000000700000000",
		false, FlowMod{Command: FlowModify, Table: TableAll, Priority: 0x8000, Cookie: 7, CookieMask: ^uint64(0)}},
	{"del-flows cookie=0x7/0xff,reg0=1",
		"0104005000000008000023200000000d00000000000000000003000000008000ffffffffffff0000001c000000000000000100040000000100013d10000000000000000700000000000000ff00000000",
		false, FlowMod{Command: FlowDelete, Table: TableAll, Priority: 0x8000, Cookie: 7, CookieMask: 0xff}},
	{"add table=3,reg0=1,actions=drop (flow_mod_table_id)",
		"010400380000000a000023200000000d00000000000000000300000000008000ffffffffffff000000080000000000000001000400000001",
		true, FlowMod{Command: FlowAdd, Table: 3, Priority: 0x8000}},
}

func TestNXFlowModFromOVS(t *testing.T) {
	for _, tc := range ovsNXFlowMods {
		t.Run(tc.name, func(t *testing.T) {
			raw, err := hex.DecodeString(tc.hex)
			if err != nil {
				t.Fatal(err)
			}
			var m NXFlowMod
			if err := DecodeNXFlowMod(raw[16:], &m, tc.tableID); err != nil {
				t.Fatalf("decode: %v", err)
			}
			want := tc.want
			want.BufferID, want.OutPort, want.OutGroup = NoBuffer, PortAny, GroupAny
			want.Match.Key.Regs[0], want.Match.Mask.Regs[0] = 1, 0xffffffff
			got := m.FlowMod
			got.Actions = nil
			if got.Command != want.Command || got.Table != want.Table || got.Priority != want.Priority ||
				got.Cookie != want.Cookie || got.CookieMask != want.CookieMask || got.BufferID != want.BufferID ||
				got.OutPort != want.OutPort || got.OutGroup != want.OutGroup || got.Match != want.Match {
				t.Fatalf("decoded\n%+v\nwant\n%+v", got, want)
			}
			enc, err := AppendNXFlowMod(nil, 8, &m.FlowMod, tc.tableID)
			if err != nil {
				t.Fatal(err)
			}
			copy(enc[4:8], raw[4:8]) // xid
			if !bytes.Equal(enc, raw) {
				t.Fatalf("re-encoded\n%x\nwant (ovs-ofctl)\n%x", enc, raw)
			}
		})
	}
}

func TestNXFlowModErrors(t *testing.T) {
	good, _ := hex.DecodeString(ovsNXFlowMods[4].hex)
	body := func(edit func(b []byte) []byte) []byte {
		return edit(append([]byte(nil), good[16:]...))
	}
	cases := []struct {
		name string
		b    []byte
		want string
	}{
		{"short", good[16:40], "NXT_FLOW_MOD of 24 bytes"},
		{"match past end", body(func(b []byte) []byte { b[25] = 0x40; return b }), "nx_match of 64 bytes"},
		{"nonzero pad", body(func(b []byte) []byte { b[len(b)-1] = 1; return b }), "padding"},
		{"bad command", body(func(b []byte) []byte { b[9] = 9; return b }), "command 9"},
		{"cookie twice", body(func(b []byte) []byte {
			b[25] += 12
			return append(b[:len(b)-4], 0x00, 0x01, 0x3c, 0x08, 0, 0, 0, 0, 0, 0, 0, 7)
		}), "cookie appears twice"},
		{"cookie on add", body(func(b []byte) []byte { b[9] = 0; return b }), "adds may only set one"},
		{"cookie length", body(func(b []byte) []byte { b[43] = 0x04; return b }), "NXM_NX_COOKIE of 4 bytes"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var m NXFlowMod
			err := DecodeNXFlowMod(tc.b, &m, false)
			if err == nil {
				t.Fatalf("decoded %+v, want an error", m.FlowMod)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q, want it to mention %q", err, tc.want)
			}
			if _, _, ok := ErrorCodeOf(err); !ok {
				t.Fatalf("error %v carries no OpenFlow error code", err)
			}
		})
	}
}

func TestNeedsNXMatch(t *testing.T) {
	var plain, reg flow.Match
	plain.Key.InPort, plain.Mask.InPort = 1, 0xffffffff
	reg = plain
	reg.Key.Regs[0], reg.Mask.Regs[0] = 1, 0xffffffff
	if NeedsNXMatch(&plain) {
		t.Error("in_port=1 needs no nx_match")
	}
	if !NeedsNXMatch(&reg) {
		t.Error("reg0=1 needs an nx_match")
	}
}

func FuzzNXFlowMod(f *testing.F) {
	for _, tc := range ovsNXFlowMods {
		raw, _ := hex.DecodeString(tc.hex)
		f.Add(raw[16:], tc.tableID)
	}
	f.Fuzz(func(t *testing.T, b []byte, tableID bool) {
		var m NXFlowMod
		if err := DecodeNXFlowMod(b, &m, tableID); err != nil {
			if _, _, ok := ErrorCodeOf(err); !ok {
				t.Fatalf("error without an OpenFlow code: %v", err)
			}
			return
		}
		enc, err := AppendNXFlowMod(nil, 1, &m.FlowMod, tableID)
		if err != nil {
			return // e.g. a field 1.0 actions cannot spell
		}
		var again NXFlowMod
		if err := DecodeNXFlowMod(enc[16:], &again, tableID); err != nil {
			t.Fatalf("re-decoding our own encoding: %v\n%x", err, enc)
		}
		if again.Match != m.Match || again.Cookie&again.CookieMask != m.Cookie&m.CookieMask || again.Command != m.Command {
			t.Fatalf("round trip changed the flow mod:\n%+v\n%+v", m.FlowMod, again.FlowMod)
		}
	})
}
