package daemon

// Namespaces: Linux-like hosts and routers inside the daemon (package
// netstack), kept as desired state like bridges.
//
// A namespace's desired state is a snapshot of what the user configured:
// its interfaces (with up/down, MTU and addresses), the routes that are
// not the kernel's own (proto kernel routes follow from addresses), every
// rule, the permanent neighbours and the sysctls written, in order. Each
// successful ip/sysctl command runs on the running namespace first and the
// daemon then snapshots it into the store before answering, so the store
// always holds what a restart rebuilds. Runtime state (dynamic neighbours,
// counters) is not stored; it is rebuilt by traffic.
//
// The internal-port rule: an OVS internal port whose interface a tapestry
// namespace claims (`ip link set PORT netns NS`) is an in-memory wire, one
// end in the bridge and the other the namespace's interface; no kernel
// device exists. An internal port no namespace claims stays what it was: a
// kernel TAP device in the root namespace (or an in-memory port when the
// daemon may not create one).

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"

	"tapestry/link"
	"tapestry/neigh"
	"tapestry/netstack"
	"tapestry/packet"
	"tapestry/route"
	"tapestry/store"
)

// Store layout of namespaces:
//
//	netns/<ns>   key "config": nsConf as JSON
var netnsRoot = []string{"netns"}

func nsPath(name string) []string { return []string{"netns", name} }

// nsConf is one namespace's desired state.
type nsConf struct {
	Name  string      `json:"name"`
	Links []*linkConf `json:"links,omitempty"`
	// Routes are the routes not made by the kernel from addresses, every
	// table, in `ip route show table all` order.
	Routes []route.Route `json:"routes,omitempty"`
	// Rules are every rule, defaults included (a user may delete them).
	Rules []route.Rule `json:"rules,omitempty"`
	// Neigh are the PERMANENT and NOARP neighbours.
	Neigh []neighConf `json:"neigh,omitempty"`
	// Sysctls are the values written, oldest first, each name once (its
	// last write), replayed in order after the interfaces exist.
	Sysctls []sysctlConf `json:"sysctls,omitempty"`
	// Iptables are the netfilter tables as iptables-save prints them
	// without counters; "" when no table exists.
	Iptables string `json:"iptables,omitempty"`
}

// Interface kinds of linkConf.
const (
	kindLoopback = "loopback"
	kindInternal = "internal" // an internal port of a bridge, by port name
	kindVeth     = "veth"     // one end of a veth pair (veth.go)
	kindTAP      = "tap"      // a kernel TAP device, by its name (veth_tap.go)
)

// linkConf is one interface of a namespace.
type linkConf struct {
	Name string `json:"name"`
	Kind string `json:"kind"`
	// Port is the internal bridge port whose wire this interface is, when
	// the interface has another name inside the namespace (a cloud
	// instance's eth0 on port tap5b1e3c2a-9f); "" means Name.
	Port  string     `json:"port,omitempty"`
	Up    bool       `json:"up,omitempty"`
	MTU   int        `json:"mtu,omitempty"`
	Addrs []addrConf `json:"addrs,omitempty"`
	// MAC is the interface's address: always for a veth end and a kernel
	// TAP (whose userspace side has an address of its own), and for an
	// internal port once `ip link set DEV address` set it (nil: the
	// port's).
	MAC *packet.MAC `json:"mac,omitempty"`
	// Peer and PeerNS are the other end of a veth and its namespace.
	Peer   string `json:"peer,omitempty"`
	PeerNS string `json:"peer_netns,omitempty"`
	// Index is the interface's index, given again on a rebuild; 0 for
	// one that just arrived (it gets the next free one).
	Index int `json:"index,omitempty"`
}

type addrConf struct {
	Prefix    netip.Prefix `json:"prefix"`
	Broadcast netip.Addr   `json:"brd,omitzero"`
	Scope     route.Scope  `json:"scope,omitempty"`
	Label     string       `json:"label,omitempty"`
}

type neighConf struct {
	Dev    string      `json:"dev"`
	Addr   netip.Addr  `json:"addr"`
	MAC    *packet.MAC `json:"mac,omitempty"`
	State  neigh.State `json:"state"`
	Router bool        `json:"router,omitempty"`
}

type sysctlConf struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// port is the bridge port behind the interface.
func (l *linkConf) port() string {
	if l.Port != "" {
		return l.Port
	}
	return l.Name
}

func (c *nsConf) link(name string) *linkConf {
	for _, l := range c.Links {
		if l.Name == name {
			return l
		}
	}
	return nil
}

