package classifier

import "sync/atomic"

// table is an open-addressed hash table with linear probing, split in
// parallel arrays:
//
//   - tags: one byte per slot, packed eight to a word. Probing reads these
//     dense tags (a 5,000-rule subtable's tags fit in 8 KiB, so 20
//     subtables stay in L2), and a miss almost never reads anything else.
//   - recs: per slot a record of stride words: the rank of the slot's best
//     rule, then the slot's masked key, only the words the mask covers.
//     A tag match is confirmed, and a hit ranked against other subtables,
//     from this one record: a lookup never reads a Rule, which for a large
//     table is a cache miss (a Rule is ~400 bytes, spread over several
//     lines) that the caller pays only for the rule it gets back.
//   - rules: per slot the list of rules with that masked key, highest
//     priority first.
//
// A big table with short records keeps recs and rules together instead,
// one slot per 64-byte line (see line), so that a hit on a table far
// larger than the caches costs the tag word and one line from memory.
//
// Readers find the table through subtable.tab. The writer changes slots in
// place with atomic stores and replaces the whole table when it grows.
//
// A tag is empty (never used: it ends every probe sequence through it),
// tomb (its rules were all removed; it keeps probe sequences intact for
// readers until the next rebuild), or the low byte of the slot's hash,
// moved clear of those two values.
//
// A slot's key words are written once, before its tag first leaves empty,
// and never change for the table's life: a tombstone keeps them, and only
// the same key may bring the slot back to life. So a reader that sees a
// live tag reads the key it stands for, never a half-written one. The rule
// list head and the rank change together under the subtable's version
// counter (see subtable.ver).
type table[T any] struct {
	// What every probe reads comes first: filters, tags, sizes.
	filt  filter
	tags  []atomic.Uint64
	nf    int   // number of stage filters in filt (see stage.go)
	shift uint8 // 64 - log2(slots): a slot is the hash's top bits
	// recs holds the records, step words apart from word off (see rec).
	// With lines it is a view of lines' words, and the words at offset 0
	// of every step, the rule list heads, are never touched through it.
	recs   []atomic.Uint64
	rules  []atomic.Pointer[Rule[T]] // nil when lines holds the heads
	lines  []line[T]                 // a big table's slots, see line
	step   uint64                    // words from one record to the next
	off    uint64                    // word of slot 0's record in recs
	stride uint64                    // words per record: 1 + the mask's nonzero words
	big    bool                      // too large for the caches: no filters, huge pages

	// Bit s of uni is set while every key published in the table has the
	// same value in stage s (see stage.go), and usum[s] is then the sum
	// of that stage's own pieces (not the running hash: the sum from the
	// stage's first piece to its last). A lookup then compares its own
	// sum with usum[s] instead of asking the stage's filter. A filter
	// cannot reject a key that has the one value, and costs a hash and a
	// load, often a cache miss, to pass it; a compare costs neither, and
	// rejects a key with another value exactly, on that stage's bits
	// alone. Very common: dl_type in "ip" flows, in_port on a bridge with
	// one uplink, a register a pipeline sets to one value per table.
	// usum is written once, before uni is first set; a key with another
	// value in a stage clears its bit for the table's life, before the key
	// is published.
	uni  atomic.Uint32
	usum [numStages]uint64
	// Writer's state: some key was admitted (seen), and the stages in
	// which two keys differed (mixed).
	seen  bool
	mixed uint32
}

// admit records that a key whose stages' own sums are sums[:n] is about
// to be published in t. Writer only; see uni.
func (t *table[T]) admit(sums *[numStages]uint64, n int) {
	if !t.seen {
		t.seen, t.usum = true, *sums
		t.uni.Store(1<<n - 1)
		return
	}
	var m uint32
	for s := range n {
		if sums[s] != t.usum[s] {
			m |= 1 << s
		}
	}
	if m&^t.mixed != 0 {
		t.mixed |= m
		t.uni.Store((1<<n - 1) &^ t.mixed)
	}
}

// line is one slot of a big table whose records are at most lineWords
// words (a mask of up to six nonzero key words: an exact 5-tuple with
// in_port and metadata): the rule list head and the record side by side in
// one 64-byte cache line. In separate arrays, a hit on a table larger than
// the caches waits for two or three lines from memory (the record may
// straddle two, and the head is in another array); in a line it waits for
// one. Smaller tables keep the separate arrays: their records stay in the
// caches, and a short record there takes less than a line.
type line[T any] struct {
	head atomic.Pointer[Rule[T]]
	rec  [lineWords]atomic.Uint64
}

const lineWords = 7

// bigSlots is the size from which a table's records are not expected to
// stay in the caches (16 MiB of records for a 5-word mask). Big tables have
// no stage filters and are backed by huge pages where the kernel allows.
// A variable only so that tests can make small tables big.
var bigSlots = 1 << 18

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

func newTable[T any](n, nsig, nf int) *table[T] {
	shift := uint8(64)
	for m := n; m > 1; m >>= 1 {
		shift--
	}
	stride := uint64(nsig) + 1
	t := &table[T]{
		tags:   make([]atomic.Uint64, n/8),
		shift:  shift,
		stride: stride,
		step:   stride,
		big:    n >= bigSlots,
		nf:     nf,
		filt:   newFilter(nf, n, shift),
	}
	if t.big && stride <= lineWords {
		t.lines = make([]line[T], n)
		t.recs = lineView(t.lines)
		t.step, t.off = lineWords+1, 1
	} else {
		t.recs = make([]atomic.Uint64, uint64(n)*stride)
		t.rules = make([]atomic.Pointer[Rule[T]], n)
	}
	if t.big {
		t.adviseHuge()
	}
	return t
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

// slots returns the number of slots.
func (t *table[T]) slots() int { return len(t.tags) * 8 }

func (t *table[T]) mask() uint64 { return uint64(t.slots() - 1) }

// head returns slot s's rule list head.
func (t *table[T]) head(s uint64) *atomic.Pointer[Rule[T]] {
	if t.lines != nil {
		return &t.lines[s].head
	}
	return &t.rules[s]
}

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

// rec returns slot s's record: rank, then key words.
func (t *table[T]) rec(s uint64) []atomic.Uint64 {
	i := s*t.step + t.off
	return t.recs[i : i+t.stride]
}

// fill puts r, whose masked key words under the subtable's mask are kw and
// whose rank is rank, into the empty slot s: record first, tag last, so
// that readers who see the tag see the rest.
func (t *table[T]) fill(s uint64, tag uint8, kw []uint64, rank uint64, r *Rule[T]) {
	rec := t.rec(s)
	for j, w := range kw {
		rec[1+j].Store(w)
	}
	rec[0].Store(rank)
	t.head(s).Store(r)
	t.setTag(s, tag)
}

// Rank orders rules across subtables in one comparison: the priority in the
// top 16 bits, then the inverted insertion sequence, so that of two rules
// with equal priority the one inserted first ranks higher (see Ties in the
// package comment). A rank is never zero.
const (
	seqBits  = 48
	seqLimit = 1<<seqBits - 1
)

func rankOf[T any](r *Rule[T]) uint64 {
	return uint64(r.Priority)<<seqBits | (seqLimit - r.seq)
}
