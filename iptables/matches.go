package iptables

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	nf "tapestry/netfilter"
)

// opt is one module option: --name with nargs arguments.
type opt struct {
	name  string
	nargs int
	set   func(m any, args []string, inv bool) error
}

type matchMod struct {
	name  string
	opts  []opt
	new   func() nf.Match
	final func(nf.Match) error
}

func (m *matchMod) opt(name string) *opt {
	for i := range m.opts {
		if m.opts[i].name == name {
			return &m.opts[i]
		}
	}
	return nil
}

var errNoInv = errors.New("option does not take \"!\"")

func noInv(inv bool) error {
	if inv {
		return errNoInv
	}
	return nil
}

func portOpt(name string, sel func(m any) (**nf.PortRange, *bool)) opt {
	return opt{name: name, nargs: 1, set: func(m any, a []string, inv bool) error {
		lo, hi, err := parsePortRange(a[0], ':')
		if err != nil {
			return err
		}
		r, i := sel(m)
		*r, *i = &nf.PortRange{Lo: lo, Hi: hi}, inv
		return nil
	}}
}

// tcpFlagNames in the order iptables prints them (libxt_tcp's table).
var tcpFlagNames = []struct {
	name string
	bit  uint8
}{{"FIN", 0x01}, {"SYN", 0x02}, {"RST", 0x04}, {"PSH", 0x08}, {"ACK", 0x10}, {"URG", 0x20}}

func parseTCPFlags(s string) (uint8, error) {
	var f uint8
	for _, n := range strings.Split(s, ",") {
		switch u := strings.ToUpper(n); u {
		case "ALL":
			f |= 0x3f
		case "NONE":
		default:
			ok := false
			for _, x := range tcpFlagNames {
				if x.name == u {
					f |= x.bit
					ok = true
				}
			}
			if !ok {
				return 0, fmt.Errorf("unknown TCP flag %q", n)
			}
		}
	}
	return f, nil
}

var tcpMod = matchMod{name: "tcp", new: func() nf.Match { return &nf.TCPMatch{} }, opts: []opt{
	portOpt("sport", func(m any) (**nf.PortRange, *bool) { t := m.(*nf.TCPMatch); return &t.Src, &t.InvSrc }),
	portOpt("source-port", func(m any) (**nf.PortRange, *bool) { t := m.(*nf.TCPMatch); return &t.Src, &t.InvSrc }),
	portOpt("dport", func(m any) (**nf.PortRange, *bool) { t := m.(*nf.TCPMatch); return &t.Dst, &t.InvDst }),
	portOpt("destination-port", func(m any) (**nf.PortRange, *bool) { t := m.(*nf.TCPMatch); return &t.Dst, &t.InvDst }),
	{name: "syn", set: func(m any, a []string, inv bool) error {
		t := m.(*nf.TCPMatch)
		t.HasFlags, t.FlagsMask, t.FlagsCmp, t.InvFlags = true, 0x17, 0x02, inv
		return nil
	}},
	{name: "tcp-flags", nargs: 2, set: func(m any, a []string, inv bool) error {
		t := m.(*nf.TCPMatch)
		mask, err := parseTCPFlags(a[0])
		if err != nil {
			return err
		}
		cmp, err := parseTCPFlags(a[1])
		if err != nil {
			return err
		}
		t.HasFlags, t.FlagsMask, t.FlagsCmp, t.InvFlags = true, mask, cmp, inv
		return nil
	}},
	{name: "tcp-option", nargs: 1, set: func(m any, a []string, inv bool) error {
		t := m.(*nf.TCPMatch)
		n, err := strconv.ParseUint(a[0], 10, 8)
		if err != nil {
			return fmt.Errorf("bad TCP option %q", a[0])
		}
		t.HasOption, t.Option, t.InvOption = true, uint8(n), inv
		return nil
	}},
}}

var udpMod = matchMod{name: "udp", new: func() nf.Match { return &nf.UDPMatch{} }, opts: []opt{
	portOpt("sport", func(m any) (**nf.PortRange, *bool) { t := m.(*nf.UDPMatch); return &t.Src, &t.InvSrc }),
	portOpt("source-port", func(m any) (**nf.PortRange, *bool) { t := m.(*nf.UDPMatch); return &t.Src, &t.InvSrc }),
	portOpt("dport", func(m any) (**nf.PortRange, *bool) { t := m.(*nf.UDPMatch); return &t.Dst, &t.InvDst }),
	portOpt("destination-port", func(m any) (**nf.PortRange, *bool) { t := m.(*nf.UDPMatch); return &t.Dst, &t.InvDst }),
}}

