package openflow

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"tapestry/flow"
)

func typicalFlowMod() *FlowMod {
	m := flow.Match{}
	m.Set(flow.FieldInPort, flow.U64(1))
	m.Set(flow.FieldDlType, flow.U64(flow.EthTypeIPv4))
	m.SetMasked(flow.FieldNwDst, flow.U64(0x0a000000), flow.U64(0xffffff00))
	return &FlowMod{Command: FlowAdd, Priority: 100, Match: m, BufferID: NoBuffer, OutPort: PortAny,
		OutGroup: GroupAny, Actions: []Action{{Type: ActOutput, Port: 2}}}
}

func hexMsg(t *testing.T, parts ...[]byte) []byte {
	t.Helper()
	b := bytes.Join(parts, nil)
	b[2], b[3] = byte(len(b)>>8), byte(len(b))
	return b
}

// oxmFlowMod builds a 1.3 flow mod whose match holds the given TLVs and
// whose instructions are insts.
func oxmFlowMod(t *testing.T, tlvs []byte, insts []byte) []byte {
	t.Helper()
	fixed := make([]byte, 40)
	fixed[16] = 0 // table
	n := 4 + len(tlvs)
	match := append([]byte{0, 1, byte(n >> 8), byte(n)}, tlvs...)
	match = padTo8(match, 0)
	return hexMsg(t, []byte{4, 14, 0, 0, 0, 0, 0, 9}, fixed, match, insts)
}

