package route

import (
	"net/netip"
)

// Route is one IPv4 route (a fib_alias plus its fib_info in the kernel).
// A single nexthop is modelled; multipath routes are not.
type Route struct {
	Table TableID
	// Dst is the destination prefix; it must carry no host bits.
	Dst  netip.Prefix
	Type Type
	// TOS selects packets by TOS (only the bits of 0x1c are compared, as
	// the kernel's fib_dscp_masked_match does); 0 matches any.
	TOS uint8
	// Dev and DevIndex name the output interface. For a route given only
	// a gateway the RPDB fills them in from the gateway's connected route,
	// as fib_check_nh does.
	Dev      string
	DevIndex int
	Gateway  netip.Addr // "via"
	PrefSrc  netip.Addr // "src"
	Metric   uint32     // "metric"/"priority"; lower wins
	Protocol Protocol
	Scope    Scope

	// nhScope is the scope of the route the gateway resolved through
	// (fib_nh_scope). Only a gateway on a link-scope route is used as
	// such (rt_uses_gateway); a gateway that is a local address is not.
	nhScope Scope
}

// sameGroup reports whether a and b fall in the same kernel alias group:
// equal TOS and metric (the key fib_table_insert checks with NLM_F_EXCL).
func (r *Route) sameGroup(o *Route) bool { return r.TOS == o.TOS && r.Metric == o.Metric }

// identical reports whether two routes of a group share type and fib_info
// (fib_find_info): such a duplicate is always refused.
func (r *Route) identical(o *Route) bool {
	return r.Type == o.Type && r.Protocol == o.Protocol && r.Scope == o.Scope &&
		r.PrefSrc == o.PrefSrc && r.DevIndex == o.DevIndex && r.Gateway == o.Gateway
}

// before reports whether a route with (tos, metric) sorts before r in a
// leaf: TOS descending, then metric ascending (fib_find_alias).
func (r *Route) after(tos uint8, metric uint32) bool {
	return r.TOS < tos || (r.TOS == tos && r.Metric >= metric)
}

// Selector picks routes to delete, as `ip route del` sends them: Table and
// Dst must match exactly, TOS too; every other field matches anything when
// zero (Type unspec, Scope ScopeNowhere, Metric 0, no dev, no gateway, no
// prefsrc, protocol unspec), following fib_table_delete and fib_nh_match.
type Selector = Route

// selects reports whether the delete selector s matches route r.
func (s *Selector) selects(r *Route) bool {
	return (s.Type == TypeUnspec || s.Type == r.Type) &&
		(s.Scope == ScopeNowhere || s.Scope == r.Scope) &&
		(!s.PrefSrc.IsValid() || s.PrefSrc == r.PrefSrc) &&
		(s.Protocol == ProtoUnspec || s.Protocol == r.Protocol) &&
		(s.Metric == 0 || s.Metric == r.Metric) &&
		(s.DevIndex == 0 || s.DevIndex == r.DevIndex) &&
		(!s.Gateway.IsValid() || s.Gateway == r.Gateway)
}

// leaf holds every route for one prefix in one table, in kernel order.
// Leaves are immutable once published: changes build a new leaf.
type leaf struct {
	pfx    netip.Prefix
	routes []Route
}

// insertOp is the NLM_F_* flag combination of a route change.
type insertOp uint8

const (
	opAdd     insertOp = iota // NLM_F_CREATE|NLM_F_EXCL: ip route add
	opReplace                 // NLM_F_CREATE|NLM_F_REPLACE: ip route replace
	opPrepend                 // NLM_F_CREATE: ip route prepend
	opAppend                  // NLM_F_CREATE|NLM_F_APPEND: ip route append
)

// insert returns the leaf with r added according to op, following
// fib_table_insert. A nil leaf means the prefix had no routes.
func (l *leaf) insert(r Route, op insertOp) (*leaf, error) {
	var old []Route
	if l != nil {
		old = l.routes
	}
	// first: the first alias at or after r's (tos, metric) position.
	first := len(old)
	for i := range old {
		if old[i].after(r.TOS, r.Metric) {
			first = i
			break
		}
	}
	at := first
	if first < len(old) && old[first].sameGroup(&r) {
		if op == opAdd {
			return nil, ErrExist
		}
		end, match := first, -1
		for end < len(old) && old[end].sameGroup(&r) {
			if old[end].identical(&r) {
				match = end
				break
			}
			end++
		}
		switch {
		case op == opReplace && match >= 0:
			return l, nil // the kernel keeps the existing alias
		case op == opReplace:
			routes := append([]Route(nil), old...)
			routes[first] = r
			return &leaf{pfx: r.Dst, routes: routes}, nil
		case match >= 0:
			return nil, ErrExist
		case op == opAppend:
			at = end
		}
	}
	routes := make([]Route, 0, len(old)+1)
	routes = append(routes, old[:at]...)
	routes = append(routes, r)
	routes = append(routes, old[at:]...)
	return &leaf{pfx: r.Dst, routes: routes}, nil
}

// remove returns the leaf without the first route s selects (nil when the
// leaf becomes empty), following fib_table_delete: only aliases with
// exactly s's TOS are candidates.
func (l *leaf) remove(s *Selector) (*leaf, Route, error) {
	if l == nil {
		return nil, Route{}, ErrNoSuchProcess
	}
	for i := range l.routes {
		r := &l.routes[i]
		if r.TOS != s.TOS || !s.selects(r) {
			continue
		}
		gone := *r
		if len(l.routes) == 1 {
			return nil, gone, nil
		}
		routes := make([]Route, 0, len(l.routes)-1)
		routes = append(routes, l.routes[:i]...)
		routes = append(routes, l.routes[i+1:]...)
		return &leaf{pfx: l.pfx, routes: routes}, gone, nil
	}
	return nil, Route{}, ErrNoSuchProcess
}
