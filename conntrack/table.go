package conntrack

import (
	"sync/atomic"
	"time"

	"tapestry/flow"
	"tapestry/packet"
)

// DefaultMax is the default table size (nf_conntrack_max on a machine with
// a few GB of memory is 262144).
const DefaultMax = 262144

// Reasons a packet gets no connection; the table counts each.
const (
	ReasonTableFull = "nf_conntrack: table full, dropping packet"
	ReasonInvalid   = "conntrack: invalid state"
	ReasonClash     = "conntrack: insert clash"
)

// Table is a connection tracking table (one per network namespace): a
// fixed array of hash buckets like the kernel's (no rehashing), sized from
// the maximum.
type Table struct {
	buckets []bucket
	mask    uint32
	// Max is nf_conntrack_max; new connections beyond it are dropped.
	Max int64

	events  atomic.Pointer[chan Event]
	evDrops atomic.Uint64
	drops   [3]atomic.Uint64 // by reason: full, invalid, clash

	// count changes with every new and every removed connection, from
	// all cores: it gets a cache line of its own so that readers of the
	// fields above do not miss on it.
	_     [64]byte
	count atomic.Int64
	_     [56]byte
	locks [numLocks]lock
}

// New returns an empty table holding at most max connections (DefaultMax
// if max <= 0), with max/2 buckets (two tuples per connection: chains
// average four nodes when full, as the kernel's default ratio).
func New(max int) *Table {
	t := &Table{Max: int64(max)}
	if max <= 0 {
		t.Max = DefaultMax
	}
	n := 64
	for int64(n) < t.Max/2 {
		n <<= 1
	}
	t.buckets = make([]bucket, n)
	t.mask = uint32(n - 1)
	return t
}

// Count returns the number of confirmed connections.
func (t *Table) Count() int { return int(t.count.Load()) }

// Drops returns how many packets were refused, by reason.
func (t *Table) Drops() map[string]uint64 {
	return map[string]uint64{
		ReasonTableFull: t.drops[0].Load(),
		ReasonInvalid:   t.drops[1].Load(),
		ReasonClash:     t.drops[2].Load(),
	}
}

// lookup finds the live connection with tuple tu in zone and the direction
// tu belongs to. It takes no lock.
func (t *Table) lookup(tu Tuple, zone uint16, now int64) (*Conn, Dir) {
	k := key{tu, zone}
	return t.lookupHash(&k, hash64(&k), now)
}

// lookupHash is lookup of k whose hash64 is h.
func (t *Table) lookupHash(k *key, h uint64, now int64) (*Conn, Dir) {
	b := &t.buckets[uint32(h)&t.mask]
	if b.summary.Load()&(1<<summaryBit(h)) == 0 {
		return nil, 0
	}
	for n := b.head.Load(); n != nil; n = n.next.Load() {
		if n.is(k) {
			c := n.conn()
			if c.expires.Load() <= now {
				// Reap it on the way, as the kernel's lookup does
				// (nf_ct_gc_expired), and look further.
				t.remove(c)
				continue
			}
			return c, n.dir
		}
	}
	return nil, 0
}

// Lookup returns the connection a tuple belongs to, if any.
func (t *Table) Lookup(tu Tuple, zone uint16, now int64) (*Conn, Dir) { return t.lookup(tu, zone, now) }

// taken reports whether tu is a tuple of any connection except self
// (nf_conntrack_tuple_taken).
func (t *Table) taken(tu Tuple, zone uint16, self *Conn, now int64) bool {
	c, _ := t.lookup(tu, zone, now)
	return c != nil && c != self
}

// Track classifies the packet whose key is k and whose transport header is
// l4, in conntrack zone zone, at clock time now (nanoseconds). It returns the
// connection (nil for InfoInvalid) and the classification. A new connection
// is unconfirmed: Confirm it when the packet leaves the last hook. Invalid
// packets are not dropped here (iptables rules decide); only a full table
// drops, reported by Full(info, c).
func (t *Table) Track(k *flow.Key, l4 []byte, zone uint16, now int64) (*Conn, Info) {
	tu, ok := TupleOf(k)
	if !ok {
		return nil, InfoInvalid
	}
	if tu.Proto == packet.ProtoICMP {
		typ := uint8(k.TpSrc)
		if icmpIsError(typ) {
			return t.related(l4, zone, now)
		}
		tu.SrcPort = icmpID(l4)
	}
	ck := key{tu, zone}
	h := hash64(&ck)
	if c, d := t.lookupHash(&ck, h, now); c != nil {
		return t.update(c, d, k, now)
	}
	return t.create(tu, k, zone, h, now)
}

