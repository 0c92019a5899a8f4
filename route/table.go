package route

import (
	"net/netip"

	"github.com/gaissmai/bart"
)

// tosMask is the part of the TOS byte routing compares: the kernel matches
// route and rule TOS against the flow's DSCP masked with
// INET_DSCP_LEGACY_TOS_MASK (0x1c in TOS-byte terms), so ECN bits and the
// upper precedence bits never influence a lookup.
const tosMask = 0x1c

// trie is the longest-prefix-match structure of a table. bart.Fast spends
// 256 more bytes per trie node than bart.Table for a direct child index,
// which makes each level of a lookup one load instead of a popcount over
// a bitset (BenchmarkLookup1M: see the package README numbers).
type trie = bart.Fast[*entry]

// table is one routing table: a copy-on-write trie of entries. A published
// table is never modified; writers derive new ones (InsertPersist) unless
// the table was created by the running transaction and is still private.
type table struct {
	id   TableID
	trie *trie
	n    int // number of routes
	// octets counts the prefixes of length 8 or more by first octet, and
	// wide those shorter: a destination whose first octet no prefix
	// covers misses without a trie walk. Most lookups miss the local
	// table this way before they reach main (the kernel avoids that
	// walk by merging local into main while there are no custom rules).
	octets [256]uint32
	wide   uint32
	// fib is the compiled lookup structure, set when a transaction
	// publishes the table (Update); nil while a transaction still
	// changes it, and then lookups walk the trie.
	fib *fib
}

func newTable(id TableID) *table { return &table{id: id, trie: new(trie)} }

// entry is the trie's value for one prefix: its leaf, plus a copy of what
// a lookup reads of the leaf's first route. At a million routes the leaves
// and their route arrays are scattered over the heap, and following the
// two pointers cost two cache and TLB misses per lookup; with the first
// alias inline, the common lookup (first alias eligible) reads one cache
// line (the struct is 64 bytes) beyond the fib. Entries are immutable and
// shared by every snapshot whose table still has that leaf, so a fib
// update can recognise the slots that point at a changed prefix.
type entry struct {
	l        *leaf
	first    *Route // &l.routes[0]
	dev      string
	devIndex int
	pfx      [4]byte
	gw, src  [4]byte // valid when entryGateway / entrySrc is set
	bits     uint8
	typ      Type
	tos      uint8
	scope    Scope
	flags    uint8
}

// entry flags.
const (
	entryGateway = 1 << iota // the result carries gw (a gateway on a link-scope route)
	entrySrc                 // the first route has a prefsrc
	entryMore                // the leaf has more than one route
	entrySlow                // an address is not IPv4: read the route itself
	entryReject              // the first route's type answers with an error
)

// newEntry caches l's first route.
func newEntry(l *leaf) *entry {
	r := &l.routes[0]
	e := &entry{l: l, first: r, dev: r.Dev, devIndex: r.DevIndex, pfx: l.pfx.Addr().As4(),
		bits: uint8(l.pfx.Bits()), typ: r.Type, tos: r.TOS, scope: r.Scope}
	if len(l.routes) > 1 {
		e.flags |= entryMore
	}
	if _, rej := r.Type.reject(); rej {
		e.flags |= entryReject
	}
	if r.Gateway.IsValid() && r.nhScope == ScopeLink {
		e.flags |= entryGateway
		if !r.Gateway.Is4() {
			e.flags |= entrySlow
		} else {
			e.gw = r.Gateway.As4()
		}
	}
	if r.PrefSrc.IsValid() {
		e.flags |= entrySrc
		if !r.PrefSrc.Is4() {
			e.flags |= entrySlow
		} else {
			e.src = r.PrefSrc.As4()
		}
	}
	return e
}

// prefix is the entry's prefix.
func (e *entry) prefix() netip.Prefix {
	return netip.PrefixFrom(netip.AddrFrom4(e.pfx), int(e.bits))
}

