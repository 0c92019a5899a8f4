package ofproto

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"tapestry/conntrack"
	"tapestry/flow"
	"tapestry/link"
	"tapestry/ofctl"
	"tapestry/openflow"
	"tapestry/packet"
)

// ctFirewall is the stateful firewall of ovs-actions(7)'s ct examples:
// port 1 may open connections to port 2, replies come back as +est.
var ctFirewall = []string{
	"table=0,priority=100,ip,ct_state=-trk,actions=ct(table=1)",
	"table=1,priority=100,ip,in_port=1,ct_state=+trk+new,actions=ct(commit),output:2",
	"table=1,priority=100,ip,in_port=1,ct_state=+trk+est,actions=output:2",
	"table=1,priority=100,ip,in_port=2,ct_state=+trk+est,actions=output:1",
	"table=1,priority=1,actions=drop",
}

func seg(src, dst string, flags uint16) []byte {
	return packet.TCPSegment(macA, macB, ap(src), ap(dst), flags, nil)
}

const (
	syn    = packet.TCPFlagSYN
	synAck = packet.TCPFlagSYN | packet.TCPFlagACK
	ack    = packet.TCPFlagACK
)

// TestCTFirewall runs TCP handshakes through the firewall: one opened
// from port 1 passes both ways, one opened from port 2 is dropped.
func TestCTFirewall(t *testing.T) {
	tb := newTestBridge(t, 2)
	tb.flows(ctFirewall...)
	steps := []struct {
		name string
		in   uint32
		pkt  []byte
		out  uint32 // 0: dropped
	}{
		{"syn 1->2", 1, seg("10.0.0.1:1000", "10.0.0.2:80", syn), 2},
		{"syn-ack 2->1", 2, seg("10.0.0.2:80", "10.0.0.1:1000", synAck), 1},
		{"ack 1->2", 1, seg("10.0.0.1:1000", "10.0.0.2:80", ack), 2},
		{"data 2->1", 2, seg("10.0.0.2:80", "10.0.0.1:1000", ack), 1},
		{"syn 2->1 refused", 2, seg("10.0.0.2:2000", "10.0.0.1:22", syn), 0},
		{"syn 2->1 again", 2, seg("10.0.0.2:2000", "10.0.0.1:22", syn), 0},
		{"stray ack 2->1", 2, seg("10.0.0.2:3000", "10.0.0.1:22", ack), 0},
		{"second conn 1->2", 1, seg("10.0.0.1:1001", "10.0.0.2:80", syn), 2},
	}
	for _, s := range steps {
		tb.rx(s.in, s.pkt)
		got := tb.out()
		if s.out == 0 {
			if len(got) != 0 {
				t.Errorf("%s: sent %v, want a drop", s.name, keys(got))
			}
			continue
		}
		if len(got) != 1 || len(got[s.out]) != 1 || string(got[s.out][0]) != string(s.pkt) {
			t.Errorf("%s: sent %v, want the frame unchanged on port %d only", s.name, keys(got), s.out)
		}
	}
	want := map[string]uint64{
		"table=0 priority=100,ct_state=-trk,ip":               8,
		"table=1 priority=100,ct_state=+new+trk,ip,in_port=1": 2,
		"table=1 priority=100,ct_state=+est+trk,ip,in_port=1": 1,
		"table=1 priority=100,ct_state=+est+trk,ip,in_port=2": 2,
		"table=1 priority=1":                                  3,
	}
	checkCounts(t, tb, want)
	if n := tb.Conntrack().Count(); n != 2 {
		t.Errorf("conntrack holds %d connections, want 2 (the two committed)", n)
	}
}

// checkCounts compares the packet counts of flows, named by table and
// match as dump-flows prints them.
func checkCounts(t *testing.T, tb *testBridge, want map[string]uint64) {
	t.Helper()
	tb.mu.Lock()
	tb.syncStats()
	tb.mu.Unlock()
	got := map[string]uint64{}
	for _, fs := range tb.DumpFlows(openflow.FlowMod{Table: openflow.TableAll, OutPort: openflow.PortAny, OutGroup: openflow.GroupAny}) {
		got[fmt.Sprintf("table=%d %s", fs.Table, ofctl.FormatMatch(&fs.Match, fs.Priority, nil))] = fs.Packets
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("flow %q: n_packets=%d, want %d (all: %v)", k, got[k], n, got)
		}
	}
}