// related classifies an ICMP error by the connection of the header it
// carries (icmp_error_message): the embedded packet travelled the other
// way, so its tuple is inverted before the lookup.
func (t *Table) related(l4 []byte, zone uint16, now int64) (*Conn, Info) {
	if len(l4) < 8 {
		t.drops[1].Add(1)
		return nil, InfoInvalid
	}
	inner, ok := tupleFromIP(l4[8:])
	if !ok {
		t.drops[1].Add(1)
		return nil, InfoInvalid
	}
	c, d := t.lookup(inner.Invert(), zone, now)
	if c == nil {
		return nil, InfoInvalid
	}
	if d == DirReply {
		return c, InfoRelatedReply
	}
	return c, InfoRelated
}

func (t *Table) update(c *Conn, d Dir, k *flow.Key, now int64) (*Conn, Info) {
	if t.events.Load() != nil {
		st, sts := c.state.Load(), c.status.Load()
		defer func() {
			if c.state.Load() != st || c.status.Load() != sts {
				t.emit(EventUpdate, c, now)
			}
		}()
	}
	switch k.NwProto {
	case packet.ProtoTCP:
		// Fast path: a plain segment of an established connection keeps
		// its state; only the timeout moves.
		if TCPState(c.state.Load()) == TCPEstablished && k.TCPFlags&(packet.TCPFlagSYN|packet.TCPFlagFIN|packet.TCPFlagRST) == 0 && k.TCPFlags&packet.TCPFlagACK != 0 {
			c.expires.Store(now + int64(TimeoutTCP[TCPEstablished]))
			if d == DirReply && c.status.Load()&StatusSeenReply == 0 {
				c.setStatus(StatusSeenReply)
			}
		} else if !c.tcpUpdate(d, k.TCPFlags, now) {
			t.drops[1].Add(1)
			return nil, InfoInvalid
		}
	case packet.ProtoUDP, protoUDPLite:
		// A reply makes the flow a stream: longer timeout and assured
		// (simplified from the kernel's "lasted 2 s" rule, see README).
		if d == DirReply || c.status.Load()&StatusSeenReply != 0 {
			c.setStatus(StatusSeenReply | StatusAssured)
			c.expires.Store(now + int64(TimeoutUDPStream))
		} else {
			c.expires.Store(now + int64(TimeoutUDP))
		}
	case packet.ProtoICMP:
		if d == DirReply {
			c.setStatus(StatusSeenReply)
		}
		c.expires.Store(now + int64(TimeoutICMP))
	default:
		if d == DirReply {
			c.setStatus(StatusSeenReply | StatusAssured)
		}
		c.expires.Store(now + int64(TimeoutGeneric))
	}
	if d == DirReply {
		return c, InfoEstablishedReply
	}
	if c.status.Load()&StatusSeenReply != 0 {
		return c, InfoEstablished
	}
	return c, InfoNew
}

// create makes an unconfirmed connection for the first packet; h is the
// hash64 of its original tuple, kept for Confirm.
func (t *Table) create(tu Tuple, k *flow.Key, zone uint16, h uint64, now int64) (*Conn, Info) {
	var timeout time.Duration
	var st TCPState
	switch tu.Proto {
	case packet.ProtoTCP:
		st = tcpNewState(k.TCPFlags)
		if st == tcpInvalid {
			t.drops[1].Add(1)
			return nil, InfoInvalid
		}
		timeout = TimeoutTCP[st]
	case packet.ProtoUDP, protoUDPLite:
		timeout = TimeoutUDP
	case packet.ProtoICMP:
		if !icmpIsRequest(uint8(k.TpSrc)) {
			t.drops[1].Add(1)
			return nil, InfoInvalid
		}
		timeout = TimeoutICMP
	default:
		timeout = TimeoutGeneric
	}
	if t.count.Load() >= t.Max {
		t.drops[0].Add(1)
		return nil, InfoFull
	}
	r := tu.Invert()
	hr, br := t.replyBucket(r, zone)
	c := &Conn{orig: tu, reply: r, zone: zone}
	c.bkt = [2]uint32{uint32(h) & t.mask, hr}
	c.nodes[DirOriginal].bit, c.nodes[DirReply].bit = summaryBit(h), br
	c.nodes[DirReply].dir = DirReply
	c.state.Store(uint32(st))
	c.expires.Store(now + int64(timeout))
	return c, InfoNew
}

