package ofproto

// Offloaded frames through the bridge.
//
// A port whose link is a link.VnetLink with offloads on (a TAP with
// checksum offload and TSO) hands the bridge frames as the kernel left
// them: a virtio_net_hdr beside each frame may say the TCP/UDP checksum is
// partial (NEEDS_CSUM) or that the frame is a TCP super-frame of up to
// 64 KB to be cut into GSOSize-byte segments. The bridge keeps that work
// undone as long as it can, which is what makes a TAP-to-TAP TCP stream
// cost one read and one write per 64 KB:
//
//   - The flow is looked up on the super-frame's headers (they are the
//     headers of every segment but for lengths, IDs, sequence numbers and
//     FIN/PSH/CWR).
//   - If the megaflow entry's ops only output, learn MACs, or change
//     Ethernet and VLAN headers (mfEntry.safe), the frame is executed as is,
//     its header following it; a VLAN push or pop moves csum_start and
//     hdr_len by four bytes. An output to a port that takes offloaded
//     frames gets frame and header unchanged. An output to any other port
//     (AF_PACKET, in-memory wires, internal ports, TAPs with offloads off)
//     gets wire frames: the super-frame segmented in software
//     (packet.Segment) or the checksum completed (packet.CompleteChecksum),
//     into the batch's copy arena.
//   - Otherwise (the ops read or rewrite L3/L4, send to a controller, or run
//     a group bucket that rewrites) the frame is completed before the ops
//     run: a partial checksum is filled in in place; a super-frame is
//     segmented and every segment goes through the pipeline on its own, so
//     that rewrites, packet-ins and counters see exactly what a wire would
//     have carried.
//
// Counting: a super-frame forwarded whole is one packet of its full length
// in the port, flow and table counters (as Open vSwitch counts it); one
// segmented before the pipeline is counted as its segments.

import (
	"tapestry/link"
	"tapestry/packet"
)

// offloadState is a receive goroutine's offload scratch. The segmentation
// buffers are allocated on the first super-frame that needs them.
type offloadState struct {
	hdrs    []packet.VnetHdr // per frame of the batch, on a port with offloads
	hdr     packet.VnetHdr   // the current frame's
	segs    [][]byte
	tmp     []byte // Segment's output
	arena   []byte // segments spread out with headroom, for the pipeline
	segUsed int
}

// offloadSafe reports whether an op leaves a super-frame or partial
// checksum valid: it looks at nothing past the VLAN headers.
func offloadSafe(k opKind) bool {
	switch k {
	case opOutput, opLearn, opPushVLAN, opPopVLAN, opSetVLAN, opSetEthSrc, opSetEthDst:
		return true
	}
	return false
}

// OffloadStats counts offloaded frames through a bridge.
type OffloadStats struct {
	// RxSuper is TCP super-frames received from offloading ports.
	RxSuper uint64
	// TxSuper is super-frames written whole to offloading ports.
	TxSuper uint64
	// SoftSegmented is super-frames segmented in software, for a port or
	// for actions that need wire frames.
	SoftSegmented uint64
	// SoftChecksummed is partial checksums completed in software.
	SoftChecksummed uint64
}

// OffloadStats sums the offload counters of the bridge's ports.
func (b *Bridge) OffloadStats() OffloadStats {
	var s OffloadStats
	for _, p := range b.ports.Load().list {
		s.RxSuper += p.rxSuper.Load()
		s.TxSuper += p.txSuper.Load()
		s.SoftSegmented += p.softGSO.Load()
		s.SoftChecksummed += p.softCsum.Load()
	}
	return s
}

// PortOffload reports whether the named port carries offloaded frames.
func (b *Bridge) PortOffload(name string) bool {
	p := b.ports.Load().byName[name]
	return p != nil && p.vnet != nil
}

// completeFrame finishes the offloaded frame buf[start:end] before ops that
// need a wire frame. A partial checksum is completed in place and the
// frame goes on (true). A super-frame is segmented and its segments
// forwarded one by one; the caller stops (false). So does it for a frame
// whose header is malformed, which is dropped.
func (pr *proc) completeFrame(buf []byte, start, end int) bool {
	h := pr.off.hdr
	pr.off.hdr = packet.VnetHdr{}
	if !h.Offloaded() {
		return true // DATA_VALID only: the frame is complete
	}
	if h.IsGSO() {
		pr.segmentInput(&h, buf[start:end])
		return false
	}
	if err := packet.CompleteChecksum(&h, buf[start:end]); err != nil {
		pr.badOffload(err)
		return false
	}
	pr.softCsum()
	return true
}

