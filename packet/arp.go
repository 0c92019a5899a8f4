package packet

import "encoding/binary"

// ARP packet layout for Ethernet and IPv4 (RFC 826).
const (
	arpHType = 0
	arpPType = 2
	arpHLen  = 4
	arpPLen  = 5
	arpOp    = 6
	arpSHA   = 8
	arpSPA   = 14
	arpTHA   = 18
	arpTPA   = 24

	// ARPSize is the size of an Ethernet/IPv4 ARP packet.
	ARPSize = 28
)

// ARP values (RFC 826, IANA "Address Resolution Protocol (ARP) Parameters").
const (
	ARPHTypeEthernet = 1
	ARPOpRequest     = 1
	ARPOpReply       = 2
)

// ARP is a view of an ARP packet. The caller has checked that it is at least
// ARPSize bytes long; IsEthernetIPv4 says whether the address fields below
// mean what their names say.
type ARP []byte

// HType returns the hardware type.
func (a ARP) HType() uint16 { return binary.BigEndian.Uint16(a[arpHType:]) }

// PType returns the protocol type.
func (a ARP) PType() uint16 { return binary.BigEndian.Uint16(a[arpPType:]) }

// HLen returns the hardware address length.
func (a ARP) HLen() uint8 { return a[arpHLen] }

// PLen returns the protocol address length.
func (a ARP) PLen() uint8 { return a[arpPLen] }

// Op returns the opcode.
func (a ARP) Op() uint16 { return binary.BigEndian.Uint16(a[arpOp:]) }

// SHA returns the sender hardware address.
func (a ARP) SHA() MAC { return MAC(a[arpSHA : arpSHA+6]) }

// SPA returns the sender protocol address.
func (a ARP) SPA() [4]byte { return [4]byte(a[arpSPA : arpSPA+4]) }

// THA returns the target hardware address.
func (a ARP) THA() MAC { return MAC(a[arpTHA : arpTHA+6]) }

// TPA returns the target protocol address.
func (a ARP) TPA() [4]byte { return [4]byte(a[arpTPA : arpTPA+4]) }

// IsEthernetIPv4 reports whether the packet maps IPv4 to Ethernet addresses,
// the only form whose fields OVS extracts.
func (a ARP) IsEthernetIPv4() bool {
	return a.HType() == ARPHTypeEthernet && a.PType() == EtherTypeIPv4 && a.HLen() == 6 && a.PLen() == 4
}

// SetOp sets the opcode.
func (a ARP) SetOp(op uint16) { binary.BigEndian.PutUint16(a[arpOp:], op) }

// SetSHA sets the sender hardware address.
func (a ARP) SetSHA(m MAC) { copy(a[arpSHA:], m[:]) }

// SetSPA sets the sender protocol address.
func (a ARP) SetSPA(ip [4]byte) { copy(a[arpSPA:], ip[:]) }

// SetTHA sets the target hardware address.
func (a ARP) SetTHA(m MAC) { copy(a[arpTHA:], m[:]) }

// SetTPA sets the target protocol address.
func (a ARP) SetTPA(ip [4]byte) { copy(a[arpTPA:], ip[:]) }
