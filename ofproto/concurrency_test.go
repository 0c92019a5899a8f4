package ofproto

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"tapestry/link"
	"tapestry/openflow"
	"tapestry/packet"
)

// TestConcurrentForwardingAndFlowMods forwards through real receive
// goroutines and in-memory wires while flows, ports and the MAC table
// change, then checks that forwarding follows the final flow table. Run it
// with -race.
func TestConcurrentForwardingAndFlowMods(t *testing.T) {
	b := New(Config{Name: "br0"})
	defer b.Close()
	var peers []*link.Mem
	for i := 1; i <= 3; i++ {
		a, z := link.Pipe(fmt.Sprintf("p%d", i), fmt.Sprintf("peer%d", i), link.PipeOptions{})
		peers = append(peers, z)
		if _, err := b.AddPort(PortSpec{Name: a.Name(), Link: a}); err != nil {
			t.Fatal(err)
		}
	}
	// Readers count what each peer receives.
	var got, marked [3]atomic.Uint64
	marker := packet.MustMAC("00:00:00:00:00:99")
	var readers sync.WaitGroup
	for i, p := range peers {
		readers.Add(1)
		go func() {
			defer readers.Done()
			bufs := make([][]byte, link.BatchSize)
			for j := range bufs {
				bufs[j] = make([]byte, link.FrameSize)
			}
			sizes := make([]int, link.BatchSize)
			for {
				n, err := p.Read(bufs, sizes, 0)
				if err != nil {
					return
				}
				got[i].Add(uint64(n))
				for j := 0; j < n; j++ {
					if packet.MAC(bufs[j][6:12]) == marker {
						marked[i].Add(1)
					}
				}
			}
		}()
	}
	stop := make(chan struct{})
	var writers sync.WaitGroup
	for i := 0; i < 2; i++ {
		writers.Add(1)
		go func() {
			defer writers.Done()
			frames := [][]byte{icmp(macA, macB), tcp("10.0.0.1:1", "10.0.0.2:80"), icmp(macC, bcast)}
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				peers[0].Write(frames[n%3 : n%3+1])
			}
		}()
	}
	tb := &testBridge{Bridge: b, t: t}
	for i := 0; i < 200; i++ {
		switch i % 5 {
		case 0:
			tb.flows("in_port=1 actions=output:2", "priority=10,ip actions=resubmit(,1)", "table=1,actions=NORMAL")
		case 1:
			tb.flows("actions=NORMAL")
		case 2:
			_ = b.ModPort(3, openflow.PortNoFwd, openflow.PortNoFwd)
			_ = b.ModPort(3, 0, openflow.PortNoFwd)
		case 3:
			b.DumpFlows(openflow.FlowMod{Table: openflow.TableAll, OutPort: openflow.PortAny, OutGroup: openflow.GroupAny})
			b.TableStats()
			b.Expire()
			b.FlushFDB()
		case 4:
			_ = b.TracePacket(icmp(macA, macB), 1).String()
			b.Inject(2, icmp(macB, macA))
		}
	}
	tb.flows("actions=output:3")
	close(stop)
	writers.Wait()
	// Let the queues drain, so that output queues have room again.
	for i := 0; ; i++ {
		ps := b.Ports()
		if ps[0].Stats.RxPackets == peers[0].Stats().TxPackets && got[2].Load() == ps[2].Stats.TxPackets {
			break
		}
		if i > 10000 {
			t.Fatalf("queues do not drain: %+v", ps)
		}
		time.Sleep(time.Millisecond)
	}
	// After the last FlowMods returned, every packet goes to port 3 only.
	const nMarked = 50
	for i := 0; i < nMarked; i++ {
		if n, _ := peers[0].Write([][]byte{icmp(marker, macB)}); n != 1 {
			i-- // queue full: retry
			time.Sleep(time.Millisecond)
		}
	}
	for i := 0; marked[2].Load() < nMarked; i++ {
		if i > 10000 {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("port 3 received %d of %d marked frames; ports %+v drops %v flows %v\n%s", marked[2].Load(), nMarked, b.Ports(), b.DropStats(), dump(b), buf)
		}
		time.Sleep(time.Millisecond)
	}
	if marked[0].Load() != 0 || marked[1].Load() != 0 {
		t.Fatalf("frames sent after the last flow mod reached ports 1/2: %d, %d", marked[0].Load(), marked[1].Load())
	}
	b.Close()
	for _, p := range peers {
		p.Close()
	}
	readers.Wait()
	fs := b.DumpFlows(openflow.FlowMod{Table: openflow.TableAll, OutPort: openflow.PortAny, OutGroup: openflow.GroupAny})
	if len(fs) != 1 || fs[0].Packets == 0 {
		t.Fatalf("final flow table %d flows, packets %v; want one flow that forwarded", len(fs), fs)
	}
	if got[2].Load() == 0 {
		t.Fatalf("port 3 received nothing")
	}
}
