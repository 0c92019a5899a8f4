package netstack

// IPv4 reassembly for datagrams addressed to this host (ip_defrag with
// IP_DEFRAG_LOCAL_DELIVER, net/ipv4/ip_fragment.c and
// net/ipv4/inet_fragment.c). Forwarded fragments are never reassembled
// (no conntrack defragmentation is modelled).
//
//   - A queue is keyed by (source, destination, id, protocol), RFC 791.
//   - Memory is bounded by net.ipv4.ipfrag_high_thresh (4 MB): while the
//     fragments held exceed it, every fragment is dropped (inet_frag_find
//     refuses to find or create a queue), until queues expire.
//   - A queue lives net.ipv4.ipfrag_time (30 s) from its first fragment
//     on the namespace clock; on expiry, if the fragment at offset 0 was
//     received, the sender gets ICMP time exceeded, code 1 (fragment
//     reassembly time exceeded, RFC 792), as ip_expire sends it.
//   - Overlaps: an exact duplicate of a held fragment is dropped alone
//     (IPFRAG_DUP); any other overlap drops the whole datagram
//     (IPFRAG_OVERLAP, RFC 5722 applied to IPv4 as Linux does since 5.x).
//   - A last fragment that contradicts the known length, data past a known
//     end, or a datagram over 65535 bytes drop the queue.

import (
	"net/netip"
	"slices"
	"sync"
	"time"

	"tapestry/packet"
)

// fragOverhead is what one held fragment costs besides its bytes in the
// memory accounting (the kernel charges skb->truesize: data plus the
// sk_buff and its shared info, a few hundred bytes).
const fragOverhead = 256

// ipMaxLen is the largest IPv4 datagram (RFC 791: 16-bit total length).
const ipMaxLen = 65535

type fragKey struct {
	src, dst [4]byte
	id       uint16
	proto    uint8
}

type fragment struct {
	off, end int    // payload byte range
	data     []byte // payload
}

// fragQueue is one datagram being reassembled (struct ipq).
type fragQueue struct {
	frags   []fragment // sorted by offset, never overlapping
	first   []byte     // the whole frame of the offset-0 fragment
	in      *Interface // interface the first fragment arrived on
	mark    uint32
	length  int  // datagram payload length: the highest end seen, or the last fragment's end
	last    bool // the fragment without MF arrived (INET_FRAG_LAST_IN)
	meat    int  // payload bytes held
	mem     int
	expires time.Time
}

// reassembler holds a namespace's fragment queues.
type reassembler struct {
	mu     sync.Mutex // guards everything below
	queues map[fragKey]*fragQueue
	mem    int
}

// fragVerdict is the outcome of adding a fragment.
type fragVerdict uint8

const (
	fragHeld     fragVerdict = iota // queued, datagram not complete
	fragComplete                    // the datagram is whole
	fragDropped                     // the fragment (and maybe its queue) was dropped
	fragDup                         // an exact duplicate, dropped alone
)

// add queues the fragment in frame (Ethernet header, IPv4 header,
// payload, already validated by ipInput). When the datagram is complete
// it returns the reassembled frame: the first fragment's Ethernet and IP
// headers, total length set, fragment field cleared.
func (r *reassembler) add(frame []byte, in *Interface, mark uint32, now time.Time, sys *sysctls) ([]byte, fragVerdict) {
	ip := packet.IPv4(frame[packet.EthernetMinimumSize:])
	hl := ip.HeaderLen()
	payload := ip[hl:]
	off := ip.FragOffset()
	end := off + len(payload)
	more := ip.FlagsFrag()&packet.IPv4FlagMF != 0
	k := fragKey{src: ip.Src(), dst: ip.Dst(), id: ip.ID(), proto: ip.Protocol()}

	r.mu.Lock()
	defer r.mu.Unlock()
	if r.mem > sys.IPFragHighThresh {
		return nil, fragDropped
	}
	if r.queues == nil {
		r.queues = map[fragKey]*fragQueue{}
	}
	q := r.queues[k]
	if q == nil {
		q = &fragQueue{expires: now.Add(time.Duration(sys.IPFragTime) * time.Second)}
		r.queues[k] = q
	}
	if end > ipMaxLen-hl || !q.bounds(end, more) {
		r.kill(k, q)
		return nil, fragDropped
	}
	if !more {
		q.last, q.length = true, end
	} else {
		end &^= 7 // a non-final fragment's end is trimmed to 8 bytes (ip_frag_queue)
		q.length = max(q.length, end)
	}
	if end <= off {
		r.kill(k, q)
		return nil, fragDropped
	}
	i, ok := q.insertAt(off, end)
	if !ok {
		if i >= 0 { // exact duplicate: only this fragment goes
			return nil, fragDup
		}
		r.kill(k, q)
		return nil, fragDropped
	}
	f := fragment{off: off, end: end, data: append([]byte(nil), payload[:end-off]...)}
	q.frags = slices.Insert(q.frags, i, f)
	q.meat += end - off
	cost := end - off + fragOverhead
	if off == 0 {
		q.first = append([]byte(nil), frame[:packet.EthernetMinimumSize+hl]...)
		q.in, q.mark = in, mark
		cost += len(q.first)
	}
	q.mem += cost
	r.mem += cost
	if !q.last || q.first == nil || q.meat != q.length {
		return nil, fragHeld
	}
	out := q.assemble()
	r.kill(k, q)
	return out, fragComplete
}

