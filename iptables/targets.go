package iptables

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	nf "tapestry/netfilter"
)

type targetMod struct {
	name  string
	opts  []opt
	new   func() nf.Target
	final func(nf.Target) error
}

func (m *targetMod) opt(name string) *opt {
	for i := range m.opts {
		if m.opts[i].name == name {
			return &m.opts[i]
		}
	}
	return nil
}

func simpleTarget(name string, t func() nf.Target) *targetMod {
	return &targetMod{name: name, new: t}
}

var rejectMod = targetMod{name: "REJECT", new: func() nf.Target { return &nf.RejectTarget{} }, opts: []opt{
	{name: "reject-with", nargs: 1, set: func(m any, a []string, inv bool) error {
		aliases := map[string]nf.RejectWith{
			"icmp-net-unreachable": nf.RejectNetUnreach, "net-unreach": nf.RejectNetUnreach,
			"icmp-host-unreachable": nf.RejectHostUnreach, "host-unreach": nf.RejectHostUnreach,
			"icmp-proto-unreachable": nf.RejectProtoUnreach, "proto-unreach": nf.RejectProtoUnreach,
			"icmp-port-unreachable": nf.RejectPortUnreach, "port-unreach": nf.RejectPortUnreach,
			"icmp-net-prohibited": nf.RejectNetProhibited, "net-prohib": nf.RejectNetProhibited,
			"icmp-host-prohibited": nf.RejectHostProhibited, "host-prohib": nf.RejectHostProhibited,
			"icmp-admin-prohibited": nf.RejectAdminProhibited, "admin-prohib": nf.RejectAdminProhibited,
			"tcp-reset": nf.RejectTCPReset, "tcp-rst": nf.RejectTCPReset,
		}
		w, ok := aliases[a[0]]
		if !ok {
			return fmt.Errorf("unknown reject type %q", a[0])
		}
		m.(*nf.RejectTarget).With = w
		return noInv(inv)
	}},
}}

var logLevels = []string{"emerg", "alert", "crit", "error", "warning", "notice", "info", "debug"}

var logMod = targetMod{name: "LOG", new: func() nf.Target { return &nf.LogTarget{Level: 4} }, opts: []opt{
	{name: "log-prefix", nargs: 1, set: func(m any, a []string, inv bool) error {
		if len(a[0]) > 29 {
			return fmt.Errorf("maximum prefix length 29 for --log-prefix %q", a[0])
		}
		m.(*nf.LogTarget).Prefix = a[0]
		return noInv(inv)
	}},
	{name: "log-level", nargs: 1, set: func(m any, a []string, inv bool) error {
		t := m.(*nf.LogTarget)
		for i, n := range logLevels {
			if strings.EqualFold(n, a[0]) || (n == "error" && strings.EqualFold(a[0], "err")) || (n == "warning" && strings.EqualFold(a[0], "warn")) {
				t.Level = uint8(i)
				return noInv(inv)
			}
		}
		v, err := strconv.ParseUint(a[0], 10, 8)
		if err != nil || v > 7 {
			return fmt.Errorf("log level %q unknown", a[0])
		}
		t.Level = uint8(v)
		return noInv(inv)
	}},
	logFlag("log-tcp-sequence", 1), logFlag("log-tcp-options", 2), logFlag("log-ip-options", 4), logFlag("log-uid", 8),
}}

func logFlag(name string, bit uint8) opt {
	return opt{name: name, set: func(m any, a []string, inv bool) error {
		m.(*nf.LogTarget).Flags |= bit
		return noInv(inv)
	}}
}

func u32Opt(name string, set func(t any, v, m uint32)) opt {
	return opt{name: name, nargs: 1, set: func(t any, a []string, inv bool) error {
		v, m, err := parseValueMask(a[0], ^uint32(0))
		if err != nil {
			return err
		}
		set(t, v, m)
		return noInv(inv)
	}}
}

