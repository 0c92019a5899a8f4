package ofctl

import (
	"strconv"

	"tapestry/flow"
	"tapestry/openflow"
)

// Match printing follows Open vSwitch's order (lib/match.c, match_format):
// priority; pkt_mark; ct_state, ct_zone, ct_mark; the protocol shorthand
// (which absorbs dl_type and, for tcp/udp/sctp/icmp, nw_proto); tun_id;
// registers; metadata; in_port; VLAN; dl_src, dl_dst; dl_type when no
// shorthand covered it; L3 addresses; nw_proto or arp_op; ARP hardware
// addresses; nw_tos, nw_ecn, nw_ttl; MPLS; ip_frag; L4 ports or ICMP
// type/code; tcp_flags.

// FormatMatch prints a match as dump-flows does, including "priority=N,"
// when N != 32768. An empty match with the default priority prints "".
func FormatMatch(m *flow.Match, priority uint16, names PortNamer) string {
	return string(appendMatch(nil, m, priority, names))
}

// AppendMatch is FormatMatch appending to b.
func AppendMatch(b []byte, m *flow.Match, priority uint16, names PortNamer) []byte {
	return appendMatch(b, m, priority, names)
}

func appendMatch(b []byte, m *flow.Match, priority uint16, names PortNamer) []byte {
	start := len(b)
	k, mk := &m.Key, &m.Mask
	if priority != openflow.DefaultPriority {
		b = append(b, "priority="...)
		b = strconv.AppendUint(b, uint64(priority), 10)
		b = append(b, ',')
	}
	b = appendU32Masked(b, "pkt_mark", k.PktMark, mk.PktMark)
	if mk.CtState != 0 {
		b = append(b, "ct_state="...)
		b = appendFlags(b, k.CtState, mk.CtState, ctStateNames[:], 0xff)
		b = append(b, ',')
	}
	if mk.CtZone != 0 {
		b = append(b, "ct_zone="...)
		b = strconv.AppendUint(b, uint64(k.CtZone), 10)
		b = append(b, ',')
	}
	b = appendU32Masked(b, "ct_mark", k.CtMark, mk.CtMark)

	skipType, skipProto := false, false
	dlExact := mk.DlType == 0xffff
	protoExact := mk.NwProto == 0xff
	if dlExact {
		if name, withProto := shorthand(k.DlType, k.NwProto, protoExact); name != "" {
			b = append(b, name...)
			b = append(b, ',')
			skipType, skipProto = true, withProto
		}
	}
	b = appendU64Masked(b, "tun_id", k.TunID, mk.TunID)
	for i := range k.Regs {
		if mk.Regs[i] != 0 {
			b = appendU32Masked(b, regNames[i], k.Regs[i], mk.Regs[i])
		}
	}
	b = appendU64Masked(b, "metadata", k.Metadata, mk.Metadata)
	if mk.InPort != 0 {
		b = append(b, "in_port="...)
		b = appendPort(b, k.InPort, names)
		b = append(b, ',')
	}
	b = appendVlan(b, k.VlanTCI, mk.VlanTCI)
	b = appendMACMasked(b, "dl_src", k.DlSrc[:], mk.DlSrc[:])
	b = appendMACMasked(b, "dl_dst", k.DlDst[:], mk.DlDst[:])
	if !skipType && mk.DlType != 0 {
		b = append(b, "dl_type=0x"...)
		b = appendHexPad(b, uint64(k.DlType), 4)
		b = append(b, ',')
	}
	b = appendL3(b, k, mk, skipProto)
	b = appendL4(b, k, mk)
	if len(b) > start && b[len(b)-1] == ',' {
		b = b[:len(b)-1]
	}
	return b
}

