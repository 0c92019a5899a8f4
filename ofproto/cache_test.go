package ofproto

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"

	"tapestry/flow"
	"tapestry/link"
	"tapestry/openflow"
	"tapestry/packet"
)

// slowForward is the oracle: a fresh translation of the packet, executed
// without any cache.
func (tb *testBridge) slowForward(in uint32, frame []byte) map[uint32][][]byte {
	var k flow.Key
	off := flow.Extract(frame, in, &k)
	e := tb.translate(&k, tb.now().UnixNano(), true, nil)
	e.finish(0)
	pr := newProc(tb.Bridge, tb.ports.Load().byNo(in), in, false)
	buf := make([]byte, link.Headroom+len(frame))
	copy(buf[link.Headroom:], frame)
	pr.execute(e, buf, link.Headroom, len(buf), off)
	pr.flushOutputs()
	return tb.out()
}

type randFlows struct {
	r *rand.Rand
}

func (g randFlows) pick(opts ...string) string { return opts[g.r.IntN(len(opts))] }

func (g randFlows) match() string {
	var m string
	add := func(s string) {
		if m != "" {
			m += ","
		}
		m += s
	}
	proto := g.pick("", "", "ip", "tcp", "udp")
	if proto != "" {
		add(proto)
	}
	if g.r.IntN(2) == 0 {
		add(g.pick("in_port=1", "in_port=2", "in_port=3"))
	}
	if g.r.IntN(3) == 0 {
		add(g.pick("dl_src=00:00:00:00:00:0a", "dl_dst=00:00:00:00:00:0b", "dl_dst=01:00:00:00:00:00/01:00:00:00:00:00"))
	}
	if proto != "" && g.r.IntN(2) == 0 {
		add(g.pick("nw_src=10.0.0.1", "nw_dst=10.0.0.0/30", "nw_dst=10.0.1.0/24", "nw_src=10.0.0.0/31"))
	}
	if (proto == "tcp" || proto == "udp") && g.r.IntN(2) == 0 {
		add(g.pick("tp_dst=80", "tp_dst=53", "tp_src=1000/0xff00"))
	}
	if g.r.IntN(4) == 0 {
		add(g.pick("reg0=1", "reg0=2", "vlan_tci=0x1000/0x1000", "vlan_tci=0"))
	}
	return m
}

func (g randFlows) actions(table int) string {
	n := 1 + g.r.IntN(3)
	var acts string
	for i := 0; i < n; i++ {
		if acts != "" {
			acts += ","
		}
		acts += g.pick("output:1", "output:2", "output:3", "in_port", "FLOOD", "note:00",
			"mod_dl_src:00:00:00:00:00:0c", "mod_vlan_vid:7", "strip_vlan", "load:0x1->NXM_NX_REG0[]",
			"load:0x2->NXM_NX_REG0[]", "mod_nw_dst:10.0.1.1", "dec_ttl", "mod_tp_dst:8080",
			"resubmit(,2)", "resubmit(2,1)", "move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[]", "set_field:5->reg1")
	}
	if table < 2 && g.r.IntN(3) == 0 {
		acts += fmt.Sprintf(",goto_table:%d", table+1)
	}
	return acts
}

func (g randFlows) flow() string {
	table := g.r.IntN(3)
	return fmt.Sprintf("table=%d,priority=%d,%s actions=%s", table, g.r.IntN(4)*10, g.match(), g.actions(table))
}

func (g randFlows) packet() (uint32, []byte) {
	macs := []packet.MAC{macA, macB, macC, bcast}
	ips := []string{"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.1.5"}
	src, dst := macs[g.r.IntN(4)], macs[g.r.IntN(4)]
	sip, dip := netip.MustParseAddr(ips[g.r.IntN(4)]), netip.MustParseAddr(ips[g.r.IntN(4)])
	ports := []uint16{53, 80, 1000, 1234}
	var f []byte
	switch g.r.IntN(4) {
	case 0:
		f = packet.ICMPEcho(src, dst, sip, dip, 1, 1, nil, false)
	case 1:
		f = packet.TCPSegment(src, dst, netip.AddrPortFrom(sip, ports[g.r.IntN(4)]), netip.AddrPortFrom(dip, ports[g.r.IntN(4)]), packet.TCPFlagSYN, nil)
	case 2:
		f = packet.UDPDatagram(src, dst, netip.AddrPortFrom(sip, ports[g.r.IntN(4)]), netip.AddrPortFrom(dip, ports[g.r.IntN(4)]), []byte("x"))
	default:
		f = packet.ARPRequest(src, sip, dip)
	}
	if g.r.IntN(3) == 0 {
		f = packet.Tagged(f, uint16(1+g.r.IntN(3)))
	}
	if g.r.IntN(4) == 0 {
		packet.SetIPv4TTL(f, 14, 1)
	}
	return uint32(1 + g.r.IntN(3)), f
}

