package classifier

import (
	"math/bits"
	"sync/atomic"

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

// sigWord is one nonzero word of a subtable's mask and its index in the key.
type sigWord struct {
	i uint32
	m uint64
}

// subtable holds every rule with one mask.
type subtable[T any] struct {
	// Read by lookups; fixed at creation.
	sig  []sigWord // the mask's nonzero words: all a lookup hashes and compares
	tab  atomic.Pointer[table[T]]
	mask flow.Mask

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
			st.sig = append(st.sig, sigWord{uint32(i), w})
		}
	}
	st.tab.Store(newTable[T](minSlots))
	return st
}

// Hash constants: odd 64-bit values with well-spread bits (from the
// fractional parts of sqrt(2), sqrt(3) and the golden ratio).
const (
	hashSeed = 0x6a09e667f3bcc908
	hashMul1 = 0xbb67ae8584caa73b
	hashMul2 = 0x9e3779b97f4a7c15
)

// mix folds word w into h: a 64x64->128 multiply whose halves are XORed
// mixes every input bit into every output bit in a few cycles.
func mix(h, w uint64) uint64 {
	hi, lo := bits.Mul64(h^w, hashMul1)
	return hi ^ lo
}

// finish spreads the state over all 64 bits: the top ones pick the slot and
// the low byte is the slot's tag.
func finish(h uint64) uint64 {
	hi, lo := bits.Mul64(h, hashMul2)
	return hi ^ lo
}

// hashKey hashes the masked words of k under st's mask.
func (st *subtable[T]) hashKey(kw *[flow.KeyWords]uint64) uint64 {
	h := uint64(hashSeed)
	for _, s := range st.sig {
		h = mix(h, kw[s.i]&s.m)
	}
	return finish(h)
}

// hashMatch hashes an already masked key.
func (st *subtable[T]) hashMatch(kw *[flow.KeyWords]uint64) uint64 {
	h := uint64(hashSeed)
	for _, s := range st.sig {
		h = mix(h, kw[s.i])
	}
	return finish(h)
}

// matches reports whether k, masked by st's mask, equals the rule key rk.
func (st *subtable[T]) matches(kw, rk *[flow.KeyWords]uint64) bool {
	for _, s := range st.sig {
		if kw[s.i]&s.m != rk[s.i] {
			return false
		}
	}
	return true
}

// lookup returns the best rule whose masked key equals k's, or nil.
// Safe for concurrent use with the writer.
//
// It scans the tag words eight slots at a time: a miss usually costs one
// load from the dense tag array and no look at the rules at all.
func (st *subtable[T]) lookup(kw *[flow.KeyWords]uint64) *Rule[T] {
	h := st.hashKey(kw)
	t := st.tab.Load()
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
			r := t.rules[g*8+uint64(bits.TrailingZeros64(hit)/8)].Load()
			if r != nil && st.matches(kw, r.Match.Key.Words()) {
				return r
			}
		}
		if free != 0 {
			return nil
		}
		g = (g + 1) & last
		first = ^uint64(0)
	}
}

// findSlot returns the slot holding masked key key, or the slot a new entry
// for it should take (the first tombstone on its probe sequence, else the
// empty slot ending it) with found false. Writer only.
func (st *subtable[T]) findSlot(t *table[T], key *flow.Key, h uint64) (s uint64, found bool) {
	kw := key.Words()
	tag := tagOf(h)
	free := ^uint64(0)
	for s = h >> t.shift; ; s = (s + 1) & t.mask() {
		switch tg := t.tag(s); tg {
		case empty:
			if free == ^uint64(0) {
				free = s
			}
			return free, false
		case tomb:
			if free == ^uint64(0) {
				free = s
			}
		case tag:
			if r := t.rules[s].Load(); st.matches(kw, r.Match.Key.Words()) {
				return s, true
			}
		}
	}
}

