package daemon

import (
	"context"
	"net"
	"testing"
	"time"

	"tapestry/flow"
	"tapestry/ofconn"
	"tapestry/openflow"
)

// barrierXID marks the barrier that ends a flow-mod stream.
const barrierXID = 0xbeef

// flowModStream encodes n OpenFlow 1.3 flow mods of command cmd (priority
// 100, ip, nw_dst=10.x.y.z counting up from first, output:2) followed by
// a barrier request, as one byte stream: what a controller pushing flows
// as fast as it can puts on the wire.
func flowModStream(tb testing.TB, cmd openflow.FlowModCommand, first, n int) []byte {
	tb.Helper()
	fm := &openflow.FlowMod{Command: cmd, Priority: 100, BufferID: openflow.NoBuffer,
		OutPort: openflow.PortAny, OutGroup: openflow.GroupAny,
		Actions: []openflow.Action{{Type: openflow.ActOutput, Port: 2}}}
	fm.Match.Set(flow.FieldDlType, flow.U64(0x0800))
	var stream []byte
	for i := first; i < first+n; i++ {
		fm.Match.Set(flow.FieldNwDst, flow.Bytes([]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}))
		var err error
		if stream, err = fm.Append(stream, openflow.Version13, uint32(i)); err != nil {
			tb.Fatal(err)
		}
	}
	bar, err := (&openflow.BarrierRequest{}).Append(nil, openflow.Version13, barrierXID)
	if err != nil {
		tb.Fatal(err)
	}
	return append(stream, bar...)
}

// dialMgmt opens an OpenFlow 1.3 connection to br's management socket, as
// ovs-ofctl or a local controller would.
func dialMgmt(tb testing.TB, d *Daemon, br string) (net.Conn, *ofconn.Conn) {
	tb.Helper()
	nc, err := net.Dial("unix", MgmtPath(d.cfg.RunDir, br))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { nc.Close() })
	c, err := ofconn.Handshake(context.Background(), nc, ofconn.Bitmap(openflow.Version13))
	if err != nil {
		tb.Fatal(err)
	}
	return nc, c
}

// sendStream writes stream on nc and waits for the barrier reply that ends
// it; any other message (an error) fails tb.
func sendStream(tb testing.TB, nc net.Conn, c *ofconn.Conn, stream []byte) {
	tb.Helper()
	werr := make(chan error, 1)
	go func() { _, err := nc.Write(stream); werr <- err }()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	m, xid, err := c.Receive(ctx)
	if err != nil {
		tb.Fatalf("waiting for the barrier reply: %v", err)
	}
	if m.Type() != openflow.TypeBarrierReply || xid != barrierXID {
		tb.Fatalf("got %v (xid %#x: %+v), want the barrier reply", m.Type(), xid, m)
	}
	if err := <-werr; err != nil {
		tb.Fatal(err)
	}
}

// BenchmarkOpenFlowFlowMods streams b.N OpenFlow 1.3 flow mods (distinct
// nw_dst matches) then a barrier over one connection to a daemon bridge's
// management socket, as ofchannel's BenchmarkFlowMods does for a bare
// agent, but with the daemon's OnFlowChanges hook (the flow log) in place.
// flowmods/s is measured up to the barrier reply, which is what a
// controller sees; stored-flowmods/s up to the moment the store holds every
// change (the flow log drained after the reply).
func BenchmarkOpenFlowFlowMods(b *testing.B) {
	d := newTestDaemon(b, b.TempDir(), &MemDevices{})
	vsctl(b, d, cmd("add-br", "br0"))
	nc, c := dialMgmt(b, d, "br0")
	stream := flowModStream(b, openflow.FlowAdd, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	sendStream(b, nc, c, stream)
	acked := b.Elapsed()
	d.flowMu.Lock()
	d.drainFlowLog()
	d.flowMu.Unlock()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/acked.Seconds(), "flowmods/s")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "stored-flowmods/s")
	// CPU time of the whole process (agent, bridge, flow log, GC) per
	// stored flow mod: on a shared machine it says more than wall time.
	b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/1e3/float64(b.N), "cpu-µs/op")
	if n := len(storedFlows(b, d, "br0")); n != b.N+1 { // and the default flow
		b.Fatalf("store holds %d flows, want %d", n, b.N+1)
	}
}
