package classifier

import (
	"math/bits"
	"sync/atomic"
	"unsafe"

	"tapestry/flow"
)

// listPtr publishes the readers' view of the subtables.
type listPtr[T any] = atomic.Pointer[subtableList[T]]

// subtableList is an immutable snapshot of the subtables in probe order.
type subtableList[T any] struct {
	entries []listEntry[T]
}

// listEntry keeps the max priority next to the subtable pointer so the early
// exit test reads the list and nothing else.
// maxPri is updated in place while the order stays the same; a lookup may
// see the old or the new value, either being a valid view.
type listEntry[T any] struct {
	maxPri atomic.Uint32
	st     *subtable[T]
}

// sigWord is one nonzero word of a subtable's mask and its index in the
// key: a record holds the key's words in sig order.
type sigWord struct {
	m uint64
	i uintptr
}

// subtable holds every rule with one mask.
type subtable[T any] struct {
	// Read by lookups. The fields a lookup reads in every subtable it
	// visits come first, so that they share as few cache lines as they can.
	tab atomic.Pointer[table[T]]
	// first holds the pieces of the first stage when there are at most
	// three (those missing with a zero mask), which lets Lookup try that
	// stage before calling scan (see sift); firstOK says whether it does.
	// second is the same for the second stage, which sift tries next.
	first    [3]piece
	second   [3]piece
	firstOK  bool
	secondOK bool
	// ver is odd while the writer changes a live slot's rule list head and
	// rank, which must be read as a pair; a reader that sees it odd or
	// changed across its reads ranks the rule it got from the rule itself.
	// Filling an empty slot does not need it: the tag is stored last.
	ver    atomic.Uint64
	pieces []piece // the mask split by stage: what a lookup hashes
	ends   []uint8 // per nonempty stage, the end of its pieces
	// minPri is the lowest priority of st's rules (prioSet.min), a lower
	// bound on the priority of any rule a lookup finds here; see Lookup.
	minPri atomic.Uint32
	nsig   int                    // fixed at creation, like sig, pieces and ends
	sig    [flow.KeyWords]sigWord // the mask's nonzero words: all a lookup compares
	mask   flow.Mask
	// recPos[j] is the place in a record (index into sig) of the key word
	// pieces[j] covers, so the writer hashes a record's words where they
	// are, without scattering them back into a whole key first.
	recPos []uint8

	// Writer's state.
	live        int     // occupied slots (distinct masked keys)
	used        int     // occupied slots plus tombstones
	prios       prioSet // priorities of the rules, with counts
	pos         int     // index in the writer's order
	unpublished bool    // not yet in the readers' list
}

func newSubtable[T any](m *flow.Mask) *subtable[T] {
	st := &subtable[T]{mask: *m}
	for i, w := range m.Words() {
		if w != 0 {
			st.sig[st.nsig] = sigWord{m: w, i: uintptr(i)}
			st.nsig++
		}
	}
	st.pieces, st.ends = makePieces(m)
	if len(st.ends) > 0 && st.ends[0] <= 3 {
		copy(st.first[:], st.pieces[:st.ends[0]])
		st.firstOK = true
		if len(st.ends) > 1 && st.ends[1]-st.ends[0] <= 3 {
			copy(st.second[:], st.pieces[st.ends[0]:st.ends[1]])
			st.secondOK = true
		}
	}
	st.recPos = make([]uint8, len(st.pieces))
	for j, p := range st.pieces {
		for st.sig[st.recPos[j]].i != p.i {
			st.recPos[j]++
		}
	}
	st.tab.Store(st.newTable(minSlots))
	return st
}

// setMinPri publishes st's lowest priority after a change. Writer only.
// Most changes leave it as it was, and an atomic store is a full barrier
// (on amd64 an XCHG) that a plain load of the writer's own value avoids.
func (st *subtable[T]) setMinPri() {
	if m := uint32(st.prios.min); st.minPri.Load() != m {
		st.minPri.Store(m)
	}
}

// newTable returns an empty table of n slots with filters for every stage
// but the last, or none for a big table.
func (st *subtable[T]) newTable(n int) *table[T] {
	nf := len(st.ends) - 1
	if n >= bigSlots || nf < 0 {
		nf = 0
	}
	return newTable[T](n, st.nsig, nf)
}

