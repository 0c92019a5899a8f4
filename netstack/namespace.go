// Package netstack is a Linux-like IPv4 host and router in userspace: a
// network namespace inside the daemon with interfaces, addresses, the
// routing policy database (package route), the neighbour table (package
// neigh), sysctls, ICMP and a small local delivery layer. The receive
// path is in input.go, the output path in output.go.
package netstack

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"tapestry/link"
	"tapestry/neigh"
	"tapestry/netfilter"
	"tapestry/packet"
	"tapestry/route"
)

// Clock is the time source of a namespace (neigh.Clock). A *VirtualClock
// makes the namespace run in virtual time: timers fire when the clock is
// advanced, and Ping advances it instead of sleeping.
type Clock = neigh.Clock

// Addr is an IPv4 address on an interface, as `ip addr` shows it.
type Addr struct {
	Prefix    netip.Prefix // local address and prefix length
	Broadcast netip.Addr   // "brd"; invalid for none
	Scope     route.Scope
	Secondary bool
	Label     string
}

// ifaceConfig is the replaceable configuration of an interface; the
// fast path loads it once per packet.
type ifaceConfig struct {
	up    bool
	mtu   int
	addrs []Addr
}

// Interface is a network device of a namespace.
type Interface struct {
	ns       *Namespace
	index    int
	name     string
	mac      atomic.Uint64 // packet.MAC in the low 48 bits (linkaddr.go); `ip link set address` changes it
	kind     string        // "loopback", "veth", "link"
	loopback bool
	link     link.Link  // nil for loopback and veth
	peer     *Interface // the other end of a veth pair
	cfg      atomic.Pointer[ifaceConfig]

	rxPackets, rxBytes, txPackets, txBytes, txDropped atomic.Uint64
}

// Name returns the interface name.
func (ifc *Interface) Name() string { return ifc.name }

// Index returns the interface index.
func (ifc *Interface) Index() int { return ifc.index }

// MAC returns the interface's hardware address.
func (ifc *Interface) MAC() packet.MAC { return macFromBits(ifc.mac.Load()) }

// Up reports whether the interface is administratively up.
func (ifc *Interface) Up() bool { return ifc.cfg.Load().up }

// MTU returns the interface MTU.
func (ifc *Interface) MTU() int { return ifc.cfg.Load().mtu }

// Addrs returns the interface's IPv4 addresses, primaries first.
func (ifc *Interface) Addrs() []Addr { return slices.Clone(ifc.cfg.Load().addrs) }

// lowerUp reports carrier: a veth has it while its peer is up.
func (ifc *Interface) lowerUp() bool {
	c := ifc.cfg.Load()
	if !c.up {
		return false
	}
	if ifc.peer != nil {
		return ifc.peer.cfg.Load().up
	}
	return true
}

// ifaceSet is the immutable interface list the fast path reads.
type ifaceSet struct {
	byIndex []*Interface // indexed by ifindex; nil holes
	byName  map[string]*Interface
}

// Namespace is one network namespace.
type Namespace struct {
	name   string
	clock  Clock
	routes *route.RPDB
	neigh  *neigh.Table

	mu        sync.Mutex // serialises configuration changes
	nextIndex int
	ifaces    atomic.Pointer[ifaceSet]

	sys     atomic.Pointer[sysctls]
	drops   [numDropReasons]atomic.Uint64
	ipID    atomic.Uint32
	icmpRL  rateLimiter
	sockets sockets
	frags   reassembler

	nf        atomic.Pointer[netfilter.Ruleset] // nil: no table exists
	nfPresent [netfilter.NumTables]bool         // tables that exist, under mu
	nfEnv     *netfilter.Env
	nfGC      atomic.Int64 // last conntrack gc, ns

	stop chan struct{}
	wg   sync.WaitGroup
}

// NewNamespace returns a namespace like a fresh `ip netns add`: only lo
// (index 1, down), the default rules, default sysctls. With the system
// clock a goroutine runs the timers; with a *VirtualClock they run when
// the clock advances; with any other clock the caller calls Tick.
func NewNamespace(name string, clock Clock) *Namespace {
	if clock == nil {
		clock = neigh.SystemClock
	}
	ns := &Namespace{name: name, clock: clock, routes: route.New(), nextIndex: 1, stop: make(chan struct{})}
	ns.neigh = neigh.New(clock, nsSender{ns}, uint64(len(name))*0x9e3779b97f4a7c15)
	ns.ifaces.Store(&ifaceSet{byName: map[string]*Interface{}})
	ns.sys.Store(defaultSysctls())
	ns.icmpRL.init()
	ns.sockets.init()
	ns.initNetfilter()
	lo := &Interface{ns: ns, name: "lo", kind: "loopback", loopback: true}
	ns.addInterface(lo, 65536)
	switch c := clock.(type) {
	case *VirtualClock:
		c.register(ns)
	default:
		if clock == neigh.SystemClock {
			ns.wg.Add(1)
			go ns.runTimers()
		}
	}
	return ns
}

// Name returns the namespace name.
func (ns *Namespace) Name() string { return ns.name }

// Routes returns the namespace's RPDB (for `ip route`/`ip rule`).
func (ns *Namespace) Routes() *route.RPDB { return ns.routes }

// Neigh returns the namespace's neighbour table.
func (ns *Namespace) Neigh() *neigh.Table { return ns.neigh }

// Tick runs due timers (neighbour state machine, garbage collection,
// fragment reassembly timeouts, conntrack expiry).
func (ns *Namespace) Tick() {
	ns.neigh.Tick()
	ns.expireFragments()
	ns.expireConntrack()
}

