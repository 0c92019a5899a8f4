package route

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// RouteCommand is a parsed `ip route add|del|replace|prepend|append ...`
// command. Interface names are left in Route.Dev for the RPDB to resolve.
type RouteCommand struct {
	Verb  string // "add", "del", "replace", "prepend", "append"
	Route Route
}

// Apply runs the command in tx.
func (c RouteCommand) Apply(tx *Tx) error {
	switch c.Verb {
	case "add":
		return tx.AddRoute(c.Route)
	case "replace":
		return tx.ReplaceRoute(c.Route)
	case "prepend":
		return tx.PrependRoute(c.Route)
	case "append":
		return tx.AppendRoute(c.Route)
	case "del":
		_, err := tx.DelRoute(c.Route)
		return err
	}
	return fmt.Errorf("route: unknown command %q", c.Verb)
}

var routeVerbs = map[string]string{
	"add": "add", "a": "add", "delete": "del", "del": "del", "d": "del",
	"replace": "replace", "prepend": "prepend", "append": "append",
}

// ParseRouteCommand parses the words after `ip route`, with iproute2's
// defaults: protocol boot, table main (local for local, broadcast, anycast
// and nat routes), scope link for a unicast route without a gateway, host
// for local and nat, link for broadcast and anycast, universe otherwise;
// a delete leaves everything not given as a wildcard.
func ParseRouteCommand(args []string) (RouteCommand, error) {
	if len(args) == 0 {
		return RouteCommand{}, fmt.Errorf("route: missing command")
	}
	verb, ok := routeVerbs[args[0]]
	if !ok {
		return RouteCommand{}, fmt.Errorf("route: unknown command %q", args[0])
	}
	r, err := parseRoute(args[1:], verb == "del")
	return RouteCommand{Verb: verb, Route: r}, err
}

func parseRoute(args []string, del bool) (Route, error) {
	var r Route
	if !del {
		r.Protocol, r.Type = ProtoBoot, TypeUnicast
	}
	scopeSet, tableSet, dstSet := false, false, false
	for i := 0; i < len(args); i++ {
		w := args[i]
		if i+1 >= len(args) && takesArg(w) {
			return r, fmt.Errorf("route: %q needs an argument", w)
		}
		var err error
		switch w {
		case "tos", "dsfield":
			i++
			r.TOS, err = parseTOS(args[i])
		case "table":
			i++
			r.Table, err = ParseTableID(args[i])
			tableSet = true
		case "proto", "protocol":
			i++
			r.Protocol, err = ParseProtocol(args[i])
		case "scope":
			i++
			r.Scope, err = ParseScope(args[i])
			scopeSet = true
		case "metric", "priority", "preference":
			i++
			var n uint64
			n, err = strconv.ParseUint(args[i], 0, 32)
			if err != nil {
				err = fmt.Errorf("route: invalid metric %q", args[i])
			}
			r.Metric = uint32(n)
		case "via":
			i++
			if args[i] == "inet" && i+1 < len(args) {
				i++
			}
			r.Gateway, err = parseAddr4(args[i])
		case "dev", "oif":
			i++
			r.Dev = args[i]
		case "src":
			i++
			r.PrefSrc, err = parseAddr4(args[i])
		case "to":
			i++
			r.Dst, err = parseDst(args[i])
			dstSet = true
		default:
			if t, terr := ParseType(w); terr == nil && !dstSet && i+1 < len(args) {
				r.Type = t
				continue
			}
			if dstSet {
				return r, fmt.Errorf("route: unknown argument %q", w)
			}
			r.Dst, err = parseDst(w)
			dstSet = true
		}
		if err != nil {
			return r, err
		}
	}
	if !dstSet {
		return r, fmt.Errorf("route: missing destination prefix")
	}
	if !tableSet {
		r.Table = TableMain
		switch r.Type {
		case TypeLocal, TypeBroadcast, TypeAnycast, TypeNAT:
			r.Table = TableLocal
		}
	}
	if !scopeSet {
		r.Scope = defaultScope(r, del)
	}
	return r, nil
}

