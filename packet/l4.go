package packet

import "encoding/binary"

// TCP header layout (RFC 9293 section 3.1).
const (
	tcpSrcPort  = 0
	tcpDstPort  = 2
	tcpSeq      = 4
	tcpAck      = 8
	tcpDataOff  = 12 // data offset(4) reserved(3) NS/AE(1)
	tcpFlags    = 13
	tcpWindow   = 14
	tcpChecksum = 16
	tcpUrgent   = 18

	// TCPMinimumSize is the size of a header without options.
	TCPMinimumSize = 20
)

// TCP flags: the low 12 bits of the data-offset/flags word, as OVS's
// tcp_flags field carries them (RFC 9293, RFC 3168 for ECE/CWR, RFC 3540 NS).
const (
	TCPFlagFIN = 0x001
	TCPFlagSYN = 0x002
	TCPFlagRST = 0x004
	TCPFlagPSH = 0x008
	TCPFlagACK = 0x010
	TCPFlagURG = 0x020
	TCPFlagECE = 0x040
	TCPFlagCWR = 0x080
	TCPFlagNS  = 0x100
	// TCPFlagsMask selects the 12 flag bits of the data-offset/flags word.
	TCPFlagsMask = 0x0fff
)

// TCP is a view of a TCP header. The caller has checked that it is at least
// TCPMinimumSize bytes long.
type TCP []byte

// SrcPort returns the source port.
func (t TCP) SrcPort() uint16 { return binary.BigEndian.Uint16(t[tcpSrcPort:]) }

// DstPort returns the destination port.
func (t TCP) DstPort() uint16 { return binary.BigEndian.Uint16(t[tcpDstPort:]) }

// Seq returns the sequence number.
func (t TCP) Seq() uint32 { return binary.BigEndian.Uint32(t[tcpSeq:]) }

// Ack returns the acknowledgment number.
func (t TCP) Ack() uint32 { return binary.BigEndian.Uint32(t[tcpAck:]) }

// HeaderLen returns the data offset in bytes.
func (t TCP) HeaderLen() int { return int(t[tcpDataOff]>>4) * 4 }

// Flags returns the 12 low bits of the data-offset/flags word.
func (t TCP) Flags() uint16 { return binary.BigEndian.Uint16(t[tcpDataOff:]) & TCPFlagsMask }

// Window returns the window size.
func (t TCP) Window() uint16 { return binary.BigEndian.Uint16(t[tcpWindow:]) }

// Checksum returns the checksum field.
func (t TCP) Checksum() uint16 { return binary.BigEndian.Uint16(t[tcpChecksum:]) }

// Urgent returns the urgent pointer.
func (t TCP) Urgent() uint16 { return binary.BigEndian.Uint16(t[tcpUrgent:]) }

// SetSrcPort sets the source port without touching the checksum.
func (t TCP) SetSrcPort(p uint16) { binary.BigEndian.PutUint16(t[tcpSrcPort:], p) }

// SetDstPort sets the destination port without touching the checksum.
func (t TCP) SetDstPort(p uint16) { binary.BigEndian.PutUint16(t[tcpDstPort:], p) }

// SetSeq sets the sequence number.
func (t TCP) SetSeq(v uint32) { binary.BigEndian.PutUint32(t[tcpSeq:], v) }

// SetAck sets the acknowledgment number.
func (t TCP) SetAck(v uint32) { binary.BigEndian.PutUint32(t[tcpAck:], v) }

// SetHeaderLenFlags sets the data offset (bytes, a multiple of 4) and flags.
func (t TCP) SetHeaderLenFlags(n int, flags uint16) {
	binary.BigEndian.PutUint16(t[tcpDataOff:], uint16(n/4)<<12|flags&TCPFlagsMask)
}

// SetWindow sets the window size.
func (t TCP) SetWindow(w uint16) { binary.BigEndian.PutUint16(t[tcpWindow:], w) }

// SetChecksum sets the checksum field.
func (t TCP) SetChecksum(c uint16) { binary.BigEndian.PutUint16(t[tcpChecksum:], c) }