// icmpTypes are iptables' ICMP type names (libxt_icmp) with their type
// and code range.
var icmpTypes = []struct {
	name       string
	typ        uint8
	cmin, cmax uint8
}{
	{"any", 0xff, 0, 0xff},
	{"echo-reply", 0, 0, 0xff}, {"pong", 0, 0, 0xff},
	{"destination-unreachable", 3, 0, 0xff},
	{"network-unreachable", 3, 0, 0}, {"host-unreachable", 3, 1, 1}, {"protocol-unreachable", 3, 2, 2},
	{"port-unreachable", 3, 3, 3}, {"fragmentation-needed", 3, 4, 4}, {"source-route-failed", 3, 5, 5},
	{"network-unknown", 3, 6, 6}, {"host-unknown", 3, 7, 7}, {"network-prohibited", 3, 9, 9},
	{"host-prohibited", 3, 10, 10}, {"TOS-network-unreachable", 3, 11, 11}, {"TOS-host-unreachable", 3, 12, 12},
	{"communication-prohibited", 3, 13, 13}, {"host-precedence-violation", 3, 14, 14}, {"precedence-cutoff", 3, 15, 15},
	{"source-quench", 4, 0, 0xff},
	{"redirect", 5, 0, 0xff}, {"network-redirect", 5, 0, 0}, {"host-redirect", 5, 1, 1},
	{"TOS-network-redirect", 5, 2, 2}, {"TOS-host-redirect", 5, 3, 3},
	{"echo-request", 8, 0, 0xff}, {"ping", 8, 0, 0xff},
	{"router-advertisement", 9, 0, 0xff}, {"router-solicitation", 10, 0, 0xff},
	{"time-exceeded", 11, 0, 0xff}, {"ttl-exceeded", 11, 0, 0xff}, {"ttl-zero-during-transit", 11, 0, 0},
	{"ttl-zero-during-reassembly", 11, 1, 1},
	{"parameter-problem", 12, 0, 0xff}, {"ip-header-bad", 12, 0, 0}, {"required-option-missing", 12, 1, 1},
	{"timestamp-request", 13, 0, 0xff}, {"timestamp-reply", 14, 0, 0xff},
	{"address-mask-request", 17, 0, 0xff}, {"address-mask-reply", 18, 0, 0xff},
}

func parseICMPType(s string, m *nf.ICMPMatch) error {
	for _, t := range icmpTypes {
		if strings.EqualFold(t.name, s) {
			m.Type, m.CodeMin, m.CodeMax, m.Any = t.typ, t.cmin, t.cmax, t.typ == 0xff
			return nil
		}
	}
	ts, cs, hasCode := strings.Cut(s, "/")
	t, err := strconv.ParseUint(ts, 10, 8)
	if err != nil {
		return fmt.Errorf("invalid ICMP type %q", s)
	}
	m.Type, m.CodeMin, m.CodeMax = uint8(t), 0, 0xff
	if hasCode {
		c, err := strconv.ParseUint(cs, 10, 8)
		if err != nil {
			return fmt.Errorf("invalid ICMP code %q", cs)
		}
		m.CodeMin, m.CodeMax = uint8(c), uint8(c)
	}
	return nil
}

var icmpMod = matchMod{name: "icmp", new: func() nf.Match { return &nf.ICMPMatch{} }, opts: []opt{
	{name: "icmp-type", nargs: 1, set: func(m any, a []string, inv bool) error {
		t := m.(*nf.ICMPMatch)
		t.Inv = inv
		return parseICMPType(a[0], t)
	}},
}, final: func(m nf.Match) error {
	return nil
}}

func multiportOpt(name string, dir uint8) opt {
	return opt{name: name, nargs: 1, set: func(m any, a []string, inv bool) error {
		t := m.(*nf.MultiportMatch)
		t.Dir, t.Inv, t.Ports = dir, inv, nil
		n := 0
		for _, p := range strings.Split(a[0], ",") {
			lo, hi, err := parsePortRange(p, ':')
			if err != nil {
				return err
			}
			n++
			if lo != hi {
				n++
			}
			t.Ports = append(t.Ports, nf.PortRange{Lo: lo, Hi: hi})
		}
		if n > 15 {
			return errors.New("too many ports specified")
		}
		return nil
	}}
}

