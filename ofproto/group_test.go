package ofproto

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"tapestry/flow"
	"tapestry/ofctl"
	"tapestry/openflow"
	"tapestry/packet"
)

// bkt is a bucket with the given ofctl actions, weight 1 and no watch.
func bkt(acts string) openflow.Bucket {
	a, err := ofctl.ParseActions(acts, nil)
	if err != nil {
		panic(fmt.Sprintf("ParseActions(%q): %v", acts, err))
	}
	return openflow.Bucket{Weight: 1, WatchPort: openflow.PortAny, WatchGroup: openflow.GroupAny, Actions: a}
}

func weighted(w uint16, b openflow.Bucket) openflow.Bucket { b.Weight = w; return b }

func watchPort(p uint32, b openflow.Bucket) openflow.Bucket { b.WatchPort = p; return b }

func watchGroup(g uint32, b openflow.Bucket) openflow.Bucket { b.WatchGroup = g; return b }

func addGroup(typ uint8, id uint32, buckets ...openflow.Bucket) openflow.GroupMod {
	return openflow.GroupMod{Command: openflow.GroupAdd, Group: openflow.Group{GroupType: typ, ID: id, Buckets: buckets}}
}

func modGroup(typ uint8, id uint32, buckets ...openflow.Bucket) openflow.GroupMod {
	gm := addGroup(typ, id, buckets...)
	gm.Command = openflow.GroupModify
	return gm
}

func delGroup(id uint32) openflow.GroupMod {
	return openflow.GroupMod{Command: openflow.GroupDelete, Group: openflow.Group{ID: id}}
}

const (
	gAll      = openflow.GroupTypeAll
	gSelect   = openflow.GroupTypeSelect
	gIndirect = openflow.GroupTypeIndirect
	gFF       = openflow.GroupTypeFastFailover
)

func (tb *testBridge) groups(gms ...openflow.GroupMod) {
	tb.t.Helper()
	for _, gm := range gms {
		if _, err := tb.GroupMod(gm); err != nil {
			tb.t.Fatalf("GroupMod(%d, group %d): %v", gm.Command, gm.ID, err)
		}
	}
}

// describe prints what the tests look at in a frame: destination MAC and
// VLAN tag.
func describe(frame []byte) string {
	var k flow.Key
	flow.Extract(frame, 0, &k)
	s := "dst=" + macString(k.DlDst)
	if k.VlanTCI != 0 {
		s += fmt.Sprintf(",vlan=%d", k.VlanTCI&flow.VlanVIDMask)
	}
	return s
}

// sent describes what each port sent since the last call.
func (tb *testBridge) sent() map[uint32][]string {
	m := map[uint32][]string{}
	for no, fs := range tb.out() {
		for _, f := range fs {
			m[no] = append(m[no], describe(f))
		}
	}
	return m
}

const (
	dB = "dst=00:00:00:00:00:0b"
	dC = "dst=00:00:00:00:00:0c"
)

