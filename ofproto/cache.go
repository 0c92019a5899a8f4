package ofproto

import (
	"math/bits"
	"sync"
	"sync/atomic"

	"tapestry/flow"
)

// The flow caches, as in Open vSwitch's userspace datapath:
//
//   - The megaflow cache, shared by every port: for each distinct wildcard
//     mask a translation produced, a hash table of masked key -> entry.
//     Readers never lock: tables are open-addressed arrays of atomic
//     pointers, replaced (not resized in place) when they fill. Installers
//     (slow paths) serialize on a mutex.
//   - The exact-match cache (EMC), one per receive goroutine: full key ->
//     entry, direct-mapped, no locks at all.
//
// Invalidation is by generation: every entry records the bridge generation
// read before its translation started, and is used only while the bridge is
// still at that generation. The megaflow cache keeps entries of one
// generation; the first install at a newer generation drops them all.

// mfEntry is a cached forwarding decision.
//
// Statistics follow Open vSwitch's pull model: the fast path counts packets
// on the entry (one set of atomic adds per run of packets), and
// Bridge.syncStats later credits the flows and tables the entry was derived
// from with what they have not been credited yet.
type mfEntry struct {
	hash  uint64
	gen   uint64
	ops   []op
	nout  int // number of outputs and packet-ins
	nmods int // number of frame rewrites
	// safe is whether the ops touch nothing past the Ethernet and VLAN
	// headers and send the frame only to ports: then a TCP super-frame or
	// a partial-checksum frame from an offloading port is forwarded as it
	// is (offload.go). Anything else sees wire frames.
	safe bool
	why  dropReason // why nothing was output, when nothing was
	key  flow.Key   // masked by mask

	packets atomic.Uint64
	bytes   atomic.Uint64
	used    atomic.Int64

	wc    flow.Mask  // the translation's wildcards: the megaflow's mask
	flows []*Flow    // flows credited for each packet
	hits  []tableHit // table lookups credited for each packet
	// groups are the group and bucket counters credited for each packet.
	groups []*groupCtr
	final  *flow.Key // the key after the actions (traces only)

	// Guarded by megaflowCache.mu: what syncStats has credited so far.
	syncedPkts, syncedBytes uint64
}

// finish computes which outputs must copy the frame: those followed by a
// rewrite of it. Other outputs hand the receive buffer itself to the link.
func (e *mfEntry) finish(why dropReason) {
	later := false
	e.safe = true
	for i := len(e.ops) - 1; i >= 0; i-- {
		o := &e.ops[i]
		e.safe = e.safe && offloadSafe(o.kind)
		switch o.kind {
		case opOutput, opController, opCT:
			e.nout++
			o.copy = later
		case opLearn, opSave:
		default:
			e.nmods++
			later = true
		}
	}
	if e.nout == 0 {
		if why == 0 {
			why = dropAction
		}
		e.why = why
	}
}

// maxMegaflows bounds the megaflow cache, like Open vSwitch's flow-limit
// (other_config:flow-limit, default 200,000).
const maxMegaflows = 200000

type megaflowCache struct {
	mu  sync.Mutex // serializes installers and stats syncs
	cur atomic.Pointer[mfGen]
	// retired holds entries no longer in cur whose statistics are not
	// fully synced yet. Guarded by mu.
	retired []*mfEntry
}

// mfGen is the cache's content for one bridge generation.
type mfGen struct {
	gen  uint64
	subs atomic.Pointer[[]*mfSub]
	n    int        // entries; guarded by megaflowCache.mu
	all  []*mfEntry // every entry, for stats syncs; guarded by megaflowCache.mu
}

// mfSub holds the entries of one mask.
type mfSub struct {
	mask  flow.Mask
	words []uint8 // indices of the mask's nonzero words
	tab   atomic.Pointer[mfTable]
	n     int // guarded by megaflowCache.mu
}

type mfTable struct {
	slots []atomic.Pointer[mfEntry]
	mask  uint64
}

