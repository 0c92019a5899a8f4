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

// table is one routing table: a copy-on-write trie of leaves. A published
// table is never modified; writers derive new ones (InsertPersist) unless
// the table was created by the running transaction and is still private.
type table struct {
	id   TableID
	trie *bart.Table[*leaf]
	n    int // number of routes
}

func newTable(id TableID) *table { return &table{id: id, trie: new(bart.Table[*leaf])} }

// lookup is fib_table_lookup: the longest prefix holding an eligible
// route wins; when none of a prefix's routes is eligible (TOS, scope or
// output interface mismatch) the search backtracks to shorter prefixes.
// A reject route (blackhole, unreachable, prohibit, throw) answers with its
// error; no match at all answers errThrow (the kernel's -EAGAIN).
func (t *table) lookup(dst netip.Addr, tos uint8, oif int, scope Scope) (*leaf, *Route, error) {
	l, ok := t.trie.Lookup(dst)
	for ok {
		for i := range l.routes {
			r := &l.routes[i]
			if r.TOS != 0 && r.TOS != tos&tosMask {
				continue
			}
			if r.Scope < scope {
				continue
			}
			if err, rej := r.Type.reject(); rej {
				return l, r, err
			}
			if oif != 0 && r.DevIndex != oif {
				continue
			}
			return l, r, nil
		}
		bits := l.pfx.Bits()
		if bits == 0 {
			break
		}
		_, l, ok = t.trie.LookupPrefixLPM(netip.PrefixFrom(dst, bits-1))
	}
	return nil, nil, errThrow
}

// get returns the leaf for exactly pfx.
func (t *table) get(pfx netip.Prefix) *leaf {
	l, _ := t.trie.Get(pfx)
	return l
}

// with returns t with pfx's leaf set to l (nil deletes it). When private
// is true t is modified in place; otherwise a copy-on-write successor is
// returned and t stays untouched for concurrent readers.
func (t *table) with(pfx netip.Prefix, l *leaf, delta int, private bool) *table {
	if private {
		if l == nil {
			t.trie.Delete(pfx)
		} else {
			t.trie.Insert(pfx, l)
		}
		t.n += delta
		return t
	}
	nt := &table{id: t.id, n: t.n + delta}
	if l == nil {
		nt.trie = t.trie.DeletePersist(pfx)
	} else {
		nt.trie = t.trie.InsertPersist(pfx, l)
	}
	return nt
}

// routes calls fn for every route in kernel dump order: ascending prefix
// address, longer prefixes of the same address first, then alias order.
func (t *table) routes(fn func(*Route) bool) {
	var ls []*leaf
	for _, l := range t.trie.All4() {
		ls = append(ls, l)
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