// markMod normalizes every MARK option to --set-xmark as libxt_MARK
// revision 2 does.
var markTargetMod = targetMod{name: "MARK", new: func() nf.Target { return &markState{} }, opts: []opt{
	u32Opt("set-xmark", func(t any, v, m uint32) { t.(*markState).set(v, m) }),
	u32Opt("set-mark", func(t any, v, m uint32) { t.(*markState).set(v, v|m) }),
	u32Opt("and-mark", func(t any, v, m uint32) { t.(*markState).set(0, ^v) }),
	u32Opt("or-mark", func(t any, v, m uint32) { t.(*markState).set(v, v) }),
	u32Opt("xor-mark", func(t any, v, m uint32) { t.(*markState).set(v, 0) }),
}, final: func(t nf.Target) error {
	if !t.(*markState).given {
		return errors.New("MARK target: required argument missing")
	}
	return nil
}}

// markState is a MARK target being parsed.
type markState struct {
	nf.MarkTarget
	given bool
}

func (m *markState) set(v, mask uint32) { m.Value, m.Mask, m.given = v, mask, true }

// connmarkState is a CONNMARK target being parsed.
type connmarkState struct {
	nf.ConnmarkTarget
	given, maskGiven bool
}

var connmarkTargetMod = targetMod{name: "CONNMARK", new: func() nf.Target { return &connmarkState{} }, opts: []opt{
	u32Opt("set-xmark", func(t any, v, m uint32) { t.(*connmarkState).setMode(nf.ConnmarkSet, v, m) }),
	u32Opt("set-mark", func(t any, v, m uint32) { t.(*connmarkState).setMode(nf.ConnmarkSet, v, v|m) }),
	u32Opt("and-mark", func(t any, v, m uint32) { t.(*connmarkState).setMode(nf.ConnmarkSet, 0, ^v) }),
	u32Opt("or-mark", func(t any, v, m uint32) { t.(*connmarkState).setMode(nf.ConnmarkSet, v, v) }),
	u32Opt("xor-mark", func(t any, v, m uint32) { t.(*connmarkState).setMode(nf.ConnmarkSet, v, 0) }),
	{name: "save-mark", set: func(t any, a []string, inv bool) error {
		c := t.(*connmarkState)
		c.Mode, c.given = nf.ConnmarkSave, true
		if !c.maskGiven {
			c.CtMask, c.NfMask = ^uint32(0), ^uint32(0)
		}
		return noInv(inv)
	}},
	{name: "restore-mark", set: func(t any, a []string, inv bool) error {
		c := t.(*connmarkState)
		c.Mode, c.given = nf.ConnmarkRestore, true
		if !c.maskGiven {
			c.CtMask, c.NfMask = ^uint32(0), ^uint32(0)
		}
		return noInv(inv)
	}},
	u32Opt("mask", func(t any, v, m uint32) { c := t.(*connmarkState); c.CtMask, c.NfMask, c.maskGiven = v, v, true }),
	u32Opt("nfmask", func(t any, v, m uint32) { c := t.(*connmarkState); c.NfMask, c.maskGiven = v, true }),
	u32Opt("ctmask", func(t any, v, m uint32) { c := t.(*connmarkState); c.CtMask, c.maskGiven = v, true }),
}, final: func(t nf.Target) error {
	if !t.(*connmarkState).given {
		return errors.New("CONNMARK target: no operation specified")
	}
	return nil
}}

func (c *connmarkState) setMode(mode uint8, v, m uint32) {
	c.Mode, c.CtMark, c.CtMask, c.given = mode, v, m, true
}

// tosState is a TOS target being parsed.
type tosState struct {
	nf.TOSTarget
	given bool
}

func tosOpt(name string, f func(v, m uint8) (uint8, uint8)) opt {
	return opt{name: name, nargs: 1, set: func(t any, a []string, inv bool) error {
		v, m, err := parseTOS(a[0])
		if err != nil {
			return err
		}
		s := t.(*tosState)
		s.Value, s.Mask = f(v, m)
		s.given = true
		return noInv(inv)
	}}
}

var tosTargetMod = targetMod{name: "TOS", new: func() nf.Target { return &tosState{} }, opts: []opt{
	tosOpt("set-tos", func(v, m uint8) (uint8, uint8) { return v, m }),
	tosOpt("and-tos", func(v, m uint8) (uint8, uint8) { return 0, ^v }),
	tosOpt("or-tos", func(v, m uint8) (uint8, uint8) { return v, v }),
	tosOpt("xor-tos", func(v, m uint8) (uint8, uint8) { return v, 0 }),
}, final: func(t nf.Target) error {
	if !t.(*tosState).given {
		return errors.New("TOS target: required argument missing")
	}
	return nil
}}

