package conntrack

import (
	"encoding/binary"
	"math/rand/v2"
	"sync"
	"sync/atomic"
)

// The hash table is a fixed array of buckets, each the head of a singly
// linked chain of hnodes (the kernel's nf_conntrack_hash of hlist heads).
// Lookups take no lock: chain links are atomic pointers and the garbage
// collector keeps an unlinked node alive for a reader still on it.
// Writers take the lock of every bucket they change.
//
// A new connection misses in two chains (its original tuple at Track, its
// reply tuple at Confirm), and walking a chain costs a cache miss per
// node. Each bucket therefore carries a 64-bit summary of its chain: bit
// h>>58 of every linked tuple's hash. A miss whose bit is clear is
// answered from the bucket's own cache line without touching a node.

// key is a tuple in a zone: what the hash identifies.
type key struct {
	t    Tuple
	zone uint16
}

// hnode links one tuple of a connection into a hash chain (struct
// nf_conntrack_tuple_hash).
type hnode struct {
	next atomic.Pointer[hnode]
	dir  Dir // which of its connection's nodes this is (see conn)
	// bit is the node's summary bit number (its hash >> 58), kept so
	// that an unlink can rebuild the bucket summary.
	bit uint8
}

// is reports whether n is tuple k. The tuples of a linked connection
// never change, so the comparison needs no lock.
func (n *hnode) is(k *key) bool {
	c := n.conn()
	if c.zone != k.zone {
		return false
	}
	if n.dir == DirReply {
		return c.reply == k.t
	}
	return c.orig == k.t
}

// bucket is a chain head and the summary of the chain's hashes. Writers
// set a bit before linking its node and clear bits only after unlinking,
// so a reader never sees a linked node whose bit is clear.
type bucket struct {
	head    atomic.Pointer[hnode]
	summary atomic.Uint64
}

// numLocks is how many bucket locks writers share (bucket i takes lock
// i % numLocks); readers take none.
const numLocks = 64

type lock struct {
	sync.Mutex
	_ [56]byte // one cache line per lock
}

// hash64 mixes a tuple and zone (a multiply-xorshift finalizer over two
// 64-bit words). The low 32 bits pick the bucket, the top 6 the summary
// bit. The per-process seed keeps remote hosts from aiming at one chain,
// as the kernel's random hash seed does.
func hash64(k *key) uint64 {
	t := &k.t
	a := uint64(binary.BigEndian.Uint32(t.Src[:]))<<32 | uint64(binary.BigEndian.Uint32(t.Dst[:]))
	b := uint64(t.SrcPort)<<48 | uint64(t.DstPort)<<32 | uint64(t.Proto)<<16 | uint64(k.zone)
	h := (a^hashSeed)*0x9e3779b97f4a7c15 ^ b*0xc2b2ae3d27d4eb4f
	h ^= h >> 32
	h *= 0xd6e8feb86659fd93
	h ^= h >> 29
	return h
}

// hashKey is the 32-bit hash of k (NAT address selection uses it).
func hashKey(k key) uint32 { return uint32(hash64(&k)) }

var hashSeed = rand.Uint64()

// summaryBit is the bucket summary bit of hash h.
func summaryBit(h uint64) uint8 { return uint8(h >> 58) }

// link puts n at the head of bucket b; the caller holds b's lock.
func (b *bucket) link(n *hnode) {
	b.summary.Store(b.summary.Load() | 1<<n.bit)
	n.next.Store(b.head.Load())
	b.head.Store(n)
}

// unlink takes n out of bucket b and rebuilds the summary from the nodes
// left; the caller holds b's lock.
func (b *bucket) unlink(n *hnode) {
	prev := &b.head
	for cur := prev.Load(); cur != nil; cur = cur.next.Load() {
		if cur == n {
			prev.Store(cur.next.Load())
			break
		}
		prev = &cur.next
	}
	var s uint64
	for cur := b.head.Load(); cur != nil; cur = cur.next.Load() {
		s |= 1 << cur.bit
	}
	b.summary.Store(s)
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

// Flush removes every connection (conntrack -F). It holds every bucket
// lock for one pass over the table: each connection is marked dying at
// its original node and the chains are cut at their heads, instead of
// unlinking node by node.
func (t *Table) Flush() int {
	for i := range t.locks {
		t.locks[i].Lock()
	}
	var dead []*Conn
	if t.events.Load() != nil {
		dead = []*Conn{}
	}
	n := 0
	for i := 0; i < len(t.buckets); i += flushStride {
		n += t.flushBuckets(t.buckets[i:min(i+flushStride, len(t.buckets))], &dead)
	}
	for i := range t.locks {
		t.locks[i].Unlock()
	}
	t.count.Add(int64(-n))
	for _, c := range dead {
		t.emit(EventDestroy, c, 0)
	}
	return n
}

// flushStride is how many chains Flush walks side by side.
const flushStride = 16

// flushBuckets empties bs, marking their connections dying, and returns
// how many it found (appending them to *dead if that is not nil). The
// chains are walked side by side, one node of each per round: the nodes
// are scattered in memory and their cache misses overlap only when the
// loads do not depend on each other.
func (t *Table) flushBuckets(bs []bucket, dead *[]*Conn) int {
	var cur [flushStride]*hnode
	for j := range bs {
		cur[j] = bs[j].head.Load()
		bs[j].head.Store(nil)
		bs[j].summary.Store(0)
	}
	n := 0
	for more := true; more; {
		more = false
		for j, nd := range cur {
			if nd == nil {
				continue
			}
			if nd.dir == DirOriginal {
				c := nd.conn()
				c.setStatus(StatusDying)
				n++
				if *dead != nil {
					*dead = append(*dead, c)
				}
			}
			cur[j] = nd.next.Load()
			more = true
		}
	}
	return n
}
