package classifier

import "tapestry/flow"

// Lookup returns the highest-priority rule matching k, or nil; among matching
// rules of equal priority, the one inserted first. Safe to call at any time
// from any goroutine; it takes no lock and allocates nothing.
//
// If wc is not nil, Lookup ORs into it the bits it examined: the mask of
// every subtable it probed in full; for a subtable a stage filter
// rejected, the mask of the stages it hashed; for one rejected by a stage
// whose keys all have one value (see table.uni), that stage's mask. Every
// packet that agrees with k on the bits of *wc gets the same answer from
// the same classifier: the probed subtables see the same masked key, the
// rejected ones the same partial hash or the same stage value, and every
// subtable left unprobed holds only rules of lower priority than the
// answer. This is what a megaflow cache entry may
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
//
// Most subtables reject a key at their first stage. sift runs through
// those in a loop of its own, which calls nothing and so keeps its state
// in registers (Go's calling convention saves none across a call); the
// loop here, with its calls to scan and settle, runs once per subtable
// that needs more.
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
	// Below thr, a subtable's max priority calls for one of the two
	// decisions below; sift leaves such a subtable to this loop.
	thr := uint32(0)
	for i := 0; ; i++ {
		var from int
		var h uint64
		i, from, h = sift(entries, i, kw, ww, thr)
		if i == len(entries) {
			break
		}
		e := &entries[i]
		if from < 0 {
			maxPri := e.maxPri.Load()
			// A candidate found earlier stays unconfirmed while its record
			// loads, as long as e must be probed whatever it turns out to
			// be: that is while e may hold rules as good as the
			// candidate's subtable's worst. Otherwise confirm it now, for
			// the early exit.
			if pend.st != nil && maxPri < pend.st.minPri.Load() {
				settle(&pend)
				pend.st = nil
			}
			// A subtable can only win with a higher priority, or with an
			// equal priority and an earlier insertion, so probing ends
			// below best.
			if best != nil && maxPri < uint32(bestRank>>seqBits) {
				break
			}
			from, h = 0, 0
		}
		if e.st.scan(kw, ww, &next, from, h) {
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
		thr = 0
		if pend.st != nil {
			thr = pend.st.minPri.Load()
		}
		if best != nil {
			thr = max(thr, uint32(bestRank>>seqBits))
		}
	}
	if pend.st != nil {
		settle(&pend)
	}
	return best
}

// sift goes through entries from i on and returns the index of the first
// one that a lookup of kw must look at further, or len(entries): with from
// -1 if its max priority is below thr, and otherwise with the end of the
// stages it hashed and their sum, where scan goes on (see scan). The
// subtables it passes over rejected kw at their first or second stage; it
// ORs what they read into ww, if not nil.
//
// It tries the first two stages when they are of at most three pieces
// each (see subtable.first; a missing piece has a zero mask and adds
// nothing), by comparison when the table's keys all have one value there
// (see table.uni), else by filter.
func sift[T any](entries []listEntry[T], i int, kw, ww *[flow.KeyWords]uint64, thr uint32) (int, int, uint64) {
	for ; i < len(entries); i++ {
		e := &entries[i]
		if e.maxPri.Load() < thr {
			return i, -1, 0
		}
		st := e.st
		if !st.firstOK {
			return i, 0, 0
		}
		t := st.tab.Load()
		p := &st.first
		h := (kw[p[0].i]&p[0].m)*p[0].k + (kw[p[1].i]&p[1].m)*p[1].k + (kw[p[2].i]&p[2].m)*p[2].k
		uni := t.uni.Load()
		switch {
		case uni&1 != 0:
			if h != t.usum[0] {
				widen3(ww, p)
				continue
			}
		case t.nf != 0:
			if !t.filt.mayHold(0, finish(h)) {
				widen3(ww, p)
				continue
			}
		}
		if !st.secondOK {
			return i, int(st.ends[0]), h
		}
		q := &st.second
		h1 := (kw[q[0].i]&q[0].m)*q[0].k + (kw[q[1].i]&q[1].m)*q[1].k + (kw[q[2].i]&q[2].m)*q[2].k
		switch {
		case uni&2 != 0:
			if h1 != t.usum[1] {
				widen3(ww, q)
				continue
			}
		case t.nf > 1:
			if !t.filt.mayHold(1, finish(h+h1)) {
				widen3(ww, p)
				widen3(ww, q)
				continue
			}
		}
		return i, int(st.ends[1]), h + h1
	}
	return i, 0, 0
}

// widen3 ORs three pieces' masks into ww, if not nil.
func widen3(ww *[flow.KeyWords]uint64, p *[3]piece) {
	if ww != nil {
		ww[p[0].i] |= p[0].m
		ww[p[1].i] |= p[1].m
		ww[p[2].i] |= p[2].m
	}
}