var dscpTargetMod = targetMod{name: "DSCP", new: func() nf.Target { return &nf.DSCPTarget{Value: 0xff} }, opts: []opt{
	{name: "set-dscp", nargs: 1, set: func(t any, a []string, inv bool) error {
		v, err := parseDSCP(a[0], false)
		t.(*nf.DSCPTarget).Value = v
		return err
	}},
	{name: "set-dscp-class", nargs: 1, set: func(t any, a []string, inv bool) error {
		v, err := parseDSCP(a[0], true)
		t.(*nf.DSCPTarget).Value = v
		return err
	}},
}, final: func(t nf.Target) error {
	if t.(*nf.DSCPTarget).Value == 0xff {
		return errors.New("DSCP target: parameter --set-dscp or --set-dscp-class is required")
	}
	return nil
}}

func ttlTargetOpt(name string, mode uint8) opt {
	return opt{name: name, nargs: 1, set: func(t any, a []string, inv bool) error {
		v, err := strconv.ParseUint(a[0], 10, 8)
		if err != nil {
			return fmt.Errorf("invalid TTL %q", a[0])
		}
		if mode != nf.TTLSet && v == 0 {
			return errors.New("TTL: increasing or decreasing by 0? (value must be 1 to 255)")
		}
		tt := t.(*nf.TTLTarget)
		tt.Mode, tt.Value = mode, uint8(v)
		return noInv(inv)
	}}
}

var ttlTargetMod = targetMod{name: "TTL", new: func() nf.Target { return &nf.TTLTarget{Mode: 0xff} }, opts: []opt{
	ttlTargetOpt("ttl-set", nf.TTLSet), ttlTargetOpt("ttl-dec", nf.TTLDec), ttlTargetOpt("ttl-inc", nf.TTLInc),
}, final: func(t nf.Target) error {
	if t.(*nf.TTLTarget).Mode == 0xff {
		return errors.New("TTL: you must specify an action")
	}
	return nil
}}

// parseNATRange parses "ip[-ip][:port[-port]]".
func parseNATRange(s string) (nf.NATRange, error) {
	var r nf.NATRange
	ips, ports, hasPorts := strings.Cut(s, ":")
	if ips != "" {
		ls, hs, hasHi := strings.Cut(ips, "-")
		lo, err := netip.ParseAddr(ls)
		if err != nil || !lo.Is4() {
			return r, fmt.Errorf("bad IP address %q", ls)
		}
		hi := lo
		if hasHi {
			if hi, err = netip.ParseAddr(hs); err != nil || !hi.Is4() {
				return r, fmt.Errorf("bad IP address %q", hs)
			}
		}
		if hi.Less(lo) {
			return r, fmt.Errorf("bad IP range %q", ips)
		}
		r.MinIP, r.MaxIP, r.HasIP = lo.As4(), hi.As4(), true
	}
	if hasPorts {
		lo, hi, err := parsePortRange(ports, '-')
		if err != nil {
			return r, err
		}
		r.MinPort, r.MaxPort, r.HasPorts = lo, hi, true
	}
	if !r.HasIP && !r.HasPorts {
		return r, fmt.Errorf("bad NAT range %q", s)
	}
	return r, nil
}

func natFlagOpts(flags func(t any) *uint8) []opt {
	f := func(name string, bit uint8) opt {
		return opt{name: name, set: func(t any, a []string, inv bool) error {
			*flags(t) |= bit
			return noInv(inv)
		}}
	}
	return []opt{f("random", nf.NATRandom), f("persistent", nf.NATPersistent), f("random-fully", nf.NATRandomFully)}
}

var dnatMod = targetMod{name: "DNAT", new: func() nf.Target { return &nf.DNATTarget{} }, opts: append([]opt{
	{name: "to-destination", nargs: 1, set: func(t any, a []string, inv bool) error {
		r, err := parseNATRange(a[0])
		t.(*nf.DNATTarget).Range = r
		return err
	}},
}, natFlagOpts(func(t any) *uint8 { return &t.(*nf.DNATTarget).Flags })...), final: func(t nf.Target) error {
	if r := t.(*nf.DNATTarget).Range; !r.HasIP && !r.HasPorts {
		return errors.New("DNAT: you must specify --to-destination")
	}
	return nil
}}