// Hash constants: odd 64-bit values with well-spread bits (from the
// fractional parts of sqrt(2), sqrt(3) and the golden ratio).
const (
	hashSeed = 0x6a09e667f3bcc908
	hashMul1 = 0xbb67ae8584caa73b
	hashMul2 = 0x9e3779b97f4a7c15
)

// A key's hash under a mask is the sum of its masked pieces, each times its
// own odd multiplier (see piece), spread by finish. One multiply per piece
// and no chain between pieces: the multiplies of a 5-word mask run in
// parallel, and a partial sum is the hash of a stage prefix (see stage.go).

// finish spreads the sum over all 64 bits: the top ones pick the slot and
// the low byte is the slot's tag. The high half of the 128-bit product
// depends on every bit of h.
func finish(h uint64) uint64 {
	hi, lo := bits.Mul64(h, hashMul2)
	return hi ^ lo
}

// sigs returns the mask's nonzero words.
func (st *subtable[T]) sigs() []sigWord { return st.sig[:st.nsig] }

// sigKey gathers the words of an already masked key that st's mask covers,
// the form records hold.
func (st *subtable[T]) sigKey(kw *[flow.KeyWords]uint64, out *[flow.KeyWords]uint64) []uint64 {
	sig := st.sigs()
	for j := range sig {
		out[j] = kw[sig[j].i]
	}
	return out[:len(sig)]
}

// hashSig returns the hash of sig-ordered key words as gathered by sigKey,
// the same as hashKey of the whole key, and the partial hashes of the first
// nf stages, those a table of nf filters records. If own is not nil, it
// also stores there each stage's own sum, what table.uni keeps (see
// table.admit). Writer only.
func (st *subtable[T]) hashSig(kw []uint64, part, own *[numStages]uint64, nf int) uint64 {
	ps, pos := st.pieces, st.recPos[:len(st.pieces)]
	var h uint64
	j := 0
	for s, end := range st.ends {
		h0 := h
		for ; j < int(end); j++ {
			h += (kw[pos[j]] & ps[j].m) * ps[j].k
		}
		if s < nf {
			part[s] = finish(h)
		}
		if own != nil {
			own[s] = h - h0
		}
	}
	return finish(h)
}

// candidate is a slot whose tag matched a lookup's key, not yet confirmed.
type candidate[T any] struct {
	st   *subtable[T]
	t    *table[T]
	h    uint64 // the key's hash under st's mask
	v    uint64 // st.ver, read before t
	slot uint64
}

// scan looks for k in st as far as the tags go: it hashes k stage by stage,
// gives up at the first stage that rules out every key of st, by its
// filter or by the one value all keys have there (see stage.go and
// table.uni), and otherwise scans the tag words eight slots at a time
// from k's home slot. It returns true with the first slot whose tag
// matches in c, and ORs into ww (if not nil) the bits it read. Safe for
// concurrent use with the writer.
//
// The caller may have hashed the stages before from (the end of a stage)
// and found their sum, h, no reason to reject k (sift does the first
// stages itself): the hash is a plain sum over pieces, so scan goes on
// from there, with this table or a newer one.
func (st *subtable[T]) scan(kw, ww *[flow.KeyWords]uint64, c *candidate[T], from int, h uint64) bool {
	v := st.ver.Load()
	t := st.tab.Load()
	ps := st.pieces
	nf, uni := t.nf, t.uni.Load()
	hs, js := h, from // the sum and the piece where the stage began
	for j := from; j < len(ps); j++ {
		p := &ps[j]
		h += (kw[p.i] & p.m) * p.k
		// Only the last piece of a stage has a stage number; of those,
		// only stages below nf have a filter (the last one never does).
		if p.stage < 0 {
			continue
		}
		if uni>>p.stage&1 != 0 {
			if h-hs != t.usum[p.stage] {
				widen(ww, ps[js:j+1])
				return false
			}
		} else if p.stage < nf && !t.filt.mayHold(p.stage, finish(h)) {
			widen(ww, ps[:j+1])
			return false
		}
		hs, js = h, j+1
	}
	widen(ww, ps)
	h = finish(h)
	s := h >> t.shift
	if nf == 0 && t.lines != nil {
		// A big table's home slot holds the key in most hits (the load
		// is at most 3/4): start loading it from memory now, alongside
		// the tag word, rather than after the tag matched.
		prefetch(uintptr(unsafe.Pointer(&t.lines[s])))
	}
	bc := uint64(tagOf(h)) * lanes
	g := s / 8
	first := ^uint64(0) << (s % 8 * 8) // lanes before s are not on the probe sequence
	last := uint64(len(t.tags) - 1)
	for {
		w := t.tags[g].Load()
		free := zeroLanes(w) & first
		hit := zeroLanes(w^bc) & first
		if free != 0 {
			hit &= free&-free - 1 // the sequence ends at the first empty slot
		}
		if hit != 0 {
			*c = candidate[T]{st: st, t: t, h: h, v: v, slot: g*8 + uint64(bits.TrailingZeros64(hit)/8)}
			return true
		}
		if free != 0 {
			return false
		}
		g = (g + 1) & last
		first = ^uint64(0)
	}
}

