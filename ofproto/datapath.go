package ofproto

// The fast path. Each port's receive goroutine:
//
//  1. reads a batch of frames from its link into buffers with headroom;
//  2. per frame: extracts the key and looks it up in its exact-match cache,
//     then in the shared megaflow cache, and on a miss translates it
//     (xlate.go) and installs the result;
//  3. executes the entry's ops on the frame (rewrites in place, outputs
//     queued per destination port, copying the frame only when a later op
//     rewrites it);
//  4. credits flow and table counters once per run of packets that hit the
//     same entry, and writes each destination's queue with one Write.
//
// When table 0 is too large for the CPU's caches, step 2 splits in two
// passes over the batch (prefetched): first every frame's key and cache
// lookups, and table 0's lookups for the frames that missed, all together
// (classifier.LookupBatch); then, frame by frame in order, the
// translations and step 3. The misses' table 0 lookups then wait for
// memory together, not one by one.

import (
	"errors"
	"time"

	"tapestry/classifier"
	"tapestry/flow"
	"tapestry/link"
	"tapestry/openflow"
	"tapestry/packet"
)

type opKind uint8

// Datapath ops, what a cached decision does to a frame.
const (
	opOutput opKind = iota + 1
	opController
	opLearn
	opSetEthSrc
	opSetEthDst
	opPushVLAN
	opPopVLAN
	opSetVLAN
	opSetIPv4Src
	opSetIPv4Dst
	opSetTOS
	opSetECN
	opSetTTL
	opSetL4Src
	opSetL4Dst
	opSetARPOp
	opSetARPSha
	opSetARPSpa
	opSetARPTha
	opSetARPTpa
	opSetIPv6Src
	opSetIPv6Dst
	opSetIPv6Label
	// opSave and opRestore bracket a group bucket that rewrites the frame:
	// the bucket works on the frame, then the frame is put back as it was
	// (the bucket ran on a clone of the packet).
	opSave
	opRestore
	opCT // ct(...) and its recirculation (ct.go)
)

// op is one datapath op; fields are used as its kind documents.
type op struct {
	kind opKind
	copy bool  // output: copy the frame, a later op rewrites it
	v6   bool  // TOS/ECN/TTL ops: the packet is IPv6
	u8   uint8 // TOS, ECN, TTL, or the IP protocol for L4 ops
	u16  uint16
	u32  uint32
	addr [16]byte // MAC (first 6 bytes), IPv4 (first 4) or IPv6 address
	port *port
	mac  *macEntry
	pin  *PacketIn
	ct   *ctOp
}

type dropReason uint8

// Reasons a packet went nowhere; every drop is counted under one.
const (
	dropTableMiss dropReason = iota + 1
	dropAction
	dropNormal
	dropTTL
	dropRecursion
	dropUnsupported
	dropNoRecv
	dropPortDown
	dropHeadroom
	dropPacketIn
	dropBadOffload
	numDropReasons
)

var dropNames = [numDropReasons]string{
	dropTableMiss:   "table-miss",
	dropAction:      "actions-drop",
	dropNormal:      "normal-drop",
	dropTTL:         "ttl-expired",
	dropRecursion:   "recursion-too-deep",
	dropUnsupported: "unsupported-action",
	dropNoRecv:      "port-no-receive",
	dropPortDown:    "port-down",
	dropHeadroom:    "no-headroom",
	dropPacketIn:    "packet-in-disabled",
	dropBadOffload:  "bad-offload-header",
}

// DropStats returns the bridge's drop counters by reason.
func (b *Bridge) DropStats() map[string]uint64 {
	b.mu.Lock()
	b.syncStats()
	b.mu.Unlock()
	out := make(map[string]uint64)
	for r := dropReason(1); r < numDropReasons; r++ {
		if n := b.drops[r].Load(); n > 0 {
			out[dropNames[r]] = n
		}
	}
	return out
}

// outQueue collects the frames one batch sends to one port.
type outQueue struct {
	p    *port
	pkts [][]byte
	hdrs []packet.VnetHdr // beside pkts when p takes offloaded frames
}

