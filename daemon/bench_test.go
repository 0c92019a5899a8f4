package daemon

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"tapestry/api"
	"tapestry/openflow"
	"tapestry/store"
)

// flowFile returns n add-flows lines like the seed benchmark's.
func flowFile(n int) []byte {
	var sb strings.Builder
	for i := range n {
		fmt.Fprintf(&sb, "in_port=1,nw_dst=10.%d.%d.%d,ip,actions=output:2\n", i>>16, (i>>8)&255, i&255)
	}
	return []byte(sb.String())
}

// BenchmarkAddFlows100k measures the daemon's side of add-flows: decode,
// parse, bridge, store commit, for 100,000 flows into an empty bridge
// (the previous iteration's flows are deleted outside the timer).
func BenchmarkAddFlows100k(b *testing.B) {
	d := newTestDaemon(b, b.TempDir(), &MemDevices{})
	vsctl(b, d, cmd("add-br", "br0"))
	body := flowFile(100000)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	var cpu time.Duration
	for range b.N {
		c0 := cpuTime()
		req, err := api.DecodeFlowModRequest(api.FlowCmdAdd, body)
		if err != nil {
			b.Fatal(err)
		}
		res, err := d.FlowMods(ctx, "br0", "", req)
		if err != nil || res.Added != 100000 {
			b.Fatalf("FlowMods = %+v, %v", res, err)
		}
		b.StopTimer()
		cpu += cpuTime() - c0
		del, _ := api.DecodeFlowModRequest(api.FlowCmdDelete, nil)
		if _, err := d.FlowMods(ctx, "br0", "", del); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	// CPU time (every goroutine, GC included) per add-flows of 100,000.
	b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N), "cpu-ms/op")
}

// TestAddFlowsStages adds 100,000 flows stage by stage, checks that the
// bridge and the store both hold all of them, and logs what each stage
// cost (wall and CPU time).
func TestAddFlowsStages(t *testing.T) {
	if testing.Short() {
		t.Skip("100,000 flows")
	}
	d := newTestDaemon(t, t.TempDir(), &MemDevices{})
	vsctl(t, d, cmd("add-br", "br0"))
	body := flowFile(100000)
	t0, c0 := time.Now(), cpuTime()
	req, _ := api.DecodeFlowModRequest(api.FlowCmdAdd, body)
	t1, c1 := time.Now(), cpuTime()
	rt := d.bridges["br0"]
	if fms, err := parseFlowMods(req.Lines, openflow.FlowAdd, true, rt, ""); err != nil || len(fms) != len(req.Lines) {
		t.Fatalf("parseFlowMods = %d flow mods, %v; want %d", len(fms), err, len(req.Lines))
	}
	t2, c2 := time.Now(), cpuTime()
	if _, err := d.addLines(rt, req.Lines, ""); err != nil {
		t.Fatal(err)
	}
	t3, c3 := time.Now(), cpuTime()
	if agg, err := d.Aggregate(context.Background(), "br0", ""); err != nil || agg.Flows != 100001 {
		t.Errorf("bridge holds %+v (%v), want 100001 flows", agg, err)
	}
	n := 0
	d.st.View(func(tx *store.Tx) error {
		return tx.ForEach(flowsPath("br0"), func(string, []byte) error { n++; return nil })
	})
	if n != 100001 {
		t.Errorf("store holds %d flows, want 100001", n)
	}
	// parse is parsing alone, for comparison: addLines parses again,
	// chunk by chunk, overlapped with the bridge and the store.
	t.Logf("wall: decode %v, parse %v, parse+bridge+store %v", t1.Sub(t0), t2.Sub(t1), t3.Sub(t2))
	t.Logf("cpu:  decode %v, parse %v, parse+bridge+store %v", c1-c0, c2-c1, c3-c2)
}

// cpuTime is the CPU time (user+system) the process has used: on a
// shared machine it says more about cost than wall time does.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkPersistFlows100k measures the store side of a 100,000-flow add:
// formatting keys and values and one bbolt transaction.
func BenchmarkPersistFlows100k(b *testing.B) {
	d := newTestDaemon(b, b.TempDir(), &MemDevices{})
	vsctl(b, d, cmd("add-br", "br0"))
	req, _ := api.DecodeFlowModRequest(api.FlowCmdAdd, flowFile(100000))
	rt := d.bridges["br0"]
	fms, err := parseFlowMods(req.Lines, openflow.FlowAdd, true, rt, "")
	if err != nil {
		b.Fatal(err)
	}
	ch, err := rt.br.FlowMods(fms)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := d.persistFlows("br0", ch); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDelFlows100k measures del-flows of a bridge holding 100,000
// flows: the bridge empties its tables and the store drops the bucket (the
// adds are redone outside the timer).
func BenchmarkDelFlows100k(b *testing.B) {
	d := newTestDaemon(b, b.TempDir(), &MemDevices{})
	vsctl(b, d, cmd("add-br", "br0"))
	body := flowFile(100000)
	ctx := context.Background()
	b.ReportAllocs()
	var cpu time.Duration
	for range b.N {
		b.StopTimer()
		req, _ := api.DecodeFlowModRequest(api.FlowCmdAdd, body)
		if _, err := d.FlowMods(ctx, "br0", "", req); err != nil {
			b.Fatal(err)
		}
		del, _ := api.DecodeFlowModRequest(api.FlowCmdDelete, nil)
		b.StartTimer()
		c0 := cpuTime()
		res, err := d.FlowMods(ctx, "br0", "", del)
		if err != nil || res.Removed < 100000 {
			b.Fatalf("FlowMods(delete) = %+v, %v; want 100,000 or more removed", res, err)
		}
		cpu += cpuTime() - c0
	}
	b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N), "cpu-ms/op")
}
