// Package ofchannel is the switch side of the OpenFlow channel (OpenFlow 1.3
// §6.3): it lets ovs-ofctl, os-ken/Ryu and other controllers drive a tapestry
// bridge over the wire.
//
// One Agent serves one bridge. It accepts service connections (punix:, ptcp:,
// what ovs-ofctl uses) and keeps active connections to the controllers named
// by SetControllers (tcp:IP:PORT, unix:PATH), reconnecting with exponential
// backoff as Open vSwitch does. Every connection:
//
//  1. exchanges HELLO and negotiates the highest common version (OpenFlow 1.3
//     §6.3.1, version bitmaps §7.5.1);
//  2. reads messages one at a time and handles them in order, so a barrier
//     reply always follows the handling of every earlier message; runs of
//     flow mods already buffered are applied as one bridge batch;
//  3. writes through a bounded queue drained by its own goroutine: replies
//     block the reading side when the queue is full (backpressure), while
//     asynchronous messages (packet-in, flow-removed, port-status) are dropped
//     and counted, so a slow controller never blocks forwarding.
//
// Packet-ins are rate limited per bridge by a token bucket before they are
// fanned out, as ovs-vswitchd's controller_rate_limit does.
package ofchannel

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"tapestry/ofproto"
	"tapestry/openflow"
)

// Switch is what the agent needs from a bridge; *ofproto.Bridge implements
// it.
type Switch interface {
	DatapathID() uint64
	FlowMods(fms []openflow.FlowMod) (ofproto.FlowChanges, error)
	DumpFlows(filter openflow.FlowMod) []openflow.FlowStats
	Aggregate(filter openflow.FlowMod) openflow.AggregateStats
	TableStats() []openflow.TableStats
	Ports() []ofproto.PortInfo
	ModPort(no uint32, config, mask openflow.PortConfig) error
	Inject(inPort uint32, frame []byte)
	SetPacketInHook(fn func(ofproto.PacketIn))
	SetFlowRemovedHook(fn func(openflow.FlowStats, uint8))
}

// Executor is implemented by a switch that can run an arbitrary action list
// on a frame (OFPT_PACKET_OUT). Without it the agent can only send a
// packet-out whose actions are exactly output:TABLE (through Inject); other
// packet-outs are answered with OFPBAC_BAD_TYPE.
type Executor interface {
	Execute(inPort uint32, actions []openflow.Action, frame []byte) error
}

// FailMode is the bridge's fail_mode (ovs-vsctl set-fail-mode).
type FailMode uint8

// Fail modes (ovs-vswitchd.conf.db(5) Bridge fail_mode).
const (
	// FailStandalone: when no controller has been connected for three
	// inactivity probe intervals, the bridge forwards as a learning switch
	// on its own ("fail open").
	FailStandalone FailMode = iota
	// FailSecure: the bridge never sets up flows by itself.
	FailSecure
)

// String returns the ovs-vsctl spelling.
func (m FailMode) String() string {
	if m == FailSecure {
		return "secure"
	}
	return "standalone"
}