// proc is a receive goroutine's private state.
type proc struct {
	b     *Bridge
	in    *port
	inNo  uint32
	bufs  [][]byte
	sizes []int
	key   flow.Key // the key of a frame forwarded alone (packet)
	// Per frame of a batch: key, offsets, key hash, the cache entry found
	// for it (nil for a miss) and whether the EMC had it.
	keys   []flow.Key
	offs   []flow.Offsets
	hashes []uint64
	ents   []*mfEntry
	inEMC  []bool
	// The frames that missed both caches, in order: their keys and
	// indexes, and table 0's answers for them (LookupBatch). missWCs[j]
	// is &firsts[j].wc, set once.
	misses    []*flow.Key
	missAt    []int
	missWCs   []*flow.Mask
	missRules []*classifier.Rule[*Flow]
	firsts    []firstLookup
	emc       *emc
	outs      []outQueue
	arena     []byte
	used      int
	now       int64
	emcTick   uint32
	wantEMC   bool     // allocate the EMC and arena on the first batch
	run       *mfEntry // entry of the current run of packets
	saves     []savedFrame
	nsave     int
	runN      uint64
	runLen    uint64
	off       offloadState
	// ctKey is the key of a frame ct looks up and recirculates; the
	// recirculation buffers are per depth (recirc.go).
	ctKey       flow.Key
	recircDepth int
	recircBufs  [maxRecircDepth][]byte
}

// savedFrame is a frame as it was before a group bucket changed it. Its
// buffer is reused from packet to packet.
type savedFrame struct {
	buf    []byte
	start  int
	l3, l4 int
}

// arenaSize bounds the frame copies one batch makes before it flushes.
const arenaSize = 256 << 10

func newProc(b *Bridge, in *port, inNo uint32, withEMC bool) *proc {
	pr := &proc{b: b, in: in, inNo: inNo, wantEMC: withEMC}
	if withEMC {
		n, size := link.BatchSize, link.FrameSize
		if in != nil && in.vnet != nil {
			n, size = link.VnetBatchSize, link.VnetFrameSize
			pr.off.hdrs = make([]packet.VnetHdr, n)
		}
		pr.bufs = make([][]byte, n)
		pr.sizes = make([]int, n)
		pr.keys = make([]flow.Key, n)
		pr.offs = make([]flow.Offsets, n)
		pr.hashes = make([]uint64, n)
		pr.ents = make([]*mfEntry, n)
		pr.inEMC = make([]bool, n)
		pr.misses = make([]*flow.Key, 0, n)
		pr.missAt = make([]int, 0, n)
		pr.missWCs = make([]*flow.Mask, n)
		pr.missRules = make([]*classifier.Rule[*Flow], n)
		pr.firsts = make([]firstLookup, n)
		for j := range pr.firsts {
			pr.missWCs[j] = &pr.firsts[j].wc
		}
		for i := range pr.bufs {
			pr.bufs[i] = make([]byte, size)
		}
	}
	return pr
}