// shorthand returns the protocol keyword covering an exact dl_type, and
// whether it also covers nw_proto.
func shorthand(dl uint16, nw uint8, protoExact bool) (string, bool) {
	switch dl {
	case flow.EthTypeIPv4:
		if protoExact {
			switch nw {
			case flow.ProtoICMP:
				return "icmp", true
			case flow.ProtoTCP:
				return "tcp", true
			case protoIGMP:
				return "igmp", true
			case flow.ProtoUDP:
				return "udp", true
			case flow.ProtoSCTP:
				return "sctp", true
			}
		}
		return "ip", false
	case flow.EthTypeIPv6:
		if protoExact {
			switch nw {
			case flow.ProtoICMPv6:
				return "icmp6", true
			case flow.ProtoTCP:
				return "tcp6", true
			case flow.ProtoUDP:
				return "udp6", true
			case flow.ProtoSCTP:
				return "sctp6", true
			}
		}
		return "ipv6", false
	case flow.EthTypeARP:
		return "arp", false
	case ethTypeRARP:
		return "rarp", false
	case flow.EthTypeMPLS:
		return "mpls", false
	case flow.EthTypeMPLSMcast:
		return "mplsm", false
	}
	return "", false
}

// protoIGMP is IGMP's IP protocol number; ovs-ofctl has an "igmp" shorthand.
const protoIGMP = 2

var regNames = func() (n [flow.NumRegs]string) {
	for i := range n {
		n[i] = "reg" + strconv.Itoa(i)
	}
	return n
}()

// appendVlan prints vlan_tci the way Open vSwitch does: as dl_vlan and
// dl_vlan_pcp when the match says "tagged" and matches VID and PCP either
// exactly or not at all, else as vlan_tci=V[/M].
func appendVlan(b []byte, tci, mask uint16) []byte {
	if mask == 0 {
		return b
	}
	vidMask := mask & flow.VlanVIDMask
	pcpMask := mask & flow.VlanPCPMask
	if mask&flow.VlanCFI != 0 && tci&flow.VlanCFI != 0 &&
		(vidMask == 0 || vidMask == flow.VlanVIDMask) &&
		(pcpMask == 0 || pcpMask == flow.VlanPCPMask) && mask != flow.VlanCFI {
		if vidMask != 0 {
			b = append(b, "dl_vlan="...)
			b = strconv.AppendUint(b, uint64(tci&flow.VlanVIDMask), 10)
			b = append(b, ',')
		}
		if pcpMask != 0 {
			b = append(b, "dl_vlan_pcp="...)
			b = strconv.AppendUint(b, uint64(tci>>flow.VlanPCPShift), 10)
			b = append(b, ',')
		}
		return b
	}
	b = append(b, "vlan_tci=0x"...)
	b = appendHexPad(b, uint64(tci), 4)
	if mask != 0xffff {
		b = append(b, "/0x"...)
		b = appendHexPad(b, uint64(mask), 4)
	}
	return append(b, ',')
}