// Config configures an Agent. Zero values pick the defaults documented on
// each field.
type Config struct {
	// Protocols lists the allowed versions (openflow.Version10,
	// openflow.Version13), from the bridge's protocols column; empty means
	// both.
	Protocols []uint8
	// DatapathID overrides the switch's datapath id when set.
	DatapathID func() uint64
	FailMode   FailMode
	Logger     *slog.Logger
	// Now is the clock for durations; nil means time.Now.
	Now func() time.Time
	// ControllerRateLimit is the packet-in rate in packets per second. Open
	// vSwitch leaves it unlimited unless controller_rate_limit is set
	// (minimum 100); tapestry defaults to 1000/s so that a flood cannot
	// starve the daemon. Negative disables the limit.
	ControllerRateLimit int
	// ControllerBurstLimit is the bucket depth; 0 means a quarter of the
	// rate, as ovs-vswitchd.conf.db(5) controller_burst_limit defaults.
	ControllerBurstLimit int
	// InactivityProbe is the idle time after which an active controller
	// connection is sent an echo request, and after which, idle again, it is
	// dropped; 0 means 5 s (Controller inactivity_probe default).
	InactivityProbe time.Duration
	// MaxBackoff caps the reconnect interval; 0 means 8 s (max_backoff).
	MaxBackoff time.Duration
	// SendQueue is the number of messages a connection may have queued;
	// 0 means 1024.
	SendQueue int
	// Software and DPDesc fill the desc reply (ovs-ofctl show).
	Software string
	DPDesc   string
	// OnFlowChanges, when set, is told about every flow table change made
	// over OpenFlow so that the daemon can persist it. With an
	// *ofproto.Bridge as the switch, flows added, replaced or modified
	// arrive as FlowChanges.AddedRefs, not as Added copies.
	OnFlowChanges func(ofproto.FlowChanges)
	// OnGroupChanges, when set, is called after every group mod an
	// OpenFlow connection applied successfully, so that the daemon can
	// store the bridge's groups; flows a group delete removed are reported
	// through OnFlowChanges first.
	OnGroupChanges func()
	// FlowRemoved, when set, is called for every flow the bridge removes,
	// before the agent sends any OFPT_FLOW_REMOVED: the agent takes over
	// the bridge's flow-removed hook, and the daemon still needs to hear of
	// expiries to keep its store exact.
	FlowRemoved func(fs openflow.FlowStats, reason uint8)
}

// Stats counts what the agent dropped or refused.
type Stats struct {
	PacketIns         uint64 // packet-ins queued to at least one connection
	PacketInRateDrops uint64 // dropped by the rate limiter
	PacketInQueueDrop uint64 // dropped because a connection's queue was full
	AsyncQueueDrops   uint64 // flow-removed/port-status dropped on full queues
	Connections       int
}

// Agent is the OpenFlow endpoint of one bridge.
type Agent struct {
	sw   Switch
	cfg  Config
	log  *slog.Logger
	now  func() time.Time
	vers uint32 // bitmap of allowed versions

	limiter tokenBucket

	pinQueued, pinRateDrops, pinQueueDrops, asyncDrops atomic.Uint64

	tableFeatures [][]byte // encoded 1.3 table-features reply, xid 0

	// mu guards the fields below.
	mu        sync.Mutex
	conns     map[*conn]struct{}
	listeners []net.Listener
	ctrls     map[string]*controller
	genID     uint64 // last generation id of a role request (OpenFlow 1.3 §6.3.5)
	genSet    bool
	ports     map[uint32]openflow.PortDesc // as last announced in port-status
	fail      failState
	closed    bool
	done      chan struct{}
	wg        sync.WaitGroup
}

// New returns an agent for sw and installs the switch's packet-in and
// flow-removed hooks. Close removes them.
func New(sw Switch, cfg Config) *Agent {
	a := &Agent{sw: sw, cfg: cfg, log: cfg.Logger, now: cfg.Now,
		conns: make(map[*conn]struct{}), ctrls: make(map[string]*controller),
		done: make(chan struct{})}
	if a.log == nil {
		a.log = slog.Default()
	}
	if a.now == nil {
		a.now = time.Now
	}
	if len(cfg.Protocols) == 0 {
		a.vers = 1<<openflow.Version10 | 1<<openflow.Version13
	}
	for _, v := range cfg.Protocols {
		if v == openflow.Version10 || v == openflow.Version13 {
			a.vers |= 1 << v
		}
	}
	if a.cfg.InactivityProbe == 0 {
		a.cfg.InactivityProbe = 5 * time.Second
	}
	if a.cfg.MaxBackoff == 0 {
		a.cfg.MaxBackoff = 8 * time.Second
	}
	if a.cfg.SendQueue <= 0 {
		a.cfg.SendQueue = 1024
	}
	rate, burst := cfg.ControllerRateLimit, cfg.ControllerBurstLimit
	if rate == 0 {
		rate = 1000
	}
	if burst <= 0 {
		burst = max(rate/4, 1)
	}
	a.limiter.init(rate, burst, a.now)
	a.tableFeatures = encodeTableFeatures()
	a.ports = portMap(sw.Ports())
	sw.SetPacketInHook(a.packetIn)
	sw.SetFlowRemovedHook(a.flowRemoved)
	a.wg.Add(1)
	go a.housekeeping()
	return a
}

