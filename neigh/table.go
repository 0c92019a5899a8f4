package neigh

import (
	"math/rand/v2"
	"net/netip"
	"sync"
	"syscall"
	"time"

	"tapestry/packet"
	"tapestry/route"
)

// Params are the per-table neighbour parameters, named after the sysctls
// under /proc/sys/net/ipv4/neigh/<dev>/ (Documentation/networking/ip-sysctl.rst).
type Params struct {
	BaseReachableTime   time.Duration // base_reachable_time_ms, 30 s
	DelayFirstProbeTime time.Duration // delay_first_probe_time, 5 s
	RetransTime         time.Duration // retrans_time_ms, 1 s
	GCStaleTime         time.Duration // gc_stale_time, 60 s
	// LockTime is locktime (1 s): an ARP packet that is not a reply to us
	// may not change a lladdr updated more recently than this.
	LockTime     time.Duration
	UcastSolicit int // ucast_solicit, 3
	McastSolicit int // mcast_solicit, 3
	AppSolicit   int // app_solicit, 0 (no arpd)
	// UnresQLen is unres_qlen, the packets queued per unresolved entry.
	// Kernels since 3.3 bound the queue in bytes (unres_qlen_bytes =
	// 212992) and derive unres_qlen = 101 from it (bytes / truesize of a
	// full Ethernet frame); we count packets, with that derived default.
	UnresQLen int
	// GCInterval is how often the periodic collector runs: the kernel
	// runs neigh_periodic_work every base_reachable_time/2.
	GCInterval time.Duration
	GCThresh1  int // gc_thresh1, 128: no periodic GC below this
	GCThresh2  int // gc_thresh2, 512: forced GC if older than 5 s
	GCThresh3  int // gc_thresh3, 1024: hard limit
}

// DefaultParams returns Linux's defaults for ARP (arp_tbl in net/ipv4/arp.c).
func DefaultParams() Params {
	return Params{
		BaseReachableTime:   30 * time.Second,
		DelayFirstProbeTime: 5 * time.Second,
		RetransTime:         time.Second,
		GCStaleTime:         60 * time.Second,
		LockTime:            time.Second,
		UcastSolicit:        3,
		McastSolicit:        3,
		UnresQLen:           101,
		GCInterval:          15 * time.Second,
		GCThresh1:           128,
		GCThresh2:           512,
		GCThresh3:           1024,
	}
}

// Sender is what the table asks of its owner. It is never called with
// the table's lock held, so it may call back into the table.
type Sender interface {
	// Solicit sends an ARP request for target out of ifindex: to dst
	// when dst is not zero (a unicast PROBE), else broadcast. trigger is
	// the oldest packet waiting for the answer (nil if none), whose
	// source address arp_announce may pick as the sender address.
	Solicit(ifindex int, target [4]byte, dst packet.MAC, trigger []byte)
	// Transmit sends a queued frame once its destination MAC is known;
	// the table has already written it into the frame.
	Transmit(ifindex int, frame []byte)
	// Unreachable reports a queued frame dropped because resolution
	// failed; Linux answers it with ICMP host unreachable
	// (arp_error_report).
	Unreachable(ifindex int, frame []byte)
}

// Key identifies an entry: an interface and an IPv4 address.
type Key struct {
	IfIndex int
	Addr    [4]byte
}

// Entry is a snapshot of one neighbour.
type Entry struct {
	IfIndex   int
	Addr      netip.Addr
	MAC       packet.MAC
	State     State
	Router    bool
	Probes    int
	Queued    int
	Used      time.Time
	Confirmed time.Time
	Updated   time.Time
}

// Stats are the table's counters, as `ip -s ntable show` prints them.
type Stats struct {
	Entries       int
	Allocs        uint64
	Destroys      uint64
	ResFailed     uint64 // resolutions that ended FAILED
	UnresDiscards uint64 // packets dropped from a full unresolved queue
	TableFulls    uint64 // allocations refused at gc_thresh3
	ForcedGCRuns  uint64
	PeriodicGC    uint64
}

type entry struct {
	Key
	mac       packet.MAC
	state     State
	router    bool
	probes    int
	used      time.Time
	confirmed time.Time
	updated   time.Time
	timer     time.Time // zero: no timer
	queue     [][]byte  // packets awaiting resolution, oldest first
}

