// Package classifier is an OpenFlow flow table's lookup structure: tuple space
// search over masked flow keys.
//
// Rules are grouped by mask. Each distinct mask owns a subtable, an
// open-addressed hash table keyed by the rule's masked key words, with a
// dense array of one-byte tags in front of the rule pointers so that a
// probe that misses reads a few bytes and no rule; rules whose masked keys
// are equal share one slot and form a list ordered by priority. A lookup
// probes the subtables in order of their highest priority and stops as soon
// as no remaining subtable can hold a rule that beats the best match found so
// far. Only the words a mask actually covers are hashed and compared, so a
// subtable matching in_port and nw_dst touches two of the key's words.
//
// Lookups are staged (stage.go): a subtable's hash is built stage by stage,
// metadata, L2, L3, L4, and a small filter per stage rejects most
// subtables that cannot match after a word or two, reporting only those
// words in the wildcards. A slot whose tag matches is confirmed late: its
// record is prefetched and the lookup goes on probing the following
// subtables while it loads (see Lookup), so a hit's cache miss overlaps
// other work instead of stalling it.
//
// # Ties
//
// OpenFlow leaves the choice among overlapping rules of equal priority
// undefined (OpenFlow 1.3 §5.3). This classifier picks the rule inserted
// first. A rule that replaces another (same match and priority) takes over the
// replaced rule's place in that order, so a modify never changes which rule
// wins a tie.
//
// # Concurrency
//
// One writer and any number of readers:
//
//   - Lookup, LookupBatch and Big may be called from any number of goroutines
//     at any time, concurrently with everything else. They take no lock,
//     never block and allocate nothing.
//   - Insert, Remove, Batch, Find, ForEach, ForEachLoose, Overlaps and Len
//     are the writer's side: the caller serializes them (one goroutine, or one mutex
//     held around every call), but they may run concurrently with Lookup.
//
// Each Insert and Remove is atomic for readers: a Lookup sees a replaced rule
// either before or after the replacement, never a mixture, and it only ever
// returns rules that were inserted and not yet removed when the Lookup began
// or that were inserted while it ran. A Lookup that overlaps several changes
// may see any subset of them (there is no multi-rule atomicity; Batch only
// saves work); a caller that needs a set of changes applied atomically
// (OpenFlow bundles) must build a second classifier and swap it in.
// The wildcard mask Lookup reports is sound (not minimal) for a classifier
// that does not change during the Lookup; flow caches must revalidate on
// change anyway.
//
// A lookup that runs concurrently with a change reads rules through atomic
// pointers; rules themselves are immutable once inserted, which is what makes
// the unsynchronized reads of a rule's match, Priority and Value safe.
package classifier

import (
	"cmp"
	"slices"
	"sync/atomic"

	"tapestry/flow"
)

// Rule is one entry of a classifier. A Rule is immutable once inserted and
// belongs to one classifier for its whole life: after Remove, insert a new
// Rule rather than the removed one, because lookups that began earlier may
// still be reading it.
//
// A Rule keeps its match as its subtable keeps keys: the mask once, in the
// subtable, and only the key words that mask covers in the rule. A rule on
// in_port and nw_dst holds two words, not a whole 368-byte flow.Match:
// with 100,000 flows in a bridge that is most of its memory. The words
// live inside the Rule, so an inserted Rule must not be copied.
type Rule[T any] struct {
	Priority uint16 // higher wins; OpenFlow priority 0..65535
	Value    T      // the caller's payload

	// seq orders rules of equal priority: lower was inserted first.
	// Written once by Insert before the rule is published.
	seq uint64
	// next links rules with the same masked key, highest priority first.
	// Only the writer reads or writes it; readers never follow it.
	next *Rule[T]
	// st is the subtable Insert put the rule in: its mask, and which key
	// word each element of key is (st.sig). Set by Insert, like key.
	st *subtable[T]
	// key is the masked key's words in st.sig order: inl when they fit.
	key []uint64
	inl [ruleInline]uint64
}

// ruleInline is the number of key words a Rule holds in itself, enough
// for in_port plus a 5-tuple (five words); a rule whose mask covers more
// words holds them in an array of their own.
const ruleInline = 5

// Match returns the rule's match, key bits outside the mask zero.
func (r *Rule[T]) Match() flow.Match {
	var m flow.Match
	if r.st == nil {
		return m
	}
	m.Mask = r.st.mask
	kw := m.Key.Words()
	for j, sw := range r.st.sigs() {
		kw[sw.i] = r.key[j]
	}
	return m
}

