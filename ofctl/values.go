package ofctl

import (
	"encoding/binary"
	"math/bits"
	"net/netip"
	"strconv"
	"strings"

	"tapestry/flow"
)

// Value syntax of ovs-fields(7): integers in decimal or 0x-prefixed hex of
// any width, Ethernet addresses as xx:xx:xx:xx:xx:xx, IPv4 and IPv6 addresses
// with an optional prefix length or dotted mask, and "/MASK" after any
// maskable value.

// parseUint parses a decimal or 0x-prefixed hexadecimal integer of at most
// 64 bits.
func parseUint(s string) (uint64, bool) {
	if len(s) > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') {
		v, err := strconv.ParseUint(s[2:], 16, 64)
		return v, err == nil
	}
	v, err := strconv.ParseUint(s, 10, 64)
	return v, err == nil
}

// parseWide parses an integer into a 128-bit Value; hex may be as wide as
// the Value, decimal is limited to 64 bits.
func parseWide(s string) (flow.Value, bool) {
	if len(s) > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') {
		h := s[2:]
		if len(h) == 0 || len(h) > 32 {
			return flow.Value{}, false
		}
		var v flow.Value
		for i := 0; i < len(h); i++ {
			d, ok := hexDigit(h[len(h)-1-i])
			if !ok {
				return flow.Value{}, false
			}
			v[15-i/2] |= d << (4 * (i % 2))
		}
		return v, true
	}
	x, ok := parseUint(s)
	return flow.U64(x), ok
}

func hexDigit(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// fits reports whether v has no bits above the low n.
func fits(v flow.Value, n int) bool {
	return v.And(lowMask(n).Not()).IsZero()
}

// lowMask returns a Value with the low n bits set.
func lowMask(n int) flow.Value {
	var v flow.Value
	for i := 15; n > 0; i-- {
		if n >= 8 {
			v[i] = 0xff
		} else {
			v[i] = byte(1<<n - 1)
		}
		n -= 8
	}
	return v
}

// parseMAC parses xx:xx:xx:xx:xx:xx (each part one or two hex digits).
func parseMAC(s string) ([6]byte, bool) {
	var m [6]byte
	for i := 0; i < 6; i++ {
		j := 0
		var b byte
		for j < len(s) && j < 2 && s[j] != ':' {
			d, ok := hexDigit(s[j])
			if !ok {
				return m, false
			}
			b = b<<4 | d
			j++
		}
		if j == 0 {
			return m, false
		}
		m[i] = b
		s = s[j:]
		if i < 5 {
			if s == "" || s[0] != ':' {
				return m, false
			}
			s = s[1:]
		}
	}
	return m, s == ""
}

// parseIPv4 parses a dotted quad strictly, as netip.ParseAddr does: four
// decimal octets 0-255 without leading zeros (which inet_aton would read as
// octal). By hand because add-flows of 100,000 lines parses one or two
// addresses per line.
func parseIPv4(s string) ([4]byte, bool) {
	var a [4]byte
	for i := range a {
		n, v := 0, 0
		for n < len(s) && n < 4 && s[n] >= '0' && s[n] <= '9' {
			v = v*10 + int(s[n]-'0')
			n++
		}
		if n == 0 || n > 3 || v > 255 || n > 1 && s[0] == '0' {
			return [4]byte{}, false
		}
		a[i] = byte(v)
		s = s[n:]
		if i < 3 {
			if s == "" || s[0] != '.' {
				return [4]byte{}, false
			}
			s = s[1:]
		}
	}
	if s != "" {
		return [4]byte{}, false
	}
	return a, true
}

// parseIPv6 parses an IPv6 address (not an IPv4 one).
func parseIPv6(s string) ([16]byte, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is6() || a.Zone() != "" {
		return [16]byte{}, false
	}
	return a.As16(), true
}

// prefixMask returns a Value whose top n of width bits are set.
func prefixMask(n, width int) flow.Value {
	return lowMask(width).And(lowMask(width - n).Not())
}

// cidrLen returns the prefix length of mask within width bits, or -1 when
// the mask is not a contiguous prefix.
func cidrLen(mask flow.Value, width int) int {
	n := 0
	for i := 16 - width/8; i < 16; i++ {
		b := mask[i]
		if b == 0xff {
			n += 8
			continue
		}
		ones := bits.LeadingZeros8(^b)
		if b<<ones != 0 {
			return -1
		}
		for _, r := range mask[i+1:] {
			if r != 0 {
				return -1
			}
		}
		return n + ones
	}
	return n
}

// splitMask splits "V/M" into its parts.
func splitMask(s string) (v, m string, masked bool) {
	i := strings.IndexByte(s, '/')
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+1:], true
}

func u32Value(b [4]byte) flow.Value { return flow.U64(uint64(binary.BigEndian.Uint32(b[:]))) }

// appendHex appends 0x-prefixed lowercase hex of the low n bytes of v,
// without leading zeros.
func appendHex(b []byte, v flow.Value) []byte {
	b = append(b, "0x"...)
	i := 0
	for i < 15 && v[i] == 0 {
		i++
	}
	const digits = "0123456789abcdef"
	if v[i] < 0x10 {
		b = append(b, digits[v[i]])
	} else {
		b = append(b, digits[v[i]>>4], digits[v[i]&15])
	}
	for _, x := range v[i+1:] {
		b = append(b, digits[x>>4], digits[x&15])
	}
	return b
}

// appendMAC appends a MAC address in xx:xx:xx:xx:xx:xx form.
func appendMAC(b []byte, m []byte) []byte {
	const digits = "0123456789abcdef"
	for i, x := range m {
		if i > 0 {
			b = append(b, ':')
		}
		b = append(b, digits[x>>4], digits[x&15])
	}
	return b
}

func appendIPv4(b []byte, a []byte) []byte {
	return netip.AddrFrom4([4]byte(a)).AppendTo(b)
}

func appendIPv6(b []byte, a []byte) []byte {
	return netip.AddrFrom16([16]byte(a)).AppendTo(b)
}