func TestGroupForwarding(t *testing.T) {
	tests := []struct {
		name   string
		groups []openflow.GroupMod
		flows  []string
		down   []uint32 // ports set down before the packet
		want   map[uint32][]string
	}{
		{"all", []openflow.GroupMod{addGroup(gAll, 1, bkt("output:2"), bkt("output:3"))}, []string{"in_port=1,actions=group:1"}, nil,
			map[uint32][]string{2: {dB}, 3: {dB}}},
		{"all buckets are clones", []openflow.GroupMod{addGroup(gAll, 1, bkt("mod_dl_dst:00:00:00:00:00:0c,output:2"), bkt("output:3"))},
			[]string{"in_port=1,actions=group:1,output:4"}, nil, map[uint32][]string{2: {dC}, 3: {dB}, 4: {dB}}},
		{"all with vlan push in a bucket", []openflow.GroupMod{addGroup(gAll, 1, bkt("mod_vlan_vid:10,output:2"), bkt("output:3"))},
			[]string{"in_port=1,actions=group:1"}, nil, map[uint32][]string{2: {dB + ",vlan=10"}, 3: {dB}}},
		{"all skips the input port", []openflow.GroupMod{addGroup(gAll, 1, bkt("output:1"), bkt("output:2"))},
			[]string{"in_port=1,actions=group:1"}, nil, map[uint32][]string{2: {dB}}},
		{"indirect", []openflow.GroupMod{addGroup(gIndirect, 1, bkt("output:3"))}, []string{"in_port=1,actions=group:1"}, nil,
			map[uint32][]string{3: {dB}}},
		{"select one bucket", []openflow.GroupMod{addGroup(gSelect, 1, bkt("output:4"))}, []string{"in_port=1,actions=group:1"}, nil,
			map[uint32][]string{4: {dB}}},
		{"select skips weight 0", []openflow.GroupMod{addGroup(gSelect, 1, weighted(0, bkt("output:2")), bkt("output:3"))},
			[]string{"in_port=1,actions=group:1"}, nil, map[uint32][]string{3: {dB}}},
		{"select skips dead buckets", []openflow.GroupMod{addGroup(gSelect, 1, watchPort(2, bkt("output:2")), watchPort(3, bkt("output:3")))},
			[]string{"in_port=1,actions=group:1"}, []uint32{2}, map[uint32][]string{3: {dB}}},
		{"fast failover first live", []openflow.GroupMod{addGroup(gFF, 1, watchPort(2, bkt("output:2")), watchPort(3, bkt("output:3")))},
			[]string{"in_port=1,actions=group:1"}, nil, map[uint32][]string{2: {dB}}},
		{"fast failover second", []openflow.GroupMod{addGroup(gFF, 1, watchPort(2, bkt("output:2")), watchPort(3, bkt("output:3")))},
			[]string{"in_port=1,actions=group:1"}, []uint32{2}, map[uint32][]string{3: {dB}}},
		{"fast failover none live", []openflow.GroupMod{addGroup(gFF, 1, watchPort(2, bkt("output:2")), watchPort(3, bkt("output:3")))},
			[]string{"in_port=1,actions=group:1,output:4"}, []uint32{2, 3}, map[uint32][]string{4: {dB}}},
		{"fast failover watch group", []openflow.GroupMod{
			addGroup(gFF, 2, watchPort(2, bkt("output:2"))),
			addGroup(gFF, 1, watchGroup(2, bkt("output:3")), watchPort(4, bkt("output:4")))},
			[]string{"in_port=1,actions=group:1"}, []uint32{2}, map[uint32][]string{4: {dB}}},
		{"chained", []openflow.GroupMod{addGroup(gAll, 2, bkt("output:2"), bkt("output:3")), addGroup(gIndirect, 1, bkt("group:2"))},
			[]string{"in_port=1,actions=group:1"}, nil, map[uint32][]string{2: {dB}, 3: {dB}}},
		{"action set group wins over output", []openflow.GroupMod{addGroup(gIndirect, 1, bkt("output:3"))},
			[]string{"in_port=1,actions=write_actions(output:2,group:1)"}, nil, map[uint32][]string{3: {dB}}},
		{"bucket changes are not seen after the group", []openflow.GroupMod{addGroup(gIndirect, 1, bkt("mod_dl_dst:00:00:00:00:00:0c,load:1->NXM_NX_REG0[],output:3"))},
			[]string{"in_port=1,actions=group:1,resubmit(,1)", "table=1,reg0=0,dl_dst=00:00:00:00:00:0b,actions=output:4"}, nil,
			map[uint32][]string{3: {dC}, 4: {dB}}},
		{"group in resubmitted table", []openflow.GroupMod{addGroup(gIndirect, 1, bkt("mod_dl_dst:00:00:00:00:00:0c,output:3"))},
			[]string{"in_port=1,actions=resubmit(,1),output:2", "table=1,actions=group:1"}, nil, map[uint32][]string{2: {dB}, 3: {dC}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tb := newTestBridge(t, 4)
			tb.groups(tc.groups...)
			tb.flows(tc.flows...)
			for _, p := range tc.down {
				if err := tb.ModPort(p, openflow.PortDown, openflow.PortDown); err != nil {
					t.Fatal(err)
				}
			}
			for i := 0; i < 2; i++ { // the second packet hits the caches
				tb.rx(1, tcp("10.0.0.1:1000", "10.0.0.2:80"))
				if diff := cmp.Diff(tc.want, tb.sent()); diff != "" {
					t.Errorf("packet %d: sent (-want +got):\n%s", i, diff)
				}
			}
		})
	}
}

