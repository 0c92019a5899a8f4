package conntrack

import (
	"encoding/binary"
	"fmt"
	"sync/atomic"
	"testing"

	"tapestry/flow"
	"tapestry/packet"
)

// flows returns n established-state TCP keys (ACK segments) with distinct
// tuples, tracked through the handshake in tb.
func flows(tb *Table, n int) []flow.Key {
	keys := make([]flow.Key, n)
	for i := range keys {
		k := flow.Key{DlType: flow.EthTypeIPv4, NwProto: packet.ProtoTCP, TpSrc: uint16(1024 + i%60000), TpDst: 80}
		binary.BigEndian.PutUint32(k.NwSrc[:], 0x0a000000|uint32(i))
		k.NwDst = [4]byte{192, 0, 2, 1}
		k.TCPFlags = packet.TCPFlagSYN
		c, _ := tb.Track(&k, nil, 0, 0)
		tb.Confirm(c, 0)
		r := k
		r.NwSrc, r.NwDst, r.TpSrc, r.TpDst = k.NwDst, k.NwSrc, k.TpDst, k.TpSrc
		r.TCPFlags = packet.TCPFlagSYN | packet.TCPFlagACK
		tb.Track(&r, nil, 0, 0)
		k.TCPFlags = packet.TCPFlagACK
		tb.Track(&k, nil, 0, 0)
		keys[i] = k
	}
	return keys
}

func TestEstablishedAllocs(t *testing.T) {
	tb := New(0)
	keys := flows(tb, 64)
	i := 0
	allocs := testing.AllocsPerRun(1000, func() {
		c, info := tb.Track(&keys[i%len(keys)], nil, 0, 1)
		if c == nil || info != InfoEstablished {
			t.Fatalf("flow %d: info %d", i, info)
		}
		i++
	})
	if allocs != 0 {
		t.Errorf("established lookup: %v allocs, want 0", allocs)
	}
}

// BenchmarkLookupEstablished is Track on established flows from every
// goroutine (run with -cpu 1,2).
func BenchmarkLookupEstablished(b *testing.B) {
	tb := New(0)
	keys := flows(tb, 4096)
	var next atomic.Uint64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := int(next.Add(1) * 997)
		for pb.Next() {
			if _, info := tb.Track(&keys[i%len(keys)], nil, 0, 1); info != InfoEstablished {
				b.Fatal("not established")
			}
			i++
		}
	})
}

// BenchmarkNewConnection is a new UDP connection: Track plus Confirm,
// into tables of two sizes. A full table is flushed and the flush counts.
func BenchmarkNewConnection(b *testing.B) {
	for _, max := range []int{1 << 16, 1 << 20} {
		b.Run(fmt.Sprintf("max=%d", max), func(b *testing.B) {
			tb := New(max)
			var seq atomic.Uint32
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				k := flow.Key{DlType: flow.EthTypeIPv4, NwProto: packet.ProtoUDP, TpDst: 53}
				k.NwDst = [4]byte{192, 0, 2, 1}
				for pb.Next() {
					n := seq.Add(1)
					binary.BigEndian.PutUint32(k.NwSrc[:], 0x0a000000|n>>12)
					k.TpSrc = uint16(n & 0xfff)
					c, info := tb.Track(&k, nil, 0, 0)
					if info == InfoFull {
						tb.Flush()
						continue
					}
					tb.Confirm(c, 0)
				}
			})
		})
	}
}
