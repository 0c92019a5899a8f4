package ofctl

import (
	"math/bits"
	"strconv"
	"strings"

	"tapestry/flow"
)

// Flag words of tcp_flags and ct_state (ovs-fields(7)), indexed by bit
// number. The three reserved TCP header bits have no name; ovs-ofctl prints
// them as "[200]", "[400]" and "[800]".
var tcpFlagNames = [...]string{"fin", "syn", "rst", "psh", "ack", "urg", "ece", "cwr", "ns", "[200]", "[400]", "[800]"}

var ctStateNames = [...]string{"new", "est", "rel", "rpl", "inv", "trk", "snat", "dnat"}

// fragNames are ip_frag's words (ovs-fields(7)); the first entry with a given
// value and mask is the one printed.
var fragNames = [...]struct {
	name        string
	mask, value uint8
}{
	{"no", flow.FragAny | flow.FragLater, 0},
	{"first", flow.FragAny | flow.FragLater, flow.FragAny},
	{"later", flow.FragAny | flow.FragLater, flow.FragAny | flow.FragLater},
	{"no", flow.FragAny, 0},
	{"yes", flow.FragAny, flow.FragAny},
	{"not_later", flow.FragLater, 0},
	{"later", flow.FragLater, flow.FragLater},
}

// parseFlags parses a flag field: a number with an optional mask,
// "name|name" (those flags set, all others clear), or "+name-name" (only the
// named flags matter). Masks are clamped to the flags that exist (max), so
// that every form prints back the same way.
func parseFlags(s string, names []string, max uint32, what string) (v, mask flow.Value, err error) {
	if s == "" {
		return v, mask, errorf("missing %s value", what)
	}
	if s[0] >= '0' && s[0] <= '9' {
		vs, ms, masked := splitMask(s)
		x, ok := parseUint(vs)
		if !ok || x > uint64(^uint32(0)) {
			return v, mask, errorf("invalid %s value %q", what, vs)
		}
		mk := uint64(max)
		if masked {
			if mk, ok = parseUint(ms); !ok || mk > uint64(^uint32(0)) {
				return v, mask, errorf("invalid %s mask %q", what, ms)
			}
		}
		if x&^uint64(max) != 0 || mk&^uint64(max) != 0 {
			return v, mask, errorf("%q: %s bits outside 0x%x", s, what, max)
		}
		return flow.U64(x & mk), flow.U64(mk), nil
	}
	if s[0] != '+' && s[0] != '-' {
		var x uint32
		for _, w := range strings.Split(s, "|") {
			b, ok := flagBit(w, names)
			if !ok {
				return v, mask, errorf("%q: unknown %s", w, what)
			}
			x |= b
		}
		return flow.U64(uint64(x)), flow.U64(uint64(max)), nil
	}
	var x, mk uint32
	for s != "" {
		set := s[0] == '+'
		if s[0] != '+' && s[0] != '-' {
			return v, mask, errorf("%q: %s words must start with + or -", s, what)
		}
		s = s[1:]
		n := strings.IndexAny(s, "+-")
		if n < 0 {
			n = len(s)
		}
		w := s[:n]
		s = s[n:]
		b, ok := flagBit(w, names)
		if !ok {
			return v, mask, errorf("%q: unknown %s", w, what)
		}
		mk |= b
		if set {
			x |= b
		} else {
			x &^= b
		}
	}
	return flow.U64(uint64(x)), flow.U64(uint64(mk)), nil
}

func flagBit(w string, names []string) (uint32, bool) {
	for i, n := range names {
		if n == w {
			return 1 << i, true
		}
	}
	return 0, false
}

// appendFlags prints a flag field as ovs-ofctl does: "a|b" (or "0") when
// every defined flag is matched, otherwise "+a-b" in bit order.
func appendFlags(b []byte, x, mask uint32, names []string, max uint32) []byte {
	mask &= max
	x &= mask
	if mask == max {
		if x == 0 {
			return append(b, '0')
		}
		first := true
		for x != 0 {
			bit := bits.TrailingZeros32(x)
			x &^= 1 << bit
			if !first {
				b = append(b, '|')
			}
			first = false
			if bit < len(names) {
				b = append(b, names[bit]...)
			} else {
				b = append(b, "0x"...)
				b = strconv.AppendUint(b, 1<<bit, 16)
			}
		}
		return b
	}
	if mask == 0 {
		return append(b, "0/0"...)
	}
	for mask != 0 {
		bit := bits.TrailingZeros32(mask)
		mask &^= 1 << bit
		if x&(1<<bit) != 0 {
			b = append(b, '+')
		} else {
			b = append(b, '-')
		}
		if bit < len(names) {
			b = append(b, names[bit]...)
		} else {
			b = append(b, "[Unknown]"...)
		}
	}
	return b
}
