// Package ofproto is the OpenFlow bridge: ports, a multi-table flow pipeline
// (OpenFlow 1.3 §5), the NORMAL L2 learning switch, and the fast path that
// forwards packets through an exact-match cache and a megaflow cache before
// falling back to the full pipeline, as Open vSwitch's userspace datapath does.
//
// Concurrency: control-plane calls (FlowMods, port changes, Expire, dumps) are
// serialized by Bridge.mu. Forwarding goroutines never take that lock: they
// read the flow tables through the lock-free classifier, ports through an
// atomically swapped snapshot, and cached decisions through the megaflow cache.
// Every change that could alter a forwarding decision bumps Bridge.gen after
// the change is visible; cached entries record the generation read before they
// were computed, so an entry computed from older state is never used again.
package ofproto

import (
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"tapestry/conntrack"
	"tapestry/openflow"
)

// Config configures a bridge.
type Config struct {
	Name string
	// DatapathID is the OpenFlow datapath id; 0 derives it from the LOCAL
	// port's MAC address (the low 48 bits), as Open vSwitch does.
	DatapathID uint64
	// Now is the clock for timeouts, ages and durations; nil means time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// Flow-removed reasons (OpenFlow 1.3 §7.4.2, enum ofp_flow_removed_reason).
const (
	RemovedIdleTimeout uint8 = 0
	RemovedHardTimeout uint8 = 1
	RemovedDelete      uint8 = 2
)

// Packet-in reasons (OpenFlow 1.3 §7.4.1, enum ofp_packet_in_reason).
const (
	PacketInNoMatch    uint8 = 0
	PacketInAction     uint8 = 1
	PacketInInvalidTTL uint8 = 2
)

// PacketIn is a packet sent to the controller by an output:CONTROLLER or
// controller() action.
type PacketIn struct {
	InPort uint32
	Table  uint8
	Reason uint8
	Cookie uint64
	MaxLen uint16
	ID     uint16 // controller id of controller(id=...)
	// Data is a copy of the frame as modified up to the controller action,
	// truncated to MaxLen.
	Data []byte
}

// Bridge is one OpenFlow switch.
type Bridge struct {
	name string
	now  func() time.Time
	log  *slog.Logger

	dpid     atomic.Uint64
	dpidAuto atomic.Bool // derive the datapath id from the LOCAL port's MAC

	// gen is bumped after every change that can alter a forwarding
	// decision: flow tables, ports, port config, the MAC table.
	gen atomic.Uint64

	tables [int(openflow.TableMax) + 1]table

	ports  atomic.Pointer[portSet]
	groups atomic.Pointer[groupTable] // nil until the first group mod
	macs   macTable
	mf     megaflowCache
	// ct is the connection table of the ct action, made on first use;
	// recirc holds ct(table=N)'s recirculation states (ct.go, recirc.go).
	ct     atomic.Pointer[conntrack.Table]
	ctOnce sync.Once
	recirc recircTable

	flowRemoved atomic.Pointer[func(openflow.FlowStats, uint8)]
	packetIn    atomic.Pointer[func(PacketIn)]
	// packetInDrops counts packets sent to the controller while no
	// packet-in hook is set.
	packetInDrops atomic.Uint64
	drops         [numDropReasons]atomic.Uint64

	// mu serializes control-plane writers and guards the fields below and
	// every Flow's non-atomic fields.
	mu      sync.Mutex
	timed   map[*Flow]struct{} // flows with an idle or hard timeout
	slab    flowSlab           // allocation for the FlowMods batch in progress
	scratch flowScratch        // lists reused by FlowMods batches
	closed  bool
	wg      sync.WaitGroup // receive goroutines
}

// New returns a bridge holding the flow "priority=0 actions=NORMAL" in table
// 0, as Open vSwitch sets up a bridge in standalone fail mode with no
// controller.
func New(cfg Config) *Bridge {
	b := &Bridge{
		name:  cfg.Name,
		now:   cfg.Now,
		log:   cfg.Logger,
		timed: make(map[*Flow]struct{}),
	}
	if b.now == nil {
		b.now = time.Now
	}
	if b.log == nil {
		b.log = slog.Default()
	}
	b.dpid.Store(cfg.DatapathID)
	b.dpidAuto.Store(cfg.DatapathID == 0)
	b.ports.Store(&portSet{})
	b.macs.init(macTableSize, macAgingTime)
	b.mf.init()
	normal := openflow.FlowMod{
		Command:  openflow.FlowAdd,
		Priority: 0,
		OutPort:  openflow.PortAny,
		OutGroup: openflow.GroupAny,
		BufferID: openflow.NoBuffer,
		Actions:  []openflow.Action{{Type: openflow.ActOutput, Port: openflow.PortNormal}},
	}
	if _, err := b.FlowMods([]openflow.FlowMod{normal}); err != nil {
		panic("ofproto: default NORMAL flow rejected: " + err.Error())
	}
	return b
}

// Name returns the bridge's name.
func (b *Bridge) Name() string { return b.name }

// DatapathID returns the OpenFlow datapath id.
func (b *Bridge) DatapathID() uint64 { return b.dpid.Load() }

// SetDatapathID sets the datapath id; 0 returns to deriving it from the
// LOCAL port's MAC address.
func (b *Bridge) SetDatapathID(id uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.dpidAuto.Store(id == 0)
	if id == 0 {
		id = b.localDPID()
	}
	b.dpid.Store(id)
}

// localDPID derives a datapath id from the LOCAL port's MAC: Open vSwitch
// uses the 48-bit MAC zero-extended to 64 bits. Called with b.mu held.
func (b *Bridge) localDPID() uint64 {
	p := b.ports.Load().byNo(openflow.PortLocal)
	if p == nil {
		return 0
	}
	var id uint64
	for _, x := range p.spec.HWAddr {
		id = id<<8 | uint64(x)
	}
	return id
}

// SetFlowRemovedHook sets the function called (outside any bridge lock) for
// every flow that leaves a table by idle or hard timeout, whether or not
// the flow has send_flow_rem (the caller filters on FlowStats.Flags when it
// speaks OpenFlow), and for flows deleted by a flow mod: every one with
// FlowMods, only those with send_flow_rem with ApplyFlowMods and
// RecordFlowMods (see FlowChanges.Removed).
func (b *Bridge) SetFlowRemovedHook(fn func(openflow.FlowStats, uint8)) {
	if fn == nil {
		b.flowRemoved.Store(nil)
		return
	}
	b.flowRemoved.Store(&fn)
}

// SetPacketInHook sets the function that receives packets sent to the
// controller. Without a hook such packets are counted and dropped.
func (b *Bridge) SetPacketInHook(fn func(PacketIn)) {
	if fn == nil {
		b.packetIn.Store(nil)
		return
	}
	b.packetIn.Store(&fn)
}

// PacketInDrops returns how many packets were sent to the controller while no
// packet-in hook was set.
func (b *Bridge) PacketInDrops() uint64 { return b.packetInDrops.Load() }

// bump invalidates every cached forwarding decision. Callers make their
// change visible first, then bump.
func (b *Bridge) bump() { b.gen.Add(1) }

// Close stops every port's receive goroutine and closes the links.
func (b *Bridge) Close() {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return
	}
	b.closed = true
	ps := b.ports.Load()
	b.ports.Store(&portSet{})
	b.bump()
	b.mu.Unlock()
	for _, p := range ps.list {
		p.stop()
	}
	b.wg.Wait()
}

func macString(m [6]byte) string { return net.HardwareAddr(m[:]).String() }
