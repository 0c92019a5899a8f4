package link

import (
	"sync"
	"sync/atomic"
)

// PipeOptions configure an in-memory wire made by Pipe. The zero value is a
// 1500-byte MTU wire with a 1000-frame queue in each direction.
type PipeOptions struct {
	// MTU is the largest payload after the Ethernet header; 0 means 1500.
	MTU int
	// QueueLen is how many frames each direction holds before Write drops,
	// like a device's txqueuelen; 0 means DefaultQueueLen.
	QueueLen int
}

// DefaultQueueLen is the queue length of a Pipe when PipeOptions.QueueLen is
// zero. It matches the kernel's default txqueuelen for Ethernet devices.
const DefaultQueueLen = 1000

// maxL2Overhead is what a frame may carry beyond its MTU: the Ethernet header
// and two 802.1Q/802.1ad tags (QinQ), as the kernel allows on VLAN-aware
// devices. The FCS is not carried.
const maxL2Overhead = 14 + 2*4

// Mem is one end of an in-memory wire. Frames written to one end are copied
// into buffers from the wire's bounded pool, queued, and copied out again by
// Read on the other end; the caller keeps ownership of its own slices. In
// steady state neither direction allocates.
type Mem struct {
	name string
	mtu  int
	tx   *memQueue // frames this end writes; the peer reads them
	rx   *memQueue // frames the peer writes; this end reads them

	closeOnce sync.Once
	done      chan struct{} // closed by Close; wakes a blocked Read
	closed    atomic.Bool
}

// memQueue is one direction of a wire: a ring of queued frames and a free
// stack of buffers, all guarded by mu. The pool is bounded by the ring
// length, so a wire never holds more than QueueLen buffers per direction.
type memQueue struct {
	mu       sync.Mutex
	ring     [][]byte // ring[(head+i)%len(ring)] for i < count; each sliced to its frame
	head     int
	count    int
	free     [][]byte // buffers of bufSize capacity not in the ring
	bufSize  int
	dstGone  bool // the reading end is closed; writes are dropped
	enqPkts  uint64
	enqBytes uint64
	drops    uint64 // full queue or reader gone
	oversize uint64 // larger than MTU plus L2 overhead
	deqPkts  uint64
	deqBytes uint64
	short    uint64 // frames discarded because the reader's buffer was too small

	// ready holds one token when frames may be waiting; Write posts it
	// without blocking and Read waits for it when the ring is empty.
	ready chan struct{}
}

// Pipe returns the two ends of an in-memory Ethernet wire, named nameA and
// nameB. What is written to one end is read from the other. Each direction
// queues up to opts.QueueLen frames; beyond that Write drops them and counts
// them in Stats().TxDropped, as a device does when its transmit queue is
// full.
func Pipe(nameA, nameB string, opts PipeOptions) (*Mem, *Mem) {
	if opts.MTU <= 0 {
		opts.MTU = 1500
	}
	if opts.QueueLen <= 0 {
		opts.QueueLen = DefaultQueueLen
	}
	ab := newMemQueue(opts)
	ba := newMemQueue(opts)
	a := &Mem{name: nameA, mtu: opts.MTU, tx: ab, rx: ba, done: make(chan struct{})}
	b := &Mem{name: nameB, mtu: opts.MTU, tx: ba, rx: ab, done: make(chan struct{})}
	return a, b
}

func newMemQueue(opts PipeOptions) *memQueue {
	return &memQueue{
		ring:    make([][]byte, opts.QueueLen),
		free:    make([][]byte, 0, opts.QueueLen),
		bufSize: opts.MTU + maxL2Overhead,
		ready:   make(chan struct{}, 1),
	}
}

// Name returns the name given to this end by Pipe.
func (m *Mem) Name() string { return m.name }

// MTU returns the wire's MTU.
func (m *Mem) MTU() int { return m.mtu }

