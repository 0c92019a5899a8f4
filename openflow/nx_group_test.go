package openflow

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"tapestry/flow"
	"tapestry/internal/hosttest"
)

// nxGroupBody strips the OpenFlow header, vendor id and subtype from an
// NXT_GROUP_MOD message.
func nxGroupBody(t *testing.T, msg []byte) []byte {
	t.Helper()
	m, err := Decode(msg)
	if err != nil {
		t.Fatalf("Decode %x: %v", msg, err)
	}
	e, ok := m.(*Experimenter)
	if !ok || e.Experimenter != niciraExperimenterID || len(e.Data) < 4 || be32(e.Data) != NXTGroupMod {
		t.Fatalf("%x is not an NXT_GROUP_MOD: %#v", msg, m)
	}
	return e.Data[4:]
}

func out10(port uint32) []Action { return []Action{{Type: ActOutput, Port: port}} }

// TestNXGroupModFromOVS has the real ovs-ofctl -O OpenFlow10 send group
// mods to a fake switch; each must decode into the expected group mod and
// re-encode to Open vSwitch's bytes.
func TestNXGroupModFromOVS(t *testing.T) {
	hosttest.Need(t, "ovs-ofctl", "openvswitch-common")
	any := func(w uint16, acts []Action) Bucket {
		return Bucket{Weight: w, WatchPort: PortAny, WatchGroup: GroupAny, Actions: acts}
	}
	tests := []struct {
		args []string
		want GroupMod
	}{
		{[]string{"add-group", "group_id=1,type=all,bucket=output:1"}, GroupMod{GroupAdd, Group{GroupTypeAll, 1, []Bucket{any(0, out10(1))}}}},
		{[]string{"add-group", "group_id=2,type=select,bucket=weight:5,output:1,bucket=output:2"}, GroupMod{GroupAdd, Group{GroupTypeSelect, 2, []Bucket{any(5, out10(1)), any(1, out10(2))}}}},
		{[]string{"add-group", "group_id=3,type=fast_failover,bucket=watch_port:1,output:1,bucket=watch_group:1,output:2"}, GroupMod{GroupAdd, Group{GroupTypeFastFailover, 3, []Bucket{{WatchPort: 1, WatchGroup: GroupAny, Actions: out10(1)}, {WatchPort: PortAny, WatchGroup: 1, Actions: out10(2)}}}}},
		{[]string{"add-group", "group_id=4,type=indirect,bucket=mod_dl_src:02:00:00:00:00:09,group:1"}, GroupMod{GroupAdd, Group{GroupTypeIndirect, 4, []Bucket{any(0, []Action{{Type: ActModDlSrc, Value: flow.Bytes([]byte{2, 0, 0, 0, 0, 9})}, {Type: ActGroup, Group: 1}})}}}},
		{[]string{"add-group", "group_id=5,type=all"}, GroupMod{GroupAdd, Group{GroupTypeAll, 5, nil}}},
		{[]string{"mod-group", "group_id=2,type=select,bucket=output:2"}, GroupMod{GroupModify, Group{GroupTypeSelect, 2, []Bucket{any(1, out10(2))}}}},
		{[]string{"del-groups", "group_id=3"}, GroupMod{GroupDelete, Group{GroupTypeAll, 3, nil}}},
		{[]string{"del-groups"}, GroupMod{GroupDelete, Group{GroupTypeAll, GroupAll, nil}}},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			msgs := captureOVS(t, Version10, tc.args...)
			if len(msgs) != 1 {
				t.Fatalf("captured %d messages, want 1", len(msgs))
			}
			got, err := DecodeNXGroupMod(nxGroupBody(t, msgs[0]))
			if err != nil {
				t.Fatalf("DecodeNXGroupMod: %v", err)
			}
			if diff := cmp.Diff(&tc.want, got); diff != "" {
				t.Errorf("decoded (-want +got):\n%s", diff)
			}
			b, err := AppendNXGroupMod(nil, be32(msgs[0][4:]), got)
			if err != nil {
				t.Fatalf("AppendNXGroupMod: %v", err)
			}
			if !bytes.Equal(b, msgs[0]) {
				t.Errorf("re-encoded\n%x\nOpen vSwitch sent\n%x", b, msgs[0])
			}
		})
	}
}

