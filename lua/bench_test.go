package lua

import (
	"testing"
	"time"

	"tapestry/controller/controllertest"
	"tapestry/openflow"
	"tapestry/packet"
)

// BenchmarkLuaPacketIn measures packet-ins per second handled by a Lua
// app that reads packet fields and floods.
func BenchmarkLuaPacketIn(b *testing.B) {
	c, addr := startController(b, Config{})
	if _, err := c.LoadApp(writeFile(b, b.TempDir(), "flood.lua", []byte(floodApp))); err != nil {
		b.Fatal(err)
	}
	sw, err := controllertest.Dial(addr, 1, 2, openflow.Version13)
	if err != nil {
		b.Fatal(err)
	}
	defer sw.Close()
	waitUp(b, c, 1)
	frame := packet.ICMPEcho(macB, macA, ipB, ipA, 1, 1, nil, false)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		sw.InjectMiss(1, frame)
	}
	if !sw.WaitFor(time.Minute, func([]openflow.FlowMod, map[uint32][][]byte) bool { return sw.PacketOuts >= b.N }) {
		b.Fatal("packet-outs missing")
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "packetins/s")
}
