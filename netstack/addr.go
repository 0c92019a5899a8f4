package netstack

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"

	"tapestry/packet"
	"tapestry/route"
)

// ErrAddrNotAvail is `ip addr del` of an address the interface lacks.
var ErrAddrNotAvail = errors.New("RTNETLINK answers: Cannot assign requested address")

func (ns *Namespace) setConfig(ifc *Interface, fn func(c *ifaceConfig)) {
	c := *ifc.cfg.Load()
	c.addrs = slices.Clone(c.addrs)
	fn(&c)
	ifc.cfg.Store(&c)
}

// SetUp is `ip link set DEV up`: the routes of the interface's addresses
// are (re)created, as fib_netdev_event does on NETDEV_UP; lo gets
// 127.0.0.1/8 if it has no address. With arp_notify set a gratuitous ARP
// announces each address (inetdev_send_gratuitous_arp).
func (ns *Namespace) SetUp(ifc *Interface) error {
	ns.mu.Lock()
	if ifc.cfg.Load().up {
		ns.mu.Unlock()
		return nil
	}
	if ifc.loopback && len(ifc.cfg.Load().addrs) == 0 {
		ns.setConfig(ifc, func(c *ifaceConfig) {
			c.addrs = []Addr{{Prefix: netip.MustParsePrefix("127.0.0.1/8"), Scope: route.ScopeHost, Label: "lo"}}
		})
	}
	ns.setConfig(ifc, func(c *ifaceConfig) { c.up = true })
	err := ns.syncRoutes(ifc)
	notify := ns.sys.Load().conf(ifc.name).ARPNotify != 0
	ns.mu.Unlock()
	if notify {
		for _, a := range ifc.Addrs() {
			ns.gratuitousARP(ifc, a.Prefix.Addr())
		}
	}
	return err
}

// SetDown is `ip link set DEV down`: every route through the interface
// is flushed (fib_disable_ip, static ones included, and they do not come
// back on up) and its neighbour entries go (neigh_ifdown).
func (ns *Namespace) SetDown(ifc *Interface) error {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	if !ifc.cfg.Load().up {
		return nil
	}
	ns.setConfig(ifc, func(c *ifaceConfig) { c.up = false })
	ns.neigh.IfDown(ifc.index, false)
	return ns.flushRoutes(ifc)
}

// SetMTU is `ip link set DEV mtu N`.
func (ns *Namespace) SetMTU(ifc *Interface, mtu int) error {
	if mtu < 68 || mtu > 65535 {
		return fmt.Errorf("netstack: mtu %d out of range: %w", mtu, errInvalidArg)
	}
	ns.mu.Lock()
	ns.setConfig(ifc, func(c *ifaceConfig) { c.mtu = mtu })
	ns.mu.Unlock()
	return nil
}

var errInvalidArg = errors.New("RTNETLINK answers: Invalid argument")

func (ns *Namespace) flushRoutes(ifc *Interface) error {
	return ns.routes.Update(func(tx *route.Tx) error {
		for _, r := range ns.routes.Routes(route.TableUnspec) {
			if r.DevIndex == ifc.index {
				if _, err := tx.DelRoute(r); err != nil {
					return err
				}
			}
		}
		tx.AddLink(route.Link{Index: ifc.index, Name: ifc.name, Loopback: ifc.loopback, Addrs: routeAddrs(ifc.cfg.Load().addrs)})
		return nil
	})
}

// syncRoutes re-adds the routes of every address of an up interface.
func (ns *Namespace) syncRoutes(ifc *Interface) error {
	c := ifc.cfg.Load()
	return ns.routes.Update(func(tx *route.Tx) error {
		tx.AddLink(route.Link{Index: ifc.index, Name: ifc.name, Loopback: ifc.loopback})
		for _, a := range c.addrs {
			if err := tx.AddAddr(ifc.index, a.Prefix, a.Scope); err != nil && !errors.Is(err, route.ErrExist) {
				return err
			}
		}
		return nil
	})
}

func routeAddrs(as []Addr) []route.Addr {
	out := make([]route.Addr, len(as))
	for i, a := range as {
		out[i] = route.Addr{Prefix: a.Prefix, Scope: a.Scope, Secondary: a.Secondary}
	}
	return out
}

// AddAddr is `ip addr add PREFIX [brd ADDR] [scope S] dev DEV`. An address
// in the subnet of an existing primary becomes secondary. On an up
// interface the kernel's routes appear at once (fib_add_ifaddr); on a
// down one when it comes up.
func (ns *Namespace) AddAddr(ifc *Interface, a Addr) error {
	if !a.Prefix.Addr().Is4() {
		return fmt.Errorf("netstack: %v: only IPv4 addresses: %w", a.Prefix, errInvalidArg)
	}
	ns.mu.Lock()
	cur := ifc.cfg.Load()
	for _, o := range cur.addrs {
		if o.Prefix.Addr() == a.Prefix.Addr() && o.Prefix.Bits() == a.Prefix.Bits() {
			ns.mu.Unlock()
			return ErrExists
		}
		if !o.Secondary && o.Prefix.Bits() == a.Prefix.Bits() && o.Prefix.Masked() == a.Prefix.Masked() {
			a.Secondary = true
		}
	}
	if a.Label == "" {
		a.Label = ifc.name
	}
	ns.setConfig(ifc, func(c *ifaceConfig) {
		if a.Secondary {
			c.addrs = append(c.addrs, a)
			return
		}
		n := 0
		for n < len(c.addrs) && !c.addrs[n].Secondary {
			n++
		}
		c.addrs = slices.Insert(c.addrs, n, a)
	})
	var err error
	if cur.up {
		err = ns.routes.Update(func(tx *route.Tx) error { return tx.AddAddr(ifc.index, a.Prefix, a.Scope) })
	} else {
		err = ns.flushRoutes(ifc)
	}
	notify := cur.up && ns.sys.Load().conf(ifc.name).ARPNotify != 0
	ns.mu.Unlock()
	if notify {
		ns.gratuitousARP(ifc, a.Prefix.Addr())
	}
	return err
}