// Table is one namespace's ARP table.
type Table struct {
	clock Clock
	send  Sender
	rand  *rand.Rand

	mu        sync.Mutex
	params    Params
	reachable time.Duration // randomized reachable_time
	randAt    time.Time     // when reachable was last randomized
	entries   map[Key]*entry
	lastFlush time.Time
	nextGC    time.Time
	stats     Stats
}

// New returns an empty table with Linux's default parameters. seed makes
// the randomized reachable_time reproducible.
func New(clock Clock, send Sender, seed uint64) *Table {
	t := &Table{clock: clock, send: send, rand: rand.New(rand.NewPCG(seed, 0x6e656967)), entries: map[Key]*entry{}}
	now := clock.Now()
	t.params = DefaultParams()
	t.reachable = t.randReachable()
	t.randAt, t.lastFlush, t.nextGC = now, now, now.Add(t.params.GCInterval)
	return t
}

// randReachable is neigh_rand_reach_time: uniformly in [base/2, 3*base/2).
func (t *Table) randReachable() time.Duration {
	b := t.params.BaseReachableTime
	if b <= 0 {
		return 0
	}
	return b/2 + time.Duration(t.rand.Int64N(int64(b)))
}

// Params returns the table's parameters.
func (t *Table) Params() Params {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.params
}

// SetParams changes the parameters; a new base_reachable_time takes
// effect at once, as writing the sysctl does.
func (t *Table) SetParams(p Params) {
	t.mu.Lock()
	defer t.mu.Unlock()
	changed := p.BaseReachableTime != t.params.BaseReachableTime
	t.params = p
	if changed {
		t.reachable = t.randReachable()
	}
}

// ReachableTime returns the current randomized reachable_time.
func (t *Table) ReachableTime() time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.reachable
}

// Stats returns the counters.
func (t *Table) Stats() Stats {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.stats
	s.Entries = len(t.entries)
	return s
}

// work is output collected under the lock and performed after it.
type work struct {
	solicit []solicitation
	xmit    []queued
	unreach []queued
}

type solicitation struct {
	ifindex int
	target  [4]byte
	dst     packet.MAC
	trigger []byte
}

type queued struct {
	ifindex int
	frame   []byte
}

func (t *Table) run(w *work) {
	for _, s := range w.solicit {
		t.send.Solicit(s.ifindex, s.target, s.dst, s.trigger)
	}
	for _, q := range w.xmit {
		t.send.Transmit(q.ifindex, q.frame)
	}
	for _, q := range w.unreach {
		t.send.Unreachable(q.ifindex, q.frame)
	}
}

// Resolve is the output path's neighbour step (neigh_resolve_output and
// __neigh_event_send). When the entry holds a usable address it returns it
// and true; a STALE entry moves to DELAY. Otherwise frame is copied onto
// the entry's queue (the oldest packet is dropped when the queue is full,
// counted in UnresDiscards), resolution starts if needed, and Resolve
// returns false. A usable entry costs no allocation.
func (t *Table) Resolve(ifindex int, addr [4]byte, frame []byte) (packet.MAC, bool) {
	k := Key{ifindex, addr}
	t.mu.Lock()
	e := t.entries[k]
	if e != nil && e.state&connected != 0 {
		mac := e.mac
		t.mu.Unlock()
		return mac, true
	}
	now := t.clock.Now()
	if e != nil && e.state&Valid != 0 {
		e.used = now
		if e.state == StateStale {
			e.state, e.updated, e.timer = StateDelay, now, now.Add(t.params.DelayFirstProbeTime)
		}
		mac := e.mac
		t.mu.Unlock()
		return mac, true
	}
	var w work
	if e == nil {
		if e = t.alloc(k, now); e == nil {
			t.mu.Unlock()
			return packet.MAC{}, false
		}
	}
	e.used = now
	t.enqueue(e, frame)
	if e.state == StateNone || e.state == StateFailed {
		// Start resolving: probes counts from ucast_solicit so that the
		// requests made in INCOMPLETE are broadcasts (arp_solicit).
		e.state, e.updated, e.probes = StateIncomplete, now, t.params.UcastSolicit
		e.timer = now.Add(t.params.RetransTime)
		t.probe(e, &w)
	}
	t.mu.Unlock()
	t.run(&w)
	return packet.MAC{}, false
}

