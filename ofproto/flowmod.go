package ofproto

import (
	"errors"
	"fmt"
	"slices"

	"tapestry/classifier"
	"tapestry/flow"
	"tapestry/openflow"
)

// Errors FlowMods wraps, one per OpenFlow error code it can produce
// (OpenFlow 1.3 §7.4.4).
var (
	ErrBadCommand     = errors.New("bad flow mod command")                     // OFPFMFC_BAD_COMMAND
	ErrBadTable       = errors.New("bad table id")                             // OFPFMFC_BAD_TABLE_ID
	ErrOverlap        = errors.New("flow overlaps an existing flow")           // OFPFMFC_OVERLAP
	ErrBadOutPort     = errors.New("bad output port")                          // OFPBAC_BAD_OUT_PORT
	ErrBadArgument    = errors.New("bad action argument")                      // OFPBAC_BAD_ARGUMENT
	ErrBadField       = errors.New("bad set field")                            // OFPBAC_BAD_SET_TYPE
	ErrBadGotoTable   = errors.New("goto_table must go to a later table")      // OFPBIC_BAD_TABLE_ID
	ErrBadInstruction = errors.New("instruction not allowed in an action set") // OFPBIC_UNSUP_INST
)

// FlowChanges says what a FlowMods batch changed, so that the caller can
// persist it. Apply Removed before Added: a flow deleted and then added again
// in one batch appears in both.
type FlowChanges struct {
	// Added holds flows added, replaced or modified, as they now are.
	Added []openflow.FlowStats
	// Removed holds flows deleted, as they were. FlowMods reports every
	// one; ApplyFlowMods and RecordFlowMods only those with send_flow_rem,
	// the ones a flow-removed message is sent for (RecordFlowMods reports
	// all of them in RemovedRefs): copying 100,000 flows' statistics for
	// a del-flows nobody listens to was most of its cost.
	Removed []openflow.FlowStats
	// NRemoved counts the flows deleted, whatever Removed holds.
	NRemoved int
	// RemovedRefs holds the flows deleted, by reference (RecordFlowMods
	// only).
	RemovedRefs []FlowRef
	// NAdded counts the flows added, replaced or modified; it is set even
	// when Added is not filled (ApplyFlowMods, RecordFlowMods).
	NAdded int
	// AddedRefs holds the flows added, replaced or modified, by reference
	// (RecordFlowMods only; see FlowRef).
	AddedRefs []FlowRef
}

// report says how a FlowMods batch reports the flows it added.
type report uint8

const (
	reportCount report = iota // NAdded only
	reportStats               // Added: statistics copies
	reportRefs                // AddedRefs
)

// undo records one applied change so that a failed batch can be rolled
// back, and says what the batch changed when it succeeds: an add (added,
// and old if it replaced a flow), a removal (old only) or a modify (mod,
// whose previous state is the next modUndo). It is three pointers because
// a 100,000-flow add-flows keeps 100,000 of them.
type undo struct {
	added *Flow // flow inserted by this change
	old   *Flow // flow replaced or removed
	mod   *Flow // flow modified in place
}

// modUndo is what a modify changed in a flow.
type modUndo struct {
	acts   *[]openflow.Action
	cookie uint64
	when   int64
	pkts   uint64
	bytes  uint64
}

// undoLog is a batch's changes, in order.
type undoLog struct {
	entries []undo
	mods    []modUndo   // one per modify entry, in order
	clears  []clearUndo // one per cleared-table entry, in order (flowclear.go)
}

func (l *undoLog) add(f, old *Flow) { l.entries = append(l.entries, undo{added: f, old: old}) }
func (l *undoLog) remove(f *Flow)   { l.entries = append(l.entries, undo{old: f}) }

// modify records f's state before a modify changes it.
func (l *undoLog) modify(f *Flow) {
	l.entries = append(l.entries, undo{mod: f})
	l.mods = append(l.mods, modUndo{acts: f.acts.Load(), cookie: f.cookie, when: f.modified,
		pkts: f.packets.Load(), bytes: f.bytes.Load()})
}

// touched returns the flow an entry added or modified, or nil for a
// removal.
func (u *undo) touched() *Flow {
	if u.mod != nil {
		return u.mod
	}
	return u.added
}

