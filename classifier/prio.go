package classifier

import "math/bits"

// prioSet is the multiset of a subtable's rule priorities. It exists to
// answer two questions after every change: what are the highest and the
// lowest priority now?
// Removing the top rule of a subtable holding thousands of distinct
// priorities must not scan them all, so past a few distinct values a
// two-level bitmap over the 65536 priorities finds the next one in at most
// 16+16 word tests.
type prioSet struct {
	max   uint16
	min   uint16
	count map[uint16]uint32
	// bits has bit p set when count[p] > 0; top has bit g set when bits[g]
	// is nonzero. Allocated once the set has more than smallPrios distinct
	// priorities: small subtables (the common case with many masks) stay
	// small.
	bits *[1024]uint64
	top  [16]uint64
}

// smallPrios is how many distinct priorities are scanned linearly.
const smallPrios = 16

// add counts one more rule at priority p and reports whether the maximum
// changed (or the set was empty).
func (s *prioSet) add(p uint16) bool {
	if s.count == nil {
		s.count = make(map[uint16]uint32)
	}
	was := len(s.count)
	c := s.count[p]
	s.count[p] = c + 1
	if c == 0 {
		s.mark(p)
	}
	if was == 0 || p < s.min {
		s.min = p
	}
	if was == 0 || p > s.max {
		s.max = p
		return true
	}
	return false
}

// remove counts one rule fewer at priority p (which must be present) and
// reports whether the maximum changed.
func (s *prioSet) remove(p uint16) bool {
	c := s.count[p]
	if c > 1 {
		s.count[p] = c - 1
		return false
	}
	delete(s.count, p)
	if s.bits != nil {
		s.bits[p>>6] &^= 1 << (p & 63)
		if s.bits[p>>6] == 0 {
			s.top[p>>12] &^= 1 << (p >> 6 & 63)
		}
	}
	if len(s.count) == 0 {
		return false
	}
	if p == s.min {
		s.min = s.lowest()
	}
	if p != s.max {
		return false
	}
	s.max = s.highest()
	return true
}

// mark records a newly present priority in the bitmap, building the bitmap
// when the set stops being small.
func (s *prioSet) mark(p uint16) {
	if s.bits == nil {
		if len(s.count) <= smallPrios {
			return
		}
		s.bits = new([1024]uint64)
		for q := range s.count {
			s.setBit(q)
		}
		return
	}
	s.setBit(p)
}

func (s *prioSet) setBit(p uint16) {
	s.bits[p>>6] |= 1 << (p & 63)
	s.top[p>>12] |= 1 << (p >> 6 & 63)
}

// highest returns the largest priority present; the set must not be empty.
func (s *prioSet) highest() uint16 {
	if s.bits == nil {
		var m uint16
		for p := range s.count {
			m = max(m, p)
		}
		return m
	}
	for g := len(s.top) - 1; g >= 0; g-- {
		if t := s.top[g]; t != 0 {
			w := g<<6 | (63 - bits.LeadingZeros64(t))
			return uint16(w<<6 | (63 - bits.LeadingZeros64(s.bits[w])))
		}
	}
	panic("classifier: highest priority of an empty set")
}

// lowest returns the smallest priority present; the set must not be empty.
func (s *prioSet) lowest() uint16 {
	if s.bits == nil {
		m := ^uint16(0)
		for p := range s.count {
			m = min(m, p)
		}
		return m
	}
	for g, t := range s.top {
		if t != 0 {
			w := g<<6 | bits.TrailingZeros64(t)
			return uint16(w<<6 | bits.TrailingZeros64(s.bits[w]))
		}
	}
	panic("classifier: lowest priority of an empty set")
}
