package ofproto

import (
	"testing"
	"time"

	"tapestry/packet"
)

// normalStep is one frame received and where NORMAL must send it.
type normalStep struct {
	in   uint32
	src  packet.MAC
	dst  packet.MAC
	vlan uint16            // 0: untagged; else the VID of the frame's tag
	want map[uint32]uint16 // port -> VID it must carry there (0: untagged)
}

func frameFor(s normalStep) []byte {
	f := icmp(s.src, s.dst)
	if s.vlan != 0 {
		f = packet.Tagged(f, s.vlan)
	}
	return f
}

func TestNormal(t *testing.T) {
	type port struct {
		tag    uint16
		trunks []uint16
	}
	tests := []struct {
		name  string
		ports []port
		steps []normalStep
	}{
		{"flood then learn", []port{{}, {}, {}}, []normalStep{
			{1, macA, macB, 0, map[uint32]uint16{2: 0, 3: 0}},
			{2, macB, macA, 0, map[uint32]uint16{1: 0}},
			{1, macA, macB, 0, map[uint32]uint16{2: 0}},
		}},
		{"broadcast floods", []port{{}, {}, {}}, []normalStep{
			{2, macB, macA, 0, map[uint32]uint16{1: 0, 3: 0}},
			{1, macA, bcast, 0, map[uint32]uint16{2: 0, 3: 0}},
		}},
		{"learned on input port drops", []port{{}, {}, {}}, []normalStep{
			{1, macB, macC, 0, map[uint32]uint16{2: 0, 3: 0}},
			{1, macA, macB, 0, map[uint32]uint16{}},
		}},
		{"mac moves", []port{{}, {}, {}}, []normalStep{
			{1, macB, macC, 0, map[uint32]uint16{2: 0, 3: 0}},
			{3, macB, macC, 0, map[uint32]uint16{1: 0, 2: 0}},
			{2, macA, macB, 0, map[uint32]uint16{3: 0}},
		}},
		{"access ports isolate vlans", []port{{tag: 10}, {tag: 10}, {tag: 20}}, []normalStep{
			{1, macA, bcast, 0, map[uint32]uint16{2: 0}},
			{3, macC, bcast, 0, map[uint32]uint16{}},
		}},
		{"access to trunk tags", []port{{tag: 10}, {}, {tag: 20}}, []normalStep{
			{1, macA, bcast, 0, map[uint32]uint16{2: 10}},
			{2, macB, macA, 10, map[uint32]uint16{1: 0}},
			{2, macB, macA, 20, map[uint32]uint16{3: 0}},
		}},
		{"access drops tagged", []port{{tag: 10}, {}, {}}, []normalStep{
			{1, macA, bcast, 10, map[uint32]uint16{}},
		}},
		{"trunk list filters", []port{{trunks: []uint16{10}}, {}, {trunks: []uint16{20}}}, []normalStep{
			{2, macB, bcast, 10, map[uint32]uint16{1: 10}},
			{2, macB, bcast, 20, map[uint32]uint16{3: 20}},
			{1, macA, bcast, 20, map[uint32]uint16{}},
			{2, macB, bcast, 0, map[uint32]uint16{}},
		}},
		{"untagged on trunk is vlan 0", []port{{}, {}, {tag: 10}}, []normalStep{
			{1, macA, bcast, 0, map[uint32]uint16{2: 0}},
		}},
		{"learning is per vlan", []port{{}, {}, {}}, []normalStep{
			{2, macB, bcast, 10, map[uint32]uint16{1: 10, 3: 10}},
			{1, macA, macB, 20, map[uint32]uint16{2: 20, 3: 20}},
			{1, macA, macB, 10, map[uint32]uint16{2: 10}},
		}},
		{"reserved multicast dropped", []port{{}, {}, {}}, []normalStep{
			{1, macA, packet.MustMAC("01:80:c2:00:00:00"), 0, map[uint32]uint16{}},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tb := newTestBridge(t, 0)
			for i, p := range tc.ports {
				tb.addPort(PortSpec{Name: "p" + string(rune('1'+i)), Tag: p.tag, Trunks: p.trunks})
			}
			for i, s := range tc.steps {
				in := frameFor(s)
				for round := 0; round < 2; round++ {
					tb.rx(s.in, in)
					want := map[uint32][][]byte{}
					for port, vid := range s.want {
						f := icmp(s.src, s.dst)
						if vid != 0 {
							f = packet.Tagged(f, vid)
						}
						want[port] = [][]byte{f}
					}
					if err := compareOut(want, tb.out()); err != nil {
						t.Fatalf("step %d round %d: %v\n%s", i, round, err, tb.TracePacket(in, s.in))
					}
				}
			}
		})
	}
}

func TestNormalAging(t *testing.T) {
	tb := newTestBridge(t, 3)
	tb.rx(2, icmp(macB, bcast))
	tb.out()
	tb.rx(1, icmp(macA, macB))
	if got := tb.out(); len(got[2]) != 1 || len(got[3]) != 0 {
		t.Fatalf("after learning: outputs %v, want only port 2", keys(got))
	}
	if n := len(tb.FDB()); n != 2 {
		t.Fatalf("FDB() has %d entries, want 2", n)
	}
	tb.clock.Advance(macAgingTime + time.Second)
	tb.Expire()
	if n := len(tb.FDB()); n != 0 {
		t.Fatalf("FDB() after aging has %d entries, want 0", n)
	}
	tb.rx(1, icmp(macA, macB))
	if got := tb.out(); len(got[2]) != 1 || len(got[3]) != 1 {
		t.Fatalf("after aging: outputs %v, want flood to 2 and 3", keys(got))
	}
}

func TestNormalRefreshKeepsEntry(t *testing.T) {
	tb := newTestBridge(t, 3)
	tb.rx(2, icmp(macB, bcast))
	for i := 0; i < 5; i++ {
		tb.clock.Advance(macAgingTime / 2)
		tb.rx(2, icmp(macB, bcast)) // cached decision refreshes the entry
		tb.Expire()
	}
	tb.out()
	tb.rx(1, icmp(macA, macB))
	if got := tb.out(); len(got[2]) != 1 || len(got[3]) != 0 {
		t.Fatalf("outputs %v, want only port 2 (entry refreshed by the fast path)", keys(got))
	}
}

func TestMACTableBounded(t *testing.T) {
	var mt macTable
	mt.init(4, macAgingTime)
	for i := 0; i < 10; i++ {
		mt.learn([6]byte{0, 0, 0, 0, 0, byte(i)}, 0, 1, int64(i))
	}
	if len(mt.m) != 4 {
		t.Fatalf("table holds %d entries, want 4", len(mt.m))
	}
	if mt.lookup([6]byte{0, 0, 0, 0, 0, 9}, 0, 10) == nil || mt.lookup([6]byte{0, 0, 0, 0, 0, 0}, 0, 10) != nil {
		t.Fatalf("eviction kept the wrong entries")
	}
}

func keys(m map[uint32][][]byte) []uint32 {
	var out []uint32
	for k := range m {
		out = append(out, k)
	}
	return out
}
