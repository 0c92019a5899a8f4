package classifier

import "tapestry/flow"

// ForEach calls fn for every rule until fn returns false, in no specified
// order. fn may Remove the rule it is given; it must
// not Insert or Remove any other rule. Writer side (see the package comment).
func (c *Classifier[T]) ForEach(fn func(*Rule[T]) bool) {
	for _, st := range c.snapshot() {
		if !st.each(fn) {
			return
		}
	}
}

// ForEachLoose calls fn, until it returns false, for every rule at least as
// specific as m: for every bit set in m.Mask the rule's mask has it set too
// and the rule's key agrees with m.Key (OpenFlow 1.3 §6.4, the non-strict
// selection of modify, delete and flow statistics). An all-wildcard m
// selects every rule. Order and removal as for ForEach. Writer side.
func (c *Classifier[T]) ForEachLoose(m *flow.Match, fn func(*Rule[T]) bool) {
	key := m.Key.Masked(&m.Mask)
	kw, mw := key.Words(), m.Mask.Words()
	for _, st := range c.snapshot() {
		if !st.mask.Covers(&m.Mask) {
			continue
		}
		// st's mask covers m's, so every word m constrains is one of st's
		// sig words, the words a rule holds.
		sig := st.sigs()
		ok := st.each(func(r *Rule[T]) bool {
			for j, sw := range sig {
				if r.key[j]&mw[sw.i] != kw[sw.i] {
					return true
				}
			}
			return fn(r)
		})
		if !ok {
			return
		}
	}
}

// Overlaps reports whether some rule of the given priority matches a packet
// that m also matches (OpenFlow 1.3 §6.4, OFPFF_CHECK_OVERLAP). A rule with
// exactly m's match overlaps it. Writer side.
func (c *Classifier[T]) Overlaps(m *flow.Match, priority uint16) bool {
	key := m.Key.Masked(&m.Mask)
	kw := key.Words()
	found := false
	for _, st := range c.order {
		// Not break on max < priority: within a Batch, order is not
		// sorted.
		if st.prios.count[priority] == 0 {
			continue
		}
		// Two matches overlap when they agree on every bit both constrain.
		// Both constrain only words of st's mask: the words a rule holds.
		mw := m.Mask.Words()
		sig := st.sigs()
		st.each(func(r *Rule[T]) bool {
			if r.Priority != priority {
				return true
			}
			for j, sw := range sig {
				if (r.key[j]^kw[sw.i])&sw.m&mw[sw.i] != 0 {
					return true
				}
			}
			found = true
			return false
		})
		if found {
			return true
		}
	}
	return false
}

// snapshot returns the subtables to iterate: a copy, so that fn may remove
// rules (and so subtables) while ForEach runs.
func (c *Classifier[T]) snapshot() []*subtable[T] {
	return append([]*subtable[T](nil), c.order...)
}