// insert adds r, which has st's mask, and returns the rule it replaced.
// Writer only.
func (st *subtable[T]) insert(r *Rule[T], seq *uint64) (old *Rule[T]) {
	key := &r.Match.Key
	h := st.hashMatch(key.Words())
	t := st.tab.Load()
	s, found := st.findSlot(t, key, h)
	if !found {
		*seq++
		r.seq = *seq
		if (st.used+1)*4 > len(t.rules)*3 {
			// Grow (or, with many tombstones, just rebuild) before filling
			// the slot, keeping the load at most 3/4 so that a miss ends
			// within a tag word or two.
			t = st.rebuild(st.live + 1)
			s, _ = st.findSlot(t, key, h)
		}
		if t.tag(s) == empty {
			st.used++
		}
		st.live++
		t.fill(s, tagOf(h), r)
		return nil
	}
	head := t.rules[s].Load()
	var prev *Rule[T]
	cur := head
	for cur != nil && cur.Priority > r.Priority {
		prev, cur = cur, cur.next
	}
	if cur != nil && cur.Priority == r.Priority {
		// Same match and priority: r takes cur's place and its seniority.
		r.seq = cur.seq
		r.next = cur.next
		link(&t.rules[s], prev, r)
		cur.next = nil
		return cur
	}
	*seq++
	r.seq = *seq
	r.next = cur
	link(&t.rules[s], prev, r)
	return nil
}

// link makes r follow prev, or heads the slot's list when prev is nil. The
// list's tail from r on must already be in place: readers see the new head
// only through the atomic store, after r.next is set.
func link[T any](head *atomic.Pointer[Rule[T]], prev, r *Rule[T]) {
	if prev == nil {
		head.Store(r)
	} else {
		prev.next = r
	}
}

// find returns the rule with masked key key and priority p. Writer only.
func (st *subtable[T]) find(key *flow.Key, p uint16) *Rule[T] {
	t := st.tab.Load()
	s, found := st.findSlot(t, key, st.hashMatch(key.Words()))
	if !found {
		return nil
	}
	for r := t.rules[s].Load(); r != nil && r.Priority >= p; r = r.next {
		if r.Priority == p {
			return r
		}
	}
	return nil
}

// remove unlinks and returns the rule with masked key key and priority p.
// Writer only.
func (st *subtable[T]) remove(key *flow.Key, p uint16) *Rule[T] {
	t := st.tab.Load()
	s, found := st.findSlot(t, key, st.hashMatch(key.Words()))
	if !found {
		return nil
	}
	var prev *Rule[T]
	r := t.rules[s].Load()
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
		t.rules[s].Store(r.next)
	default:
		// Last rule of the slot: tombstone it, keeping the probe sequences
		// through it intact, and drop the pointer so r can be collected.
		t.setTag(s, tomb)
		t.rules[s].Store(nil)
		st.live--
	}
	r.next = nil
	return r
}

// rebuild moves every live slot into a fresh table sized for want entries at
// a load of at most 3/8, publishes it and returns it. The headroom up to the
// 3/4 limit keeps rebuilds amortized O(1) per insert even when most used
// slots are tombstones. Writer only.
func (st *subtable[T]) rebuild(want int) *table[T] {
	n := minSlots
	for n*3 < want*8 {
		n *= 2
	}
	old := st.tab.Load()
	t := newTable[T](n)
	for s := range old.rules {
		r := old.rules[s].Load()
		if r == nil {
			continue
		}
		h := st.hashMatch(r.Match.Key.Words())
		j := h >> t.shift
		for t.tag(j) != empty {
			j = (j + 1) & t.mask()
		}
		t.fill(j, tagOf(h), r)
	}
	st.used = st.live
	st.tab.Store(t)
	return t
}

// each calls fn for every rule of st, slot by slot and by descending priority
// within a slot, until fn returns false. Writer only.
func (st *subtable[T]) each(fn func(*Rule[T]) bool) bool {
	t := st.tab.Load()
	for s := range t.rules {
		for r := t.rules[s].Load(); r != nil; {
			next := r.next // fn may remove r
			if !fn(r) {
				return false
			}
			r = next
		}
	}
	return true
}