func appendL3(b []byte, k *flow.Key, mk *flow.Mask, skipProto bool) []byte {
	isARP := k.DlType == flow.EthTypeARP || k.DlType == ethTypeRARP
	switch {
	case k.DlType == flow.EthTypeIPv6:
		b = appendIPv6Masked(b, "ipv6_src", k.IPv6Src[:], mk.IPv6Src[:])
		b = appendIPv6Masked(b, "ipv6_dst", k.IPv6Dst[:], mk.IPv6Dst[:])
		if mk.IPv6Label != 0 {
			b = append(b, "ipv6_label=0x"...)
			b = appendHexPad(b, uint64(k.IPv6Label), 5)
			if mk.IPv6Label != 0xfffff {
				b = append(b, "/0x"...)
				b = appendHexPad(b, uint64(mk.IPv6Label), 5)
			}
			b = append(b, ',')
		}
	case isARP:
		b = appendIPv4Masked(b, "arp_spa", k.NwSrc[:], mk.NwSrc[:])
		b = appendIPv4Masked(b, "arp_tpa", k.NwDst[:], mk.NwDst[:])
	default:
		b = appendIPv4Masked(b, "nw_src", k.NwSrc[:], mk.NwSrc[:])
		b = appendIPv4Masked(b, "nw_dst", k.NwDst[:], mk.NwDst[:])
	}
	if !skipProto && mk.NwProto != 0 {
		if isARP {
			b = append(b, "arp_op="...)
		} else {
			b = append(b, "nw_proto="...)
		}
		b = strconv.AppendUint(b, uint64(k.NwProto), 10)
		b = append(b, ',')
	}
	if isARP {
		b = appendMACMasked(b, "arp_sha", k.ArpSha[:], mk.ArpSha[:])
		b = appendMACMasked(b, "arp_tha", k.ArpTha[:], mk.ArpTha[:])
	}
	b = appendU8(b, "nw_tos", uint32(k.NwTos&0xfc), mk.NwTos&0xfc != 0)
	b = appendU8(b, "nw_ecn", uint32(k.NwTos&3), mk.NwTos&3 != 0)
	b = appendU8(b, "nw_ttl", uint32(k.NwTTL), mk.NwTTL != 0)
	const (
		lblMask = 0xfffff000
		tcMask  = 0xe00
		bosMask = 0x100
		ttlMask = 0xff
	)
	b = appendU8(b, "mpls_label", k.MplsLSE>>12, mk.MplsLSE&lblMask != 0)
	b = appendU8(b, "mpls_tc", k.MplsLSE>>9&7, mk.MplsLSE&tcMask != 0)
	b = appendU8(b, "mpls_ttl", k.MplsLSE&ttlMask, mk.MplsLSE&ttlMask != 0)
	b = appendU8(b, "mpls_bos", k.MplsLSE>>8&1, mk.MplsLSE&bosMask != 0)
	if fm := mk.NwFrag & (flow.FragAny | flow.FragLater); fm != 0 {
		b = append(b, "nw_frag="...)
		b = append(b, fragName(k.NwFrag&fm, fm)...)
		b = append(b, ',')
	}
	return b
}

func fragName(v, m uint8) string {
	for _, f := range fragNames {
		if f.mask == m && f.value == v {
			return f.name
		}
	}
	return "<error>"
}

func appendL4(b []byte, k *flow.Key, mk *flow.Mask) []byte {
	icmp := k.NwProto == flow.ProtoICMP && k.DlType == flow.EthTypeIPv4 ||
		k.NwProto == flow.ProtoICMPv6 && k.DlType == flow.EthTypeIPv6
	if icmp {
		b = appendU16Masked(b, "icmp_type", k.TpSrc, mk.TpSrc)
		b = appendU16Masked(b, "icmp_code", k.TpDst, mk.TpDst)
	} else {
		b = appendU16Masked(b, "tp_src", k.TpSrc, mk.TpSrc)
		b = appendU16Masked(b, "tp_dst", k.TpDst, mk.TpDst)
	}
	if mk.TCPFlags != 0 {
		b = append(b, "tcp_flags="...)
		b = appendFlags(b, uint32(k.TCPFlags), uint32(mk.TCPFlags), tcpFlagNames[:], 0xfff)
		b = append(b, ',')
	}
	return b
}

func appendU8(b []byte, name string, v uint32, ok bool) []byte {
	if !ok {
		return b
	}
	b = append(b, name...)
	b = append(b, '=')
	b = strconv.AppendUint(b, uint64(v), 10)
	return append(b, ',')
}

// appendU16Masked prints name=N when exact and name=0xV/0xM otherwise (Open
// vSwitch's format_be16_masked).
func appendU16Masked(b []byte, name string, v, m uint16) []byte {
	if m == 0 {
		return b
	}
	b = append(b, name...)
	b = append(b, '=')
	if m == 0xffff {
		b = strconv.AppendUint(b, uint64(v), 10)
	} else {
		b = append(b, "0x"...)
		b = strconv.AppendUint(b, uint64(v), 16)
		b = append(b, "/0x"...)
		b = strconv.AppendUint(b, uint64(m), 16)
	}
	return append(b, ',')
}