func (c *megaflowCache) init() {}

// lookup returns the entry matching k at generation gen, or nil.
func (c *megaflowCache) lookup(k *flow.Key, gen uint64) *mfEntry {
	g := c.cur.Load()
	if g == nil || g.gen != gen {
		return nil
	}
	subs := g.subs.Load()
	if subs == nil {
		return nil
	}
	kw := k.Words()
	for _, s := range *subs {
		if e := s.find(kw); e != nil {
			return e
		}
	}
	return nil
}

func (s *mfSub) hash(kw *[flow.KeyWords]uint64) uint64 {
	mw := s.mask.Words()
	h := uint64(len(s.words))
	for _, i := range s.words {
		h = mixWord(h, kw[i]&mw[i])
	}
	return finishHash(h)
}

func (s *mfSub) find(kw *[flow.KeyWords]uint64) *mfEntry {
	h := s.hash(kw)
	t := s.tab.Load()
	mw := s.mask.Words()
	for i := h & t.mask; ; i = (i + 1) & t.mask {
		e := t.slots[i].Load()
		if e == nil {
			return nil
		}
		if e.hash != h {
			continue
		}
		ew := e.key.Words()
		same := true
		for _, w := range s.words {
			if kw[w]&mw[w] != ew[w] {
				same = false
				break
			}
		}
		if same {
			return e
		}
	}
}

// install adds e, translated at generation gen; it returns the entry to use
// (an equal one may already be there). An entry from a generation older than
// the cache's is not installed.
func (c *megaflowCache) install(e *mfEntry, gen uint64) *mfEntry {
	e.gen = gen
	c.mu.Lock()
	defer c.mu.Unlock()
	g := c.cur.Load()
	if g != nil && g.gen > gen {
		c.retired = append(c.retired, e) // used once, then synced
		return e
	}
	if g == nil || g.gen != gen || g.n >= maxMegaflows {
		if g != nil {
			c.retired = append(c.retired, g.all...)
		}
		g = &mfGen{gen: gen}
		empty := []*mfSub{}
		g.subs.Store(&empty)
		c.cur.Store(g)
	}
	s := g.sub(&e.wc)
	kw := e.key.Words()
	e.hash = s.hash(kw)
	if old := s.find(kw); old != nil {
		return old
	}
	s.insert(e)
	g.n++
	g.all = append(g.all, e)
	return e
}

// syncStats credits flows, tables and drop counters with the packets the
// cached entries counted since the last sync. Entries of older generations
// are synced one last time and forgotten; a packet still in flight through
// such an entry at that moment is not counted.
func (b *Bridge) syncStats() {
	b.syncCache(&b.mf)
	b.syncRecirc() // recirc.go
}

func (b *Bridge) syncEntry(e *mfEntry) {
	p, by := e.packets.Load(), e.bytes.Load()
	dp, db := p-e.syncedPkts, by-e.syncedBytes
	if dp == 0 {
		return
	}
	e.syncedPkts, e.syncedBytes = p, by
	used := e.used.Load()
	for _, f := range e.flows {
		f.credit(dp, db, used)
	}
	for _, h := range e.hits {
		t := &b.tables[h.table]
		t.lookups.Add(dp)
		if h.matched {
			t.matches.Add(dp)
		}
	}
	for _, g := range e.groups {
		g.credit(dp, db)
	}
	if e.why != 0 {
		b.drops[e.why].Add(dp)
	}
}

// sub returns the subtable for mask, creating it. Called with the cache
// mutex held.
func (g *mfGen) sub(m *flow.Mask) *mfSub {
	subs := *g.subs.Load()
	for _, s := range subs {
		if s.mask == *m {
			return s
		}
	}
	s := &mfSub{mask: *m}
	for i, w := range m.Words() {
		if w != 0 {
			s.words = append(s.words, uint8(i))
		}
	}
	s.tab.Store(newMfTable(16))
	next := make([]*mfSub, len(subs), len(subs)+1)
	copy(next, subs)
	next = append(next, s)
	g.subs.Store(&next)
	return s
}

