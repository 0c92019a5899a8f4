package route

import (
	"fmt"
	"net/netip"
	"slices"
	"syscall"
)

// tosByteMask is the DSCP part of the TOS byte; the kernel refuses route
// and rule TOS values with ECN bits set.
const tosByteMask = 0xfc

// AddRoute is `ip route add`: it fails with ErrExist when the table has a
// route with the same prefix, TOS and metric.
func (tx *Tx) AddRoute(r Route) error { return tx.change(r, opAdd) }

// ReplaceRoute is `ip route replace`: it replaces the first route with the
// same prefix, TOS and metric, or adds r.
func (tx *Tx) ReplaceRoute(r Route) error { return tx.change(r, opReplace) }

// PrependRoute is `ip route prepend`: r goes before routes with the same
// prefix, TOS and metric.
func (tx *Tx) PrependRoute(r Route) error { return tx.change(r, opPrepend) }

// AppendRoute is `ip route append`: r goes after routes with the same
// prefix, TOS and metric.
func (tx *Tx) AppendRoute(r Route) error { return tx.change(r, opAppend) }

// DelRoute is `ip route del`: it removes the first route s selects (see
// Selector) and returns it, or fails with ErrNoSuchProcess.
func (tx *Tx) DelRoute(s Selector) (Route, error) {
	if s.Table == TableUnspec {
		s.Table = TableMain
	}
	if s.Dev != "" && s.DevIndex == 0 {
		idx, ok := tx.byName[s.Dev]
		if !ok {
			//lint:ignore ST1005 iproute2 prints this text
			return Route{}, fmt.Errorf("Cannot find device %q", s.Dev)
		}
		s.DevIndex = idx
	}
	if _, ok := tx.tables[s.Table]; !ok {
		return Route{}, extack(syscall.ESRCH, "FIB table does not exist")
	}
	t := tx.writable(s.Table)
	nl, gone, err := t.get(s.Dst).remove(&s)
	if err != nil {
		return Route{}, err
	}
	tx.tables[s.Table] = t.with(s.Dst, nl, -1, tx.private[t])
	tx.private[tx.tables[s.Table]] = tx.private[t]
	tx.touch(s.Table, s.Dst)
	return gone, nil
}

// change validates r as fib_create_info does and inserts it.
func (tx *Tx) change(r Route, op insertOp) error {
	if r.Table == TableUnspec {
		r.Table = TableMain
	}
	if !r.Dst.IsValid() || !r.Dst.Addr().Is4() {
		return invalid("Invalid prefix for given prefix length")
	}
	if r.TOS&^tosByteMask != 0 {
		return invalid("Invalid dsfield (tos): ECN bits must be 0")
	}
	// inet_rtm_newroute creates the table before fib_table_insert
	// validates the route: a failed add still leaves the table behind.
	tx.tableFor(r.Table)
	if r.Dst.Masked() != r.Dst {
		return invalid("Invalid prefix for given prefix length")
	}
	if r.Type > TypeNAT {
		return invalid("Invalid route type")
	}
	if r.Type == TypeUnspec || r.Type.minScope() > r.Scope {
		return invalid("Invalid scope")
	}
	if r.Dev != "" && r.DevIndex == 0 {
		idx, ok := tx.byName[r.Dev]
		if !ok {
			//lint:ignore ST1005 iproute2 prints this text
			return fmt.Errorf("Cannot find device %q", r.Dev)
		}
		r.DevIndex = idx
	}
	if r.DevIndex != 0 {
		l, ok := tx.linkByIndex(r.DevIndex)
		if !ok {
			return ErrNoDevice
		}
		r.Dev = l.Name
	}
	if err := tx.checkNexthop(&r); err != nil {
		return err
	}
	if r.PrefSrc.IsValid() && !tx.validPrefSrc(&r) {
		return invalid("Invalid prefsrc address")
	}
	return tx.insert(r, op)
}

// checkNexthop is the nexthop part of fib_create_info / fib_check_nh.
func (tx *Tx) checkNexthop(r *Route) error {
	if _, rej := r.Type.reject(); rej {
		if r.Gateway.IsValid() || r.DevIndex != 0 {
			return invalid("Gateway, device and multipath can not be specified for this route type")
		}
		return nil
	}
	if r.Scope > ScopeHost {
		return invalid("Invalid scope")
	}
	if r.Scope == ScopeHost {
		if r.Gateway.IsValid() {
			return invalid("Route with host scope can not have a gateway")
		}
		if r.DevIndex == 0 {
			return ErrNoDevice
		}
		return nil
	}
	if !r.Gateway.IsValid() {
		if r.DevIndex == 0 {
			return ErrNoDevice
		}
		return nil
	}
	return tx.checkGateway(r)
}

// checkGateway is fib_check_nh_v4_gw: the gateway must be reachable
// through a route of at least link scope (a connected route or a local
// address), looked up first in the route's own table, then through the
// rules; the nexthop device is taken from that route.
func (tx *Tx) checkGateway(r *Route) error {
	s := tx.view()
	scope := r.Scope + 1
	if scope < ScopeLink {
		scope = ScopeLink
	}
	var rt *Route
	var err error = errThrow
	if r.Table != TableMain {
		if t := s.tables[r.Table]; t != nil {
			_, rt, err = t.lookup(r.Gateway, 0, r.DevIndex, scope)
		}
	}
	if err != nil {
		q := Query{Dst: r.Gateway, OIF: r.DevIndex}
		var res Result
		res, err = s.fibLookup(&q, scope, nil)
		rt = res.Route
	}
	if err != nil || rt == nil || (rt.Type != TypeUnicast && rt.Type != TypeLocal) {
		return invalid("Nexthop has invalid gateway")
	}
	r.DevIndex, r.Dev, r.nhScope = rt.DevIndex, rt.Dev, rt.Scope
	return nil
}