// Write queues copies of pkts for the peer and returns how many were queued.
// Frames that do not fit (queue full, peer closed) are dropped and counted
// in TxDropped, frames longer than MTU plus an Ethernet header and two VLAN
// tags in TxErrors; neither is an error, as a congested device does not fail
// the sender. Write returns ErrClosed once this end is closed.
func (m *Mem) Write(pkts [][]byte) (int, error) {
	if m.closed.Load() {
		return 0, ErrClosed
	}
	q := m.tx
	sent := 0
	q.mu.Lock()
	for _, p := range pkts {
		if len(p) > q.bufSize {
			q.oversize++
			continue
		}
		if q.dstGone || q.count == len(q.ring) {
			q.drops++
			continue
		}
		var b []byte
		if n := len(q.free); n > 0 {
			b = q.free[n-1]
			q.free = q.free[:n-1]
		} else {
			b = make([]byte, q.bufSize)
		}
		b = b[:copy(b[:cap(b)], p)]
		tail := q.head + q.count
		if tail >= len(q.ring) {
			tail -= len(q.ring)
		}
		q.ring[tail] = b
		q.count++
		q.enqPkts++
		q.enqBytes += uint64(len(p))
		sent++
	}
	q.mu.Unlock()
	if sent > 0 {
		select {
		case q.ready <- struct{}{}:
		default:
		}
	}
	return sent, nil
}

// Read blocks until the peer has written at least one frame, then copies up
// to len(bufs) queued frames into bufs[i][offset:]. A frame longer than
// len(bufs[i])-offset is discarded and counted in RxDropped. Read returns
// ErrClosed once this end is closed, including when Close is called while
// Read is blocked.
func (m *Mem) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	q := m.rx
	for {
		if m.closed.Load() {
			return 0, ErrClosed
		}
		q.mu.Lock()
		n := q.dequeue(bufs, sizes, offset)
		more := q.count > 0
		q.mu.Unlock()
		if n > 0 {
			if more {
				// Leave the token for the next Read so it does not block
				// while frames are still queued.
				select {
				case q.ready <- struct{}{}:
				default:
				}
			}
			return n, nil
		}
		select {
		case <-q.ready:
		case <-m.done:
		}
	}
}

// dequeue moves up to len(bufs) frames out of the ring into the caller's
// buffers and returns their buffers to the free stack. q.mu must be held.
func (q *memQueue) dequeue(bufs [][]byte, sizes []int, offset int) int {
	n := 0
	for n < len(bufs) && n < len(sizes) && q.count > 0 {
		b := q.ring[q.head]
		q.ring[q.head] = nil
		q.head++
		if q.head == len(q.ring) {
			q.head = 0
		}
		q.count--
		q.free = append(q.free, b[:cap(b)])
		if len(b) > len(bufs[n])-offset {
			q.short++
			continue
		}
		sizes[n] = copy(bufs[n][offset:], b)
		q.deqPkts++
		q.deqBytes += uint64(len(b))
		n++
	}
	return n
}

// Close closes this end: a blocked Read returns ErrClosed, frames queued
// toward this end are discarded and later writes from the peer are dropped.
// The peer stays open; its Read keeps returning frames already queued
// toward it. Close is idempotent.
func (m *Mem) Close() error {
	m.closeOnce.Do(func() {
		m.closed.Store(true)
		close(m.done)
		q := m.rx
		q.mu.Lock()
		q.dstGone = true
		for q.count > 0 {
			q.drops++
			q.free = append(q.free, q.ring[q.head][:cap(q.ring[q.head])])
			q.ring[q.head] = nil
			q.head = (q.head + 1) % len(q.ring)
			q.count--
		}
		q.mu.Unlock()
	})
	return nil
}

// Stats returns this end's counters. Frames the peer dropped because this
// end's queue was full count as the peer's TxDropped, as on a veth pair.
func (m *Mem) Stats() Stats {
	var s Stats
	m.tx.mu.Lock()
	s.TxPackets = m.tx.enqPkts
	s.TxBytes = m.tx.enqBytes
	s.TxDropped = m.tx.drops
	s.TxErrors = m.tx.oversize
	m.tx.mu.Unlock()
	m.rx.mu.Lock()
	s.RxPackets = m.rx.deqPkts
	s.RxBytes = m.rx.deqBytes
	s.RxDropped = m.rx.short
	m.rx.mu.Unlock()
	return s
}

var _ Link = (*Mem)(nil)