// defaultScope is iproute2's choice when no scope is given.
func defaultScope(r Route, del bool) Scope {
	switch r.Type {
	case TypeLocal, TypeNAT:
		return ScopeHost
	case TypeBroadcast, TypeMulticast, TypeAnycast:
		return ScopeLink
	case TypeUnicast, TypeUnspec:
		if del {
			return ScopeNowhere
		}
		if !r.Gateway.IsValid() {
			return ScopeLink
		}
	}
	return ScopeUniverse
}

func takesArg(w string) bool {
	switch w {
	case "tos", "dsfield", "table", "proto", "protocol", "scope", "metric", "priority",
		"preference", "via", "dev", "oif", "src", "to":
		return true
	}
	return false
}

// parseDst parses "default", "all", ADDR or ADDR/LEN. Host bits are kept:
// the kernel, not iproute2, refuses them.
func parseDst(s string) (netip.Prefix, error) {
	if s == "default" || s == "all" || s == "any" {
		return netip.PrefixFrom(netip.IPv4Unspecified(), 0), nil
	}
	if !strings.Contains(s, "/") {
		a, err := parseAddr4(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		return netip.PrefixFrom(a, 32), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil || !p.Addr().Is4() {
		return netip.Prefix{}, fmt.Errorf("route: invalid prefix %q", s)
	}
	return p, nil
}

func parseAddr4(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		return netip.Addr{}, fmt.Errorf("route: invalid IPv4 address %q", s)
	}
	return a, nil
}

func parseTOS(s string) (uint8, error) {
	n, err := strconv.ParseUint(strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X"), 16, 8)
	if err != nil {
		return 0, fmt.Errorf("route: invalid TOS %q", s)
	}
	return uint8(n), nil
}

// RuleCommand is a parsed `ip rule add|del ...` command.
type RuleCommand struct {
	Verb     string // "add" or "del"
	Selector RuleSelector
}

// Apply runs the command in tx.
func (c RuleCommand) Apply(tx *Tx) error {
	if c.Verb == "add" {
		return tx.AddRule(c.Selector.Rule)
	}
	return tx.DelRule(c.Selector)
}

// ParseRuleCommand parses the words after `ip rule`. An added rule
// without an action looks up table main, as iproute2 sends it.
func ParseRuleCommand(args []string) (RuleCommand, error) {
	if len(args) == 0 {
		return RuleCommand{}, fmt.Errorf("rule: missing command")
	}
	var c RuleCommand
	switch args[0] {
	case "add", "a":
		c.Verb = "add"
	case "del", "delete", "d":
		c.Verb = "del"
		if len(args) == 1 {
			//lint:ignore ST1005 iproute2 prints this text
			return c, fmt.Errorf(`"ip rule del" requires arguments.`)
		}
	default:
		return c, fmt.Errorf("rule: unknown command %q", args[0])
	}
	s := RuleSelector{Rule: NewRule()}
	s.Table = TableUnspec
	s.Action = ActionUnspec
	for i := 1; i < len(args); i++ {
		n, err := parseRuleWord(&s, args[i:])
		if err != nil {
			return c, err
		}
		i += n
	}
	if c.Verb == "add" && s.Action == ActionUnspec {
		s.Action = ActionLookup
		if s.Set&FieldTable == 0 {
			s.Table = TableMain
		}
	}
	c.Selector = s
	return c, nil
}

// parseRuleWord parses one selector or action at args[0] and returns how
// many extra words it consumed.
func parseRuleWord(s *RuleSelector, args []string) (int, error) {
	w := args[0]
	arg := func() (string, error) {
		if len(args) < 2 {
			return "", fmt.Errorf("rule: %q needs an argument", w)
		}
		return args[1], nil
	}
	switch w {
	case "not":
		s.Invert = true
		s.Set |= FieldInvert
		return 0, nil
	case "nop":
		s.Action = ActionNop
		s.Set |= FieldAction
		return 0, nil
	case "blackhole", "unreachable", "prohibit":
		s.Action = map[string]Action{"blackhole": ActionBlackhole, "unreachable": ActionUnreachable, "prohibit": ActionProhibit}[w]
		s.Set |= FieldAction
		return 0, nil
	}
	v, err := arg()
	if err != nil {
		return 0, err
	}
	switch w {
	case "from", "to":
		p, err := parseDst(v)
		if err != nil {
			return 1, err
		}
		if w == "from" {
			s.Src, s.Set = p, s.Set|FieldSrc
		} else {
			s.Dst, s.Set = p, s.Set|FieldDst
		}
	case "tos", "dsfield":
		s.TOS, err = parseTOS(v)
		s.Set |= FieldTOS
	case "fwmark":
		err = parseMark(s, v)
	case "iif", "dev":
		s.IIF, s.Set = v, s.Set|FieldIIF
	case "oif":
		s.OIF, s.Set = v, s.Set|FieldOIF
	case "pref", "priority", "preference", "order":
		s.Priority, err = parseU32(w, v)
		s.PrioritySet, s.Set = true, s.Set|FieldPriority
	case "table", "lookup":
		s.Table, err = ParseTableID(v)
		s.Action, s.Set = ActionLookup, s.Set|FieldTable
	case "goto":
		s.Goto, err = parseU32(w, v)
		s.Action, s.Set = ActionGoto, s.Set|FieldGoto|FieldAction
	case "ipproto":
		s.IPProto, err = parseIPProto(v)
		s.Set |= FieldIPProto
	case "sport", "dport":
		var pr PortRange
		pr, err = parsePortRange(v)
		if w == "sport" {
			s.SPort, s.Set = pr, s.Set|FieldSPort
		} else {
			s.DPort, s.Set = pr, s.Set|FieldDPort
		}
	case "suppress_prefixlength", "sup_pl":
		var n uint64
		n, err = strconv.ParseUint(v, 0, 8)
		if err != nil || n > 32 {
			err = fmt.Errorf("rule: invalid suppress_prefixlength %q", v)
		}
		s.SuppressPrefixLen, s.Set = int(n), s.Set|FieldSuppressPrefixLen
	case "suppress_ifgroup", "sup_group":
		var n uint64
		n, err = strconv.ParseUint(v, 0, 31)
		s.SuppressIfGroup, s.Set = int(n), s.Set|FieldSuppressIfGroup
	case "protocol", "proto":
		s.Protocol, err = ParseProtocol(v)
	case "type":
		return 1, parseRuleType(s, v)
	default:
		return 0, fmt.Errorf("rule: unknown argument %q", w)
	}
	if err != nil {
		return 1, fmt.Errorf("rule: invalid %s %q: %w", w, v, err)
	}
	return 1, nil
}

func parseRuleType(s *RuleSelector, v string) error {
	_, err := parseRuleWord(s, []string{v})
	if err != nil {
		return fmt.Errorf("rule: invalid type %q", v)
	}
	return nil
}

func parseMark(s *RuleSelector, v string) error {
	m, mask, hasMask := strings.Cut(v, "/")
	mark, err := strconv.ParseUint(m, 0, 32)
	if err != nil {
		return fmt.Errorf("rule: invalid fwmark %q", v)
	}
	s.Mark, s.Mask = uint32(mark), 0xffffffff
	if hasMask {
		mk, err := strconv.ParseUint(mask, 0, 32)
		if err != nil {
			return fmt.Errorf("rule: invalid fwmark mask %q", v)
		}
		s.Mask = uint32(mk)
	}
	s.Set |= FieldMark
	return nil
}

func parseU32(w, v string) (uint32, error) {
	n, err := strconv.ParseUint(v, 0, 32)
	if err != nil {
		return 0, fmt.Errorf("rule: invalid %s %q", w, v)
	}
	return uint32(n), nil
}

var ipProtoNames = map[string]uint8{"icmp": 1, "igmp": 2, "tcp": 6, "udp": 17, "gre": 47, "esp": 50, "ah": 51, "icmpv6": 58, "ipv6-icmp": 58, "sctp": 132, "udplite": 136}

func parseIPProto(v string) (uint8, error) {
	if p, ok := ipProtoNames[v]; ok {
		return p, nil
	}
	n, err := strconv.ParseUint(v, 0, 8)
	if err != nil {
		return 0, fmt.Errorf("rule: invalid ipproto %q", v)
	}
	return uint8(n), nil
}

func parsePortRange(v string) (PortRange, error) {
	a, b, isRange := strings.Cut(v, "-")
	lo, err := strconv.ParseUint(a, 10, 16)
	if err != nil {
		return PortRange{}, fmt.Errorf("rule: invalid port %q", v)
	}
	hi := lo
	if isRange {
		if hi, err = strconv.ParseUint(b, 10, 16); err != nil || hi < lo {
			return PortRange{}, fmt.Errorf("rule: invalid port range %q", v)
		}
	}
	return PortRange{uint16(lo), uint16(hi)}, nil
}

// GetCommand is a parsed `ip route get ...`; interface names are
// resolved by Resolve.
type GetCommand struct {
	Query    Query
	IIF, OIF string
}

// ParseGetCommand parses the words after `ip route get`.
func ParseGetCommand(args []string) (GetCommand, error) {
	var g GetCommand
	dstSet := false
	for i := 0; i < len(args); i++ {
		w := args[i]
		if w == "fibmatch" || w == "connected" {
			continue
		}
		if i+1 >= len(args) {
			if dstSet {
				return g, fmt.Errorf("route: %q needs an argument", w)
			}
		}
		var err error
		switch {
		case w == "from" && i+1 < len(args):
			i++
			g.Query.Src, err = parseAddr4(args[i])
		case (w == "tos" || w == "dsfield") && i+1 < len(args):
			i++
			g.Query.TOS, err = parseTOS(args[i])
		case w == "mark" && i+1 < len(args):
			i++
			var n uint64
			n, err = strconv.ParseUint(args[i], 0, 32)
			if err != nil {
				err = fmt.Errorf("route: invalid mark %q", args[i])
			}
			g.Query.Mark = uint32(n)
		case w == "iif" && i+1 < len(args):
			i++
			g.IIF = args[i]
		case (w == "oif" || w == "dev") && i+1 < len(args):
			i++
			g.OIF = args[i]
		case w == "ipproto" && i+1 < len(args):
			i++
			g.Query.Proto, err = parseIPProto(args[i])
		case (w == "sport" || w == "dport") && i+1 < len(args):
			i++
			var n uint64
			n, err = strconv.ParseUint(args[i], 10, 16)
			if err != nil {
				err = fmt.Errorf("route: invalid port %q", args[i])
			}
			if w == "sport" {
				g.Query.SPort = uint16(n)
			} else {
				g.Query.DPort = uint16(n)
			}
		case w == "to" && i+1 < len(args):
			i++
			g.Query.Dst, err = parseAddr4(args[i])
			dstSet = true
		case !dstSet:
			g.Query.Dst, err = parseAddr4(w)
			dstSet = true
		default:
			return g, fmt.Errorf("route: unknown argument %q", w)
		}
		if err != nil {
			return g, err
		}
	}
	if !dstSet {
		return g, fmt.Errorf("route: missing destination address")
	}
	return g, nil
}

// Resolve fills the query's interface indexes from names.
func (db *RPDB) Resolve(g GetCommand) (Query, error) {
	q := g.Query
	s := db.cur.Load()
	for _, p := range []struct {
		name string
		idx  *int
	}{{g.IIF, &q.IIF}, {g.OIF, &q.OIF}} {
		if p.name == "" {
			continue
		}
		i, ok := s.byName[p.name]
		if !ok {
			//lint:ignore ST1005 iproute2 prints this text
			return q, fmt.Errorf("Cannot find device %q", p.name)
		}
		*p.idx = i
	}
	return q, nil
}

// Exec runs one `ip route ...` or `ip rule ...` line (the words after
// "ip", e.g. "route add 10.0.0.0/8 dev eth0") in tx, as `ip -batch` would.
func Exec(tx *Tx, line string) error {
	f := strings.Fields(line)
	if len(f) == 0 {
		return nil
	}
	switch f[0] {
	case "route", "r", "ro":
		c, err := ParseRouteCommand(f[1:])
		if err != nil {
			return err
		}
		return c.Apply(tx)
	case "rule", "ru":
		c, err := ParseRuleCommand(f[1:])
		if err != nil {
			return err
		}
		return c.Apply(tx)
	}
	return fmt.Errorf("ip: unknown object %q", f[0])
}