// receive is a port's receive goroutine.
func (b *Bridge) receive(p *port) {
	defer b.wg.Done()
	defer close(p.done)
	pr := newProc(b, p, p.no, true)
	for {
		var n int
		var err error
		if p.vnet != nil {
			n, err = p.vnet.ReadVnet(pr.bufs, pr.sizes, pr.off.hdrs, link.Headroom)
		} else {
			n, err = p.spec.Link.Read(pr.bufs, pr.sizes, link.Headroom)
		}
		if err != nil {
			if p.stopping.Load() || errors.Is(err, link.ErrClosed) {
				return
			}
			p.rxErrors.Add(1)
			b.log.Warn("port read failed", "bridge", b.name, "port", p.spec.Name, "err", err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		pr.batch(n)
	}
}

// batch forwards the n frames in pr.bufs.
func (pr *proc) batch(n int) {
	p := pr.in
	var bytes uint64
	for i := 0; i < n; i++ {
		bytes += uint64(pr.sizes[i])
	}
	p.rxPackets.Add(uint64(n))
	p.rxBytes.Add(bytes)
	if cfg := p.cfg(); cfg&(openflow.PortDown|openflow.PortNoRecv) != 0 {
		p.rxDropped.Add(uint64(n))
		r := dropNoRecv
		if cfg&openflow.PortDown != 0 {
			r = dropPortDown
		}
		pr.b.drops[r].Add(uint64(n))
		return
	}
	if pr.wantEMC && pr.emc == nil {
		// An idle port costs only its receive buffers.
		pr.emc = new(emc)
		pr.arena = make([]byte, arenaSize)
	}
	pr.now = pr.b.now().UnixNano()
	if pr.off.hdrs != nil {
		p.countSuper(pr.off.hdrs[:n])
	}
	if twoPass(&pr.b.tables[0]) {
		pr.prefetched(n)
	} else {
		for i := 0; i < n; i++ {
			if pr.off.hdrs != nil {
				pr.off.hdr = pr.off.hdrs[i]
			}
			pr.packet(pr.bufs[i], link.Headroom, link.Headroom+pr.sizes[i])
		}
	}
	pr.off.hdr = packet.VnetHdr{}
	pr.flush()
}

// prefetched forwards the n frames in pr.bufs in two passes, for a bridge
// whose table 0 is too large for the caches: the first extracts every
// frame's key, looks it up in the caches and, for the misses, in table 0
// all together (LookupBatch); the second forwards each frame in order,
// translating the misses from their table 0 answers.
func (pr *proc) prefetched(n int) {
	b := pr.b
	gen := b.gen.Load()
	pr.misses, pr.missAt = pr.misses[:0], pr.missAt[:0]
	for i := 0; i < n; i++ {
		k := &pr.keys[i]
		pr.offs[i] = pr.extract(pr.bufs[i][link.Headroom:link.Headroom+pr.sizes[i]], k)
		h := hashKey(k)
		e := pr.emc.lookup(k, h, gen)
		pr.inEMC[i] = e != nil
		if e == nil {
			if e = b.mf.lookup(k, gen); e == nil {
				pr.misses = append(pr.misses, k)
				pr.missAt = append(pr.missAt, i)
			}
		}
		pr.hashes[i], pr.ents[i] = h, e
	}
	m := len(pr.misses)
	batched := m > 1
	if batched {
		for j := range m {
			pr.firsts[j].wc = flow.Mask{}
		}
		b.tables[0].lookupBatch(pr.misses, pr.missWCs[:m], pr.missRules[:m])
		for j, r := range pr.missRules[:m] {
			pr.firsts[j].flow = nil
			if r != nil {
				pr.firsts[j].flow = r.Value
			}
		}
	}
	next := 0 // the next miss, in pr.missAt
	for i := 0; i < n; i++ {
		if pr.off.hdrs != nil {
			pr.off.hdr = pr.off.hdrs[i]
		}
		e, k, h := pr.ents[i], &pr.keys[i], pr.hashes[i]
		var first *firstLookup
		if next < m && pr.missAt[next] == i {
			if batched {
				first = &pr.firsts[next]
			}
			next++
		}
		now := b.gen.Load()
		if now != gen {
			// An earlier frame of the batch changed the bridge (NORMAL
			// learning a MAC, say): table 0's answer may be stale.
			first = nil
		}
		switch {
		case e == nil || e.gen != now:
			// A miss, or a hit on an entry made stale since.
			e = pr.miss(k, h, now, first)
		case !pr.inEMC[i]:
			pr.emcInsert(k, h, now, e)
		}
		pr.apply(e, pr.bufs[i], link.Headroom, link.Headroom+pr.sizes[i], pr.offs[i])
	}
}

// twoPass reports whether a batch goes through prefetched: when table 0
// is too large for the caches. Elsewhere prefetching gains nothing, and
// the second pass over the batch costs a few percent. A variable so that
// tests can send every batch through either path.
var twoPass = (*table).big

// extract fills k from frame, received on pr's port. Extract fills every
// packet field; the metadata fields start at zero for every packet.
func (pr *proc) extract(frame []byte, k *flow.Key) flow.Offsets {
	k.Metadata, k.TunID, k.Regs = 0, 0, [flow.NumRegs]uint32{}
	k.PktMark, k.CtMark, k.CtState, k.CtZone = 0, 0, 0, 0
	return flow.Extract(frame, pr.inNo, k)
}

// packet forwards the frame buf[start:end] alone.
func (pr *proc) packet(buf []byte, start, end int) {
	// Extract fills every packet field; the metadata fields start at zero
	// for every packet. (As extract does, written out: this is the path
	// of every frame, and a call costs it 5%.)
	k := &pr.key
	k.Metadata, k.TunID, k.Regs = 0, 0, [flow.NumRegs]uint32{}
	k.PktMark, k.CtMark, k.CtState, k.CtZone = 0, 0, 0, 0
	off := flow.Extract(buf[start:end], pr.inNo, k)
	gen := pr.b.gen.Load()
	var e *mfEntry
	var h uint64
	if pr.emc != nil {
		h = hashKey(k)
		e = pr.emc.lookup(k, h, gen)
	}
	if e == nil {
		e = pr.miss(k, h, gen, nil)
	}
	pr.apply(e, buf, start, end, off)
}

// miss returns the entry for k (hash h), which the EMC does not hold at
// generation gen: from the megaflow cache, or translated and installed
// there, from table 0's answer first when the two-pass batch has it at
// generation gen. It goes into the EMC too.
func (pr *proc) miss(k *flow.Key, h, gen uint64, first *firstLookup) *mfEntry {
	b := pr.b
	e := b.mf.lookup(k, gen)
	if e == nil {
		e = b.mf.install(b.translateAt(k, 0, pr.now, true, nil, first), gen)
	}
	pr.emcInsert(k, h, gen, e)
	return e
}

// emcInsert puts e, found for k at generation gen, into the EMC: always
// when its slot is free or stale, otherwise once in emcInsertInv times.
func (pr *proc) emcInsert(k *flow.Key, h, gen uint64, e *mfEntry) {
	if pr.emc != nil && e.gen == gen {
		pr.emcTick++
		if pr.emc.insert(k, h, gen) || pr.emcTick%emcInsertInv == 0 {
			pr.emc.put(k, h, e)
		}
	}
}

// apply runs entry e on the frame buf[start:end] with offsets off.
func (pr *proc) apply(e *mfEntry, buf []byte, start, end int, off flow.Offsets) {
	if !e.safe && pr.off.hdr != (packet.VnetHdr{}) {
		// The actions look at or change L3/L4, or hand the frame to a
		// controller: they get wire frames.
		if !pr.completeFrame(buf, start, end) {
			return
		}
	}
	pr.credit(e, uint64(end-start))
	if e.nout == 0 {
		return
	}
	pr.execute(e, buf, start, end, off)
}

// credit counts a packet against e, run-length encoded so that a batch of
// packets of one flow costs one set of atomic adds.
func (pr *proc) credit(e *mfEntry, size uint64) {
	if pr.run != e {
		pr.flushCredit()
		pr.run = e
	}
	pr.runN++
	pr.runLen += size
}

func (pr *proc) flushCredit() {
	e := pr.run
	if e == nil || pr.runN == 0 {
		return
	}
	e.packets.Add(pr.runN)
	e.bytes.Add(pr.runLen)
	if e.used.Load() < pr.now {
		e.used.Store(pr.now)
	}
	pr.run, pr.runN, pr.runLen = nil, 0, 0
}

// execute applies e's ops to the frame buf[start:end].
func (pr *proc) execute(e *mfEntry, buf []byte, start, end int, off flow.Offsets) {
	l3, l4 := -1, -1
	pr.nsave = 0
	h := pr.off.hdr
	if off.HasL3() {
		l3 = int(off.L3)
	}
	if off.HasL4() {
		l4 = int(off.L4)
	}
	for i := range e.ops {
		o := &e.ops[i]
		frame := buf[start:end]
		switch o.kind {
		case opOutput:
			pr.output(o.port, frame, &h, o.copy || pr.recircDepth > 0)
		case opController:
			pr.packetIn(o.pin, frame)
		case opLearn:
			if o.mac.used.Load() < pr.now {
				o.mac.used.Store(pr.now)
			}
		case opPushVLAN:
			ns := packet.PushVLAN(buf[:end], start, uint16(o.u32), o.u16)
			if ns < 0 {
				pr.b.drops[dropHeadroom].Add(1)
				return
			}
			start = ns
			l3, l4 = shift(l3, 4), shift(l4, 4)
			h.Shift(4)
		case opPopVLAN:
			if f := packet.PopVLAN(frame); len(f) != len(frame) {
				start += 4
				l3, l4 = shift(l3, -4), shift(l4, -4)
				h.Shift(-4)
			}
		case opSave:
			pr.save(frame, start, l3, l4)
		case opRestore:
			start, l3, l4 = pr.restore(buf[:end])
		case opCT:
			pr.conntrack(o.ct, frame)
		default:
			rewrite(o, frame, l3, l4)
		}
	}
}

// save pushes a copy of the frame and its offsets. Pushes and pops of a
// VLAN tag move only the frame's start, so end stays valid across them.
func (pr *proc) save(frame []byte, start, l3, l4 int) {
	if pr.nsave == len(pr.saves) {
		pr.saves = append(pr.saves, savedFrame{})
	}
	s := &pr.saves[pr.nsave]
	pr.nsave++
	s.buf = append(s.buf[:0], frame...)
	s.start, s.l3, s.l4 = start, l3, l4
}

// restore pops the last saved frame back into buf (which ends where the
// frame ends) and returns its start and offsets.
func (pr *proc) restore(buf []byte) (start, l3, l4 int) {
	pr.nsave--
	s := &pr.saves[pr.nsave]
	copy(buf[s.start:], s.buf)
	return s.start, s.l3, s.l4
}

func shift(off, d int) int {
	if off < 0 {
		return off
	}
	return off + d
}

// rewrite applies a field-rewriting op to frame.
func rewrite(o *op, frame []byte, l3, l4 int) {
	switch o.kind {
	case opSetEthSrc:
		packet.SetEthSrc(frame, packet.MAC(o.addr[:6]))
	case opSetEthDst:
		packet.SetEthDst(frame, packet.MAC(o.addr[:6]))
	case opSetVLAN:
		packet.SetVLANTCI(frame, o.u16)
	case opSetIPv4Src:
		packet.SetIPv4Src(frame, l3, [4]byte(o.addr[:4]))
	case opSetIPv4Dst:
		packet.SetIPv4Dst(frame, l3, [4]byte(o.addr[:4]))
	case opSetTOS:
		if o.v6 {
			packet.SetIPv6TOS(frame, l3, o.u8)
		} else {
			packet.SetIPv4TOS(frame, l3, o.u8)
		}
	case opSetECN:
		if o.v6 {
			packet.SetIPv6ECN(frame, l3, o.u8)
		} else {
			packet.SetIPv4ECN(frame, l3, o.u8)
		}
	case opSetTTL:
		if o.v6 {
			packet.SetIPv6HopLimit(frame, l3, o.u8)
		} else {
			packet.SetIPv4TTL(frame, l3, o.u8)
		}
	case opSetL4Src:
		packet.SetL4Src(frame, l3, l4, o.u8, o.u16)
	case opSetL4Dst:
		packet.SetL4Dst(frame, l3, l4, o.u8, o.u16)
	case opSetARPOp:
		packet.SetARPOp(frame, l3, o.u16)
	case opSetARPSha:
		packet.SetARPSha(frame, l3, packet.MAC(o.addr[:6]))
	case opSetARPSpa:
		packet.SetARPSpa(frame, l3, [4]byte(o.addr[:4]))
	case opSetARPTha:
		packet.SetARPTha(frame, l3, packet.MAC(o.addr[:6]))
	case opSetARPTpa:
		packet.SetARPTpa(frame, l3, [4]byte(o.addr[:4]))
	case opSetIPv6Src:
		packet.SetIPv6Src(frame, l3, o.addr)
	case opSetIPv6Dst:
		packet.SetIPv6Dst(frame, l3, o.addr)
	case opSetIPv6Label:
		packet.SetIPv6Label(frame, l3, o.u32)
	}
}

// copyFrame copies frame into the batch's arena, flushing the queued
// outputs first when the arena is full.
func (pr *proc) copyFrame(frame []byte) []byte {
	if pr.arena == nil {
		pr.arena = make([]byte, max(2*len(frame), 2048))
	}
	if pr.used+len(frame) > len(pr.arena) {
		pr.flushOutputs()
		if len(frame) > len(pr.arena) {
			return append([]byte(nil), frame...)
		}
	}
	c := pr.arena[pr.used : pr.used+len(frame) : pr.used+len(frame)]
	copy(c, frame)
	pr.used += len(frame)
	return c
}

// queue adds frame, with its offload header h when p takes offloaded
// frames, to p's output queue.
func (pr *proc) queue(p *port, frame []byte, h *packet.VnetHdr) {
	q := pr.outQueue(p)
	q.pkts = append(q.pkts, frame)
	if p.vnet != nil {
		q.hdrs = append(q.hdrs, *h)
	}
}

func (pr *proc) outQueue(p *port) *outQueue {
	for i := range pr.outs {
		if pr.outs[i].p == p {
			return &pr.outs[i]
		}
	}
	for i := range pr.outs {
		if pr.outs[i].p == nil {
			pr.outs[i].p = p
			return &pr.outs[i]
		}
	}
	pr.outs = append(pr.outs, outQueue{p: p, pkts: make([][]byte, 0, link.BatchSize)})
	return &pr.outs[len(pr.outs)-1]
}

func (pr *proc) flush() {
	pr.flushCredit()
	pr.flushOutputs()
}

// flushOutputs writes every queued frame, one Write per port.
func (pr *proc) flushOutputs() {
	for i := range pr.outs {
		q := &pr.outs[i]
		if q.p == nil {
			continue
		}
		if len(q.pkts) > 0 {
			q.p.transmit(q.pkts, q.hdrs)
		}
		clear(q.pkts)
		q.pkts, q.hdrs = q.pkts[:0], q.hdrs[:0]
		q.p = nil
	}
	pr.used = 0
	pr.off.segUsed = 0
}

// transmit writes pkts to the port's link and counts the result. On a
// port that takes offloaded frames hdrs holds each frame's header, and a
// super-frame counts as one packet of its full length, as Open vSwitch
// counts it.
func (p *port) transmit(pkts [][]byte, hdrs []packet.VnetHdr) {
	if p.spec.Link == nil {
		p.txDropped.Add(uint64(len(pkts)))
		return
	}
	var n int
	var err error
	if p.vnet != nil && len(hdrs) == len(pkts) {
		n, err = p.vnet.WriteVnet(pkts, hdrs)
		p.countTxSuper(hdrs, n)
	} else {
		n, err = p.spec.Link.Write(pkts)
	}
	var bytes uint64
	for _, f := range pkts[:n] {
		bytes += uint64(len(f))
	}
	p.txPackets.Add(uint64(n))
	p.txBytes.Add(bytes)
	if n < len(pkts) {
		if err != nil && !errors.Is(err, link.ErrClosed) {
			p.txErrors.Add(uint64(len(pkts) - n))
		} else {
			p.txDropped.Add(uint64(len(pkts) - n))
		}
	}
}

// packetIn delivers a copy of frame to the packet-in hook.
func (pr *proc) packetIn(tmpl *PacketIn, frame []byte) {
	b := pr.b
	if pr.in != nil && pr.in.cfg()&openflow.PortNoPacketIn != 0 {
		b.drops[dropPacketIn].Add(1)
		return
	}
	hook := b.packetIn.Load()
	if hook == nil {
		b.packetInDrops.Add(1)
		return
	}
	n := len(frame)
	if tmpl.MaxLen != 0 && tmpl.MaxLen != openflow.ControllerMaxLen && int(tmpl.MaxLen) < n {
		n = int(tmpl.MaxLen)
	}
	pin := *tmpl
	pin.Data = append([]byte(nil), frame[:n]...)
	(*hook)(pin)
}

// Inject runs frame through the pipeline as if it had been received on
// inPort (packet-out). inPort need not be a bridge port (e.g. CONTROLLER).
func (b *Bridge) Inject(inPort uint32, frame []byte) {
	in := b.ports.Load().byNo(inPort)
	pr := newProc(b, in, inPort, false)
	buf := make([]byte, link.Headroom+len(frame))
	copy(buf[link.Headroom:], frame)
	pr.now = b.now().UnixNano()
	pr.packet(buf, link.Headroom, len(buf))
	pr.flush()
}