var multiportMod = matchMod{name: "multiport", new: func() nf.Match { return &nf.MultiportMatch{} }, opts: []opt{
	multiportOpt("sports", nf.MultiportSrc), multiportOpt("source-ports", nf.MultiportSrc),
	multiportOpt("dports", nf.MultiportDst), multiportOpt("destination-ports", nf.MultiportDst),
	multiportOpt("ports", nf.MultiportAny),
}, final: func(m nf.Match) error {
	if len(m.(*nf.MultiportMatch).Ports) == 0 {
		return errors.New("multiport expects an option")
	}
	return nil
}}

var markMod = matchMod{name: "mark", new: func() nf.Match { return &nf.MarkMatch{} }, opts: []opt{
	{name: "mark", nargs: 1, set: func(m any, a []string, inv bool) error {
		t := m.(*nf.MarkMatch)
		v, mk, err := parseValueMask(a[0], ^uint32(0))
		t.Value, t.Mask, t.Inv = v&mk, mk, inv
		return err
	}},
}, final: func(m nf.Match) error {
	if m.(*nf.MarkMatch).Mask == 0 {
		return errors.New("mark match: you must specify \"--mark\"")
	}
	return nil
}}

var connmarkMod = matchMod{name: "connmark", new: func() nf.Match { return &nf.ConnmarkMatch{} }, opts: []opt{
	{name: "mark", nargs: 1, set: func(m any, a []string, inv bool) error {
		t := m.(*nf.ConnmarkMatch)
		v, mk, err := parseValueMask(a[0], ^uint32(0))
		t.Value, t.Mask, t.Inv = v&mk, mk, inv
		return err
	}},
}}

func parseStates(s string, allowNAT bool) (nf.CtState, error) {
	var st nf.CtState
	for _, n := range strings.Split(s, ",") {
		ok := false
		for _, x := range nf.CtStateNames {
			if strings.EqualFold(x.Name, n) && (allowNAT || x.State&(nf.StateSNAT|nf.StateDNAT) == 0) {
				st |= x.State
				ok = true
			}
		}
		if !ok {
			return 0, fmt.Errorf("bad state %q", n)
		}
	}
	return st, nil
}

var stateMod = matchMod{name: "state", new: func() nf.Match { return &nf.StateMatch{} }, opts: []opt{
	{name: "state", nargs: 1, set: func(m any, a []string, inv bool) error {
		t := m.(*nf.StateMatch)
		st, err := parseStates(a[0], false)
		t.States, t.Inv = st, inv
		return err
	}},
}, final: func(m nf.Match) error {
	if m.(*nf.StateMatch).States == 0 {
		return errors.New("state match: you must specify \"--state\"")
	}
	return nil
}}

func ctAddrOpt(name string, sel func(*nf.ConntrackMatch) (*netip.Prefix, *bool)) opt {
	return opt{name: name, nargs: 1, set: func(m any, a []string, inv bool) error {
		p, err := parseAddr(a[0])
		if err != nil {
			return err
		}
		pp, ip := sel(m.(*nf.ConntrackMatch))
		*pp, *ip = p, inv
		return nil
	}}
}

var conntrackMod = matchMod{name: "conntrack", new: func() nf.Match { return &nf.ConntrackMatch{} }, opts: []opt{
	{name: "ctstate", nargs: 1, set: func(m any, a []string, inv bool) error {
		t := m.(*nf.ConntrackMatch)
		st, err := parseStates(a[0], true)
		t.State, t.HasState, t.InvState = st, true, inv
		return err
	}},
	{name: "ctproto", nargs: 1, set: func(m any, a []string, inv bool) error {
		t := m.(*nf.ConntrackMatch)
		p, err := protoByName(a[0])
		t.Proto, t.HasProto, t.InvProto = p, true, inv
		return err
	}},
	ctAddrOpt("ctorigsrc", func(t *nf.ConntrackMatch) (*netip.Prefix, *bool) { return &t.OrigSrc, &t.InvOrigSrc }),
	ctAddrOpt("ctorigdst", func(t *nf.ConntrackMatch) (*netip.Prefix, *bool) { return &t.OrigDst, &t.InvOrigDst }),
	ctAddrOpt("ctreplsrc", func(t *nf.ConntrackMatch) (*netip.Prefix, *bool) { return &t.ReplSrc, &t.InvReplSrc }),
	ctAddrOpt("ctrepldst", func(t *nf.ConntrackMatch) (*netip.Prefix, *bool) { return &t.ReplDst, &t.InvReplDst }),
	{name: "ctdir", nargs: 1, set: func(m any, a []string, inv bool) error {
		t := m.(*nf.ConntrackMatch)
		switch strings.ToUpper(a[0]) {
		case "ORIGINAL":
			t.Dir = nf.CtDirOriginal
		case "REPLY":
			t.Dir = nf.CtDirReply
		default:
			return fmt.Errorf("bad --ctdir %q (ORIGINAL or REPLY)", a[0])
		}
		return noInv(inv)
	}},
}}

