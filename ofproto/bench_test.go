package ofproto

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"testing"

	"tapestry/flow"
	"tapestry/link"
	"tapestry/openflow"
	"tapestry/packet"
)

// benchBridge is a bridge whose port 1 is driven by the benchmark and whose
// other ports discard what they are sent.
func benchBridge(b *testing.B, nports int) (*Bridge, *proc) {
	br := New(Config{Name: "br0"})
	b.Cleanup(br.Close)
	for i := 1; i <= nports; i++ {
		ps := PortSpec{Name: fmt.Sprintf("p%d", i)}
		if i > 1 {
			ps.Link = &sinkLink{capLink: *newCapLink(ps.Name)}
		}
		if _, err := br.AddPort(ps); err != nil {
			b.Fatal(err)
		}
	}
	return br, newProc(br, br.ports.Load().byNo(1), 1, true)
}

// runBatches forwards frames in batches of link.BatchSize and reports
// packets per second.
func runBatches(b *testing.B, pr *proc, frames [][]byte) { runBatchesWith(b, pr, frames, nil) }

// runBatchesWith is runBatches calling each (if not nil) after every
// batch, with the number of packets sent so far.
func runBatchesWith(b *testing.B, pr *proc, frames [][]byte, each func(pkts int)) {
	b.ReportAllocs()
	next := 0
	fill := func() {
		for i := 0; i < link.BatchSize; i++ {
			f := frames[next]
			next++
			if next == len(frames) {
				next = 0
			}
			copy(pr.bufs[i][link.Headroom:], f)
			pr.sizes[i] = len(f)
		}
	}
	// Warm the caches: every frame once, up to 65,536 frames (with more,
	// as in BenchmarkForwardNewFlows1M, every frame misses them anyway).
	for i := 0; i < min(len(frames), 1<<16)/link.BatchSize+1; i++ {
		fill()
		pr.batch(link.BatchSize)
	}
	b.ResetTimer()
	pkts := 0
	for pkts < b.N {
		fill()
		pr.batch(link.BatchSize)
		pkts += link.BatchSize
		if each != nil {
			each(pkts)
		}
	}
	b.ReportMetric(float64(pkts)/b.Elapsed().Seconds()/1e6, "Mpps")
}

func BenchmarkForwardSingleFlow(b *testing.B) {
	br, pr := benchBridge(b, 2)
	mustFlows(b, br, flowAdd(0, 32768, matchInPort(1), output(2)))
	runBatches(b, pr, [][]byte{icmp(macA, macB)})
}

func BenchmarkForwardNormal(b *testing.B) {
	br, pr := benchBridge(b, 3)
	_ = br
	// Learn macB on port 2 first.
	var k flow.Key
	flow.Extract(icmp(macB, macA), 2, &k)
	br.macs.learn(macB, 0, 2, br.now().UnixNano())
	br.bump()
	runBatches(b, pr, [][]byte{icmp(macA, macB)})
}

// BenchmarkForward10kFlows3Tables spreads packets over 10,000 flows in three
// tables: table 0 classifies by input port, table 1 holds 9,998 exact
// nw_dst flows that set a register, table 2 outputs by register.
func BenchmarkForward10kFlows3Tables(b *testing.B) {
	br, pr := benchBridge(b, 3)
	fms := []openflow.FlowMod{flowAdd(0, 100, matchInPort(1), openflow.Action{Type: openflow.ActGotoTable, Table: 1})}
	var frames [][]byte
	for i := 0; i < 9998; i++ {
		dst := netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)})
		var m flow.Match
		m.Set(flow.FieldDlType, flow.U64(flow.EthTypeIPv4))
		m.Set(flow.FieldNwDst, flow.Bytes(dst.AsSlice()))
		fms = append(fms, flowAdd(1, 100, m,
			openflow.Action{Type: openflow.ActLoad, Dst: flow.Whole(flow.FieldReg0), Value: flow.U64(uint64(2 + i%2))},
			openflow.Action{Type: openflow.ActGotoTable, Table: 2}))
		frames = append(frames, packet.UDPDatagram(macA, macB, netip.AddrPortFrom(netip.MustParseAddr("10.0.0.1"), 1000),
			netip.AddrPortFrom(dst, 53), []byte("payload")))
	}
	for port := uint32(2); port <= 3; port++ {
		var m flow.Match
		m.Set(flow.FieldReg0, flow.U64(uint64(port)))
		fms = append(fms, flowAdd(2, 100, m, output(port)))
	}
	mustFlows(b, br, fms...)
	if n := br.FlowCount(); n != 10001 {
		b.Fatalf("%d flows, want 10001", n)
	}
	runBatches(b, pr, frames)
}

