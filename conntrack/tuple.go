// Package conntrack is connection tracking modelled on Linux nf_conntrack:
// every flow is a pair of tuples (original and reply direction) in a hash
// table, protocol trackers (TCP state machine, UDP, ICMP) move it through
// its states and timeouts, and NAT bindings rewrite the reply tuple so that
// both directions are translated from the first packet's decision on.
//
// A packet's life, as in the kernel:
//
//	Track     (PREROUTING/OUTPUT, priority -200): find or create the
//	          connection for the packet's tuple; new ones are unconfirmed.
//	SetupNAT  (nat table chains, first packet only): choose a unique tuple.
//	ApplyNAT  (each NAT hook): rewrite the packet from the binding.
//	Confirm   (POSTROUTING/INPUT, last): insert a new connection into the
//	          table; a packet dropped before this leaves no trace.
//
// Time is passed in by the caller (nanoseconds of an injectable clock) so
// that tests are deterministic and the hot path reads no clock.
package conntrack

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"tapestry/flow"
	"tapestry/packet"
)

// Tuple identifies one direction of a connection. For TCP, UDP and SCTP the
// ports are the transport ports. For ICMP, as the kernel's ICMP tracker does,
// SrcPort holds the echo identifier and DstPort the type<<8|code, so that
// the reply of an echo request (type 8) carries type 0 in its tuple.
type Tuple struct {
	Src, Dst         [4]byte
	SrcPort, DstPort uint16
	Proto            uint8
}

// Invert returns the tuple of the opposite direction (nf_ct_invert_tuple).
// ICMP request types invert to their reply types.
func (t Tuple) Invert() Tuple {
	r := Tuple{Src: t.Dst, Dst: t.Src, SrcPort: t.DstPort, DstPort: t.SrcPort, Proto: t.Proto}
	if t.Proto == packet.ProtoICMP {
		r.SrcPort = t.SrcPort
		typ := uint8(t.DstPort >> 8)
		r.DstPort = uint16(icmpReplyType(typ))<<8 | t.DstPort&0xff
	}
	return r
}

// icmpReplyType maps an ICMP request type to its reply (RFC 792): echo 8->0,
// timestamp 13->14, information 15->16, address mask 17->18, and back.
func icmpReplyType(t uint8) uint8 {
	switch t {
	case 8:
		return 0
	case 0:
		return 8
	case 13, 15, 17:
		return t + 1
	case 14, 16, 18:
		return t - 1
	}
	return t
}

// icmpIsRequest reports whether a new connection may start with type t
// (the kernel's icmp_new accepts only requests).
func icmpIsRequest(t uint8) bool { return t == 8 || t == 13 || t == 15 || t == 17 }

// icmpIsError reports whether t carries the header of the packet it is
// about (RFC 792 destination unreachable, source quench, redirect, time
// exceeded, parameter problem); conntrack makes those RELATED.
func icmpIsError(t uint8) bool { return t == 3 || t == 4 || t == 5 || t == 11 || t == 12 }

// String prints the tuple as conntrack-tools does: "src=A dst=B sport=P dport=Q".
func (t Tuple) String() string {
	b := make([]byte, 0, 64)
	return string(t.appendTo(b))
}

func (t Tuple) appendTo(b []byte) []byte {
	b = fmt.Appendf(b, "src=%s dst=%s ", netip.AddrFrom4(t.Src), netip.AddrFrom4(t.Dst))
	switch t.Proto {
	case packet.ProtoICMP:
		b = fmt.Appendf(b, "type=%d code=%d id=%d", t.DstPort>>8, t.DstPort&0xff, t.SrcPort)
	case packet.ProtoTCP, packet.ProtoUDP, packet.ProtoSCTP, protoUDPLite, protoDCCP:
		b = fmt.Appendf(b, "sport=%d dport=%d", t.SrcPort, t.DstPort)
	default:
		b = b[:len(b)-1]
	}
	return b
}

const (
	protoUDPLite = 136
	protoDCCP    = 33
)

// hasPorts reports whether the protocol's tuple carries ports.
func hasPorts(proto uint8) bool {
	switch proto {
	case packet.ProtoTCP, packet.ProtoUDP, packet.ProtoSCTP, protoUDPLite, protoDCCP:
		return true
	}
	return false
}

// TupleOf builds the tuple of an IPv4 packet from its extracted key.
// ok is false for non-IPv4 packets and for later fragments, which the kernel
// reassembles before conntrack (tapestry does not reassemble: they are
// untracked).
func TupleOf(k *flow.Key) (t Tuple, ok bool) {
	if k.DlType != flow.EthTypeIPv4 || k.NwFrag&flow.FragLater != 0 {
		return t, false
	}
	t.Src, t.Dst, t.Proto = k.NwSrc, k.NwDst, k.NwProto
	switch {
	case hasPorts(k.NwProto):
		t.SrcPort, t.DstPort = k.TpSrc, k.TpDst
	case k.NwProto == packet.ProtoICMP:
		t.DstPort = k.TpSrc<<8 | k.TpDst&0xff
	}
	return t, true
}

// tupleFromIP parses the tuple of the IPv4 header (and 8 bytes of
// transport header) embedded in an ICMP error (RFC 792: "Internet Header +
// 64 bits of Original Data Datagram").
func tupleFromIP(b []byte) (Tuple, bool) {
	var t Tuple
	if len(b) < packet.IPv4MinimumSize || b[0]>>4 != 4 {
		return t, false
	}
	ip := packet.IPv4(b)
	hl := ip.HeaderLen()
	if hl < packet.IPv4MinimumSize || len(b) < hl+8 {
		return t, false
	}
	t.Src, t.Dst, t.Proto = ip.Src(), ip.Dst(), ip.Protocol()
	l4 := b[hl:]
	switch {
	case hasPorts(t.Proto):
		t.SrcPort, t.DstPort = binary.BigEndian.Uint16(l4), binary.BigEndian.Uint16(l4[2:])
	case t.Proto == packet.ProtoICMP:
		t.DstPort = uint16(l4[0])<<8 | uint16(l4[1])
		t.SrcPort = binary.BigEndian.Uint16(l4[4:])
	}
	return t, true
}

// icmpID returns the identifier of an ICMP query message at l4.
func icmpID(l4 []byte) uint16 {
	if len(l4) < 8 {
		return 0
	}
	return binary.BigEndian.Uint16(l4[4:])
}
