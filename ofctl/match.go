package ofctl

import (
	"math"
	"math/bits"

	"tapestry/flow"
	"tapestry/openflow"
)

// proto is one protocol shorthand of ovs-fields(7): it sets dl_type and,
// for the L4 ones, nw_proto.
type proto struct {
	name    string
	dlType  uint16
	nwProto uint8
	hasNw   bool
}

var protos = [...]proto{
	{"ip", flow.EthTypeIPv4, 0, false},
	{"ipv6", flow.EthTypeIPv6, 0, false},
	{"icmp", flow.EthTypeIPv4, flow.ProtoICMP, true},
	{"icmp6", flow.EthTypeIPv6, flow.ProtoICMPv6, true},
	{"tcp", flow.EthTypeIPv4, flow.ProtoTCP, true},
	{"tcp6", flow.EthTypeIPv6, flow.ProtoTCP, true},
	{"udp", flow.EthTypeIPv4, flow.ProtoUDP, true},
	{"udp6", flow.EthTypeIPv6, flow.ProtoUDP, true},
	{"sctp", flow.EthTypeIPv4, flow.ProtoSCTP, true},
	{"sctp6", flow.EthTypeIPv6, flow.ProtoSCTP, true},
	{"igmp", flow.EthTypeIPv4, protoIGMP, true},
	{"arp", flow.EthTypeARP, 0, false},
	{"rarp", ethTypeRARP, 0, false},
	{"mpls", flow.EthTypeMPLS, 0, false},
	{"mplsm", flow.EthTypeMPLSMcast, 0, false},
}

// ethTypeRARP is reverse ARP's EtherType (RFC 903).
const ethTypeRARP = 0x8035

func lookupProto(s string) (*proto, bool) {
	for i := range protos {
		if protos[i].name == s {
			return &protos[i], true
		}
	}
	return nil, false
}

// setProto applies a protocol shorthand to m.
func setProto(m *flow.Match, p *proto) {
	m.Set(flow.FieldDlType, flow.U64(uint64(p.dlType)))
	if p.hasNw {
		m.Set(flow.FieldNwProto, flow.U64(uint64(p.nwProto)))
	}
}

// ParseMatch parses only match fields (and priority=, which it returns),
// e.g. a dump-flows filter. Fields that ovs-ofctl accepts in flow text but
// that are not match fields (table=, cookie=, actions=...) are errors here.
func ParseMatch(text string, names PortNamer) (flow.Match, uint16, error) {
	var mp matchParser
	prio := uint16(openflow.DefaultPriority)
	p := pairs{s: text}
	for {
		key, value, _, ok := p.next()
		if !ok {
			break
		}
		if key == "priority" {
			v, err := parsePriority(value)
			if err != nil {
				return flow.Match{}, 0, err
			}
			prio = v
			continue
		}
		if err := mp.field(key, value, names); err != nil {
			return flow.Match{}, 0, err
		}
	}
	if err := mp.checkPrereqs(); err != nil {
		return flow.Match{}, 0, err
	}
	return mp.m, prio, nil
}

// ParseFlowKey parses a packet description for tracing
// ("in_port=1,icmp,dl_src=..,nw_dst=.."), like ofproto/trace's flow
// argument: the protocol shorthand sets dl_type and nw_proto and every named
// field is taken as the packet's value. Masks are not allowed.
func ParseFlowKey(text string, names PortNamer) (flow.Key, error) {
	var mp matchParser
	p := pairs{s: text}
	for {
		key, value, _, ok := p.next()
		if !ok {
			break
		}
		if _, _, masked := splitMask(value); masked {
			return flow.Key{}, errorf("%s=%s: a packet description takes exact values, not masks", key, value)
		}
		if err := mp.field(key, value, names); err != nil {
			return flow.Key{}, err
		}
	}
	if err := mp.checkPrereqs(); err != nil {
		return flow.Key{}, err
	}
	return mp.m.Key, nil
}

func parsePriority(value string) (uint16, error) {
	v, ok := parseUint(value)
	if !ok || v > math.MaxUint16 {
		return 0, errorf("invalid priority %q", value)
	}
	return uint16(v), nil
}

// matchParser accumulates a match and remembers which fields the text
// named, so that prerequisites are checked for those fields only (several
// fields are views of the same key bits: tp_src, tcp_src and icmp_type).
type matchParser struct {
	m     flow.Match
	named [2]uint64 // bit f set when field f was named
}

// field applies one "key[=value]" of a match.
func (mp *matchParser) field(key, value string, names PortNamer) error {
	m := &mp.m
	if value == "" {
		if p, ok := lookupProto(key); ok {
			setProto(m, p)
			return nil
		}
	}
	f, ok := flow.Lookup(key)
	if !ok {
		if _, isProto := lookupProto(key); isProto {
			return errorf("%s=%s: %q is a protocol keyword and takes no value", key, value, key)
		}
		return errorf("unknown field %q%s", key, suggest(key, matchWords()))
	}
	if value == "" {
		return errorf("field %q needs a value (%s=VALUE)", key, key)
	}
	v, mask, err := parseFieldValue(f, value, names)
	if err != nil {
		return wrapf(err, "%s", key)
	}
	setField(m, f, v, mask)
	mp.named[f/64] |= 1 << (f % 64)
	return nil
}