func TestDecodeErrors(t *testing.T) {
	eth := func(et uint16) []byte { return []byte{0x80, 0, 5 << 1, 2, byte(et >> 8), byte(et)} }
	proto := func(p byte) []byte { return []byte{0x80, 0, 10 << 1, 1, p} }
	tcpDst := []byte{0x80, 0, 14 << 1, 2, 0, 80}
	apply := func(acts ...byte) []byte {
		n := 8 + len(acts)
		return append([]byte{0, 4, byte(n >> 8), byte(n), 0, 0, 0, 0}, acts...)
	}
	out := func(port uint32) []byte { return put32([]byte{0, 0, 0, 16}, port)[:8:8] }
	output := func(port uint32) []byte { return pad(put16(out(port), 0), 6) }
	cases := []struct {
		name string
		msg  []byte
		want string
	}{
		{"bad version", []byte{2, 2, 0, 8, 0, 0, 0, 1}, "OFPBRC_BAD_VERSION"}, // an echo request in 1.1: only a hello is heard in any version
		{"bad type 1.3", []byte{4, 30, 0, 8, 0, 0, 0, 1}, "OFPBRC_BAD_TYPE"},
		{"bad type 1.0", []byte{1, 22, 0, 8, 0, 0, 0, 1}, "OFPBRC_BAD_TYPE"},
		{"length mismatch", []byte{4, 0, 0, 9, 0, 0, 0, 1}, "OFPBRC_BAD_LEN"},
		{"short header", []byte{4, 0, 0}, "OFPBRC_BAD_LEN"},
		{"barrier with body", []byte{4, 20, 0, 9, 0, 0, 0, 1, 0}, "OFPBRC_BAD_LEN"},
		{"unknown multipart", hexMsg(t, []byte{4, 18, 0, 0, 0, 0, 0, 1, 0, 99, 0, 0, 0, 0, 0, 0}), "OFPBRC_BAD_MULTIPART"},
		{"prereq missing", oxmFlowMod(t, tcpDst, nil), "OFPBMC_BAD_PREREQ"},
		{"prereq after field", oxmFlowMod(t, bytes.Join([][]byte{proto(6), eth(0x800), tcpDst}, nil), nil), "OFPBMC_BAD_PREREQ"},
		{"dup field", oxmFlowMod(t, bytes.Join([][]byte{eth(0x800), eth(0x800)}, nil), nil), "OFPBMC_DUP_FIELD"},
		{"unknown field", oxmFlowMod(t, []byte{0x80, 0, 120 << 1, 1, 0}, nil), "OFPBMC_BAD_FIELD"},
		{"bad field len", oxmFlowMod(t, []byte{0x80, 0, 5 << 1, 3, 8, 0, 0}, nil), "OFPBMC_BAD_LEN"},
		{"mask on in_port", oxmFlowMod(t, []byte{0x80, 0, 0<<1 | 1, 8, 0, 0, 0, 1, 0, 0, 0, 0xf}, nil), "OFPBMC_BAD_MASK"},
		{"vlan pcp value", oxmFlowMod(t, []byte{0x80, 0, 6 << 1, 2, 0x10, 1, 0x80, 0, 7 << 1, 1, 9}, nil), "OFPBMC_BAD_VALUE"},
		{"tlv past end", oxmFlowMod(t, []byte{0x80, 0, 5 << 1, 9, 8, 0}, nil), "OFPBMC_BAD_LEN"},
		{"dup instruction", oxmFlowMod(t, nil, append(apply(), apply()...)), "OFPBIC_DUP_INST"},
		{"unknown instruction", oxmFlowMod(t, nil, []byte{0, 9, 0, 8, 0, 0, 0, 0}), "OFPBIC_UNKNOWN_INST"},
		{"instruction bad len", oxmFlowMod(t, nil, []byte{0, 1, 0, 16, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}), "OFPBIC_BAD_LEN"},
		{"action bad type", oxmFlowMod(t, nil, apply(0, 99, 0, 8, 0, 0, 0, 0)), "OFPBAC_BAD_TYPE"},
		{"action bad len", oxmFlowMod(t, nil, apply(0, 0, 0, 8, 0, 0, 0, 1)), "OFPBAC_BAD_LEN"},
		{"output to any", oxmFlowMod(t, nil, apply(output(PortAny)...)), "OFPBAC_BAD_OUT_PORT"},
		{"bad experimenter", oxmFlowMod(t, nil, apply(0xff, 0xff, 0, 16, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0)), "OFPBAC_BAD_EXPERIMENTER"},
		{"set_field bad type", oxmFlowMod(t, nil, apply(0, 25, 0, 16, 0x80, 0, 120<<1, 2, 0, 0, 0, 0, 0, 0, 0, 0)), "OFPBAC_BAD_SET_TYPE"},
		{"set_field bad len", oxmFlowMod(t, nil, apply(0, 25, 0, 16, 0x80, 0, 5<<1, 3, 8, 0, 0, 0, 0, 0, 0, 0)), "OFPBAC_BAD_SET_LEN"},
		{"set_field prereq", oxmFlowMod(t, nil, apply(0, 25, 0, 16, 0x80, 0, 12<<1, 4, 1, 2, 3, 4, 0, 0, 0, 0)), "OFPBAC_MATCH_INCONSISTENT"},
		{"bad command", func() []byte { b := oxmFlowMod(t, nil, nil); b[8+17] = 9; return b }(), "OFPFMFC_BAD_COMMAND"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode(tc.msg)
			typ, code, ok := ErrorCodeOf(err)
			if !ok || ErrorName(typ, code) != tc.want {
				t.Fatalf("Decode(%x) = %v, want %s", tc.msg, err, tc.want)
			}
		})
	}
}