func rangeOpt(name string, src bool) opt {
	return opt{name: name, nargs: 1, set: func(m any, a []string, inv bool) error {
		t := m.(*nf.IPRangeMatch)
		ls, hs, ok := strings.Cut(a[0], "-")
		lo, err1 := netip.ParseAddr(ls)
		hi, err2 := netip.ParseAddr(hs)
		if !ok || err1 != nil || err2 != nil || !lo.Is4() || !hi.Is4() {
			return fmt.Errorf("bad IP range %q", a[0])
		}
		if src {
			t.SrcLo, t.SrcHi, t.InvSrc = lo, hi, inv
		} else {
			t.DstLo, t.DstHi, t.InvDst = lo, hi, inv
		}
		return nil
	}}
}

var iprangeMod = matchMod{name: "iprange", new: func() nf.Match { return &nf.IPRangeMatch{} }, opts: []opt{
	rangeOpt("src-range", true), rangeOpt("dst-range", false),
}}

var macMod = matchMod{name: "mac", new: func() nf.Match { return &nf.MACMatch{} }, opts: []opt{
	{name: "mac-source", nargs: 1, set: func(m any, a []string, inv bool) error {
		t := m.(*nf.MACMatch)
		parts := strings.Split(a[0], ":")
		if len(parts) != 6 {
			return fmt.Errorf("bad mac address %q", a[0])
		}
		for i, p := range parts {
			v, err := strconv.ParseUint(p, 16, 8)
			if err != nil || len(p) > 2 {
				return fmt.Errorf("bad mac address %q", a[0])
			}
			t.Addr[i] = uint8(v)
		}
		t.Inv = inv
		return nil
	}},
}}

// tosNames are the RFC 1349 TOS names iptables accepts; a name implies
// the mask 0x3f.
var tosNames = map[string]uint8{"minimize-delay": 0x10, "maximize-throughput": 0x08, "maximize-reliability": 0x04, "minimize-cost": 0x02, "normal-service": 0x00}

func parseTOS(s string) (v, m uint8, err error) {
	if x, ok := tosNames[strings.ToLower(s)]; ok {
		return x, 0x3f, nil
	}
	vv, mm, err := parseValueMask(s, 0xff)
	if err != nil || vv > 0xff || mm > 0xff {
		return 0, 0, fmt.Errorf("bad TOS value %q", s)
	}
	return uint8(vv), uint8(mm), nil
}

var tosMod = matchMod{name: "tos", new: func() nf.Match { return &nf.TOSMatch{} }, opts: []opt{
	{name: "tos", nargs: 1, set: func(m any, a []string, inv bool) error {
		t := m.(*nf.TOSMatch)
		v, mk, err := parseTOS(a[0])
		t.Value, t.Mask, t.Inv = v&mk, mk, inv
		return err
	}},
}}

// dscpClasses are the DiffServ class names (RFC 2474, 2597, 3246).
var dscpClasses = map[string]uint8{
	"CS0": 0, "CS1": 8, "CS2": 16, "CS3": 24, "CS4": 32, "CS5": 40, "CS6": 48, "CS7": 56, "BE": 0,
	"AF11": 10, "AF12": 12, "AF13": 14, "AF21": 18, "AF22": 20, "AF23": 22, "AF31": 26, "AF32": 28, "AF33": 30,
	"AF41": 34, "AF42": 36, "AF43": 38, "EF": 46,
}

func parseDSCP(s string, class bool) (uint8, error) {
	if class {
		v, ok := dscpClasses[strings.ToUpper(s)]
		if !ok {
			return 0, fmt.Errorf("bad DSCP class %q", s)
		}
		return v, nil
	}
	v, err := strconv.ParseUint(s, 0, 8)
	if err != nil || v > 63 {
		return 0, fmt.Errorf("bad DSCP value %q (0 to 63)", s)
	}
	return uint8(v), nil
}