// newNSConf is a fresh namespace: lo only, down.
func newNSConf(name string) *nsConf {
	return &nsConf{Name: name, Links: []*linkConf{{Name: "lo", Kind: kindLoopback}}, Rules: route.New().Rules()}
}

// loadNetns reads every namespace from the store.
func (d *Daemon) loadNetns() error {
	d.netns = make(map[string]*nsConf)
	return d.st.View(func(tx *store.Tx) error {
		for _, name := range tx.Buckets(netnsRoot) {
			c := &nsConf{}
			if err := json.Unmarshal(tx.Get(nsPath(name), "config"), c); err != nil {
				return fmt.Errorf("daemon: netns %s: %w", name, err)
			}
			d.netns[name] = c
		}
		return nil
	})
}

func putNS(tx *store.Tx, c *nsConf) error {
	raw, err := json.Marshal(c)
	if err != nil {
		return err
	}
	return tx.Put(nsPath(c.Name), "config", raw)
}

// claimOf returns the namespace that claims internal port name and the
// interface's name there, or "".
func (d *Daemon) claimOf(port string) (ns, ifname string) {
	for _, c := range d.netns {
		for _, l := range c.Links {
			if l.Kind == kindInternal && l.port() == port {
				return c.Name, l.Name
			}
		}
	}
	return "", ""
}

// internalWire makes the in-memory wire of a claimed internal port: the
// bridge gets one end, the namespace (now or when it is built) the other.
func internalWire(name string) (bridgeEnd, nsEnd *link.Mem) {
	return link.Pipe(name, name, link.PipeOptions{})
}

// handOver gives the namespace end of claimed port's wire to namespace
// ns as interface ifname: at once when the namespace runs and lacks the
// interface; otherwise it waits in d.ends for buildNS, and a running
// namespace that still has an interface of that name (on its previous
// wire) is rebuilt.
func (d *Daemon) handOver(ns, port, ifname string, end *link.Mem, mac packet.MAC) {
	if old, ok := d.ends[port]; ok {
		old.end.Close()
	}
	if c := d.netns[ns]; c != nil {
		if lc := c.link(ifname); lc != nil && lc.MAC != nil {
			mac = *lc.MAC // set by `ip link set DEV address`
		}
	}
	rt := d.nsrt[ns]
	if rt != nil && !d.building {
		if _, ok := rt.Interface(ifname); !ok {
			if _, err := rt.AddLink(ifname, end, mac); err != nil {
				d.log.Error("adding interface", "netns", ns, "dev", ifname, "err", err)
				end.Close()
			}
			return
		}
		d.rebuild[ns] = true
	}
	d.ends[port] = pendingEnd{end: end, mac: mac}
}

// pendingEnd is a namespace's end of an internal port's wire, made by the
// bridge side before the namespace takes it.
type pendingEnd struct {
	end *link.Mem
	mac packet.MAC
}

// takeEnd returns the wire end for internal port name, re-attaching the
// port to make a fresh wire when none is waiting.
func (d *Daemon) takeEnd(name string) (pendingEnd, bool) {
	if e, ok := d.ends[name]; ok {
		delete(d.ends, name)
		return e, true
	}
	for _, rt := range d.bridges {
		if p := rt.ports[name]; p != nil && p.conf.Type == kindInternal {
			d.building = true
			d.detach(rt, p)
			d.attach(rt, p)
			d.building = false
			e, ok := d.ends[name]
			delete(d.ends, name)
			return e, ok
		}
	}
	return pendingEnd{}, false
}

// restoreNetns builds every stored namespace (after the bridges, whose
// claimed internal ports left their wire ends in d.ends).
func (d *Daemon) restoreNetns() {
	d.buildNSGroup(sortedKeys(d.netns))
	for _, name := range sortedKeys(d.netns) {
		d.log.Info("restored netns", "netns", name, "links", len(d.netns[name].Links))
	}
}

// buildNS creates the running namespace for c from scratch.
func (d *Daemon) buildNS(c *nsConf) { d.buildNSGroup([]string{c.Name}) }

// buildNSGroup creates the running namespaces names from scratch,
// together, so that a veth between two of them becomes one fresh pair.
// Steps follow the order a user (or a restarted kernel's boot scripts)
// would take: namespaces, interfaces, sysctls, MTU and addresses, up,
// then routes, rules and neighbours, whose checks need the interfaces and
// their addresses.
func (d *Daemon) buildNSGroup(names []string) {
	for _, name := range names {
		d.nsrt[name] = netstack.NewNamespace(name, d.nsClock)
		d.rebindConntrackEvents(name, d.nsrt[name].Conntrack()) // running conntrack -E follow
	}
	for _, name := range names {
		d.addLinks(d.netns[name], d.nsrt[name])
	}
	for _, name := range names {
		d.configureNS(d.netns[name], d.nsrt[name])
	}
}

