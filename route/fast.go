package route

import (
	"encoding/binary"
	"net/netip"
)

// The fast path answers the common lookup of a namespace without custom
// rules: the destination is covered by no route of the local table, main
// has a fib, and the first alias of main's longest matching prefix is an
// eligible plain (non-reject) route. The kernel takes the same shortcut
// (fib_lookup without fib_has_custom_rules looks up one merged table, no
// rule walk); here it is a precompiled copy of what the three default
// rules would do, so that such a lookup is one guard test, the fib walk
// and the entry read, with no rule, table or snapshot pointer chased on
// the way. Every other case (a local route covers dst, a reject route,
// a later alias, an IPv6 or slow entry, a default table with routes)
// falls back to the rule walk, which computes the same answer.

// fastPath is the precompiled default-rules lookup of a snapshot; its zero
// value (on false) disables it.
type fastPath struct {
	on bool
	// localOctets has bit o set when a local-table prefix may cover a
	// destination whose first octet is o (every bit when the table has
	// a prefix shorter than /8).
	localOctets [4]uint64
	// local lists the local table's IPv4 prefixes when it has at most
	// fastLocalMax of them (nil: more, and the octet bits decide alone):
	// a destination in a marked octet that none of them covers still
	// takes the fast path, as traffic to a local subnet's neighbours
	// does.
	local []prefix32
	// main is main's fib, copied (it is only its root pointers): the
	// walk starts one dependent load earlier.
	main fib
	// mainRule is the priority of the "lookup main" rule (32766).
	mainRule uint32
	// noDefault is set when the default table is absent or empty, so a
	// miss in main is ENETUNREACH without a walk.
	noDefault bool
}

// fastLocalMax is the size up to which the local table's prefixes are
// listed in the fast path: a namespace has three local routes per
// address, and a linear scan of a few dozen beats a trie walk.
const fastLocalMax = 32

// prefix32 is an IPv4 prefix as address and mask, both big-endian.
type prefix32 struct{ addr, mask uint32 }

// compileFast sets s.fast when s has only the default rules and main has
// a fib.
func (s *snapshot) compileFast() {
	s.fast = fastPath{}
	if s.custom || len(s.rules) != 3 {
		return
	}
	main, dflt := s.rules[1].tbl, s.rules[2].tbl
	if main == nil || main.fib == nil {
		return
	}
	f := &s.fast
	f.main, f.mainRule = *main.fib, s.rules[1].Priority
	f.noDefault = dflt == nil || dflt.trie.Size() == 0
	if t := s.rules[0].tbl; t != nil {
		f.guardLocal(t)
	}
	f.on = true
}

// guardLocal fills the local-table guard from t.
func (f *fastPath) guardLocal(t *table) {
	if t.wide != 0 || t.trie.Size6() != 0 {
		f.localOctets = [4]uint64{^uint64(0), ^uint64(0), ^uint64(0), ^uint64(0)}
	} else {
		for o, n := range t.octets {
			if n != 0 {
				f.localOctets[o>>6] |= 1 << (o & 63)
			}
		}
	}
	if t.trie.Size4() > fastLocalMax {
		return
	}
	f.local = make([]prefix32, 0, t.trie.Size4())
	for p := range t.trie.All4() {
		mask := ^uint32(0) << (32 - p.Bits())
		if p.Bits() == 0 {
			mask = 0
		}
		f.local = append(f.local, prefix32{addr32(p.Addr()), mask})
	}
}

// localCovers reports whether a listed local-table prefix covers d;
// always true when the table is too large to be listed.
func (f *fastPath) localCovers(d uint32) bool {
	if f.local == nil {
		return true
	}
	for _, p := range f.local {
		if d&p.mask == p.addr {
			return true
		}
	}
	return false
}

// lookup answers q through the fast path, filling *out (which must be
// zero). ok is false when q needs the rule walk; *out is then untouched.
// The fib walk is fib.lookup spelled out on the copied root rather than
// called: the call and its prologue cost more than the lines on this
// path (thread CPU time per Lookup1M lookup, about 10 ns); the tests
// compare the two on random addresses.
func (f *fastPath) lookup(q *Query, scope Scope, out *Result) (ok bool, err error) {
	if !q.Dst.Is4() {
		return false, nil
	}
	a := q.Dst.As4() // addr32, which would not be inlined
	d := binary.BigEndian.Uint32(a[:])
	if f.localOctets[a[0]>>6]&(1<<(a[0]&63)) != 0 && f.localCovers(d) {
		return false, nil
	}
	var e *entry
	if c := f.main.root[d>>28]; c != nil {
		r := &c[d>>20&(fibChunkSlots-1)]
		e = r.e
		if b := r.b; b != nil {
			s := &b[d>>12&(fibBlockSlots-1)]
			if s.e != nil {
				e = s.e
			}
			if i := d >> 8 & (fibSubSlots - 1); s.subMask&(1<<i) != 0 {
				e = s.sub.lookup(i, d, e)
			}
		}
	}
	if e == nil {
		if f.noDefault {
			return true, ErrNetUnreachable
		}
		return false, nil
	}
	// eligible() for the first alias, restricted to non-reject types.
	if e.flags&(entrySlow|entryReject) != 0 || e.tos != 0 && e.tos != q.TOS&tosMask ||
		e.scope < scope || q.OIF != 0 && e.devIndex != q.OIF {
		return false, nil
	}
	f.fill(e, out)
	return true, nil
}

// fill is compiledRule.act's answer from main's entry e.
func (f *fastPath) fill(e *entry, out *Result) {
	out.Type, out.Table, out.Route, out.Rule = e.typ, TableMain, e.first, f.mainRule
	out.Prefix = netip.PrefixFrom(netip.AddrFrom4(e.pfx), int(e.bits))
	out.Dev, out.DevIndex, out.Scope = e.dev, e.devIndex, e.scope
	if e.flags&entryGateway != 0 {
		out.Gateway = netip.AddrFrom4(e.gw)
	}
	if e.flags&entrySrc != 0 {
		out.Src = netip.AddrFrom4(e.src)
	}
}
