package daemon

import (
	"sync"

	"tapestry/ofproto"
	"tapestry/openflow"
	"tapestry/store"
)

// flowLog group-commits the flow changes that arrive over OpenFlow.
//
// A controller or ovs-ofctl sends flow mods one by one, each followed by a
// barrier; committing each to the store (an fsync) before the next would cap
// the switch at a few hundred flow mods a second. Instead the agent queues
// the change and returns, and one goroutine writes everything queued in a
// single transaction.
//
// Queueing is all the connection's goroutine does: add appends the bridge's
// FlowChanges as they are, and the store records (flowKey, flowText: some
// µs a flow) are formatted by whoever drains the log, so that a stream of
// flow mods is not slowed to the speed of formatting. The FlowChanges stay
// valid after the hook returns: the bridge builds them fresh for each batch
// and never writes to a flow's match or action list once published
// (a modify installs a new list).
//
// What holds, exactly as when add formatted the records itself:
//   - Order: batches are written in the order add was called, each batch's
//     removals before its additions, so the store ends as the bridge did.
//   - API changes (flow mods, group mods, cloud rules) take d.flowMu and
//     drain the log first, so an OpenFlow change the bridge applied before
//     them is stored before them.
//   - Durability: a barrier reply means the bridge applied the changes
//     before it, not that the store holds them. The store may trail the
//     bridge by the changes queued or being committed: a crash can lose the
//     OpenFlow changes of the last few milliseconds (Open vSwitch keeps none
//     of them). A clean Close loses nothing: the logger drains what is
//     queued when it stops, and Close drains again after the bridges are
//     closed.
type flowLog struct {
	mu      sync.Mutex
	pending []flowBatch
	wake    chan struct{}
}

// flowBatch is one bridge batch's changes, as the bridge reported them.
type flowBatch struct {
	br string
	ch ofproto.FlowChanges
}

func newFlowLog() *flowLog { return &flowLog{wake: make(chan struct{}, 1)} }

// add queues the changes a bridge reported. It runs on an OpenFlow
// connection's goroutine and only appends.
func (l *flowLog) add(br string, ch ofproto.FlowChanges) {
	if len(ch.Added)+len(ch.AddedRefs)+len(ch.Removed)+len(ch.RemovedRefs) == 0 {
		return
	}
	l.mu.Lock()
	l.pending = append(l.pending, flowBatch{br: br, ch: ch})
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

func (l *flowLog) take() []flowBatch {
	l.mu.Lock()
	defer l.mu.Unlock()
	p := l.pending
	l.pending = nil
	return p
}

// drainFlowLog formats every queued change and writes them all in one
// transaction. The caller holds d.flowMu, which orders it against API flow
// changes: the records are formatted under it too, since an API change
// waiting for flowMu must find these changes stored before its own.
func (d *Daemon) drainFlowLog() {
	bs := d.flows.take()
	if len(bs) == 0 {
		return
	}
	ws := flowLogRecords(bs)
	err := d.st.Update(func(tx *store.Tx) error {
		n := 0
		for i := range ws {
			n += len(ws[i].putKeys)
		}
		tx.Grow(n)
		for i := range ws {
			if err := ws[i].write(tx); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		d.log.Error("storing flows changed over OpenFlow", "batches", len(ws), "err", err)
	}
}

// flowLogRecords formats queued batches as store records. The flows of all
// batches are formatted as one list, spread over every CPU when it is long:
// a connection streaming flow mods hands the log many small batches.
func flowLogRecords(bs []flowBatch) []flowWrite {
	ws := make([]flowWrite, len(bs))
	n := 0
	for i := range bs {
		ch := &bs[i].ch
		ws[i] = flowWriteFor(bs[i].br, ch)
		n += len(ws[i].delKeys) + len(ws[i].putKeys)
	}
	// jobs[j] names the flow and the record slot of the j'th flow: a
	// removal (key only), an added flow's statistics or a reference.
	type job struct {
		fs  *openflow.FlowStats
		ref *ofproto.FlowRef
		key *[]byte
		val *[]byte // nil for a removal
	}
	jobs := make([]job, 0, n)
	for i := range bs {
		ch, w := &bs[i].ch, &ws[i]
		removed := removedStats(ch)
		for k := range removed {
			jobs = append(jobs, job{fs: &removed[k], key: &w.delKeys[k]})
		}
		for k := range ch.RemovedRefs {
			jobs = append(jobs, job{ref: &ch.RemovedRefs[k], key: &w.delKeys[len(removed)+k]})
		}
		for k := range ch.Added {
			jobs = append(jobs, job{fs: &ch.Added[k], key: &w.putKeys[k], val: &w.putVals[k]})
		}
		base := len(ch.Added)
		for k := range ch.AddedRefs {
			jobs = append(jobs, job{ref: &ch.AddedRefs[k], key: &w.putKeys[base+k], val: &w.putVals[base+k]})
		}
	}
	parallel(len(jobs), func(lo, hi int) {
		var a recordArena
		for _, j := range jobs[lo:hi] {
			switch {
			case j.val == nil && j.ref != nil:
				m := j.ref.Match()
				*j.key = a.key(j.ref.Table(), j.ref.Priority(), &m)
			case j.val == nil:
				*j.key = a.key(j.fs.Table, j.fs.Priority, &j.fs.Match)
			default:
				var fm openflow.FlowMod
				if j.ref != nil {
					fm = j.ref.FlowMod()
				} else {
					fm = statsToMod(j.fs)
				}
				*j.key = a.key(fm.Table, fm.Priority, &fm.Match)
				*j.val = a.text(&fm)
			}
		}
	})
	return ws
}

// flowLogger commits queued OpenFlow changes until stop is closed, then
// drains what is left.
func (d *Daemon) flowLogger() {
	defer d.wg.Done()
	for {
		select {
		case <-d.flows.wake:
		case <-d.stop:
			d.flowMu.Lock()
			d.drainFlowLog()
			d.flowMu.Unlock()
			return
		}
		d.flowMu.Lock()
		d.drainFlowLog()
		d.flowMu.Unlock()
	}
}