var dscpMod = matchMod{name: "dscp", new: func() nf.Match { return &nf.DSCPMatch{} }, opts: []opt{
	{name: "dscp", nargs: 1, set: func(m any, a []string, inv bool) error {
		t := m.(*nf.DSCPMatch)
		v, err := parseDSCP(a[0], false)
		t.Value, t.Inv = v, inv
		return err
	}},
	{name: "dscp-class", nargs: 1, set: func(m any, a []string, inv bool) error {
		t := m.(*nf.DSCPMatch)
		v, err := parseDSCP(a[0], true)
		t.Value, t.Inv = v, inv
		return err
	}},
}}

var lengthMod = matchMod{name: "length", new: func() nf.Match { return &nf.LengthMatch{} }, opts: []opt{
	{name: "length", nargs: 1, set: func(m any, a []string, inv bool) error {
		t := m.(*nf.LengthMatch)
		ls, hs, has := strings.Cut(a[0], ":")
		lo, err := strconv.ParseUint(ls, 10, 16)
		if err != nil {
			return fmt.Errorf("bad length %q", a[0])
		}
		hi := lo
		if has {
			if hi, err = strconv.ParseUint(hs, 10, 16); err != nil {
				return fmt.Errorf("bad length %q", a[0])
			}
		}
		t.Min, t.Max, t.Inv = uint16(lo), uint16(hi), inv
		return nil
	}},
}}

// limitUnits are xt_limit's rate units in seconds.
var limitUnits = []struct {
	names []string
	secs  uint32
	print string
}{
	{[]string{"day", "d"}, 86400, "day"}, {[]string{"hour", "h"}, 3600, "hour"},
	{[]string{"minute", "min", "m"}, 60, "min"}, {[]string{"second", "sec", "s"}, 1, "sec"},
}

func parseRate(s string) (uint32, error) {
	num, unit, has := strings.Cut(s, "/")
	n, err := strconv.ParseUint(num, 10, 32)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("bad rate %q", s)
	}
	secs := uint32(1)
	if has {
		secs = 0
		for _, u := range limitUnits {
			for _, name := range u.names {
				if strings.EqualFold(unit, name) {
					secs = u.secs
				}
			}
		}
		if secs == 0 {
			return 0, fmt.Errorf("bad rate unit %q", unit)
		}
	}
	avg := uint64(secs) * nf.LimitScale / n
	if avg == 0 {
		return 0, fmt.Errorf("rate too fast %q", s)
	}
	return uint32(avg), nil
}

// rateString is libxt_limit's print_rate: the largest unit that shows
// the rate exactly.
func rateString(avg uint32) string {
	i := 1
	for ; i < len(limitUnits); i++ {
		mult := limitUnits[i].secs * nf.LimitScale
		if avg > mult || mult/avg < mult%avg {
			break
		}
	}
	u := limitUnits[i-1]
	return fmt.Sprintf("%d/%s", u.secs*nf.LimitScale/avg, u.print)
}

var limitMod = matchMod{name: "limit", new: func() nf.Match { return &nf.LimitMatch{Avg: nf.LimitScale * 3600 / 3, Burst: 5} }, opts: []opt{
	{name: "limit", nargs: 1, set: func(m any, a []string, inv bool) error {
		t := m.(*nf.LimitMatch)
		avg, err := parseRate(a[0])
		t.Avg = avg
		if err != nil {
			return err
		}
		return noInv(inv)
	}},
	{name: "limit-burst", nargs: 1, set: func(m any, a []string, inv bool) error {
		t := m.(*nf.LimitMatch)
		n, err := strconv.ParseUint(a[0], 10, 32)
		if err != nil || n == 0 || n > 10000 {
			return fmt.Errorf("bad --limit-burst %q", a[0])
		}
		t.Burst = uint32(n)
		return noInv(inv)
	}},
}}

var commentMod = matchMod{name: "comment", new: func() nf.Match { return &nf.CommentMatch{} }, opts: []opt{
	{name: "comment", nargs: 1, set: func(m any, a []string, inv bool) error {
		if len(a[0]) > 255 {
			return errors.New("comment too long (255 bytes max)")
		}
		m.(*nf.CommentMatch).Text = a[0]
		return noInv(inv)
	}},
}}