// FlowMods applies a batch of flow mods atomically: every mod is validated
// first (table ids, ports, goto_table going forward, fields and values), then
// the mods are applied in order; if one fails (check_overlap), the ones before
// it are undone and the bridge is as it was. Forwarding may observe the batch
// half applied while it runs (there are no OpenFlow bundles yet); cached
// decisions are invalidated when it returns.
func (b *Bridge) FlowMods(fms []openflow.FlowMod) (FlowChanges, error) {
	return b.flowMods(fms, reportStats)
}

// ApplyFlowMods is FlowMods for a caller that already knows what it added
// (the daemon stores adds from the parsed flow mods): Added stays nil and
// only NAdded counts them, which spares copying the statistics of every flow
// in a 100,000-flow add-flows.
func (b *Bridge) ApplyFlowMods(fms []openflow.FlowMod) (FlowChanges, error) {
	return b.flowMods(fms, reportCount)
}

func (b *Bridge) flowMods(fms []openflow.FlowMod, rep report) (FlowChanges, error) {
	t := b.begin(rep)
	_ = t.Apply(fms) // Commit reports the error
	return t.Commit()
}

// flowScratch is the undo log reused from batch to batch: a controller
// streaming flow mods hands the bridge thousands of batches. Guarded by
// Bridge.mu.
type flowScratch struct{ log undoLog }

// scratchMax bounds the scratch kept between batches: a 100,000-flow
// add-flows should not pin its log for the bridge's lifetime.
const scratchMax = 8192

// keep takes the log back after a batch, cleared so that it holds no flow
// alive, unless it grew past scratchMax. Called with Bridge.mu held.
func (s *flowScratch) keep(l *undoLog) {
	clear(l.entries)
	clear(l.mods)
	clear(l.clears)
	s.log = undoLog{}
	if cap(l.entries) <= scratchMax {
		s.log.entries = l.entries[:0]
	}
	if cap(l.mods) <= scratchMax {
		s.log.mods = l.mods[:0]
	}
	s.log.clears = l.clears[:0]
}

// reportRemoved fills ch's lists of removed flows as rep asks.
func reportRemoved(ch *FlowChanges, l *undoLog, rep report, now int64) {
	log, clears := l.entries, l.clears
	for i := range log {
		f := log[i].old
		if f == nil || log[i].added != nil {
			continue // not a removal
		}
		if log[i].isClear() {
			reportCleared(ch, &clears[0], rep, now, removals(log[i:], clears))
			clears = clears[1:]
			continue
		}
		ch.NRemoved++
		if rep == reportRefs {
			if ch.RemovedRefs == nil {
				ch.RemovedRefs = make([]FlowRef, 0, removals(log[i:], clears))
			}
			ch.RemovedRefs = append(ch.RemovedRefs, f.ref())
		}
		if rep == reportStats || f.flags&openflow.FlagSendFlowRem != 0 {
			ch.Removed = append(ch.Removed, f.stats(now))
		}
	}
}

// removals counts the removals in log, whose cleared tables are clears.
func removals(log []undo, clears []clearUndo) int {
	n := 0
	for i := range log {
		switch {
		case log[i].isClear():
			n += clears[0].cls.Len()
			clears = clears[1:]
		case log[i].old != nil && log[i].added == nil:
			n++
		}
	}
	return n
}

// flowSlab hands out the Flows, Rules and action lists of one FlowMods
// batch from a few large allocations: adding 100,000 flows then costs a
// handful of allocations instead of 400,000. (A slab stays in memory while
// any of its flows does.)
type flowSlab struct {
	flows []Flow
	rules []classifier.Rule[*Flow]
	lists [][]openflow.Action
	acts  []openflow.Action
	// recent are the last distinct action lists handed out: the flows of
	// a bulk load mostly have a few kinds of actions (output:2, NORMAL),
	// and flows may share a list because a flow's actions are never
	// changed in place (a modify stores a new list).
	recent [4]*[]openflow.Action
	next   int  // the recent slot to replace
	bulk   bool // a slab for a batch of adds, not the zero value
	// chunk is the size of the next chunk of lists and actions: it starts
	// small and doubles up to slabChunk, so a batch of flows that share
	// one list (a controller streams thousands of such batches) does not
	// keep a 1,024-action chunk alive for it.
	chunk int
}

func newFlowSlab(fms []openflow.FlowMod) flowSlab {
	n := 0
	for i := range fms {
		if fms[i].Command != openflow.FlowDelete && fms[i].Command != openflow.FlowDeleteStrict {
			n++
		}
	}
	if n < 4 {
		return flowSlab{}
	}
	// Action lists come in chunks as they are needed: with shared lists
	// a bulk load may need only a few.
	return flowSlab{flows: make([]Flow, n), rules: make([]classifier.Rule[*Flow], n), bulk: true, chunk: 4}
}

