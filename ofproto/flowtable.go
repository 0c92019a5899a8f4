package ofproto

import (
	"sync/atomic"
	"time"

	"tapestry/classifier"
	"tapestry/flow"
	"tapestry/openflow"
)

// Flow is one flow entry of a table. Its counters are atomic because the
// forwarding goroutines credit them; the other fields are guarded by
// Bridge.mu, except acts, which forwarding reads through an atomic pointer.
type Flow struct {
	rule  *classifier.Rule[*Flow] // match and priority live in the rule
	table uint8

	cookie     uint64
	idle       uint16
	hard       uint16
	flags      openflow.FlowModFlags
	importance uint16
	created    int64 // unix nanoseconds; duration counts from here
	modified   int64 // unix nanoseconds; the hard timeout counts from here
	gone       bool  // removed or replaced

	acts    atomic.Pointer[[]openflow.Action]
	packets atomic.Uint64
	bytes   atomic.Uint64
	used    atomic.Int64 // unix nanoseconds of the last packet (or creation)
}

// Actions returns the flow's current actions. The slice must not be changed.
func (f *Flow) actions() []openflow.Action { return *f.acts.Load() }

// credit counts n packets of total bytes that matched f at time now.
func (f *Flow) credit(n, bytes uint64, now int64) {
	f.packets.Add(n)
	f.bytes.Add(bytes)
	if f.used.Load() < now {
		f.used.Store(now)
	}
}

// stats returns f as dump-flows reports it at time now.
func (f *Flow) stats(now int64) openflow.FlowStats {
	return openflow.FlowStats{
		Table:       f.table,
		Priority:    f.rule.Priority,
		Match:       f.rule.Match(),
		Cookie:      f.cookie,
		IdleTimeout: f.idle,
		HardTimeout: f.hard,
		Flags:       f.flags,
		Importance:  f.importance,
		Duration:    time.Duration(now - f.created),
		IdleAge:     time.Duration(now - f.used.Load()),
		HardAge:     time.Duration(now - f.modified),
		Packets:     f.packets.Load(),
		Bytes:       f.bytes.Load(),
		Actions:     f.actions(),
	}
}

// table is one OpenFlow flow table. The classifier is created on first use
// and published atomically so that forwarding can read it without a lock.
type table struct {
	cls     atomic.Pointer[classifier.Classifier[*Flow]]
	lookups atomic.Uint64
	matches atomic.Uint64
	// sendRem counts the table's flows with send_flow_rem, so that a
	// delete of every flow knows without a walk whether it owes
	// flow-removed messages (flowclear.go). Guarded by Bridge.mu.
	sendRem int
}

// classifier returns the table's classifier, creating it. Called with b.mu
// held.
func (t *table) classifier() *classifier.Classifier[*Flow] {
	c := t.cls.Load()
	if c == nil {
		c = classifier.New[*Flow]()
		t.cls.Store(c)
	}
	return c
}

// lookup finds the highest-priority flow matching k, ORing the examined mask
// bits into wc. Safe without b.mu.
func (t *table) lookup(k *flow.Key, wc *flow.Mask) *Flow {
	c := t.cls.Load()
	if c == nil {
		return nil
	}
	r := c.Lookup(k, wc)
	if r == nil {
		return nil
	}
	return r.Value
}

// lookupBatch looks keys up as lookup does each, with
// classifier.LookupBatch: answers into out, examined bits into wcs. Safe
// without b.mu.
func (t *table) lookupBatch(keys []*flow.Key, wcs []*flow.Mask, out []*classifier.Rule[*Flow]) {
	c := t.cls.Load()
	if c == nil {
		clear(out[:len(keys)])
		return
	}
	c.LookupBatch(keys, wcs, out)
}

// big reports whether the table's classifier has a subtable too large for
// the caches, where prefetching pays. Safe without b.mu.
func (t *table) big() bool {
	c := t.cls.Load()
	return c != nil && c.Big()
}

// TableStats returns every table's counters (OFPMP_TABLE), tables 0-254.
func (b *Bridge) TableStats() []openflow.TableStats {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.syncStats()
	out := make([]openflow.TableStats, len(b.tables))
	for i := range b.tables {
		t := &b.tables[i]
		n := 0
		if c := t.cls.Load(); c != nil {
			n = c.Len()
		}
		out[i] = openflow.TableStats{
			Table:        uint8(i),
			Name:         tableName(i),
			ActiveCount:  uint32(n),
			LookupCount:  t.lookups.Load(),
			MatchedCount: t.matches.Load(),
			MaxEntries:   maxFlowsPerTable,
		}
	}
	return out
}

// maxFlowsPerTable is what table stats report as max_entries; Open vSwitch
// reports 1,000,000 for an unconfigured table.
const maxFlowsPerTable = 1000000