// setField stores a parsed value, handling the fields that are views of
// shared bits: dl_vlan and dl_vlan_pcp imply an 802.1Q tag (the CFI bit, as
// Open vSwitch does), dl_vlan=0xffff means "no tag", nw_tos covers only the
// DSCP bits of the TOS byte.
func setField(m *flow.Match, f flow.Field, v, mask flow.Value) {
	switch f {
	case flow.FieldDlVlan:
		vid := v.Uint64()
		if vid == 0xffff { // OFP_VLAN_NONE: untagged
			setVlanBits(m, 0, 0xffff)
			return
		}
		setVlanBits(m, uint16(vid)&flow.VlanVIDMask|flow.VlanCFI, flow.VlanVIDMask|flow.VlanCFI)
		return
	case flow.FieldVlanPCP:
		pcp := uint16(v.Uint64()) << flow.VlanPCPShift
		setVlanBits(m, pcp|flow.VlanCFI, flow.VlanPCPMask|flow.VlanCFI)
		return
	case flow.FieldNwTos:
		m.SetMasked(f, flow.U64(v.Uint64()&0xfc), flow.U64(0xfc))
		return
	case flow.FieldICMPType, flow.FieldICMPv6Type:
		// Open vSwitch matches the whole 16-bit tp_src for an ICMP type,
		// which is why dump-flows prints it as a plain number.
		m.SetMasked(flow.FieldTpSrc, v, flow.U64(0xffff))
		return
	case flow.FieldICMPCode, flow.FieldICMPv6Code:
		m.SetMasked(flow.FieldTpDst, v, flow.U64(0xffff))
		return
	}
	m.SetMasked(f, v, mask)
}

// setVlanBits replaces the given bits of vlan_tci, keeping the others: a
// dl_vlan after a dl_vlan_pcp keeps the PCP, as ovs-ofctl does.
func setVlanBits(m *flow.Match, val, bitsMask uint16) {
	m.Key.VlanTCI = m.Key.VlanTCI&^bitsMask | val&bitsMask
	m.Mask.VlanTCI |= bitsMask
	m.Key.VlanTCI &= m.Mask.VlanTCI
}

// parseFieldValue parses a field's value (and mask) in the field's syntax.
// The mask is the field's full mask when none is given.
func parseFieldValue(f flow.Field, s string, names PortNamer) (v, mask flow.Value, err error) {
	info := f.Info()
	full := f.FullMask()
	switch info.Format {
	case flow.FormatPort:
		p, ok := parsePort(s, names)
		if !ok {
			return v, mask, errorf("invalid or unknown port %q", s)
		}
		return flow.U64(uint64(p)), full, nil
	case flow.FormatTCPFlags:
		return parseFlags(s, tcpFlagNames[:], 0xfff, "TCP flag")
	case flow.FormatCtState:
		return parseFlags(s, ctStateNames[:], 0xff, "connection tracking state")
	case flow.FormatFrag:
		for _, fr := range fragNames {
			if s == fr.name {
				return flow.U64(uint64(fr.value)), flow.U64(uint64(fr.mask)), nil
			}
		}
		return v, mask, errorf("invalid fragment type %q (want no, yes, first, later or not_later)", s)
	}
	vs, ms, masked := splitMask(s)
	if masked && !info.Maskable {
		return v, mask, errorf("%q: field does not support masking", s)
	}
	if v, err = parseScalar(f, vs, names); err != nil {
		return v, mask, err
	}
	mask = full
	if masked {
		if mask, err = parseMaskPart(f, ms); err != nil {
			return v, mask, err
		}
	}
	return v, mask, nil
}

// parseScalar parses one value of field f (no mask).
func parseScalar(f flow.Field, s string, names PortNamer) (flow.Value, error) {
	info := f.Info()
	switch info.Format {
	case flow.FormatMAC:
		mac, ok := parseMAC(s)
		if !ok {
			return flow.Value{}, errorf("invalid Ethernet address %q", s)
		}
		return flow.Bytes(mac[:]), nil
	case flow.FormatIPv4:
		a, ok := parseIPv4(s)
		if !ok {
			return flow.Value{}, errorf("invalid IP address %q", s)
		}
		return u32Value(a), nil
	case flow.FormatIPv6:
		a, ok := parseIPv6(s)
		if !ok {
			return flow.Value{}, errorf("invalid IPv6 address %q", s)
		}
		return flow.Value(a), nil
	case flow.FormatPort:
		p, ok := parsePort(s, names)
		if !ok {
			return flow.Value{}, errorf("invalid or unknown port %q", s)
		}
		return flow.U64(uint64(p)), nil
	}
	v, ok := parseWide(s)
	if !ok {
		return v, errorf("invalid value %q (want a decimal or 0x-prefixed hex integer)", s)
	}
	bitsWide := info.Bits
	if f == flow.FieldDlVlan {
		if v.Uint64() == 0xffff && fits(v, 16) {
			return v, nil // OFP_VLAN_NONE
		}
	}
	if !fits(v, bitsWide) {
		return v, errorf("value %q does not fit into %d bits", s, bitsWide)
	}
	return v, nil
}

