package packet

import (
	"encoding/binary"
	"hash/crc32"
)

// The Internet checksum (RFC 1071) is the one's complement of the one's
// complement sum of the data taken as big-endian 16-bit words. Sum computes
// the folded sum; Checksum returns the value to store in a header.
// Incremental updates follow RFC 1624 equation 3: HC' = ~(~HC + ~m + m'),
// which, unlike RFC 1141's form, never produces 0xffff from a non-zero sum.

// Sum returns the folded 16-bit one's complement sum of b added to initial.
// An odd trailing byte is padded with zero, as RFC 1071 section 4.1 says.
func Sum(b []byte, initial uint16) uint16 {
	acc := uint64(initial)
	for len(b) >= 8 {
		// Adding 32-bit halves of a 64-bit word into a 64-bit accumulator
		// cannot overflow for any frame shorter than 2^32 words.
		w := binary.BigEndian.Uint64(b)
		acc += w>>32 + w&0xffffffff
		b = b[8:]
	}
	if len(b) >= 4 {
		acc += uint64(binary.BigEndian.Uint32(b))
		b = b[4:]
	}
	if len(b) >= 2 {
		acc += uint64(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		acc += uint64(b[0]) << 8
	}
	return fold(acc)
}

// fold reduces a wide one's complement accumulator to 16 bits.
func fold(acc uint64) uint16 {
	acc = acc>>32 + acc&0xffffffff
	acc = acc>>16 + acc&0xffff
	acc = acc>>16 + acc&0xffff
	acc = acc>>16 + acc&0xffff
	return uint16(acc)
}

// Checksum returns the Internet checksum of b: the value that, stored in a
// zeroed checksum field inside b, makes Sum over b equal 0xffff.
func Checksum(b []byte) uint16 { return ^Sum(b, 0) }

// Add returns the one's complement sum of a and b.
func Add(a, b uint16) uint16 {
	s := uint32(a) + uint32(b)
	return uint16(s>>16 + s&0xffff)
}

// ChecksumUpdate16 returns the checksum field check after a 16-bit word of the
// covered data changes from from to to (RFC 1624 equation 3).
func ChecksumUpdate16(check, from, to uint16) uint16 {
	return ^Add(Add(^check, ^from), to)
}

// ChecksumUpdate32 is ChecksumUpdate16 for a 32-bit quantity aligned on a
// 16-bit boundary (an IPv4 address, a 32-bit field).
func ChecksumUpdate32(check uint16, from, to uint32) uint16 {
	check = ChecksumUpdate16(check, uint16(from>>16), uint16(to>>16))
	return ChecksumUpdate16(check, uint16(from), uint16(to))
}

// ChecksumUpdateBytes is ChecksumUpdate16 for equal-length byte strings that
// start on a 16-bit boundary of the covered data (MAC or IPv6 addresses).
// from and to must have the same even length.
func ChecksumUpdateBytes(check uint16, from, to []byte) uint16 {
	// ~HC' = ~HC + ~sum(m) + sum(m'): two folded sums do the whole string.
	return ^Add(Add(^check, ^Sum(from, 0)), Sum(to, 0))
}

// PseudoHeaderSum returns the folded sum of the TCP/UDP/ICMPv6 pseudo-header
// (RFC 793 section 3.1 and RFC 768 for IPv4, RFC 8200 section 8.1 for IPv6):
// the addresses, the protocol and the upper-layer length. src and dst are
// both 4 or both 16 bytes.
func PseudoHeaderSum(proto uint8, src, dst []byte, length uint32) uint16 {
	s := Sum(src, 0)
	s = Sum(dst, s)
	s = Add(s, uint16(proto))
	s = Add(s, uint16(length>>16))
	return Add(s, uint16(length))
}

// crc32c is the CRC-32C table SCTP uses for its checksum (RFC 4960 appendix B).
var crc32c = crc32.MakeTable(crc32.Castagnoli)

// SCTPChecksum returns the CRC-32C of an SCTP packet b (common header and
// chunks) computed with the checksum field taken as zero. The result is
// stored in the header little-endian, as RFC 4960 appendix B's reference
// implementation does.
func SCTPChecksum(b []byte) uint32 {
	if len(b) < SCTPMinimumSize {
		return 0
	}
	var zero [4]byte
	c := crc32.Update(0, crc32c, b[:sctpChecksum])
	c = crc32.Update(c, crc32c, zero[:])
	return crc32.Update(c, crc32c, b[sctpChecksum+4:])
}