// DelAddr is `ip addr del PREFIX dev DEV`. Deleting a primary address
// deletes its secondaries too (promote_secondaries is 0 by default).
func (ns *Namespace) DelAddr(ifc *Interface, p netip.Prefix) error {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	cur := ifc.cfg.Load()
	i := slices.IndexFunc(cur.addrs, func(a Addr) bool {
		return a.Prefix.Addr() == p.Addr() && (p.Bits() == 32 || a.Prefix.Bits() == p.Bits())
	})
	if i < 0 {
		return ErrAddrNotAvail
	}
	gone := cur.addrs[i]
	var removed []netip.Addr
	ns.setConfig(ifc, func(c *ifaceConfig) {
		c.addrs = slices.DeleteFunc(c.addrs, func(a Addr) bool {
			if a.Prefix == gone.Prefix || !gone.Secondary && a.Secondary && a.Prefix.Masked() == gone.Prefix.Masked() {
				removed = append(removed, a.Prefix.Addr())
				return true
			}
			return false
		})
	})
	if len(ifc.cfg.Load().addrs) == 0 {
		// The last address gone disables IP on the device: every route
		// through it goes (fib_inetaddr_event -> fib_disable_ip).
		return ns.flushRoutes(ifc)
	}
	// Otherwise only the address's own routes go, and the routes that
	// name it as their source (fib_del_ifaddr, fib_sync_down_addr); a
	// static route through the device, the default route among them, stays.
	if err := ns.dropAddrRoutes(ifc, removed); err != nil {
		return err
	}
	if cur.up {
		return ns.syncRoutes(ifc)
	}
	return nil
}

// dropAddrRoutes deletes the kernel's routes of ifc (syncRoutes puts back
// those of the addresses that remain) and every route whose preferred
// source is one of removed.
func (ns *Namespace) dropAddrRoutes(ifc *Interface, removed []netip.Addr) error {
	return ns.routes.Update(func(tx *route.Tx) error {
		for _, r := range ns.routes.Routes(route.TableUnspec) {
			if r.DevIndex == ifc.index && r.Protocol == route.ProtoKernel || slices.Contains(removed, r.PrefSrc) {
				if _, err := tx.DelRoute(r); err != nil {
					return err
				}
			}
		}
		tx.AddLink(route.Link{Index: ifc.index, Name: ifc.name, Loopback: ifc.loopback, Addrs: routeAddrs(ifc.cfg.Load().addrs)})
		return nil
	})
}

// FlushAddrs is `ip addr flush dev DEV`.
func (ns *Namespace) FlushAddrs(ifc *Interface) error {
	for len(ifc.cfg.Load().addrs) > 0 {
		if err := ns.DelAddr(ifc, ifc.cfg.Load().addrs[0].Prefix); err != nil {
			return err
		}
	}
	return nil
}

// gratuitousARP broadcasts "who-has ADDR tell ADDR" (arp_send with sip ==
// tip), as the kernel does to announce an address.
func (ns *Namespace) gratuitousARP(ifc *Interface, a netip.Addr) {
	f := packet.ARPFrame(packet.ARPOpRequest, ifc.MAC(), a, packet.MAC{}, a, packet.Broadcast)
	ifc.transmit(f)
}

// localAddr reports whether a is an address of any interface.
func (ns *Namespace) localAddr(a [4]byte) bool {
	for _, ifc := range ns.ifaces.Load().byIndex {
		if ifc == nil {
			continue
		}
		for _, x := range ifc.cfg.Load().addrs {
			if x.Prefix.Addr().As4() == a {
				return true
			}
		}
	}
	return false
}

// selectAddr is inet_select_addr: a primary address of ifc no wider than
// scope, preferring one whose subnet holds dst, else any interface's.
func (ns *Namespace) selectAddr(ifc *Interface, dst netip.Addr, scope route.Scope) netip.Addr {
	var first netip.Addr
	if ifc != nil {
		for _, a := range ifc.cfg.Load().addrs {
			if a.Secondary || a.Scope > scope {
				continue
			}
			if dst.IsValid() && a.Prefix.Contains(dst) {
				return a.Prefix.Addr()
			}
			if !first.IsValid() {
				first = a.Prefix.Addr()
			}
		}
	}
	if first.IsValid() {
		return first
	}
	for _, o := range ns.ifaces.Load().byIndex {
		if o == nil {
			continue
		}
		for _, a := range o.cfg.Load().addrs {
			if !a.Secondary && a.Scope != route.ScopeLink && a.Scope <= scope {
				return a.Prefix.Addr()
			}
		}
	}
	return netip.Addr{}
}