// TestCacheMatchesSlowPath compares the fast path (EMC, megaflow cache)
// with fresh translations on random flow tables and packets, across random
// flow mods.
func TestCacheMatchesSlowPath(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		g := randFlows{rand.New(rand.NewPCG(seed, 7))}
		tb := newTestBridge(t, 3)
		var lines []string
		for i := 0; i < 12; i++ {
			lines = append(lines, g.flow())
		}
		tb.flows(lines...)
		for round := 0; round < 6; round++ {
			for i := 0; i < 150; i++ {
				in, f := g.packet()
				want := tb.slowForward(in, f)
				tb.rx(in, f)
				if err := compareOut(want, tb.out()); err != nil {
					t.Fatalf("seed %d round %d packet %d: fast path differs from slow path: %v\nflows:\n%q\ntrace:\n%s",
						seed, round, i, err, lines, tb.TracePacket(f, in))
				}
			}
			// Random changes: add, delete loosely, modify.
			switch round % 3 {
			case 0:
				fm := parseFlow(t, g.flow(), nil)
				if _, err := tb.FlowMods([]openflow.FlowMod{fm}); err != nil {
					t.Fatal(err)
				}
			case 1:
				fm := parseFlow(t, g.match()+" actions=drop", nil)
				fm.Command, fm.Table, fm.Actions = openflow.FlowDelete, openflow.TableAll, nil
				if _, err := tb.FlowMods([]openflow.FlowMod{fm}); err != nil {
					t.Fatal(err)
				}
			case 2:
				fm := parseFlow(t, g.match()+" actions="+g.actions(2), nil)
				fm.Command, fm.Table = openflow.FlowModify, openflow.TableAll
				if _, err := tb.FlowMods([]openflow.FlowMod{fm}); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
}

// TestCacheInvalidation checks that no packet uses a decision made before a
// flow mod, a port change or a port config change.
func TestCacheInvalidation(t *testing.T) {
	tb := newTestBridge(t, 3)
	tb.flows("in_port=1 actions=output:2")
	f := icmp(macA, macB)
	step := func(name string, want uint32) {
		t.Helper()
		tb.rx(1, f)
		got := tb.out()
		if want == 0 {
			if len(got) != 0 {
				t.Fatalf("%s: outputs on %v, want none", name, keys(got))
			}
			return
		}
		if len(got) != 1 || len(got[want]) != 1 {
			t.Fatalf("%s: outputs on %v, want port %d", name, keys(got), want)
		}
	}
	step("initial", 2)
	step("cached", 2)
	tb.flows("in_port=1 actions=output:3")
	step("after flow mod", 3)
	if err := tb.ModPort(3, openflow.PortNoFwd, openflow.PortNoFwd); err != nil {
		t.Fatal(err)
	}
	step("after no-fwd", 0)
	if err := tb.ModPort(3, 0, openflow.PortNoFwd); err != nil {
		t.Fatal(err)
	}
	step("after fwd", 3)
	if err := tb.DelPort("p3"); err != nil {
		t.Fatal(err)
	}
	step("after del-port", 0)
	if err := tb.ModPort(1, openflow.PortNoRecv, openflow.PortNoRecv); err != nil {
		t.Fatal(err)
	}
	tb.flows("actions=output:2")
	step("after no-receive", 0)
}

// TestForwardingAllocs asserts that steady-state forwarding allocates
// nothing, with in-memory wires on every port.
func TestForwardingAllocs(t *testing.T) {
	tests := []struct {
		name  string
		flows []string
	}{
		{"output", []string{"in_port=1 actions=output:2"}},
		{"rewrite and two outputs", []string{"in_port=1 actions=output:3,mod_dl_src:00:00:00:00:00:0c,mod_nw_dst:10.9.9.9,dec_ttl,output:2"}},
		{"vlan push", []string{"in_port=1 actions=mod_vlan_vid:10,output:2"}},
		{"normal", []string{"actions=NORMAL"}},
		{"three tables", []string{"in_port=1 actions=goto_table:1", "table=1,ip actions=resubmit(,2)", "table=2,ip,nw_dst=10.0.0.2 actions=output:2"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { checkForwardingAllocs(t, nil, tc.flows) })
	}
}

// checkForwardingAllocs installs groups and flows on a three-port bridge
// with in-memory wires and fails if forwarding a batch from port 1
// allocates.
func checkForwardingAllocs(t *testing.T, groups []openflow.GroupMod, flows []string) {
	t.Helper()
	b := New(Config{Name: "br0"})
	defer b.Close()
	var peers, ends []*link.Mem
	for i := 1; i <= 3; i++ {
		a, z := link.Pipe(fmt.Sprintf("p%d", i), fmt.Sprintf("peer%d", i), link.PipeOptions{QueueLen: 1 << 16})
		peers, ends = append(peers, z), append(ends, a)
		ps := PortSpec{Name: a.Name(), Link: a}
		if i == 1 {
			ps.Link = nil // driven by hand below
		}
		if _, err := b.AddPort(ps); err != nil {
			t.Fatal(err)
		}
	}
	for _, gm := range groups {
		if _, err := b.GroupMod(gm); err != nil {
			t.Fatalf("GroupMod(%d): %v", gm.ID, err)
		}
	}
	tb := &testBridge{Bridge: b, t: t}
	tb.flows(flows...)
	pr := newProc(b, b.ports.Load().byNo(1), 1, true)
	frames := [][]byte{icmp(macA, macB), icmp(macA, macB)}
	drain := make([][]byte, link.BatchSize)
	for i := range drain {
		drain[i] = make([]byte, link.FrameSize)
	}
	sizes := make([]int, link.BatchSize)
	run := func() {
		for i, f := range frames {
			copy(pr.bufs[i][link.Headroom:], f)
			pr.sizes[i] = len(f)
		}
		pr.batch(len(frames))
		for i := 1; i < len(peers); i++ {
			drainMem(ends[i], peers[i], drain, sizes)
		}
	}
	run()
	run()
	if n := testing.AllocsPerRun(200, run); n != 0 {
		t.Fatalf("forwarding allocates %v times per batch, want 0", n)
	}
}

// drainMem reads from peer every frame end has sent to it; Read returns at
// once while frames are queued.
func drainMem(end, peer *link.Mem, bufs [][]byte, sizes []int) {
	for peer.Stats().RxPackets < end.Stats().TxPackets {
		if _, err := peer.Read(bufs, sizes, 0); err != nil {
			return
		}
	}
}