// TestCTMarkAndZone: exec sets ct_mark on commit, the zone comes from a
// register, and a connection committed in one zone is new in another.
func TestCTMarkAndZone(t *testing.T) {
	tb := newTestBridge(t, 3)
	tb.flows(
		"table=0,priority=100,ip,in_port=1,ct_state=-trk,actions=load:7->NXM_NX_REG0[0..15],ct(table=1,zone=NXM_NX_REG0[0..15])",
		"table=0,priority=100,ip,in_port=2,udp,udp_src=53,ct_state=-trk,actions=load:7->NXM_NX_REG0[0..15],ct(table=1,zone=NXM_NX_REG0[0..15])",
		"table=0,priority=100,ip,in_port=2,udp,udp_src=54,ct_state=-trk,actions=load:8->NXM_NX_REG0[0..15],ct(table=1,zone=NXM_NX_REG0[0..15])",
		"table=1,priority=100,ip,in_port=1,ct_state=+trk+new,actions=ct(commit,zone=NXM_NX_REG0[0..15],exec(set_field:0x5->ct_mark)),output:2",
		"table=1,priority=100,ip,in_port=2,ct_state=+trk+new,actions=output:1",
		"table=1,priority=100,ip,ct_state=+trk+est,ct_mark=0x5,ct_zone=7,reg0=7,actions=output:3",
		"table=1,priority=1,actions=drop",
	)
	steps := []struct {
		name string
		in   uint32
		pkt  []byte
		out  uint32
	}{
		{"query zone 7", 1, udp("10.0.0.1:5000", "10.0.0.2:53"), 2},
		{"reply zone 7 is est with mark 5", 2, udp("10.0.0.2:53", "10.0.0.1:5000"), 3},
		{"query zone 7 (2)", 1, udp("10.0.0.1:5001", "10.0.0.2:54"), 2},
		{"reply zone 8 is new", 2, udp("10.0.0.2:54", "10.0.0.1:5001"), 1},
	}
	for _, s := range steps {
		tb.rx(s.in, s.pkt)
		if got := tb.out(); len(got) != 1 || len(got[s.out]) != 1 {
			t.Errorf("%s: sent to %v, want port %d only", s.name, keys(got), s.out)
		}
	}
	if n := tb.Conntrack().Count(); n != 2 {
		t.Errorf("conntrack holds %d connections, want 2", n)
	}
}

// TestCTWithoutTable: ct without table= commits, and the pipeline goes on
// with the packet untracked.
func TestCTWithoutTable(t *testing.T) {
	tb := newTestBridge(t, 3)
	tb.flows(
		"table=0,ip,actions=ct(commit),resubmit(,1)",
		"table=1,ip,ct_state=-trk,actions=output:2",
		"table=1,ip,ct_state=+trk,actions=output:3",
	)
	for i := range 2 {
		tb.rx(1, udp("10.0.0.1:5000", "10.0.0.2:53"))
		if got := tb.out(); len(got) != 1 || len(got[2]) != 1 {
			t.Errorf("packet %d: sent to %v, want port 2 only", i, keys(got))
		}
	}
	if n := tb.Conntrack().Count(); n != 1 {
		t.Errorf("conntrack holds %d connections, want 1", n)
	}
}

