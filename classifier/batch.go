package classifier

import "tapestry/flow"

// maxBatch is the most keys LookupBatch prefetches at once; a longer batch
// is looked up maxBatch keys at a time, so that what was prefetched for a
// key is still in the caches when its lookup comes.
const maxBatch = 32

// LookupBatch looks up every key of keys as Lookup does and stores the
// answers in out[:len(keys)]. If wcs is not nil, it ORs the bits examined
// for keys[i] into wcs[i] (when not nil), as Lookup does into wc.
//
// A lookup in a table far larger than the caches waits for memory (see
// table.line); one lookup after another, those waits are the whole cost.
// LookupBatch first starts loading, for every key, what its lookup will
// read from such tables: the tag word, the home slot and the slot after it
// (with 1,000,000 keys in 2,097,152 slots, 76% of keys are in their home
// slot and most others in the next one). Then it looks the keys up one by
// one, and the waits of the whole batch overlap. Subtables small enough to
// stay in the caches are not prefetched, and their lookups gain nothing.
//
// Measured and rejected: finding each key's slot among the tags before
// prefetching it (the tag words must have arrived first, and waiting for
// them cost more than it saved), probing subtable by subtable across the
// batch, as Open vSwitch's dpcls does (with 20 subtables of 5,000 rules it
// was 10-20% slower than key by key), and prefetching every key's
// first-stage filter word in the small subtables too (640 prefetches for
// 32 keys and 20 subtables: 413-596 ns per key against 322-482).
func (c *Classifier[T]) LookupBatch(keys []*flow.Key, wcs []*flow.Mask, out []*Rule[T]) {
	for len(keys) > 0 {
		n := min(len(keys), maxBatch)
		c.prefetch(keys[:n])
		for i, k := range keys[:n] {
			var wc *flow.Mask
			if wcs != nil {
				wc = wcs[i]
			}
			out[i] = c.Lookup(k, wc)
		}
		keys, out = keys[n:], out[n:]
		if wcs != nil {
			wcs = wcs[n:]
		}
	}
}

// prefetch starts loading what Lookups of keys will read from big tables.
func (c *Classifier[T]) prefetch(keys []*flow.Key) {
	entries := c.list.Load().entries
	for i := range entries {
		st := entries[i].st
		t := st.tab.Load()
		if !t.big {
			continue
		}
		for _, k := range keys {
			s := st.home(t, k.Words())
			t.touchTag(s)
			t.touch(s)
			t.touch((s + 1) & t.mask())
		}
	}
}

// home returns the home slot of key words kw in st's big table t. A big
// table has no filters, so its hash is the plain sum over every piece, as
// scan computes it.
func (st *subtable[T]) home(t *table[T], kw *[flow.KeyWords]uint64) uint64 {
	var h uint64
	for _, p := range st.pieces {
		h += (kw[p.i] & p.m) * p.k
	}
	return finish(h) >> t.shift
}
