// Package flow defines the flow key: one flat, pointer-free struct holding every
// field a switch or router can match on, extracted once per packet.
//
// The layout follows Open vSwitch's struct flow where the two overlap, so that the
// field aliases of ovs-fields(7) map onto it directly:
//   - ARP's sender and target protocol addresses live in NwSrc/NwDst and the ARP
//     opcode in NwProto (low byte), as OVS does.
//   - ICMP and ICMPv6 type and code live in TpSrc/TpDst.
//   - VlanTCI carries the CFI bit (0x1000) when a tag is present, so a zero VlanTCI
//     means "untagged" (OVS vlan_tci semantics; OpenFlow 1.3's OFPVID_PRESENT).
//
// Key has no padding and a size that is a multiple of 8 so it can be masked and
// hashed as a word array (see key_words.go); a test asserts this.
package flow

import (
	"encoding/binary"
	"net/netip"
)

// NumRegs is the number of 32-bit registers reg0..reg15 (ovs-fields(7)).
const NumRegs = 16

// Key is every matchable field of a packet plus its metadata.
// The zero value is a packet with no recognizable headers on port 0.
type Key struct {
	Metadata uint64          // OpenFlow metadata, written by write_metadata
	TunID    uint64          // tunnel id (VXLAN VNI)
	Regs     [NumRegs]uint32 // reg0..reg15, scratch registers

	InPort    uint32 // OpenFlow port number the packet arrived on
	PktMark   uint32 // skb mark (pkt_mark), shared with netfilter's MARK
	CtMark    uint32 // conntrack mark
	CtState   uint32 // conntrack state bits (CtStateNew...)
	IPv6Label uint32 // IPv6 flow label (20 bits)
	MplsLSE   uint32 // outermost MPLS label stack entry

	NwSrc [4]byte // IPv4 source, or ARP sender protocol address
	NwDst [4]byte // IPv4 destination, or ARP target protocol address

	CtZone   uint16
	DlType   uint16 // Ethernet type after any VLAN tag; 0x05ff for 802.2 frames as OVS
	VlanTCI  uint16 // PCP(3) | CFI(1) | VID(12); CFI set iff tagged
	TpSrc    uint16 // L4 source port, or ICMP type
	TpDst    uint16 // L4 destination port, or ICMP code
	TCPFlags uint16 // low 12 bits of the TCP flags

	DlSrc  [6]byte
	DlDst  [6]byte
	ArpSha [6]byte
	ArpTha [6]byte

	NwProto uint8 // IP protocol, or low byte of the ARP opcode
	NwTos   uint8 // whole IPv4 TOS / IPv6 traffic class byte (DSCP<<2 | ECN)
	NwTTL   uint8 // IPv4 TTL / IPv6 hop limit
	NwFrag  uint8 // FragAny | FragLater

	IPv6Src [16]byte
	IPv6Dst [16]byte
}

// Mask has the shape of Key; a set bit means "this bit of the key matters".
type Mask Key

// VLAN tag control information bits.
const (
	VlanCFI      = 0x1000 // set in Key.VlanTCI when the packet carries an 802.1Q tag
	VlanVIDMask  = 0x0fff
	VlanPCPMask  = 0xe000
	VlanPCPShift = 13
)

// Fragment bits in Key.NwFrag (ovs-fields(7) ip_frag).
const (
	FragAny   = 1 // packet is a fragment
	FragLater = 2 // packet is a fragment with offset != 0
)

// Connection tracking state bits (ovs-fields(7) ct_state), shared with netfilter.
const (
	CtStateNew         = 0x01
	CtStateEstablished = 0x02
	CtStateRelated     = 0x04
	CtStateReply       = 0x08
	CtStateInvalid     = 0x10
	CtStateTracked     = 0x20
	CtStateSNAT        = 0x40
	CtStateDNAT        = 0x80
)