// TestCTTrace compares the trace of the firewall's first packet with what
// ovs-appctl ofproto/trace of Open vSwitch 3.1 prints for the same flows
// (its ports 1 and 2; the megaflows are this bridge's own masks).
func TestCTTrace(t *testing.T) {
	tb := newTestBridge(t, 2)
	tb.flows(
		"table=0,priority=100,ip,ct_state=-trk,actions=ct(table=1)",
		"table=1,priority=100,ip,ct_state=+trk+new,actions=ct(commit,zone=5,exec(set_field:0x3->ct_mark)),output:2",
		"table=1,priority=100,ip,ct_state=+trk+est,actions=output:2",
		"table=1,priority=1,actions=drop",
	)
	tr := tb.TracePacket(icmp(macA, macB), 1)
	bar := strings.Repeat("=", 79)
	want := `Flow: ` + traceFlow + `

bridge("br0")
-------------
 0. ct_state=-trk,ip, priority 100
    ct(table=1)
    drop
     -> A clone of the packet is forked to recirculate. The forked pipeline will be resumed at table 1.
     -> Sets the packet to an untracked state, and clears all the conntrack fields.

Final flow: unchanged
Megaflow: ct_state=-trk,ip,in_port=1
Datapath actions: ct,recirc(0x1)

` + bar + `
recirc(0x1) - resume conntrack with default ct_state=trk|new (use --ct-next to customize)
` + bar + `

Flow: recirc_id=0x1,ct_state=new|trk,eth,` + traceFlow + `

bridge("br0")
-------------
    thaw
        Resuming from table 1
 1. ct_state=+new+trk,ip, priority 100
    ct(commit,zone=5,exec(set_field:0x3->ct_mark))
    set_field:0x3->ct_mark
     -> Sets the packet to an untracked state, and clears all the conntrack fields.
    output:2

Final flow: recirc_id=0x1,eth,` + traceFlow + `
Megaflow: recirc_id=0x1,ct_state=+new-est+trk,ip,in_port=1
Datapath actions: ct(commit,zone=5,mark=0x3/0xffffffff),2
`
	if diff := cmp.Diff(want, tr.String()); diff != "" {
		t.Errorf("trace (-want +got):\n%s", diff)
	}
}

// ctEstablished is a bridge with the firewall whose ports 2 and 3
// discard what they are sent, a TCP connection from port 1 to port 2
// established through it, and port 1's receive path.
func ctEstablished(t testing.TB) (*Bridge, *proc, []byte) {
	br := New(Config{Name: "br0"})
	t.Cleanup(br.Close)
	for i := 1; i <= 2; i++ {
		ps := PortSpec{Name: fmt.Sprintf("p%d", i), Link: &sinkLink{capLink: *newCapLink("p")}}
		if _, err := br.AddPort(ps); err != nil {
			t.Fatal(err)
		}
	}
	fms := make([]openflow.FlowMod, 0, len(ctFirewall))
	for _, l := range ctFirewall {
		fms = append(fms, parseFlow(t, l, br))
	}
	if _, err := br.FlowMods(fms); err != nil {
		t.Fatal(err)
	}
	br.Inject(1, seg("10.0.0.1:1000", "10.0.0.2:80", syn))
	br.Inject(2, seg("10.0.0.2:80", "10.0.0.1:1000", synAck))
	return br, newProc(br, br.ports.Load().byNo(1), 1, true), seg("10.0.0.1:1000", "10.0.0.2:80", ack)
}

// TestCTEstablishedAllocs: a packet of an established connection takes
// both passes from the caches and allocates nothing.
func TestCTEstablishedAllocs(t *testing.T) {
	br, pr, data := ctEstablished(t)
	rx := func() {
		copy(pr.bufs[0][link.Headroom:], data)
		pr.sizes[0] = len(data)
		pr.batch(1)
	}
	rx()
	sink := br.ports.Load().byNo(2).spec.Link.(*sinkLink)
	before := sink.n
	allocs := testing.AllocsPerRun(100, rx)
	if allocs != 0 {
		t.Errorf("established packet: %.1f allocations, want 0", allocs)
	}
	if sink.n-before != 101 {
		t.Errorf("port 2 was sent %d packets, want 101", sink.n-before)
	}
}

// BenchmarkForwardCTEstablished forwards packets of an established TCP
// connection through the firewall: two megaflow lookups (the first pass
// also hits the exact-match cache), a conntrack lookup and a frame copy
// per packet.
func BenchmarkForwardCTEstablished(b *testing.B) {
	_, pr, data := ctEstablished(b)
	runBatches(b, pr, [][]byte{data})
}

