package ofproto

import (
	"fmt"
	"strings"
	"testing"

	"tapestry/flow"
	"tapestry/openflow"
	"tapestry/packet"
)

func TestNXActions(t *testing.T) {
	ping := icmp(macA, macB)
	tests := []struct {
		name  string
		flows []string
		want  map[uint32][][]byte
	}{
		{"output reg", []string{"actions=load:2->NXM_NX_REG1[16..31],output:NXM_NX_REG1[16..31]"}, map[uint32][][]byte{2: {ping}}},
		{"output reg whole", []string{"actions=load:3->NXM_NX_REG0[],output:reg0"}, map[uint32][][]byte{3: {ping}}},
		{"output reg IN_PORT", []string{"actions=load:0xfff8->NXM_NX_REG0[0..15],output:reg0[0..15]"}, map[uint32][][]byte{1: {ping}}},
		{"output reg input port skipped", []string{"actions=output:NXM_OF_IN_PORT[]"}, map[uint32][][]byte{}},
		{"output reg out of range", []string{"actions=load:0x10002->NXM_NX_REG0[],output:reg0"}, map[uint32][][]byte{}},
		{"output reg missing port", []string{"actions=load:9->NXM_NX_REG0[],output:reg0"}, map[uint32][][]byte{}},
		{"clone isolates the frame", []string{"actions=clone(mod_dl_src:00:00:00:00:00:0c,output:2),output:3"},
			map[uint32][][]byte{2: {icmp(macC, macB)}, 3: {ping}}},
		{"clone isolates registers", []string{"actions=load:3->NXM_NX_REG0[],clone(load:2->NXM_NX_REG0[],output:reg0),output:reg0"},
			map[uint32][][]byte{2: {ping}, 3: {ping}}},
		{"nested clone", []string{"actions=clone(mod_dl_src:00:00:00:00:00:0c,clone(mod_dl_dst:00:00:00:00:00:0c,output:2),output:3),output:2"},
			map[uint32][][]byte{2: {icmp(macC, macC), ping}, 3: {icmp(macC, macB)}}},
		{"clone resubmit", []string{"actions=clone(resubmit(,1)),output:3", "table=1,actions=mod_vlan_vid:7,output:2"},
			map[uint32][][]byte{2: {packet.Tagged(ping, 7)}, 3: {ping}}},
		{"clone without output", []string{"actions=clone(mod_dl_src:00:00:00:00:00:0c),output:3"}, map[uint32][][]byte{3: {ping}}},
		{"empty clone", []string{"actions=clone(),output:3"}, map[uint32][][]byte{3: {ping}}},
		{"bundle active_backup", []string{"actions=bundle(eth_src,0,active_backup,ofport,members:5,3,2)"}, map[uint32][][]byte{3: {ping}}},
		{"bundle_load", []string{"actions=bundle_load(eth_src,0,active_backup,ofport,reg2[0..15],members:2),resubmit(,1)",
			"table=1,reg2=2,actions=output:3"}, map[uint32][][]byte{3: {ping}}},
		{"bundle_load none live", []string{"actions=bundle_load(eth_src,0,hrw,ofport,reg2,members:7,8),resubmit(,1)",
			"table=1,reg2=0xffff,actions=output:2"}, map[uint32][][]byte{2: {ping}}},
		{"multipath one link", []string{"actions=multipath(eth_src,0,hrw,1,0,reg0[0..1]),resubmit(,1)", "table=1,reg0=0,actions=output:2"},
			map[uint32][][]byte{2: {ping}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tb := newTestBridge(t, 3)
			tb.flows(tc.flows...)
			for round := 0; round < 3; round++ { // slow path, then the caches
				tb.rx(1, ping)
				if err := compareOut(tc.want, tb.out()); err != nil {
					t.Fatalf("round %d: %v\ntrace:\n%s", round, err, tb.TracePacket(ping, 1))
				}
			}
		})
	}
}

