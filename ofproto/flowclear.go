package ofproto

import (
	"tapestry/classifier"
	"tapestry/openflow"
)

// Deleting every flow of a table (ovs-ofctl del-flows, a controller's
// OFPFC_DELETE with an all-wildcard match) swaps the table's classifier
// for none instead of removing 100,000 rules one by one: the old
// classifier, untouched, is the undo record, and the flows it holds are
// what the batch removed. The walk over them that reporting needs is
// skipped when nobody asks for them: a reportCount batch (ApplyFlowMods,
// BeginFlowMods) walks a cleared table only when it holds flows with
// send_flow_rem (table.sendRem), since those are owed a flow-removed
// message (OpenFlow 1.3 §6.4) and reported in FlowChanges.Removed.
//
// A flow of a cleared table keeps gone false: within the batch,
// FlowTx.changes knows it is gone from the clear entry after it; after
// the batch nothing reads it. Its timeouts leave Bridge.timed at once, so
// that Expire never sees it.

// clearedTable marks an undo entry (in old) for a table emptied at once;
// its state is the next clearUndo of the log.
var clearedTable = new(Flow)

// clearUndo is a table emptied at once: its classifier and what the
// bridge kept about its flows.
type clearUndo struct {
	table   uint8
	cls     *classifier.Classifier[*Flow]
	sendRem int
	timed   []*Flow // its flows that had a timeout
}

// isClear reports whether u is a table emptied at once.
func (u *undo) isClear() bool { return u.old == clearedTable }

// clearAtOnce is off only in tests, where the flow-by-flow delete is the
// oracle the clear is checked against.
var clearAtOnce = true

// deletesAll reports whether fm deletes every flow of the tables it
// addresses: a loose delete with an all-wildcard match, no out_port or
// out_group and no cookie mask (OpenFlow 1.3 §6.4).
func deletesAll(fm *openflow.FlowMod) bool {
	return clearAtOnce && fm.Command == openflow.FlowDelete && fm.Match.Mask.IsZero() &&
		fm.CookieMask == 0 && fm.OutPort == openflow.PortAny && fm.OutGroup == openflow.GroupAny
}

// clearTables empties table id (TableAll: every table), logging one
// entry per table that held flows. Called with b.mu held.
func (b *Bridge) clearTables(id uint8, log *undoLog) {
	lo, hi := int(id), int(id)
	if id == openflow.TableAll {
		lo, hi = 0, len(b.tables)-1
	}
	first := len(log.clears)
	// at maps a table id to its clearUndo's index + 1.
	var at [256]int32
	for i := lo; i <= hi; i++ {
		t := &b.tables[i]
		c := t.cls.Load()
		if c == nil || c.Len() == 0 {
			continue
		}
		log.entries = append(log.entries, undo{old: clearedTable})
		log.clears = append(log.clears, clearUndo{table: uint8(i), cls: c, sendRem: t.sendRem})
		at[i] = int32(len(log.clears))
		t.cls.Store(nil) // classifier() makes a new one for the next add
		t.sendRem = 0
	}
	if len(b.timed) == 0 || len(log.clears) == first {
		return
	}
	// Every flow in timed is in its table, so the timed flows of a
	// cleared table are all in the classifier just swapped out.
	for f := range b.timed {
		if k := at[f.table]; k != 0 {
			cu := &log.clears[k-1]
			cu.timed = append(cu.timed, f)
			delete(b.timed, f)
		}
	}
}

// unclear puts a cleared table back as it was. Called with b.mu held,
// once the entries after the clear are undone (the table is empty again).
func (b *Bridge) unclear(cu *clearUndo) {
	t := &b.tables[cu.table]
	t.cls.Store(cu.cls)
	t.sendRem = cu.sendRem
	for _, f := range cu.timed {
		b.timed[f] = struct{}{}
	}
}

// reportCleared adds a cleared table's flows to ch as rep asks (see
// reportRemoved).
func reportCleared(ch *FlowChanges, cu *clearUndo, rep report, now int64, refsCap int) {
	ch.NRemoved += cu.cls.Len()
	if rep != reportRefs && rep != reportStats && cu.sendRem == 0 {
		return // nothing owed a flow-removed message: no walk
	}
	if rep == reportRefs && ch.RemovedRefs == nil {
		ch.RemovedRefs = make([]FlowRef, 0, refsCap)
	}
	cu.cls.ForEach(func(r *classifier.Rule[*Flow]) bool {
		f := r.Value
		if rep == reportRefs {
			ch.RemovedRefs = append(ch.RemovedRefs, f.ref())
		}
		if rep == reportStats || f.flags&openflow.FlagSendFlowRem != 0 {
			ch.Removed = append(ch.Removed, f.stats(now))
		}
		return true
	})
}

// countRem keeps the table's count of send_flow_rem flows as f joins
// (d = 1) or leaves (d = -1) it. Called with b.mu held.
func (b *Bridge) countRem(f *Flow, d int) {
	if f.flags&openflow.FlagSendFlowRem != 0 {
		b.tables[f.table].sendRem += d
	}
}

// clearedAt returns, per table id, one past the index in log of the last
// entry that cleared it (0: never); an entry at index i touched a flow
// since removed by a clear when clearedAt[table] > i.
func clearedAt(l *undoLog) *[256]int32 {
	if len(l.clears) == 0 {
		return nil
	}
	var at [256]int32
	k := len(l.clears)
	for i := len(l.entries) - 1; i >= 0 && k > 0; i-- {
		if l.entries[i].isClear() {
			k--
			if t := l.clears[k].table; at[t] == 0 {
				at[t] = int32(i + 1)
			}
		}
	}
	return &at
}
