// Package netfilter is the Linux packet filter in userspace: the tables raw,
// mangle, nat and filter with their built-in chains, user chains, the
// iptables matches and targets, compiled into an immutable Ruleset that a
// network stack runs at each of the five hooks.
//
// Hook order is the kernel's (include/uapi/linux/netfilter_ipv4.h
// priorities), lowest first:
//
//	raw        -300  PREROUTING OUTPUT
//	conntrack  -200  PREROUTING OUTPUT          (Track; priority NF_IP_PRI_CONNTRACK)
//	mangle     -150  all five hooks
//	nat dst    -100  PREROUTING OUTPUT          (DNAT, REDIRECT)
//	filter        0  INPUT FORWARD OUTPUT
//	nat src     100  POSTROUTING INPUT          (SNAT, MASQUERADE)
//	confirm   INT_MAX POSTROUTING INPUT         (conntrack confirm)
//
// The rule model (Table, Chain, Rule, the Match and Target types) is what
// the iptables syntax package parses into and prints from; Compile turns a
// set of tables into a Ruleset laid out as the kernel's ipt_replace blob:
// per table one flat rule array, each built-in chain's rules followed by its
// policy ("underflow") entry, each user chain's followed by a RETURN.
package netfilter

import (
	"fmt"
	"net/netip"
)

// Hook is a netfilter hook point.
type Hook uint8

// The IPv4 hooks (NF_INET_*).
const (
	HookPrerouting Hook = iota
	HookInput
	HookForward
	HookOutput
	HookPostrouting
	NumHooks
)

var hookNames = [NumHooks]string{"PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"}

// String returns the built-in chain name of the hook.
func (h Hook) String() string {
	if h < NumHooks {
		return hookNames[h]
	}
	return fmt.Sprintf("hook%d", h)
}

// HookByName returns the hook whose built-in chain is called name.
func HookByName(name string) (Hook, bool) {
	for i, n := range hookNames {
		if n == name {
			return Hook(i), true
		}
	}
	return 0, false
}

// TableID names one of the four IPv4 tables.
type TableID uint8

// Tables in hook priority order.
const (
	TableRaw TableID = iota
	TableMangle
	TableNAT
	TableFilter
	NumTables
)

var tableNames = [NumTables]string{"raw", "mangle", "nat", "filter"}

// String returns the table's name.
func (t TableID) String() string {
	if t < NumTables {
		return tableNames[t]
	}
	return fmt.Sprintf("table%d", t)
}

// TableByName returns the table called name.
func TableByName(name string) (TableID, bool) {
	for i, n := range tableNames {
		if n == name {
			return TableID(i), true
		}
	}
	return 0, false
}

// tableHooks are the built-in chains of each table (iptable_*.c valid_hooks).
var tableHooks = [NumTables][]Hook{
	TableRaw:    {HookPrerouting, HookOutput},
	TableMangle: {HookPrerouting, HookInput, HookForward, HookOutput, HookPostrouting},
	TableNAT:    {HookPrerouting, HookInput, HookOutput, HookPostrouting},
	TableFilter: {HookInput, HookForward, HookOutput},
}

// BuiltinChains returns the built-in chain hooks of table t in the order
// iptables lists them.
func BuiltinChains(t TableID) []Hook { return tableHooks[t] }

// HasHook reports whether table t has a built-in chain at hook h.
func HasHook(t TableID, h Hook) bool {
	for _, x := range tableHooks[t] {
		if x == h {
			return true
		}
	}
	return false
}

// Verdict is the fate of a packet at a hook.
type Verdict uint8

// Verdicts (NF_DROP, NF_ACCEPT; Reject is a drop after which the caller
// sends Packet.Reply).
const (
	VerdictAccept Verdict = iota
	VerdictDrop
	VerdictReject
)

func (v Verdict) String() string {
	return [...]string{"ACCEPT", "DROP", "REJECT"}[v]
}

// Policy is a built-in chain's policy.
type Policy uint8

// Policies.
const (
	PolicyAccept Policy = iota
	PolicyDrop
)

func (p Policy) String() string {
	if p == PolicyDrop {
		return "DROP"
	}
	return "ACCEPT"
}

// Counters are a rule's or policy's packet and byte counts.
type Counters struct {
	Packets, Bytes uint64
}

// Tables is a whole IPv4 ruleset: the model iptables-save prints.
type Tables [NumTables]*Table

// Table is one table: built-in chains first, then user chains in the
// order they were created.
type Table struct {
	ID     TableID
	Chains []*Chain
}

// Chain is a built-in or user chain.
type Chain struct {
	Name     string
	Builtin  bool
	Policy   Policy   // built-in chains only
	Counters Counters // the policy's counters
	Rules    []*Rule
}

// Rule is one iptables rule: the fixed IP header part (struct ipt_ip),
// the -m matches in order, and the target.
type Rule struct {
	Src, Dst       netip.Prefix // zero Prefix: any
	InvSrc, InvDst bool
	InIface        string // "" any; trailing "+" is a prefix wildcard
	OutIface       string
	InvIn, InvOut  bool
	Proto          uint8 // 0: all
	InvProto       bool
	Frag, InvFrag  bool // -f: second and later fragments
	Matches        []Match
	Target         Target
	Counters       Counters
}

// Match is one -m match; the concrete types are in matches.go.
type Match interface {
	// Name is the match module name as -m takes it.
	Name() string
}

// Target is a rule's -j target; the concrete types are in targets.go.
type Target interface {
	// Name is the target name as -j takes it.
	Name() string
}

// NewTables returns the four tables with their built-in chains, empty,
// with ACCEPT policies (what the kernel starts with).
func NewTables() Tables {
	var ts Tables
	for id := range ts {
		ts[id] = NewTable(TableID(id))
	}
	return ts
}

// NewTable returns table id with empty built-in chains.
func NewTable(id TableID) *Table {
	t := &Table{ID: id}
	for _, h := range tableHooks[id] {
		t.Chains = append(t.Chains, &Chain{Name: h.String(), Builtin: true})
	}
	return t
}

// Chain returns the chain called name, or nil.
func (t *Table) Chain(name string) *Chain {
	for _, c := range t.Chains {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// Clone returns a deep copy of the table's chain and rule slices (match and
// target values are shared: they are never modified in place).
func (t *Table) Clone() *Table {
	n := &Table{ID: t.ID, Chains: make([]*Chain, len(t.Chains))}
	for i, c := range t.Chains {
		cc := *c
		cc.Rules = make([]*Rule, len(c.Rules))
		for j, r := range c.Rules {
			rr := *r
			rr.Matches = append([]Match(nil), r.Matches...)
			cc.Rules[j] = &rr
		}
		n.Chains[i] = &cc
	}
	return n
}

// Clone deep-copies every table.
func (ts Tables) Clone() Tables {
	var n Tables
	for i, t := range ts {
		if t != nil {
			n[i] = t.Clone()
		}
	}
	return n
}
