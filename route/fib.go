package route

import (
	"cmp"
	"math/bits"
	"net/netip"
	"slices"
)

// fib is the compiled IPv4 longest-prefix-match structure of a published
// table: a multibit trie with strides 12-8-4-8, built when a transaction
// commits and immutable afterwards. The bart trie stays the table's
// authority (changes, dumps, backtracking); fib only answers "which
// prefix is longest" in at most four dependent loads plus the entry.
//
// Prefixes fall into four bands by length, and each band is expanded
// ("leaf pushed") only over its own lengths:
//
//   - A, /0../12: the 4096 root slots, one per /12.
//   - B, /13../20: for each /12 with such or longer prefixes, a block of
//     256 slots, one per /20.
//   - C, /21../24: for each /20 with such or longer prefixes, a sub node
//     of 16 slots, one per /24.
//   - D, /25../32: for each /24 with such prefixes, a run-length node over
//     its 256 addresses (a bitmap of where the answer changes plus the
//     distinct answers), so a single /32 costs 64 bytes, not 2 KiB.
//
// A lookup answers from the deepest band holding a value. Bands are
// ordered by length, so that is the longest matching prefix; and a change
// of a short prefix never rewrites the nodes of longer bands (a default
// route touches the root only), while a change of a long one copies one
// node per level (a 4 KiB root chunk, a block, a sub node, a leaf),
// never the whole structure.
type fib struct {
	// root is split in 16 chunks of 256 slots so that an update copies
	// 128 bytes and the chunks it changes, not 64 KiB; nil is empty.
	root [fibRoots / fibChunkSlots]*fibChunk
}

// fibChunk is a sixteenth of the root: the /12s of one /4.
type fibChunk [fibChunkSlots]fibRoot

const (
	fibRoots      = 1 << 12 // root slots, indexed by the top 12 bits
	fibChunkSlots = 1 << 8  // root slots per chunk
	fibBlockSlots = 1 << 8  // /20 slots per block
	fibSubSlots   = 1 << 4  // /24 slots per sub node
	bandB         = 13      // shortest prefix of band B
	bandC         = 21      // shortest prefix of band C
	bandD         = 25      // shortest prefix of band D
	// fibIncremental is the number of changed prefixes up to which a
	// commit updates the previous fib copy-on-write instead of
	// rebuilding it from the trie.
	fibIncremental = 4096
	// fibMinPrefixes is the size from which a table gets a fib: below
	// it the trie is about as fast and the fib's nodes not worth it.
	fibMinPrefixes = 64
)

// bandStart is the shortest prefix length of n's band.
func bandStart(n int) int {
	switch {
	case n >= bandD:
		return bandD
	case n >= bandC:
		return bandC
	case n >= bandB:
		return bandB
	}
	return 0
}

// fibRoot is one /12: the longest band-A prefix covering it and the
// longer prefixes inside it, if any.
type fibRoot struct {
	e *entry
	b *fibBlock
}

type fibBlock [fibBlockSlots]fibSlot

// fibSlot is one /20: the longest band-B prefix covering it and the
// longer prefixes inside it, if any. subMask has bit i set when the sub
// node has an answer (band C or D) in its slot i: most lookups find
// nothing longer than /20, and the mask spares them the sub node's
// cache (and TLB) miss.
type fibSlot struct {
	e       *entry
	sub     *fibSub
	subMask uint16
}

// fibSub holds the band-C answers of one /20 and its band-D nodes; leaves
// are in slot order, leafBits has bit i set when slot i has one.
type fibSub struct {
	e        [fibSubSlots]*entry
	leafBits uint16
	leaves   []*fibLeaf
}

func (s *fibSub) empty() bool {
	return s.leafBits == 0 && s.e == [fibSubSlots]*entry{}
}

// leaf returns the band-C node of slot i, nil if none.
func (s *fibSub) leaf(i uint32) *fibLeaf {
	if s.leafBits&(1<<i) == 0 {
		return nil
	}
	return s.leaves[bits.OnesCount16(s.leafBits&(1<<i-1))]
}