func TestReadMessage(t *testing.T) {
	hello, _ := (&Hello{Versions: 1 << 4}).Append(nil, Version13, 1)
	echo, _ := (&EchoRequest{Data: []byte("x")}).Append(nil, Version13, 2)
	r := bytes.NewReader(append(append([]byte(nil), hello...), echo...))
	buf := make([]byte, MaxMessageLen)
	got, err := ReadMessage(r, buf)
	if err != nil || !bytes.Equal(got, hello) {
		t.Fatalf("first ReadMessage = %x, %v", got, err)
	}
	got, err = ReadMessage(r, buf)
	if err != nil || !bytes.Equal(got, echo) {
		t.Fatalf("second ReadMessage = %x, %v", got, err)
	}
	if _, err := ReadMessage(r, buf); err != io.EOF {
		t.Fatalf("ReadMessage at end = %v, want EOF", err)
	}
	cases := []struct {
		name string
		in   []byte
		want error
	}{
		{"length below header", []byte{4, 0, 0, 7, 0, 0, 0, 0}, &CodecError{Type: ErrBadRequest, Code: BRCBadLen}},
		{"truncated body", []byte{4, 0, 0, 16, 0, 0, 0, 0, 1}, io.ErrUnexpectedEOF},
		{"too big for buffer", []byte{4, 0, 0xff, 0xff, 0, 0, 0, 0}, ErrShortBuffer},
	}
	for _, tc := range cases {
		_, err := ReadMessage(bytes.NewReader(tc.in), make([]byte, 64))
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: ReadMessage = %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestFlowModRoundTrip(t *testing.T) {
	fm := typicalFlowMod()
	fm.Actions = []Action{
		MeterLike(3),
		{Type: ActSetField, Dst: flow.Whole(flow.FieldReg0), Value: flow.U64(7)},
		{Type: ActOutput, Port: 2},
		{Type: ActClearActions},
		{Type: ActWriteActions, Nested: []Action{{Type: ActGroup, Group: 4}}},
		{Type: ActWriteMetadata, Value: flow.U64(1), Mask: flow.U64(0xff)},
		{Type: ActGotoTable, Table: 5},
	}
	for _, v := range []uint8{Version13} {
		b, err := fm.Append(nil, v, 1)
		if err != nil {
			t.Fatal(err)
		}
		var got FlowMod
		if err := DecodeFlowMod(b, &got); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(&got, fm) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", got, *fm)
		}
	}
}

// MeterLike is a meter instruction for tests.
func MeterLike(id uint16) Action { return Action{Type: ActMeter, ID: id} }

func TestDecodeFlowModAllocs(t *testing.T) {
	b, err := typicalFlowMod().Append(nil, Version13, 1)
	if err != nil {
		t.Fatal(err)
	}
	var fm FlowMod
	fm.Actions = make([]Action, 0, 8)
	allocs := testing.AllocsPerRun(100, func() {
		if err := DecodeFlowMod(b, &fm); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("DecodeFlowMod allocates %.0f times", allocs)
	}
	dst := make([]byte, 0, 512)
	fm2 := typicalFlowMod()
	allocs = testing.AllocsPerRun(100, func() {
		if _, err := fm2.Append(dst[:0], Version13, 1); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("FlowMod.Append allocates %.0f times", allocs)
	}
}

func BenchmarkDecodeFlowMod13(b *testing.B) {
	msg, _ := typicalFlowMod().Append(nil, Version13, 1)
	var fm FlowMod
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		if err := DecodeFlowMod(msg, &fm); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeMessageFlowMod13(b *testing.B) {
	msg, _ := typicalFlowMod().Append(nil, Version13, 1)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(msg); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeFlowMod13(b *testing.B) {
	fm := typicalFlowMod()
	dst := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := fm.Append(dst[:0], Version13, 1); err != nil {
			b.Fatal(err)
		}
	}
}

// seedCorpus adds every os-ken vector to a fuzz corpus.
func seedCorpus(f *testing.F) {
	for _, dir := range []string{"of10", "of13"} {
		files, _ := filepath.Glob(filepath.Join(osKenDir, "packet_data", dir, "*"))
		for _, p := range files {
			if b, err := os.ReadFile(p); err == nil {
				f.Add(b)
			}
		}
	}
	b, _ := typicalFlowMod().Append(nil, Version13, 1)
	f.Add(b)
}

// FuzzDecode: no panic; whatever decodes re-encodes, and the re-encoding
// decodes to the same value.
func FuzzDecode(f *testing.F) {
	seedCorpus(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		b = b[:min(len(b), MaxMessageLen)]
		if len(b) >= 4 {
			b[2], b[3] = byte(len(b)>>8), byte(len(b)) // reach past framing
		}
		m, err := Decode(b)
		if err != nil {
			return
		}
		out, err := m.Append(nil, b[0], 1)
		if err != nil {
			return // decodable but not encodable in canonical form (e.g. odd masks)
		}
		m2, err := Decode(out)
		if err != nil {
			t.Fatalf("re-encoding %x of %x does not decode: %v", out, b, err)
		}
		if !reflect.DeepEqual(m, m2) {
			t.Fatalf("round trip differs for %x:\n%+v\n%+v", b, m, m2)
		}
	})
}

// FuzzOXM decodes an OXM field list and checks that the match re-encodes
// to TLVs that decode to the same match.
func FuzzOXM(f *testing.F) {
	f.Add([]byte{0x80, 0, 10, 2, 8, 0, 0x80, 0, 0x18, 4, 10, 0, 0, 1})
	f.Add([]byte{0, 1, 0, 4, 0, 0, 0, 5})
	f.Fuzz(func(t *testing.T, b []byte) {
		var m flow.Match
		if err := decodeOXMFields(b, &m); err != nil {
			return
		}
		out, err := appendOXMFields(nil, &m)
		if err != nil {
			return
		}
		var m2 flow.Match
		if err := decodeOXMFields(out, &m2); err != nil {
			t.Fatalf("re-encoded %x does not decode: %v", out, err)
		}
		if m != m2 {
			t.Fatalf("OXM round trip differs for %x", b)
		}
	})
}

// FuzzActions decodes action lists of both versions and checks the
// round trip.
func FuzzActions(f *testing.F) {
	f.Add(uint8(Version13), []byte{0, 0, 0, 16, 0, 0, 0, 1, 0xff, 0xff, 0, 0, 0, 0, 0, 0})
	f.Add(uint8(Version10), []byte{0, 0, 0, 8, 0, 1, 0, 0})
	for _, b := range append(nxFuzzSeeds(), ctFuzzSeeds()...) {
		f.Add(uint8(Version13), b)
	}
	f.Fuzz(func(t *testing.T, v uint8, b []byte) {
		version := Version10
		if v&1 == 1 {
			version = Version13
		}
		acts, err := decodeActions(version, b, nil)
		if err != nil {
			return
		}
		out, err := appendActions(nil, version, acts, nil)
		if err != nil {
			return
		}
		acts2, err := decodeActions(version, out, nil)
		if err != nil {
			t.Fatalf("re-encoded %x does not decode: %v", out, err)
		}
		if !reflect.DeepEqual(acts, acts2) {
			t.Fatalf("actions round trip differs for %x:\n%+v\n%+v", b, acts, acts2)
		}
	})
}

// TestDecodeNewerHello decodes the HELLO Open vSwitch 3 sends: version 0x06
// with a bitmap offering 1.0 to 1.5.
func TestDecodeNewerHello(t *testing.T) {
	raw := []byte{0x06, 0x00, 0x00, 0x10, 0, 0, 0, 1, 0x00, 0x01, 0x00, 0x08, 0x00, 0x00, 0x00, 0x7e}
	m, err := Decode(raw)
	if err != nil {
		t.Fatalf("Decode(OF1.5 hello): %v", err)
	}
	if h, ok := m.(*Hello); !ok || h.Versions != 0x7e {
		t.Fatalf("Decode(OF1.5 hello) = %#v, want Hello with bitmap 0x7e", m)
	}
	raw[1] = 5 // any other message type of an unknown version is still refused
	if _, err := Decode(raw); err == nil {
		t.Fatalf("Decode accepted a 1.5 message that is not a hello")
	}
}