// TestNXGroupModErrors: malformed bodies fail with the error Open vSwitch
// would send.
func TestNXGroupModErrors(t *testing.T) {
	hdr := "00000000" + "00000001" // command ADD, type all, group 1
	tests := []struct {
		name string
		body string
		t    ErrorType
		code uint16
	}{
		{"short", "0000", ErrBadRequest, BRCBadLen},
		{"bad command", "0005000000000001" + "00000000ffffffff", ErrGroupModFailed, GMFCBadCommand},
		{"bad type", "0000070000000001" + "00000000ffffffff", ErrGroupModFailed, GMFCBadType},
		{"bucket array too long", hdr + "00100000ffffffff", ErrGroupModFailed, GMFCBadBucket},
		{"group property", hdr + "00000000ffffffff" + "ffff000800002320", ErrGroupModFailed, GMFCBadType},
		{"bucket length", hdr + "00100000ffffffff" + "0011000800000000" + "0000000800010000", ErrGroupModFailed, GMFCBadBucket},
		{"actions overflow", hdr + "00100000ffffffff" + "0010001000000000" + "0000000800010000", ErrGroupModFailed, GMFCBadBucket},
		{"property type", hdr + "00180000ffffffff" + "0018000800000000" + "0000000800010000" + "0009000800000001", ErrGroupModFailed, GMFCBadBucket},
		{"property length", hdr + "00180000ffffffff" + "0018000800000000" + "0000000800010000" + "0000001000000001", ErrGroupModFailed, GMFCBadBucket},
		{"bad action", hdr + "00100000ffffffff" + "0010000800000000" + "0077000800010000", ErrBadAction, BACBadType},
	}
	for _, tc := range tests {
		b, err := hex.DecodeString(tc.body)
		if err != nil {
			t.Fatal(err)
		}
		_, err = DecodeNXGroupMod(b)
		if typ, code, ok := ErrorCodeOf(err); !ok || typ != tc.t || code != tc.code {
			t.Errorf("%s: %v, want %s", tc.name, err, ErrorName(tc.t, tc.code))
		}
	}
}

// TestNXGroupErrorWire: a group error to an OpenFlow 1.0 peer is a Nicira
// vendor error carrying the OpenFlow 1.1 type and code, byte for byte what
// Open vSwitch 3.1 sent to ovs-ofctl for a duplicate add-group.
func TestNXGroupErrorWire(t *testing.T) {
	req, _ := hex.DecodeString("0104003000000006000023200000001f000000000000000100100000ffffffff00100008000000000000000800010000")
	want := "0101004400000006b0c2000000002320000600000104003000000006000023200000001f000000000000000100100000ffffffff00100008000000000000000800010000"
	b, err := ErrorFor(Version10, errorf(ErrGroupModFailed, GMFCGroupExists, "group 1"), req).Append(nil, Version10, 6)
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(b); got != want {
		t.Errorf("error\n%s\nwant\n%s", got, want)
	}
	if text := ovsPrint(t, b); text != "" && !strings.Contains(text, "OFPGMFC_GROUP_EXISTS") {
		t.Errorf("ofp-print: %s", text)
	}
}

// Entries as ovs-ofctl printed them from a real Open vSwitch 3.1 bridge.
var nxTestGroups = []Group{
	{GroupTypeAll, 1, []Bucket{{WatchPort: PortAny, WatchGroup: GroupAny, Actions: out10(1)}}},
	{GroupTypeSelect, 2, []Bucket{{Weight: 5, WatchPort: PortAny, WatchGroup: GroupAny, Actions: out10(1)}, {Weight: 1, WatchPort: PortAny, WatchGroup: GroupAny, Actions: out10(2)}}},
	{GroupTypeFastFailover, 3, []Bucket{{WatchPort: 1, WatchGroup: GroupAny, Actions: out10(1)}, {WatchPort: PortAny, WatchGroup: 1, Actions: out10(2)}}},
}