// slabChunk is the most action lists, and actions, a slab allocates at a
// time.
const slabChunk = 1024

// newFlow returns a zero Flow and its Rule.
func (s *flowSlab) newFlow() (*Flow, *classifier.Rule[*Flow]) {
	if len(s.flows) == 0 {
		return new(Flow), new(classifier.Rule[*Flow])
	}
	f, r := &s.flows[0], &s.rules[0]
	s.flows, s.rules = s.flows[1:], s.rules[1:]
	return f, r
}

// actions returns a private copy of acts, behind a pointer for Flow.acts,
// or a recent flow's list when it holds the same actions.
func (s *flowSlab) actions(acts []openflow.Action) *[]openflow.Action {
	for _, r := range s.recent {
		if r != nil && sameActions(*r, acts) {
			return r
		}
	}
	if !s.bulk {
		c := slices.Clone(acts)
		s.remember(&c)
		return &c
	}
	if cap(s.acts)-len(s.acts) < len(acts) {
		s.acts = make([]openflow.Action, 0, max(len(acts), s.chunk))
		s.chunk = min(2*s.chunk, slabChunk)
	}
	if len(s.lists) == 0 {
		s.lists = make([][]openflow.Action, s.chunk)
	}
	start := len(s.acts)
	s.acts = append(s.acts, acts...)
	l := &s.lists[0]
	s.lists = s.lists[1:]
	*l = s.acts[start:len(s.acts):len(s.acts)]
	s.remember(l)
	return l
}

// remember keeps l among the recent lists, replacing the oldest.
func (s *flowSlab) remember(l *[]openflow.Action) {
	s.recent[s.next] = l
	s.next = (s.next + 1) % len(s.recent)
}

// sameActions reports whether a and b are the same simple actions; a list
// with a note or nested actions is never shared (not worth comparing).
func sameActions(a, b []openflow.Action) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !sameAction(&a[i], &b[i]) {
			return false
		}
	}
	return true
}

// sameAction compares every field of openflow.Action but the slices
// (TestSameActionCoversEveryField fails when Action gains a field).
func sameAction(a, b *openflow.Action) bool {
	return len(a.Note) == 0 && len(b.Note) == 0 && len(a.Nested) == 0 && len(b.Nested) == 0 &&
		a.Type == b.Type && a.Port == b.Port && a.MaxLen == b.MaxLen && a.Queue == b.Queue &&
		a.Group == b.Group && a.Table == b.Table && a.Reason == b.Reason && a.ID == b.ID &&
		a.EtherType == b.EtherType && a.TTL == b.TTL && a.Value == b.Value && a.Mask == b.Mask &&
		a.Dst == b.Dst && a.Src == b.Src
}

func (b *Bridge) notifyRemoved(fs []openflow.FlowStats, reason uint8) {
	hook := b.flowRemoved.Load()
	if hook == nil {
		return
	}
	for i := range fs {
		(*hook)(fs[i], reason)
	}
}

func (b *Bridge) apply(fm *openflow.FlowMod, now int64, log *undoLog) error {
	if fm.Command != openflow.FlowDelete && fm.Command != openflow.FlowDeleteStrict {
		// OpenFlow 1.3 §6.4: a group action must name an existing group
		// (OFPBAC_BAD_OUT_GROUP).
		if err := checkGroups(fm.Actions, b.groupTable(), openflow.GroupAny); err != nil {
			return err
		}
	}
	switch fm.Command {
	case openflow.FlowAdd:
		return b.addFlow(fm, now, log)
	case openflow.FlowModify, openflow.FlowModifyStrict:
		return b.modifyFlows(fm, now, log)
	case openflow.FlowDelete, openflow.FlowDeleteStrict:
		if deletesAll(fm) {
			b.clearTables(fm.Table, log) // flowclear.go
			return nil
		}
		sel := b.selectFlows(fm, fm.Command == openflow.FlowDeleteStrict, true)
		// One del-flows can select 100,000 flows; size the log once.
		log.entries = slices.Grow(log.entries, len(sel))
		for _, f := range sel {
			b.unlink(f)
			log.remove(f)
		}
		return nil
	}
	return fmt.Errorf("%w %d", ErrBadCommand, fm.Command)
}

