package netstack

// iproute2 text for interfaces and addresses: `ip link show` and `ip addr
// show` output, and the arguments of `ip link set` and `ip addr
// add/del/flush`. It lives here rather than in a syntax package because
// its commands act on Namespace values directly; the parse functions are
// pure and return typed commands, so a CLI can use them without a daemon.

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"tapestry/packet"
	"tapestry/route"
)

// FormatLink prints an interface as `ip link show` does (two lines).
func FormatLink(ifc *Interface) string {
	return linkHeader(ifc, true) + "\n" + linkLine(ifc)
}

func linkHeader(ifc *Interface, mode bool) string {
	c := ifc.cfg.Load()
	var flags []string
	if ifc.up() && !ifc.lowerUp() {
		flags = append(flags, "NO-CARRIER")
	}
	if ifc.loopback {
		flags = append(flags, "LOOPBACK")
	} else {
		flags = append(flags, "BROADCAST", "MULTICAST")
	}
	if c.up {
		flags = append(flags, "UP")
		if ifc.lowerUp() {
			flags = append(flags, "LOWER_UP")
		}
	}
	// iproute2 appends M-DOWN when the link's peer (IFLA_LINK) is in the
	// same namespace and down; a peer elsewhere is only an index to it.
	if p := ifc.peer; p != nil && p.ns == ifc.ns && !p.up() {
		flags = append(flags, "M-DOWN")
	}
	qdisc, state := "noop", "DOWN"
	if c.up {
		qdisc = "noqueue"
		switch {
		case ifc.loopback:
			state = "UNKNOWN"
		case ifc.lowerUp():
			state = "UP"
		default:
			state = "LOWERLAYERDOWN"
		}
	}
	name := ifc.name
	switch p := ifc.peer; {
	case p == nil:
	case p.ns == ifc.ns:
		name += "@" + p.name
	default:
		name += "@if" + strconv.Itoa(p.index)
	}
	m := ""
	if mode {
		m = " mode DEFAULT"
	}
	return fmt.Sprintf("%d: %s: <%s> mtu %d qdisc %s state %s%s group default qlen 1000",
		ifc.index, name, strings.Join(flags, ","), c.mtu, qdisc, state, m)
}

func (ifc *Interface) up() bool { return ifc.cfg.Load().up }

func linkLine(ifc *Interface) string {
	if ifc.loopback {
		return "    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00"
	}
	l := "    link/ether " + macStr(ifc.MAC()) + " brd ff:ff:ff:ff:ff:ff"
	if p := ifc.peer; p != nil && p.ns != ifc.ns {
		// IFLA_LINK_NETNSID, which iproute2 prints by the namespace's
		// name when it has one (every tapestry namespace has).
		l += " link-netns " + p.ns.name
	}
	return l
}

// FormatAddr prints an interface as `ip addr show` does: the link lines,
// then two lines per IPv4 address.
func FormatAddr(ifc *Interface) string {
	var b strings.Builder
	b.WriteString(linkHeader(ifc, false))
	b.WriteByte('\n')
	b.WriteString(linkLine(ifc))
	for _, a := range ifc.cfg.Load().addrs {
		b.WriteString("\n    inet ")
		b.WriteString(a.Prefix.String())
		if a.Broadcast.IsValid() {
			b.WriteString(" brd " + a.Broadcast.String())
		}
		b.WriteString(" scope " + a.Scope.String())
		if a.Secondary {
			b.WriteString(" secondary")
		}
		b.WriteString(" " + a.Label)
		b.WriteString("\n       valid_lft forever preferred_lft forever")
	}
	return b.String()
}

// AddrCommand is a parsed `ip addr add|del|flush`.
type AddrCommand struct {
	Op   string // add, del, flush
	Addr Addr
	Dev  string
}

// ParseAddrCommand parses the arguments after `ip addr`.
func ParseAddrCommand(args []string) (AddrCommand, error) {
	if len(args) == 0 {
		return AddrCommand{}, fmt.Errorf("ip addr: missing command")
	}
	var c AddrCommand
	switch args[0] {
	case "add", "a":
		c.Op = "add"
	case "del", "delete", "d":
		c.Op = "del"
	case "flush", "f":
		c.Op = "flush"
	default:
		return AddrCommand{}, fmt.Errorf("ip addr: command %q is unknown, try \"ip address help\"", args[0])
	}
	brd := ""
	for i := 1; i < len(args); i++ {
		w := args[i]
		if w == "dev" || w == "brd" || w == "broadcast" || w == "scope" || w == "label" || w == "local" {
			if i+1 >= len(args) {
				return AddrCommand{}, fmt.Errorf("ip addr: command line is not complete after %q", w)
			}
			i++
		}
		v := args[i]
		switch w {
		case "dev":
			c.Dev = v
		case "brd", "broadcast":
			brd = v
		case "scope":
			s, err := route.ParseScope(v)
			if err != nil {
				return AddrCommand{}, fmt.Errorf("ip addr: invalid scope %q: %w", v, err)
			}
			c.Addr.Scope = s
		case "label":
			c.Addr.Label = v
		default:
			if c.Op == "flush" {
				c.Dev = v
				continue
			}
			if c.Addr.Prefix.IsValid() {
				return AddrCommand{}, fmt.Errorf("ip addr: duplicate address %q", v)
			}
			p, err := parseIfPrefix(v)
			if err != nil {
				return AddrCommand{}, err
			}
			c.Addr.Prefix = p
		}
	}
	if c.Dev == "" {
		return AddrCommand{}, fmt.Errorf("ip addr: not enough information: \"dev\" argument is required")
	}
	if c.Op != "flush" && !c.Addr.Prefix.IsValid() {
		return AddrCommand{}, fmt.Errorf("ip addr: missing address")
	}
	if brd != "" && c.Addr.Prefix.IsValid() {
		b, err := broadcastArg(brd, c.Addr.Prefix)
		if err != nil {
			return AddrCommand{}, err
		}
		c.Addr.Broadcast = b
	}
	return c, nil
}