// setLeaf sets (nil: removes) the band-C node of slot i.
func (s *fibSub) setLeaf(i uint32, l *fibLeaf) {
	at := bits.OnesCount16(s.leafBits & (1<<i - 1))
	has := s.leafBits&(1<<i) != 0
	switch {
	case has && l != nil:
		s.leaves[at] = l
	case has:
		s.leaves = slices.Delete(s.leaves, at, at+1)
		s.leafBits &^= 1 << i
	case l != nil:
		s.leaves = slices.Insert(s.leaves, at, l)
		s.leafBits |= 1 << i
	}
}

// fibLeaf is the band-D answer for each address of a /24, run-length
// encoded: bit i of runs is set where the answer for address i differs
// from the one for i-1 (bit 0 always), vals holds one answer per run and
// rank[w] counts the runs starting in words before w.
type fibLeaf struct {
	runs [4]uint64
	rank [4]uint8
	vals []*entry
}

// get returns the answer for the last octet b.
func (l *fibLeaf) get(b uint32) *entry {
	w := b >> 6 & 3
	n := int(l.rank[w]) + bits.OnesCount64(l.runs[w]<<(63-b&63))
	return l.vals[n-1]
}

// newFibLeaf compresses 256 answers; nil when there are none.
func newFibLeaf(v *[256]*entry) *fibLeaf {
	l := &fibLeaf{}
	some := false
	for i := range v {
		some = some || v[i] != nil
		if i == 0 || v[i] != v[i-1] {
			l.runs[i>>6] |= 1 << (i & 63)
			l.vals = append(l.vals, v[i])
		}
	}
	if !some {
		return nil
	}
	for w := 1; w < 4; w++ {
		l.rank[w] = l.rank[w-1] + uint8(bits.OnesCount64(l.runs[w-1]))
	}
	l.vals = slices.Clip(l.vals)
	return l
}

// expand writes the 256 answers of l (none when l is nil) to v.
func (l *fibLeaf) expand(v *[256]*entry) {
	for i := range v {
		v[i] = nil
		if l != nil {
			v[i] = l.get(uint32(i))
		}
	}
}