func newMfTable(n int) *mfTable {
	return &mfTable{slots: make([]atomic.Pointer[mfEntry], n), mask: uint64(n - 1)}
}

// insert adds e, growing the table to keep it at most half full. Growing
// builds a new array and publishes it; readers of the old one still find
// every entry it held.
func (s *mfSub) insert(e *mfEntry) {
	t := s.tab.Load()
	if (s.n+1)*2 > len(t.slots) {
		nt := newMfTable(len(t.slots) * 2)
		for i := range t.slots {
			if old := t.slots[i].Load(); old != nil {
				nt.put(old)
			}
		}
		s.tab.Store(nt)
		t = nt
	}
	t.put(e)
	s.n++
}

func (t *mfTable) put(e *mfEntry) {
	for i := e.hash & t.mask; ; i = (i + 1) & t.mask {
		if t.slots[i].Load() == nil {
			t.slots[i].Store(e)
			return
		}
	}
}

// MegaflowCount returns the number of megaflows currently cached (for
// ovs-appctl dpctl/dump-flows-like reporting).
func (b *Bridge) MegaflowCount() int {
	b.mf.mu.Lock()
	defer b.mf.mu.Unlock()
	g := b.mf.cur.Load()
	if g == nil || g.gen != b.gen.Load() {
		return 0
	}
	return g.n
}

// mixWord and finishHash are a multiply-xorshift word hash (the murmur3
// finalizer constants), good enough for keys that are already masked.
func mixWord(h, w uint64) uint64 {
	h ^= w * 0x87c37b91114253d5
	h = bits.RotateLeft64(h, 31) * 0x4cf5ad432745937f
	return h
}

func finishHash(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

// hashKey hashes a whole key for the exact-match cache: four independent
// multiply lanes so that the multiplies overlap, then one finalizer.
func hashKey(k *flow.Key) uint64 {
	const m = 0x9e3779b97f4a7c15
	w := k.Words()
	var a, b, c, d uint64 = 1, 2, 3, 4
	i := 0
	for ; i+4 <= len(w); i += 4 {
		a = (a ^ w[i]) * m
		b = (b ^ w[i+1]) * m
		c = (c ^ w[i+2]) * m
		d = (d ^ w[i+3]) * m
	}
	for ; i < len(w); i++ {
		a = (a ^ w[i]) * m
	}
	return finishHash(a ^ bits.RotateLeft64(b, 17) ^ bits.RotateLeft64(c, 29) ^ bits.RotateLeft64(d, 43))
}

// emcSize is the number of exact-match cache slots per receive goroutine.
const emcSize = 2048

type emcSlot struct {
	hash uint64
	e    *mfEntry
	key  flow.Key
}

// emc is a direct-mapped exact-match cache owned by one goroutine.
type emc struct {
	slots [emcSize]emcSlot
}

func (c *emc) lookup(k *flow.Key, h, gen uint64) *mfEntry {
	s := &c.slots[h&(emcSize-1)]
	if s.e != nil && s.hash == h && s.e.gen == gen && s.key == *k {
		return s.e
	}
	return nil
}

// emcInsertInv is the inverse probability of inserting a megaflow hit into
// the EMC when its slot holds a live entry, as Open vSwitch's
// other_config:emc-insert-inv-prob (default 100): with more active flows than
// slots, always inserting would only thrash the cache.
const emcInsertInv = 100

func (c *emc) insert(k *flow.Key, h, gen uint64) bool {
	s := &c.slots[h&(emcSize-1)]
	return s.e == nil || s.e.gen != gen
}

func (c *emc) put(k *flow.Key, h uint64, e *mfEntry) {
	s := &c.slots[h&(emcSize-1)]
	s.hash, s.e, s.key = h, e, *k
}
