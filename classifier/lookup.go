package classifier

import "tapestry/flow"

// Lookup returns the highest-priority rule matching k, or nil; among matching
// rules of equal priority, the one inserted first. Safe to call at any time
// from any goroutine; it takes no lock and allocates nothing.
//
// If wc is not nil, Lookup ORs into it the mask of every subtable it probed.
// Every packet that agrees with k on the bits of *wc gets the same answer
// from the same classifier: the probed subtables see the same masked key,
// and every subtable left unprobed holds only rules of lower priority than
// the answer. This is what a megaflow cache entry may wildcard.
func (c *Classifier[T]) Lookup(k *flow.Key, wc *flow.Mask) *Rule[T] {
	kw := k.Words()
	var best *Rule[T]
	entries := c.list.Load().entries
	for i := range entries {
		e := &entries[i]
		// A subtable can only win with a higher priority, or with an equal
		// priority and an earlier insertion, so probing ends below best.
		if best != nil && e.maxPri.Load() < uint32(best.Priority) {
			break
		}
		st := e.st
		if wc != nil {
			ww := wc.Words()
			for _, s := range st.sig {
				ww[s.i] |= s.m
			}
		}
		r := st.lookup(kw)
		if r != nil && (best == nil || beats(r, best)) {
			best = r
		}
	}
	return best
}

// beats reports whether r wins over b.
func beats[T any](r, b *Rule[T]) bool {
	return r.Priority > b.Priority || r.Priority == b.Priority && r.seq < b.seq
}
