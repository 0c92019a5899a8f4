package conntrack

import (
	"sync/atomic"
	"time"
)

// Dir is the direction of a packet relative to its connection.
type Dir uint8

// Directions (IP_CT_DIR_ORIGINAL, IP_CT_DIR_REPLY).
const (
	DirOriginal Dir = 0
	DirReply    Dir = 1
)

// Info is what conntrack tells the rest of the stack about a packet
// (enum ip_conntrack_info plus the "no conntrack entry" cases).
type Info uint8

// Packet classifications. Iptables' state names map onto them: NEW is
// InfoNew, ESTABLISHED is InfoEstablished and InfoEstablishedReply, RELATED
// is InfoRelated and InfoRelatedReply.
const (
	InfoInvalid          Info = iota // no entry: malformed, out of state, or table full
	InfoNew                          // original direction, no reply seen yet
	InfoEstablished                  // original direction after a reply
	InfoRelated                      // ICMP error about a tracked flow (original direction)
	InfoEstablishedReply             // reply direction
	InfoRelatedReply                 // ICMP error travelling in the flow's reply direction
	InfoUntracked                    // CT --notrack
	// InfoFull is a new connection refused because the table holds Max
	// entries: the kernel drops the packet ("table full, dropping packet").
	InfoFull
)

// Dir returns the direction implied by the classification.
func (i Info) Dir() Dir {
	if i == InfoEstablishedReply || i == InfoRelatedReply {
		return DirReply
	}
	return DirOriginal
}

// Status bits of a connection (enum ip_conntrack_status, the subset used).
const (
	StatusSeenReply  = 1 << 1
	StatusAssured    = 1 << 2
	StatusConfirmed  = 1 << 3
	StatusSrcNAT     = 1 << 4 // source is translated (reply destination differs)
	StatusDstNAT     = 1 << 5
	StatusSrcNATDone = 1 << 7
	StatusDstNATDone = 1 << 8
	StatusDying      = 1 << 9
)

// Conn is one tracked connection. Tuples are fixed once the connection is
// confirmed; the other fields change under atomics so established packets
// never take a lock.
type Conn struct {
	// nodes link the two tuples into the table's hash chains; they come
	// first so that a chain walk finds the tuples on the same cache line.
	nodes       [2]hnode
	orig, reply Tuple
	zone        uint16
	status      atomic.Uint32
	state       atomic.Uint32 // TCPState for TCP
	expires     atomic.Int64  // clock nanoseconds
	mark        atomic.Uint32
	// bkt are the buckets of the two tuples, found when Track creates
	// the connection (with the nodes' summary bits) and again when NAT
	// changes the reply tuple.
	bkt [2]uint32
}

// Orig returns the original-direction tuple as the first packet had it.
func (c *Conn) Orig() Tuple { return c.orig }

// Reply returns the reply-direction tuple, after any NAT binding.
func (c *Conn) Reply() Tuple { return c.reply }

// Zone returns the conntrack zone.
func (c *Conn) Zone() uint16 { return c.zone }

// Status returns the status bits.
func (c *Conn) Status() uint32 { return c.status.Load() }

// Mark returns the connection mark (ct mark, CONNMARK).
func (c *Conn) Mark() uint32 { return c.mark.Load() }

// SetMark sets the connection mark.
func (c *Conn) SetMark(m uint32) { c.mark.Store(m) }

// TCPState returns the TCP state (TCPNone for other protocols).
func (c *Conn) TCPState() TCPState { return TCPState(c.state.Load()) }

// Expires returns the clock time (nanoseconds) when the entry times out.
func (c *Conn) Expires() int64 { return c.expires.Load() }

// Tuple returns the tuple of direction d.
func (c *Conn) Tuple(d Dir) Tuple {
	if d == DirReply {
		return c.reply
	}
	return c.orig
}

func (c *Conn) setStatus(bits uint32) {
	for {
		old := c.status.Load()
		if old&bits == bits || c.status.CompareAndSwap(old, old|bits) {
			return
		}
	}
}

// Timeouts are the kernel's defaults (Documentation/networking/
// nf_conntrack-sysctl.rst).
var (
	TimeoutTCP = [...]time.Duration{
		TCPNone:        0,
		TCPSynSent:     120 * time.Second,
		TCPSynRecv:     60 * time.Second,
		TCPEstablished: 432000 * time.Second,
		TCPFinWait:     120 * time.Second,
		TCPCloseWait:   60 * time.Second,
		TCPLastAck:     30 * time.Second,
		TCPTimeWait:    120 * time.Second,
		TCPClose:       10 * time.Second,
		TCPSynSent2:    120 * time.Second,
	}
	TimeoutUDP        = 30 * time.Second  // nf_conntrack_udp_timeout
	TimeoutUDPStream  = 120 * time.Second // nf_conntrack_udp_timeout_stream
	TimeoutICMP       = 30 * time.Second  // nf_conntrack_icmp_timeout
	TimeoutGeneric    = 600 * time.Second // nf_conntrack_generic_timeout
	TimeoutTCPUnacked = 300 * time.Second // nf_conntrack_tcp_timeout_unacknowledged (unused: no window tracking)
)
