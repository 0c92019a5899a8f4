package conntrack

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"tapestry/flow"
	"tapestry/packet"
)

// checkChains rebuilds what the table's bookkeeping must say from the
// chains themselves: every node sits in the bucket of its tuple's hash
// with that hash's summary bit, belongs to a live confirmed connection
// whose bkt names the bucket, each bucket summary is exactly the OR of
// its nodes' bits, and every connection has both nodes linked.
func checkChains(t *testing.T, tb *Table, step int) {
	t.Helper()
	nodes := map[*Conn]int{}
	for i := range tb.buckets {
		b := &tb.buckets[i]
		var sum uint64
		for n := b.head.Load(); n != nil; n = n.next.Load() {
			c := n.conn()
			if &c.nodes[n.dir] != n {
				t.Fatalf("step %d: node %p is not node %d of its connection", step, n, n.dir)
			}
			k := key{c.Tuple(n.dir), c.zone}
			h := hash64(&k)
			if got := uint32(h) & tb.mask; got != uint32(i) || c.bkt[n.dir] != uint32(i) || n.bit != summaryBit(h) {
				t.Fatalf("step %d: %v (dir %d) in bucket %d, bkt %d, bit %d; hash says bucket %d bit %d", step, k.t, n.dir, i, c.bkt[n.dir], n.bit, got, summaryBit(h))
			}
			if st := c.Status(); st&StatusConfirmed == 0 || st&StatusDying != 0 {
				t.Fatalf("step %d: linked connection %v has status %#x", step, c.orig, st)
			}
			sum |= 1 << n.bit
			nodes[c]++
		}
		if s := b.summary.Load(); s != sum {
			t.Fatalf("step %d: bucket %d summary %#x, chain says %#x", step, i, s, sum)
		}
	}
	for c, n := range nodes {
		if n != 2 {
			t.Fatalf("step %d: connection %v has %d linked nodes, want 2", step, c.orig, n)
		}
	}
	if len(nodes) != tb.Count() {
		t.Fatalf("step %d: %d connections linked, Count %d", step, len(nodes), tb.Count())
	}
}

// slowLookup is Lookup by scanning every connection.
func slowLookup(tb *Table, tu Tuple, zone uint16, now int64) *Conn {
	var found *Conn
	tb.each(func(c *Conn) {
		if c.zone == zone && c.expires.Load() > now && (c.orig == tu || c.reply == tu) {
			found = c
		}
	})
	return found
}

// TestChainsAgainstRebuild drives a small table (64 buckets, long chains,
// many summary collisions) with random new connections, source NAT,
// replies, expiry, deletes and flushes; after each step the chains are
// checked against their bookkeeping and random lookups against a scan.
func TestChainsAgainstRebuild(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	tb := New(100)
	now := int64(0)
	randTuple := func() Tuple {
		return Tuple{Src: [4]byte{10, 0, 0, byte(rng.IntN(8))}, Dst: [4]byte{10, 0, 1, byte(rng.IntN(4))}, SrcPort: uint16(rng.IntN(16)), DstPort: 53, Proto: packet.ProtoUDP}
	}
	for step := range 3000 {
		switch r := rng.IntN(100); {
		case r < 60:
			tu := randTuple()
			k := flow.Key{DlType: flow.EthTypeIPv4, NwProto: tu.Proto, NwSrc: tu.Src, NwDst: tu.Dst, TpSrc: tu.SrcPort, TpDst: tu.DstPort}
			zone := uint16(rng.IntN(2))
			c, info := tb.Track(&k, nil, zone, now)
			if info != InfoNew || c.Status()&StatusConfirmed != 0 {
				break
			}
			if rng.IntN(2) == 0 {
				r := NATRange{MinIP: [4]byte{192, 0, 2, 1}, MaxIP: [4]byte{192, 0, 2, 2}, HasIP: true, MinPort: 1000, MaxPort: 1003, HasPorts: true}
				tb.SetupNAT(c, ManipSrc, r, now)
			}
			tb.Confirm(c, now)
		case r < 80:
			now += int64(rng.IntN(10)) * sec
		case r < 90:
			tb.Expire(now)
		case r < 97:
			tb.Delete(&Filter{SrcPort: uint16(rng.IntN(16))}, now)
		default:
			tb.Flush()
		}
		checkChains(t, tb, step)
		for range 4 {
			tu, zone := randTuple(), uint16(rng.IntN(2))
			if rng.IntN(2) == 0 {
				tu = tu.Invert()
			}
			want := slowLookup(tb, tu, zone, now)
			if got, _ := tb.Lookup(tu, zone, now); got != want {
				t.Fatalf("step %d: Lookup(%v, zone %d) = %p, scan finds %p", step, tu, zone, got, want)
			}
		}
	}
}

// TestNewConnectionAllocs: a new connection costs one allocation, the
// connection itself (it outlives the packet, so it is the garbage
// collector's to free).
func TestNewConnectionAllocs(t *testing.T) {
	tb := New(1 << 16)
	k := flow.Key{DlType: flow.EthTypeIPv4, NwProto: packet.ProtoUDP, TpDst: 53, NwDst: [4]byte{192, 0, 2, 1}}
	n := uint32(0)
	allocs := testing.AllocsPerRun(1000, func() {
		n++
		binary.BigEndian.PutUint32(k.NwSrc[:], 0x0a000000|n>>12)
		k.TpSrc = uint16(n & 0xfff)
		c, info := tb.Track(&k, nil, 0, 0)
		if info != InfoNew || !tb.Confirm(c, 0) {
			t.Fatalf("connection %d: info %d, not confirmed", n, info)
		}
	})
	if allocs > 1 {
		t.Errorf("new connection: %v allocs, want 1", allocs)
	}
}