// TestSelectWeights sends many flows through select groups and checks that
// each bucket gets a share of them proportional to its weight, that a flow
// always takes the same bucket, and that both directions of a connection
// take the same bucket.
func TestSelectWeights(t *testing.T) {
	tests := []struct {
		name    string
		weights []uint16
	}{
		{"equal", []uint16{1, 1}},
		{"one to three", []uint16{1, 3}},
		{"three buckets", []uint16{1, 1, 2}},
		{"big weights", []uint16{100, 300, 600}},
	}
	const flows = 3000
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tb := newTestBridge(t, 5)
			var bs []openflow.Bucket
			total := 0
			for i, w := range tc.weights {
				bs = append(bs, weighted(w, bkt(fmt.Sprintf("output:%d", i+2))))
				total += int(w)
			}
			tb.groups(addGroup(gSelect, 7, bs...))
			tb.flows("actions=group:7")
			first := map[int]uint32{}
			for round := 0; round < 2; round++ {
				count := map[uint32]int{}
				for i := 0; i < flows; i++ {
					src := fmt.Sprintf("10.0.%d.%d:%d", i/250%250, i%250+1, 1024+i)
					tb.rx(1, tcp(src, "10.9.0.1:80"))
					for no := range tb.out() {
						count[no]++
						if round == 0 {
							first[i] = no
						} else if first[i] != no {
							t.Fatalf("flow %d went to port %d, then to %d", i, first[i], no)
						}
					}
				}
				for i, w := range tc.weights {
					want := float64(flows) * float64(w) / float64(total)
					got := float64(count[uint32(i+2)])
					// Binomial standard deviation; 5 sigma keeps the test
					// stable while catching unweighted selection.
					sd := math.Sqrt(want * (1 - float64(w)/float64(total)))
					if math.Abs(got-want) > 5*sd+1 {
						t.Errorf("bucket %d (weight %d) got %v of %d flows, want %.0f±%.0f", i, w, got, flows, want, 5*sd)
					}
				}
			}
			// The reverse direction, arriving on port 5, takes the same
			// bucket (symmetric hash).
			for i := 0; i < 200; i++ {
				src := fmt.Sprintf("10.0.%d.%d:%d", i/250%250, i%250+1, 1024+i)
				tb.rx(5, packet.TCPSegment(macB, macA, ap("10.9.0.1:80"), ap(src), packet.TCPFlagACK, nil))
				for no := range tb.out() {
					if no != first[i] {
						t.Fatalf("reply of flow %d went to port %d, request to %d", i, no, first[i])
					}
				}
			}
		})
	}
}

func TestSelectMegaflowMask(t *testing.T) {
	tb := newTestBridge(t, 3)
	tb.groups(addGroup(gSelect, 1, bkt("output:2"), bkt("output:3")))
	tb.flows("actions=group:1")
	tr := tb.TracePacket(tcp("10.0.0.1:1000", "10.0.0.2:80"), 1)
	for _, f := range []string{"tcp", "in_port=1", "dl_src=00:00:00:00:00:0a", "dl_dst=00:00:00:00:00:0b",
		"nw_src=10.0.0.1", "nw_dst=10.0.0.2", "tp_src=1000", "tp_dst=80"} {
		if !strings.Contains(tr.Megaflow, f) {
			t.Errorf("megaflow %q lacks %q", tr.Megaflow, f)
		}
	}
}

