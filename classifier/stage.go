package classifier

import (
	"math/bits"
	"sync/atomic"

	"tapestry/flow"
)

// Staged lookup (the idea of Open vSwitch's classifier, in our own form).
//
// A subtable's hash is a sum over pieces of its mask, and the pieces are
// ordered by stage: metadata (registers, in_port, conntrack, tunnel), then
// L2, then L3, then L4. After every stage but the last, a lookup checks the
// partial hash so far against a per-stage filter of the partial hashes of
// the subtable's keys; if it is absent no rule of the subtable can match,
// and the lookup moves on having hashed one or two words instead of all of
// them. The wildcards then need only the stages it read: a packet that
// agrees with k on those bits is rejected the same way, which is what lets
// a megaflow leave the later stages' fields wildcarded.
//
// The filters are blocked Bloom filters: one 64-bit word per eight slots of
// the subtable's table, two bits per key in one word, so a check is one
// load. At the table's load of at most 3/4 that is over ten bits per key
// and a false pass rate of a few percent, which only costs the probe the
// filter would have saved. Removing a rule clears no bits (a filter cannot
// tell whose bits they are); rebuilding the table rebuilds its filters.
//
// A stage in which every key of a table has the same value (dl_type in a
// subtable of "ip" flows, in_port on a bridge with one uplink) needs no
// filter: the table keeps that value's sum (table.uni), and a lookup
// compares instead, which costs no load and rejects exactly, on the
// stage's own bits alone, so a packet with another dl_type leaves a
// megaflow that matches only dl_type for that subtable.
//
// Big tables (see bigSlots) have no filters: their probe is dominated by
// cache misses, which a filter would add to rather than save. Their dense
// tag array (1 byte a slot) is the filter that stays in the caches, and a
// hit then loads the slot's record and rule pointer together (confirm),
// from one cache line when the record is short (see line).

// Stage numbers, in lookup order.
const (
	stageMeta = iota
	stageL2
	stageL3
	stageL4
	numStages
)

// stageMasks holds, per stage, every key bit that belongs to it. Every bit
// of a Key belongs to exactly one stage; a test checks it.
var stageMasks = func() (ms [numStages]flow.Mask) {
	const u16, u32, u64 = ^uint16(0), ^uint32(0), ^uint64(0)
	all6 := [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	all16 := [16]byte{}
	for i := range all16 {
		all16[i] = 0xff
	}

	m := &ms[stageMeta]
	m.Metadata, m.TunID = u64, u64
	for i := range m.Regs {
		m.Regs[i] = u32
	}
	m.InPort, m.PktMark, m.CtMark, m.CtState, m.CtZone = u32, u32, u32, u32, u16

	m = &ms[stageL2]
	m.DlSrc, m.DlDst, m.DlType, m.VlanTCI, m.MplsLSE = all6, all6, u16, u16, u32

	m = &ms[stageL3]
	m.NwSrc, m.NwDst = [4]byte{0xff, 0xff, 0xff, 0xff}, [4]byte{0xff, 0xff, 0xff, 0xff}
	m.NwProto, m.NwTos, m.NwTTL, m.NwFrag = 0xff, 0xff, 0xff, 0xff
	m.IPv6Src, m.IPv6Dst, m.IPv6Label = all16, all16, u32
	m.ArpSha, m.ArpTha = all6, all6

	m = &ms[stageL4]
	m.TpSrc, m.TpDst, m.TCPFlags = u16, u16, u16
	return ms
}()

// piece is the part of one key word that one stage of a subtable's mask
// covers, with the odd multiplier of its place in the hash.
type piece struct {
	m uint64
	k uint64
	i uintptr
	// stage is, for the last piece of a stage, the stage's index among
	// the mask's nonempty stages (the index of its filter), and -1 for
	// the other pieces: a lookup checks a filter after the piece that
	// completes the stage's partial hash, in the same loop that hashes.
	stage int
}

// makePieces splits mask m by stage. It returns the pieces in stage order
// and, per nonempty stage, the index just past its last piece.
func makePieces(m *flow.Mask) (ps []piece, ends []uint8) {
	mw := m.Words()
	for s := range stageMasks {
		sw := stageMasks[s].Words()
		n := len(ps)
		for i := range mw {
			if w := mw[i] & sw[i]; w != 0 {
				ps = append(ps, piece{m: w, k: pieceMul(len(ps)), i: uintptr(i), stage: -1})
			}
		}
		if len(ps) > n {
			ps[len(ps)-1].stage = len(ends)
			ends = append(ends, uint8(len(ps)))
		}
	}
	return ps, ends
}

// pieceMul is the multiplier of the j'th piece: odd, so that a piece's
// product determines the piece, and different per place, so that equal
// words in different places count differently.
func pieceMul(j int) uint64 {
	hi, lo := bits.Mul64(hashSeed+uint64(j)*hashMul2, hashMul1)
	return (hi ^ lo) | 1
}

// hashKey returns the hash of kw (whose bits outside st's mask need not be
// zero) and, in part, the partial hashes after each filtered stage.
// Writer only; lookups hash as they go.
func (st *subtable[T]) hashKey(kw *[flow.KeyWords]uint64, part *[numStages]uint64) uint64 {
	var h uint64
	j := 0
	for s, end := range st.ends {
		for ; j < int(end); j++ {
			p := &st.pieces[j]
			h += (kw[p.i] & p.m) * p.k
		}
		part[s] = finish(h)
	}
	return finish(h)
}

// filter is the per-stage filters of a table: nf filters of words each.
type filter struct {
	bits  []atomic.Uint64
	words uint64 // words per stage
	shift uint8  // 64 - log2(words): a partial hash's top bits pick its word
}

func newFilter(nf int, slots int, tableShift uint8) filter {
	words := uint64(slots / 8)
	return filter{bits: make([]atomic.Uint64, uint64(nf)*words), words: words, shift: tableShift + 3}
}

// filterBits returns the word index within a stage and the two bits of
// partial hash f.
func (fl *filter) filterBits(f uint64) (uint64, uint64) {
	return f >> fl.shift, 1<<(f&63) | 1<<(f>>6&63)
}

// mayHold reports whether stage s's filter may hold partial hash f.
func (fl *filter) mayHold(s int, f uint64) bool {
	w, b := fl.filterBits(f)
	return fl.bits[uint64(s)*fl.words+w].Load()&b == b
}

// add records the partial hashes of one key in the first nf stages' filters.
// Writer only; called before the key's tag is published, so that a reader
// who finds the key also finds it in the filters.
func (fl *filter) add(nf int, part *[numStages]uint64) {
	for s := range nf {
		w, b := fl.filterBits(part[s])
		fl.bits[uint64(s)*fl.words+w].Or(b)
	}
}
