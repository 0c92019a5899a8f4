// Package packet provides header views over []byte, Internet checksums with
// incremental update, in-place frame mutations that keep checksums right, and
// builders of well-formed frames for tests.
//
// A view (Ethernet, IPv4, TCP, ...) is a byte slice that starts at its header.
// Its accessors do no bounds checking beyond Go's own: the caller validates the
// length once (against the MinimumSize constants, or because flow.Extract
// accepted the header) and then trusts the slice. The frame-level mutators in
// mutate.go, which act on untrusted frames, check bounds themselves.
//
// All multi-byte fields are big-endian (network byte order).
package packet

import "encoding/binary"

// MAC is an IEEE 802 MAC-48 address.
type MAC = [6]byte

// Ethernet header layout (IEEE 802.3 clause 3.1.1).
const (
	ethDst  = 0
	ethSrc  = 6
	ethType = 12

	// EthernetMinimumSize is the size of an untagged Ethernet header.
	EthernetMinimumSize = 14
	// EthernetAddrOffsetEnd is the end of the two MAC addresses: the bytes
	// that move when a VLAN tag is pushed or popped.
	EthernetAddrOffsetEnd = 12
)

// EtherTypes (IEEE registry) used by the views and builders.
const (
	EtherTypeIPv4 = 0x0800
	EtherTypeARP  = 0x0806
	EtherTypeRARP = 0x8035
	EtherTypeVLAN = 0x8100 // IEEE 802.1Q customer tag
	EtherTypeQinQ = 0x88a8 // IEEE 802.1ad service tag
	EtherTypeIPv6 = 0x86dd
	EtherTypeMPLS = 0x8847
	// EtherTypeMPLSMcast is MPLS multicast (RFC 5332).
	EtherTypeMPLSMcast = 0x8848
	// EtherTypeMin is the smallest value that is an EtherType; below it the
	// field is an IEEE 802.3 length (IEEE 802.3 clause 3.2.6).
	EtherTypeMin = 0x0600
)

// Ethernet is a view of an Ethernet II header. The caller has checked that it
// is at least EthernetMinimumSize bytes long.
type Ethernet []byte

// Dst returns the destination MAC address.
func (e Ethernet) Dst() MAC { return MAC(e[ethDst : ethDst+6]) }

// Src returns the source MAC address.
func (e Ethernet) Src() MAC { return MAC(e[ethSrc : ethSrc+6]) }

// Type returns the EtherType (or 802.3 length) field.
func (e Ethernet) Type() uint16 { return binary.BigEndian.Uint16(e[ethType:]) }

// SetDst sets the destination MAC address.
func (e Ethernet) SetDst(m MAC) { copy(e[ethDst:], m[:]) }

// SetSrc sets the source MAC address.
func (e Ethernet) SetSrc(m MAC) { copy(e[ethSrc:], m[:]) }

// SetType sets the EtherType field.
func (e Ethernet) SetType(t uint16) { binary.BigEndian.PutUint16(e[ethType:], t) }

// Payload returns the bytes after the untagged header.
func (e Ethernet) Payload() []byte { return e[EthernetMinimumSize:] }

// IsVLANType reports whether an EtherType introduces an 802.1Q or 802.1ad tag.
func IsVLANType(t uint16) bool { return t == EtherTypeVLAN || t == EtherTypeQinQ }

// IsMulticast reports whether m is a group address (I/G bit set), which
// includes broadcast.
func IsMulticast(m MAC) bool { return m[0]&1 != 0 }