func (t *Table) enqueue(e *entry, frame []byte) {
	if t.params.UnresQLen <= 0 {
		t.stats.UnresDiscards++
		return
	}
	for len(e.queue) >= t.params.UnresQLen {
		e.queue = e.queue[1:]
		t.stats.UnresDiscards++
	}
	e.queue = append(e.queue, append([]byte(nil), frame...))
}

// probe is neigh_probe + arp_solicit: unicast to the known address while
// probes < ucast_solicit, else broadcast.
func (t *Table) probe(e *entry, w *work) {
	s := solicitation{ifindex: e.IfIndex, target: e.Addr}
	if e.probes < t.params.UcastSolicit {
		s.dst = e.mac
	}
	if len(e.queue) > 0 {
		s.trigger = e.queue[0]
	}
	w.solicit = append(w.solicit, s)
	e.probes++
}

// maxProbes is neigh_max_probes.
func (t *Table) maxProbes(e *entry) int {
	n := t.params.UcastSolicit + t.params.AppSolicit
	if e.state&StateProbe == 0 {
		n += t.params.McastSolicit
	}
	return n
}

// alloc is neigh_alloc: it runs the forced collector when the table is
// above gc_thresh3, or above gc_thresh2 and last flushed over 5 s ago,
// and refuses a new entry when it stays at gc_thresh3.
func (t *Table) alloc(k Key, now time.Time) *entry {
	n := len(t.entries)
	if n >= t.params.GCThresh3 || (n >= t.params.GCThresh2 && now.After(t.lastFlush.Add(5*time.Second))) {
		if !t.forcedGC(now) && len(t.entries) >= t.params.GCThresh3 {
			t.stats.TableFulls++
			return nil
		}
	}
	e := &entry{Key: k, updated: now, used: now}
	e.confirmed = now.Add(-2 * t.params.BaseReachableTime)
	t.entries[k] = e
	t.stats.Allocs++
	return e
}

// forcedGC is neigh_forced_gc: drop unreferenced entries that are FAILED,
// NOARP or not updated for 5 s, until the table is down to gc_thresh2.
func (t *Table) forcedGC(now time.Time) bool {
	t.stats.ForcedGCRuns++
	tref := now.Add(-5 * time.Second)
	shrunk := false
	for k, e := range t.entries {
		if len(t.entries) <= t.params.GCThresh2 {
			break
		}
		if e.state&StatePermanent != 0 || len(e.queue) > 0 {
			continue
		}
		if e.state == StateFailed || e.state == StateNoARP || !e.updated.After(tref) {
			delete(t.entries, k)
			t.stats.Destroys++
			shrunk = true
		}
	}
	t.lastFlush = now
	return shrunk
}

// Lookup returns the entry for addr on ifindex.
func (t *Table) Lookup(ifindex int, addr netip.Addr) (Entry, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.entries[Key{ifindex, addr.As4()}]
	if e == nil {
		return Entry{}, false
	}
	return e.snapshot(), true
}

func (e *entry) snapshot() Entry {
	x := Entry{IfIndex: e.IfIndex, Addr: netip.AddrFrom4(e.Addr), State: e.state, Router: e.router,
		Probes: e.probes, Queued: len(e.queue), Used: e.used, Confirmed: e.confirmed, Updated: e.updated}
	if e.state&Valid != 0 {
		x.MAC = e.mac
	}
	return x
}

// Confirm records forward progress (neigh_confirm, e.g. from TCP ACKs or
// MSG_CONFIRM): the entry counts as confirmed now.
func (t *Table) Confirm(ifindex int, addr netip.Addr) {
	t.mu.Lock()
	if e := t.entries[Key{ifindex, addr.As4()}]; e != nil {
		e.confirmed = t.clock.Now()
	}
	t.mu.Unlock()
}

// errno wraps a kernel errno as rtnetlink reports it.
func errno(n syscall.Errno) error { return &route.Error{Errno: n} }