// TestNXGroupStatsOVSPrint encodes the Nicira group stats messages and
// has ovs-ofctl ofp-print decode them; the desc reply must be the bytes a
// real Open vSwitch sent for the same groups.
func TestNXGroupStatsOVSPrint(t *testing.T) {
	hosttest.Need(t, "ovs-ofctl", "openvswitch-common")
	feat := GroupFeatures{Types: 0xf, Capabilities: 7, MaxGroups: [4]uint32{0xffffff00, 0xffffff00, 0xffffff00, 0xffffff00}, Actions: [4]uint32{0xfff, 0xfff, 0xfff, 0xfff}}
	tests := []struct {
		name string
		msg  interface {
			Append([]byte, uint32) ([]byte, error)
		}
		want string
	}{
		{"desc request", &NXGroupStatsRequest{Subtype: NXSTGroupDesc, Group: GroupAll}, "NXST_GROUP_DESC request (xid=0x2): group_id=ALL"},
		{"stats request", &NXGroupStatsRequest{Subtype: NXSTGroup, Group: 5}, "NXST_GROUP request (xid=0x2): group_id=5"},
		{"features request", &NXGroupStatsRequest{Subtype: NXSTGroupFeatures}, "NXST_GROUP_FEATURES request (xid=0x2)"},
		{"desc reply", &NXGroupStatsReply{Subtype: NXSTGroupDesc, GroupDescs: nxTestGroups}, `NXST_GROUP_DESC reply (xid=0x2):
 group_id=1,type=all,bucket=bucket_id:0,actions=output:1
 group_id=2,type=select,bucket=bucket_id:0,weight:5,actions=output:1,bucket=bucket_id:1,actions=output:2
 group_id=3,type=ff,bucket=bucket_id:0,watch_port:1,actions=output:1,bucket=bucket_id:1,watch_group:1,actions=output:2`},
		{"stats reply", &NXGroupStatsReply{Subtype: NXSTGroup, Groups: []GroupStats{{ID: 1, RefCount: 2, Packets: 3, Bytes: 4, Duration: 5<<32 | 500000000, Buckets: [][2]uint64{{3, 4}}}}}, `NXST_GROUP reply (xid=0x2):
 group_id=1,duration=5.500s,ref_count=2,packet_count=3,byte_count=4,bucket0:packet_count=3,byte_count=4`},
		{"features reply", &NXGroupStatsReply{Subtype: NXSTGroupFeatures, Features: feat}, "NXST_GROUP_FEATURES reply (xid=0x2):\n Group table:\n    Types:  0xf\n    Capabilities:  0x7\n    all group:\n       max_groups=0xffffff00\n       actions: output enqueue set_vlan_vid"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := tc.msg.Append(nil, 2)
			if err != nil {
				t.Fatal(err)
			}
			if text := ovsPrint(t, b); !strings.HasPrefix(text, tc.want) {
				t.Errorf("ofp-print %x:\n%s\nwant prefix\n%s", b, text, tc.want)
			}
			m, err := Decode(b)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			var back interface {
				Append([]byte, uint32) ([]byte, error)
			}
			switch m := m.(type) {
			case *MultipartRequest:
				r, ok, err := DecodeNXGroupStatsRequest(m)
				if !ok || err != nil {
					t.Fatalf("DecodeNXGroupStatsRequest: %v %v", ok, err)
				}
				back = &r
			case *MultipartReply:
				if back, err = DecodeNXGroupStatsReply(m); err != nil {
					t.Fatalf("DecodeNXGroupStatsReply: %v", err)
				}
			}
			if b2, err := back.Append(nil, 2); err != nil || !bytes.Equal(b, b2) {
				t.Errorf("round trip: %v\n%x\n%x", err, b, b2)
			}
		})
	}
	// Open vSwitch's own NXST_GROUP_DESC reply for nxTestGroups.
	ovs := "011100b800000002ffff000000002320000000080000000000200000000000010010000000000000001000080000000000000008000100000040010000000002003000000000000000180008000000000000000800010000000000080005000000180008000000010000000800020000000000080001000000400300000000030030000000000000001800080000000000000008000100000001000800000001001800080000000100000008000200000002000800000001"
	b, err := (&NXGroupStatsReply{Subtype: NXSTGroupDesc, GroupDescs: nxTestGroups}).Append(nil, 2)
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(b); got != ovs {
		t.Errorf("desc reply\n%s\nOpen vSwitch sends\n%s", got, ovs)
	}
}

