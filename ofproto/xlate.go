package ofproto

// The slow path ("translation", Open vSwitch's xlate): runs a packet's key
// through the OpenFlow pipeline and compiles what happened into a megaflow
// entry.
//
//  1. Start in table 0 with the extracted key.
//  2. Per table: classifier lookup, ORing every mask bit the lookup examined
//     into the megaflow mask (wc); a miss ends this branch (OpenFlow 1.3
//     table-miss default: drop).
//  3. Apply the flow's actions in order, changing the key as the packet would
//     change and appending datapath ops (frame rewrites, outputs, learning);
//     resubmit recurses, goto_table continues in a later table,
//     write_actions/clear_actions edit the action set.
//  4. At the end of the pipeline, apply the action set in OpenFlow 1.3 §5.10
//     order.
//  5. Fields that decided anything but were not looked up by the classifier
//     (NORMAL's MACs and VLAN, dec_ttl's TTL, the protocol a set-field
//     rewrote) are added to wc by hand, so that every packet agreeing with
//     this one on wc's bits gets the same ops.

import (
	"fmt"
	"slices"
	"sync"

	"tapestry/flow"
	"tapestry/openflow"
)

// Limits on recursion, as Open vSwitch's MAX_DEPTH and MAX_RESUBMITS.
const (
	maxDepth     = 64
	maxResubmits = 4096
)

type tableHit struct {
	table   uint8
	matched bool
}

// xlate is one translation in progress.
type xlate struct {
	b        *Bridge
	ports    *portSet
	now      int64
	mayLearn bool // false for traces: they must not change the MAC table

	key   flow.Key // the packet as the actions so far have changed it
	wc    flow.Mask
	ops   []op
	flows []*Flow
	hits  []tableHit
	// groupCtrs are the counters of the groups and buckets executed.
	groupCtrs []*groupCtr
	set       []openflow.Action // the OpenFlow 1.3 action set

	depth     int
	resubmits int
	failed    dropReason // set when the translation must drop everything
	why       dropReason // why the packet went nowhere, if it did

	tr *tracer // nil unless tracing

	// first, when not nil, is table 0's answer for the packet, looked up
	// ahead with the other misses of its batch: the first lookup of table
	// 0 takes it instead of asking the classifier again.
	first *firstLookup
}

// firstLookup is table 0's answer for a packet (nil for a table miss) and
// the bits that lookup examined, from classifier.LookupBatch.
type firstLookup struct {
	flow *Flow
	wc   flow.Mask
}

// translate runs k through the pipeline and returns the compiled entry
// (unmasked key; the caller masks it for the cache).
func (b *Bridge) translate(k *flow.Key, now int64, mayLearn bool, tr *tracer) *mfEntry {
	return b.translateAt(k, 0, now, mayLearn, tr, nil)
}

// translateAt is translate starting in table id: a recirculated packet
// resumes where ct(table=N) sent it (recirc.go).
//
// first, if not nil, is table id's answer for k, looked up ahead.
func (b *Bridge) translateAt(k *flow.Key, id uint8, now int64, mayLearn bool, tr *tracer, first *firstLookup) *mfEntry {
	x := xlatePool.Get().(*xlate)
	*x = xlate{b: b, ports: b.ports.Load(), now: now, mayLearn: mayLearn, key: *k, tr: tr, first: first,
		ops: x.ops[:0], flows: x.flows[:0], hits: x.hits[:0], groupCtrs: x.groupCtrs[:0], set: x.set[:0]}
	// Every decision depends on the input port (output to it is skipped,
	// NORMAL learns it), so megaflows always match it exactly.
	x.wc.InPort = ^uint32(0)
	x.table(id)
	if x.failed == 0 && len(x.set) > 0 {
		x.applyActionSet()
	}
	// The entry gets exact-size copies of what the translation gathered:
	// the scratch slices go back to the pool with x.
	e := &mfEntry{flows: slices.Clone(x.flows), hits: slices.Clone(x.hits), groups: slices.Clone(x.groupCtrs)}
	if x.failed != 0 {
		x.why = x.failed
	} else {
		e.ops = slices.Clone(x.ops)
	}
	e.wc = x.wc
	e.key = k.Masked(&x.wc)
	if tr != nil {
		final := x.key
		e.final = &final
	}
	e.finish(x.why)
	x.release()
	return e
}

