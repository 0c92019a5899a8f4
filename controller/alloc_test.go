package controller

import (
	"io"
	"log/slog"
	"net"
	"net/netip"
	"testing"

	"tapestry/flow"
	"tapestry/openflow"
	"tapestry/packet"
)

// TestPacketInHotPathAllocs holds l2-learning's answer to a packet-in
// (learn, flow mod, packet-out, encoded into the switch's buffer) to
// zero allocations once the MAC table and buffers are warm.
func TestPacketInHotPathAllocs(t *testing.T) {
	c := New(Options{Logger: slog.New(slog.DiscardHandler)})
	local, remote := net.Pipe()
	go func() { _, _ = io.Copy(io.Discard, remote) }()
	s := newSwitch(c, local)
	s.Version = openflow.Version13
	defer s.Close()
	macA, macB := packet.MustMAC("02:00:00:00:00:0a"), packet.MustMAC("02:00:00:00:00:0b")
	ipA, ipB := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	mk := func(port uint32, frame []byte) *PacketIn {
		pi := &PacketIn{PacketIn: openflow.PacketIn{BufferID: openflow.NoBuffer, InPort: port, Data: frame}}
		flow.Extract(frame, port, &pi.Key)
		return pi
	}
	a := mk(1, packet.ICMPEcho(macA, macB, ipA, ipB, 1, 1, nil, false))
	b := mk(2, packet.ICMPEcho(macB, macA, ipB, ipA, 1, 1, nil, false))
	l := NewL2Learning()
	for _, tc := range []struct {
		name string
		run  func()
	}{
		{"l2-learning packet-in", func() { _ = l.packetIn(s, a); _ = l.packetIn(s, b) }},
		{"OutputPacket", func() { _ = s.OutputPacket(1, openflow.PortFlood, a.Data, openflow.NoBuffer) }},
	} {
		tc.run()
		if n := testing.AllocsPerRun(200, tc.run); n != 0 {
			t.Errorf("%s: %v allocations per run, want 0", tc.name, n)
		}
	}
}
