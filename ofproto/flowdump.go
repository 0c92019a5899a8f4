package ofproto

import "tapestry/openflow"

// A FlowDump is the flows one dump selected, whose statistics are read a
// chunk at a time: dump-flows of 100,000 flows then never holds 100,000
// FlowStats (44 MB) at once, only a reference to each flow.
//
// As in Open vSwitch, which collects references to the rules a flow stats
// request selects under its mutex and reads each rule's statistics after,
// the set of flows is fixed when the dump starts, and each flow's
// statistics are read when its chunk is: a flow deleted in between is
// still reported (as it last was), and one added in between is not.
type FlowDump struct {
	b     *Bridge
	flows []*Flow
	buf   []openflow.FlowStats
}

// StartDump selects the flows filter selects, as DumpFlows does, in the
// same order.
func (b *Bridge) StartDump(filter openflow.FlowMod) *FlowDump {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.syncStats()
	return &FlowDump{b: b, flows: b.selectFlows(&filter, false, true)}
}

// Len returns the number of flows not yet read.
func (d *FlowDump) Len() int { return len(d.flows) }

// Next returns the statistics of the next n flows at most, nil when every
// flow has been read. The slice is reused by the next call.
func (d *FlowDump) Next(n int) []openflow.FlowStats {
	n = min(n, len(d.flows))
	if n <= 0 {
		return nil
	}
	if cap(d.buf) < n {
		d.buf = make([]openflow.FlowStats, n)
	}
	out := d.buf[:n]
	b := d.b
	b.mu.Lock()
	now := b.now().UnixNano()
	for i, f := range d.flows[:n] {
		out[i] = f.stats(now)
	}
	b.mu.Unlock()
	clear(d.flows[:n]) // the flows read need not stay alive for the dump
	d.flows = d.flows[n:]
	return out
}