// xlatePool holds translation state between translations: a new flow
// would otherwise allocate it (some 700 bytes with its slices), and its
// megaflow entry would keep it alive.
var xlatePool = sync.Pool{New: func() any { return new(xlate) }}

// release returns x to the pool, dropping what its scratch slices point
// to so that the pool keeps no flow, port or group alive.
func (x *xlate) release() {
	clear(x.ops)
	clear(x.flows)
	clear(x.groupCtrs)
	clear(x.set)
	x.b, x.ports, x.tr, x.first = nil, nil, nil, nil
	xlatePool.Put(x)
}

// table runs the pipeline from table id: lookup, actions, goto_table.
func (x *xlate) table(id uint8) {
	for {
		var f *Flow
		if x.first != nil {
			f = x.first.flow
			x.wc = x.wc.Or(&x.first.wc)
			x.first = nil
		} else {
			f = x.b.tables[id].lookup(&x.key, &x.wc)
		}
		x.hits = append(x.hits, tableHit{table: id, matched: f != nil})
		if f == nil {
			x.tr.miss(id)
			x.reason(dropTableMiss)
			return
		}
		x.tr.flow(id, f)
		x.flows = append(x.flows, f)
		next, ok := x.actions(f.actions(), id, false)
		if !ok || x.failed != 0 {
			return
		}
		id = next
	}
}

// actions applies acts; it returns the goto_table target, if any.
func (x *xlate) actions(acts []openflow.Action, id uint8, inSet bool) (uint8, bool) {
	for i := range acts {
		a := &acts[i]
		if x.failed != 0 {
			return 0, false
		}
		x.tr.action(a, i == len(acts)-1)
		switch a.Type {
		case openflow.ActGotoTable:
			x.tr.gotoTable()
			return a.Table, true
		case openflow.ActDecTTL:
			if !x.decTTL(a, id) {
				// OVS: processing of this action list stops; outer
				// resubmit levels continue.
				return 0, false
			}
		default:
			x.action(a, id)
		}
	}
	return 0, false
}

func (x *xlate) action(a *openflow.Action, id uint8) {
	switch a.Type {
	case openflow.ActOutput, openflow.ActEnqueue:
		x.output(a.Port, a.MaxLen, id)
	case openflow.ActController:
		x.controller(a.MaxLen, a.Reason, a.ID, id)
	case openflow.ActResubmit:
		x.resubmit(a.Port, a.Table, id)
	case openflow.ActGroup:
		x.group(a.Group, id)
	case openflow.ActModDlSrc:
		x.write(flow.FieldDlSrc, a.Value, flow.Value{})
	case openflow.ActModDlDst:
		x.write(flow.FieldDlDst, a.Value, flow.Value{})
	case openflow.ActModNwSrc:
		x.write(flow.FieldNwSrc, a.Value, flow.Value{})
	case openflow.ActModNwDst:
		x.write(flow.FieldNwDst, a.Value, flow.Value{})
	case openflow.ActModNwTos:
		// mod_nw_tos sets the DSCP bits and keeps ECN (ovs-actions(7)).
		x.write(flow.FieldNwTos, a.Value, flow.U64(0xfc))
	case openflow.ActModNwECN:
		x.write(flow.FieldNwECN, a.Value, flow.Value{})
	case openflow.ActSetTTL:
		x.write(flow.FieldNwTTL, flow.U64(uint64(a.TTL)), flow.Value{})
	case openflow.ActModTpSrc:
		x.write(flow.FieldTpSrc, a.Value, flow.Value{})
	case openflow.ActModTpDst:
		x.write(flow.FieldTpDst, a.Value, flow.Value{})
	case openflow.ActModVlanVID:
		x.wc.VlanTCI = 0xffff
		x.setVLAN(x.key.VlanTCI&flow.VlanPCPMask | uint16(a.Value.Uint64())&flow.VlanVIDMask | flow.VlanCFI)
	case openflow.ActModVlanPCP:
		x.wc.VlanTCI = 0xffff
		x.setVLAN(x.key.VlanTCI&flow.VlanVIDMask | uint16(a.Value.Uint64())<<flow.VlanPCPShift | flow.VlanCFI)
	case openflow.ActStripVlan, openflow.ActPopVlan:
		x.wc.VlanTCI = 0xffff
		x.setVLAN(0)
	case openflow.ActPushVlan:
		x.wc.VlanTCI = 0xffff
		x.pushVLAN(a.EtherType)
	case openflow.ActSetField:
		x.write(a.Dst.Field, a.Value, a.Mask)
	case openflow.ActLoad:
		x.load(a.Dst, a.Value)
	case openflow.ActMove:
		x.move(a.Src, a.Dst)
	case openflow.ActWriteMetadata:
		mask := a.Mask.Uint64()
		if a.Mask.IsZero() {
			mask = ^uint64(0)
		}
		x.key.Metadata = x.key.Metadata&^mask | a.Value.Uint64()&mask
	case openflow.ActClearActions:
		x.set = x.set[:0]
	case openflow.ActWriteActions:
		x.writeActions(a.Nested)
	case openflow.ActNote, openflow.ActSetQueue, openflow.ActMeter:
		// No datapath effect.
	case openflow.ActCT:
		x.ct(a) // ct.go
	default:
		if x.nxAction(a, id) { // xlate_nx.go
			return
		}
		// MPLS: not implemented yet; the action is skipped and counted.
		x.b.drops[dropUnsupported].Add(1)
		x.note("unsupported action, skipped")
	}
}

