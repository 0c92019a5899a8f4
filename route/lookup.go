package route

import (
	"net/netip"
)

// Query describes the flow being routed, like the kernel's struct flowi4.
type Query struct {
	Dst, Src netip.Addr
	Mark     uint32
	// IIF is the input interface index; 0 for locally generated traffic
	// (which rules see as coming from lo, LoopbackIndex).
	IIF int
	// OIF is the output interface the sender is bound to, 0 for none;
	// tables then only consider routes through it.
	OIF          int
	TOS          uint8
	Proto        uint8
	SPort, DPort uint16
}

// Result is the routing decision.
type Result struct {
	Type   Type
	Table  TableID
	Prefix netip.Prefix
	// Route is the chosen route (it points into an immutable snapshot;
	// do not modify it); nil when the answer did not come from a route
	// (the on-link fallback of an output lookup with OIF).
	Route    *Route
	Dev      string
	DevIndex int
	Gateway  netip.Addr
	// Src is the source address: the route's prefsrc or the one the
	// kernel selects (Output), or the packet's source (Input).
	Src   netip.Addr
	Scope Scope
	// Rule is the priority of the rule whose action produced the result.
	Rule uint32
	// Input is true for answers of Input (printed with "iif").
	Input bool
}

// Step is one event of a traced lookup.
type Step struct {
	// Rule is the rule considered (nil for steps about tables).
	Rule *Rule
	// Matched reports whether Rule's selectors matched the flow.
	Matched bool
	// Table and Route describe a table lookup made by a matching rule:
	// the route chosen (nil when the table had none), and Err the
	// lookup's outcome (nil, a reject error, or ErrThrow for "continue").
	Table TableID
	Route *Route
	Err   error
	// Suppressed is set when suppress_prefixlength or suppress_ifgroup
	// rejected the result and the walk continued.
	Suppressed bool
}

// Recorder receives the steps of a traced lookup.
type Recorder interface {
	Record(Step)
}

// ErrThrow is the outcome a Step reports when a table had no eligible
// route or a throw route: the rule walk continues (the kernel's -EAGAIN).
var ErrThrow error = errThrow

// Lookup is fib_lookup: it walks the rules by priority and answers the
// first decisive outcome, exactly as fib_rules_lookup and
// fib4_rule_action do. While only the default rules exist, the common
// case (no local route covers dst; main's first alias answers) is
// answered by the snapshot's precompiled fast path (fast.go) with the
// same result. It allocates nothing.
func (db *RPDB) Lookup(q Query) (res Result, err error) {
	err = db.LookupTo(&q, &res)
	return res, err
}

// LookupTo is Lookup writing the answer to *res, as the kernel's
// fib_lookup fills a struct fib_result: a caller on the packet path keeps
// one Result and saves copying a 128-byte value in and out. *res is
// overwritten; q is not changed.
func (db *RPDB) LookupTo(q *Query, res *Result) error {
	*res = Result{}
	s := db.cur.Load()
	if s.fast.on {
		if ok, err := s.fast.lookup(q, ScopeUniverse, res); ok {
			return err
		}
	}
	return s.walk(q, ScopeUniverse, nil, res)
}

// LookupTrace is Lookup that reports each rule considered and each table
// lookup to rec.
func (db *RPDB) LookupTrace(q Query, rec Recorder) (Result, error) {
	return db.cur.Load().fibLookup(&q, ScopeUniverse, rec)
}

// fibLookup walks the rules for q. scope is flowi4_scope: routes of a
// wider (numerically smaller) scope are skipped.
func (s *snapshot) fibLookup(q *Query, scope Scope, rec Recorder) (Result, error) {
	var res Result
	err := s.fibLookupTo(q, scope, rec, &res)
	return res, err
}

// fibLookupTo is fibLookup writing the result to *out, which must be
// zero. Result is large: the hot path fills it in place instead of
// copying it at every return.
func (s *snapshot) fibLookupTo(q *Query, scope Scope, rec Recorder, out *Result) error {
	if s.fast.on && rec == nil {
		if ok, err := s.fast.lookup(q, scope, out); ok {
			return err
		}
	}
	return s.walk(q, scope, rec, out)
}

