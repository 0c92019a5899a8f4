package packet

import "encoding/binary"

// IPv6 header layout (RFC 8200 section 3).
const (
	ipv6VerTCFlow  = 0
	ipv6PayloadLen = 4
	ipv6NextHeader = 6
	ipv6HopLimit   = 7
	ipv6Src        = 8
	ipv6Dst        = 24

	// IPv6MinimumSize is the size of the fixed header.
	IPv6MinimumSize = 40
	// IPv6FlowLabelMask selects the flow label in the first word.
	IPv6FlowLabelMask = 0x000fffff
)

// IPv6 fragment header layout (RFC 8200 section 4.5).
const (
	ipv6FragNext    = 0
	ipv6FragOffFlag = 2

	// IPv6FragmentSize is the size of a fragment header.
	IPv6FragmentSize = 8
	// IPv6FragOffsetMask selects the offset (in 8-byte units, pre-shifted by 3).
	IPv6FragOffsetMask = 0xfff8
	// IPv6FragMore is the M flag.
	IPv6FragMore = 0x0001
)

// IPv6 is a view of an IPv6 fixed header. The caller has checked that it is at
// least IPv6MinimumSize bytes long.
type IPv6 []byte

// Version returns the version field (6 for a real IPv6 packet).
func (ip IPv6) Version() uint8 { return ip[ipv6VerTCFlow] >> 4 }

// TrafficClass returns the traffic class byte (DSCP<<2 | ECN).
func (ip IPv6) TrafficClass() uint8 {
	return uint8(binary.BigEndian.Uint16(ip[ipv6VerTCFlow:]) >> 4)
}

// FlowLabel returns the 20-bit flow label.
func (ip IPv6) FlowLabel() uint32 {
	return binary.BigEndian.Uint32(ip[ipv6VerTCFlow:]) & IPv6FlowLabelMask
}

// PayloadLen returns the payload length field.
func (ip IPv6) PayloadLen() uint16 { return binary.BigEndian.Uint16(ip[ipv6PayloadLen:]) }

// NextHeader returns the next header field of the fixed header.
func (ip IPv6) NextHeader() uint8 { return ip[ipv6NextHeader] }

// HopLimit returns the hop limit.
func (ip IPv6) HopLimit() uint8 { return ip[ipv6HopLimit] }

// Src returns the source address.
func (ip IPv6) Src() [16]byte { return [16]byte(ip[ipv6Src : ipv6Src+16]) }

// Dst returns the destination address.
func (ip IPv6) Dst() [16]byte { return [16]byte(ip[ipv6Dst : ipv6Dst+16]) }

// SetTrafficClass sets the traffic class byte.
func (ip IPv6) SetTrafficClass(tc uint8) {
	w := binary.BigEndian.Uint32(ip[ipv6VerTCFlow:])
	w = w&^0x0ff00000 | uint32(tc)<<20
	binary.BigEndian.PutUint32(ip[ipv6VerTCFlow:], w)
}

// SetFlowLabel sets the 20-bit flow label.
func (ip IPv6) SetFlowLabel(l uint32) {
	w := binary.BigEndian.Uint32(ip[ipv6VerTCFlow:])
	w = w&^IPv6FlowLabelMask | l&IPv6FlowLabelMask
	binary.BigEndian.PutUint32(ip[ipv6VerTCFlow:], w)
}

// SetVersion sets the version nibble to 6.
func (ip IPv6) SetVersion() { ip[ipv6VerTCFlow] = 0x60 | ip[ipv6VerTCFlow]&0x0f }

// SetPayloadLen sets the payload length.
func (ip IPv6) SetPayloadLen(n uint16) { binary.BigEndian.PutUint16(ip[ipv6PayloadLen:], n) }

// SetNextHeader sets the next header field of the fixed header.
func (ip IPv6) SetNextHeader(p uint8) { ip[ipv6NextHeader] = p }

// SetHopLimit sets the hop limit.
func (ip IPv6) SetHopLimit(h uint8) { ip[ipv6HopLimit] = h }

// SetSrc sets the source address without touching any checksum.
func (ip IPv6) SetSrc(a [16]byte) { copy(ip[ipv6Src:], a[:]) }

// SetDst sets the destination address without touching any checksum.
func (ip IPv6) SetDst(a [16]byte) { copy(ip[ipv6Dst:], a[:]) }

// PseudoHeaderSum returns the folded sum of the RFC 8200 section 8.1
// pseudo-header for an upper-layer packet of length n and protocol proto.
func (ip IPv6) PseudoHeaderSum(proto uint8, n int) uint16 {
	return PseudoHeaderSum(proto, ip[ipv6Src:ipv6Src+16], ip[ipv6Dst:ipv6Dst+16], uint32(n))
}

// IPv6Upper is where an IPv6 packet's upper-layer header was found.
type IPv6Upper struct {
	// Proto is the protocol of the header at Off: the last next-header value
	// of the chain, or ProtoFragment for a non-first fragment (as OVS).
	Proto uint8
	// Frag is 0, or IPv6FragAny, or IPv6FragAny|IPv6FragLater.
	Frag uint8
	// Routing reports that a routing header is present, so the destination
	// in the fixed header is not the final one and does not enter the
	// upper-layer pseudo-header (RFC 8200 section 8.1).
	Routing bool
	// Off is the offset of the upper-layer header from the start of the
	// fixed header.
	Off int
}

// Fragment bits of IPv6Upper.Frag; the same values as flow.FragAny and
// flow.FragLater.
const (
	IPv6FragAny   = 1
	IPv6FragLater = 2
)

// WalkIPv6 follows the extension header chain of the IPv6 packet b (fixed
// header included, b cut to the payload length) to the first header that is
// not hop-by-hop, routing, destination options, AH or fragment. It stops at
// a non-first fragment. It returns false when a header is truncated. Like
// OVS, it only needs 8 bytes of each extension header to read its length and
// does not look at ESP, whose payload is opaque.
func WalkIPv6(b []byte) (IPv6Upper, bool) {
	u := IPv6Upper{Proto: IPv6(b).NextHeader(), Off: IPv6MinimumSize}
	for {
		switch u.Proto {
		case ProtoHopOpts, ProtoRouting, ProtoDstOpts, ProtoAH, ProtoFragment:
		default:
			return u, true
		}
		// Every extension header is at least 8 bytes (RFC 8200 section 4).
		if len(b)-u.Off < 8 {
			return u, false
		}
		h := b[u.Off:]
		var n int
		switch u.Proto {
		case ProtoAH:
			n = (int(h[1]) + 2) * 4 // RFC 4302 section 2.2: 4-octet units minus 2
		case ProtoFragment:
			n = IPv6FragmentSize
		case ProtoRouting:
			u.Routing = true
			n = (int(h[1]) + 1) * 8
		default:
			n = (int(h[1]) + 1) * 8
		}
		if len(b)-u.Off < n {
			return u, false
		}
		isFrag := u.Proto == ProtoFragment
		u.Off += n
		u.Proto = h[0]
		if !isFrag {
			continue
		}
		// An atomic fragment (offset 0, M clear; RFC 6946) is not a fragment.
		if w := binary.BigEndian.Uint16(h[ipv6FragOffFlag:]); w != 0 {
			u.Frag = IPv6FragAny
			if w&IPv6FragOffsetMask != 0 {
				// Only the first fragment carries the upper-layer header.
				u.Frag |= IPv6FragLater
				u.Proto = ProtoFragment
				return u, true
			}
		}
	}
}