func parseAddrTypes(s string) (nf.AddrType, error) {
	var t nf.AddrType
	for _, n := range strings.Split(s, ",") {
		ok := false
		for i, name := range nf.AddrTypeNames {
			if strings.EqualFold(name, n) {
				t |= 1 << i
				ok = true
			}
		}
		if !ok {
			return 0, fmt.Errorf("bad address type %q", n)
		}
	}
	return t, nil
}

var addrtypeMod = matchMod{name: "addrtype", new: func() nf.Match { return &nf.AddrTypeMatch{} }, opts: []opt{
	{name: "src-type", nargs: 1, set: func(m any, a []string, inv bool) error {
		t := m.(*nf.AddrTypeMatch)
		v, err := parseAddrTypes(a[0])
		t.Src, t.InvSrc = v, inv
		return err
	}},
	{name: "dst-type", nargs: 1, set: func(m any, a []string, inv bool) error {
		t := m.(*nf.AddrTypeMatch)
		v, err := parseAddrTypes(a[0])
		t.Dst, t.InvDst = v, inv
		return err
	}},
	{name: "limit-iface-in", set: func(m any, a []string, inv bool) error {
		m.(*nf.AddrTypeMatch).LimitIn = true
		return noInv(inv)
	}},
	{name: "limit-iface-out", set: func(m any, a []string, inv bool) error {
		m.(*nf.AddrTypeMatch).LimitOut = true
		return noInv(inv)
	}},
}, final: func(m nf.Match) error {
	t := m.(*nf.AddrTypeMatch)
	if t.Src == 0 && t.Dst == 0 {
		return errors.New("addrtype: you must specify --src-type or --dst-type")
	}
	if t.LimitIn && t.LimitOut {
		return errors.New("addrtype: --limit-iface-in and --limit-iface-out are exclusive")
	}
	return nil
}}

func ttlOpt(name string, mode uint8) opt {
	return opt{name: name, nargs: 1, set: func(m any, a []string, inv bool) error {
		t := m.(*nf.TTLMatch)
		v, err := strconv.ParseUint(a[0], 10, 8)
		if err != nil {
			return fmt.Errorf("bad TTL %q", a[0])
		}
		t.Mode, t.Value = mode, uint8(v)
		if inv {
			if mode != nf.TTLEq {
				return errNoInv
			}
			t.Mode = nf.TTLNe
		}
		return nil
	}}
}

var ttlMod = matchMod{name: "ttl", new: func() nf.Match { return &nf.TTLMatch{Mode: 0xff} }, opts: []opt{
	ttlOpt("ttl-eq", nf.TTLEq), ttlOpt("ttl-lt", nf.TTLLt), ttlOpt("ttl-gt", nf.TTLGt),
}, final: func(m nf.Match) error {
	if m.(*nf.TTLMatch).Mode == 0xff {
		return errors.New("ttl: you must specify one of --ttl-eq, --ttl-lt, --ttl-gt")
	}
	return nil
}}

var ownerMod = matchMod{name: "owner", new: func() nf.Match { return &nf.OwnerMatch{} }, opts: []opt{
	{name: "uid-owner", nargs: 1, set: func(m any, a []string, inv bool) error {
		t := m.(*nf.OwnerMatch)
		ls, hs, has := strings.Cut(a[0], "-")
		lo, err := strconv.ParseUint(ls, 10, 32)
		if err != nil {
			if ls == "root" {
				lo, err = 0, nil
			} else {
				return fmt.Errorf("bad UID %q (numeric uids only)", a[0])
			}
		}
		hi := lo
		if has {
			if hi, err = strconv.ParseUint(hs, 10, 32); err != nil {
				return fmt.Errorf("bad UID range %q", a[0])
			}
		}
		t.UIDMin, t.UIDMax, t.Inv = uint32(lo), uint32(hi), inv
		return nil
	}},
}}

var matchMods = map[string]*matchMod{}

func init() {
	for _, m := range []*matchMod{&tcpMod, &udpMod, &icmpMod, &multiportMod, &markMod, &connmarkMod, &stateMod, &conntrackMod, &iprangeMod, &macMod, &tosMod, &dscpMod, &lengthMod, &limitMod, &commentMod, &addrtypeMod, &ttlMod, &ownerMod} {
		matchMods[m.name] = m
	}
}