// addFlow implements OFPFC_ADD (OpenFlow 1.3 §6.4): a flow with the same
// match and priority is replaced; as in Open vSwitch its counters carry over
// unless reset_counts is set, while duration and timeouts start afresh.
func (b *Bridge) addFlow(fm *openflow.FlowMod, now int64, log *undoLog) error {
	tid := fm.Table
	if tid == openflow.TableAll {
		tid = 0 // a modify that adds, addressed to every table
		if err := checkGoto(fm.Actions, tid); err != nil {
			return err
		}
	}
	c := b.tables[tid].classifier()
	m := fm.Match
	m.Normalize()
	oldRule, exists := c.Find(&m, fm.Priority)
	if !exists && fm.Flags&openflow.FlagCheckOverlap != 0 && c.Overlaps(&m, fm.Priority) {
		return fmt.Errorf("%w: priority %d in table %d", ErrOverlap, fm.Priority, tid)
	}
	f, rule := b.slab.newFlow()
	f.table = tid
	f.cookie = fm.Cookie
	f.idle, f.hard = fm.IdleTimeout, fm.HardTimeout
	f.flags = fm.Flags
	f.importance = fm.Importance
	f.created, f.modified = now, now
	f.acts.Store(b.slab.actions(fm.Actions))
	f.used.Store(now)
	var old *Flow
	if exists {
		old = oldRule.Value
		if fm.Flags&openflow.FlagResetCounts == 0 {
			f.packets.Store(old.packets.Load())
			f.bytes.Store(old.bytes.Load())
		}
		delete(b.timed, old)
		old.gone = true
		b.countRem(old, -1)
	}
	rule.Priority, rule.Value = fm.Priority, f
	f.rule = rule
	c.Insert(f.rule, &m)
	b.countRem(f, 1)
	if f.idle != 0 || f.hard != 0 {
		b.timed[f] = struct{}{}
	}
	log.add(f, old)
	return nil
}

// modifyFlows implements OFPFC_MODIFY and OFPFC_MODIFY_STRICT: the selected
// flows get the new actions and keep their counters (unless reset_counts),
// timeouts and duration. Without a cookie mask the mod's cookie becomes the
// flows' cookie and, when nothing matches, the mod adds its flow, as Open
// vSwitch does for ovs-ofctl mod-flows (OpenFlow 1.0 semantics); with a
// cookie mask the cookie only selects flows.
func (b *Bridge) modifyFlows(fm *openflow.FlowMod, now int64, log *undoLog) error {
	fs := b.selectFlows(fm, fm.Command == openflow.FlowModifyStrict, false)
	if len(fs) == 0 {
		if fm.CookieMask != 0 {
			return nil
		}
		return b.addFlow(fm, now, log)
	}
	for _, f := range fs {
		if err := checkGoto(fm.Actions, f.table); err != nil {
			return err
		}
		log.modify(f)
		f.acts.Store(b.slab.actions(fm.Actions))
		if fm.CookieMask == 0 {
			f.cookie = fm.Cookie
		}
		if fm.Flags&openflow.FlagResetCounts != 0 {
			f.packets.Store(0)
			f.bytes.Store(0)
		}
		f.modified = now
	}
	return nil
}

// unlink removes f from its table. Called with b.mu held.
func (b *Bridge) unlink(f *Flow) {
	c := b.tables[f.table].cls.Load()
	if c != nil {
		c.RemoveRule(f.rule)
	}
	delete(b.timed, f)
	f.gone = true
	b.countRem(f, -1)
}

// relink puts a removed flow back under a fresh Rule (a classifier Rule may
// be inserted only once). Called with b.mu held.
func (b *Bridge) relink(f *Flow) {
	m := f.rule.Match()
	f.rule = &classifier.Rule[*Flow]{Priority: f.rule.Priority, Value: f}
	b.tables[f.table].classifier().Insert(f.rule, &m)
	f.gone = false
	b.countRem(f, 1)
	if f.idle != 0 || f.hard != 0 {
		b.timed[f] = struct{}{}
	}
}

