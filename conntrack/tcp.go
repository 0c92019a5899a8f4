package conntrack

import "tapestry/packet"

// TCPState is a TCP connection state (enum tcp_conntrack).
type TCPState uint8

// TCP states, in the kernel's order.
const (
	TCPNone TCPState = iota
	TCPSynSent
	TCPSynRecv
	TCPEstablished
	TCPFinWait
	TCPCloseWait
	TCPLastAck
	TCPTimeWait
	TCPClose
	TCPSynSent2
	tcpMax
	// tcpIgnore and tcpInvalid are the transition table's sIG and sIV.
	tcpIgnore
	tcpInvalid
)

var tcpStateNames = [...]string{"NONE", "SYN_SENT", "SYN_RECV", "ESTABLISHED", "FIN_WAIT", "CLOSE_WAIT", "LAST_ACK", "TIME_WAIT", "CLOSE", "SYN_SENT2"}

// String returns the name conntrack -L prints.
func (s TCPState) String() string {
	if int(s) < len(tcpStateNames) {
		return tcpStateNames[s]
	}
	return "INVALID"
}

// Segment classes the transition table is indexed by (the kernel's
// get_conntrack_index).
const (
	segSYN = iota
	segSYNACK
	segFIN
	segACK
	segRST
	segNone
)

func segClass(flags uint16) int {
	switch {
	case flags&packet.TCPFlagRST != 0:
		return segRST
	case flags&packet.TCPFlagSYN != 0:
		if flags&packet.TCPFlagACK != 0 {
			return segSYNACK
		}
		return segSYN
	case flags&packet.TCPFlagFIN != 0:
		return segFIN
	case flags&packet.TCPFlagACK != 0:
		return segACK
	}
	return segNone
}

// tcpNext is the kernel's TCP conntrack transition table (the facts of
// nf_conntrack_proto_tcp.c's tcp_conntracks): next state by direction,
// segment class and current state. Window tracking (sequence number
// checks) is not modelled: every segment is taken as in-window, which is
// the behaviour of nf_conntrack_tcp_be_liberal=1 minus the RST checks.
var tcpNext = func() (t [2][6][tcpMax]TCPState) {
	const (
		sNO, sSS, sSR, sES, sFW, sCW, sLA, sTW, sCL, sS2, sIG, sIV = TCPNone, TCPSynSent, TCPSynRecv, TCPEstablished, TCPFinWait, TCPCloseWait, TCPLastAck, TCPTimeWait, TCPClose, TCPSynSent2, tcpIgnore, tcpInvalid
	)
	t[DirOriginal] = [6][tcpMax]TCPState{
		segSYN:    {sSS, sSS, sIG, sIG, sIG, sIG, sIG, sSS, sSS, sS2},
		segSYNACK: {sIV, sIV, sSR, sIV, sIV, sIV, sIV, sIV, sIV, sSR},
		segFIN:    {sIV, sIV, sFW, sFW, sLA, sLA, sLA, sTW, sCL, sIV},
		segACK:    {sES, sIV, sES, sES, sCW, sCW, sTW, sTW, sCL, sIV},
		segRST:    {sIV, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL},
		segNone:   {sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV},
	}
	t[DirReply] = [6][tcpMax]TCPState{
		segSYN:    {sIV, sS2, sIV, sIV, sIV, sIV, sIV, sSS, sIV, sS2},
		segSYNACK: {sIV, sSR, sIG, sIG, sIG, sIG, sIG, sIG, sIG, sSR},
		segFIN:    {sIV, sIV, sFW, sFW, sLA, sLA, sLA, sTW, sCL, sIV},
		segACK:    {sIV, sIG, sSR, sES, sCW, sCW, sTW, sTW, sCL, sIG},
		segRST:    {sIV, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL},
		segNone:   {sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV},
	}
	return t
}()

// tcpNewState is the state a connection starts in for its first segment,
// or tcpInvalid when the segment cannot open one. As with the kernel's
// default nf_conntrack_tcp_loose=1, a bare ACK picks up an established
// connection mid-stream.
func tcpNewState(flags uint16) TCPState {
	s := tcpNext[DirOriginal][segClass(flags)][TCPNone]
	if s == tcpIgnore {
		return tcpInvalid
	}
	return s
}

// tcpUpdate moves c on a segment in direction d and returns false when the
// segment is invalid for the connection's state (the kernel counts it and
// marks the packet INVALID; the entry is left as it was).
func (c *Conn) tcpUpdate(d Dir, flags uint16, now int64) bool {
	cls := segClass(flags)
	for {
		old := TCPState(c.state.Load())
		next := tcpNext[d][cls][old]
		switch next {
		case tcpInvalid:
			return false
		case tcpIgnore:
			// The kernel lets ignored segments through without a state
			// change (e.g. a retransmitted SYN/ACK after ESTABLISHED).
			return true
		}
		if !c.state.CompareAndSwap(uint32(old), uint32(next)) {
			continue
		}
		if d == DirReply {
			c.setStatus(StatusSeenReply)
		}
		// Assured once the handshake completes in both directions
		// (tcp_packet: SYN_RECV -> ESTABLISHED, or any later state with
		// a reply seen).
		if next == TCPEstablished && old != TCPEstablished && c.status.Load()&StatusSeenReply != 0 {
			c.setStatus(StatusAssured)
		}
		c.expires.Store(now + int64(TimeoutTCP[next]))
		return true
	}
}