func TestDecTTLIDsPacketIn(t *testing.T) {
	ping := icmp(macA, macB)
	lowTTL := mutate(ping, func(f []byte) []byte { packet.SetIPv4TTL(f, 14, 1); return f })
	tests := []struct {
		flow string
		ids  []uint16
	}{
		{"ip,actions=dec_ttl(1,2),output:2", []uint16{1, 2}},
		{"ip,actions=dec_ttl(0),output:2", []uint16{0}},
		{"ip,actions=dec_ttl,output:2", nil},
		{"ip,actions=clone(dec_ttl(7),output:2),output:3", []uint16{7}},
	}
	for _, tc := range tests {
		tb := newTestBridge(t, 3)
		tb.flows(tc.flow)
		var got []PacketIn
		tb.SetPacketInHook(func(p PacketIn) { got = append(got, p) })
		for round := 0; round < 2; round++ {
			got = got[:0]
			tb.rx(1, lowTTL)
			out := tb.out()
			if len(out[2]) != 0 {
				t.Errorf("%q: expired packet forwarded to port 2", tc.flow)
			}
			if len(got) != len(tc.ids) {
				t.Fatalf("%q round %d: %d packet-ins, want %d", tc.flow, round, len(got), len(tc.ids))
			}
			for i, p := range got {
				if p.ID != tc.ids[i] || p.Reason != openflow.ReasonInvalidTTL || p.InPort != 1 {
					t.Errorf("%q: packet-in %d = id %d reason %d in_port %d, want id %d reason invalid_ttl in_port 1",
						tc.flow, i, p.ID, p.Reason, p.InPort, tc.ids[i])
				}
			}
		}
		// A live TTL is decremented and forwarded, and tells nobody.
		got = got[:0]
		tb.rx(1, ping)
		if len(got) != 0 || len(tb.out()[2]) != 1 {
			t.Errorf("%q: live TTL: %d packet-ins, want 0 and one frame on port 2", tc.flow, len(got))
		}
	}
}

// spreadFlows sends n TCP flows (different addresses and ports) from port 1
// twice each and returns the port each went to; a flow that went to two
// ports or to more than one port is an error.
func spreadFlows(t *testing.T, tb *testBridge, n int, frame func(i int) []byte) []uint32 {
	t.Helper()
	ports := make([]uint32, n)
	for round := 0; round < 2; round++ {
		for i := range n {
			tb.rx(1, frame(i))
			out := tb.out()
			if len(out) != 1 {
				t.Fatalf("flow %d went to %d ports, want 1", i, len(out))
			}
			for no := range out {
				if round == 1 && no != ports[i] {
					t.Fatalf("flow %d went to port %d, then %d", i, ports[i], no)
				}
				ports[i] = no
			}
		}
	}
	return ports
}

func flowFrame(i int) []byte {
	src := fmt.Sprintf("10.0.%d.%d:%d", i/250, i%250+1, 1024+i)
	return packet.TCPSegment(macA, macB, ap(src), ap("10.9.0.1:80"), packet.TCPFlagSYN, nil)
}

func checkSpread(t *testing.T, ports []uint32, links []uint32) {
	t.Helper()
	count := map[uint32]int{}
	for _, p := range ports {
		count[p]++
	}
	for _, l := range links {
		if c := count[l]; c < len(ports)/len(links)/2 {
			t.Errorf("link %d got %d of %d flows, want about %d (counts %v)", l, c, len(ports), len(ports)/len(links), count)
		}
	}
	if len(count) != len(links) {
		t.Errorf("flows went to ports %v, want only %v", count, links)
	}
}

// TestMultipathSpreads checks every algorithm: each flow keeps its link,
// flows spread over all links, and the reverse direction of a symmetric
// hash picks the same link.
func TestMultipathSpreads(t *testing.T) {
	for _, alg := range []string{"modulo_n", "hash_threshold", "hrw", "iter_hash"} {
		t.Run(alg, func(t *testing.T) {
			tb := newTestBridge(t, 5)
			tb.flows("in_port=1,actions=multipath(symmetric_l4,7,"+alg+",3,2,reg0[0..1]),resubmit(,1)",
				"in_port=5,actions=multipath(symmetric_l4,7,"+alg+",3,2,reg0[0..1]),resubmit(,1)",
				"table=1,reg0=0,actions=output:2", "table=1,reg0=1,actions=output:3", "table=1,reg0=2,actions=output:4")
			ports := spreadFlows(t, tb, 300, flowFrame)
			checkSpread(t, ports, []uint32{2, 3, 4})
			for i := 0; i < 50; i++ {
				src := fmt.Sprintf("10.0.%d.%d:%d", i/250, i%250+1, 1024+i)
				tb.rx(5, packet.TCPSegment(macB, macA, ap("10.9.0.1:80"), ap(src), packet.TCPFlagACK, nil))
				for no := range tb.out() {
					if no != ports[i] {
						t.Fatalf("reply of flow %d went to port %d, request to %d", i, no, ports[i])
					}
				}
			}
		})
	}
}

