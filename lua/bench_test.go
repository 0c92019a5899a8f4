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

// BenchmarkLuaPacketInWire is the same app fed by a switch that only
// writes pre-encoded packet-ins and counts replies, so the figure is the
// controller's and the Lua VM's.
func BenchmarkLuaPacketInWire(b *testing.B) {
	c, addr := startController(b, Config{})
	if _, err := c.LoadApp(writeFile(b, b.TempDir(), "flood.lua", []byte(floodApp))); err != nil {
		b.Fatal(err)
	}
	sw, err := controllertest.DialBlaster(addr, 1, 2, openflow.Version13)
	if err != nil {
		b.Fatal(err)
	}
	defer sw.Close()
	waitUp(b, c, 1)
	msgs, err := sw.PacketIns([]uint32{1}, [][]byte{packet.ICMPEcho(macB, macA, ipB, ipA, 1, 1, nil, false)})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	if err := sw.Send(b.N, msgs); err != nil {
		b.Fatal(err)
	}
	if err := sw.Wait(b.N, time.Minute); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "packetins/s")
}