// setKey stores the words of key (masked by st's mask) that st's mask
// covers.
func (r *Rule[T]) setKey(st *subtable[T], key *flow.Key) {
	sig := st.sigs()
	r.st = st
	if len(sig) <= ruleInline {
		r.key = r.inl[:len(sig):len(sig)]
	} else {
		r.key = make([]uint64, len(sig))
	}
	kw := key.Words()
	for j, sw := range sig {
		r.key[j] = kw[sw.i] & sw.m
	}
}

// Classifier is a set of rules searchable by flow key. The zero value is not
// usable; call New.
type Classifier[T any] struct {
	// Readers' state.
	list listPtr[T] // subtables by descending max priority
	// big counts the subtables whose tables are big (see bigSlots).
	big atomic.Int32

	// Writer's state; see the package comment for who may touch it.
	byMask map[flow.Mask]*subtable[T]
	order  []*subtable[T] // the writer's copy of list, same order
	last   *subtable[T]   // the subtable of the previous write, checked before byMask
	n      int            // number of rules
	seq    uint64         // last sequence number handed out
	batch  int            // Batch nesting depth
	dirty  bool           // order changed within a batch, not yet published
}

// New returns an empty classifier.
func New[T any]() *Classifier[T] {
	c := &Classifier[T]{byMask: make(map[flow.Mask]*subtable[T])}
	c.list.Store(&subtableList[T]{})
	return c
}

// Len returns the number of rules.
func (c *Classifier[T]) Len() int { return c.n }

// Big reports whether some subtable's table is too large to stay in the
// CPU's caches (at least bigSlots slots): then lookups wait for memory,
// and a caller with a burst of keys gains by calling LookupBatch. Safe
// for concurrent use, like Lookup.
func (c *Classifier[T]) Big() bool { return c.big.Load() > 0 }

// Insert adds r with match m (m is not changed; key bits outside its mask
// are ignored). If a rule with the same match and priority exists, r
// replaces it and the old rule is returned with replaced set. Inserting a
// Rule that has been inserted before panics: see Rule.
func (c *Classifier[T]) Insert(r *Rule[T], m *flow.Match) (old *Rule[T], replaced bool) {
	if r.seq != 0 {
		panic("classifier: Rule inserted twice; allocate a new Rule")
	}
	st := c.subtableFor(&m.Mask)
	if st == nil {
		st = c.newSubtable(&m.Mask)
	}
	r.setKey(st, &m.Key)
	wasBig := st.tab.Load().big
	old = st.insert(r, &c.seq)
	switch isBig := st.tab.Load().big; {
	case isBig && !wasBig:
		c.big.Add(1)
	case wasBig && !isBig:
		c.big.Add(-1)
	}
	if old != nil {
		return old, true
	}
	c.n++
	if st.prios.add(r.Priority) {
		c.maxChanged(st)
	}
	st.setMinPri()
	return nil, false
}

// Remove deletes the rule with exactly this match and priority (OpenFlow's
// strict delete) and returns it.
func (c *Classifier[T]) Remove(m *flow.Match, priority uint16) (*Rule[T], bool) {
	st := c.subtableFor(&m.Mask)
	if st == nil {
		return nil, false
	}
	key := m.Key.Masked(&m.Mask)
	r := st.remove(&key, priority)
	if r == nil {
		return nil, false
	}
	c.removed(st, r)
	return r, true
}

// RemoveRule deletes r, which Insert put in c, unless it is gone already
// (removed, or replaced by a rule with its match and priority), and reports
// whether it removed it. It finds r's slot from the words r holds, without
// a match to gather them from.
func (c *Classifier[T]) RemoveRule(r *Rule[T]) bool {
	// A rule in its subtable's lists is live, and so is the subtable; a
	// removed rule is in no list.
	st := r.st
	if st == nil {
		return false
	}
	t, s, ok := st.slotOfSig(r.key)
	if !ok {
		return false
	}
	x := t.head(s).Load()
	for x != nil && x != r {
		x = x.next
	}
	if x == nil || st.removeSig(r.key, r.Priority) != r {
		return false
	}
	c.removed(st, r)
	return true
}

// removed updates the counts and priorities after st lost r.
func (c *Classifier[T]) removed(st *subtable[T], r *Rule[T]) {
	c.n--
	if st.live == 0 {
		c.dropSubtable(st)
	} else {
		if st.prios.remove(r.Priority) {
			c.maxChanged(st)
		}
		st.setMinPri()
	}
}

