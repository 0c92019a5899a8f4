package iptables

import (
	"fmt"
	"net/netip"
	"strings"

	nf "tapestry/netfilter"
)

// ListOptions are iptables -L's flags.
type ListOptions struct {
	Numeric     bool // -n
	Verbose     bool // -v: counters and interfaces
	Exact       bool // -x: exact counters instead of K/M/G
	LineNumbers bool // --line-numbers
}

// List prints iptables -L [CHAIN] in the column layout of iptables'
// print_header/print_firewall, e.g. with -n -v -x --line-numbers:
//
//	Chain INPUT (policy ACCEPT 0 packets, 0 bytes)
//	num      pkts      bytes target     prot opt in     out     source               destination
//	1           0        0 ACCEPT     6    --  eth0   *       0.0.0.0/0            0.0.0.0/0            tcp dpt:22
//
// Chains are separated by an empty line. Names are never resolved (tapestry
// has no resolver): without -n only 0.0.0.0/0 ("anywhere"), empty
// interfaces ("any") and protocols are named; ports stay numeric.
func List(t *nf.Table, chain string, o ListOptions) ([]string, error) {
	chains := t.Chains
	if chain != "" {
		c := t.Chain(chain)
		if c == nil {
			return nil, fmt.Errorf("chain %q: %w", chain, ErrNoChain)
		}
		chains = []*nf.Chain{c}
	}
	var out []string
	for i, c := range chains {
		if i > 0 {
			out = append(out, "")
		}
		out = append(out, chainHeader(t, c, o), columnHeader(o))
		for n, r := range c.Rules {
			out = append(out, listRule(r, n+1, o))
		}
	}
	return out, nil
}

// number formats a counter: exact with -x, else iptables' K/M/G/T
// abbreviation (xtables_print_num: values above 99999 are divided by
// 1000 until they fit, then suffixed).
func number(n uint64, exact bool, width int) string {
	if exact {
		return fmt.Sprintf("%*d ", width, n)
	}
	if n <= 99999 {
		return fmt.Sprintf("%5d ", n)
	}
	for _, s := range []string{"K", "M", "G", "T"} {
		n = (n + 500) / 1000
		if n <= 9999 || s == "T" {
			return fmt.Sprintf("%4d%s ", n, s)
		}
	}
	return ""
}

func chainHeader(t *nf.Table, c *nf.Chain, o ListOptions) string {
	if c.Builtin {
		if !o.Verbose {
			return fmt.Sprintf("Chain %s (policy %s)", c.Name, c.Policy)
		}
		p := strings.TrimSpace(number(c.Counters.Packets, o.Exact, 0))
		b := strings.TrimSpace(number(c.Counters.Bytes, o.Exact, 0))
		return fmt.Sprintf("Chain %s (policy %s %s packets, %s bytes)", c.Name, c.Policy, p, b)
	}
	return fmt.Sprintf("Chain %s (%d references)", c.Name, references(t, c.Name))
}

func columnHeader(o ListOptions) string {
	var b strings.Builder
	if o.LineNumbers {
		fmt.Fprintf(&b, "%-4s ", "num")
	}
	if o.Verbose {
		if o.Exact {
			fmt.Fprintf(&b, "%8s %10s ", "pkts", "bytes")
		} else {
			fmt.Fprintf(&b, "%5s %5s ", "pkts", "bytes")
		}
	}
	fmt.Fprintf(&b, "%-9s ", "target")
	b.WriteString(" prot opt")
	if o.Verbose {
		fmt.Fprintf(&b, " %-6s %-6s ", "in", "out")
	}
	fmt.Fprintf(&b, " %-19s  %-19s ", "source", "destination")
	return b.String()
}

// listAddr prints an address column; without -n the zero prefix is
// "anywhere" (tapestry never resolves other addresses to names).
func listAddr(p netip.Prefix, numeric bool) string {
	if !p.IsValid() || p.Bits() == 0 {
		if !numeric {
			return "anywhere"
		}
		return "0.0.0.0/0"
	}
	if p.Bits() == 32 {
		return p.Addr().String()
	}
	return p.String()
}

func listRule(r *nf.Rule, num int, o ListOptions) string {
	var b strings.Builder
	if o.LineNumbers {
		fmt.Fprintf(&b, "%-4d ", num)
	}
	if o.Verbose {
		b.WriteString(number(r.Counters.Packets, o.Exact, 8))
		b.WriteString(number(r.Counters.Bytes, o.Exact, 8))
	}
	target := ""
	if r.Target != nil {
		target = r.Target.Name()
		if _, ok := r.Target.(*nf.NotrackTarget); ok {
			target = "CT" // NOTRACK is an alias of CT
		}
	}
	fmt.Fprintf(&b, "%-9s ", target)
	b.WriteByte(invChar(r.InvProto, ' '))
	proto := "all"
	switch {
	case o.Numeric:
		proto = fmt.Sprint(r.Proto)
	case r.Proto != 0:
		proto = protoString(r.Proto)
	}
	fmt.Fprintf(&b, "%-5s", proto)
	b.WriteByte(invChar(r.InvFrag, '-'))
	if r.Frag {
		b.WriteString("f ")
	} else {
		b.WriteString("- ")
	}
	if o.Verbose {
		fmt.Fprintf(&b, " %-6s ", ifaceCol(r.InIface, r.InvIn, o.Numeric))
		fmt.Fprintf(&b, "%-6s ", ifaceCol(r.OutIface, r.InvOut, o.Numeric))
	}
	b.WriteByte(invChar(r.InvSrc, ' '))
	fmt.Fprintf(&b, "%-19s ", listAddr(r.Src, o.Numeric))
	b.WriteByte(invChar(r.InvDst, ' '))
	fmt.Fprintf(&b, "%-19s ", listAddr(r.Dst, o.Numeric))
	if j, ok := r.Target.(*nf.JumpTarget); ok && j.Goto {
		b.WriteString("[goto] ")
	}
	for _, m := range r.Matches {
		listMatch(&b, m)
	}
	listTarget(&b, r.Target)
	return b.String()
}

func invChar(inv bool, def byte) byte {
	if inv {
		return '!'
	}
	return def
}

func ifaceCol(name string, inv, numeric bool) string {
	switch {
	case name != "":
	case numeric:
		name = "*"
	default:
		name = "any"
	}
	if inv {
		return "!" + name
	}
	return name
}
