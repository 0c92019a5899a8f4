package daemon

import (
	"context"
	"io"
	"testing"
	"time"

	"tapestry/api"
)

// BenchmarkDumpFlows100k measures dump-flows of 100,000 flows on the
// daemon's side: reading the bridge's flows and formatting them. B/op is
// what the dump allocates; read and formatted a chunk at a time, it stays
// far below 100,000 FlowStats (~44 MB).
func BenchmarkDumpFlows100k(b *testing.B) {
	d := newTestDaemon(b, b.TempDir(), &MemDevices{})
	vsctl(b, d, cmd("add-br", "br0"))
	req, err := api.DecodeFlowModRequest(api.FlowCmdAdd, flowFile(100000))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := d.FlowMods(context.Background(), "br0", "", req); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	var cpu time.Duration
	for range b.N {
		c0 := cpuTime()
		if err := d.DumpFlows(context.Background(), "br0", api.DumpFlowsRequest{}, io.Discard); err != nil {
			b.Fatal(err)
		}
		cpu += cpuTime() - c0
	}
	b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N), "cpu-ms/op")
}
