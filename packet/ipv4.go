package packet

import "encoding/binary"

// IPv4 header layout (RFC 791 section 3.1).
const (
	ipv4VerIHL    = 0
	ipv4TOS       = 1
	ipv4TotalLen  = 2
	ipv4ID        = 4
	ipv4FlagsFrag = 6
	ipv4TTL       = 8
	ipv4Protocol  = 9
	ipv4Checksum  = 10
	ipv4Src       = 12
	ipv4Dst       = 16

	// IPv4MinimumSize is the size of a header without options.
	IPv4MinimumSize = 20
	// IPv4MaximumHeaderSize is the largest header IHL can describe.
	IPv4MaximumHeaderSize = 60
)

// IPv4 flags and fragment offset bits (RFC 791 section 3.1).
const (
	IPv4FlagDF         = 0x4000
	IPv4FlagMF         = 0x2000
	IPv4FragOffsetMask = 0x1fff
)

// TOS byte split (RFC 2474 DSCP, RFC 3168 ECN).
const (
	DSCPMask = 0xfc
	ECNMask  = 0x03
)

// IP protocol numbers (IANA "Assigned Internet Protocol Numbers").
const (
	ProtoHopOpts  = 0
	ProtoICMP     = 1
	ProtoIGMP     = 2
	ProtoTCP      = 6
	ProtoUDP      = 17
	ProtoRouting  = 43
	ProtoFragment = 44
	ProtoESP      = 50
	ProtoAH       = 51
	ProtoICMPv6   = 58
	ProtoNoNext   = 59
	ProtoDstOpts  = 60
	ProtoSCTP     = 132
)

// IPv4 is a view of an IPv4 header. The caller has checked that it is at least
// IPv4MinimumSize bytes long, and at least HeaderLen bytes before using
// Options or Payload.
type IPv4 []byte

// Version returns the version field (4 for a real IPv4 packet).
func (ip IPv4) Version() uint8 { return ip[ipv4VerIHL] >> 4 }

// HeaderLen returns the header length in bytes (IHL * 4).
func (ip IPv4) HeaderLen() int { return int(ip[ipv4VerIHL]&0x0f) * 4 }

// TOS returns the whole type-of-service byte: DSCP<<2 | ECN.
func (ip IPv4) TOS() uint8 { return ip[ipv4TOS] }

// TotalLen returns the total length field.
func (ip IPv4) TotalLen() uint16 { return binary.BigEndian.Uint16(ip[ipv4TotalLen:]) }

// ID returns the identification field.
func (ip IPv4) ID() uint16 { return binary.BigEndian.Uint16(ip[ipv4ID:]) }

// FlagsFrag returns the flags and fragment offset word.
func (ip IPv4) FlagsFrag() uint16 { return binary.BigEndian.Uint16(ip[ipv4FlagsFrag:]) }

// FragOffset returns the fragment offset in bytes.
func (ip IPv4) FragOffset() int { return int(ip.FlagsFrag()&IPv4FragOffsetMask) * 8 }

// MoreFragments reports whether the MF flag is set.
func (ip IPv4) MoreFragments() bool { return ip.FlagsFrag()&IPv4FlagMF != 0 }

// IsFragment reports whether the packet is a fragment: MF set or a non-zero
// offset (RFC 791 section 3.2).
func (ip IPv4) IsFragment() bool { return ip.FlagsFrag()&(IPv4FlagMF|IPv4FragOffsetMask) != 0 }

// TTL returns the time to live.
func (ip IPv4) TTL() uint8 { return ip[ipv4TTL] }

// Protocol returns the upper-layer protocol number.
func (ip IPv4) Protocol() uint8 { return ip[ipv4Protocol] }

// Checksum returns the header checksum field.
func (ip IPv4) Checksum() uint16 { return binary.BigEndian.Uint16(ip[ipv4Checksum:]) }

// Src returns the source address.
func (ip IPv4) Src() [4]byte { return [4]byte(ip[ipv4Src : ipv4Src+4]) }

// Dst returns the destination address.
func (ip IPv4) Dst() [4]byte { return [4]byte(ip[ipv4Dst : ipv4Dst+4]) }

// Payload returns the bytes after the header up to the total length, or to
// the end of the slice when the total length claims more.
func (ip IPv4) Payload() []byte {
	end := min(int(ip.TotalLen()), len(ip))
	hl := ip.HeaderLen()
	if end < hl {
		return nil
	}
	return ip[hl:end]
}

// SetVersionIHL sets version 4 and a header length in bytes (a multiple of 4).
func (ip IPv4) SetVersionIHL(headerLen int) { ip[ipv4VerIHL] = 0x40 | uint8(headerLen/4)&0x0f }

// SetTOS sets the TOS byte without touching the checksum.
func (ip IPv4) SetTOS(tos uint8) { ip[ipv4TOS] = tos }

// SetTotalLen sets the total length without touching the checksum.
func (ip IPv4) SetTotalLen(n uint16) { binary.BigEndian.PutUint16(ip[ipv4TotalLen:], n) }

// SetID sets the identification field without touching the checksum.
func (ip IPv4) SetID(id uint16) { binary.BigEndian.PutUint16(ip[ipv4ID:], id) }

// SetFlagsFrag sets the flags and fragment offset word without touching the checksum.
func (ip IPv4) SetFlagsFrag(v uint16) { binary.BigEndian.PutUint16(ip[ipv4FlagsFrag:], v) }

// SetTTL sets the TTL without touching the checksum.
func (ip IPv4) SetTTL(ttl uint8) { ip[ipv4TTL] = ttl }

// SetProtocol sets the protocol without touching the checksum.
func (ip IPv4) SetProtocol(p uint8) { ip[ipv4Protocol] = p }

// SetChecksum sets the header checksum field.
func (ip IPv4) SetChecksum(c uint16) { binary.BigEndian.PutUint16(ip[ipv4Checksum:], c) }

// SetSrc sets the source address without touching any checksum.
func (ip IPv4) SetSrc(a [4]byte) { copy(ip[ipv4Src:], a[:]) }

// SetDst sets the destination address without touching any checksum.
func (ip IPv4) SetDst(a [4]byte) { copy(ip[ipv4Dst:], a[:]) }

// ComputeChecksum returns the header checksum over HeaderLen bytes, with the
// checksum field taken as zero.
func (ip IPv4) ComputeChecksum() uint16 {
	hl := ip.HeaderLen()
	s := Sum(ip[:ipv4Checksum], 0)
	return ^Sum(ip[ipv4Checksum+2:hl], s)
}

// ChecksumValid reports whether the header checksum verifies.
func (ip IPv4) ChecksumValid() bool { return Sum(ip[:ip.HeaderLen()], 0) == 0xffff }

// PseudoHeaderSum returns the folded sum of the pseudo-header for an
// upper-layer packet of length n carried in this header.
func (ip IPv4) PseudoHeaderSum(n int) uint16 {
	return PseudoHeaderSum(ip.Protocol(), ip[ipv4Src:ipv4Src+4], ip[ipv4Dst:ipv4Dst+4], uint32(n))
}