func TestFastFailoverFollowsPorts(t *testing.T) {
	tb := newTestBridge(t, 4)
	tb.groups(addGroup(gFF, 1, watchPort(2, bkt("output:2")), watchPort(3, bkt("output:3"))))
	tb.flows("in_port=1,actions=group:1")
	steps := []struct {
		port   uint32
		config openflow.PortConfig
		want   uint32
	}{
		{2, 0, 2},
		{2, openflow.PortDown, 3},
		{3, openflow.PortDown, 0},
		{3, 0, 3},
		{2, 0, 2},
	}
	for i, s := range steps {
		if err := tb.ModPort(s.port, s.config, openflow.PortDown); err != nil {
			t.Fatal(err)
		}
		tb.rx(1, icmp(macA, macB), icmp(macA, macB))
		got := tb.out()
		if s.want == 0 {
			if len(got) != 0 {
				t.Errorf("step %d: sent to %v, want nowhere", i, got)
			}
			continue
		}
		if len(got) != 1 || len(got[s.want]) != 2 {
			t.Errorf("step %d: sent to %v, want 2 frames on port %d", i, got, s.want)
		}
	}
	// A watched port that is deleted is dead; one added back is live.
	if err := tb.DelPort("p2"); err != nil {
		t.Fatal(err)
	}
	tb.rx(1, icmp(macA, macB))
	if got := tb.out(); len(got[3]) != 1 {
		t.Errorf("after deleting p2: sent %v, want port 3", got)
	}
	tb.addPort(PortSpec{Name: "p2", OFPort: 2})
	tb.rx(1, icmp(macA, macB))
	if got := tb.out(); len(got[2]) != 1 {
		t.Errorf("after adding p2 back: sent %v, want port 2", got)
	}
}

func TestGroupModErrors(t *testing.T) {
	bad := openflow.Bucket{Weight: 1, WatchPort: openflow.PortAny, WatchGroup: openflow.GroupAny,
		Actions: []openflow.Action{{Type: openflow.ActOutput, Port: 0}}}
	tests := []struct {
		name string
		gm   openflow.GroupMod
		want error
	}{
		{"exists", addGroup(gAll, 1, bkt("output:2")), ErrGroupExists},
		{"modify unknown", modGroup(gAll, 9, bkt("output:2")), ErrUnknownGroup},
		{"reserved id", addGroup(gAll, 0xffffff01, bkt("output:2")), ErrInvalidGroup},
		{"group all add", addGroup(gAll, openflow.GroupAll, bkt("output:2")), ErrInvalidGroup},
		{"delete reserved", delGroup(openflow.GroupAny), ErrInvalidGroup},
		{"bad type", addGroup(4, 2, bkt("output:2")), ErrBadGroupType},
		{"indirect two buckets", addGroup(gIndirect, 2, bkt("output:2"), bkt("output:3")), ErrBadBucket},
		{"indirect no bucket", addGroup(gIndirect, 2), ErrBadBucket},
		{"ff without watch", addGroup(gFF, 2, bkt("output:2")), ErrBadWatch},
		{"ff watch missing group", addGroup(gFF, 2, watchGroup(5, bkt("output:2"))), ErrBadWatch},
		{"ff watch reserved port", addGroup(gFF, 2, watchPort(openflow.PortFlood, bkt("output:2"))), ErrBadWatch},
		{"bucket bad port", addGroup(gAll, 2, bad), ErrBadOutPort},
		{"bucket instruction", addGroup(gAll, 2, bkt("goto_table:1")), ErrBadInstruction},
		{"bucket missing group", addGroup(gAll, 2, bkt("group:5")), ErrBadOutGroup},
		{"self loop", addGroup(gIndirect, 2, bkt("group:2")), ErrGroupLoop},
		{"loop by modify", modGroup(gAll, 1, bkt("group:3")), ErrGroupLoop},
		{"ff watch self", addGroup(gFF, 2, watchGroup(2, bkt("output:2"))), ErrGroupLoop},
		{"bad command", openflow.GroupMod{Command: 3, Group: openflow.Group{ID: 2}}, ErrBadCommand},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tb := newTestBridge(t, 3)
			tb.groups(addGroup(gAll, 1, bkt("output:2")), addGroup(gIndirect, 3, bkt("group:1")))
			before := tb.Groups()
			_, err := tb.GroupMod(tc.gm)
			if !errors.Is(err, tc.want) {
				t.Fatalf("GroupMod = %v, want %v", err, tc.want)
			}
			if diff := cmp.Diff(before, tb.Groups()); diff != "" {
				t.Errorf("failed GroupMod changed the groups (-before +after):\n%s", diff)
			}
		})
	}
}