// settle confirms c and returns the best rule of st matching k, with its
// rank, or nil. A tag that matched another key (one in 256 per compared
// slot) sends it back to probe the whole sequence.
func (c *candidate[T]) settle(kw *[flow.KeyWords]uint64) (*Rule[T], uint64) {
	if r, rank := c.st.confirm(c.t, c.slot, kw, c.v); r != nil {
		return r, rank
	}
	return c.st.probe(c.t, kw, c.h, c.v)
}

// probe scans the tag words from h's home slot for a slot holding k.
func (st *subtable[T]) probe(t *table[T], kw *[flow.KeyWords]uint64, h, v uint64) (*Rule[T], uint64) {
	bc := uint64(tagOf(h)) * lanes
	s := h >> t.shift
	g := s / 8
	first := ^uint64(0) << (s % 8 * 8) // lanes before s are not on the probe sequence
	last := uint64(len(t.tags) - 1)
	for {
		w := t.tags[g].Load()
		free := zeroLanes(w) & first
		hit := zeroLanes(w^bc) & first
		if free != 0 {
			hit &= free&-free - 1 // the sequence ends at the first empty slot
		}
		for ; hit != 0; hit &= hit - 1 {
			slot := g*8 + uint64(bits.TrailingZeros64(hit)/8)
			if r, rank := st.confirm(t, slot, kw, v); r != nil {
				return r, rank
			}
		}
		if free != 0 {
			return nil, 0
		}
		g = (g + 1) & last
		first = ^uint64(0)
	}
}

// confirm compares k with slot s's key and on a match returns the slot's
// best rule and its rank. v is st.ver as read before the slot.
func (st *subtable[T]) confirm(t *table[T], s uint64, kw *[flow.KeyWords]uint64, v uint64) (*Rule[T], uint64) {
	rec := t.rec(s)
	sig := st.sigs()
	if len(rec) != len(sig)+1 {
		return nil, 0 // never: stride is len(sig)+1; lets the compiler drop bounds checks
	}
	// Load the rule pointer before comparing, not after: the two loads are
	// independent, and for a table out of the caches doing them together
	// saves a memory latency. The key words never change while the slot's
	// tag is live (see table), so the order does not matter to correctness.
	r := t.head(s).Load()
	for j := range sig {
		if kw[sig[j].i]&sig[j].m != rec[j+1].Load() {
			return nil, 0
		}
	}
	if r == nil {
		return nil, 0 // removed since the tag was read
	}
	rank := rec[0].Load()
	if v&1 != 0 || st.ver.Load() != v {
		// The writer was changing some slot's head: r and rank may be
		// from different moments. The rule's own fields never change.
		rank = rankOf(r)
	}
	return r, rank
}

// recMatches reports whether slot s holds the masked key words kw (as
// gathered by sigKey). Writer only.
func (t *table[T]) recMatches(s uint64, kw []uint64) bool {
	rec := t.rec(s)
	for j, w := range kw {
		if rec[1+j].Load() != w {
			return false
		}
	}
	return true
}

