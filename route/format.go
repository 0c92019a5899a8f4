package route

import (
	"fmt"
	"strconv"
	"strings"
)

// FormatRoute prints r as `ip route show` does (iproute2 6.1), including
// its trailing space. showTable prints "table T" for tables other than
// main, as `ip route show table all` does.
func FormatRoute(r *Route, showTable bool) string {
	var b strings.Builder
	if r.Type != TypeUnicast {
		b.WriteString(r.Type.String() + " ")
	}
	b.WriteString(formatDst(r))
	if r.TOS != 0 {
		fmt.Fprintf(&b, " tos 0x%02x", r.TOS)
	}
	if r.Gateway.IsValid() {
		b.WriteString(" via " + r.Gateway.String())
	}
	if r.Dev != "" {
		b.WriteString(" dev " + r.Dev)
	}
	if showTable && r.Table != TableMain {
		b.WriteString(" table " + r.Table.String())
	}
	if r.Protocol != ProtoBoot {
		b.WriteString(" proto " + r.Protocol.String())
	}
	if r.Scope != ScopeUniverse {
		b.WriteString(" scope " + r.Scope.String())
	}
	if r.PrefSrc.IsValid() {
		b.WriteString(" src " + r.PrefSrc.String())
	}
	if r.Metric != 0 {
		b.WriteString(" metric " + strconv.FormatUint(uint64(r.Metric), 10))
	}
	b.WriteString(" ")
	return b.String()
}

func formatDst(r *Route) string {
	if r.Dst.Bits() == 0 {
		return "default"
	}
	if r.Dst.Bits() == 32 {
		return r.Dst.Addr().String()
	}
	return r.Dst.String()
}

// ShowRoutes prints a table as `ip route show table T` does, or every
// table (TableUnspec) as `ip route show table all` does (IPv4 only).
func (db *RPDB) ShowRoutes(id TableID) []string {
	rs := db.Routes(id)
	out := make([]string, len(rs))
	for i := range rs {
		out[i] = FormatRoute(&rs[i], id == TableUnspec)
	}
	return out
}

// ShowRules prints the rules as `ip rule show` does.
func (db *RPDB) ShowRules() []string {
	s := db.cur.Load()
	out := make([]string, len(s.rules))
	for i := range s.rules {
		out[i] = formatRule(&s.rules[i])
	}
	return out
}

func formatRule(c *compiledRule) string {
	r := &c.Rule
	var b strings.Builder
	fmt.Fprintf(&b, "%d:\t", r.Priority)
	if r.Invert {
		b.WriteString("not ")
	}
	b.WriteString("from " + prefixOrAll(r.Src.String(), r.Src.IsValid() && r.Src.Bits() > 0, r.Src.Bits()))
	if r.Dst.IsValid() && r.Dst.Bits() > 0 {
		b.WriteString(" to " + prefixOrAll(r.Dst.String(), true, r.Dst.Bits()))
	}
	if r.TOS != 0 {
		fmt.Fprintf(&b, " tos 0x%02x", r.TOS)
	}
	if r.Mask != 0 || r.Mark != 0 {
		fmt.Fprintf(&b, " fwmark 0x%x", r.Mark)
		if r.Mask != 0xffffffff {
			fmt.Fprintf(&b, "/0x%x", r.Mask)
		}
	}
	if r.IIF != "" {
		b.WriteString(" iif " + r.IIF + detached(c.iif))
	}
	if r.OIF != "" {
		b.WriteString(" oif " + r.OIF + detached(c.oif))
	}
	if r.IPProto != 0 {
		b.WriteString(" ipproto " + ipProtoName(r.IPProto))
	}
	writePorts(&b, "sport", r.SPort)
	writePorts(&b, "dport", r.DPort)
	switch r.Action {
	case ActionLookup:
		b.WriteString(" lookup " + r.Table.String())
	case ActionGoto:
		fmt.Fprintf(&b, " goto %d", r.Goto)
		if c.target < 0 {
			b.WriteString(" [unresolved]")
		}
	case ActionNop:
		b.WriteString(" nop")
	case ActionBlackhole, ActionUnreachable, ActionProhibit:
		b.WriteString(" " + map[Action]string{ActionBlackhole: "blackhole", ActionUnreachable: "unreachable", ActionProhibit: "prohibit"}[r.Action])
	}
	if r.SuppressPrefixLen >= 0 {
		fmt.Fprintf(&b, " suppress_prefixlength %d", r.SuppressPrefixLen)
	}
	if r.SuppressIfGroup >= 0 {
		fmt.Fprintf(&b, " suppress_ifgroup %d", r.SuppressIfGroup)
	}
	return b.String()
}

func prefixOrAll(s string, set bool, bits int) string {
	if !set {
		return "all"
	}
	if bits == 32 {
		return strings.TrimSuffix(s, "/32")
	}
	return s
}

func detached(idx int) string {
	if idx < 0 {
		return " [detached]"
	}
	return ""
}

func writePorts(b *strings.Builder, name string, p PortRange) {
	if !p.set() {
		return
	}
	if p.Start == p.End {
		fmt.Fprintf(b, " %s %d", name, p.Start)
		return
	}
	fmt.Fprintf(b, " %s %d-%d", name, p.Start, p.End)
}

func ipProtoName(p uint8) string {
	for n, v := range ipProtoNames {
		if v == p && n != "ipv6-icmp" {
			return n
		}
	}
	return strconv.Itoa(int(p))
}

// FormatGet prints an answer as `ip route get` does (two lines, the
// second starting with four spaces "cache").
func (db *RPDB) FormatGet(q Query, res Result) string {
	s := db.cur.Load()
	var b strings.Builder
	if res.Type != TypeUnicast {
		b.WriteString(res.Type.String() + " ")
	}
	b.WriteString(q.Dst.String())
	if q.Src.IsValid() && !q.Src.IsUnspecified() {
		b.WriteString(" from " + q.Src.String())
	}
	if q.TOS&tosMask != 0 {
		fmt.Fprintf(&b, " tos 0x%02x", q.TOS&tosMask)
	}
	if res.Gateway.IsValid() {
		b.WriteString(" via " + res.Gateway.String())
	}
	b.WriteString(" dev " + res.Dev)
	if t := res.ShownTable(); t != TableUnspec && t != TableMain {
		b.WriteString(" table " + t.String())
	}
	if !res.Input && !(q.Src.IsValid() && !q.Src.IsUnspecified()) && res.Src.IsValid() {
		b.WriteString(" src " + res.Src.String())
	}
	switch {
	case q.Mark >= 16: // iproute2 prints small marks in decimal
		fmt.Fprintf(&b, " mark 0x%x", q.Mark)
	case q.Mark != 0:
		fmt.Fprintf(&b, " mark %d", q.Mark)
	}
	if !res.Input {
		b.WriteString(" uid 0")
	}
	b.WriteString(" \n    cache ")
	switch res.Type {
	case TypeLocal:
		b.WriteString("<local> ")
	case TypeBroadcast:
		b.WriteString("<local,brd> ")
	}
	if res.Input {
		b.WriteString("iif " + s.linkName(q.IIF) + " ")
	}
	return b.String()
}

// ShownTable is the table `ip route get` reports: none for the on-link
// fallback of an output lookup.
func (res *Result) ShownTable() TableID {
	if res.Route == nil && !res.Input {
		return TableUnspec
	}
	return res.Table
}
