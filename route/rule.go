package route

import (
	"net/netip"
)

// Action is what a rule does when it matches (FR_ACT_* in
// include/uapi/linux/fib_rules.h).
type Action uint8

// Rule actions.
const (
	ActionUnspec      Action = 0
	ActionLookup      Action = 1 // FR_ACT_TO_TBL: "lookup TABLE"
	ActionGoto        Action = 2 // "goto PRIORITY"
	ActionNop         Action = 3
	ActionBlackhole   Action = 6
	ActionUnreachable Action = 7
	ActionProhibit    Action = 8
)

// PortRange is an inclusive port range; the zero value matches any port.
type PortRange struct{ Start, End uint16 }

func (p PortRange) set() bool { return p.Start != 0 || p.End != 0 }

func (p PortRange) contains(port uint16) bool { return port >= p.Start && port <= p.End }

// Rule is one routing policy rule (struct fib_rule + fib4_rule).
type Rule struct {
	// Priority orders rules; rules of equal priority keep insertion order.
	Priority uint32
	// PrioritySet is false when the user gave no priority: AddRule then
	// picks one as fib_default_rule_pref does.
	PrioritySet bool
	Invert      bool         // "not"
	Src, Dst    netip.Prefix // zero value: from/to all
	TOS         uint8        // compared under tosMask; 0 matches any
	Mark, Mask  uint32       // fwmark/mask; Mask 0 matches any mark
	IIF, OIF    string       // interface names; "" matches any
	IPProto     uint8        // 0 matches any
	SPort       PortRange
	DPort       PortRange
	Action      Action
	Table       TableID // for ActionLookup
	Goto        uint32  // target priority for ActionGoto
	// SuppressPrefixLen rejects a lookup result whose prefix length is
	// at most this value; -1 (NoSuppress) disables it. Use NewRule to get
	// the right defaults.
	SuppressPrefixLen int
	// SuppressIfGroup rejects results whose device is in this interface
	// group; -1 disables it. Interface groups are not modelled: every
	// device is in group 0.
	SuppressIfGroup int
	Protocol        Protocol
}

// NoSuppress is the value of SuppressPrefixLen and SuppressIfGroup when
// the rule does not suppress.
const NoSuppress = -1

// NewRule returns a rule with the kernel's defaults: lookup main, no
// suppression, no priority.
func NewRule() Rule {
	return Rule{Action: ActionLookup, Table: TableMain, SuppressPrefixLen: NoSuppress, SuppressIfGroup: NoSuppress}
}

// compiledRule is a rule as the snapshot walks it: interface names resolved
// to indexes (-1 when the device does not exist: "[detached]", never
// matches), table resolved to a pointer, goto resolved to a rule index.
type compiledRule struct {
	Rule
	iif, oif int
	tbl      *table
	target   int // index of the goto target in the rule slice, -1 unresolved
	// merged is true while local and main are one trie in the kernel:
	// results from local then report table main.
	merged bool
}

// match is fib_rule_match + fib4_rule_match for one flow.
func (r *compiledRule) match(q *Query, iif int) bool {
	return r.selectors(q, iif) != r.Invert
}

func (r *compiledRule) selectors(q *Query, iif int) bool {
	if r.iif != 0 && r.iif != iif {
		return false
	}
	if r.oif != 0 && r.oif != q.OIF {
		return false
	}
	if (r.Mark^q.Mark)&r.Mask != 0 {
		return false
	}
	if r.Src.IsValid() && r.Src.Bits() > 0 && !r.Src.Contains(q.Src) {
		return false
	}
	if r.Dst.IsValid() && r.Dst.Bits() > 0 && !r.Dst.Contains(q.Dst) {
		return false
	}
	if r.TOS != 0 && r.TOS != q.TOS&tosMask {
		return false
	}
	if r.IPProto != 0 && r.IPProto != q.Proto {
		return false
	}
	if r.SPort.set() && !r.SPort.contains(q.SPort) {
		return false
	}
	if r.DPort.set() && !r.DPort.contains(q.DPort) {
		return false
	}
	return true
}

// sameAs is the kernel's rule_exists comparison for NLM_F_EXCL adds: the
// goto target is not compared (adding "pref 100 goto 300" next to
// "pref 100 goto 200" fails with EEXIST on Linux 6.x).
func (r *Rule) sameAs(o *Rule) bool {
	return r.Priority == o.Priority && r.Invert == o.Invert && r.Src == o.Src &&
		r.Dst == o.Dst && r.TOS == o.TOS && r.Mark == o.Mark && r.Mask == o.Mask &&
		r.IIF == o.IIF && r.OIF == o.OIF && r.IPProto == o.IPProto &&
		r.SPort == o.SPort && r.DPort == o.DPort && r.Action == o.Action &&
		r.Table == o.Table && r.SuppressPrefixLen == o.SuppressPrefixLen &&
		r.SuppressIfGroup == o.SuppressIfGroup
}

// RuleSelector picks a rule to delete as `ip rule del` does (rule_find in
// net/core/fib_rules.c): every field that is set must match, unset fields
// match anything. Set tells which fields were given.
type RuleSelector struct {
	Rule
	Set RuleFields
}

// RuleFields is a bit set of Rule fields given on a command line.
type RuleFields uint32

// Rule fields.
const (
	FieldPriority RuleFields = 1 << iota
	FieldSrc
	FieldDst
	FieldTOS
	FieldMark
	FieldIIF
	FieldOIF
	FieldIPProto
	FieldSPort
	FieldDPort
	FieldAction
	FieldTable
	FieldGoto
	FieldSuppressPrefixLen
	FieldSuppressIfGroup
	FieldInvert
)

func (s *RuleSelector) selects(r *Rule) bool {
	checks := [...]struct {
		f  RuleFields
		eq bool
	}{
		{FieldPriority, s.Priority == r.Priority},
		{FieldSrc, s.Src == r.Src},
		{FieldDst, s.Dst == r.Dst},
		{FieldTOS, s.TOS == r.TOS},
		{FieldMark, s.Mark == r.Mark && s.Mask == r.Mask},
		{FieldIIF, s.IIF == r.IIF},
		{FieldOIF, s.OIF == r.OIF},
		{FieldIPProto, s.IPProto == r.IPProto},
		{FieldSPort, s.SPort == r.SPort},
		{FieldDPort, s.DPort == r.DPort},
		{FieldAction, s.Action == r.Action},
		{FieldTable, s.Table == r.Table},
		{FieldGoto, s.Goto == r.Goto},
		{FieldSuppressPrefixLen, s.SuppressPrefixLen == r.SuppressPrefixLen},
		{FieldSuppressIfGroup, s.SuppressIfGroup == r.SuppressIfGroup},
		{FieldInvert, s.Invert == r.Invert},
	}
	for _, c := range checks {
		if s.Set&c.f != 0 && !c.eq {
			return false
		}
	}
	return true
}