// segmentInput cuts a super-frame into wire frames and runs each through
// the pipeline, each with headroom in front for pushed headers.
func (pr *proc) segmentInput(h *packet.VnetHdr, frame []byte) {
	o := &pr.off
	n, total, err := packet.GSOSegments(h, frame)
	if err != nil {
		pr.badOffload(err)
		return
	}
	o.grow(n, total)
	if _, err := packet.Segment(h, frame, o.tmp, o.segs); err != nil {
		pr.badOffload(err)
		return
	}
	if pr.in != nil {
		pr.in.softGSO.Add(1)
	}
	need := total + n*link.Headroom
	if o.segUsed+need > len(o.arena) {
		pr.flushOutputs()
		if len(o.arena) < need {
			o.arena = make([]byte, max(need, 2*link.VnetFrameSize))
		}
	}
	for _, s := range o.segs[:n] {
		// A flush inside packet (a full copy arena) resets segUsed: the
		// segments before it are written by then.
		start := o.segUsed + link.Headroom
		end := start + copy(o.arena[start:], s)
		o.segUsed = end
		pr.packet(o.arena[:end], start, end)
	}
}

// grow makes room for n segments of total bytes.
func (o *offloadState) grow(n, total int) {
	if len(o.tmp) < total {
		o.tmp = make([]byte, max(total, link.VnetFrameSize+64*link.Headroom))
	}
	if len(o.segs) < n {
		o.segs = make([][]byte, max(n, 64))
	}
}

// output queues frame, whose offload header is h, to port p: as it is for
// a port that takes offloaded frames (or when the frame is complete), else
// completed into the copy arena.
func (pr *proc) output(p *port, frame []byte, h *packet.VnetHdr, cp bool) {
	if p.vnet != nil || !h.Offloaded() {
		if cp {
			frame = pr.copyFrame(frame)
		}
		pr.queue(p, frame, h)
		return
	}
	var wire packet.VnetHdr
	if !h.IsGSO() {
		c := pr.copyFrame(frame)
		if err := packet.CompleteChecksum(h, c); err != nil {
			pr.badOffload(err)
			return
		}
		pr.softCsum()
		pr.queue(p, c, &wire)
		return
	}
	n, total, err := packet.GSOSegments(h, frame)
	if err != nil {
		pr.badOffload(err)
		return
	}
	if pr.used+total > len(pr.arena) {
		pr.flushOutputs()
		if len(pr.arena) < total {
			pr.arena = make([]byte, max(total, arenaSize))
		}
	}
	pr.off.grow(n, 0)
	if _, err := packet.Segment(h, frame, pr.arena[pr.used:pr.used+total], pr.off.segs); err != nil {
		pr.badOffload(err)
		return
	}
	pr.used += total
	if pr.in != nil {
		pr.in.softGSO.Add(1)
	}
	for _, s := range pr.off.segs[:n] {
		pr.queue(p, s, &wire)
	}
}

func (pr *proc) softCsum() {
	if pr.in != nil {
		pr.in.softCsum.Add(1)
	}
}

// badOffload drops a frame whose virtio_net_hdr does not fit it: the
// kernel or a peer sent nonsense, and guessing would forward garbage.
func (pr *proc) badOffload(err error) {
	pr.b.drops[dropBadOffload].Add(1)
	if pr.in != nil {
		pr.in.rxErrors.Add(1)
	}
	pr.b.log.Debug("offloaded frame dropped", "bridge", pr.b.name, "err", err)
}

// countSuper counts the super-frames of a received batch.
func (p *port) countSuper(hdrs []packet.VnetHdr) {
	var n uint64
	for i := range hdrs {
		if hdrs[i].IsGSO() {
			n++
		}
	}
	if n > 0 {
		p.rxSuper.Add(n)
	}
}

// countTxSuper counts the super-frames among the first n of hdrs.
func (p *port) countTxSuper(hdrs []packet.VnetHdr, n int) {
	var c uint64
	for i := range hdrs[:min(n, len(hdrs))] {
		if hdrs[i].IsGSO() {
			c++
		}
	}
	if c > 0 {
		p.txSuper.Add(c)
	}
}
