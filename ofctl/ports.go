package ofctl

import (
	"strconv"
	"strings"

	"tapestry/openflow"
)

// reservedPorts are the names ovs-ofctl gives OpenFlow's reserved ports
// (OpenFlow 1.3 §7.2.1), in the order it prints them.
var reservedPorts = [...]struct {
	name string
	no   uint32
}{
	{"IN_PORT", openflow.PortInPort},
	{"TABLE", openflow.PortTable},
	{"NORMAL", openflow.PortNormal},
	{"FLOOD", openflow.PortFlood},
	{"ALL", openflow.PortAll},
	{"CONTROLLER", openflow.PortController},
	{"LOCAL", openflow.PortLocal},
	{"ANY", openflow.PortAny},
}

// reservedPort returns the reserved port a name (any case) stands for.
// "NONE" is OpenFlow 1.0's name for ANY.
func reservedPort(s string) (uint32, bool) {
	for _, r := range reservedPorts {
		if strings.EqualFold(s, r.name) {
			return r.no, true
		}
	}
	if strings.EqualFold(s, "NONE") {
		return openflow.PortAny, true
	}
	return 0, false
}

// reservedName returns the name of a reserved port.
func reservedName(p uint32) (string, bool) {
	for _, r := range reservedPorts {
		if r.no == p {
			return r.name, true
		}
	}
	return "", false
}

// of10Reserved is where OpenFlow 1.0's 16-bit reserved range (0xff00 and
// up) starts; ovs-ofctl maps it onto the 32-bit range 0xffffff00 and up.
const of10Reserved = 0xff00

// parsePort parses a port number or name as ovs-ofctl does: decimal numbers
// below 0xff00 are ordinary ports, 0xff00-0xffff are OpenFlow 1.0 reserved
// numbers (translated to their 32-bit form), 0xffffff00 and up are 32-bit
// reserved numbers; anything else is a reserved name (any case), a name the
// PortNamer knows, or a quoted name.
func parsePort(s string, names PortNamer) (uint32, bool) {
	if s == "" {
		return 0, false
	}
	if s[0] >= '0' && s[0] <= '9' {
		n, err := strconv.ParseUint(s, 10, 32)
		if err != nil {
			return 0, false
		}
		switch {
		case n < of10Reserved:
			return uint32(n), true
		case n <= 0xffff:
			return uint32(n) + 0xffff0000, true
		case n >= uint64(openflow.PortMax):
			return uint32(n), true
		}
		return 0, false
	}
	if p, ok := reservedPort(s); ok {
		return p, true
	}
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
	}
	if names != nil {
		return names.PortNumber(s)
	}
	return 0, false
}

// appendPort appends a port as ovs-ofctl prints it: a reserved name, the
// port's name when names is set and knows it, or the number (reserved numbers
// without a name in their OpenFlow 1.0 16-bit form).
func appendPort(b []byte, p uint32, names PortNamer) []byte {
	if n, ok := reservedName(p); ok {
		return append(b, n...)
	}
	if names != nil {
		if n, ok := names.PortName(p); ok {
			return appendPortName(b, n)
		}
	}
	if p >= openflow.PortMax {
		p -= 0xffff0000
	}
	return strconv.AppendUint(b, uint64(p), 10)
}

// appendPortName appends a port name, in double quotes when it could not be
// read back as a bare name (it contains a delimiter or looks like a number or
// a reserved name).
func appendPortName(b []byte, n string) []byte {
	plain := n != "" && (n[0] < '0' || n[0] > '9')
	if _, reserved := reservedPort(n); reserved {
		plain = false
	}
	for i := 0; i < len(n) && plain; i++ {
		c := n[i]
		if isSep(c) || c == '"' || c == '(' || c == ')' || c == '=' || c == ':' || c == '[' || c == ']' || c < 0x20 || c >= 0x7f {
			plain = false
		}
	}
	if plain {
		return append(b, n...)
	}
	return strconv.AppendQuote(b, n)
}