// parseMaskPart parses the part after '/': a prefix length for IP
// addresses, otherwise a value in the field's own syntax.
func parseMaskPart(f flow.Field, s string) (flow.Value, error) {
	info := f.Info()
	if info.Format == flow.FormatIPv4 || info.Format == flow.FormatIPv6 {
		if n, ok := parseUint(s); ok && s[0] != '0' || s == "0" {
			if !ok || int(n) > info.Bits {
				return flow.Value{}, errorf("%q: prefix length not between 0 and %d", s, info.Bits)
			}
			return prefixMask(int(n), info.Bits), nil
		}
	}
	m, err := parseScalar(f, s, nil)
	if err != nil {
		return m, wrapf(err, "mask")
	}
	return m, nil
}

// checkPrereqs rejects fields whose prerequisites (ovs-fields(7) "Field
// Prerequisites") the match does not establish, naming the field and what it
// needs. Real ovs-ofctl silently drops such fields for OpenFlow 1.0; making
// the mistake visible is kinder, and OpenFlow 1.3 switches reject them too
// (OFPBMC_BAD_PREREQ).
func (mp *matchParser) checkPrereqs() error {
	m := &mp.m
	dl, dlOK := exact16(m.Key.DlType, m.Mask.DlType)
	nw, nwOK := m.Key.NwProto, m.Mask.NwProto == 0xff
	for w, word := range mp.named {
		for word != 0 {
			bit := bits.TrailingZeros64(word)
			word &^= 1 << bit
			f := flow.Field(w*64 + bit)
			if ok, need := prereqOK(f, dl, dlOK, nw, nwOK); !ok {
				return errorf("field %q requires %s", f.String(), need)
			}
		}
	}
	return nil
}

// prereqOK reports whether a packet with the given (exact, when dlOK/nwOK)
// dl_type and nw_proto satisfies field f's prerequisite, and if not, what f
// needs in words.
func prereqOK(f flow.Field, dl uint16, dlOK bool, nw uint8, nwOK bool) (bool, string) {
	isIP := dlOK && (dl == flow.EthTypeIPv4 || dl == flow.EthTypeIPv6)
	isARP := dlOK && (dl == flow.EthTypeARP || dl == ethTypeRARP)
	switch f.Info().Prereq {
	case flow.PrereqMPLS:
		return dlOK && (dl == flow.EthTypeMPLS || dl == flow.EthTypeMPLSMcast), "mpls or mplsm"
	case flow.PrereqIPv4:
		if f == flow.FieldNwSrc || f == flow.FieldNwDst {
			return dlOK && dl == flow.EthTypeIPv4 || isARP, "ip, arp or rarp"
		}
		return dlOK && dl == flow.EthTypeIPv4, "ip (dl_type=0x0800)"
	case flow.PrereqIPv6:
		return dlOK && dl == flow.EthTypeIPv6, "ipv6 (dl_type=0x86dd)"
	case flow.PrereqIP:
		if f == flow.FieldNwProto {
			return isIP || isARP, "ip, ipv6, arp or rarp"
		}
		return isIP, "ip or ipv6"
	case flow.PrereqARP:
		return isARP, "arp or rarp"
	case flow.PrereqTCP:
		return isIP && nwOK && nw == flow.ProtoTCP, "tcp or tcp6"
	case flow.PrereqUDP:
		return isIP && nwOK && nw == flow.ProtoUDP, "udp or udp6"
	case flow.PrereqSCTP:
		return isIP && nwOK && nw == flow.ProtoSCTP, "sctp or sctp6"
	case flow.PrereqICMP, flow.PrereqICMPv6:
		// ovs-ofctl accepts icmp_type/icmp_code for ICMPv6 too.
		return dlOK && nwOK && (dl == flow.EthTypeIPv4 && nw == flow.ProtoICMP || dl == flow.EthTypeIPv6 && nw == flow.ProtoICMPv6), "icmp or icmp6"
	case flow.PrereqL4:
		return isIP && nwOK && (nw == flow.ProtoTCP || nw == flow.ProtoUDP || nw == flow.ProtoSCTP), "tcp, udp or sctp"
	}
	return true, ""
}

func exact16(v, m uint16) (uint16, bool) { return v, m == 0xffff }
