// Package iptables is the iptables text syntax: command lines
// (iptables -t TABLE -A CHAIN ...), the -S, -L and iptables-save output, and
// iptables-restore input, all to and from netfilter's rule model. It parses
// and prints; it never runs packets.
package iptables

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// protoNames are the protocols iptables names itself (xtables_chain_protos)
// plus the common /etc/protocols entries iptables-save prints by name.
var protoNames = map[uint8]string{
	1: "icmp", 2: "igmp", 4: "ipencap", 6: "tcp", 17: "udp", 33: "dccp", 41: "ipv6", 47: "gre",
	50: "esp", 51: "ah", 58: "ipv6-icmp", 89: "ospf", 103: "pim", 112: "vrrp", 132: "sctp", 135: "mobility-header", 136: "udplite",
}

// protoByName resolves -p's argument: a name (any case), "all", or a number.
func protoByName(s string) (uint8, error) {
	l := strings.ToLower(s)
	switch l {
	case "all":
		return 0, nil
	case "icmpv6":
		return 58, nil
	case "mh", "ipv6-mh":
		return 135, nil
	}
	for n, name := range protoNames {
		if name == l {
			return n, nil
		}
	}
	n, err := strconv.ParseUint(s, 0, 8)
	if err != nil {
		return 0, fmt.Errorf("unknown protocol %q specified", s)
	}
	return uint8(n), nil
}

// protoString is how -S prints a protocol.
func protoString(p uint8) string {
	if n, ok := protoNames[p]; ok {
		return n
	}
	return strconv.Itoa(int(p))
}

// services are the /etc/services names iptables users type most.
var services = map[string]uint16{
	"ftp-data": 20, "ftp": 21, "ssh": 22, "telnet": 23, "smtp": 25, "domain": 53, "bootps": 67, "bootpc": 68,
	"tftp": 69, "http": 80, "www": 80, "pop3": 110, "ntp": 123, "imap": 143, "snmp": 161, "bgp": 179, "ldap": 389,
	"https": 443, "submission": 587, "imaps": 993, "pop3s": 995, "openvpn": 1194, "mysql": 3306, "xmpp-client": 5222,
}

func parsePort(s string) (uint16, error) {
	if p, ok := services[strings.ToLower(s)]; ok {
		return p, nil
	}
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil {
		return 0, fmt.Errorf("invalid port/service %q specified", s)
	}
	return uint16(n), nil
}

// parsePortRange parses "P", "P:Q", "P:" or ":Q" (sep ':'; multiport also
// uses ':'; NAT targets use '-').
func parsePortRange(s string, sep byte) (lo, hi uint16, err error) {
	i := strings.IndexByte(s, sep)
	if i < 0 {
		p, err := parsePort(s)
		return p, p, err
	}
	lo, hi = 0, 65535
	if i > 0 {
		if lo, err = parsePort(s[:i]); err != nil {
			return 0, 0, err
		}
	}
	if i+1 < len(s) {
		if hi, err = parsePort(s[i+1:]); err != nil {
			return 0, 0, err
		}
	}
	if lo > hi {
		// iptables swaps a reversed range (xtables_parse_port_range
		// callers) rather than refusing it.
		lo, hi = hi, lo
	}
	return lo, hi, nil
}

func portRangeString(lo, hi uint16, sep string) string {
	if lo == hi {
		return strconv.Itoa(int(lo))
	}
	return fmt.Sprintf("%d%s%d", lo, sep, hi)
}

// parseAddr parses -s/-d: "A", "A/len" or "A/dotted-mask"; the result is
// masked as the kernel stores it.
func parseAddr(s string) (netip.Prefix, error) {
	addr, mask, has := strings.Cut(s, "/")
	a, err := netip.ParseAddr(addr)
	if err != nil || !a.Is4() {
		return netip.Prefix{}, fmt.Errorf("host/network %q not found", addr)
	}
	bits := 32
	if has {
		if n, err := strconv.Atoi(mask); err == nil && n >= 0 && n <= 32 {
			bits = n
		} else if m, err := netip.ParseAddr(mask); err == nil && m.Is4() {
			b := m.As4()
			v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
			bits = 0
			for v&0x80000000 != 0 {
				bits++
				v <<= 1
			}
			if v != 0 {
				return netip.Prefix{}, fmt.Errorf("invalid mask %q specified", mask)
			}
		} else {
			return netip.Prefix{}, fmt.Errorf("invalid mask %q specified", mask)
		}
	}
	return netip.PrefixFrom(a, bits).Masked(), nil
}

// addrString prints an address as iptables -S does: always with /len.
func addrString(p netip.Prefix) string { return p.String() }

// parseUint32 parses a number in C's strtoul base-0 syntax (0x.., 0.., decimal).
func parseUint32(s string) (uint32, error) {
	n, err := strconv.ParseUint(s, 0, 32)
	if err != nil {
		return 0, fmt.Errorf("bad value %q", s)
	}
	return uint32(n), nil
}

// parseValueMask parses "V[/M]"; M defaults to def.
func parseValueMask(s string, def uint32) (v, m uint32, err error) {
	vs, ms, has := strings.Cut(s, "/")
	if v, err = parseUint32(vs); err != nil {
		return 0, 0, err
	}
	m = def
	if has {
		if m, err = parseUint32(ms); err != nil {
			return 0, 0, err
		}
	}
	return v, m, nil
}

// SaveString quotes a string as iptables-save does (xtables_save_string):
// bare when it is only letters, digits, '-' and '_', else in double quotes
// with '"' and '\' escaped.
func SaveString(s string) string {
	plain := s != ""
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			plain = false
			break
		}
	}
	if plain {
		return s
	}
	var b strings.Builder
	b.WriteByte('"')
	for _, c := range s {
		if c == '"' || c == '\\' {
			b.WriteByte('\\')
		}
		b.WriteRune(c)
	}
	b.WriteByte('"')
	return b.String()
}

// editDistance is the Levenshtein distance, for "did you mean" hints.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := prev[j-1]
			if a[i-1] != b[j-1] {
				c++
			}
			cur[j] = min(c, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func suggest(word string, candidates []string) string {
	best, bestD := "", 3
	for _, c := range candidates {
		if d := editDistance(word, c); d < bestD {
			best, bestD = c, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}