func TestFlowModMissingGroup(t *testing.T) {
	tests := []struct {
		flow string
		want error
	}{
		{"actions=group:1", nil},
		{"actions=group:2", ErrBadOutGroup},
		{"actions=write_actions(group:2)", ErrBadOutGroup},
		{"actions=output:2,group:1", nil},
	}
	for _, tc := range tests {
		t.Run(tc.flow, func(t *testing.T) {
			tb := newTestBridge(t, 2)
			tb.groups(addGroup(gAll, 1, bkt("output:2")))
			_, err := tb.FlowMods([]openflow.FlowMod{parseFlow(t, tc.flow, nil)})
			if !errors.Is(err, tc.want) {
				t.Fatalf("FlowMods(%q) = %v, want %v", tc.flow, err, tc.want)
			}
			if err := tb.Execute(1, parseFlow(t, tc.flow, nil).Actions, icmp(macA, macB)); !errors.Is(err, tc.want) &&
				!strings.Contains(tc.flow, "write_actions") {
				t.Errorf("Execute(%q) = %v, want %v", tc.flow, err, tc.want)
			}
		})
	}
}

func TestGroupDeleteRemovesFlows(t *testing.T) {
	tests := []struct {
		name    string
		del     uint32
		removed []string // cookies of the flows removed
		left    int
		groups  int
	}{
		{"one", 1, []string{"0x1", "0x2"}, 3, 1},
		{"other", 2, []string{"0x3"}, 4, 1},
		{"all", openflow.GroupAll, []string{"0x1", "0x2", "0x3"}, 2, 0},
		{"absent", 9, nil, 5, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tb := newTestBridge(t, 3)
			tb.groups(addGroup(gAll, 1, bkt("output:2")), addGroup(gAll, 2, bkt("output:3")))
			tb.flows("cookie=1,in_port=1,actions=group:1", "cookie=2,table=1,actions=write_actions(group:1)",
				"cookie=3,in_port=2,actions=group:2", "cookie=4,in_port=3,actions=output:1", "cookie=5,table=2,actions=drop")
			var hooked []uint8
			tb.SetFlowRemovedHook(func(_ openflow.FlowStats, reason uint8) { hooked = append(hooked, reason) })
			ch, err := tb.GroupMod(delGroup(tc.del))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range ch.Removed {
				got = append(got, fmt.Sprintf("%#x", f.Cookie))
			}
			if diff := cmp.Diff(tc.removed, got); diff != "" {
				t.Errorf("Removed cookies (-want +got):\n%s", diff)
			}
			if n := tb.FlowCount(); n != tc.left {
				t.Errorf("FlowCount = %d, want %d", n, tc.left)
			}
			if n := len(tb.Groups()); n != tc.groups {
				t.Errorf("%d groups left, want %d", n, tc.groups)
			}
			for _, r := range hooked {
				if r != RemovedGroupDelete {
					t.Errorf("flow-removed reason %d, want %d", r, RemovedGroupDelete)
				}
			}
			if len(hooked) != len(tc.removed) {
				t.Errorf("flow-removed hook called %d times, want %d", len(hooked), len(tc.removed))
			}
		})
	}
}

