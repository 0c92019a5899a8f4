package ofproto

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"

	"tapestry/openflow"
	"tapestry/packet"
)

// groupBridge is a bridge whose flows send traffic through every group
// type, with buckets that rewrite, push VLANs, chain and fail over.
func groupBridge(t testing.TB) *testBridge {
	tb := newTestBridge(t, 4)
	tb.groups(
		addGroup(gAll, 10, bkt("mod_nw_src:10.9.9.9,mod_vlan_vid:9,output:3"), bkt("output:4")),
		addGroup(gSelect, 1, bkt("output:2"), weighted(2, bkt("mod_dl_dst:00:00:00:00:00:0c,output:3")),
			weighted(3, bkt("group:10")), weighted(0, bkt("output:4"))),
		addGroup(gFF, 2, watchPort(2, bkt("mod_tp_dst:99,output:2")), watchPort(3, bkt("output:3")), watchGroup(10, bkt("output:4"))),
		addGroup(gIndirect, 3, bkt("strip_vlan,group:1")),
	)
	tb.flows(
		"priority=50,in_port=1,ip actions=group:1,mod_nw_tos:8,output:4",
		"priority=40,in_port=1 actions=group:3",
		"priority=40,in_port=2 actions=write_actions(group:2,output:1)",
		"priority=40,in_port=3 actions=group:10,group:2",
		"priority=40,in_port=4 actions=resubmit(,1),group:1",
		"table=1,tcp,tp_dst=80 actions=group:2",
	)
	return tb
}

// TestGroupCacheMatchesSlowPath forwards random packets through the caches
// and compares every result with a fresh translation, while watched ports
// go up and down: a megaflow mask that misses a field the select hash or
// liveness depended on makes the two differ.
func TestGroupCacheMatchesSlowPath(t *testing.T) {
	tb := groupBridge(t)
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 3000; i++ {
		if i%500 == 499 {
			p := uint32(r.IntN(3) + 2)
			cfg := openflow.PortConfig(0)
			if r.IntN(2) == 0 {
				cfg = openflow.PortDown
			}
			if err := tb.ModPort(p, cfg, openflow.PortDown); err != nil {
				t.Fatal(err)
			}
		}
		in := uint32(r.IntN(4) + 1)
		frame := randPacket(r)
		want := tb.slowForward(in, frame)
		if tb.ports.Load().byNo(in).cfg()&openflow.PortDown != 0 {
			want = map[uint32][][]byte{} // a down port receives nothing
		}
		tb.rx(in, frame)
		if err := compareOut(want, tb.out()); err != nil {
			t.Fatalf("packet %d from port %d: fast path differs from slow path: %v", i, in, err)
		}
	}
}

func randPacket(r *rand.Rand) []byte {
	src := fmt.Sprintf("10.0.%d.%d:%d", r.IntN(3), r.IntN(4)+1, 1000+r.IntN(8))
	dst := fmt.Sprintf("10.1.0.%d:%d", r.IntN(4)+1, []int{53, 80, 443}[r.IntN(3)])
	var f []byte
	switch r.IntN(4) {
	case 0:
		f = tcp(src, dst)
	case 1:
		f = udp(src, dst)
	case 2:
		f = packet.ICMPEcho([6]byte(macA), [6]byte(macC), ip("10.0.0.1"), ip(fmt.Sprintf("10.1.0.%d", r.IntN(4)+1)), 1, 1, nil, false)
	default:
		f = packet.ARPRequest(macA, ip("10.0.0.1"), ip("10.0.0.2"))
	}
	if r.IntN(3) == 0 {
		f = packet.Tagged(f, uint16(r.IntN(3)+1))
	}
	return f
}

// FuzzGroupForward feeds arbitrary frames through the group bridge and
// checks that the fast path agrees with a fresh translation.
func FuzzGroupForward(f *testing.F) {
	f.Add(icmp(macA, macB), uint8(1))
	f.Add(packet.Tagged(tcp("10.0.0.1:1", "10.0.0.2:80"), 5), uint8(2))
	f.Add(udp("10.0.0.1:53", "10.0.0.2:53"), uint8(4))
	f.Add(packet.ARPRequest(macA, ip("10.0.0.1"), ip("10.0.0.2")), uint8(3))
	f.Add([]byte{1, 2, 3}, uint8(1))
	tb := groupBridge(f)
	f.Fuzz(func(t *testing.T, frame []byte, in uint8) {
		if len(frame) > 1500 {
			return
		}
		port := uint32(in%4) + 1
		tb.t = t
		want := tb.slowForward(port, frame)
		tb.rx(port, frame)
		if err := compareOutNoChecksum(want, tb.out()); err != nil {
			t.Fatalf("fast path differs from slow path: %v", err)
		}
	})
}

// FuzzGroupMod decodes arbitrary group-mod bodies (outside input: what a
// controller sends) and applies them: the bridge must refuse or accept
// without panicking, keep its groups loop-free, and still forward.
func FuzzGroupMod(f *testing.F) {
	seed := func(gm openflow.GroupMod) []byte {
		b, err := gm.Append(nil, openflow.Version13, 1)
		if err != nil {
			f.Fatal(err)
		}
		return b[openflow.HeaderLen:]
	}
	f.Add(seed(addGroup(gAll, 5, bkt("output:2"), bkt("output:3"))))
	f.Add(seed(addGroup(gSelect, 1, bkt("group:1"))))
	f.Add(seed(modGroup(gFF, 1, watchGroup(3, bkt("output:2")))))
	f.Add(seed(delGroup(openflow.GroupAll)))
	f.Fuzz(func(t *testing.T, body []byte) {
		if len(body) > 4096 {
			return
		}
		tb := newTestBridge(t, 3)
		tb.groups(addGroup(gIndirect, 1, bkt("output:2")), addGroup(gAll, 3, bkt("group:1")))
		tb.flows("actions=group:3")
		msg := make([]byte, openflow.HeaderLen+len(body))
		msg[0], msg[1] = openflow.Version13, 15 // OFPT_GROUP_MOD
		binary.BigEndian.PutUint16(msg[2:], uint16(len(msg)))
		copy(msg[openflow.HeaderLen:], body)
		m, err := openflow.Decode(msg)
		if err != nil {
			return
		}
		gm, ok := m.(*openflow.GroupMod)
		if !ok {
			t.Fatalf("decoded %T", m)
		}
		_, _ = tb.GroupMod(*gm)
		t2 := tb.groupTable()
		for _, id := range t2.ids {
			if loopsFrom(t2, id) {
				t.Fatalf("group %d loops after %+v", id, gm)
			}
		}
		tb.rx(1, icmp(macA, macB))
		tb.out()
	})
}