// rollback undoes log in reverse order. Called with b.mu held.
func (b *Bridge) rollback(log *undoLog) {
	mods, clears := log.mods, log.clears
	for i := len(log.entries) - 1; i >= 0; i-- {
		u := &log.entries[i]
		switch {
		case u.isClear():
			b.unclear(&clears[len(clears)-1])
			clears = clears[:len(clears)-1]
		case u.mod != nil:
			m := &mods[len(mods)-1]
			mods = mods[:len(mods)-1]
			u.mod.acts.Store(m.acts)
			u.mod.cookie = m.cookie
			u.mod.modified = m.when
			u.mod.packets.Store(m.pkts)
			u.mod.bytes.Store(m.bytes)
		case u.added != nil:
			b.unlink(u.added)
			if u.old != nil {
				u.old.gone = false
				b.relink(u.old)
			}
		case u.old != nil:
			b.relink(u.old)
		}
	}
}

// Expire removes flows whose idle or hard timeout has passed on the bridge's
// clock and ages out MAC table entries; the daemon calls it from a ticker
// (Open vSwitch checks about once a second). It returns the number of flows
// removed.
func (b *Bridge) Expire() int {
	b.mu.Lock()
	b.syncStats()
	now := b.now().UnixNano()
	var idle, hard []openflow.FlowStats
	for f := range b.timed {
		switch {
		case f.hard != 0 && now-f.modified > int64(f.hard)*1e9:
			hard = append(hard, f.stats(now))
		case f.idle != 0 && now-f.used.Load() > int64(f.idle)*1e9:
			idle = append(idle, f.stats(now))
		default:
			continue
		}
		b.unlink(f)
	}
	aged := b.macs.expire(now)
	if len(idle)+len(hard) > 0 || aged > 0 {
		b.bump()
	}
	b.mu.Unlock()
	b.notifyRemoved(hard, RemovedHardTimeout)
	b.notifyRemoved(idle, RemovedIdleTimeout)
	return len(idle) + len(hard)
}

// validateFlowMod checks what can be checked without the tables.
func validateFlowMod(fm *openflow.FlowMod) error {
	switch fm.Command {
	case openflow.FlowAdd:
		if fm.Table > openflow.TableMax {
			return fmt.Errorf("%w %d for add", ErrBadTable, fm.Table)
		}
	case openflow.FlowModify, openflow.FlowModifyStrict, openflow.FlowDelete, openflow.FlowDeleteStrict:
		if fm.Table > openflow.TableMax && fm.Table != openflow.TableAll {
			return fmt.Errorf("%w %d", ErrBadTable, fm.Table)
		}
	default:
		return fmt.Errorf("%w %d", ErrBadCommand, fm.Command)
	}
	if fm.Command == openflow.FlowDelete || fm.Command == openflow.FlowDeleteStrict {
		return nil
	}
	if err := validateActions(fm.Actions, false); err != nil {
		return err
	}
	if fm.Table != openflow.TableAll {
		return checkGoto(fm.Actions, fm.Table)
	}
	return nil
}

// checkGoto enforces OpenFlow 1.3 §5.1: goto_table may only go forward.
func checkGoto(acts []openflow.Action, table uint8) error {
	for i := range acts {
		if acts[i].Type == openflow.ActGotoTable && acts[i].Table <= table {
			return fmt.Errorf("%w: goto_table:%d in table %d", ErrBadGotoTable, acts[i].Table, table)
		}
	}
	return nil
}

// validPort reports whether port may be an output port in a flow
// (OpenFlow 1.3 §7.2.1): a physical port number or a reserved port other
// than ANY.
func validPort(port uint32) bool {
	if port == 0 || port == openflow.PortAny {
		return false
	}
	return port < openflow.PortMax || port >= openflow.PortInPort
}

func validateActions(acts []openflow.Action, inSet bool) error {
	for i := range acts {
		if err := validateAction(&acts[i], inSet); err != nil {
			return err
		}
	}
	return nil
}

