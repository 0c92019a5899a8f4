package conntrack

import (
	"encoding/binary"
	"math/rand/v2"
	"sync"
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

// key is a tuple in a zone: what the hash identifies.
type key struct {
	t    Tuple
	zone uint16
}

// numLocks is how many bucket locks writers share (bucket i takes lock
// i % numLocks); readers take none.
const numLocks = 64

// hnode links one tuple of a connection into a hash chain (struct
// nf_conntrack_tuple_hash). Chains are singly linked through atomic
// pointers so lookups walk them without locks while writers, holding the
// bucket's lock, splice nodes in and out; the garbage collector keeps an
// unlinked node alive for a reader still on it.
type hnode struct {
	next atomic.Pointer[hnode]
	conn *Conn
	// key is a copy of the tuple and zone, so a chain walk compares
	// without touching the connection's other cache lines.
	key key
	dir Dir
}

type lock struct {
	sync.Mutex
	_ [56]byte // one cache line per lock
}

// Table is a connection tracking table (one per network namespace): a
// fixed array of hash buckets like the kernel's (no rehashing), sized from
// the maximum.
type Table struct {
	buckets []atomic.Pointer[hnode]
	mask    uint32
	locks   [numLocks]lock
	count   atomic.Int64
	// Max is nf_conntrack_max; new connections beyond it are dropped.
	Max int64

	drops   [3]atomic.Uint64 // by reason: full, invalid, clash
	events  atomic.Pointer[chan Event]
	evDrops atomic.Uint64
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
	t.buckets = make([]atomic.Pointer[hnode], n)
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

// hashKey mixes a tuple and zone into a bucket hash (a multiply-xorshift
// finalizer over two 64-bit words). The per-process seed keeps remote
// hosts from aiming at one chain, as the kernel's random hash seed does.
func hashKey(k key) uint32 {
	t := &k.t
	a := uint64(binary.BigEndian.Uint32(t.Src[:]))<<32 | uint64(binary.BigEndian.Uint32(t.Dst[:]))
	b := uint64(t.SrcPort)<<48 | uint64(t.DstPort)<<32 | uint64(t.Proto)<<16 | uint64(k.zone)
	h := (a^hashSeed)*0x9e3779b97f4a7c15 ^ b*0xc2b2ae3d27d4eb4f
	h ^= h >> 32
	h *= 0xd6e8feb86659fd93
	h ^= h >> 29
	return uint32(h)
}

var hashSeed = rand.Uint64()

// lookup finds the live connection with tuple tu in zone and the direction
// tu belongs to. It takes no lock.
func (t *Table) lookup(tu Tuple, zone uint16, now int64) (*Conn, Dir) {
	h := hashKey(key{tu, zone}) & t.mask
	for n := t.buckets[h].Load(); n != nil; n = n.next.Load() {
		if n.key.t == tu && n.key.zone == zone {
			c := n.conn
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
	if c, d := t.lookup(tu, zone, now); c != nil {
		return t.update(c, d, k, now)
	}
	return t.create(tu, k, zone, now)
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

func (t *Table) create(tu Tuple, k *flow.Key, zone uint16, now int64) (*Conn, Info) {
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
	c := &Conn{orig: tu, reply: tu.Invert(), zone: zone}
	c.state.Store(uint32(st))
	c.expires.Store(now + int64(timeout))
	return c, InfoNew
}

// Confirm inserts a new connection into the table (__nf_conntrack_confirm).
// It is a no-op for confirmed ones. It returns false, counting a drop, when
// the table is full or another connection already owns one of its tuples.
func (t *Table) Confirm(c *Conn, now int64) bool {
	if c == nil || c.status.Load()&StatusConfirmed != 0 {
		return true
	}
	if t.count.Load() >= t.Max {
		t.drops[0].Add(1)
		return false
	}
	ho, hr := hashKey(key{c.orig, c.zone})&t.mask, hashKey(key{c.reply, c.zone})&t.mask
	t.lockPair(ho, hr)
	if c.status.Load()&StatusConfirmed != 0 {
		// Confirmed meanwhile: a lookup can hand out a connection
		// as soon as it is linked, so two packets may race to here.
		t.unlockPair(ho, hr)
		return true
	}
	if t.inChain(ho, c.orig, c.zone, now) || t.inChain(hr, c.reply, c.zone, now) {
		t.unlockPair(ho, hr)
		t.drops[2].Add(1)
		return false
	}
	// Confirmed before it is linked: whoever finds it in a chain sees it
	// confirmed.
	c.setStatus(StatusConfirmed)
	c.nodes[DirOriginal] = hnode{conn: c, dir: DirOriginal, key: key{c.orig, c.zone}}
	c.nodes[DirReply] = hnode{conn: c, dir: DirReply, key: key{c.reply, c.zone}}
	t.link(ho, &c.nodes[DirOriginal])
	t.link(hr, &c.nodes[DirReply])
	t.unlockPair(ho, hr)
	t.count.Add(1)
	t.emit(EventNew, c, now)
	return true
}

// inChain reports whether bucket h holds tuple tu of a live entry. An
// expired entry does not clash; it stays linked, behind the new one, until
// a lookup or Expire reaps it.
func (t *Table) inChain(h uint32, tu Tuple, zone uint16, now int64) bool {
	for n := t.buckets[h].Load(); n != nil; n = n.next.Load() {
		c := n.conn
		if n.key.t == tu && n.key.zone == zone && c.status.Load()&StatusDying == 0 && c.expires.Load() > now {
			return true
		}
	}
	return false
}

func (t *Table) link(h uint32, n *hnode) {
	n.next.Store(t.buckets[h].Load())
	t.buckets[h].Store(n)
}

func (t *Table) unlink(h uint32, n *hnode) {
	prev := &t.buckets[h]
	for cur := prev.Load(); cur != nil; cur = cur.next.Load() {
		if cur == n {
			prev.Store(cur.next.Load())
			return
		}
		prev = &cur.next
	}
}

// lockPair takes the locks of two buckets in index order so that
// concurrent writers cannot deadlock.
func (t *Table) lockPair(a, b uint32) {
	la, lb := a%numLocks, b%numLocks
	switch {
	case la == lb:
		t.locks[la].Lock()
	case la < lb:
		t.locks[la].Lock()
		t.locks[lb].Lock()
	default:
		t.locks[lb].Lock()
		t.locks[la].Lock()
	}
}

func (t *Table) unlockPair(a, b uint32) {
	la, lb := a%numLocks, b%numLocks
	t.locks[la].Unlock()
	if la != lb {
		t.locks[lb].Unlock()
	}
}

// remove unlinks c (both tuples) if it is still in the table.
func (t *Table) remove(c *Conn) bool {
	ho, hr := hashKey(key{c.orig, c.zone})&t.mask, hashKey(key{c.reply, c.zone})&t.mask
	t.lockPair(ho, hr)
	st := c.status.Load()
	ok := st&StatusConfirmed != 0 && st&StatusDying == 0
	if ok {
		c.setStatus(StatusDying)
		t.unlink(ho, &c.nodes[DirOriginal])
		t.unlink(hr, &c.nodes[DirReply])
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
		for n := t.buckets[h].Load(); n != nil; n = n.next.Load() {
			if n.dir == DirOriginal {
				f(n.conn)
			}
		}
	}
}