// BenchmarkForwardNewFlows1M forwards a stream in which every packet
// starts a new flow, so that every packet misses both caches and is
// translated: table 0 holds 1,000,000 exact UDP 5-tuple flows, too many for
// the CPU's caches, and the packets cycle through all of them (the
// megaflow cache holds 200,000, so each packet's entry from the previous
// cycle is gone). As the daemon's housekeeping does every second, the
// bridge's statistics are swept every 65,536 packets, which frees the
// megaflow entries of dropped generations. "prefetch" is the datapath as it runs, loading table 0's
// slots for a batch's misses before translating them; "one-pass" forwards
// each frame in turn, as it does for smaller tables.
func BenchmarkForwardNewFlows1M(b *testing.B) {
	br, pr := benchBridge(b, 2)
	const n = 1 << 20
	fms := make([]openflow.FlowMod, 0, n)
	frames := make([][]byte, 0, n)
	dst := netip.AddrPortFrom(netip.MustParseAddr("10.255.0.1"), 53)
	for i := 0; i < n; i++ {
		src := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), uint16(1024+i%50000))
		var m flow.Match
		m.Set(flow.FieldInPort, flow.U64(1))
		m.Set(flow.FieldDlType, flow.U64(flow.EthTypeIPv4))
		m.Set(flow.FieldNwProto, flow.U64(17))
		m.Set(flow.FieldNwSrc, flow.Bytes(src.Addr().AsSlice()))
		m.Set(flow.FieldNwDst, flow.Bytes(dst.Addr().AsSlice()))
		m.Set(flow.FieldTpSrc, flow.U64(uint64(src.Port())))
		m.Set(flow.FieldTpDst, flow.U64(uint64(dst.Port())))
		fms = append(fms, flowAdd(0, 100, m, output(2)))
		frames = append(frames, packet.UDPDatagram(macA, macB, src, dst, []byte("payload")))
	}
	mustFlows(b, br, fms...)
	fms = nil
	// A random order, fixed by the seed: flows installed one after
	// another sit next to each other in no table, but keep the stream from
	// walking the frames in the order the flows were made.
	rng := rand.New(rand.NewPCG(1, 2))
	rng.Shuffle(len(frames), func(i, j int) { frames[i], frames[j] = frames[j], frames[i] })
	for _, on := range []bool{true, false} {
		b.Run(map[bool]string{true: "prefetch", false: "one-pass"}[on], func(b *testing.B) {
			defer withTwoPass(on)()
			runBatchesWith(b, pr, frames, func(pkts int) {
				if pkts%(1<<16) == 0 {
					br.Expire()
				}
			})
			if br.MegaflowCount() == 0 {
				b.Fatal("no megaflows installed")
			}
		})
	}
}

// BenchmarkFlowMods100k adds 100,000 flows in one batch, as
// ovs-ofctl add-flows of a 100,000-line file does, and reports the heap
// each flow costs.
func BenchmarkFlowMods100k(b *testing.B) {
	b.ReportAllocs()
	fms := make([]openflow.FlowMod, 100000)
	for i := range fms {
		var m flow.Match
		m.Set(flow.FieldDlType, flow.U64(flow.EthTypeIPv4))
		m.Set(flow.FieldNwDst, flow.Bytes([]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}))
		m.Set(flow.FieldInPort, flow.U64(uint64(1+i%4)))
		fms[i] = flowAdd(uint8(i%3), uint16(100+i%5), m, output(uint32(1+i%4)))
	}
	var perFlow float64
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		br := New(Config{Name: "br0"})
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		b.StartTimer()
		if _, err := br.FlowMods(fms); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		runtime.GC()
		runtime.ReadMemStats(&after)
		perFlow = float64(after.HeapAlloc-before.HeapAlloc) / float64(len(fms))
		runtime.KeepAlive(br)
		br.Close()
		b.StartTimer()
	}
	b.ReportMetric(perFlow, "heapB/flow")
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/batch")
}

func mustFlows(tb testing.TB, br *Bridge, fms ...openflow.FlowMod) {
	tb.Helper()
	all := append([]openflow.FlowMod{{Command: openflow.FlowDelete, Table: openflow.TableAll, OutPort: openflow.PortAny, OutGroup: openflow.GroupAny}}, fms...)
	if _, err := br.FlowMods(all); err != nil {
		tb.Fatal(err)
	}
}

func flowAdd(table uint8, prio uint16, m flow.Match, acts ...openflow.Action) openflow.FlowMod {
	return openflow.FlowMod{Command: openflow.FlowAdd, Table: table, Priority: prio, Match: m,
		OutPort: openflow.PortAny, OutGroup: openflow.GroupAny, BufferID: openflow.NoBuffer, Actions: acts}
}

func matchInPort(p uint32) flow.Match {
	var m flow.Match
	m.Set(flow.FieldInPort, flow.U64(uint64(p)))
	return m
}

func output(p uint32) openflow.Action { return openflow.Action{Type: openflow.ActOutput, Port: p} }

// BenchmarkForwardSingleFlowPipe is BenchmarkForwardSingleFlow with a
// link.Pipe as the output port, drained by a reader goroutine: the cost of
// the in-memory wire's copy is included.
func BenchmarkForwardSingleFlowPipe(b *testing.B) {
	br := New(Config{Name: "br0"})
	b.Cleanup(br.Close)
	if _, err := br.AddPort(PortSpec{Name: "p1"}); err != nil {
		b.Fatal(err)
	}
	a, z := link.Pipe("p2", "peer2", link.PipeOptions{QueueLen: 4096})
	if _, err := br.AddPort(PortSpec{Name: "p2", Link: a}); err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		bufs := make([][]byte, link.BatchSize)
		for i := range bufs {
			bufs[i] = make([]byte, 2048)
		}
		sizes := make([]int, link.BatchSize)
		for {
			if _, err := z.Read(bufs, sizes, 0); err != nil {
				return
			}
		}
	}()
	b.Cleanup(func() { z.Close(); <-done })
	mustFlows(b, br, flowAdd(0, 32768, matchInPort(1), output(2)))
	runBatches(b, newProc(br, br.ports.Load().byNo(1), 1, true), [][]byte{icmp(macA, macB)})
}