// Ethernet types the extractor understands.
const (
	EthTypeIPv4      = 0x0800
	EthTypeARP       = 0x0806
	EthTypeVLAN      = 0x8100
	EthTypeQinQ      = 0x88a8
	EthTypeIPv6      = 0x86dd
	EthTypeMPLS      = 0x8847
	EthTypeMPLSMcast = 0x8848
	// EthTypeNone is what OVS reports as dl_type for 802.2/802.3 frames
	// whose length field is below 0x600.
	EthTypeNone = 0x05ff
)

// IP protocol numbers.
const (
	ProtoICMP   = 1
	ProtoTCP    = 6
	ProtoUDP    = 17
	ProtoICMPv6 = 58
	ProtoSCTP   = 132
)

// Src returns the IPv4 source (or ARP SPA) as an address.
func (k *Key) Src() netip.Addr { return netip.AddrFrom4(k.NwSrc) }

// Dst returns the IPv4 destination (or ARP TPA) as an address.
func (k *Key) Dst() netip.Addr { return netip.AddrFrom4(k.NwDst) }

// VlanVID returns the 12-bit VLAN id, or 0 for untagged packets.
func (k *Key) VlanVID() uint16 { return k.VlanTCI & VlanVIDMask }

// Tagged reports whether the packet carries an 802.1Q tag.
func (k *Key) Tagged() bool { return k.VlanTCI&VlanCFI != 0 }

// IsIPv4 reports whether the key describes an IPv4 packet.
func (k *Key) IsIPv4() bool { return k.DlType == EthTypeIPv4 }

// Match is a key and a mask: a packet matches when its masked key equals Key.
// Key must already be masked (bits outside Mask are zero); Set keeps it so.
type Match struct {
	Key  Key
	Mask Mask
}

// Matches reports whether k falls within m.
func (m *Match) Matches(k *Key) bool {
	masked := k.Masked(&m.Mask)
	return masked == m.Key
}

// Normalize clears key bits outside the mask.
func (m *Match) Normalize() { m.Key = m.Key.Masked(&m.Mask) }

// Set makes m match field f exactly equal to v.
func (m *Match) Set(f Field, v Value) { m.SetMasked(f, v, f.FullMask()) }

// SetMasked makes m match the bits of field f selected by mask equal to v.
// Setting a field twice replaces the earlier value and mask.
func (m *Match) SetMasked(f Field, v, mask Value) {
	full := f.FullMask()
	mask = mask.And(full)
	f.Set(&m.Key, v.And(mask))
	f.Set((*Key)(&m.Mask), mask)
}

// Get returns the value and mask of field f in m. A field m does not
// constrain has a zero mask.
func (m *Match) Get(f Field) (v, mask Value) {
	return f.Get(&m.Key), f.Get((*Key)(&m.Mask))
}

// Has reports whether m constrains any bit of field f.
func (m *Match) Has(f Field) bool {
	return !f.Get((*Key)(&m.Mask)).IsZero()
}

// Value is a field value, big-endian and right-aligned in 16 bytes, wide enough
// for the widest field (IPv6 addresses). Narrow fields use the low bytes.
type Value [16]byte

// U64 returns a Value holding x.
func U64(x uint64) Value {
	var v Value
	binary.BigEndian.PutUint64(v[8:], x)
	return v
}

// Bytes returns a Value holding b right-aligned; b must be at most 16 bytes.
func Bytes(b []byte) Value {
	var v Value
	copy(v[16-len(b):], b)
	return v
}

// Uint64 returns the low 64 bits of v.
func (v Value) Uint64() uint64 { return binary.BigEndian.Uint64(v[8:]) }

// Tail returns the low n bytes of v.
func (v Value) Tail(n int) []byte { return v[16-n:] }

// IsZero reports whether every bit of v is zero.
func (v Value) IsZero() bool { return v == Value{} }

// And returns v & m.
func (v Value) And(m Value) Value {
	for i := range v {
		v[i] &= m[i]
	}
	return v
}

// Or returns v | m.
func (v Value) Or(m Value) Value {
	for i := range v {
		v[i] |= m[i]
	}
	return v
}

// Not returns ^v.
func (v Value) Not() Value {
	for i := range v {
		v[i] = ^v[i]
	}
	return v
}