// bounds checks a fragment ending at end against what the queue knows.
func (q *fragQueue) bounds(end int, more bool) bool {
	if !more {
		// The last fragment must not end before data already seen, nor
		// disagree with an earlier last fragment.
		return end >= q.length && (!q.last || end == q.length)
	}
	return !q.last || end&^7 <= q.length
}

// insertAt finds where [off, end) goes in the sorted list. ok is false on
// an overlap; i is then the index of an exact duplicate, or -1.
func (q *fragQueue) insertAt(off, end int) (i int, ok bool) {
	i, _ = slices.BinarySearchFunc(q.frags, off, func(f fragment, o int) int { return f.off - o })
	if i < len(q.frags) && q.frags[i].off == off && q.frags[i].end == end {
		return i, false
	}
	if i > 0 && q.frags[i-1].end > off {
		return -1, false
	}
	if i < len(q.frags) && q.frags[i].off < end {
		return -1, false
	}
	return i, true
}

// assemble builds the datagram from a complete queue.
func (q *fragQueue) assemble() []byte {
	hdr := len(q.first)
	out := make([]byte, hdr+q.length)
	copy(out, q.first)
	for _, f := range q.frags {
		copy(out[hdr+f.off:], f.data)
	}
	ip := packet.IPv4(out[packet.EthernetMinimumSize:])
	ip.SetTotalLen(uint16(len(ip)))
	ip.SetFlagsFrag(ip.FlagsFrag() & packet.IPv4FlagDF)
	ip.SetChecksum(0)
	ip.SetChecksum(ip.ComputeChecksum())
	return out
}

// kill removes a queue and returns its memory (inet_frag_kill).
func (r *reassembler) kill(k fragKey, q *fragQueue) {
	delete(r.queues, k)
	r.mem -= q.mem
}

// expired removes the queues whose time is up and returns them.
func (r *reassembler) expired(now time.Time) []*fragQueue {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*fragQueue
	for k, q := range r.queues {
		if now.Before(q.expires) {
			continue
		}
		r.kill(k, q)
		out = append(out, q)
	}
	return out
}

// Fragments returns the number of datagrams being reassembled and the
// memory they hold (as /proc/net/sockstat's "FRAG: inuse N memory M").
func (ns *Namespace) Fragments() (queues, memory int) {
	ns.frags.mu.Lock()
	defer ns.frags.mu.Unlock()
	return len(ns.frags.queues), ns.frags.mem
}

// defrag is ip_defrag for local delivery: it returns the whole datagram
// when p completed one, or false when the fragment was queued or dropped.
func (ns *Namespace) defrag(p *pkt) bool {
	out, v := ns.frags.add(p.frame, p.in, p.mark, ns.clock.Now(), ns.sys.Load())
	switch v {
	case fragHeld:
		p.tr.record("defrag", "fragment queued")
		return false
	case fragDropped:
		ns.drop(p.tr, dropReassembly)
		return false
	case fragDup:
		ns.drop(p.tr, dropFragDup)
		return false
	}
	p.tr.record("defrag", "reassembled %d bytes", len(out)-packet.EthernetMinimumSize)
	p.frame = out
	return true
}

// expireFragments runs the reassembly timer (ip_expire): every expired
// queue counts a timeout; only one holding the first fragment makes its
// sender an ICMP time exceeded, since only that one can be quoted.
func (ns *Namespace) expireFragments() {
	qs := ns.frags.expired(ns.clock.Now())
	for _, q := range qs {
		ns.drop(nil, dropReassemblyTimeout)
		if q.first == nil {
			continue
		}
		c := ctxPool.Get().(*ctx)
		// The error quotes the first fragment's header and leading data.
		frame := q.first
		if len(q.frags) > 0 && q.frags[0].off == 0 {
			frame = append(frame[:len(frame):len(frame)], q.frags[0].data[:min(8, len(q.frags[0].data))]...)
		}
		p := pkt{in: q.in, frame: frame, mark: q.mark, host: true}
		if src := netip.AddrFrom4(packet.IPv4(frame[packet.EthernetMinimumSize:]).Src()); src.IsValid() {
			ns.icmpError(c, &p, packet.ICMPv4TimeExceed, icmpFragTime, 0)
		}
		ctxPool.Put(c)
	}
}