// findSlot returns the slot for key words kw and its tag: a live tag when
// the key has a slot with rules, tomb when its slot lost its rules (it may
// come back to life: its key words are still there), or empty for the
// empty slot where a new entry goes. Other keys' tombstones are not
// reused, which is what keeps a slot's key words fixed for readers (see
// table). Writer only.
func (st *subtable[T]) findSlot(t *table[T], kw []uint64, h uint64) (s uint64, tg uint8) {
	tag := tagOf(h)
	for s = h >> t.shift; ; s = (s + 1) & t.mask() {
		switch tg = t.tag(s); tg {
		case empty:
			return s, empty
		case tomb, tag:
			if t.recMatches(s, kw) {
				return s, tg
			}
		}
	}
}

// setHead makes r the head of slot s's list, with its rank, as one change
// for readers (see ver). Writer only.
func (st *subtable[T]) setHead(t *table[T], s uint64, r *Rule[T]) {
	st.ver.Add(1)
	t.head(s).Store(r)
	t.rec(s)[0].Store(rankOf(r))
	st.ver.Add(1)
}

// insert adds r, which has st's mask, and returns the rule it replaced.
// Writer only.
func (st *subtable[T]) insert(r *Rule[T], seq *uint64) (old *Rule[T]) {
	var part, own [numStages]uint64
	kw := r.key
	t := st.tab.Load()
	h := st.hashSig(kw, &part, &own, t.nf)
	s, tg := st.findSlot(t, kw, h)
	switch tg {
	case empty:
		*seq++
		r.seq = *seq
		if (st.used+1)*4 > t.slots()*3 {
			// Grow (or, with many tombstones, just rebuild) before filling
			// the slot, keeping the load at most 3/4 so that a miss ends
			// within a tag word or two.
			nf := t.nf
			t = st.rebuild(st.live + 1)
			if t.nf > nf {
				st.hashSig(kw, &part, nil, t.nf) // a big table shrank: it has filters now
			}
			s, _ = st.findSlot(t, kw, h)
		}
		st.used++
		st.live++
		t.filt.add(t.nf, &part)
		t.admit(&own, len(st.ends))
		t.fill(s, tagOf(h), kw, rankOf(r), r)
		return nil
	case tomb:
		// The key's partial hashes are in t's filters already, and t.uni
		// has admitted it: that happened when the slot was filled, in t or
		// in the table t was rebuilt from (a rebuild carries only live
		// slots, and filters never lose bits).
		*seq++
		r.seq = *seq
		st.live++
		st.setHead(t, s, r)
		t.setTag(s, tagOf(h))
		return nil
	}
	head := t.head(s).Load()
	var prev *Rule[T]
	cur := head
	for cur != nil && cur.Priority > r.Priority {
		prev, cur = cur, cur.next
	}
	if cur != nil && cur.Priority == r.Priority {
		// Same match and priority: r takes cur's place and its seniority.
		r.seq = cur.seq
		r.next = cur.next
		st.link(t, s, prev, r)
		cur.next = nil
		return cur
	}
	*seq++
	r.seq = *seq
	r.next = cur
	st.link(t, s, prev, r)
	return nil
}

// link makes r follow prev, or heads slot s's list when prev is nil. The
// list's tail from r on must already be in place: readers see the new head
// only through the atomic store, after r.next is set.
func (st *subtable[T]) link(t *table[T], s uint64, prev, r *Rule[T]) {
	if prev == nil {
		st.setHead(t, s, r)
	} else {
		prev.next = r
	}
}

// slotOf returns the table and the live slot holding masked key key, or
// ok false. Writer only.
func (st *subtable[T]) slotOf(key *flow.Key) (t *table[T], s uint64, ok bool) {
	var buf [flow.KeyWords]uint64
	return st.slotOfSig(st.sigKey(key.Words(), &buf))
}

// slotOfSig is slotOf for the key's words in sig order. Writer only.
func (st *subtable[T]) slotOfSig(kw []uint64) (t *table[T], s uint64, ok bool) {
	t = st.tab.Load()
	var part [numStages]uint64
	s, tg := st.findSlot(t, kw, st.hashSig(kw, &part, nil, 0))
	return t, s, tg > tomb
}

// find returns the rule with masked key key and priority p. Writer only.
func (st *subtable[T]) find(key *flow.Key, p uint16) *Rule[T] {
	t, s, ok := st.slotOf(key)
	if !ok {
		return nil
	}
	for r := t.head(s).Load(); r != nil && r.Priority >= p; r = r.next {
		if r.Priority == p {
			return r
		}
	}
	return nil
}