// TestHashFieldsMegaflow checks that each field set makes exactly its
// fields exact in the megaflow, and that fields outside it do not change
// the choice.
func TestHashFieldsMegaflow(t *testing.T) {
	tests := []struct {
		fields      string
		has, hasNot []string
	}{
		{"eth_src", []string{"dl_src=00:00:00:00:00:0a"}, []string{"dl_dst", "nw_src", "nw_dst", "tp_src", "tcp"}},
		{"nw_src", []string{"nw_src=10.0.0.1", "ip"}, []string{"dl_src", "dl_dst", "nw_dst", "tp_src", "tcp"}},
		{"nw_dst", []string{"nw_dst=10.0.0.2", "ip"}, []string{"dl_src", "nw_src", "tp_dst"}},
		{"symmetric_l3", []string{"nw_src=10.0.0.1", "nw_dst=10.0.0.2"}, []string{"dl_src", "tcp", "tp_src"}},
		{"symmetric_l3l4", []string{"tcp", "nw_src=10.0.0.1", "tp_src=1000", "tp_dst=80"}, []string{"dl_src", "dl_dst"}},
		{"symmetric_l4", []string{"tcp", "dl_src=00:00:00:00:00:0a", "dl_dst=00:00:00:00:00:0b", "tp_src=1000"}, nil},
	}
	for _, tc := range tests {
		tb := newTestBridge(t, 3)
		tb.flows("actions=multipath("+tc.fields+",0,modulo_n,2,0,reg0[0]),resubmit(,1)",
			"table=1,reg0=0,actions=output:2", "table=1,reg0=1,actions=output:3")
		tr := tb.TracePacket(tcp("10.0.0.1:1000", "10.0.0.2:80"), 1)
		for _, f := range tc.has {
			if !strings.Contains(tr.Megaflow, f) {
				t.Errorf("%s: megaflow %q lacks %q", tc.fields, tr.Megaflow, f)
			}
		}
		for _, f := range tc.hasNot {
			if strings.Contains(tr.Megaflow, f) {
				t.Errorf("%s: megaflow %q has %q", tc.fields, tr.Megaflow, f)
			}
		}
	}
	// Fields outside the hash do not change the choice: fresh
	// translations (no cache to hide it) of TCP flows from one MAC (eth_src)
	// or between one pair of addresses (symmetric_l3) take one link.
	for _, fields := range []string{"eth_src", "symmetric_l3", "nw_src"} {
		tb := newTestBridge(t, 3)
		tb.flows("actions=multipath("+fields+",0,hrw,2,0,reg0[0]),resubmit(,1)",
			"table=1,reg0=0,actions=output:2", "table=1,reg0=1,actions=output:3")
		first := ""
		for i := range 40 {
			frame := packet.TCPSegment(macA, macB, ap(fmt.Sprintf("10.0.0.1:%d", 1024+i)), ap(fmt.Sprintf("10.0.0.2:%d", 80+i)), packet.TCPFlagSYN, nil)
			got := ""
			for no := range tb.slowForward(1, frame) {
				got += fmt.Sprint(no, " ")
			}
			if i == 0 {
				first = got
			} else if got != first {
				t.Fatalf("%s hash: flow %d went to %s, flow 0 to %s", fields, i, got, first)
			}
		}
	}
}

// TestBundleHRW checks that bundle spreads flows over its live members,
// keeps each flow on its member, and when a member goes down moves only
// that member's flows.
func TestBundleHRW(t *testing.T) {
	tb := newTestBridge(t, 4)
	tb.flows("in_port=1,actions=bundle(symmetric_l4,0,hrw,ofport,members:2,3,4)")
	before := spreadFlows(t, tb, 300, flowFrame)
	checkSpread(t, before, []uint32{2, 3, 4})
	if err := tb.ModPort(3, openflow.PortDown, openflow.PortDown); err != nil {
		t.Fatal(err)
	}
	after := spreadFlows(t, tb, 300, flowFrame)
	checkSpread(t, after, []uint32{2, 4})
	for i := range before {
		if before[i] != 3 && after[i] != before[i] {
			t.Fatalf("flow %d moved from live member %d to %d", i, before[i], after[i])
		}
	}
	if err := tb.ModPort(3, 0, openflow.PortDown); err != nil {
		t.Fatal(err)
	}
	again := spreadFlows(t, tb, 300, flowFrame)
	for i := range before {
		if again[i] != before[i] {
			t.Fatalf("flow %d: member %d before, %d after the member came back", i, before[i], again[i])
		}
	}
}

