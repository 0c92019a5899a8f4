package ofproto

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"tapestry/link"
	"tapestry/openflow"
	"tapestry/packet"
)

// TestConcurrentForwardingAndGroupMods forwards through real receive
// goroutines while groups are modified, deleted and re-added and a watched
// port flaps, then checks that forwarding follows the final group. Run it
// with -race.
func TestConcurrentForwardingAndGroupMods(t *testing.T) {
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
	marker := packet.MustMAC("00:00:00:00:00:99")
	var marked [3]atomic.Uint64
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
	writers.Add(1)
	go func() {
		defer writers.Done()
		frames := [][]byte{tcp("10.0.0.1:1", "10.0.0.2:80"), udp("10.0.0.3:5", "10.0.0.2:53"), icmp(macA, macB)}
		for n := 0; ; n++ {
			select {
			case <-stop:
				return
			default:
			}
			peers[0].Write(frames[n%3 : n%3+1])
		}
	}()
	tb := &testBridge{Bridge: b, t: t}
	tb.groups(addGroup(gSelect, 1, bkt("output:2"), bkt("mod_vlan_vid:4,output:3")))
	tb.flows("in_port=1,actions=group:1")
	for i := 0; i < 200; i++ {
		switch i % 5 {
		case 0:
			tb.groups(modGroup(gAll, 1, bkt("mod_nw_dst:10.9.9.9,output:2"), bkt("output:3")))
		case 1:
			tb.groups(modGroup(gFF, 1, watchPort(3, bkt("output:3")), watchPort(2, bkt("output:2"))))
			_ = b.ModPort(3, openflow.PortDown, openflow.PortDown)
			_ = b.ModPort(3, 0, openflow.PortDown)
		case 2:
			tb.groups(delGroup(1), addGroup(gSelect, 1, weighted(5, bkt("output:2")), bkt("output:3")))
			tb.flows("in_port=1,actions=group:1")
		case 3:
			b.GroupStats(openflow.GroupAll)
			b.Groups()
		case 4:
			_ = b.TracePacket(icmp(macA, macB), 1).String()
		}
	}
	tb.groups(modGroup(gIndirect, 1, bkt("output:3")))
	close(stop)
	writers.Wait()
	// Let the readers drain what the churn queued: on a loaded machine a
	// reader can fall a whole queue behind, and a full queue drops the
	// marked frames below at transmit.
	for i := 0; ; i++ {
		// The bridge has read all the writer sent, and each peer all the
		// bridge sent it.
		ports := b.Ports()
		drained := ports[0].Stats.RxPackets >= peers[0].Stats().TxPackets
		for j, p := range ports {
			if peers[j].Stats().RxPackets < p.Stats.TxPackets {
				drained = false
			}
		}
		if drained {
			break
		}
		if i > 10000 {
			t.Fatal("the peers never drained their queues")
		}
		time.Sleep(time.Millisecond)
	}
	// After the last GroupMod returned, every packet goes to port 3 only.
	before := [3]uint64{marked[0].Load(), marked[1].Load(), marked[2].Load()}
	const nMarked = 50
	for i := 0; i < nMarked; i++ {
		if n, _ := peers[0].Write([][]byte{icmp(marker, macB)}); n != 1 {
			i-- // queue full: retry
			time.Sleep(time.Millisecond)
		}
	}
	for i := 0; marked[2].Load() < nMarked; i++ {
		if i > 10000 {
			var st []string
			for j, p := range b.Ports() {
				st = append(st, fmt.Sprintf("%s tx %d drop %d rx %d / peer rx %d", p.Name, p.Stats.TxPackets, p.Stats.TxDropped, p.Stats.RxPackets, peers[j].Stats().RxPackets))
			}
			t.Fatalf("port 3 received %d of %d marked frames; drops %v; ports %v; trace %s", marked[2].Load(), nMarked, b.DropStats(), st, b.TracePacket(icmp(marker, macB), 1).String())
		}
		time.Sleep(time.Millisecond)
	}
	if before != [3]uint64{} || marked[1].Load() != 0 {
		t.Fatalf("marked frames went elsewhere: before %v, port 2 %d", before, marked[1].Load())
	}
	b.Close()
	for _, p := range peers {
		p.Close()
	}
	readers.Wait()
	if s := b.GroupStats(1); len(s) != 1 || s[0].Packets < nMarked {
		t.Fatalf("group stats %+v, want at least %d packets", s, nMarked)
	}
}
