package daemon

import (
	"tapestry/flow"
	"tapestry/ofctl"
	"tapestry/ofproto"
	"tapestry/openflow"
	"tapestry/store"
)

// Store records of flows (bridges/<br>/flows: flowKey -> flowText) are
// formatted straight into large shared buffers rather than one string
// each: a 100,000-flow add-flows or a controller streaming 200,000 adds
// otherwise made 400,000 small allocations whose only use was to be
// copied into bbolt's pages at commit. bbolt keeps the key and value
// slices it is given until the transaction commits, and the buffers are
// never written again once a record is in them, so the records go to
// store.Tx.PutBytes as they are.

// recordChunk is the size of one record buffer: big enough that a bulk
// load takes a few hundred of them, small enough that a single flow mod
// does not pin much memory until its commit.
const recordChunk = 256 << 10

// recordRoom is the space a record may take before a buffer is replaced
// rather than grown: a flow's key and text are rarely longer.
const recordRoom = 2 << 10

// recordArena hands out the bytes of store records. Not safe for
// concurrent use: each formatting goroutine has its own.
type recordArena struct{ buf []byte }

// start makes room for one record and returns where it begins. A record
// longer than the room left grows the buffer by copying; the records
// already handed out keep pointing into the old array, which stays valid.
func (a *recordArena) start() int {
	if cap(a.buf)-len(a.buf) < recordRoom {
		a.buf = make([]byte, 0, recordChunk)
	}
	return len(a.buf)
}

// end returns the record begun at start, capacity-capped so that nobody
// can append into the next one.
func (a *recordArena) end(start int) []byte { return a.buf[start:len(a.buf):len(a.buf)] }

// key formats a flow's store key (flowKey).
func (a *recordArena) key(table uint8, priority uint16, m *flow.Match) []byte {
	s := a.start()
	a.buf = appendFlowKey(a.buf, table, priority, m)
	return a.end(s)
}

// text formats a flow's stored text (flowText).
func (a *recordArena) text(fm *openflow.FlowMod) []byte {
	s := a.start()
	a.buf = ofctl.AppendFlowMod(a.buf, fm, nil)
	return a.end(s)
}

// appendFlowKey appends flowKey(table, priority, m) to b.
func appendFlowKey(b []byte, table uint8, priority uint16, m *flow.Match) []byte {
	const hex = "0123456789abcdef"
	b = append(b, hex[table>>4], hex[table&15], '/',
		hex[priority>>12], hex[priority>>8&15], hex[priority>>4&15], hex[priority&15], '/')
	return ofctl.AppendMatch(b, m, openflow.DefaultPriority, nil)
}

// flowWrite is one batch of flow changes as store records.
type flowWrite struct {
	br      string
	delKeys [][]byte
	putKeys [][]byte
	putVals [][]byte
}

func (w *flowWrite) empty() bool { return len(w.delKeys)+len(w.putKeys) == 0 }

// flowWriteFor returns the empty records of ch: removals, then the
// flows added by copy (Added) and by reference (AddedRefs).
func flowWriteFor(br string, ch *ofproto.FlowChanges) flowWrite {
	n := len(ch.Added) + len(ch.AddedRefs)
	return flowWrite{br: br, delKeys: make([][]byte, len(removedStats(ch))+len(ch.RemovedRefs)),
		putKeys: make([][]byte, n), putVals: make([][]byte, n)}
}

// removedStats returns the removed flows ch reports by copy that are not
// also reported by reference: with RecordFlowMods, Removed holds only the
// flows with send_flow_rem, all of which are in RemovedRefs too.
func removedStats(ch *ofproto.FlowChanges) []openflow.FlowStats {
	if ch.RemovedRefs != nil {
		return nil
	}
	return ch.Removed
}

// flowRecords formats ch as the store's keys and values.
func flowRecords(br string, ch ofproto.FlowChanges) flowWrite {
	w := flowWriteFor(br, &ch)
	removed := removedStats(&ch)
	parallel(len(removed), func(lo, hi int) {
		var a recordArena
		for i := lo; i < hi; i++ {
			fs := &removed[i]
			w.delKeys[i] = a.key(fs.Table, fs.Priority, &fs.Match)
		}
	})
	parallel(len(ch.RemovedRefs), func(lo, hi int) {
		var a recordArena
		for i := lo; i < hi; i++ {
			r := &ch.RemovedRefs[i]
			m := r.Match()
			w.delKeys[len(removed)+i] = a.key(r.Table(), r.Priority(), &m)
		}
	})
	parallel(len(ch.Added), func(lo, hi int) {
		var a recordArena
		for i := lo; i < hi; i++ {
			fs := &ch.Added[i]
			fm := statsToMod(fs)
			w.putKeys[i] = a.key(fs.Table, fs.Priority, &fs.Match)
			w.putVals[i] = a.text(&fm)
		}
	})
	base := len(ch.Added)
	parallel(len(ch.AddedRefs), func(lo, hi int) {
		var a recordArena
		for i := lo; i < hi; i++ {
			fm := ch.AddedRefs[i].FlowMod()
			w.putKeys[base+i] = a.key(fm.Table, fm.Priority, &fm.Match)
			w.putVals[base+i] = a.text(&fm)
		}
	})
	return w
}

// write applies the batch in tx: removals first (a flow removed and
// re-added in one batch appears in both).
func (w *flowWrite) write(tx *store.Tx) error {
	path := flowsPath(w.br)
	tx.Grow(len(w.putKeys))
	for _, k := range w.delKeys {
		if err := tx.Delete(path, string(k)); err != nil {
			return err
		}
	}
	for i, k := range w.putKeys {
		if err := tx.PutBytes(path, k, w.putVals[i]); err != nil {
			return err
		}
	}
	return nil
}
