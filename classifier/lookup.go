package classifier

import "tapestry/flow"

// Lookup returns the highest-priority rule matching k, or nil; among matching
// rules of equal priority, the one inserted first. Safe to call at any time
// from any goroutine; it takes no lock and allocates nothing.
//
// If wc is not nil, Lookup ORs into it the bits it examined: the mask of
// every subtable it probed in full and, for a subtable a stage filter
// rejected, the mask of the stages it hashed. Every packet that agrees with
// k on the bits of *wc gets the same answer from the same classifier: the
// probed subtables see the same masked key, the rejected ones the same
// partial hash, and every subtable left unprobed holds only rules of lower
// priority than the answer. This is what a megaflow cache entry may
// wildcard.
//
// Candidates are compared by the rank stored in their slot's record (see
// table), so a lookup reads no Rule at all, not even the one it returns.
//
// A slot whose tag matches is a candidate until its record confirms it. A
// candidate waits, with its record and rule pointer being prefetched,
// while the next subtables are probed, which they would be anyway unless
// the candidate outranks them; so a subtable whose max priority is below
// the candidate subtable's lowest priority settles it first. Waiting can
// only widen the wildcards by subtables the early exit might have skipped,
// never change the answer.
func (c *Classifier[T]) Lookup(k *flow.Key, wc *flow.Mask) *Rule[T] {
	kw := k.Words()
	var ww *[flow.KeyWords]uint64
	if wc != nil {
		ww = wc.Words()
	}
	var best *Rule[T]
	var bestRank uint64
	settle := func(c *candidate[T]) {
		if r, rank := c.settle(kw); rank > bestRank {
			best, bestRank = r, rank
		}
	}
	var pend, next candidate[T]
	entries := c.list.Load().entries
	for i := range entries {
		e := &entries[i]
		maxPri := e.maxPri.Load()
		// A candidate found earlier stays unconfirmed while its record
		// loads, as long as e must be probed whatever it turns out to be:
		// that is while e may hold rules as good as the candidate's
		// subtable's worst. Otherwise confirm it now, for the early exit.
		if pend.st != nil && maxPri < pend.st.minPri.Load() {
			settle(&pend)
			pend.st = nil
		}
		// A subtable can only win with a higher priority, or with an equal
		// priority and an earlier insertion, so probing ends below best.
		if best != nil && maxPri < uint32(bestRank>>seqBits) {
			break
		}
		st := e.st
		// Most subtables reject a key at their first stage; when that
		// stage is at most three pieces, try it here rather than pay for a
		// call to scan (see subtable.first). A missing piece has a zero
		// mask and adds nothing.
		from, h := 0, uint64(0)
		if p, t := &st.first, st.tab.Load(); st.firstOK {
			h = (kw[p[0].i]&p[0].m)*p[0].k + (kw[p[1].i]&p[1].m)*p[1].k + (kw[p[2].i]&p[2].m)*p[2].k
			switch {
			case t.one.Load():
				// Every key of t has one first stage (see table.one).
				if h != t.sum0 {
					widen3(ww, p)
					continue
				}
				from = int(st.ends[0])
				if q := &st.second; st.secondOK && t.nf > 1 {
					h += (kw[q[0].i]&q[0].m)*q[0].k + (kw[q[1].i]&q[1].m)*q[1].k + (kw[q[2].i]&q[2].m)*q[2].k
					if !t.filt.mayHold(1, finish(h)) {
						widen3(ww, p)
						widen3(ww, q)
						continue
					}
					from = int(st.ends[1])
				}
			case t.nf != 0:
				if !t.filt.mayHold(0, finish(h)) {
					widen3(ww, p)
					continue
				}
				from = int(st.ends[0]) // passed: scan goes on from the second stage
			default:
				from = int(st.ends[0]) // no filters: scan goes on summing
			}
		}
		if st.scan(kw, ww, &next, from, h) {
			if pend.st != nil {
				settle(&pend)
			}
			if i+1 == len(entries) {
				settle(&next) // nothing left to overlap with
				break
			}
			next.t.touch(next.slot)
			pend = next
		}
	}
	if pend.st != nil {
		settle(&pend)
	}
	return best
}

// widen3 ORs three pieces' masks into ww, if not nil.
func widen3(ww *[flow.KeyWords]uint64, p *[3]piece) {
	if ww != nil {
		ww[p[0].i] |= p[0].m
		ww[p[1].i] |= p[1].m
		ww[p[2].i] |= p[2].m
	}
}
