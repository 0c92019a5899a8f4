package conntrack

import (
	"math/rand/v2"
	"testing"

	"tapestry/flow"
	"tapestry/packet"
)

// oracle is the obvious connection table: a slice searched linearly.
type oracle struct {
	conns []*oconn
}

type oconn struct {
	orig, reply Tuple
	zone        uint16
	expires     int64
	seenReply   bool
}

func (o *oracle) find(t Tuple, zone uint16, now int64) (*oconn, Dir) {
	for _, c := range o.conns {
		if c.zone != zone || c.expires <= now {
			continue
		}
		// A tuple that is its own inverse (src == dst, sport == dport)
		// is found as the reply: the kernel links the reply node last,
		// at the chain head.
		if c.reply == t {
			return c, DirReply
		}
		if c.orig == t {
			return c, DirOriginal
		}
	}
	return nil, 0
}

// track is UDP conntrack by the book.
func (o *oracle) track(t Tuple, zone uint16, now int64) (Tuple, Info) {
	c, d := o.find(t, zone, now)
	if c == nil {
		o.expire(now)
		c = &oconn{orig: t, reply: t.Invert(), zone: zone, expires: now + int64(TimeoutUDP)}
		o.conns = append(o.conns, c)
		return c.orig, InfoNew
	}
	if d == DirReply || c.seenReply {
		c.seenReply = true
		c.expires = now + int64(TimeoutUDPStream)
	} else {
		c.expires = now + int64(TimeoutUDP)
	}
	switch {
	case d == DirReply:
		return c.orig, InfoEstablishedReply
	case c.seenReply:
		return c.orig, InfoEstablished
	}
	return c.orig, InfoNew
}

func (o *oracle) expire(now int64) {
	keep := o.conns[:0]
	for _, c := range o.conns {
		if c.expires > now {
			keep = append(keep, c)
		}
	}
	o.conns = keep
}

// TestTableAgainstOracle runs random UDP traffic over a small tuple space
// (many collisions, both directions, two zones, time jumps and expiry)
// through the table and the oracle.
func TestTableAgainstOracle(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	tb := New(0)
	or := &oracle{}
	now := int64(0)
	addrs := [][4]byte{{10, 0, 0, 1}, {10, 0, 0, 2}, {10, 0, 0, 3}}
	for i := range 20000 {
		if rng.IntN(50) == 0 {
			now += int64(rng.IntN(40)) * sec
		}
		if rng.IntN(500) == 0 {
			tb.Expire(now)
		}
		var k flow.Key
		k.DlType, k.NwProto = flow.EthTypeIPv4, packet.ProtoUDP
		k.NwSrc, k.NwDst = addrs[rng.IntN(3)], addrs[rng.IntN(3)]
		k.TpSrc, k.TpDst = uint16(rng.IntN(3)), uint16(rng.IntN(3))
		zone := uint16(rng.IntN(2))
		c, info := tb.Track(&k, nil, zone, now)
		if info == InfoNew && c.Status()&StatusConfirmed == 0 {
			tb.Confirm(c, now)
		}
		tu, _ := TupleOf(&k)
		wantOrig, wantInfo := or.track(tu, zone, now)
		if c == nil || c.Orig() != wantOrig || info != wantInfo {
			t.Fatalf("packet %d %v zone %d at %ds: table (%v, %d), oracle (%v, %d)", i, tu, zone, now/sec, c.Orig(), info, wantOrig, wantInfo)
		}
	}
}

// TestConcurrent hammers one table from several goroutines (run with
// -race): tracking, confirming, expiring and flushing at once must keep
// the count equal to the connections listed.
func TestConcurrent(t *testing.T) {
	tb := New(512)
	done := make(chan bool)
	for g := range 4 {
		go func() {
			rng := rand.New(rand.NewPCG(uint64(g), 9))
			for i := range 3000 {
				var k flow.Key
				k.DlType, k.NwProto = flow.EthTypeIPv4, packet.ProtoUDP
				k.NwSrc = [4]byte{10, 0, 0, byte(rng.IntN(8))}
				k.NwDst = [4]byte{10, 0, 1, byte(rng.IntN(8))}
				k.TpSrc, k.TpDst = uint16(rng.IntN(4)), 53
				now := int64(i/100) * sec
				if c, info := tb.Track(&k, nil, 0, now); info == InfoNew && c.Status()&StatusConfirmed == 0 {
					tb.Confirm(c, now)
				}
				switch rng.IntN(400) {
				case 0:
					tb.Expire(now)
				case 1:
					tb.Flush()
				}
			}
			done <- true
		}()
	}
	for range 4 {
		<-done
	}
	if n := len(tb.List(nil, -1)); n != tb.Count() {
		t.Errorf("Count %d, List %d", tb.Count(), n)
	}
}
