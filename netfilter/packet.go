package netfilter

import (
	"log/slog"
	"net/netip"
	"sync/atomic"

	"tapestry/conntrack"
	"tapestry/flow"
)

// Packet is what a hook sees: the frame, its parsed key and metadata. The
// caller (the network stack) fills it once when the packet enters and keeps
// it through every hook the packet passes, so conntrack state found at
// PREROUTING is there at FORWARD and POSTROUTING.
type Packet struct {
	// Frame is the Ethernet frame; locally generated packets carry a
	// frame with zero MAC addresses. Targets rewrite it in place.
	Frame []byte
	// Off locates the IP and transport headers (from flow.Extract).
	Off flow.Offsets
	// Key is the extracted key, kept in step with rewrites. Key.PktMark is
	// the packet mark (skb->mark).
	Key flow.Key
	// In and Out are the interface names ("" where the hook has none:
	// no Out before routing, no In for locally generated packets).
	In, Out string
	// UID is the owning socket's user for locally generated packets.
	UID    uint32
	HasUID bool
	// Now is the clock time in nanoseconds (limit buckets, conntrack).
	Now int64

	// Conn and CtInfo are the conntrack entry and classification, set by
	// the conntrack step of PREROUTING or OUTPUT.
	Conn   *conntrack.Conn
	CtInfo conntrack.Info
	// Zone is the conntrack zone (CT --zone in raw sets it).
	Zone uint16

	// Trace, when set, records every rule the packet hits.
	Trace Tracer
	// Traced is set by the TRACE target: Env.Log then gets the kernel's
	// "TRACE: table:chain:type:num" lines.
	Traced bool

	// Reply is set with VerdictReject: the IPv4 packet REJECT built (an ICMP
	// error or a TCP RST), for the stack to route back out.
	Reply []byte
	// DropReason says why a hook returned VerdictDrop or VerdictReject.
	DropReason string

	tracked bool // conntrack step done (or skipped by NOTRACK)
}

// Reset clears the per-packet state for reuse with a new frame.
func (p *Packet) Reset() {
	*p = Packet{Reply: p.Reply[:0]}
}

// Attach gives p the connection of the packet it answers, as the kernel
// does for REJECT's replies (nf_ct_attach; observed for the ICMP error too,
// even when the connection is unconfirmed): p skips connection tracking
// and is RELATED to c, in the direction opposite to the original's (info is
// the original packet's classification).
func (p *Packet) Attach(c *conntrack.Conn, info conntrack.Info) {
	p.Conn, p.tracked = c, true
	p.CtInfo = conntrack.InfoRelatedReply
	if info.Dir() == conntrack.DirReply {
		p.CtInfo = conntrack.InfoRelated
	}
}

// TraceStep is one rule a traced packet passed, as the kernel's TRACE
// target reports it: Kind is "rule", "return" or "policy"; Num is the
// 1-based rule number in Chain (for "policy", the number after the last
// rule).
type TraceStep struct {
	Table   TableID
	Chain   string
	Kind    string
	Num     int
	Rule    *Rule // nil for policy and implicit return entries
	Verdict string
}

// Tracer records trace steps (the packet tracer implements it).
type Tracer interface {
	Step(TraceStep)
}

// AddrProvider answers the questions some matches and targets ask of the
// stack: MASQUERADE's source address, REDIRECT's destination, addrtype's
// address types. It is only consulted by rules that need it.
type AddrProvider interface {
	// PrimaryAddr is the first IPv4 address of interface name.
	PrimaryAddr(name string) (netip.Addr, bool)
	// AddrType classifies a as the routing table does (RTN_LOCAL,
	// RTN_BROADCAST, ...), optionally only for interface dev ("" any).
	AddrType(a netip.Addr, dev string) AddrType
}

// Env is what a ruleset runs against: the namespace's conntrack table,
// address provider, logger and drop counters. It outlives rulesets.
type Env struct {
	Conntrack *conntrack.Table // nil: no connection tracking
	Addrs     AddrProvider     // nil: MASQUERADE/REDIRECT drop, addrtype never matches
	Log       *slog.Logger     // LOG and TRACE output; nil: slog.Default()

	drops [numReasons]atomic.Uint64
}

// Drop reasons; every drop is counted under one.
const (
	ReasonRuleDrop   = "netfilter: rule DROP"
	ReasonPolicyDrop = "netfilter: chain policy DROP"
	ReasonReject     = "netfilter: REJECT"
	ReasonCtFull     = conntrack.ReasonTableFull
	ReasonCtClash    = conntrack.ReasonClash
	ReasonNATNoTuple = "nf_nat: no unique tuple"
	ReasonNoAddr     = "netfilter: MASQUERADE/REDIRECT without an address"
	ReasonJumpDepth  = "netfilter: jump stack exhausted"
)

var reasons = [...]string{ReasonRuleDrop, ReasonPolicyDrop, ReasonReject, ReasonCtFull, ReasonCtClash, ReasonNATNoTuple, ReasonNoAddr, ReasonJumpDepth}

const numReasons = len(reasons)

func (e *Env) drop(p *Packet, r int) Verdict {
	e.drops[r].Add(1)
	p.DropReason = reasons[r]
	if r == 2 {
		return VerdictReject
	}
	return VerdictDrop
}

// Drops returns the drop counters by reason.
func (e *Env) Drops() map[string]uint64 {
	m := make(map[string]uint64, numReasons)
	for i, r := range reasons {
		m[r] = e.drops[i].Load()
	}
	return m
}

func (e *Env) logger() *slog.Logger {
	if e.Log != nil {
		return e.Log
	}
	return slog.Default()
}
