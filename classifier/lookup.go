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
//
// Candidates are compared by the rank stored in their slot's record (see
// table), so a lookup reads no Rule at all, not even the one it returns.
func (c *Classifier[T]) Lookup(k *flow.Key, wc *flow.Mask) *Rule[T] {
	kw := k.Words()
	var ww *[flow.KeyWords]uint64
	if wc != nil {
		ww = wc.Words()
	}
	var best *Rule[T]
	var bestRank uint64
	entries := c.list.Load().entries
	for i := range entries {
		e := &entries[i]
		// A subtable can only win with a higher priority, or with an equal
		// priority and an earlier insertion, so probing ends below best.
		if best != nil && e.maxPri.Load() < uint32(bestRank>>seqBits) {
			break
		}
		st := e.st
		if ww != nil {
			st.widen(ww)
		}
		r, rank := st.lookup(kw, st.hash(kw))
		if rank > bestRank {
			best, bestRank = r, rank
		}
	}
	return best
}