// Broadcast is the all-ones MAC address.
var Broadcast = MAC{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// VLAN tag layout (IEEE 802.1Q clause 9.6). The view starts at the TPID, at
// offset 12 of a tagged frame, so that it includes the encapsulated type.
const (
	vlanTPID = 0
	vlanTCI  = 2
	vlanType = 4

	// VLANTagSize is the number of bytes a tag adds to a frame.
	VLANTagSize = 4
	// VLANMinimumSize is a tag plus the EtherType that follows it.
	VLANMinimumSize = 6
	// TaggedEthernetSize is the size of an Ethernet header with one tag.
	TaggedEthernetSize = EthernetMinimumSize + VLANTagSize
)

// TCI bits (IEEE 802.1Q clause 6.9.3).
const (
	VLANPCPShift = 13
	VLANPCPMask  = 0xe000
	VLANDEI      = 0x1000 // drop eligible indicator, the old CFI
	VLANVIDMask  = 0x0fff
)

// VLAN is a view of an 802.1Q tag starting at its TPID. The caller has checked
// that it is at least VLANMinimumSize bytes long.
type VLAN []byte

// TPID returns the tag protocol identifier (0x8100 or 0x88a8).
func (v VLAN) TPID() uint16 { return binary.BigEndian.Uint16(v[vlanTPID:]) }

// TCI returns the tag control information: PCP(3) DEI(1) VID(12).
func (v VLAN) TCI() uint16 { return binary.BigEndian.Uint16(v[vlanTCI:]) }

// VID returns the 12-bit VLAN identifier.
func (v VLAN) VID() uint16 { return v.TCI() & VLANVIDMask }

// PCP returns the 3-bit priority code point.
func (v VLAN) PCP() uint8 { return uint8(v.TCI() >> VLANPCPShift) }

// Type returns the EtherType of the encapsulated frame.
func (v VLAN) Type() uint16 { return binary.BigEndian.Uint16(v[vlanType:]) }

// SetTCI sets the tag control information.
func (v VLAN) SetTCI(tci uint16) { binary.BigEndian.PutUint16(v[vlanTCI:], tci) }

// SetType sets the encapsulated EtherType.
func (v VLAN) SetType(t uint16) { binary.BigEndian.PutUint16(v[vlanType:], t) }

// LLC/SNAP header (IEEE 802.2 with an RFC 1042 SNAP header) that can follow an
// 802.3 length field and carry an EtherType.
const (
	LLCSNAPSize  = 8
	llcDSAP      = 0
	llcSSAP      = 1
	llcControl   = 2
	snapOUI      = 3
	snapType     = 6
	llcSAPSNAP   = 0xaa
	llcCtrlUI    = 0x03
	snapOUIEther = 0x000000 // RFC 1042: OUI zero means the type is an EtherType
)

// SNAPType returns the EtherType carried in an RFC 1042 LLC/SNAP header b and
// true, or false when b is too short or is not LLC/SNAP with OUI 0.
func SNAPType(b []byte) (uint16, bool) {
	if len(b) < LLCSNAPSize || b[llcDSAP] != llcSAPSNAP || b[llcSSAP] != llcSAPSNAP || b[llcControl] != llcCtrlUI {
		return 0, false
	}
	if uint32(b[snapOUI])<<16|uint32(b[snapOUI+1])<<8|uint32(b[snapOUI+2]) != snapOUIEther {
		return 0, false
	}
	return binary.BigEndian.Uint16(b[snapType:]), true
}

// MPLS label stack entry layout (RFC 3032 section 2.1).
const (
	MPLSSize       = 4
	MPLSLabelShift = 12
	MPLSTCShift    = 9
	MPLSBOS        = 0x100
	MPLSTTLMask    = 0xff
)

// SkipVLANs returns the EtherType a frame carries under at most maxTags
// VLAN tags (802.1Q or 802.1ad) and the offset of the header it names. ok
// is false when the frame ends first or has more tags.
func SkipVLANs(frame []byte, maxTags int) (typ uint16, l3 int, ok bool) {
	l3 = ethType
	for i := 0; i <= maxTags; i++ {
		if len(frame) < l3+2 {
			return 0, 0, false
		}
		typ = binary.BigEndian.Uint16(frame[l3:])
		l3 += 2
		if !IsVLANType(typ) {
			return typ, l3, true
		}
		l3 += 2
	}
	return 0, 0, false
}