var snatMod = targetMod{name: "SNAT", new: func() nf.Target { return &nf.SNATTarget{} }, opts: append([]opt{
	{name: "to-source", nargs: 1, set: func(t any, a []string, inv bool) error {
		r, err := parseNATRange(a[0])
		t.(*nf.SNATTarget).Range = r
		return err
	}},
}, natFlagOpts(func(t any) *uint8 { return &t.(*nf.SNATTarget).Flags })...), final: func(t nf.Target) error {
	if r := t.(*nf.SNATTarget).Range; !r.HasIP && !r.HasPorts {
		return errors.New("SNAT: you must specify --to-source")
	}
	return nil
}}

func toPortsOpt(sel func(t any) (*uint16, *uint16, *bool)) opt {
	return opt{name: "to-ports", nargs: 1, set: func(t any, a []string, inv bool) error {
		lo, hi, err := parsePortRange(a[0], '-')
		if err != nil {
			return err
		}
		l, h, has := sel(t)
		*l, *h, *has = lo, hi, true
		return noInv(inv)
	}}
}

var masqMod = targetMod{name: "MASQUERADE", new: func() nf.Target { return &nf.MasqueradeTarget{} }, opts: append([]opt{
	toPortsOpt(func(t any) (*uint16, *uint16, *bool) {
		m := t.(*nf.MasqueradeTarget)
		return &m.MinPort, &m.MaxPort, &m.HasPorts
	}),
}, natFlagOpts(func(t any) *uint8 { return &t.(*nf.MasqueradeTarget).Flags })...)}

var redirectMod = targetMod{name: "REDIRECT", new: func() nf.Target { return &nf.RedirectTarget{} }, opts: append([]opt{
	toPortsOpt(func(t any) (*uint16, *uint16, *bool) {
		m := t.(*nf.RedirectTarget)
		return &m.MinPort, &m.MaxPort, &m.HasPorts
	}),
}, natFlagOpts(func(t any) *uint8 { return &t.(*nf.RedirectTarget).Flags })...)}

var ctMod = targetMod{name: "CT", new: func() nf.Target { return &nf.CTTarget{} }, opts: []opt{
	{name: "notrack", set: func(t any, a []string, inv bool) error {
		t.(*nf.CTTarget).NoTrack = true
		return noInv(inv)
	}},
	{name: "zone", nargs: 1, set: func(t any, a []string, inv bool) error {
		v, err := strconv.ParseUint(a[0], 0, 16)
		if err != nil {
			return fmt.Errorf("bad zone %q", a[0])
		}
		t.(*nf.CTTarget).Zone = uint16(v)
		return noInv(inv)
	}},
}}

var targetMods = map[string]*targetMod{}

func init() {
	for _, m := range []*targetMod{&rejectMod, &logMod, &markTargetMod, &connmarkTargetMod, &tosTargetMod, &dscpTargetMod, &ttlTargetMod, &dnatMod, &snatMod, &masqMod, &redirectMod, &ctMod,
		simpleTarget("ACCEPT", func() nf.Target { return &nf.AcceptTarget{} }),
		simpleTarget("DROP", func() nf.Target { return &nf.DropTarget{} }),
		simpleTarget("RETURN", func() nf.Target { return &nf.ReturnTarget{} }),
		simpleTarget("NOTRACK", func() nf.Target { return &nf.NotrackTarget{} }),
		simpleTarget("TRACE", func() nf.Target { return &nf.TraceTarget{} }),
	} {
		targetMods[m.name] = m
	}
}

// finishTarget turns a parse-state target into the model value.
func finishTarget(t nf.Target) nf.Target {
	switch s := t.(type) {
	case *markState:
		m := s.MarkTarget
		return &m
	case *connmarkState:
		c := s.ConnmarkTarget
		return &c
	case *tosState:
		x := s.TOSTarget
		return &x
	}
	return t
}