// appendU32Masked prints name=0xV[/0xM] in C's "%#x" style, so zero is "0".
func appendU32Masked(b []byte, name string, v, m uint32) []byte {
	if m == 0 {
		return b
	}
	b = append(b, name...)
	b = append(b, '=')
	b = appendCHex(b, uint64(v))
	if m != ^uint32(0) {
		b = append(b, '/')
		b = appendCHex(b, uint64(m))
	}
	return append(b, ',')
}

// appendU64Masked prints name=0xV[/0xM] in C's "%#x" style, so zero is "0".
func appendU64Masked(b []byte, name string, v, m uint64) []byte {
	if m == 0 {
		return b
	}
	b = append(b, name...)
	b = append(b, '=')
	b = appendCHex(b, v)
	if m != ^uint64(0) {
		b = append(b, '/')
		b = appendCHex(b, m)
	}
	return append(b, ',')
}

// appendCHex is printf("%#x"): 0x-prefixed hex, but plain "0" for zero.
func appendCHex(b []byte, v uint64) []byte {
	if v == 0 {
		return append(b, '0')
	}
	b = append(b, "0x"...)
	return strconv.AppendUint(b, v, 16)
}

func appendHexPad(b []byte, v uint64, width int) []byte {
	const digits = "0123456789abcdef"
	for i := width - 1; i >= 0; i-- {
		b = append(b, digits[v>>(4*uint(i))&15])
	}
	return b
}

func appendMACMasked(b []byte, name string, v, m []byte) []byte {
	if allZero(m) {
		return b
	}
	b = append(b, name...)
	b = append(b, '=')
	b = appendMAC(b, v)
	if !allOnes(m) {
		b = append(b, '/')
		b = appendMAC(b, m)
	}
	return append(b, ',')
}

func appendIPv4Masked(b []byte, name string, v, m []byte) []byte {
	if allZero(m) {
		return b
	}
	b = append(b, name...)
	b = append(b, '=')
	b = appendIPv4(b, v)
	if !allOnes(m) {
		b = append(b, '/')
		if n := cidrLen(flow.Bytes(m), 32); n >= 0 {
			b = strconv.AppendInt(b, int64(n), 10)
		} else {
			b = appendIPv4(b, m)
		}
	}
	return append(b, ',')
}

func appendIPv6Masked(b []byte, name string, v, m []byte) []byte {
	if allZero(m) {
		return b
	}
	b = append(b, name...)
	b = append(b, '=')
	b = appendIPv6(b, v)
	if !allOnes(m) {
		b = append(b, '/')
		if n := cidrLen(flow.Bytes(m), 128); n >= 0 {
			b = strconv.AppendInt(b, int64(n), 10)
		} else {
			b = appendIPv6(b, m)
		}
	}
	return append(b, ',')
}

func allZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}

func allOnes(b []byte) bool {
	for _, x := range b {
		if x != 0xff {
			return false
		}
	}
	return true
}

// wireMatch returns the match as it reads back after a round trip through
// an OpenFlow 1.3 switch: OXM carries the VLAN as VLAN_VID (VID and the
// present bit) plus VLAN_PCP, which exists only for tagged matches, so
// vlan_tci=0x0000 comes back as vlan_tci=0x0000/0x1fff.
func wireMatch(m *flow.Match, version uint8) flow.Match {
	out := *m
	if version != OpenFlow13 || m.Mask.VlanTCI == 0 {
		return out
	}
	const vidCFI = flow.VlanVIDMask | flow.VlanCFI
	vid := m.Key.VlanTCI & vidCFI
	mask := m.Mask.VlanTCI & vidCFI
	tci := vid
	if vid != 0 && m.Mask.VlanTCI&flow.VlanPCPMask != 0 {
		tci |= m.Key.VlanTCI & flow.VlanPCPMask
		mask |= flow.VlanPCPMask
	}
	out.Key.VlanTCI, out.Mask.VlanTCI = tci&mask, mask
	return out
}