// remove unlinks and returns the rule with masked key key and priority p.
// Writer only.
func (st *subtable[T]) remove(key *flow.Key, p uint16) *Rule[T] {
	var buf [flow.KeyWords]uint64
	return st.removeSig(st.sigKey(key.Words(), &buf), p)
}

// removeSig is remove for the key's words in sig order. Writer only.
func (st *subtable[T]) removeSig(kw []uint64, p uint16) *Rule[T] {
	t, s, ok := st.slotOfSig(kw)
	if !ok {
		return nil
	}
	var prev *Rule[T]
	r := t.head(s).Load()
	for r != nil && r.Priority > p {
		prev, r = r, r.next
	}
	if r == nil || r.Priority != p {
		return nil
	}
	switch {
	case prev != nil:
		prev.next = r.next
	case r.next != nil:
		st.setHead(t, s, r.next)
	default:
		// Last rule of the slot: tombstone it, keeping the probe sequences
		// through it intact, and drop the pointer so r can be collected.
		// The record stays: readers that read the tag before it changed
		// compare against it, and the same key may revive the slot.
		t.setTag(s, tomb)
		t.head(s).Store(nil)
		st.live--
	}
	r.next = nil
	return r
}

// rebuild moves every live slot into a fresh table sized for want entries at
// a load of at most 1/2, publishes it and returns it. The headroom up to the
// 3/4 limit keeps rebuilds amortized O(1) per insert even when most used
// slots are tombstones. The new table is filled with plain stores through
// its fresh view, not atomic ones: no reader can see it until the final
// atomic store publishes it. Writer only.
func (st *subtable[T]) rebuild(want int) *table[T] {
	n := minSlots
	for n < want*2 {
		n *= 2
	}
	old := st.tab.Load()
	t := st.newTable(n)
	ft := t.fresh()
	for s := range uint64(old.slots()) {
		r := old.head(s).Load()
		if r == nil {
			continue
		}
		rec := old.rec(s)
		j, tg := ft.place(t, st, rec)
		*plainHead(t.head(j)) = r
		ft.tags[j/8] |= uint64(tg) << (j % 8 * 8)
	}
	st.used = st.live
	st.tab.Store(t)
	return t
}

// place copies old record rec into an empty slot of the unpublished table
// t (of which ft is the plain view), records its key in t's filters and
// returns the slot and its tag. The rank comes from the old record, not
// from the rule: reading a Rule, somewhere in the heap, is a cache miss
// per slot moved. Writer only.
func (ft *freshTable[T]) place(t *table[T], st *subtable[T], rec []atomic.Uint64) (uint64, uint8) {
	var buf [flow.KeyWords]uint64
	kw := buf[:st.nsig]
	for j := range kw {
		kw[j] = rec[1+j].Load()
	}
	var part, own [numStages]uint64
	h := st.hashSig(kw, &part, &own, t.nf)
	t.admit(&own, len(st.ends))
	for s := range t.nf {
		w, b := t.filt.filterBits(part[s])
		ft.filt[uint64(s)*t.filt.words+w] |= b
	}
	j := h >> t.shift
	for uint8(ft.tags[j/8]>>(j%8*8)) != empty {
		j = (j + 1) & t.mask()
	}
	i := j*t.step + t.off
	nr := ft.recs[i : i+t.stride]
	nr[0] = rec[0].Load()
	copy(nr[1:], kw)
	return j, tagOf(h)
}

// each calls fn for every rule of st, slot by slot and by descending priority
// within a slot, until fn returns false. Writer only.
func (st *subtable[T]) each(fn func(*Rule[T]) bool) bool {
	t := st.tab.Load()
	for s := range uint64(t.slots()) {
		for r := t.head(s).Load(); r != nil; {
			next := r.next // fn may remove r
			if !fn(r) {
				return false
			}
			r = next
		}
	}
	return true
}

// widen ORs the masks of pieces into the wildcard words ww, if not nil.
func widen(ww *[flow.KeyWords]uint64, ps []piece) {
	if ww == nil {
		return
	}
	for _, p := range ps {
		ww[p.i] |= p.m
	}
}
