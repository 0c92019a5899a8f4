package classifier

import (
	"sync/atomic"
	"unsafe"
)

// This file and the platform files are the package's only use of unsafe:
// addresses handed to the kernel (madvise) and to the CPU (prefetch), and
// plain views of a table or subtable list that no reader can see yet
// (fresh).

// An atomic.Uint64 is one uint64 and an atomic.Pointer one pointer, with
// nothing around them; fresh relies on it. Either array length is negative,
// and the package does not compile, if that ever changes.
var (
	_ [unsafe.Sizeof(atomic.Uint64{}) - unsafe.Sizeof(uint64(0))]byte
	_ [unsafe.Sizeof(uint64(0)) - unsafe.Sizeof(atomic.Uint64{})]byte
	_ [unsafe.Sizeof(atomic.Pointer[byte]{}) - unsafe.Sizeof((*byte)(nil))]byte
	_ [unsafe.Sizeof((*byte)(nil)) - unsafe.Sizeof(atomic.Pointer[byte]{})]byte
	_ [unsafe.Sizeof(atomic.Uint32{}) - unsafe.Sizeof(uint32(0))]byte
	_ [unsafe.Sizeof(uint32(0)) - unsafe.Sizeof(atomic.Uint32{})]byte
	// A line is one 64-byte cache line; its size does not depend on T.
	_ [unsafe.Sizeof(line[byte]{}) - 64]byte
	_ [64 - unsafe.Sizeof(line[byte]{})]byte
)

// freshTable is a plain view of a table's arrays.
type freshTable[T any] struct {
	tags []uint64
	recs []uint64
	filt []uint64
}

// fresh returns plain views of t's arrays, for filling a table before it
// is published. An atomic store on amd64 is an XCHG, a full barrier: a
// rebuild that stores every word of a table larger than the caches that
// way waits out one write miss after another, where plain stores overlap
// them. Readers get the table through subtable.tab's atomic store, which
// orders every plain store before it (the Go memory model's
// synchronized-before); after that only atomic accesses are allowed.
func (t *table[T]) fresh() freshTable[T] {
	return freshTable[T]{
		tags: plainWords(t.tags),
		recs: plainWords(t.recs),
		filt: plainWords(t.filt.bits),
	}
}

// plainHead returns a plain view of a rule list head no reader can see
// yet (see fresh). Stores through it are typed pointer stores, with the
// garbage collector's write barrier.
func plainHead[T any](p *atomic.Pointer[Rule[T]]) **Rule[T] {
	return (**Rule[T])(unsafe.Pointer(p))
}

// lineView returns lines as words, for table.recs. The heads at word 0 of
// every line are never read or written through it (see table), so the
// collector, which knows the lines' real type, never misses a pointer.
// Lines are 64 bytes, and a big table's array is a large allocation,
// which starts on a page boundary: every line is one cache line.
func lineView[T any](lines []line[T]) []atomic.Uint64 {
	const words = unsafe.Sizeof(line[T]{}) / 8
	return unsafe.Slice((*atomic.Uint64)(unsafe.Pointer(unsafe.SliceData(lines))), uintptr(len(lines))*words)
}

// plainU32 returns a plain view of *a, for a value no reader can see yet
// (see fresh).
func plainU32(a *atomic.Uint32) *uint32 { return (*uint32)(unsafe.Pointer(a)) }

func plainWords(a []atomic.Uint64) []uint64 {
	return unsafe.Slice((*uint64)(unsafe.Pointer(unsafe.SliceData(a))), len(a))
}

// adviseHuge asks for huge pages under a big table's arrays (see
// adviseHuge in hugepage_linux.go). With lines, recs is a view of them.
func (t *table[T]) adviseHuge() {
	adviseHuge(uintptr(unsafe.Pointer(unsafe.SliceData(t.tags))), uintptr(len(t.tags))*8)
	if t.lines != nil {
		collapseHuge(uintptr(unsafe.Pointer(unsafe.SliceData(t.lines))), uintptr(len(t.recs))*8)
		return
	}
	adviseHuge(uintptr(unsafe.Pointer(unsafe.SliceData(t.recs))), uintptr(len(t.recs))*8)
	if t.rules != nil {
		adviseHuge(uintptr(unsafe.Pointer(unsafe.SliceData(t.rules))), uintptr(len(t.rules))*unsafe.Sizeof(t.rules[0]))
	}
}

// touch starts loading slot s's record and rule pointer into the cache, so
// that they are there, or on their way, when a lookup confirms the slot.
// A prefetch, unlike a load, retires at once: the lookup goes on probing
// other subtables while the memory system fetches the lines, instead of
// stalling once the out-of-order window fills behind a load from DRAM.
func (t *table[T]) touch(s uint64) {
	if t.lines != nil {
		prefetch(uintptr(unsafe.Pointer(&t.lines[s]))) // head and record
		return
	}
	rec := t.rec(s)
	prefetch(uintptr(unsafe.Pointer(&rec[0])))
	prefetch(uintptr(unsafe.Pointer(&rec[len(rec)-1]))) // a record may span two lines
	prefetch(uintptr(unsafe.Pointer(&t.rules[s])))
}

// touchTag starts loading the tag word that holds slot s's tag.
func (t *table[T]) touchTag(s uint64) {
	prefetch(uintptr(unsafe.Pointer(&t.tags[s/8])))
}
