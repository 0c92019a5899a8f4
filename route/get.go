package route

import (
	"cmp"
	"net/netip"
	"slices"
)

// Get answers what `ip route get` answers: Input when q.IIF is set,
// otherwise Output.
func (db *RPDB) Get(q Query) (Result, error) {
	if q.IIF != 0 {
		return db.Input(q)
	}
	return db.Output(q)
}

// Output routes a locally generated packet like ip_route_output_key_hash:
// the source, when given, must be a local address; local destinations are
// delivered through lo; without prefsrc the source address is selected as
// inet_select_addr does; when the lookup fails and an output interface
// is given the destination is assumed on-link. Only unicast destinations
// are modelled (multicast and limited broadcast are not).
func (db *RPDB) Output(q Query) (Result, error) {
	s := db.cur.Load()
	if q.Src.IsValid() && !q.Src.IsUnspecified() {
		if q.Src.IsMulticast() || isLimitedBroadcast(q.Src) || isZeronet(q.Src) {
			return Result{}, ErrInvalid
		}
		if !s.isLocalAddr(q.Src) {
			return Result{}, ErrNetUnreachable
		}
	} else {
		q.Src = netip.Addr{}
	}
	if q.OIF != 0 && s.link(q.OIF) == nil {
		return Result{}, ErrNoDevice
	}
	res, err := s.fibLookup(&q, ScopeUniverse, nil)
	if err != nil {
		if q.OIF == 0 {
			return Result{}, err
		}
		// "Apparently, routing tables are wrong. Assume, that the
		// destination is on link." (ip_route_output_key_hash_rcu)
		res = Result{Type: TypeUnicast, DevIndex: q.OIF, Dev: s.linkName(q.OIF), Scope: ScopeLink, Src: q.Src}
		if !res.Src.IsValid() {
			res.Src = s.selectAddr(q.OIF, netip.Addr{}, ScopeLink)
		}
		return res, nil
	}
	if res.Type == TypeLocal {
		if q.Src.IsValid() {
			res.Src = q.Src
		} else if !res.Src.IsValid() {
			res.Src = q.Dst
		}
		res.DevIndex, res.Dev = LoopbackIndex, s.linkName(LoopbackIndex)
		if res.Dev == "" {
			res.Dev = "lo"
		}
		return res, nil
	}
	if q.Src.IsValid() {
		res.Src = q.Src
	} else if !res.Src.IsValid() {
		res.Src = s.selectAddr(res.DevIndex, res.Gateway, res.Route.Scope)
	}
	return res, nil
}

// Input routes a packet received on q.IIF like ip_route_input_slow, with
// forwarding enabled, rp_filter off and accept_local off: martian sources
// and destinations are refused, and the source is validated with a
// reverse lookup (fib_validate_source) when the kernel would do one.
func (db *RPDB) Input(q Query) (Result, error) {
	s := db.cur.Load()
	in := s.link(q.IIF)
	if in == nil {
		return Result{}, ErrNoDevice
	}
	src, dst := q.Src, q.Dst
	if !src.IsValid() {
		src = netip.IPv4Unspecified()
		q.Src = src
	}
	if src.IsMulticast() || isLimitedBroadcast(src) {
		return Result{}, ErrInvalid
	}
	if isLimitedBroadcast(dst) || (src.IsUnspecified() && dst.IsUnspecified()) {
		return s.broadcastInput(&q, in, Result{Table: TableUnspec})
	}
	if isZeronet(src) || isZeronet(dst) || dst.IsLoopback() || src.IsLoopback() {
		return Result{}, ErrInvalid
	}
	res, err := s.fibLookup(&q, ScopeUniverse, nil)
	if err != nil {
		return Result{}, err
	}
	res.Input = true
	res.Src = src
	switch res.Type {
	case TypeBroadcast:
		return s.broadcastInput(&q, in, res)
	case TypeLocal:
		if err := s.validateSource(&q, 0, in); err != nil {
			return Result{}, err
		}
		res.DevIndex, res.Dev = LoopbackIndex, "lo"
		return res, nil
	case TypeUnicast:
		if err := s.validateSource(&q, res.DevIndex, in); err != nil {
			return Result{}, err
		}
		return res, nil
	}
	return Result{}, ErrInvalid // martian destination
}

func (s *snapshot) broadcastInput(q *Query, in *Link, res Result) (Result, error) {
	if !q.Src.IsUnspecified() {
		// brd_input validates the source with daddr 0.
		vq := *q
		vq.Dst = netip.IPv4Unspecified()
		if err := s.validateSource(&vq, 0, in); err != nil {
			return Result{}, err
		}
	}
	res.Type, res.Input, res.Src = TypeBroadcast, true, q.Src
	res.DevIndex, res.Dev = LoopbackIndex, "lo"
	return res, nil
}