// tableName follows Open vSwitch: table 0 is "classifier", the others
// "table1", "table2", ...
func tableName(i int) string {
	if i == 0 {
		return "classifier"
	}
	return "table" + itoa(i)
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var buf [20]byte
	n := len(buf)
	for i > 0 {
		n--
		buf[n] = byte('0' + i%10)
		i /= 10
	}
	return string(buf[n:])
}

// forEachTable calls fn for table id, or for every table when id is
// TableAll, skipping tables that never held a flow. Called with b.mu held.
func (b *Bridge) forEachTable(id uint8, fn func(t *table, c *classifier.Classifier[*Flow]) bool) {
	lo, hi := int(id), int(id)
	if id == openflow.TableAll {
		lo, hi = 0, len(b.tables)-1
	}
	for i := lo; i <= hi; i++ {
		c := b.tables[i].cls.Load()
		if c == nil || c.Len() == 0 {
			continue
		}
		if !fn(&b.tables[i], c) {
			return
		}
	}
}

// selectFlows returns the flows a modify or delete (or a dump filter)
// addresses: strict compares match and priority exactly; loose takes every
// flow whose match is at least as specific as the filter's (OpenFlow 1.3
// §6.4). Cookie mask, out_port and out_group then filter the result.
func (b *Bridge) selectFlows(fm *openflow.FlowMod, strict, useOut bool) []*Flow {
	var out []*Flow
	keep := func(f *Flow) {
		if fm.CookieMask != 0 && (f.cookie^fm.Cookie)&fm.CookieMask != 0 {
			return
		}
		if useOut && !outputsTo(f.actions(), fm.OutPort, fm.OutGroup) {
			return
		}
		out = append(out, f)
	}
	b.forEachTable(fm.Table, func(_ *table, c *classifier.Classifier[*Flow]) bool {
		if strict {
			m := fm.Match
			m.Normalize()
			if r, ok := c.Find(&m, fm.Priority); ok {
				keep(r.Value)
			}
			return true
		}
		c.ForEachLoose(&fm.Match, func(r *classifier.Rule[*Flow]) bool {
			keep(r.Value)
			return true
		})
		return true
	})
	return out
}

// outputsTo reports whether acts send packets to port (and group), the
// out_port/out_group filter of OpenFlow 1.3 §6.4. PortAny and GroupAny match
// everything. As in Open vSwitch, an output inside write_actions counts, and
// so does enqueue.
func outputsTo(acts []openflow.Action, port, group uint32) bool {
	if port != openflow.PortAny && !hasOutput(acts, port) {
		return false
	}
	if group != openflow.GroupAny && !hasGroup(acts, group) {
		return false
	}
	return true
}

func hasOutput(acts []openflow.Action, port uint32) bool {
	for i := range acts {
		a := &acts[i]
		switch a.Type {
		case openflow.ActOutput, openflow.ActEnqueue:
			if a.Port == port {
				return true
			}
		case openflow.ActController:
			if port == openflow.PortController {
				return true
			}
		case openflow.ActWriteActions, openflow.ActClone:
			if hasOutput(a.Nested, port) {
				return true
			}
		}
	}
	return false
}

func hasGroup(acts []openflow.Action, group uint32) bool {
	for i := range acts {
		a := &acts[i]
		switch a.Type {
		case openflow.ActGroup:
			if a.Group == group {
				return true
			}
		case openflow.ActWriteActions, openflow.ActClone:
			if hasGroup(a.Nested, group) {
				return true
			}
		}
	}
	return false
}

// DumpFlows returns the flows filter selects, as OFPMP_FLOW does: a loose
// match, Table (TableAll for all), OutPort, OutGroup and Cookie/CookieMask.
// Flows are returned table by table.
func (b *Bridge) DumpFlows(filter openflow.FlowMod) []openflow.FlowStats {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.syncStats()
	now := b.now().UnixNano()
	fs := b.selectFlows(&filter, false, true)
	out := make([]openflow.FlowStats, len(fs))
	for i, f := range fs {
		out[i] = f.stats(now)
	}
	return out
}

// Aggregate sums the counters of the flows filter selects (OFPMP_AGGREGATE).
func (b *Bridge) Aggregate(filter openflow.FlowMod) openflow.AggregateStats {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.syncStats()
	var a openflow.AggregateStats
	for _, f := range b.selectFlows(&filter, false, true) {
		a.Packets += f.packets.Load()
		a.Bytes += f.bytes.Load()
		a.Flows++
	}
	return a
}

// FlowCount returns the number of flows in every table.
func (b *Bridge) FlowCount() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	b.forEachTable(openflow.TableAll, func(_ *table, c *classifier.Classifier[*Flow]) bool {
		n += c.Len()
		return true
	})
	return n
}
