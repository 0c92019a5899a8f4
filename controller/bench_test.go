package controller_test

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"tapestry/controller"
	"tapestry/controller/controllertest"
	"tapestry/openflow"
)

// BenchmarkL2LearningPacketIn measures packet-ins handled per second by
// l2-learning on one connection: each packet-in is answered with a
// packet-out (and, for known destinations, a flow mod).
func BenchmarkL2LearningPacketIn(b *testing.B) {
	c, addr := start(b, controller.Options{})
	if _, err := c.LoadApp("l2-learning"); err != nil {
		b.Fatal(err)
	}
	sw := dial(b, addr, 1, 2, openflow.Version13)
	waitSwitch(b, c, 1)
	frames := [][]byte{ping(macA, macB, ipA, ipB), ping(macB, macA, ipB, ipA)}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		sw.InjectMiss(uint32(1+i%2), frames[i%2])
	}
	if !sw.WaitFor(time.Minute, func([]openflow.FlowMod, map[uint32][][]byte) bool { return sw.PacketOuts >= b.N }) {
		b.Fatal("packet-outs missing")
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "packetins/s")
}

// BenchmarkL2LearningPacketInWire is the same load from a switch that
// only writes pre-encoded packet-ins and counts the replies by type, so
// the figure is the controller's: read, decode, dispatch, learn, encode,
// write.
func BenchmarkL2LearningPacketInWire(b *testing.B) {
	c, addr := start(b, controller.Options{})
	if _, err := c.LoadApp("l2-learning"); err != nil {
		b.Fatal(err)
	}
	sw, err := controllertest.DialBlaster(addr, 1, 2, openflow.Version13)
	if err != nil {
		b.Fatal(err)
	}
	defer sw.Close()
	waitSwitch(b, c, 1)
	msgs, err := sw.PacketIns([]uint32{1, 2}, [][]byte{ping(macA, macB, ipA, ipB), ping(macB, macA, ipB, ipA)})
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

// BenchmarkRESTAddFlow measures flow mods pushed through POST
// /switches/{dpid}/flows (one flow per request, acknowledged by a
// barrier) to a switch that answers at once (controllertest.Blaster).
func BenchmarkRESTAddFlow(b *testing.B) {
	c, addr := start(b, controller.Options{Token: token})
	sw, err := controllertest.DialBlaster(addr, 1, 2, openflow.Version13)
	if err != nil {
		b.Fatal(err)
	}
	defer sw.Close()
	waitSwitch(b, c, 1)
	srv := httptest.NewServer(c.Handler())
	defer srv.Close()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		code, body := do(b, srv, "POST", "/switches/1/flows", token, fmt.Sprintf(`{"flow":"priority=%d,ip,nw_dst=10.0.%d.%d,actions=drop"}`, i%100, i/256%256, i%256))
		if code != 201 {
			b.Fatalf("POST: %d %s", code, strings.TrimSpace(body))
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "flowmods/s")
}

// BenchmarkRESTAddFlowsBatch measures flow mods pushed through POST
// /switches/{dpid}/flows with 1000 flows per request (one barrier per
// request).
func BenchmarkRESTAddFlowsBatch(b *testing.B) {
	const batch = 1000
	c, addr := start(b, controller.Options{Token: token})
	sw, err := controllertest.DialBlaster(addr, 1, 2, openflow.Version13)
	if err != nil {
		b.Fatal(err)
	}
	defer sw.Close()
	waitSwitch(b, c, 1)
	srv := httptest.NewServer(c.Handler())
	defer srv.Close()
	var body strings.Builder
	body.WriteString(`{"flows":[`)
	for i := 0; i < batch; i++ {
		if i > 0 {
			body.WriteByte(',')
		}
		fmt.Fprintf(&body, `"priority=%d,ip,nw_dst=10.0.%d.%d,actions=drop"`, i%100, i/256%256, i%256)
	}
	body.WriteString(`]}`)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		code, resp := do(b, srv, "POST", "/switches/1/flows", token, body.String())
		if code != 201 {
			b.Fatalf("POST: %d %s", code, strings.TrimSpace(resp))
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "flowmods/s")
}