func (ns *Namespace) runTimers() {
	defer ns.wg.Done()
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ns.stop:
			return
		case <-t.C:
			ns.Tick()
		}
	}
}

// Close stops the namespace's goroutines and closes its links.
func (ns *Namespace) Close() {
	ns.mu.Lock()
	select {
	case <-ns.stop:
		ns.mu.Unlock()
		return
	default:
	}
	close(ns.stop)
	set := ns.ifaces.Load()
	ns.mu.Unlock()
	for _, ifc := range set.byIndex {
		if ifc != nil && ifc.link != nil {
			_ = ifc.link.Close()
		}
	}
	ns.wg.Wait()
}

// Interface returns the named interface.
func (ns *Namespace) Interface(name string) (*Interface, bool) {
	ifc, ok := ns.ifaces.Load().byName[name]
	return ifc, ok
}

// Interfaces returns the interfaces in index order.
func (ns *Namespace) Interfaces() []*Interface {
	var out []*Interface
	for _, ifc := range ns.ifaces.Load().byIndex {
		if ifc != nil {
			out = append(out, ifc)
		}
	}
	return out
}

func (ns *Namespace) ifaceByIndex(i int) *Interface {
	s := ns.ifaces.Load()
	if i <= 0 || i >= len(s.byIndex) {
		return nil
	}
	return s.byIndex[i]
}

// ErrExists is returned when an interface name is taken.
var ErrExists = errors.New("RTNETLINK answers: File exists")

// ErrNoDevice is returned for an unknown interface.
//
//lint:ignore ST1005 iproute2 prints this text
var ErrNoDevice = errors.New("Cannot find device")

func (ns *Namespace) addInterface(ifc *Interface, mtu int) {
	ifc.index = ns.nextIndex
	ns.nextIndex++
	ifc.cfg.Store(&ifaceConfig{mtu: mtu})
	old := ns.ifaces.Load()
	set := &ifaceSet{byIndex: slices.Clone(old.byIndex), byName: make(map[string]*Interface, len(old.byName)+1)}
	for k, v := range old.byName {
		set.byName[k] = v
	}
	for len(set.byIndex) <= ifc.index {
		set.byIndex = append(set.byIndex, nil)
	}
	set.byIndex[ifc.index] = ifc
	set.byName[ifc.name] = ifc
	ns.ifaces.Store(set)
	ns.sys.Store(ns.sys.Load().withDevice(ifc.name))
	_ = ns.routes.Update(func(tx *route.Tx) error {
		tx.AddLink(route.Link{Index: ifc.index, Name: ifc.name, Loopback: ifc.loopback})
		return nil
	})
}

// AddLink adds an interface backed by l (an in-memory pipe end, a kernel
// TAP, an ofproto internal port's wire...). A goroutine reads frames from
// l into the receive path until the namespace closes. mac zero picks a
// locally administered address from the index.
func (ns *Namespace) AddLink(name string, l link.Link, mac packet.MAC) (*Interface, error) {
	ns.mu.Lock()
	if _, ok := ns.ifaces.Load().byName[name]; ok {
		ns.mu.Unlock()
		return nil, fmt.Errorf("netstack: interface %q: %w", name, ErrExists)
	}
	ifc := &Interface{ns: ns, name: name, kind: "link", link: l}
	ns.addInterface(ifc, l.MTU())
	if mac == (packet.MAC{}) {
		mac = autoMAC(ns.name, ifc.index)
	}
	ifc.mac.Store(macBits(mac))
	ns.mu.Unlock()
	ns.wg.Add(1)
	go ifc.readLoop()
	return ifc, nil
}

func (ifc *Interface) readLoop() {
	defer ifc.ns.wg.Done()
	bufs := make([][]byte, link.BatchSize)
	sizes := make([]int, link.BatchSize)
	for i := range bufs {
		bufs[i] = make([]byte, link.FrameSize)
	}
	for {
		n, err := ifc.link.Read(bufs, sizes, link.Headroom)
		if err != nil {
			return
		}
		for i := range n {
			ifc.Inject(bufs[i][link.Headroom : link.Headroom+sizes[i]])
		}
	}
}

// AddVethPair creates a veth pair: nameA in a, nameB in b. A frame sent
// on one end is received by the other synchronously, in the sender's
// goroutine, which keeps in-process topologies deterministic.
func AddVethPair(a *Namespace, nameA string, b *Namespace, nameB string) (*Interface, *Interface, error) {
	if _, ok := a.Interface(nameA); ok {
		return nil, nil, fmt.Errorf("netstack: interface %q: %w", nameA, ErrExists)
	}
	if _, ok := b.Interface(nameB); ok {
		return nil, nil, fmt.Errorf("netstack: interface %q: %w", nameB, ErrExists)
	}
	x := &Interface{ns: a, name: nameA, kind: "veth"}
	y := &Interface{ns: b, name: nameB, kind: "veth"}
	x.peer, y.peer = y, x
	a.mu.Lock()
	a.addInterface(x, 1500)
	x.mac.Store(macBits(autoMAC(a.name, x.index)))
	a.mu.Unlock()
	b.mu.Lock()
	b.addInterface(y, 1500)
	y.mac.Store(macBits(autoMAC(b.name+"/peer", y.index)))
	b.mu.Unlock()
	return x, y, nil
}

// autoMAC derives a stable locally administered unicast MAC.
func autoMAC(ns string, index int) packet.MAC {
	h := uint32(2166136261)
	for i := 0; i < len(ns); i++ {
		h = (h ^ uint32(ns[i])) * 16777619
	}
	return packet.MAC{0x02, byte(h >> 24), byte(h >> 16), byte(h >> 8), byte(h), byte(index)}
}