// validateSource is fib_validate_source with rp_filter and accept_local
// off. The full reverse lookup (__fib_validate_source) runs when custom
// rules exist or the packet would leave through the interface it came in
// on (send_redirects is on); else only a source that is one of our own
// addresses is refused.
func (s *snapshot) validateSource(q *Query, oif int, in *Link) error {
	if !s.custom && in.Index != oif {
		if s.isIfAddr(q.Src) {
			return ErrInvalid
		}
		return nil
	}
	iif := oif
	if iif == 0 {
		iif = LoopbackIndex
	}
	rq := Query{Dst: q.Src, Src: q.Dst, IIF: iif, TOS: q.TOS}
	res, err := s.fibLookup(&rq, ScopeUniverse, nil)
	if err != nil {
		return nil // last_resort: no rp_filter, accept
	}
	if res.Type != TypeUnicast {
		return ErrInvalid
	}
	return nil
}

// customRules reports whether the rules differ from a new namespace's
// (the kernel sets fib_has_custom_rules on any rule change; we compare).
func (s *snapshot) customRules() bool {
	if len(s.rules) != 3 {
		return true
	}
	want := [3]struct {
		p uint32
		t TableID
	}{{0, TableLocal}, {32766, TableMain}, {32767, TableDefault}}
	for i, r := range s.rules {
		d := NewRule()
		d.Priority, d.PrioritySet, d.Table = want[i].p, true, want[i].t
		if !r.Rule.sameAs(&d) {
			return true
		}
	}
	return false
}

// isIfAddr reports whether a is assigned to an interface.
func (s *snapshot) isIfAddr(a netip.Addr) bool {
	for _, l := range s.links {
		for _, x := range l.Addrs {
			if x.Prefix.Addr() == a {
				return true
			}
		}
	}
	return false
}

// isLocalAddr is __ip_dev_find: an interface address, or an address the
// local table routes as local.
func (s *snapshot) isLocalAddr(a netip.Addr) bool {
	if s.isIfAddr(a) {
		return true
	}
	if s.local == nil {
		return false
	}
	_, rt, err := s.local.lookup(a, 0, 0, ScopeUniverse)
	return err == nil && rt != nil && rt.Type == TypeLocal
}

// selectAddr is inet_select_addr: a primary address of dev no wider in
// scope than scope, preferring one whose subnet holds dst; failing that,
// the first suitable primary address of any interface (lo first).
func (s *snapshot) selectAddr(dev int, dst netip.Addr, scope Scope) netip.Addr {
	var addr netip.Addr
	if l := s.link(dev); l != nil {
		for _, a := range l.Addrs {
			if a.Secondary || min(a.Scope, ScopeHost) > scope {
				continue
			}
			if !dst.IsValid() || a.Prefix.Contains(dst) {
				return a.Prefix.Addr()
			}
			if !addr.IsValid() {
				addr = a.Prefix.Addr()
			}
		}
	}
	if addr.IsValid() {
		return addr
	}
	for _, l := range s.links {
		for _, a := range l.Addrs {
			if !a.Secondary && a.Scope != ScopeLink && a.Scope <= scope {
				return a.Prefix.Addr()
			}
		}
	}
	return netip.Addr{}
}

func isLimitedBroadcast(a netip.Addr) bool { return a == netip.AddrFrom4([4]byte{255, 255, 255, 255}) }

func isZeronet(a netip.Addr) bool { return a.Is4() && a.As4()[0] == 0 }

// dumpOrder is the order the kernel dumps tables in: by hash bucket
// (id & 0xff), newest first within a bucket (approximated by id, high
// first).
func dumpOrder(tables map[TableID]*table) []*table {
	ts := make([]*table, 0, len(tables))
	for _, t := range tables {
		ts = append(ts, t)
	}
	slices.SortFunc(ts, func(a, b *table) int {
		if c := cmp.Compare(a.id&0xff, b.id&0xff); c != 0 {
			return c
		}
		return cmp.Compare(b.id, a.id)
	})
	return ts
}

// sortLeaves orders leaves as a fib trie dump does: ascending address,
// longer prefix first for the same address.
func sortLeaves(ls []*leaf) {
	slices.SortFunc(ls, func(a, b *leaf) int {
		if c := a.pfx.Addr().Compare(b.pfx.Addr()); c != 0 {
			return c
		}
		return cmp.Compare(b.pfx.Bits(), a.pfx.Bits())
	})
}