// Find returns the rule with exactly this match and priority (the strict
// lookup of OpenFlow's *_STRICT flow mods).
func (c *Classifier[T]) Find(m *flow.Match, priority uint16) (*Rule[T], bool) {
	st := c.subtableFor(&m.Mask)
	if st == nil {
		return nil, false
	}
	key := m.Key.Masked(&m.Mask)
	r := st.find(&key, priority)
	return r, r != nil
}

// subtableFor returns the subtable for mask m, or nil.
func (c *Classifier[T]) subtableFor(m *flow.Mask) *subtable[T] {
	// Flow mods tend to arrive in runs with one mask (add-flows files, a
	// controller installing one kind of flow); comparing 23 words beats
	// hashing them for the map.
	if c.last != nil && c.last.mask == *m {
		return c.last
	}
	st := c.byMask[*m]
	if st != nil {
		c.last = st
	}
	return st
}

func (c *Classifier[T]) newSubtable(m *flow.Mask) *subtable[T] {
	st := newSubtable[T](m)
	c.byMask[*m] = st
	c.last = st
	st.pos = len(c.order)
	c.order = append(c.order, st)
	st.unpublished = true
	return st
}

func (c *Classifier[T]) dropSubtable(st *subtable[T]) {
	if st.tab.Load().big {
		c.big.Add(-1)
	}
	delete(c.byMask, st.mask)
	if c.last == st {
		c.last = nil
	}
	c.order = append(c.order[:st.pos], c.order[st.pos+1:]...)
	for i := st.pos; i < len(c.order); i++ {
		c.order[i].pos = i
	}
	c.changed()
}

// maxChanged brings readers up to date after st's max priority changed or
// st was created.
func (c *Classifier[T]) maxChanged(st *subtable[T]) {
	i, m := st.pos, st.prios.max
	if c.batch == 0 && !st.unpublished &&
		(i == 0 || c.order[i-1].prios.max >= m) &&
		(i+1 == len(c.order) || c.order[i+1].prios.max <= m) {
		// Still in order: update the published entry in place rather
		// than copying the list, the common case for inserts.
		c.list.Load().entries[i].maxPri.Store(uint32(m))
		return
	}
	// Only st is out of place, so one pass of insertion sort in each
	// direction restores the order. Within a batch the whole order is
	// sorted once at the end instead.
	if c.batch == 0 {
		for i > 0 && c.order[i-1].prios.max < m {
			c.order[i] = c.order[i-1]
			c.order[i].pos = i
			i--
		}
		for i+1 < len(c.order) && c.order[i+1].prios.max > m {
			c.order[i] = c.order[i+1]
			c.order[i].pos = i
			i++
		}
		c.order[i] = st
		st.pos = i
	}
	c.changed()
}

// changed publishes the writer's order, or notes that it must be
// published when the current batch ends.
func (c *Classifier[T]) changed() {
	if c.batch > 0 {
		c.dirty = true
		return
	}
	c.publish()
}

// publish gives readers a fresh copy of the writer's order.
func (c *Classifier[T]) publish() {
	l := &subtableList[T]{entries: make([]listEntry[T], len(c.order))}
	for i, st := range c.order {
		// Plain stores: no reader sees l before c.list.Store (see fresh).
		*plainU32(&l.entries[i].maxPri) = uint32(st.prios.max)
		l.entries[i].st = st
		st.unpublished = false
	}
	c.list.Store(l)
}

// Batch runs fn, which makes changes with Insert and Remove, and publishes
// the new order of the subtables once at the end instead of after every
// change that moves a subtable. Use it for bulk changes (add-flows of a
// whole file, deleting a table): with many subtables whose priorities keep
// changing it saves a copy of the subtable list per change.
//
// Lookups, concurrent ones and those fn makes itself, see each change made
// in a batch as they would outside one, with one difference: rules in a
// subtable the batch created, and rules that raised their subtable's max
// priority, may stay invisible to lookups until the batch ends. The writer's
// side (Find, ForEach, Overlaps...) sees every change at once. Batches nest;
// the outermost one publishes.
func (c *Classifier[T]) Batch(fn func()) {
	c.batch++
	defer func() {
		c.batch--
		if c.batch == 0 && c.dirty {
			c.dirty = false
			slices.SortStableFunc(c.order, func(a, b *subtable[T]) int {
				return cmp.Compare(b.prios.max, a.prios.max)
			})
			for i, st := range c.order {
				st.pos = i
			}
			c.publish()
		}
	}()
	fn()
}