// validPrefSrc is fib_valid_prefsrc: the preferred source must be a local
// address, found as a local route in the route's table (main means local)
// or in the local table.
func (tx *Tx) validPrefSrc(r *Route) bool {
	if r.Type == TypeLocal && r.Dst.Addr() != netip.IPv4Unspecified() && r.PrefSrc == r.Dst.Addr() {
		return true
	}
	id := r.Table
	if id == TableMain {
		id = TableLocal
	}
	if tx.addrType(id, r.PrefSrc) == TypeLocal {
		return true
	}
	return id != TableLocal && tx.addrType(TableLocal, r.PrefSrc) == TypeLocal
}

// addrType is inet_addr_type_table: the type of the route a table has for
// addr, unicast when it has none.
func (tx *Tx) addrType(id TableID, addr netip.Addr) Type {
	t := tx.tables[id]
	if t == nil {
		return TypeUnicast
	}
	_, rt, err := t.lookup(addr, 0, 0, ScopeUniverse)
	if err != nil || rt == nil {
		return TypeUnicast
	}
	return rt.Type
}

// AddRule is `ip rule add` (fib_nl_newrule).
func (tx *Tx) AddRule(r Rule) error {
	if !r.PrioritySet {
		r.Priority = defaultPref(tx.rules)
		r.PrioritySet = true
	}
	if r.TOS&^tosByteMask != 0 {
		return invalid("Invalid dsfield (tos): ECN bits must be 0")
	}
	if r.Action == ActionGoto && r.Goto <= r.Priority {
		return invalid("Backward goto not supported")
	}
	if r.Action == ActionLookup && r.Table == TableUnspec {
		r.Table = tx.emptyTable()
	}
	if r.Action != ActionLookup {
		r.Table = TableUnspec
	}
	for i := range tx.rules {
		if tx.rules[i].sameAs(&r) {
			return ErrExist
		}
	}
	at := len(tx.rules)
	for i := range tx.rules {
		if tx.rules[i].Priority > r.Priority {
			at = i
			break
		}
	}
	tx.rules = slices.Insert(tx.rules, at, r)
	return nil
}

// defaultPref is fib_default_rule_pref: one below the priority of the
// second rule, if that is not 0; else 0.
func defaultPref(rules []Rule) uint32 {
	if len(rules) >= 2 && rules[1].Priority != 0 {
		return rules[1].Priority - 1
	}
	return 0
}

// emptyTable is fib_empty_table: "lookup 0" gets the first unused id.
func (tx *Tx) emptyTable() TableID {
	for id := TableID(1); ; id++ {
		if _, ok := tx.tables[id]; !ok {
			tx.tableFor(id)
			return id
		}
	}
}

// DelRule is `ip rule del`: it removes the first rule s selects, or fails
// with ErrNotFound.
func (tx *Tx) DelRule(s RuleSelector) error {
	for i := range tx.rules {
		if s.selects(&tx.rules[i]) {
			tx.rules = slices.Delete(tx.rules, i, i+1)
			return nil
		}
	}
	return ErrNotFound
}

// AddRoute adds a route in its own transaction; see Tx.AddRoute.
func (db *RPDB) AddRoute(r Route) error {
	return db.Update(func(tx *Tx) error { return tx.AddRoute(r) })
}

// ReplaceRoute replaces a route in its own transaction.
func (db *RPDB) ReplaceRoute(r Route) error {
	return db.Update(func(tx *Tx) error { return tx.ReplaceRoute(r) })
}

// DelRoute deletes a route in its own transaction.
func (db *RPDB) DelRoute(s Selector) error {
	return db.Update(func(tx *Tx) error { _, err := tx.DelRoute(s); return err })
}

// AddRule adds a rule in its own transaction.
func (db *RPDB) AddRule(r Rule) error {
	return db.Update(func(tx *Tx) error { return tx.AddRule(r) })
}

// DelRule deletes a rule in its own transaction.
func (db *RPDB) DelRule(s RuleSelector) error {
	return db.Update(func(tx *Tx) error { return tx.DelRule(s) })
}

// Rules returns the rules in priority order.
func (db *RPDB) Rules() []Rule { return ruleList(db.cur.Load().rules) }

// Routes returns the routes of one table in `ip route show` order, or of
// every table (TableUnspec) in `ip route show table all` order.
func (db *RPDB) Routes(id TableID) []Route {
	s := db.cur.Load()
	var out []Route
	collect := func(t *table) {
		t.routes(func(r *Route) bool { out = append(out, *r); return true })
	}
	if id != TableUnspec {
		if t := s.tables[id]; t != nil {
			collect(t)
		}
		return out
	}
	for _, t := range dumpOrder(s.tables) {
		collect(t)
	}
	return out
}

// Links returns the interfaces.
func (db *RPDB) Links() []Link { return slices.Clone(db.cur.Load().links) }
