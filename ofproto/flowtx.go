package ofproto

import (
	"fmt"
	"slices"

	"tapestry/openflow"
)

// A FlowTx is one atomic batch of flow mods handed to the bridge in parts,
// so that the caller never holds the whole batch at once: the daemon parses
// a 100,000-line add-flows 4,096 lines at a time into one reused buffer,
// instead of keeping 100,000 parsed flow mods (and their action lists)
// alive until the bridge has them all.
//
// The bridge's control-plane lock is held from BeginFlowMods to Commit or
// Abort, so no other flow mod, port change, expiry or dump sees the batch
// half applied; one undo log spans every part, and the generation is bumped
// once at the end. Forwarding may observe the batch half applied while it
// runs, exactly as with FlowMods.
//
// A batch fails exactly as FlowMods would fail on the concatenation of its
// parts: FlowMods validates every mod before applying any, so a validation
// error (bad table, port, field) anywhere wins over an apply error
// (check_overlap, a missing group) earlier in the batch. A FlowTx that hits
// an error rolls the bridge back and releases the lock at once, then only
// validates the parts that follow, and Commit reports the first validation
// error it saw, else the apply error.
type FlowTx struct {
	b   *Bridge
	rep report
	now int64
	n   int // flow mods received so far: the index of the next part's first

	log undoLog

	applyErr error // first apply error (the bridge is rolled back)
	validErr error // first validation error (the bridge is rolled back)
	done     bool  // the lock is released: failed, committed or aborted
}

// BeginFlowMods starts a batch applied part by part with FlowTx.Apply and
// ended with Commit or Abort; it reports the flows it changes as
// ApplyFlowMods does (counts, and only the removed flows with
// send_flow_rem). The caller must end it: the bridge's control plane waits
// until then.
func (b *Bridge) BeginFlowMods() *FlowTx { return b.begin(reportCount) }

func (b *Bridge) begin(rep report) *FlowTx {
	b.mu.Lock()
	b.syncStats()
	t := &FlowTx{b: b, rep: rep, now: b.now().UnixNano()}
	t.log, b.scratch = b.scratch.log, flowScratch{}
	return t
}

// Grow makes room in the batch's undo log for n more flow mods, for a
// caller that knows how many are coming: grown part by part, a 100,000-add
// log would be copied again and again, ~5 times its size in all.
func (t *FlowTx) Grow(n int) {
	if !t.done {
		t.log.entries = slices.Grow(t.log.entries, n)
	}
}

// Apply validates the next part of the batch and, if the batch still
// stands, applies it. fms is not kept: the bridge copies what it needs, so
// the caller may reuse the slice and the action lists once Apply returns.
// Apply returns the batch's error so far, nil while it stands; a later
// part may still replace that error with a validation error (see FlowTx).
func (t *FlowTx) Apply(fms []openflow.FlowMod) error {
	base := t.n
	t.n += len(fms)
	if t.validErr != nil {
		return t.validErr
	}
	for i := range fms {
		if err := validateFlowMod(&fms[i]); err != nil {
			t.validErr = fmt.Errorf("ofproto: flow mod %d: %w", base+i, err)
			t.fail()
			return t.validErr
		}
	}
	if t.applyErr != nil {
		return t.applyErr
	}
	b := t.b
	t.log.entries = slices.Grow(t.log.entries, len(fms))
	// Each part gets its own slab, sized for it, but keeps the recent
	// action lists of the part before: the flows of a bulk load share a
	// few lists whatever part they come in.
	recent, next := b.slab.recent, b.slab.next
	b.slab = newFlowSlab(fms)
	b.slab.recent, b.slab.next = recent, next
	for i := range fms {
		if err := b.apply(&fms[i], t.now, &t.log); err != nil {
			t.applyErr = fmt.Errorf("ofproto: flow mod %d: %w", base+i, err)
			t.fail()
			return t.applyErr
		}
	}
	return nil
}

// fail undoes every part applied and releases the bridge.
func (t *FlowTx) fail() {
	if t.done {
		return
	}
	t.done = true
	b := t.b
	b.slab = flowSlab{}
	if len(t.log.entries) > 0 {
		b.rollback(&t.log)
		b.bump()
	}
	b.scratch.keep(&t.log)
	b.mu.Unlock()
}

// Abort undoes every part applied and ends the batch; after Commit, or
// after the batch failed, it does nothing (so it may be deferred).
func (t *FlowTx) Abort() {
	t.fail()
	t.applyErr, t.validErr = nil, nil
}

// Commit ends the batch: it makes the changes final, or reports the error
// that undid them (see FlowTx), and returns what changed. Flow-removed
// hooks run after the bridge is released.
func (t *FlowTx) Commit() (FlowChanges, error) {
	if t.validErr != nil {
		return FlowChanges{}, t.validErr
	}
	if t.applyErr != nil {
		return FlowChanges{}, t.applyErr
	}
	if t.done {
		return FlowChanges{}, fmt.Errorf("ofproto: flow mod batch already ended")
	}
	t.done = true
	b := t.b
	b.slab = flowSlab{}
	ch := t.changes()
	if len(t.log.entries) > 0 {
		b.bump()
	}
	b.scratch.keep(&t.log)
	b.mu.Unlock()
	b.notifyRemoved(ch.Removed, RemovedDelete)
	return ch, nil
}

// changes reports the batch as t.rep asks. Called with Bridge.mu held.
func (t *FlowTx) changes() FlowChanges {
	var ch FlowChanges
	log := t.log.entries
	reportRemoved(&ch, &t.log, t.rep, t.now)
	cleared := clearedAt(&t.log)
	for i := range log {
		f := log[i].touched()
		if f == nil || f.gone || cleared != nil && int(cleared[f.table]) > i {
			continue // removed since
		}
		ch.NAdded++
		switch t.rep {
		case reportStats:
			if ch.Added == nil {
				ch.Added = make([]openflow.FlowStats, 0, len(log))
			}
			ch.Added = append(ch.Added, f.stats(t.now))
		case reportRefs:
			if ch.AddedRefs == nil {
				ch.AddedRefs = make([]FlowRef, 0, len(log))
			}
			ch.AddedRefs = append(ch.AddedRefs, f.ref())
		}
	}
	return ch
}
