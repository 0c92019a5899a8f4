package neigh

import (
	"fmt"
	"net"
	"net/netip"
	"strings"

	"tapestry/packet"
)

// Format prints e as one line of `ip neigh show` (ipneigh.c print_neigh):
// "10.0.0.2 dev eth0 lladdr aa:bb:cc:dd:ee:ff REACHABLE". dev is the
// interface name, or "" when the listing was filtered by device (iproute2
// then leaves "dev" out). Entries without a valid lladdr print none, so
// "dev eth0 " is followed by " FAILED" (two spaces), as iproute2 does.
func Format(e Entry, dev string) string {
	var b strings.Builder
	b.WriteString(e.Addr.String())
	b.WriteByte(' ')
	if dev != "" {
		b.WriteString("dev ")
		b.WriteString(dev)
		b.WriteByte(' ')
	}
	if e.State&Valid != 0 {
		b.WriteString("lladdr ")
		b.WriteString(net.HardwareAddr(e.MAC[:]).String())
	}
	if e.Router {
		b.WriteString(" router")
	}
	if e.State != StateNone {
		b.WriteByte(' ')
		b.WriteString(e.State.String())
	}
	return b.String()
}

// Command is a parsed `ip neigh` command.
type Command struct {
	// Op is add, del, change, replace, show or flush.
	Op string
	// Addr is the neighbour of add/del/change/replace.
	Addr netip.Addr
	// MAC is the lladdr argument, nil when absent.
	MAC *packet.MAC
	// State is the nud argument; add/change/replace default to
	// PERMANENT, as iproute2 sends.
	State  State
	Dev    string
	Router bool
	// Filter holds show/flush selectors (Dev is in Dev; IfIndex is left
	// for the caller to resolve).
	Filter Filter
}

var neighOps = map[string]string{
	"add": "add", "a": "add", "delete": "del", "del": "del", "d": "del",
	"change": "change", "chg": "change", "replace": "replace",
	"show": "show", "list": "show", "lst": "show", "ls": "show", "flush": "flush",
}

// ParseCommand parses the arguments after `ip neigh` (an empty list is
// "show"). Errors name the offending token.
func ParseCommand(args []string) (Command, error) {
	if len(args) == 0 {
		return Command{Op: "show", Filter: Filter{States: 0xff &^ StateNoARP}}, nil
	}
	op, ok := neighOps[args[0]]
	if !ok {
		return Command{}, fmt.Errorf("neigh: command %q is unknown, try \"ip neigh help\"", args[0])
	}
	if op == "show" || op == "flush" {
		return parseShow(op, args[1:])
	}
	return parseModify(op, args[1:])
}

func parseModify(op string, args []string) (Command, error) {
	c := Command{Op: op, State: StatePermanent}
	for i := 0; i < len(args); i++ {
		w := args[i]
		switch w {
		case "router":
			c.Router = true
			continue
		case "extern_learn", "use", "managed":
			continue
		}
		if w == "lladdr" || w == "nud" || w == "dev" || w == "proxy" || w == "to" || w == "protocol" {
			if i+1 >= len(args) {
				return Command{}, fmt.Errorf("neigh: command line is not complete after %q", w)
			}
			i++
		}
		v := args[i]
		switch w {
		case "lladdr":
			hw, err := net.ParseMAC(v)
			if err != nil || len(hw) != 6 {
				return Command{}, fmt.Errorf("neigh: %q is invalid lladdr", v)
			}
			m := packet.MAC(hw)
			c.MAC = &m
		case "nud":
			s, err := ParseState(v)
			if err != nil {
				return Command{}, fmt.Errorf("neigh: argument %q is wrong: nud state is bad", v)
			}
			c.State = s
		case "dev":
			if c.Dev != "" {
				return Command{}, fmt.Errorf("neigh: duplicate \"dev\": %q is the second value", v)
			}
			c.Dev = v
		case "protocol":
		default: // "to ADDR", "proxy ADDR" or a bare address
			if c.Addr.IsValid() {
				return Command{}, fmt.Errorf("neigh: duplicate \"to\": %q is the second value", v)
			}
			a, err := netip.ParseAddr(v)
			if err != nil || !a.Is4() {
				return Command{}, fmt.Errorf("neigh: invalid address %q", v)
			}
			c.Addr = a
		}
	}
	if c.Dev == "" || !c.Addr.IsValid() {
		return Command{}, fmt.Errorf("neigh: device and destination are required arguments")
	}
	return c, nil
}

func parseShow(op string, args []string) (Command, error) {
	c := Command{Op: op}
	def := 0xff &^ StateNoARP
	if op == "flush" {
		def = ^(StatePermanent | StateNoARP)
	}
	var states State
	statesSet := false
	for i := 0; i < len(args); i++ {
		w := args[i]
		switch w {
		case "proxy", "unused", "nomaster", "all":
			continue
		}
		if w == "dev" || w == "nud" || w == "to" || w == "vrf" || w == "master" {
			if i+1 >= len(args) {
				return Command{}, fmt.Errorf("neigh: command line is not complete after %q", w)
			}
			i++
		}
		v := args[i]
		switch w {
		case "dev":
			c.Dev = v
		case "nud":
			statesSet = true
			if v == "all" {
				states, c.Filter.NoneToo = ^StateNone, true
				continue
			}
			s, err := ParseState(v)
			if err != nil {
				return Command{}, fmt.Errorf("neigh: argument %q is wrong: nud state is bad", v)
			}
			if s == StateNone {
				c.Filter.NoneToo = true
			}
			states |= s
		case "vrf", "master":
		default:
			p, err := parsePrefix(v)
			if err != nil {
				return Command{}, err
			}
			c.Filter.Prefix = p
		}
	}
	c.Filter.States = def
	if statesSet {
		c.Filter.States = states
	}
	return c, nil
}

func parsePrefix(s string) (netip.Prefix, error) {
	if s == "all" || s == "default" {
		return netip.PrefixFrom(netip.IPv4Unspecified(), 0), nil
	}
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil || !a.Is4() {
			return netip.Prefix{}, fmt.Errorf("neigh: invalid prefix %q", s)
		}
		return netip.PrefixFrom(a, 32), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil || !p.Addr().Is4() {
		return netip.Prefix{}, fmt.Errorf("neigh: invalid prefix %q", s)
	}
	return p.Masked(), nil
}
