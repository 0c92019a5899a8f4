package daemon

import (
	"sync"

	"tapestry/ofproto"
	"tapestry/store"
)

// flowLog group-commits the flow changes that arrive over OpenFlow.
//
// A controller or ovs-ofctl sends flow mods one by one, each followed by a
// barrier; committing each to the store (an fsync) before the next would cap
// the switch at a few hundred flow mods a second. Instead the agent queues
// the change and returns, and one goroutine writes everything queued in a
// single transaction. The store may trail the bridge by one commit: a crash
// can lose the OpenFlow changes of the last few milliseconds (Open vSwitch
// keeps none of them). Changes made through the API drain the log first, so
// the store sees every change in the order the bridge applied it.
type flowLog struct {
	mu      sync.Mutex
	pending []flowWrite
	wake    chan struct{}
}

func newFlowLog() *flowLog { return &flowLog{wake: make(chan struct{}, 1)} }

// add queues the changes a bridge reported.
func (l *flowLog) add(br string, ch ofproto.FlowChanges) {
	w := flowRecords(br, ch)
	if w.empty() {
		return
	}
	l.mu.Lock()
	l.pending = append(l.pending, w)
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

func (l *flowLog) take() []flowWrite {
	l.mu.Lock()
	defer l.mu.Unlock()
	p := l.pending
	l.pending = nil
	return p
}

// drainFlowLog writes every queued change in one transaction. The caller
// holds d.flowMu, which orders it against API flow changes.
func (d *Daemon) drainFlowLog() {
	ws := d.flows.take()
	if len(ws) == 0 {
		return
	}
	err := d.st.Update(func(tx *store.Tx) error {
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