func TestGroupStatsAndModify(t *testing.T) {
	tb := newTestBridge(t, 4)
	tb.groups(addGroup(gAll, 1, bkt("output:2"), bkt("output:3")), addGroup(gIndirect, 2, bkt("group:1")))
	tb.flows("in_port=1,actions=group:1", "in_port=4,actions=group:2")
	f := icmp(macA, macB)
	n := uint64(len(f))
	tb.rx(1, f, f, f)
	tb.rx(4, f)
	tb.out()
	type counts struct {
		ID               uint32
		Ref              uint32
		Packets, Bytes   uint64
		Buckets          [][2]uint64
		DurationPositive bool
	}
	get := func() []counts {
		var out []counts
		for _, s := range tb.GroupStats(openflow.GroupAll) {
			out = append(out, counts{s.ID, s.RefCount, s.Packets, s.Bytes, s.Buckets, s.Duration > 0})
		}
		return out
	}
	tb.clock.Advance(1500e6)
	want := []counts{
		{1, 2, 4, 4 * n, [][2]uint64{{4, 4 * n}, {4, 4 * n}}, true},
		{2, 1, 1, n, [][2]uint64{{1, n}}, true},
	}
	if diff := cmp.Diff(want, get()); diff != "" {
		t.Fatalf("GroupStats (-want +got):\n%s", diff)
	}
	if s := tb.GroupStats(2); len(s) != 1 || s[0].ID != 2 || s[0].Duration != 1<<32|500000000 {
		t.Errorf("GroupStats(2) = %+v, want group 2 with duration 1.5 s", s)
	}
	// Modify keeps the counters of the group and of the buckets that
	// remain; the new definition forwards at once.
	tb.groups(modGroup(gSelect, 1, bkt("output:3")))
	tb.rx(1, f)
	if got := tb.out(); len(got) != 1 || len(got[3]) != 1 {
		t.Errorf("after modify: sent %v, want one frame to port 3", got)
	}
	want[0].Packets, want[0].Bytes = 5, 5*n
	want[0].Buckets = [][2]uint64{{5, 5 * n}}
	if diff := cmp.Diff(want, get()); diff != "" {
		t.Errorf("GroupStats after modify (-want +got):\n%s", diff)
	}
}

func TestGroupsDeepCopy(t *testing.T) {
	tb := newTestBridge(t, 2)
	gm := addGroup(gSelect, 5, weighted(3, bkt("mod_dl_dst:00:00:00:00:00:0c,output:2")))
	tb.groups(gm)
	gm.Buckets[0].Actions[0].Type = openflow.ActDecTTL // the caller's copy
	g := tb.Groups()
	want := []openflow.Group{{GroupType: gSelect, ID: 5, Buckets: []openflow.Bucket{weighted(3, bkt("mod_dl_dst:00:00:00:00:00:0c,output:2"))}}}
	if diff := cmp.Diff(want, g); diff != "" {
		t.Fatalf("Groups (-want +got):\n%s", diff)
	}
	g[0].Buckets[0].Actions[0].Port = 99
	if diff := cmp.Diff(want, tb.Groups()); diff != "" {
		t.Errorf("Groups changed through a returned copy (-want +got):\n%s", diff)
	}
}

func TestGroupFeatures(t *testing.T) {
	f := New(Config{Name: "br0"}).GroupFeatures()
	if f.Types != 0xf || f.Capabilities != 7 || f.MaxGroups[1] != 0xffffff00 || f.Actions[0]&(1<<22) == 0 {
		t.Errorf("GroupFeatures = %+v", f)
	}
}