func parseIfPrefix(v string) (netip.Prefix, error) {
	if !strings.Contains(v, "/") {
		a, err := netip.ParseAddr(v)
		if err != nil || !a.Is4() {
			return netip.Prefix{}, fmt.Errorf("ip addr: invalid address %q", v)
		}
		return netip.PrefixFrom(a, 32), nil
	}
	p, err := netip.ParsePrefix(v)
	if err != nil || !p.Addr().Is4() {
		return netip.Prefix{}, fmt.Errorf("ip addr: invalid prefix %q", v)
	}
	return p, nil
}

// broadcastArg handles "brd +" (host bits set) and "brd -" (network
// address), as iproute2 computes them.
func broadcastArg(v string, p netip.Prefix) (netip.Addr, error) {
	a4 := p.Masked().Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	if p.Bits() == 0 {
		host = ^uint32(0)
	}
	n := uint32(a4[0])<<24 | uint32(a4[1])<<16 | uint32(a4[2])<<8 | uint32(a4[3])
	switch v {
	case "+":
		n |= host
	case "-":
	default:
		a, err := netip.ParseAddr(v)
		if err != nil || !a.Is4() {
			return netip.Addr{}, fmt.Errorf("ip addr: invalid broadcast %q", v)
		}
		return a, nil
	}
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}), nil
}

// Apply runs the command on ns.
func (c AddrCommand) Apply(ns *Namespace) error {
	ifc, ok := ns.Interface(c.Dev)
	if !ok {
		//lint:ignore ST1005 iproute2 prints this text
		return fmt.Errorf("Cannot find device %q", c.Dev)
	}
	switch c.Op {
	case "add":
		return ns.AddAddr(ifc, c.Addr)
	case "del":
		return ns.DelAddr(ifc, c.Addr.Prefix)
	}
	return ns.FlushAddrs(ifc)
}

// LinkCommand is a parsed `ip link set`.
type LinkCommand struct {
	Dev  string
	Up   *bool
	MTU  int
	MAC  net.HardwareAddr
	Name string
}

// ParseLinkSet parses the arguments after `ip link set`.
func ParseLinkSet(args []string) (LinkCommand, error) {
	var c LinkCommand
	for i := 0; i < len(args); i++ {
		w := args[i]
		switch w {
		case "up", "down":
			up := w == "up"
			c.Up = &up
			continue
		}
		if w == "dev" || w == "mtu" || w == "address" || w == "name" {
			if i+1 >= len(args) {
				return LinkCommand{}, fmt.Errorf("ip link: command line is not complete after %q", w)
			}
			i++
		}
		v := args[i]
		switch w {
		case "dev":
			c.Dev = v
		case "mtu":
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				return LinkCommand{}, fmt.Errorf("ip link: invalid mtu %q", v)
			}
			c.MTU = n
		case "address":
			m, err := net.ParseMAC(v)
			if err != nil || len(m) != 6 {
				//lint:ignore ST1005 iproute2 prints this text
				return LinkCommand{}, fmt.Errorf("%q is invalid lladdr.", v)
			}
			c.MAC = m
		case "name":
			c.Name = v
		default:
			if c.Dev != "" {
				return LinkCommand{}, fmt.Errorf("ip link: garbage instead of arguments %q", v)
			}
			c.Dev = v
		}
	}
	if c.Dev == "" {
		return LinkCommand{}, fmt.Errorf("ip link: not enough information: \"dev\" argument is required")
	}
	return c, nil
}

// Apply runs the command on ns: address, then mtu, then up or down, the
// order of iproute2's do_setlink. Renaming is not supported yet and is
// refused.
func (c LinkCommand) Apply(ns *Namespace) error {
	ifc, ok := ns.Interface(c.Dev)
	if !ok {
		//lint:ignore ST1005 iproute2 prints this text
		return fmt.Errorf("Cannot find device %q", c.Dev)
	}
	if c.Name != "" {
		return fmt.Errorf("ip link: changing the name of %q: %w", c.Dev, errInvalidArg)
	}
	if c.MAC != nil {
		if err := ns.SetMAC(ifc, packet.MAC(c.MAC)); err != nil {
			return err
		}
	}
	if c.MTU != 0 {
		if err := ns.SetMTU(ifc, c.MTU); err != nil {
			return err
		}
	}
	if c.Up != nil {
		if *c.Up {
			return ns.SetUp(ifc)
		}
		return ns.SetDown(ifc)
	}
	return nil
}