// replyBucket returns the bucket and summary bit of reply tuple r, when
// a connection is created and whenever NAT changes the tuple. The bucket
// is read here, long before Confirm needs it, so that its cache miss
// overlaps the original tuple's lookup instead of following it.
func (t *Table) replyBucket(r Tuple, zone uint16) (uint32, uint8) {
	k := key{r, zone}
	h := hash64(&k)
	i := uint32(h) & t.mask
	t.buckets[i].summary.Load()
	return i, summaryBit(h)
}

// Confirm inserts a new connection into the table (__nf_conntrack_confirm).
// c must come from t's Track (it carries t's bucket numbers). It is a
// no-op for confirmed ones. It returns false, counting a drop, when
// the table is full or another connection already owns one of its tuples.
func (t *Table) Confirm(c *Conn, now int64) bool {
	if c == nil || c.status.Load()&StatusConfirmed != 0 {
		return true
	}
	if t.count.Load() >= t.Max {
		t.drops[0].Add(1)
		return false
	}
	ko, kr := key{c.orig, c.zone}, key{c.reply, c.zone}
	ho, hr := c.bkt[DirOriginal], c.bkt[DirReply]
	t.lockPair(ho, hr)
	if c.status.Load()&StatusConfirmed != 0 {
		// Confirmed meanwhile: a lookup can hand out a connection
		// as soon as it is linked, so two packets may race to here.
		t.unlockPair(ho, hr)
		return true
	}
	if t.inChain(&ko, ho, c.nodes[DirOriginal].bit, now) || t.inChain(&kr, hr, c.nodes[DirReply].bit, now) {
		t.unlockPair(ho, hr)
		t.drops[2].Add(1)
		return false
	}
	// Confirmed before it is linked: whoever finds it in a chain sees it
	// confirmed.
	c.setStatus(StatusConfirmed)
	t.buckets[ho].link(&c.nodes[DirOriginal])
	t.buckets[hr].link(&c.nodes[DirReply])
	t.unlockPair(ho, hr)
	t.count.Add(1)
	t.emit(EventNew, c, now)
	return true
}

// inChain reports whether bucket i holds k, whose summary bit is bit, as
// a tuple of a live entry; the caller holds the bucket's lock. An expired
// entry does not clash; it stays linked, behind the new one, until a
// lookup or Expire reaps it.
func (t *Table) inChain(k *key, i uint32, bit uint8, now int64) bool {
	b := &t.buckets[i]
	if b.summary.Load()&(1<<bit) == 0 {
		return false
	}
	for n := b.head.Load(); n != nil; n = n.next.Load() {
		c := n.conn()
		if n.is(k) && c.status.Load()&StatusDying == 0 && c.expires.Load() > now {
			return true
		}
	}
	return false
}

// remove unlinks c (both tuples) if it is still in the table.
func (t *Table) remove(c *Conn) bool {
	ho, hr := c.bkt[DirOriginal], c.bkt[DirReply]
	t.lockPair(ho, hr)
	st := c.status.Load()
	ok := st&StatusConfirmed != 0 && st&StatusDying == 0
	if ok {
		c.setStatus(StatusDying)
		t.buckets[ho].unlink(&c.nodes[DirOriginal])
		t.buckets[hr].unlink(&c.nodes[DirReply])
	}
	t.unlockPair(ho, hr)
	if ok {
		t.count.Add(-1)
		t.emit(EventDestroy, c, 0)
	}
	return ok
}

// Expire removes every connection whose timeout passed by now; run it
// periodically (the kernel's gc worker).
func (t *Table) Expire(now int64) int {
	var dead []*Conn
	t.each(func(c *Conn) {
		if c.expires.Load() <= now {
			dead = append(dead, c)
		}
	})
	n := 0
	for _, c := range dead {
		if t.remove(c) {
			n++
		}
	}
	return n
}

// each calls f once per connection in the table (at its original tuple).
func (t *Table) each(f func(*Conn)) {
	for h := range t.buckets {
		for n := t.buckets[h].head.Load(); n != nil; n = n.next.Load() {
			if n.dir == DirOriginal {
				f(n.conn())
			}
		}
	}
}