func TestCTMarkSet(t *testing.T) {
	mark := flow.Whole(flow.FieldCtMark)
	tests := []struct {
		a    openflow.Action
		v, m uint32
		ok   bool
	}{
		{openflow.Action{Type: openflow.ActSetField, Dst: mark, Value: flow.U64(5)}, 5, 0xffffffff, true},
		{openflow.Action{Type: openflow.ActSetField, Dst: mark, Value: flow.U64(0x13), Mask: flow.U64(0xf0)}, 0x10, 0xf0, true},
		{openflow.Action{Type: openflow.ActLoad, Dst: flow.Subfield{Field: flow.FieldCtMark, Ofs: 4, NBits: 4}, Value: flow.U64(2)}, 0x20, 0xf0, true},
		{openflow.Action{Type: openflow.ActLoad, Dst: mark, Value: flow.U64(7)}, 7, 0xffffffff, true},
		{openflow.Action{Type: openflow.ActSetField, Dst: flow.Whole(flow.FieldReg0), Value: flow.U64(1)}, 0, 0, false},
		{openflow.Action{Type: openflow.ActOutput, Port: 1}, 0, 0, false},
	}
	for i, tc := range tests {
		v, m, ok := ctMarkSet(&tc.a)
		if v != tc.v || m != tc.m || ok != tc.ok {
			t.Errorf("case %d: ctMarkSet = %#x/%#x %v, want %#x/%#x %v", i, v, m, ok, tc.v, tc.m, tc.ok)
		}
	}
}

func TestValidateCT(t *testing.T) {
	mark := openflow.Action{Type: openflow.ActSetField, Dst: flow.Whole(flow.FieldCtMark), Value: flow.U64(1)}
	tests := []struct {
		c  openflow.CT
		ok bool
	}{
		{openflow.CT{Commit: true, Table: 1, Exec: []openflow.Action{mark}}, true},
		{openflow.CT{ZoneSrc: flow.Subfield{Field: flow.FieldReg0, NBits: 16}, Table: openflow.CTRecircNone}, true},
		{openflow.CT{ZoneSrc: flow.Subfield{Field: flow.FieldReg0, NBits: 8}, Table: openflow.CTRecircNone}, false},
		{openflow.CT{Exec: []openflow.Action{mark}, Table: openflow.CTRecircNone}, false},
		{openflow.CT{Force: true, Table: openflow.CTRecircNone}, false},
		{openflow.CT{Commit: true, Exec: []openflow.Action{{Type: openflow.ActOutput, Port: 1}}, Table: openflow.CTRecircNone}, false},
	}
	for i, tc := range tests {
		a := tc.c.Action()
		if err := validateNXAction(&a); (err == nil) != tc.ok {
			t.Errorf("case %d: validateNXAction(%s) = %v, want ok=%v", i, ofctl.FormatActions([]openflow.Action{a}, nil), err, tc.ok)
		}
	}
}

// TestCTExpire: the bridge's once-a-second Expire also sweeps the ct table.
func TestCTExpire(t *testing.T) {
	tb := newTestBridge(t, 2)
	tb.flows("table=0,ip,actions=ct(commit),output:2")
	tb.rx(1, udp("10.0.0.1:5000", "10.0.0.2:53"))
	tb.Expire()
	if n := tb.Conntrack().Count(); n != 1 {
		t.Fatalf("after one packet: %d connections, want 1", n)
	}
	tb.clock.Advance(conntrack.TimeoutUDP - time.Second)
	tb.Expire()
	if n := tb.Conntrack().Count(); n != 1 {
		t.Errorf("before the UDP timeout: %d connections, want 1", n)
	}
	tb.clock.Advance(2 * time.Second)
	tb.Expire()
	if n := tb.Conntrack().Count(); n != 0 {
		t.Errorf("after the UDP timeout: %d connections, want 0", n)
	}
}