// eligible is the per-alias test of fib_table_lookup: TOS, then scope,
// then (after a reject type has answered) the output interface. It
// reports whether the alias answers and, for a reject type, its error.
func eligible(rtos uint8, rscope Scope, typ Type, dev int, tos uint8, oif int, scope Scope) (bool, error) {
	if rtos != 0 && rtos != tos&tosMask {
		return false, nil
	}
	if rscope < scope {
		return false, nil
	}
	if err, rej := typ.reject(); rej {
		return true, err
	}
	return oif == 0 || dev == oif, nil
}

// lookup is fib_table_lookup: the longest prefix holding an eligible
// route wins; when none of a prefix's routes is eligible (TOS, scope or
// output interface mismatch) the search backtracks to shorter prefixes.
// A reject route (blackhole, unreachable, prohibit, throw) answers with its
// error; no match at all answers errThrow (the kernel's -EAGAIN). The
// route returned is e.first when the first alias answered, so callers can
// take its fields from e without touching the route.
func (t *table) lookup(dst netip.Addr, tos uint8, oif int, scope Scope) (*entry, *Route, error) {
	var e *entry
	switch {
	case t.fib != nil && dst.Is4():
		e = t.fib.lookup(addr32(dst))
	case t.wide == 0 && dst.Is4() && t.octets[dst.As4()[0]] == 0:
	default:
		e, _ = t.trie.Lookup(dst)
	}
	for e != nil {
		if hit, err := eligible(e.tos, e.scope, e.typ, e.devIndex, tos, oif, scope); hit {
			return e, e.first, err
		}
		if e.flags&entryMore != 0 {
			rs := e.l.routes[1:]
			for i := range rs {
				r := &rs[i]
				if hit, err := eligible(r.TOS, r.Scope, r.Type, r.DevIndex, tos, oif, scope); hit {
					return e, r, err
				}
			}
		}
		if e.bits == 0 {
			break
		}
		_, e, _ = t.trie.LookupPrefixLPM(netip.PrefixFrom(dst, int(e.bits)-1))
	}
	return nil, nil, errThrow
}

// get returns the leaf for exactly pfx.
func (t *table) get(pfx netip.Prefix) *leaf {
	if e, ok := t.trie.Get(pfx); ok {
		return e.l
	}
	return nil
}

// with returns t with pfx's leaf set to l (nil deletes it). When private
// is true t is modified in place; otherwise a copy-on-write successor is
// returned and t stays untouched for concurrent readers.
func (t *table) with(pfx netip.Prefix, l *leaf, delta int, private bool) *table {
	_, existed := t.trie.Get(pfx)
	nt := t
	if !private {
		nt = &table{id: t.id, n: t.n, octets: t.octets, wide: t.wide}
	}
	nt.n += delta
	if l == nil {
		if existed {
			nt.count(pfx, ^uint32(0)) // -1
		}
		if private {
			t.trie.Delete(pfx)
		} else {
			nt.trie = t.trie.DeletePersist(pfx)
		}
		return nt
	}
	if !existed {
		nt.count(pfx, 1)
	}
	if private {
		t.trie.Insert(pfx, newEntry(l))
	} else {
		nt.trie = t.trie.InsertPersist(pfx, newEntry(l))
	}
	return nt
}

// count adds d (1 or -1 as ^0) to the prefix counters of pfx.
func (t *table) count(pfx netip.Prefix, d uint32) {
	if pfx.Bits() < 8 || !pfx.Addr().Is4() {
		t.wide += d
		return
	}
	t.octets[pfx.Addr().As4()[0]] += d
}

// routes calls fn for every route in kernel dump order: ascending prefix
// address, longer prefixes of the same address first, then alias order.
func (t *table) routes(fn func(*Route) bool) {
	var ls []*leaf
	for _, e := range t.trie.All4() {
		ls = append(ls, e.l)
	}
	sortLeaves(ls)
	for _, l := range ls {
		for i := range l.routes {
			if !fn(&l.routes[i]) {
				return
			}
		}
	}
}