func TestBundleActiveBackupFailover(t *testing.T) {
	tb := newTestBridge(t, 3)
	tb.flows("in_port=1,actions=bundle(eth_src,0,active_backup,ofport,members:2,3)")
	for i, s := range []struct {
		port uint32
		cfg  openflow.PortConfig
		want uint32
	}{{2, 0, 2}, {2, openflow.PortDown, 3}, {3, openflow.PortDown, 0}, {2, 0, 2}} {
		if err := tb.ModPort(s.port, s.cfg, openflow.PortDown); err != nil {
			t.Fatal(err)
		}
		tb.rx(1, icmp(macA, macB))
		got := tb.out()
		if s.want == 0 && len(got) != 0 || s.want != 0 && (len(got) != 1 || len(got[s.want]) != 1) {
			t.Errorf("step %d: sent to %v, want port %d", i, got, s.want)
		}
	}
}

func TestNXTrace(t *testing.T) {
	tb := newTestBridge(t, 3)
	tb.flows("actions=clone(mod_dl_src:00:00:00:00:00:0c,output:2),load:3->NXM_NX_REG0[],output:reg0")
	tr := tb.TracePacket(icmp(macA, macB), 1)
	s := tr.String()
	for _, want := range []string{"clone(mod_dl_src:00:00:00:00:00:0c,output:2)", "output:NXM_NX_REG0[]", "-> output to port 3"} {
		if !strings.Contains(s, want) {
			t.Errorf("trace lacks %q:\n%s", want, s)
		}
	}
	if want := "clone(set(eth(src=00:00:00:00:00:0c)),2),3"; tr.DatapathActions != want {
		t.Errorf("datapath actions = %q, want %q", tr.DatapathActions, want)
	}
}

// TestFlowModValidatesNX checks the bridge refuses what OVS refuses.
func TestFlowModValidatesNX(t *testing.T) {
	bad := []openflow.Action{
		{Type: openflow.ActClone, Nested: []openflow.Action{{Type: openflow.ActGotoTable, Table: 3}}},
		{Type: openflow.ActClone, Nested: []openflow.Action{{Type: openflow.ActOutput, Port: openflow.PortAny}}},
		openflow.Multipath{NLinks: 5, Dst: subfield(0, 2)}.Action(),
		openflow.Bundle{Members: []uint32{openflow.PortAny}}.Action(),
	}
	for i, a := range bad {
		if err := validateActions([]openflow.Action{a}, false); err == nil {
			t.Errorf("case %d: validateActions(%+v) = nil, want an error", i, a)
		}
	}
}

func subfield(ofs, n uint16) flow.Subfield {
	return flow.Subfield{Field: flow.FieldReg0, Ofs: ofs, NBits: n}
}

// BenchmarkTranslateNX measures one slow-path translation (a megaflow miss)
// of a flow using the actions of xlate_nx.go.
func BenchmarkTranslateNX(b *testing.B) {
	for _, tc := range []struct{ name, flow string }{
		{"multipath_hrw", "actions=multipath(symmetric_l4,0,hrw,8,0,reg0[0..2]),output:reg0[0..2]"},
		{"bundle_hrw", "actions=bundle(symmetric_l3l4,0,hrw,ofport,members:2,3)"},
		{"clone", "actions=clone(mod_dl_src:00:00:00:00:00:0c,output:2),output:3"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			tb := newTestBridge(b, 3)
			tb.flows(tc.flow)
			var k flow.Key
			flow.Extract(tcp("10.0.0.1:1000", "10.0.0.2:80"), 1, &k)
			b.ReportAllocs()
			for b.Loop() {
				tb.translate(&k, 0, false, nil)
			}
		})
	}
}