// UDP header layout (RFC 768).
const (
	udpSrcPort  = 0
	udpDstPort  = 2
	udpLength   = 4
	udpChecksum = 6

	// UDPMinimumSize is the size of a UDP header.
	UDPMinimumSize = 8
)

// UDP is a view of a UDP header. The caller has checked that it is at least
// UDPMinimumSize bytes long.
type UDP []byte

// SrcPort returns the source port.
func (u UDP) SrcPort() uint16 { return binary.BigEndian.Uint16(u[udpSrcPort:]) }

// DstPort returns the destination port.
func (u UDP) DstPort() uint16 { return binary.BigEndian.Uint16(u[udpDstPort:]) }

// Length returns the length field (header and data).
func (u UDP) Length() uint16 { return binary.BigEndian.Uint16(u[udpLength:]) }

// Checksum returns the checksum field; 0 means "not computed" over IPv4.
func (u UDP) Checksum() uint16 { return binary.BigEndian.Uint16(u[udpChecksum:]) }

// SetSrcPort sets the source port without touching the checksum.
func (u UDP) SetSrcPort(p uint16) { binary.BigEndian.PutUint16(u[udpSrcPort:], p) }

// SetDstPort sets the destination port without touching the checksum.
func (u UDP) SetDstPort(p uint16) { binary.BigEndian.PutUint16(u[udpDstPort:], p) }

// SetLength sets the length field.
func (u UDP) SetLength(n uint16) { binary.BigEndian.PutUint16(u[udpLength:], n) }

// SetChecksum sets the checksum field.
func (u UDP) SetChecksum(c uint16) { binary.BigEndian.PutUint16(u[udpChecksum:], c) }

// SCTP common header layout (RFC 9260 section 3.1).
const (
	sctpSrcPort  = 0
	sctpDstPort  = 2
	sctpVTag     = 4
	sctpChecksum = 8

	// SCTPMinimumSize is the size of the common header.
	SCTPMinimumSize = 12
)

// SCTP is a view of an SCTP common header. The caller has checked that it is
// at least SCTPMinimumSize bytes long.
type SCTP []byte

// SrcPort returns the source port.
func (s SCTP) SrcPort() uint16 { return binary.BigEndian.Uint16(s[sctpSrcPort:]) }

// DstPort returns the destination port.
func (s SCTP) DstPort() uint16 { return binary.BigEndian.Uint16(s[sctpDstPort:]) }

// Checksum returns the CRC-32C field, read little-endian as it is stored.
func (s SCTP) Checksum() uint32 { return binary.LittleEndian.Uint32(s[sctpChecksum:]) }

// SetSrcPort sets the source port without touching the checksum.
func (s SCTP) SetSrcPort(p uint16) { binary.BigEndian.PutUint16(s[sctpSrcPort:], p) }

// SetDstPort sets the destination port without touching the checksum.
func (s SCTP) SetDstPort(p uint16) { binary.BigEndian.PutUint16(s[sctpDstPort:], p) }

// SetChecksum stores a CRC-32C computed by SCTPChecksum.
func (s SCTP) SetChecksum(c uint32) { binary.LittleEndian.PutUint32(s[sctpChecksum:], c) }

// ICMP header layout (RFC 792; RFC 4443 section 2.1 for ICMPv6, whose first
// four bytes are the same).
const (
	icmpType     = 0
	icmpCode     = 1
	icmpChecksum = 2
	icmpID       = 4
	icmpSeq      = 6

	// ICMPv4MinimumSize is the size OVS requires to extract an ICMP header:
	// type, code, checksum and the 4-byte rest-of-header.
	ICMPv4MinimumSize = 8
	// ICMPv6MinimumSize is the same for ICMPv6.
	ICMPv6MinimumSize = 8
	// IGMPMinimumSize is the size of an IGMPv1/v2 message (RFC 2236).
	IGMPMinimumSize = 8
)