// addr32 is dst as a big-endian number.
func addr32(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// lookup returns the entry of the longest prefix holding d, nil if none.
// It allocates nothing.
func (f *fib) lookup(d uint32) *entry {
	c := f.root[d>>28]
	if c == nil {
		return nil
	}
	r := &c[d>>20&(fibChunkSlots-1)]
	e, b := r.e, r.b
	if b == nil {
		return e
	}
	s := &b[d>>12&(fibBlockSlots-1)]
	if s.e != nil {
		e = s.e
	}
	i := d >> 8 & (fibSubSlots - 1)
	if s.subMask&(1<<i) == 0 {
		return e
	}
	return s.sub.lookup(i, d, e)
}

// lookup returns the answer of slot i of the sub node for address d: its
// band-C or band-D answer, else e (the shorter bands' answer).
func (sub *fibSub) lookup(i, d uint32, e *entry) *entry {
	if x := sub.e[i]; x != nil {
		e = x
	}
	if sub.leafBits&(1<<i) != 0 {
		if x := sub.leaves[bits.OnesCount16(sub.leafBits&(1<<i-1))].get(d & 0xff); x != nil {
			e = x
		}
	}
	return e
}

// fibPrefix is one IPv4 prefix of a trie, for building.
type fibPrefix struct {
	addr uint32
	e    *entry
}

// buildFib compiles every IPv4 prefix of t.
func buildFib(t *trie) *fib {
	var byLen [33][]fibPrefix
	for p, e := range t.All4() {
		byLen[p.Bits()] = append(byLen[p.Bits()], fibPrefix{addr32(p.Addr()), e})
	}
	f := &fib{}
	f.slabs(&byLen)
	// Shorter prefixes first: a longer one then overwrites the slots it
	// covers, which leaves each slot with its longest prefix.
	for n := 0; n < bandD; n++ {
		for _, p := range byLen[n] {
			f.fill(p.addr, n, p.e, true, nil)
		}
	}
	var long []fibPrefix
	for n := bandD; n <= 32; n++ {
		long = append(long, byLen[n]...)
	}
	// Stable by /24: within one /24 the prefixes stay shortest first.
	slices.SortStableFunc(long, func(a, b fibPrefix) int { return cmp.Compare(a.addr>>8, b.addr>>8) })
	var v [256]*entry
	for i := 0; i < len(long); {
		j := i
		for j < len(long) && long[j].addr>>8 == long[i].addr>>8 {
			j++
		}
		v = [256]*entry{}
		for _, p := range long[i:j] {
			lo := p.addr & 0xff
			for k := lo; k < lo+1<<(32-int(p.e.bits)); k++ {
				v[k] = p.e
			}
		}
		s := f.slot(long[i].addr, nil)
		s.writableSub(nil).setLeaf(long[i].addr>>8&(fibSubSlots-1), newFibLeaf(&v))
		f.prune(long[i].addr, s, nil)
		i = j
	}
	return f
}

// slabs moves what lookups read into two large allocations advised to
// use huge pages (adviseHuge): copies of the entries, which the fib then
// points to instead of the trie's (fill compares prefix lengths, never
// entry identity, so either serves), and the blocks.
func (f *fib) slabs(byLen *[33][]fibPrefix) {
	n := 0
	var roots [fibRoots]bool
	blocks := 0
	for l := range byLen {
		n += len(byLen[l])
		for _, p := range byLen[l] {
			if l >= bandB && !roots[p.addr>>20] {
				roots[p.addr>>20] = true
				blocks++
			}
		}
	}
	es := make([]entry, n)
	adviseHuge(es)
	for l := range byLen {
		for i := range byLen[l] {
			n--
			es[n] = *byLen[l][i].e
			byLen[l][i].e = &es[n]
		}
	}
	bs := make([]fibBlock, blocks)
	adviseHuge(bs)
	for i := range roots {
		if roots[i] {
			blocks--
			f.rootSlot(uint32(i), nil).b = &bs[blocks]
		}
	}
}

// update returns a copy of f in which the answers for the changed
// prefixes are recomputed from t, the table's trie after the changes.
// f itself is left untouched for the readers of older snapshots; the
// copy shares every node the changes did not touch.
func (f *fib) update(t *trie, changed []netip.Prefix) *fib {
	nf := &fib{root: f.root}
	owned := &fibOwned{chunks: map[*fibChunk]bool{}, blocks: map[*fibBlock]bool{}, subs: map[*fibSub]bool{}}
	// Shortest first, like a full build (see fill).
	changed = slices.Clone(changed)
	slices.SortFunc(changed, func(a, b netip.Prefix) int {
		if c := cmp.Compare(a.Bits(), b.Bits()); c != 0 {
			return c
		}
		return a.Addr().Compare(b.Addr())
	})
	changed = slices.Compact(changed)
	for _, p := range changed {
		if !p.Addr().Is4() {
			continue
		}
		e, addr, n := bandAnswer(t, p), addr32(p.Addr()), p.Bits()
		if n < bandD {
			nf.fill(addr, n, e, false, owned)
		} else {
			nf.fillLeaf(addr, n, e, owned)
		}
	}
	return nf
}

// bandAnswer is what the slots p covers answer within p's band after p
// changed: p's entry, or else the longest prefix of the same band that
// covers p, or nil.
func bandAnswer(t *trie, p netip.Prefix) *entry {
	if e, ok := t.Get(p); ok {
		return e
	}
	lo := bandStart(p.Bits())
	if p.Bits() <= lo {
		return nil
	}
	_, e, ok := t.LookupPrefixLPM(netip.PrefixFrom(p.Addr(), p.Bits()-1).Masked())
	if !ok || int(e.bits) < lo {
		return nil
	}
	return e
}

// fibOwned records the nodes one copy-on-write update already copied, so
// that several changes in one commit copy each node once. A nil
// *fibOwned means the fib is still private and changes in place.
type fibOwned struct {
	chunks map[*fibChunk]bool
	blocks map[*fibBlock]bool
	subs   map[*fibSub]bool
}

// slot returns addr's /20 slot in a block the caller may write.
func (f *fib) slot(addr uint32, owned *fibOwned) *fibSlot {
	return &f.block(addr>>20, owned)[addr>>12&(fibBlockSlots-1)]
}

// rootSlot returns root slot i in a chunk the caller may write.
func (f *fib) rootSlot(i uint32, owned *fibOwned) *fibRoot {
	c := f.root[i/fibChunkSlots]
	switch {
	case c == nil:
		c = new(fibChunk)
	case owned != nil && !owned.chunks[c]:
		cp := *c
		c = &cp
	default:
		return &c[i%fibChunkSlots]
	}
	f.root[i/fibChunkSlots] = c
	if owned != nil {
		owned.chunks[c] = true
	}
	return &c[i%fibChunkSlots]
}

// block returns the block of root slot i for writing, creating it.
func (f *fib) block(i uint32, owned *fibOwned) *fibBlock {
	r := f.rootSlot(i, owned)
	b := r.b
	switch {
	case b == nil:
		b = new(fibBlock)
	case owned != nil && !owned.blocks[b]:
		c := *b
		b = &c
	default:
		return b
	}
	r.b = b
	if owned != nil {
		owned.blocks[b] = true
	}
	return b
}

// prune recomputes the sub mask of s and drops its sub node and the
// block of addr's root slot when a change left them empty.
func (f *fib) prune(addr uint32, s *fibSlot, owned *fibOwned) {
	if s.sub != nil && s.sub.empty() {
		s.sub = nil
	}
	s.subMask = 0
	if s.sub != nil {
		s.subMask = s.sub.leafBits
		for i, e := range s.sub.e {
			if e != nil {
				s.subMask |= 1 << i
			}
		}
	}
	r := f.rootSlot(addr>>20, owned)
	if r.b != nil && *r.b == (fibBlock{}) {
		r.b = nil
	}
}

// writableSub returns the slot's sub node for writing, creating it.
func (s *fibSlot) writableSub(owned *fibOwned) *fibSub {
	switch {
	case s.sub == nil:
		s.sub = &fibSub{}
	case owned != nil && !owned.subs[s.sub]:
		c := *s.sub
		c.leaves = slices.Clone(c.leaves)
		s.sub = &c
	default:
		return s.sub
	}
	if owned != nil {
		owned.subs[s.sub] = true
	}
	return s.sub
}

// fill sets the band-A, B or C answer of the slots addr/n covers to e.
// With force (a full build, shortest prefixes first) every slot is set.
// Otherwise only slots whose answer is no longer than n are: those hold
// addr/n itself or a shorter prefix of the band, and they are exactly
// the slots whose answer changes when addr/n is added, changed or deleted
// (e is then addr/n's band parent, or nil).
func (f *fib) fill(addr uint32, n int, e *entry, force bool, owned *fibOwned) {
	set := func(cur **entry) {
		if force || *cur == nil || int((*cur).bits) <= n {
			*cur = e
		}
	}
	switch {
	case n < bandB:
		first := addr >> 20
		for i := first; i < first+1<<(bandB-1-n); i++ {
			set(&f.rootSlot(i, owned).e)
		}
		return
	case n < bandC:
		b := f.block(addr>>20, owned)
		first := addr >> 12 & (fibBlockSlots - 1)
		for i := first; i < first+1<<(bandC-1-n); i++ {
			set(&b[i].e)
		}
		f.prune(addr, &b[first], owned)
		return
	}
	s := f.slot(addr, owned)
	sub := s.writableSub(owned)
	first := addr >> 8 & (fibSubSlots - 1)
	for i := first; i < first+1<<(bandD-1-n); i++ {
		set(&sub.e[i])
	}
	f.prune(addr, s, owned)
}

// fillLeaf is fill for band D: it rewrites the /24's run-length node.
func (f *fib) fillLeaf(addr uint32, n int, e *entry, owned *fibOwned) {
	s := f.slot(addr, owned)
	sub := s.writableSub(owned)
	i := addr >> 8 & (fibSubSlots - 1)
	var v [256]*entry
	sub.leaf(i).expand(&v)
	lo := addr & 0xff
	for k := lo; k < lo+1<<(32-n); k++ {
		if v[k] == nil || int(v[k].bits) <= n {
			v[k] = e
		}
	}
	sub.setLeaf(i, newFibLeaf(&v))
	f.prune(addr, s, owned)
}