func TestGroupForwardingAllocs(t *testing.T) {
	tests := []struct {
		name   string
		groups []openflow.GroupMod
		flows  []string
	}{
		{"select", []openflow.GroupMod{addGroup(gSelect, 1, bkt("output:2"), bkt("output:3"))}, []string{"in_port=1 actions=group:1"}},
		{"all with rewrite", []openflow.GroupMod{addGroup(gAll, 1, bkt("mod_nw_dst:10.9.9.9,mod_vlan_vid:5,output:2"), bkt("output:3"))},
			[]string{"in_port=1 actions=group:1"}},
		{"fast failover", []openflow.GroupMod{addGroup(gFF, 1, watchPort(2, bkt("output:2")), watchPort(3, bkt("output:3")))},
			[]string{"in_port=1 actions=group:1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { checkForwardingAllocs(t, tc.groups, tc.flows) })
	}
}

func TestTraceGroup(t *testing.T) {
	tb := newTestBridge(t, 4)
	tb.groups(addGroup(gAll, 2, bkt("mod_dl_dst:00:00:00:00:00:0c,output:2"), bkt("output:3")),
		addGroup(gFF, 1, watchPort(4, bkt("output:4")), watchGroup(2, bkt("group:2"))))
	tb.flows("in_port=1,actions=group:1,output:4")
	if err := tb.ModPort(4, openflow.PortDown, openflow.PortDown); err != nil {
		t.Fatal(err)
	}
	tr := tb.TracePacket(icmp(macA, macB), 1)
	want := `
 0. in_port=1, priority 32768
    group:1
     -> using bucket 1
    bucket 1
            group:2
            bucket 0
                    mod_dl_dst:00:00:00:00:00:0c
                    output:2
            bucket 1
                    output:3
    output:4
     -> p4 is not forwarding

Final flow: unchanged
Megaflow: in_port=1
Datapath actions: clone(set(eth(dst=00:00:00:00:00:0c)),2),3
`
	got := tr.String()
	got = got[strings.Index(got, "-\n")+1:]
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("trace (-want +got):\n%s", diff)
	}
	var buckets []TraceBucket
	for _, a := range tr.Steps[0].Actions {
		for _, s := range a.Steps {
			if s.Bucket != nil {
				buckets = append(buckets, *s.Bucket)
			}
		}
	}
	if diff := cmp.Diff([]TraceBucket{{Group: 1, Bucket: 1}}, buckets); diff != "" {
		t.Errorf("trace buckets (-want +got):\n%s", diff)
	}
}

// BenchmarkForwardSelectGroup forwards 1,024 UDP flows through a select
// group of four buckets (one megaflow per flow: the hash makes the 5-tuple
// exact).
func BenchmarkForwardSelectGroup(b *testing.B) {
	br, pr := benchBridge(b, 5)
	gm := addGroup(gSelect, 1, bkt("output:2"), bkt("output:3"), weighted(2, bkt("output:4")), bkt("output:5"))
	if _, err := br.GroupMod(gm); err != nil {
		b.Fatal(err)
	}
	mustFlows(b, br, flowAdd(0, 32768, matchInPort(1), openflow.Action{Type: openflow.ActGroup, Group: 1}))
	var frames [][]byte
	for i := 0; i < 1024; i++ {
		frames = append(frames, udp(fmt.Sprintf("10.0.0.1:%d", 1000+i), "10.0.0.2:53"))
	}
	runBatches(b, pr, frames)
}

// BenchmarkForwardAllGroupRewrite forwards one flow through an all group
// whose first bucket rewrites the packet (a clone: save, rewrite, output,
// restore) before the second bucket outputs it unchanged.
func BenchmarkForwardAllGroupRewrite(b *testing.B) {
	br, pr := benchBridge(b, 3)
	gm := addGroup(gAll, 1, bkt("mod_nw_dst:10.9.9.9,output:2"), bkt("output:3"))
	if _, err := br.GroupMod(gm); err != nil {
		b.Fatal(err)
	}
	mustFlows(b, br, flowAdd(0, 32768, matchInPort(1), openflow.Action{Type: openflow.ActGroup, Group: 1}))
	runBatches(b, pr, [][]byte{icmp(macA, macB)})
}