func validateAction(a *openflow.Action, inSet bool) error {
	switch a.Type {
	case openflow.ActOutput, openflow.ActEnqueue:
		if !validPort(a.Port) {
			return fmt.Errorf("%w 0x%x", ErrBadOutPort, a.Port)
		}
	case openflow.ActModVlanVID:
		if a.Value.Uint64() > flow.VlanVIDMask {
			return fmt.Errorf("%w: mod_vlan_vid:%d", ErrBadArgument, a.Value.Uint64())
		}
	case openflow.ActModVlanPCP:
		if a.Value.Uint64() > 7 {
			return fmt.Errorf("%w: mod_vlan_pcp:%d", ErrBadArgument, a.Value.Uint64())
		}
	case openflow.ActModNwTos:
		if a.Value.Uint64() > 0xff || a.Value.Uint64()&3 != 0 {
			return fmt.Errorf("%w: mod_nw_tos:%d", ErrBadArgument, a.Value.Uint64())
		}
	case openflow.ActModNwECN:
		if a.Value.Uint64() > 3 {
			return fmt.Errorf("%w: mod_nw_ecn:%d", ErrBadArgument, a.Value.Uint64())
		}
	case openflow.ActPushVlan:
		if a.EtherType != flow.EthTypeVLAN && a.EtherType != flow.EthTypeQinQ {
			return fmt.Errorf("%w: push_vlan:0x%04x", ErrBadArgument, a.EtherType)
		}
	case openflow.ActSetField:
		return validateSetField(a)
	case openflow.ActLoad:
		if err := validateSubfield(a.Dst, true); err != nil {
			return err
		}
		if a.Dst.NBits < 128 && !a.Value.And(lowMask(int(a.Dst.NBits)).Not()).IsZero() {
			return fmt.Errorf("%w: value does not fit in %d bits of %s", ErrBadArgument, a.Dst.NBits, a.Dst.Field)
		}
	case openflow.ActMove:
		if err := validateSubfield(a.Src, false); err != nil {
			return err
		}
		if err := validateSubfield(a.Dst, true); err != nil {
			return err
		}
		if a.Src.NBits != a.Dst.NBits {
			return fmt.Errorf("%w: move of %d bits into %d bits", ErrBadArgument, a.Src.NBits, a.Dst.NBits)
		}
	case openflow.ActGotoTable:
		if inSet {
			return fmt.Errorf("%w: goto_table", ErrBadInstruction)
		}
		if a.Table > openflow.TableMax {
			return fmt.Errorf("%w: goto_table:%d", ErrBadTable, a.Table)
		}
	case openflow.ActWriteActions:
		if inSet {
			return fmt.Errorf("%w: write_actions", ErrBadInstruction)
		}
		return validateActions(a.Nested, true)
	case openflow.ActClone, openflow.ActOutputReg, openflow.ActMultipath, openflow.ActBundle, openflow.ActBundleLoad, openflow.ActCT:
		return validateNXAction(a) // validate_nx.go
	case openflow.ActClearActions, openflow.ActWriteMetadata, openflow.ActMeter:
		if inSet {
			return fmt.Errorf("%w: %d", ErrBadInstruction, a.Type)
		}
	case 0:
		return fmt.Errorf("%w: empty action", ErrBadArgument)
	}
	return nil
}

func validateSetField(a *openflow.Action) error {
	f := a.Dst.Field
	if !f.Valid() || !writable(f) {
		return fmt.Errorf("%w: %s is not writable", ErrBadField, f)
	}
	full := f.FullMask()
	if !a.Value.And(full.Not()).IsZero() || !a.Mask.And(full.Not()).IsZero() {
		return fmt.Errorf("%w: value too wide for %s", ErrBadArgument, f)
	}
	return nil
}

func validateSubfield(s flow.Subfield, dst bool) error {
	if !s.Field.Valid() {
		return fmt.Errorf("%w: invalid field %d", ErrBadField, s.Field)
	}
	if dst && !writable(s.Field) {
		return fmt.Errorf("%w: %s is not writable", ErrBadField, s.Field)
	}
	if s.NBits == 0 || int(s.Ofs)+int(s.NBits) > s.Field.Bits() {
		return fmt.Errorf("%w: %s[%d..%d] is outside the field's %d bits", ErrBadArgument,
			s.Field, s.Ofs, int(s.Ofs)+int(s.NBits)-1, s.Field.Bits())
	}
	return nil
}

// writable reports whether set_field, load and move may write f. As in Open
// vSwitch, fields that describe the packet's shape (dl_type, nw_proto,
// ip_frag, tcp_flags) and conntrack state are read-only.
func writable(f flow.Field) bool {
	switch f {
	case flow.FieldDlType, flow.FieldNwProto, flow.FieldNwFrag, flow.FieldTCPFlags,
		flow.FieldCtState, flow.FieldCtZone, flow.FieldCtMark, flow.FieldMplsBOS:
		return false
	}
	return true
}

// lowMask returns a Value with the low n bits set.
func lowMask(n int) flow.Value {
	var v flow.Value
	for i := 15; n > 0; i-- {
		if n >= 8 {
			v[i] = 0xff
		} else {
			v[i] = byte(1<<n - 1)
		}
		n -= 8
	}
	return v
}