// walk is fibLookupTo without the fast path.
func (s *snapshot) walk(q *Query, scope Scope, rec Recorder, out *Result) error {
	if !s.custom && rec == nil {
		return s.defaultLookup(q, scope, out)
	}
	iif := q.IIF
	if iif == 0 {
		iif = LoopbackIndex
	}
	if !q.Src.IsValid() {
		fq := *q
		fq.Src = netip.IPv4Unspecified() // an unbound socket: saddr 0
		q = &fq
	}
	rules := s.rules
	for i := 0; i < len(rules); {
		r := &rules[i]
		if !r.match(q, iif) {
			if rec != nil {
				rec.Record(Step{Rule: &r.Rule})
			}
			i++
			continue
		}
		switch r.Action {
		case ActionGoto:
			if rec != nil {
				rec.Record(Step{Rule: &r.Rule, Matched: true})
			}
			if r.target >= 0 {
				i = r.target
			} else {
				i++ // an unresolved goto is skipped
			}
			continue
		case ActionNop:
			if rec != nil {
				rec.Record(Step{Rule: &r.Rule, Matched: true})
			}
			i++
			continue
		}
		var res Result
		err := r.act(q, scope, &res)
		if err == nil && r.suppresses(&res) {
			if rec != nil {
				rec.Record(Step{Rule: &r.Rule, Matched: true, Table: r.Table, Route: res.Route, Suppressed: true})
			}
			i++
			continue
		}
		if rec != nil {
			rec.Record(Step{Rule: &r.Rule, Matched: true, Table: r.Table, Route: res.Route, Err: err})
		}
		if err != errThrow {
			*out = res
			return err
		}
		i++
	}
	// -ESRCH from fib_rules_lookup becomes -ENETUNREACH in __fib_lookup.
	return ErrNetUnreachable
}

// defaultLookup is the rule walk while only the three default rules
// exist: they match every flow and never suppress, so the walk is the
// local, main and default table lookups in turn (the kernel's
// !fib_has_custom_rules path in fib_lookup, which skips the rules too).
func (s *snapshot) defaultLookup(q *Query, scope Scope, res *Result) error {
	for i := range s.rules {
		err := s.rules[i].act(q, scope, res)
		if err != errThrow {
			return err
		}
		if res.Route != nil { // a throw route: forget it
			*res = Result{}
		}
	}
	return ErrNetUnreachable
}

// act is fib4_rule_action. It fills *res in place: Result is large and
// the lookup path would otherwise copy it at every return.
func (r *compiledRule) act(q *Query, scope Scope, res *Result) error {
	switch r.Action {
	case ActionLookup:
	case ActionUnreachable:
		return ErrNetUnreachable
	case ActionProhibit:
		return ErrAccess
	default: // blackhole and anything unknown
		return ErrInvalid
	}
	if r.tbl == nil {
		return errThrow
	}
	e, rt, err := r.tbl.lookup(q.Dst, q.TOS, q.OIF, scope)
	if rt == nil {
		return err
	}
	id := r.tbl.id
	if id == TableLocal && r.merged {
		id = TableMain
	}
	res.Table, res.Prefix, res.Route, res.Rule = id, e.prefix(), rt, r.Priority
	if rt != e.first || e.flags&entrySlow != 0 {
		res.Type, res.Dev, res.DevIndex, res.Src, res.Scope = rt.Type, rt.Dev, rt.DevIndex, rt.PrefSrc, rt.Scope
		if rt.Gateway.IsValid() && rt.nhScope == ScopeLink {
			res.Gateway = rt.Gateway
		}
		return err
	}
	// The first alias answered: everything comes from the entry.
	res.Type, res.Dev, res.DevIndex, res.Scope = e.typ, e.dev, e.devIndex, e.scope
	if e.flags&entryGateway != 0 {
		res.Gateway = netip.AddrFrom4(e.gw)
	}
	if e.flags&entrySrc != 0 {
		res.Src = netip.AddrFrom4(e.src)
	}
	return err
}

// suppresses is fib4_rule_suppress. Interface groups are not modelled:
// every device is in group 0.
func (r *compiledRule) suppresses(res *Result) bool {
	if r.SuppressPrefixLen >= 0 && res.Prefix.Bits() <= r.SuppressPrefixLen {
		return true
	}
	return r.SuppressIfGroup == 0 && res.DevIndex != 0
}