// addLinks gives ns the interfaces of c, in stored order.
func (d *Daemon) addLinks(c *nsConf, ns *netstack.Namespace) {
	for _, lc := range c.Links {
		var err error
		ns.ReserveIndex(lc.Index)
		switch lc.Kind {
		case kindInternal:
			err = d.addInternal(ns, lc)
		case kindVeth:
			err = d.addVeth(c.Name, ns, lc)
		case kindTAP:
			err = d.addTAP(ns, lc)
		}
		if err != nil {
			d.log.Warn("netns interface not restored", "netns", c.Name, "dev", lc.Name, "kind", lc.Kind, "err", err)
		}
	}
}

// addInternal gives ns the namespace end of a claimed internal port.
func (d *Daemon) addInternal(ns *netstack.Namespace, lc *linkConf) error {
	e, ok := d.takeEnd(lc.port())
	if !ok {
		return fmt.Errorf("no port %s", lc.port())
	}
	mac := e.mac
	if lc.MAC != nil {
		mac = *lc.MAC
	}
	if _, err := ns.AddLink(lc.Name, e.end, mac); err != nil {
		e.end.Close()
		return err
	}
	return nil
}

// configureNS applies c's configuration to its freshly built namespace.
func (d *Daemon) configureNS(c *nsConf, ns *netstack.Namespace) {
	warn := func(what string, err error) {
		if err != nil {
			d.log.Warn("restoring netns", "netns", c.Name, "step", what, "err", err)
		}
	}
	for _, s := range c.Sysctls {
		warn("sysctl "+s.Name, ns.SetSysctl(s.Name, s.Value))
	}
	for _, lc := range c.Links {
		ifc, ok := ns.Interface(lc.Name)
		if !ok {
			continue
		}
		if lc.MTU != 0 && lc.MTU != ifc.MTU() {
			warn("mtu "+lc.Name, ns.SetMTU(ifc, lc.MTU))
		}
		for _, a := range lc.Addrs {
			warn("addr "+lc.Name, ns.AddAddr(ifc, netstack.Addr{Prefix: a.Prefix, Broadcast: a.Broadcast, Scope: a.Scope, Label: a.Label}))
		}
		if lc.Up {
			warn("up "+lc.Name, ns.SetUp(ifc))
		}
	}
	warn("routes and rules", ns.Routes().Update(func(tx *route.Tx) error {
		for _, r := range ns.Routes().Rules() {
			if err := tx.DelRule(route.RuleSelector{Rule: r, Set: route.FieldPriority}); err != nil {
				return err
			}
		}
		for _, r := range c.Rules {
			r.PrioritySet = true
			if err := tx.AddRule(r); err != nil {
				return fmt.Errorf("rule %d: %w", r.Priority, err)
			}
		}
		return nil
	}))
	for _, r := range c.Routes {
		r.DevIndex = 0 // indexes are the new namespace's; the name resolves
		warn("route "+r.Dst.String(), ns.Routes().Update(func(tx *route.Tx) error { return tx.AppendRoute(r) }))
	}
	for _, n := range c.Neigh {
		ifc, ok := ns.Interface(n.Dev)
		if !ok {
			continue
		}
		warn("neigh "+n.Addr.String(), ns.Neigh().Add(ifc.Index(), n.Addr, n.MAC, n.State, n.Router))
	}
	warn("iptables", restoreTables(ns, c.Iptables))
}