// ICMP types used by the builders and the router (RFC 792, RFC 4443, RFC 4861).
const (
	ICMPv4EchoReply   = 0
	ICMPv4Unreachable = 3
	ICMPv4Echo        = 8
	ICMPv4TimeExceed  = 11

	ICMPv6Unreachable     = 1
	ICMPv6PacketTooBig    = 2
	ICMPv6TimeExceeded    = 3
	ICMPv6EchoRequest     = 128
	ICMPv6EchoReply       = 129
	ICMPv6RouterSolicit   = 133
	ICMPv6RouterAdvert    = 134
	ICMPv6NeighborSolicit = 135
	ICMPv6NeighborAdvert  = 136
)

// ICMPv4 is a view of an ICMP header. The caller has checked that it is at
// least ICMPv4MinimumSize bytes long.
type ICMPv4 []byte

// Type returns the message type.
func (c ICMPv4) Type() uint8 { return c[icmpType] }

// Code returns the message code.
func (c ICMPv4) Code() uint8 { return c[icmpCode] }

// Checksum returns the checksum field.
func (c ICMPv4) Checksum() uint16 { return binary.BigEndian.Uint16(c[icmpChecksum:]) }

// ID returns the echo identifier.
func (c ICMPv4) ID() uint16 { return binary.BigEndian.Uint16(c[icmpID:]) }

// Seq returns the echo sequence number.
func (c ICMPv4) Seq() uint16 { return binary.BigEndian.Uint16(c[icmpSeq:]) }

// SetType sets the message type without touching the checksum.
func (c ICMPv4) SetType(t uint8) { c[icmpType] = t }

// SetCode sets the message code without touching the checksum.
func (c ICMPv4) SetCode(v uint8) { c[icmpCode] = v }

// SetChecksum sets the checksum field.
func (c ICMPv4) SetChecksum(v uint16) { binary.BigEndian.PutUint16(c[icmpChecksum:], v) }

// SetID sets the echo identifier.
func (c ICMPv4) SetID(v uint16) { binary.BigEndian.PutUint16(c[icmpID:], v) }

// SetSeq sets the echo sequence number.
func (c ICMPv4) SetSeq(v uint16) { binary.BigEndian.PutUint16(c[icmpSeq:], v) }

// ICMPv6 is a view of an ICMPv6 header. The caller has checked that it is at
// least ICMPv6MinimumSize bytes long.
type ICMPv6 []byte

// Type returns the message type.
func (c ICMPv6) Type() uint8 { return c[icmpType] }

// Code returns the message code.
func (c ICMPv6) Code() uint8 { return c[icmpCode] }

// Checksum returns the checksum field.
func (c ICMPv6) Checksum() uint16 { return binary.BigEndian.Uint16(c[icmpChecksum:]) }

// ID returns the echo identifier.
func (c ICMPv6) ID() uint16 { return binary.BigEndian.Uint16(c[icmpID:]) }

// Seq returns the echo sequence number.
func (c ICMPv6) Seq() uint16 { return binary.BigEndian.Uint16(c[icmpSeq:]) }

// SetType sets the message type without touching the checksum.
func (c ICMPv6) SetType(t uint8) { c[icmpType] = t }

// SetCode sets the message code without touching the checksum.
func (c ICMPv6) SetCode(v uint8) { c[icmpCode] = v }

// SetChecksum sets the checksum field.
func (c ICMPv6) SetChecksum(v uint16) { binary.BigEndian.PutUint16(c[icmpChecksum:], v) }

// SetID sets the echo identifier.
func (c ICMPv6) SetID(v uint16) { binary.BigEndian.PutUint16(c[icmpID:], v) }

// SetSeq sets the echo sequence number.
func (c ICMPv6) SetSeq(v uint16) { binary.BigEndian.PutUint16(c[icmpSeq:], v) }

// ChecksumOffset returns the offset of the checksum field in the header of an
// upper-layer protocol whose checksum is a 16-bit Internet checksum, and
// whether proto has one.
func ChecksumOffset(proto uint8) (int, bool) {
	switch proto {
	case ProtoTCP:
		return tcpChecksum, true
	case ProtoUDP:
		return udpChecksum, true
	case ProtoICMP, ProtoICMPv6, ProtoIGMP:
		return icmpChecksum, true
	}
	return 0, false
}