// datapathID is the id features replies carry.
func (a *Agent) datapathID() uint64 {
	if a.cfg.DatapathID != nil {
		return a.cfg.DatapathID()
	}
	return a.sw.DatapathID()
}

// ListenUnix serves OpenFlow on a unix socket, as Open vSwitch serves
// punix:<rundir>/<bridge>.mgmt for ovs-ofctl. A stale socket file is removed
// first.
func (a *Agent) ListenUnix(path string) error {
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&os.ModeSocket != 0 {
		_ = os.Remove(path)
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return fmt.Errorf("ofchannel: listen punix:%s: %w", path, err)
	}
	return a.serve(l)
}

// ListenTCP serves OpenFlow on a TCP address ("127.0.0.1:6653", ":6653"),
// the ptcp:PORT[:IP] connection method. It returns the bound address.
func (a *Agent) ListenTCP(addr string) (net.Addr, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("ofchannel: listen ptcp %s: %w", addr, err)
	}
	return l.Addr(), a.serve(l)
}

func (a *Agent) serve(l net.Listener) error {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		l.Close()
		return errors.New("ofchannel: agent closed")
	}
	a.listeners = append(a.listeners, l)
	a.wg.Add(1)
	a.mu.Unlock()
	go func() {
		defer a.wg.Done()
		for {
			nc, err := l.Accept()
			if err != nil {
				return
			}
			go a.runConn(nc, nil)
		}
	}()
	return nil
}

// Serve runs the OpenFlow protocol on an already connected stream (tests,
// in-process controllers) until it closes. The connection is a service
// connection, like one accepted by ListenUnix.
func (a *Agent) Serve(nc net.Conn) { a.runConn(nc, nil) }

// Stats returns the agent's counters.
func (a *Agent) Stats() Stats {
	a.mu.Lock()
	n := len(a.conns)
	a.mu.Unlock()
	return Stats{PacketIns: a.pinQueued.Load(), PacketInRateDrops: a.pinRateDrops.Load(),
		PacketInQueueDrop: a.pinQueueDrops.Load(), AsyncQueueDrops: a.asyncDrops.Load(), Connections: n}
}

// Close stops listening, disconnects every connection, stops reconnecting
// and removes the switch hooks.
func (a *Agent) Close() {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return
	}
	a.closed = true
	close(a.done)
	for _, l := range a.listeners {
		l.Close()
	}
	for c := range a.conns {
		c.close()
	}
	for _, ct := range a.ctrls {
		ct.stop()
	}
	a.mu.Unlock()
	a.sw.SetPacketInHook(nil)
	a.sw.SetFlowRemovedHook(nil)
	a.wg.Wait()
}

// housekeeping announces port changes and runs the fail-open timer.
func (a *Agent) housekeeping() {
	defer a.wg.Done()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-a.done:
			return
		case <-t.C:
			a.PortsChanged()
			a.checkFailOpen()
		}
	}
}

func (a *Agent) register(c *conn) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return false
	}
	a.conns[c] = struct{}{}
	return true
}

func (a *Agent) unregister(c *conn) {
	a.mu.Lock()
	delete(a.conns, c)
	a.mu.Unlock()
}

// snapshot returns the open connections.
func (a *Agent) snapshot() []*conn {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]*conn, 0, len(a.conns))
	for c := range a.conns {
		out = append(out, c)
	}
	return out
}
