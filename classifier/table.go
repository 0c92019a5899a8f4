package classifier

import "sync/atomic"

// table is an open-addressed hash table with linear probing, split in two
// parallel arrays: one tag byte per slot, packed eight to a word, and one
// rule pointer per slot. Probing reads the dense tags (a 5,000-rule
// subtable's tags fit in 8 KiB, so 20 subtables stay in L2) and follows a
// pointer only when a tag matches, which a miss almost never does.
//
// Readers find the table through subtable.tab. The writer changes slots in
// place with atomic stores and replaces the whole table when it grows.
//
// A tag is empty (never used: it ends every probe sequence through it),
// tomb (its rules were all removed; it keeps probe sequences intact for
// readers until the next rebuild), or the low byte of the slot's hash,
// moved clear of those two values.
//
// The writer stores a slot's rule before its tag, and readers load the tag
// before the rule, so a reader that sees a new tag also sees its rule. A
// reader may pair an old tag with a new rule, or find nil; it compares the
// rule's key in full and skips nil, so that only costs a comparison.
type table[T any] struct {
	tags  []atomic.Uint64
	rules []atomic.Pointer[Rule[T]]
	shift uint8 // 64 - log2(len(rules)): a slot is the hash's top bits
}

const (
	empty = 0
	tomb  = 1
	// minSlots is the size of a new subtable's table: one tag word.
	minSlots = 8
	// lanes has the low bit of every tag byte set; times a byte, it
	// repeats the byte in every lane.
	lanes = 0x0101010101010101
	low7  = 0x7f7f7f7f7f7f7f7f
)

func newTable[T any](n int) *table[T] {
	shift := uint8(64)
	for m := n; m > 1; m >>= 1 {
		shift--
	}
	return &table[T]{
		tags:  make([]atomic.Uint64, n/8),
		rules: make([]atomic.Pointer[Rule[T]], n),
		shift: shift,
	}
}

// tagOf is the tag of a slot holding hash h.
func tagOf(h uint64) uint8 {
	t := uint8(h)
	if t <= tomb {
		t += 2
	}
	return t
}

// zeroLanes returns 0x80 in each byte lane where x is zero and 0 elsewhere.
// Unlike the shorter (x-lanes)&^x trick it is exact in every lane: no
// borrow crosses lanes, because (x&low7)+low7 cannot carry out of a byte.
func zeroLanes(x uint64) uint64 {
	return ^((x&low7 + low7) | x | low7)
}

func (t *table[T]) mask() uint64 { return uint64(len(t.rules) - 1) }

// tag returns slot s's tag.
func (t *table[T]) tag(s uint64) uint8 {
	return uint8(t.tags[s/8].Load() >> (s % 8 * 8))
}

// setTag sets slot s's tag. Writer only: the word's other lanes are
// rewritten with the values just read.
func (t *table[T]) setTag(s uint64, tag uint8) {
	w := &t.tags[s/8]
	sh := s % 8 * 8
	w.Store(w.Load()&^(0xff<<sh) | uint64(tag)<<sh)
}

// fill puts r into the free slot s.
func (t *table[T]) fill(s uint64, tag uint8, r *Rule[T]) {
	t.rules[s].Store(r)
	t.setTag(s, tag)
}
