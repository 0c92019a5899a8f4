package ofproto

// Recirculation, as in Open vSwitch's datapath: ct(table=N) ends the first
// pass's decision with "ct(...),recirc(ID)"; the packet comes back with its
// ct_* fields set and is looked up again among the megaflows of ID.
//
// A recirculation state is Open vSwitch's frozen state: the table to resume
// in and the packet metadata the pipeline had built when it froze
// (registers, metadata, tunnel id, packet mark, input port). Packet header
// fields are not frozen: the frame carries them, rewritten by the ops
// before ct, and they are extracted again. Each state has its own megaflow
// cache, which is what matching recirc_id exactly means; a state is shared
// by every first-pass megaflow that froze the same metadata at the same
// table. States belong to one bridge generation: a flow table change makes
// the next translations create new ones, and the old ones are synced one
// last time and dropped.

import (
	"sync"
	"time"

	"tapestry/flow"
	"tapestry/link"
)

// frozen is what a recirculation restores.
type frozen struct {
	table    uint8
	inPort   uint32
	pktMark  uint32
	regs     [flow.NumRegs]uint32
	metadata uint64
	tunID    uint64
}

// recircState is one recirculation id.
type recircState struct {
	id  uint32
	gen uint64
	f   frozen
	mf  megaflowCache
}

// recircTable allocates recirculation states.
type recircTable struct {
	mu     sync.Mutex
	gen    uint64
	byKey  map[frozen]*recircState // states of generation gen
	all    []*recircState          // every state whose stats may need a sync
	nextID uint32
	// ctExpired is when the ct table was last swept (bridge clock, ns).
	ctExpired int64
}

// state returns the recirculation state for resuming in table with k's
// metadata, at bridge generation gen.
func (t *recircTable) state(table uint8, k *flow.Key, gen uint64) *recircState {
	f := frozen{table: table, inPort: k.InPort, pktMark: k.PktMark, regs: k.Regs, metadata: k.Metadata, tunID: k.TunID}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.byKey == nil || gen > t.gen {
		t.byKey, t.gen = make(map[frozen]*recircState), gen
	}
	if s := t.byKey[f]; s != nil {
		return s
	}
	t.nextID++
	s := &recircState{id: t.nextID, gen: gen, f: f}
	s.mf.init()
	if gen >= t.gen {
		t.byKey[f] = s
	}
	t.all = append(t.all, s)
	return s
}

// thaw writes the frozen metadata into a key extracted from the frame.
func (s *recircState) thaw(k *flow.Key) {
	k.InPort, k.PktMark, k.Regs, k.Metadata, k.TunID = s.f.inPort, s.f.pktMark, s.f.regs, s.f.metadata, s.f.tunID
}

// recirculate runs a copy of frame, whose key pr.ctKey is ready, through
// the second pass of s.
func (pr *proc) recirculate(s *recircState, frame []byte, off flow.Offsets) {
	b := pr.b
	k := &pr.ctKey
	gen := b.gen.Load()
	e := s.mf.lookup(k, gen)
	if e == nil {
		e = s.mf.install(b.translateAt(k, s.f.table, pr.now, true, nil, nil), gen)
	}
	pr.credit(e, uint64(len(frame)))
	if e.nout == 0 {
		return
	}
	buf, start := pr.recircCopy(frame)
	pr.recircDepth++
	nsave := pr.nsave
	pr.execute(e, buf, start, start+len(frame), off)
	pr.nsave = nsave
	pr.recircDepth--
}

// recircCopy copies frame, with headroom for pushed tags, into the
// buffer of the current recirculation depth: the second pass may rewrite
// it while the first pass's outputs still hold the original. The buffer is
// reused by the next packet, so the second pass's outputs copy the frame
// (execute does when recircDepth > 0).
func (pr *proc) recircCopy(frame []byte) ([]byte, int) {
	n := link.Headroom + len(frame)
	buf := pr.recircBufs[pr.recircDepth]
	if cap(buf) < n {
		buf = make([]byte, max(n, link.Headroom+link.FrameSize))
		pr.recircBufs[pr.recircDepth] = buf
	}
	buf = buf[:n]
	copy(buf[link.Headroom:], frame)
	return buf, link.Headroom
}

// syncRecirc syncs the statistics of every recirculation cache, and drops
// the states of older generations after their last sync. It also removes
// expired connections from the ct table, at most once a second of the
// bridge's clock: the daemon's once-a-second Expire syncs statistics, and
// that is the conntrack garbage collector's period here (the kernel's gc
// worker runs about as often).
func (b *Bridge) syncRecirc() {
	t := &b.recirc
	t.mu.Lock()
	defer t.mu.Unlock()
	if ct := b.ct.Load(); ct != nil {
		if now := b.now().UnixNano(); now-t.ctExpired >= int64(time.Second) {
			t.ctExpired = now
			ct.Expire(now)
		}
	}
	keep := t.all[:0]
	for _, s := range t.all {
		b.syncCache(&s.mf)
		if s.gen >= t.gen {
			keep = append(keep, s)
		}
	}
	clear(t.all[len(keep):])
	t.all = keep
}

// syncCache is syncStats for one megaflow cache: the bridge's, or a
// recirculation state's.
func (b *Bridge) syncCache(c *megaflowCache) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range c.retired {
		b.syncEntry(e)
	}
	clear(c.retired)
	c.retired = c.retired[:0]
	if g := c.cur.Load(); g != nil {
		for _, e := range g.all {
			b.syncEntry(e)
		}
	}
}
