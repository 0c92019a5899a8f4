package ofproto

import (
	"tapestry/classifier"
	"tapestry/flow"
	"tapestry/openflow"
)

// FlowRef names one flow a batch added, replaced or modified, as the batch
// left it, without copying it: 24 bytes where an openflow.FlowStats copy is
// about 450. A controller streaming 200,000 adds made the bridge copy every
// added flow's statistics only for the daemon to format a store record
// from them, and those copies were most of the stream's garbage.
//
// A FlowRef stays valid, and keeps describing the flow as it was when the
// batch ended, after the flow is modified or removed: table, priority,
// match, timeouts, flags and importance never change once a flow is in a
// table; the action list is immutable (a modify installs a new one) and
// the cookie is captured. It is safe to read from any goroutine that
// received it after the batch returned.
type FlowRef struct {
	rule   *classifier.Rule[*Flow]
	acts   *[]openflow.Action
	cookie uint64
}

func (f *Flow) ref() FlowRef {
	return FlowRef{rule: f.rule, acts: f.acts.Load(), cookie: f.cookie}
}

// Table returns the flow's table id.
func (r FlowRef) Table() uint8 { return r.rule.Value.table }

// Priority returns the flow's priority.
func (r FlowRef) Priority() uint16 { return r.rule.Priority }

// Match returns the flow's match, normalized.
func (r FlowRef) Match() flow.Match { return r.rule.Match() }

// FlowMod returns the OFPFC_ADD that recreates the flow as it was: what the
// daemon stores. Its Actions must not be modified.
func (r FlowRef) FlowMod() openflow.FlowMod {
	f := r.rule.Value
	return openflow.FlowMod{
		Command:     openflow.FlowAdd,
		Table:       f.table,
		Priority:    r.rule.Priority,
		Match:       r.rule.Match(),
		Cookie:      r.cookie,
		IdleTimeout: f.idle,
		HardTimeout: f.hard,
		Flags:       f.flags,
		Importance:  f.importance,
		OutPort:     openflow.PortAny,
		OutGroup:    openflow.GroupAny,
		BufferID:    openflow.NoBuffer,
		Actions:     *r.acts,
	}
}

// RecordFlowMods is FlowMods for a consumer that persists the changes as
// they arrive (the daemon's OpenFlow flow log): added, replaced and
// modified flows are reported as FlowChanges.AddedRefs rather than copied
// into Added. Removed flows are reported in Removed as by FlowMods.
func (b *Bridge) RecordFlowMods(fms []openflow.FlowMod) (FlowChanges, error) {
	return b.flowMods(fms, reportRefs)
}
