package ofchannel

import (
	"sync/atomic"
	"testing"

	"tapestry/flow"
	"tapestry/ofproto"
	"tapestry/openflow"
)

// BenchmarkFlowMods streams b.N OpenFlow 1.3 flow mods (distinct
// nw_dst matches) over one unix-socket connection, then a barrier, and
// reports flow-mods/s. Nobody consumes the flow changes, as with an agent
// run outside the daemon.
func BenchmarkFlowMods(b *testing.B) { benchFlowMods(b, Config{}) }

// BenchmarkFlowModsObserved is BenchmarkFlowMods with an OnFlowChanges
// consumer, as the daemon installs: the bridge then reports every added
// flow by reference (the consumer here only counts them; the daemon's own
// encoding and storing are measured in package daemon).
func BenchmarkFlowModsObserved(b *testing.B) {
	var n atomic.Int64
	benchFlowMods(b, Config{OnFlowChanges: func(ch ofproto.FlowChanges) { n.Add(int64(len(ch.AddedRefs))) }})
	if got := n.Load(); got < int64(b.N) {
		b.Fatalf("OnFlowChanges heard of %d added flows, want %d", got, b.N)
	}
}

func benchFlowMods(b *testing.B, cfg Config) {
	b.ReportAllocs()
	tb := newTestBed(b, cfg)
	c := tb.dial(b, openflow.Version13)
	fm := fmAdd(100, 2)
	var stream []byte
	for i := range b.N {
		fm.Match.Set(flow.FieldNwDst, flow.Bytes([]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}))
		var err error
		if stream, err = fm.Append(stream, openflow.Version13, uint32(i)); err != nil {
			b.Fatal(err)
		}
	}
	bar, _ := (&openflow.BarrierRequest{}).Append(nil, openflow.Version13, 0xbeef)
	stream = append(stream, bar...)
	b.ResetTimer()
	go c.nc.Write(stream) //nolint:errcheck
	m, h := c.recvReply()
	b.StopTimer()
	if m.Type() != openflow.TypeBarrierReply || h.Xid != 0xbeef {
		b.Fatalf("got %v (xid %#x), want the barrier reply; an error came back", m.Type(), h.Xid)
	}
	if n := tb.br.FlowCount(); n < b.N {
		b.Fatalf("%d flows installed, want %d", n, b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "flowmods/s")
}

// BenchmarkPacketInOut measures the round trip packet-in -> controller ->
// packet-out(output:TABLE) on one connection.
func BenchmarkPacketInOut(b *testing.B) {
	b.ReportAllocs()
	tb := newTestBed(b, Config{ControllerRateLimit: -1})
	c := tb.dial(b, openflow.Version13)
	c.write(&openflow.SwitchConfig{IsSet: true, MissSendLen: 0xffff})
	// Frames from port 1 go to the controller; frames injected by packet-out
	// (in_port CONTROLLER) go to the controller again, closing the loop.
	fm := &openflow.FlowMod{Command: openflow.FlowAdd, Priority: 10, BufferID: openflow.NoBuffer,
		OutPort: openflow.PortAny, OutGroup: openflow.GroupAny,
		Actions: []openflow.Action{{Type: openflow.ActOutput, Port: openflow.PortController, MaxLen: 0xffff}}}
	c.write(fm)
	c.write(&openflow.BarrierRequest{})
	c.recvReply()
	if _, err := tb.hosts["p1"].Write([][]byte{frame}); err != nil {
		b.Fatal(err)
	}
	po := &openflow.PacketOut{BufferID: openflow.NoBuffer, InPort: openflow.PortController,
		Actions: []openflow.Action{{Type: openflow.ActOutput, Port: openflow.PortTable}}}
	b.ResetTimer()
	for i := 0; i < b.N; {
		m, _ := c.recv()
		pin, ok := m.(*openflow.PacketIn)
		if !ok {
			continue
		}
		i++
		po.Data = pin.Data
		c.write(po)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/roundtrip")
}