// TestNXGroupStatsRequestOther: Nicira stats that are not about groups are
// left to the caller; a group request of the wrong length is an error.
func TestNXGroupStatsRequestOther(t *testing.T) {
	tests := []struct {
		name   string
		m      MultipartRequest
		ok     bool
		errLen bool
	}{
		{"nxst flow", MultipartRequest{MPType: MPExperimenter, Experimenter: niciraExperimenterID, Body: make([]byte, 16)}, false, false},
		{"other vendor", MultipartRequest{MPType: MPExperimenter, Experimenter: 1, Body: []byte{0, 0, 0, 7, 0, 0, 0, 0}}, false, false},
		{"short desc", MultipartRequest{MPType: MPExperimenter, Experimenter: niciraExperimenterID, Body: []byte{0, 0, 0, 8, 0, 0, 0, 0}}, true, true},
		{"long features", MultipartRequest{MPType: MPExperimenter, Experimenter: niciraExperimenterID, Body: []byte{0, 0, 0, 9, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8}}, true, true},
	}
	for _, tc := range tests {
		_, ok, err := DecodeNXGroupStatsRequest(&tc.m)
		if ok != tc.ok || (err != nil) != tc.errLen || (err != nil && !errors.Is(err, &CodecError{Type: ErrBadRequest, Code: BRCBadLen})) {
			t.Errorf("%s: ok %v err %v", tc.name, ok, err)
		}
	}
}

// FuzzNXGroupMod: whatever decodes re-encodes to something that decodes
// to the same group mod.
func FuzzNXGroupMod(f *testing.F) {
	for _, s := range []string{
		"000000000000000100100000ffffffff00100008000000000000000800010000",
		"000001000000000200300000ffffffff001800080000000000000008000100000000000800050000001800080000000100000008000200000000000800010000",
		"000003000000000300300000ffffffff001800080000000000000008000100000001000800000001001800080000000100000008000200000002000800000001",
		"00020000fffffffc00000000ffffffff",
	} {
		b, _ := hex.DecodeString(s)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		g, err := DecodeNXGroupMod(b)
		if err != nil {
			return
		}
		msg, err := AppendNXGroupMod(nil, 1, g)
		if err != nil {
			return // a decodable action need not be encodable (as for flow mods)
		}
		g2, err := DecodeNXGroupMod(msg[HeaderLen+8:])
		if err != nil {
			t.Fatalf("re-encoded %x does not decode: %v", msg, err)
		}
		if diff := cmp.Diff(g, g2); diff != "" {
			t.Fatalf("round trip (-first +second):\n%s", diff)
		}
	})
}

// FuzzNXGroupStatsReply: any reply body decodes or fails cleanly, and what
// decodes round-trips.
func FuzzNXGroupStatsReply(f *testing.F) {
	for _, sub := range []uint32{NXSTGroup, NXSTGroupDesc, NXSTGroupFeatures} {
		r := NXGroupStatsReply{Subtype: sub, GroupDescs: nxTestGroups, Groups: []GroupStats{{ID: 1, Buckets: [][2]uint64{{1, 2}}}}}
		b, _ := r.Append(nil, 1)
		f.Add(b[HeaderLen+4:])
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := DecodeNXGroupStatsReply(&MultipartReply{MPType: MPExperimenter, Body: body})
		if err != nil {
			return
		}
		b, err := r.Append(nil, 1)
		if err != nil {
			return
		}
		r2, err := DecodeNXGroupStatsReply(&MultipartReply{MPType: MPExperimenter, Body: b[HeaderLen+4:]})
		if err != nil {
			t.Fatalf("re-encoded reply does not decode: %v", err)
		}
		if diff := cmp.Diff(r, r2); diff != "" {
			t.Fatalf("round trip (-first +second):\n%s", diff)
		}
	})
}

// BenchmarkNXGroupMod decodes and re-encodes a two-bucket select group
// mod (control plane, so allocations are only reported).
func BenchmarkNXGroupMod(b *testing.B) {
	body, _ := hex.DecodeString("000001000000000200300000ffffffff001800080000000000000008000100000000000800050000001800080000000100000008000200000000000800010000")
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		g, err := DecodeNXGroupMod(body)
		if err != nil {
			b.Fatal(err)
		}
		if buf, err = AppendNXGroupMod(buf[:0], 1, g); err != nil {
			b.Fatal(err)
		}
	}
}
