// Package neigh is the IPv4 neighbour (ARP) table of one network namespace,
// modelled on Linux's neighbour subsystem (net/core/neighbour.c) as ARP
// uses it (net/ipv4/arp.c).
//
// Each entry is keyed by interface index and IPv4 address and walks the
// kernel's NUD state machine:
//
//	none -> INCOMPLETE  traffic needs the address: queue it and broadcast
//	                    mcast_solicit requests, one per retrans_time
//	INCOMPLETE -> REACHABLE  a reply arrived: flush the queue
//	INCOMPLETE -> FAILED     mcast_solicit requests unanswered: the queued
//	                         packets are reported unreachable (the kernel's
//	                         arp_error_report sends ICMP host unreachable)
//	REACHABLE -> STALE   reachable_time passed without confirmation
//	REACHABLE -> DELAY   ... but the entry was used within delay_first_probe_time
//	STALE -> DELAY       traffic used the entry
//	DELAY -> REACHABLE   confirmed within delay_first_probe_time
//	DELAY -> PROBE       not confirmed: unicast ucast_solicit probes
//	PROBE -> REACHABLE   a reply arrived
//	PROBE -> FAILED      the probes went unanswered
//
// PERMANENT and NOARP entries are administrative and never time out.
//
// Time comes from an injectable Clock; nothing sleeps. Expired timers run
// when the owner calls Tick (netstack calls it from one goroutine at
// NextTimer; tests advance a ManualClock and call Tick).
package neigh

import (
	"fmt"
	"strconv"
	"strings"
)

// State is a neighbour state, with the kernel's NUD_* bit values
// (include/uapi/linux/neighbour.h) so that masks like NUD_VALID work.
type State uint16

// NUD states.
const (
	StateNone       State = 0x00
	StateIncomplete State = 0x01
	StateReachable  State = 0x02
	StateStale      State = 0x04
	StateDelay      State = 0x08
	StateProbe      State = 0x10
	StateFailed     State = 0x20
	StateNoARP      State = 0x40
	StatePermanent  State = 0x80
)

// State classes from include/net/neighbour.h.
const (
	// inTimer states have a running timer.
	inTimer = StateIncomplete | StateReachable | StateDelay | StateProbe
	// Valid states carry a usable link-layer address.
	Valid = StatePermanent | StateNoARP | StateReachable | StateProbe | StateStale | StateDelay
	// connected states need no confirmation before use.
	connected = StatePermanent | StateNoARP | StateReachable
)

var stateNames = []struct {
	s    State
	name string
}{
	{StateIncomplete, "INCOMPLETE"}, {StateReachable, "REACHABLE"}, {StateStale, "STALE"},
	{StateDelay, "DELAY"}, {StateProbe, "PROBE"}, {StateFailed, "FAILED"},
	{StateNoARP, "NOARP"}, {StatePermanent, "PERMANENT"},
}

// String returns the state as `ip neigh` prints it: each set bit's name,
// space separated, in iproute2's order ("NONE" for zero).
func (s State) String() string {
	if s == StateNone {
		return "NONE"
	}
	var b strings.Builder
	for _, n := range stateNames {
		if s&n.s != 0 {
			if b.Len() > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(n.name)
		}
	}
	return b.String()
}

// ParseState parses an iproute2 "nud" argument (permanent, noarp,
// reachable, stale, none, incomplete, delay, probe, failed) or a number.
func ParseState(s string) (State, error) {
	low := strings.ToLower(s)
	if low == "none" {
		return StateNone, nil
	}
	for _, n := range stateNames {
		if strings.ToLower(n.name) == low {
			return n.s, nil
		}
	}
	if v, err := strconv.ParseUint(s, 0, 8); err == nil {
		return State(v), nil
	}
	return 0, fmt.Errorf("neigh: nud state %q is invalid", s)
}