// output translates output:PORT for every kind of port.
func (x *xlate) output(no uint32, maxLen uint16, id uint8) {
	switch no {
	case openflow.PortInPort:
		x.outputPort(x.ports.byNo(x.key.InPort), true)
	case openflow.PortNormal:
		x.normal()
	case openflow.PortFlood, openflow.PortAll:
		for _, p := range x.ports.list {
			if p.no == x.key.InPort || no == openflow.PortFlood && p.cfg()&openflow.PortNoFlood != 0 {
				continue
			}
			x.outputPort(p, false)
		}
	case openflow.PortController:
		x.controller(maxLen, PacketInAction, 0, id)
	case openflow.PortTable:
		x.resubmit(openflow.PortInPort, 0, id)
	default:
		p := x.ports.byNo(no)
		if p == nil {
			x.notef("!output to nonexistent port %d", no)
			return
		}
		x.outputPort(p, false)
	}
}

// outputPort sends the packet to p. OpenFlow 1.3 §7.2.1: a packet is never
// sent back out of its input port except by output:IN_PORT.
func (x *xlate) outputPort(p *port, inPort bool) {
	if p == nil {
		return
	}
	if p.no == x.key.InPort && !inPort {
		x.note("!skipping output to input port")
		return
	}
	if cfg := p.cfg(); cfg&(openflow.PortNoFwd|openflow.PortDown) != 0 {
		x.notef("%s is not forwarding", p.spec.Name)
		return
	}
	x.ops = append(x.ops, op{kind: opOutput, port: p})
}

func (x *xlate) controller(maxLen uint16, reason uint8, ctlID uint16, id uint8) {
	var cookie uint64
	if n := len(x.flows); n > 0 {
		cookie = x.flows[n-1].cookie
	}
	x.ops = append(x.ops, op{kind: opController, pin: &PacketIn{
		InPort: x.key.InPort, Table: id, Reason: reason, Cookie: cookie, MaxLen: maxLen, ID: ctlID,
	}})
}

// resubmit looks the packet up again in table t (TableAll: the current one)
// with in_port temporarily replaced by port (PortInPort: unchanged), then
// continues with the next action (ovs-actions(7) resubmit).
func (x *xlate) resubmit(port uint32, t uint8, id uint8) {
	if t == openflow.TableAll {
		t = id
	}
	x.resubmits++
	if x.depth >= maxDepth || x.resubmits > maxResubmits {
		x.notef("!over max translation depth %d", maxDepth)
		x.failed = dropRecursion
		return
	}
	saved := x.key.InPort
	if port != openflow.PortInPort {
		x.key.InPort = port
	}
	x.depth++
	x.tr.enter()
	x.table(t)
	x.tr.leave()
	x.depth--
	if port != openflow.PortInPort {
		x.key.InPort = saved
	}
}

