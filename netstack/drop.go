package netstack

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"tapestry/route"
)

// dropReason is why a packet was dropped; every drop is counted.
type dropReason uint8

const (
	dropLinkDown dropReason = iota
	dropRunt
	dropOtherHost
	dropProto
	dropARP
	dropARPIgnore
	dropIPHeader
	dropIPChecksum
	dropIPLength
	dropRPFilter
	dropMartian
	dropNoRoute
	dropUnreachable
	dropProhibit
	dropBlackhole
	dropTTL
	dropFragNeeded
	dropNeighFailed
	dropReassembly
	dropNoProto
	dropICMP
	dropEchoBroadcast
	dropUDP
	dropTCP
	dropNoSocket
	dropICMPRateLimit
	dropFragDup
	dropReassemblyTimeout
	dropNetfilter
	numDropReasons
)

// dropNames are the reason strings, after the kernel's SKB_DROP_REASON_*
// where one exists.
var dropNames = [numDropReasons]string{
	"link_down", "pkt_too_small", "otherhost", "unhandled_proto", "arp_invalid", "arp_ignore",
	"ip_header", "ip_csum", "pkt_too_small_ip", "ip_rpfilter", "ip_invalid_source", "ip_noroute",
	"ip_unreachable", "ip_prohibit", "ip_blackhole", "ip_ttl_expired", "pkt_too_big", "neigh_failed",
	"ip_fragment_reassembly", "ip_noproto", "icmp_invalid", "icmp_echo_broadcast", "udp_invalid", "tcp_invalid",
	"no_socket", "icmp_ratelimit", "dup_frag", "frag_reasm_timeout", "netfilter_drop",
}

func (ns *Namespace) drop(tr *Trace, r dropReason) {
	ns.drops[r].Add(1)
	if tr != nil {
		tr.record("drop", "%s", dropNames[r])
	}
}

// Drops returns the non-zero drop counters by reason.
func (ns *Namespace) Drops() map[string]uint64 {
	m := map[string]uint64{}
	for i := range ns.drops {
		if n := ns.drops[i].Load(); n != 0 {
			m[dropNames[i]] = n
		}
	}
	return m
}

// TraceStep is one stage a traced packet went through.
type TraceStep struct {
	Stage  string
	Detail string
}

// Trace records the stages of traced packets. A nil *Trace records
// nothing (one branch on the fast path).
type Trace struct {
	mu    sync.Mutex
	Steps []TraceStep
}

func (t *Trace) record(stage, format string, args ...any) {
	if t == nil {
		return
	}
	t.mu.Lock()
	t.Steps = append(t.Steps, TraceStep{stage, fmt.Sprintf(format, args...)})
	t.mu.Unlock()
}

// String prints one "stage: detail" line per step.
func (t *Trace) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var b strings.Builder
	for _, s := range t.Steps {
		fmt.Fprintf(&b, "%s: %s\n", s.Stage, s.Detail)
	}
	return b.String()
}

// Record implements route.Recorder: each rule considered and each table
// lookup of the routing decision.
func (t *Trace) Record(s route.Step) {
	switch {
	case s.Rule == nil:
	case !s.Matched:
		t.record("rule", "%d: no match", s.Rule.Priority)
	case s.Route != nil:
		t.record("rule", "%d: lookup %v: %v", s.Rule.Priority, s.Table, route.FormatRoute(s.Route, true))
	case s.Err != nil:
		t.record("rule", "%d: lookup %v: %v", s.Rule.Priority, s.Table, s.Err)
	default:
		t.record("rule", "%d: matched", s.Rule.Priority)
	}
}

func (t *Trace) route(db *route.RPDB, q route.Query) {
	res, err := db.LookupTrace(q, t)
	if err != nil {
		t.record("route", "%v -> %v", q.Dst, err)
		return
	}
	t.record("route", "%v -> %v table %v dev %s gw %v", q.Dst, res.Type, res.Table, res.Dev, res.Gateway)
}

// VirtualClock is a Clock for in-process topologies: time stands still
// until Advance, which then runs the timers of every namespace made with
// it. Ping advances it instead of sleeping.
type VirtualClock struct {
	mu  sync.Mutex
	now time.Time
	ns  []*Namespace
}

// NewVirtualClock returns a clock stopped at t.
func NewVirtualClock(t time.Time) *VirtualClock { return &VirtualClock{now: t} }

// Now returns the virtual time.
func (c *VirtualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *VirtualClock) register(ns *Namespace) {
	c.mu.Lock()
	c.ns = append(c.ns, ns)
	c.mu.Unlock()
}

// Advance moves time forward by d in steps of at most 10 ms, running
// every namespace's due timers after each step.
func (c *VirtualClock) Advance(d time.Duration) {
	for d > 0 {
		s := min(d, 10*time.Millisecond)
		d -= s
		c.mu.Lock()
		c.now = c.now.Add(s)
		nss := append([]*Namespace(nil), c.ns...)
		c.mu.Unlock()
		for _, ns := range nss {
			ns.Tick()
		}
	}
}