// snapshotNS records the running namespace as desired state. Interface
// kinds come from the previous desired state.
func (d *Daemon) snapshotNS(old *nsConf, ns *netstack.Namespace) *nsConf {
	c := &nsConf{Name: old.Name, Sysctls: slices.Clone(old.Sysctls), Iptables: savedTables(ns)}
	names := map[int]string{}
	for _, ifc := range ns.Interfaces() {
		names[ifc.Index()] = ifc.Name()
		kind := kindInternal
		if ol := old.link(ifc.Name()); ol != nil {
			kind = ol.Kind
		} else if ifc.Name() == "lo" {
			kind = kindLoopback
		}
		lc := &linkConf{Name: ifc.Name(), Kind: kind, Up: ifc.Up(), MTU: ifc.MTU(), Index: ifc.Index()}
		if ol := old.link(ifc.Name()); ol != nil {
			lc.Port, lc.Peer, lc.PeerNS = ol.Port, ol.Peer, ol.PeerNS
			if ol.MAC != nil || kind == kindVeth || kind == kindTAP {
				mac := ifc.MAC()
				lc.MAC = &mac
			}
		}
		for _, a := range ifc.Addrs() {
			lc.Addrs = append(lc.Addrs, addrConf{Prefix: a.Prefix, Broadcast: a.Broadcast, Scope: a.Scope, Label: a.Label})
		}
		c.Links = append(c.Links, lc)
	}
	// Interfaces configured but not present (their port is not attached
	// yet, their TAP is missing) keep their configuration.
	for _, ol := range old.Links {
		if _, ok := ns.Interface(ol.Name); !ok && ol.Kind != kindLoopback {
			c.Links = append(c.Links, ol)
		}
	}
	for _, r := range ns.Routes().Routes(route.TableUnspec) {
		if r.Protocol == route.ProtoKernel {
			continue
		}
		c.Routes = append(c.Routes, r)
	}
	c.Rules = ns.Routes().Rules()
	for _, e := range ns.Neigh().Entries(neigh.Filter{States: neigh.StatePermanent | neigh.StateNoARP}) {
		n := neighConf{Dev: names[e.IfIndex], Addr: e.Addr, State: e.State, Router: e.Router}
		if e.State&neigh.Valid != 0 && e.State != neigh.StateNoARP {
			mac := e.MAC
			n.MAC = &mac
		}
		c.Neigh = append(c.Neigh, n)
	}
	return c
}

// commitNS snapshots namespace name into the store.
func (d *Daemon) commitNS(name string) error {
	c := d.snapshotNS(d.netns[name], d.nsrt[name])
	if err := d.st.Update(func(tx *store.Tx) error { return putNS(tx, c) }); err != nil {
		return fmt.Errorf("writing store: %w", err)
	}
	d.netns[name] = c
	return nil
}

// rebuildNS closes namespace name and builds it again from its desired
// state: how an interface leaves a namespace, which netstack cannot do in
// place. The namespaces joined to it by veths are rebuilt with it, since
// each end of a pair holds the other.
func (d *Daemon) rebuildNS(names ...string) {
	group := d.vethGroup(names)
	var build []string
	for _, name := range group {
		if rt := d.nsrt[name]; rt != nil {
			rt.Close()
			delete(d.nsrt, name)
		}
		if d.netns[name] != nil {
			build = append(build, name)
		}
	}
	d.buildNSGroup(build)
}

// rebuildPending rebuilds the namespaces handOver marked.
func (d *Daemon) rebuildPending() {
	for _, name := range sortedKeys(d.rebuild) {
		delete(d.rebuild, name)
		d.rebuildNS(name)
	}
}

// reattachPort detaches and attaches port name again so that its link
// follows the internal-port rule after a claim changed.
func (d *Daemon) reattachPort(name string) {
	for _, rt := range d.bridges {
		if p := rt.ports[name]; p != nil {
			d.detach(rt, p)
			d.attach(rt, p)
		}
	}
}

func (d *Daemon) closeNetns() {
	for name, rt := range d.nsrt {
		rt.Close()
		delete(d.nsrt, name)
	}
	for name, e := range d.ends {
		e.end.Close()
		delete(d.ends, name)
	}
}

// releasedClaims returns the namespaces that lose an interface because
// next no longer has its internal port (deleted, or no longer internal):
// the device disappears, as an OVS internal device does with its port.
func (d *Daemon) releasedClaims(next *switchConf) []*nsConf {
	var out []*nsConf
	for _, name := range sortedKeys(d.netns) {
		c := d.netns[name]
		var gone []string
		for _, l := range c.Links {
			if l.Kind != kindInternal {
				continue
			}
			b := next.portOwner(l.port())
			if b == nil || b.Ports[l.port()].Type != kindInternal {
				gone = append(gone, l.Name)
			}
		}
		if len(gone) == 0 {
			continue
		}
		nc := c
		if rt := d.nsrt[name]; rt != nil {
			nc = d.snapshotNS(c, rt)
		}
		nc = withoutLinks(nc, gone)
		out = append(out, nc)
	}
	return out
}

// withoutLinks returns c without the named interfaces and the routes and
// neighbours through them.
func withoutLinks(c *nsConf, names []string) *nsConf {
	n := *c
	n.Links = slices.DeleteFunc(slices.Clone(c.Links), func(l *linkConf) bool { return slices.Contains(names, l.Name) })
	n.Routes = slices.DeleteFunc(slices.Clone(c.Routes), func(r route.Route) bool { return slices.Contains(names, r.Dev) })
	n.Neigh = slices.DeleteFunc(slices.Clone(c.Neigh), func(e neighConf) bool { return slices.Contains(names, e.Dev) })
	return &n
}