// decTTL translates dec_ttl and dec_ttl(ids). It reports false when the
// TTL ran out: the packet is dropped, each controller id of dec_ttl(ids)
// gets a packet-in of reason invalid_ttl (plain dec_ttl tells none), and
// the current action list stops.
func (x *xlate) decTTL(a *openflow.Action, id uint8) bool {
	x.wc.DlType = 0xffff
	switch x.key.DlType {
	case flow.EthTypeIPv4, flow.EthTypeIPv6:
	default:
		return true
	}
	x.wc.NwTTL = 0xff
	if x.key.NwTTL <= 1 {
		x.note("!IPv4 decrement TTL exception")
		x.reason(dropTTL)
		for _, c := range a.ControllerIDs() {
			x.controller(openflow.ControllerMaxLen, openflow.ReasonInvalidTTL, c, id)
		}
		return false
	}
	x.key.NwTTL--
	x.emit(flow.FieldNwTTL)
	return true
}

// writeActions merges acts into the action set: at most one action of each
// type, a later write replacing an earlier one (OpenFlow 1.3 §5.10).
func (x *xlate) writeActions(acts []openflow.Action) {
	for _, a := range acts {
		k := setSlot(&a)
		replaced := false
		for i := range x.set {
			if setSlot(&x.set[i]) == k {
				x.set[i] = a
				replaced = true
				break
			}
		}
		if !replaced {
			x.set = append(x.set, a)
		}
	}
}

// setSlot orders and identifies action-set entries: the high byte is the
// §5.10 execution order (pop, push, dec_ttl, set-field, qos, group, output),
// the low bits tell set-fields of different fields apart.
func setSlot(a *openflow.Action) int {
	switch a.Type {
	case openflow.ActStripVlan, openflow.ActPopVlan, openflow.ActPopMPLS:
		return 1 << 8
	case openflow.ActPushMPLS:
		return 2 << 8
	case openflow.ActPushVlan:
		return 3 << 8
	case openflow.ActDecTTL, openflow.ActDecMPLSTTL:
		return 4 << 8
	case openflow.ActSetField, openflow.ActLoad:
		return 5<<8 | int(a.Dst.Field)
	case openflow.ActSetQueue:
		return 6 << 8
	case openflow.ActGroup:
		return 7 << 8
	case openflow.ActOutput, openflow.ActEnqueue, openflow.ActController:
		return 8 << 8
	}
	return 5<<8 | 0x80 | int(a.Type)
}

// applyActionSet executes the action set in §5.10 order; output happens only
// when there is no group action.
func (x *xlate) applyActionSet() {
	acts := make([]openflow.Action, len(x.set))
	copy(acts, x.set)
	sortBySlot(acts)
	hasGroup := false
	for i := range acts {
		hasGroup = hasGroup || acts[i].Type == openflow.ActGroup
	}
	if hasGroup {
		n := 0
		for _, a := range acts {
			if setSlot(&a)>>8 != 8 {
				acts[n] = a
				n++
			}
		}
		acts = acts[:n]
	}
	x.tr.actionSet()
	x.actions(acts, 0, true)
}

func sortBySlot(acts []openflow.Action) {
	for i := 1; i < len(acts); i++ {
		for j := i; j > 0 && setSlot(&acts[j])>>8 < setSlot(&acts[j-1])>>8; j-- {
			acts[j], acts[j-1] = acts[j-1], acts[j]
		}
	}
}

func (x *xlate) reason(r dropReason) {
	if x.why == 0 {
		x.why = r
	}
}

func (x *xlate) note(s string) { x.tr.note(s) }

func (x *xlate) notef(format string, args ...any) {
	if x.tr != nil {
		x.tr.note(fmt.Sprintf(format, args...))
	}
}
