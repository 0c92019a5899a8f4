package flow

import (
	"encoding/binary"
	"fmt"
	"sort"
)

// Field identifies one matchable or settable field, as named in ovs-fields(7).
// Several fields can be views of one Key member (dl_vlan and vlan_pcp are bits
// of VlanTCI; ip_dscp and nw_ecn are bits of NwTos; tcp_src, udp_src and
// icmp_type all live in TpSrc), exactly as in Open vSwitch.
//
// Field's methods are the one place that knows where each field sits in a Key;
// the flow-text parser, the OpenFlow codec (OXM/NXM) and the bridge's set_field,
// load and move all go through them.
type Field uint8

// The fields. The zero Field is invalid.
const (
	FieldInvalid Field = iota
	FieldInPort
	FieldMetadata
	FieldTunID
	FieldPktMark
	FieldCtState
	FieldCtZone
	FieldCtMark
	FieldReg0
	FieldReg1
	FieldReg2
	FieldReg3
	FieldReg4
	FieldReg5
	FieldReg6
	FieldReg7
	FieldReg8
	FieldReg9
	FieldReg10
	FieldReg11
	FieldReg12
	FieldReg13
	FieldReg14
	FieldReg15
	FieldDlSrc
	FieldDlDst
	FieldDlType
	FieldVlanTCI
	FieldDlVlan  // 12-bit VID of VlanTCI (OpenFlow 1.0 dl_vlan)
	FieldVlanVID // 13-bit VID with the present bit (OXM VLAN_VID)
	FieldVlanPCP
	FieldMplsLabel
	FieldMplsTC
	FieldMplsBOS
	FieldMplsTTL
	FieldNwSrc
	FieldNwDst
	FieldNwProto
	FieldNwTos  // TOS byte with the ECN bits (OVS nw_tos)
	FieldIPDSCP // DSCP, 6 bits (OXM IP_DSCP)
	FieldNwECN
	FieldNwTTL
	FieldNwFrag
	FieldIPv6Src
	FieldIPv6Dst
	FieldIPv6Label
	FieldArpOp
	FieldArpSpa
	FieldArpTpa
	FieldArpSha
	FieldArpTha
	FieldTpSrc
	FieldTpDst
	FieldTCPSrc
	FieldTCPDst
	FieldUDPSrc
	FieldUDPDst
	FieldSCTPSrc
	FieldSCTPDst
	FieldICMPType
	FieldICMPCode
	FieldICMPv6Type
	FieldICMPv6Code
	FieldTCPFlags
	numFields
)

// Prereq is what a packet must be for a field to be meaningful (OpenFlow 1.3
// §7.2.3.6). Matching a field without its prerequisite is an error in OpenFlow
// 1.3 (OFPBMC_BAD_PREREQ); ovs-ofctl requires the matching protocol keyword.
type Prereq uint8

// Prerequisites.
const (
	PrereqNone Prereq = iota
	PrereqVLAN        // an 802.1Q tag (vlan_pcp)
	PrereqMPLS        // dl_type mpls or mpls multicast
	PrereqIPv4
	PrereqIPv6
	PrereqIP // IPv4 or IPv6
	PrereqARP
	PrereqTCP // IP and nw_proto=6
	PrereqUDP
	PrereqSCTP
	PrereqICMP   // IPv4 and nw_proto=1
	PrereqICMPv6 // IPv6 and nw_proto=58
	PrereqL4     // IP and nw_proto one of tcp, udp, sctp (tp_src/tp_dst)
)

// Format says how a field's value is written in flow text.
type Format uint8

// Formats.
const (
	FormatDecimal Format = iota
	FormatHex
	FormatMAC
	FormatIPv4
	FormatIPv6
	FormatPort     // OpenFlow port number or reserved name
	FormatEthType  // hex, 0x0800
	FormatTCPFlags // +syn-ack or hex
	FormatCtState  // +trk+new or hex
	FormatFrag     // no, yes, first, later, not_later
)

// NXM/OXM classes (OpenFlow 1.3 §7.2.3.2; Open vSwitch nicira-ext.h).
const (
	ClassNXM0          = 0x0000 // NXM_OF_*
	ClassNXM1          = 0x0001 // NXM_NX_*
	ClassOpenFlowBasic = 0x8000 // OXM_OF_*
)

// member is a Key struct member; a Field is a bit range of one member.
type member uint8

const (
	mNone member = iota
	mMetadata
	mTunID
	mReg // plus register index
	mInPort
	mPktMark
	mCtMark
	mCtState
	mIPv6Label
	mMplsLSE
	mNwSrc
	mNwDst
	mCtZone
	mDlType
	mVlanTCI
	mTpSrc
	mTpDst
	mTCPFlags
	mDlSrc
	mDlDst
	mArpSha
	mArpTha
	mNwProto
	mNwTos
	mNwTTL
	mNwFrag
	mIPv6Src
	mIPv6Dst
)

// Info describes a field.
type Info struct {
	Name     string   // the name dump-flows prints
	Aliases  []string // other names flow text accepts
	Bits     int      // width of the field in bits
	Maskable bool     // whether arbitrary bitwise masks are allowed
	Prereq   Prereq
	Format   Format
	// OXMClass and OXMField give the OpenFlow 1.3 match encoding;
	// NXMClass and NXMField the Nicira one (used for OpenFlow 1.0 load/move and
	// for fields OXM lacks). OXMClass is zero when the field has no OXM form;
	// NXMName is empty when it has no NXM form.
	OXMClass uint16
	OXMField uint8
	NXMClass uint16
	NXMField uint8
	NXMName  string // NXM_OF_IN_PORT, NXM_NX_REG0, ... as load/move text writes it

	mem   member
	reg   uint8 // register index for mReg
	shift uint8 // bit offset of the field within its member
}

var infos [numFields]Info

func init() {
	def := func(f Field, i Info) { infos[f] = i }
	b := uint16(ClassOpenFlowBasic)
	def(FieldInPort, Info{Name: "in_port", Bits: 32, Format: FormatPort, OXMClass: b, OXMField: 0, NXMClass: 0, NXMField: 0, NXMName: "NXM_OF_IN_PORT", mem: mInPort})
	def(FieldMetadata, Info{Name: "metadata", Bits: 64, Maskable: true, Format: FormatHex, OXMClass: b, OXMField: 2, mem: mMetadata})
	def(FieldTunID, Info{Name: "tun_id", Aliases: []string{"tunnel_id"}, Bits: 64, Maskable: true, Format: FormatHex, OXMClass: b, OXMField: 38, NXMClass: 1, NXMField: 16, NXMName: "NXM_NX_TUN_ID", mem: mTunID})
	def(FieldPktMark, Info{Name: "pkt_mark", Bits: 32, Maskable: true, Format: FormatHex, NXMClass: 1, NXMField: 33, NXMName: "NXM_NX_PKT_MARK", mem: mPktMark})
	def(FieldCtState, Info{Name: "ct_state", Bits: 32, Maskable: true, Format: FormatCtState, NXMClass: 1, NXMField: 105, NXMName: "NXM_NX_CT_STATE", mem: mCtState})
	def(FieldCtZone, Info{Name: "ct_zone", Bits: 16, Format: FormatDecimal, NXMClass: 1, NXMField: 106, NXMName: "NXM_NX_CT_ZONE", mem: mCtZone})
	def(FieldCtMark, Info{Name: "ct_mark", Bits: 32, Maskable: true, Format: FormatHex, NXMClass: 1, NXMField: 107, NXMName: "NXM_NX_CT_MARK", mem: mCtMark})
	for r := 0; r < NumRegs; r++ {
		def(FieldReg0+Field(r), Info{Name: fmt.Sprintf("reg%d", r), Bits: 32, Maskable: true, Format: FormatHex,
			NXMClass: 1, NXMField: uint8(r), NXMName: fmt.Sprintf("NXM_NX_REG%d", r), mem: mReg, reg: uint8(r)})
	}
	def(FieldDlSrc, Info{Name: "dl_src", Aliases: []string{"eth_src"}, Bits: 48, Maskable: true, Format: FormatMAC, OXMClass: b, OXMField: 4, NXMClass: 0, NXMField: 2, NXMName: "NXM_OF_ETH_SRC", mem: mDlSrc})
	def(FieldDlDst, Info{Name: "dl_dst", Aliases: []string{"eth_dst"}, Bits: 48, Maskable: true, Format: FormatMAC, OXMClass: b, OXMField: 3, NXMClass: 0, NXMField: 1, NXMName: "NXM_OF_ETH_DST", mem: mDlDst})
	def(FieldDlType, Info{Name: "dl_type", Aliases: []string{"eth_type"}, Bits: 16, Format: FormatEthType, OXMClass: b, OXMField: 5, NXMClass: 0, NXMField: 3, NXMName: "NXM_OF_ETH_TYPE", mem: mDlType})
	def(FieldVlanTCI, Info{Name: "vlan_tci", Bits: 16, Maskable: true, Format: FormatHex, NXMClass: 0, NXMField: 4, NXMName: "NXM_OF_VLAN_TCI", mem: mVlanTCI})
	def(FieldDlVlan, Info{Name: "dl_vlan", Bits: 12, Format: FormatDecimal, mem: mVlanTCI})
	def(FieldVlanVID, Info{Name: "vlan_vid", Bits: 13, Maskable: true, Format: FormatDecimal, OXMClass: b, OXMField: 6, mem: mVlanTCI})
	def(FieldVlanPCP, Info{Name: "dl_vlan_pcp", Aliases: []string{"vlan_pcp"}, Bits: 3, Prereq: PrereqVLAN, Format: FormatDecimal, OXMClass: b, OXMField: 7, mem: mVlanTCI, shift: 13})
	def(FieldMplsLabel, Info{Name: "mpls_label", Bits: 20, Prereq: PrereqMPLS, Format: FormatDecimal, OXMClass: b, OXMField: 34, mem: mMplsLSE, shift: 12})
	def(FieldMplsTC, Info{Name: "mpls_tc", Bits: 3, Prereq: PrereqMPLS, Format: FormatDecimal, OXMClass: b, OXMField: 35, mem: mMplsLSE, shift: 9})
	def(FieldMplsBOS, Info{Name: "mpls_bos", Bits: 1, Prereq: PrereqMPLS, Format: FormatDecimal, OXMClass: b, OXMField: 36, mem: mMplsLSE, shift: 8})
	def(FieldMplsTTL, Info{Name: "mpls_ttl", Bits: 8, Prereq: PrereqMPLS, Format: FormatDecimal, NXMClass: 1, NXMField: 30, NXMName: "NXM_NX_MPLS_TTL", mem: mMplsLSE})
	def(FieldNwSrc, Info{Name: "nw_src", Aliases: []string{"ip_src", "ipv4_src"}, Bits: 32, Maskable: true, Prereq: PrereqIPv4, Format: FormatIPv4, OXMClass: b, OXMField: 11, NXMClass: 0, NXMField: 7, NXMName: "NXM_OF_IP_SRC", mem: mNwSrc})
	def(FieldNwDst, Info{Name: "nw_dst", Aliases: []string{"ip_dst", "ipv4_dst"}, Bits: 32, Maskable: true, Prereq: PrereqIPv4, Format: FormatIPv4, OXMClass: b, OXMField: 12, NXMClass: 0, NXMField: 8, NXMName: "NXM_OF_IP_DST", mem: mNwDst})
	def(FieldNwProto, Info{Name: "nw_proto", Aliases: []string{"ip_proto"}, Bits: 8, Prereq: PrereqIP, Format: FormatDecimal, OXMClass: b, OXMField: 10, NXMClass: 0, NXMField: 6, NXMName: "NXM_OF_IP_PROTO", mem: mNwProto})
	def(FieldNwTos, Info{Name: "nw_tos", Bits: 8, Prereq: PrereqIP, Format: FormatDecimal, NXMClass: 0, NXMField: 5, NXMName: "NXM_OF_IP_TOS", mem: mNwTos})
	def(FieldIPDSCP, Info{Name: "ip_dscp", Bits: 6, Prereq: PrereqIP, Format: FormatDecimal, OXMClass: b, OXMField: 8, mem: mNwTos, shift: 2})
	def(FieldNwECN, Info{Name: "nw_ecn", Aliases: []string{"ip_ecn"}, Bits: 2, Prereq: PrereqIP, Format: FormatDecimal, OXMClass: b, OXMField: 9, NXMClass: 1, NXMField: 28, NXMName: "NXM_NX_IP_ECN", mem: mNwTos})
	def(FieldNwTTL, Info{Name: "nw_ttl", Bits: 8, Prereq: PrereqIP, Format: FormatDecimal, NXMClass: 1, NXMField: 29, NXMName: "NXM_NX_IP_TTL", mem: mNwTTL})
	def(FieldNwFrag, Info{Name: "ip_frag", Aliases: []string{"nw_frag"}, Bits: 8, Maskable: true, Prereq: PrereqIP, Format: FormatFrag, NXMClass: 1, NXMField: 26, NXMName: "NXM_NX_IP_FRAG", mem: mNwFrag})
	def(FieldIPv6Src, Info{Name: "ipv6_src", Bits: 128, Maskable: true, Prereq: PrereqIPv6, Format: FormatIPv6, OXMClass: b, OXMField: 26, NXMClass: 1, NXMField: 19, NXMName: "NXM_NX_IPV6_SRC", mem: mIPv6Src})
	def(FieldIPv6Dst, Info{Name: "ipv6_dst", Bits: 128, Maskable: true, Prereq: PrereqIPv6, Format: FormatIPv6, OXMClass: b, OXMField: 27, NXMClass: 1, NXMField: 20, NXMName: "NXM_NX_IPV6_DST", mem: mIPv6Dst})
	def(FieldIPv6Label, Info{Name: "ipv6_label", Bits: 20, Maskable: true, Prereq: PrereqIPv6, Format: FormatHex, OXMClass: b, OXMField: 28, NXMClass: 1, NXMField: 27, NXMName: "NXM_NX_IPV6_LABEL", mem: mIPv6Label})
	def(FieldArpOp, Info{Name: "arp_op", Bits: 16, Prereq: PrereqARP, Format: FormatDecimal, OXMClass: b, OXMField: 21, NXMClass: 0, NXMField: 15, NXMName: "NXM_OF_ARP_OP", mem: mNwProto})
	def(FieldArpSpa, Info{Name: "arp_spa", Bits: 32, Maskable: true, Prereq: PrereqARP, Format: FormatIPv4, OXMClass: b, OXMField: 22, NXMClass: 0, NXMField: 16, NXMName: "NXM_OF_ARP_SPA", mem: mNwSrc})
	def(FieldArpTpa, Info{Name: "arp_tpa", Bits: 32, Maskable: true, Prereq: PrereqARP, Format: FormatIPv4, OXMClass: b, OXMField: 23, NXMClass: 0, NXMField: 17, NXMName: "NXM_OF_ARP_TPA", mem: mNwDst})
	def(FieldArpSha, Info{Name: "arp_sha", Bits: 48, Maskable: true, Prereq: PrereqARP, Format: FormatMAC, OXMClass: b, OXMField: 24, NXMClass: 1, NXMField: 17, NXMName: "NXM_NX_ARP_SHA", mem: mArpSha})
	def(FieldArpTha, Info{Name: "arp_tha", Bits: 48, Maskable: true, Prereq: PrereqARP, Format: FormatMAC, OXMClass: b, OXMField: 25, NXMClass: 1, NXMField: 18, NXMName: "NXM_NX_ARP_THA", mem: mArpTha})
	def(FieldTpSrc, Info{Name: "tp_src", Bits: 16, Maskable: true, Prereq: PrereqL4, Format: FormatDecimal, mem: mTpSrc})
	def(FieldTpDst, Info{Name: "tp_dst", Bits: 16, Maskable: true, Prereq: PrereqL4, Format: FormatDecimal, mem: mTpDst})
	def(FieldTCPSrc, Info{Name: "tcp_src", Bits: 16, Maskable: true, Prereq: PrereqTCP, Format: FormatDecimal, OXMClass: b, OXMField: 13, NXMClass: 0, NXMField: 9, NXMName: "NXM_OF_TCP_SRC", mem: mTpSrc})
	def(FieldTCPDst, Info{Name: "tcp_dst", Bits: 16, Maskable: true, Prereq: PrereqTCP, Format: FormatDecimal, OXMClass: b, OXMField: 14, NXMClass: 0, NXMField: 10, NXMName: "NXM_OF_TCP_DST", mem: mTpDst})
	def(FieldUDPSrc, Info{Name: "udp_src", Bits: 16, Maskable: true, Prereq: PrereqUDP, Format: FormatDecimal, OXMClass: b, OXMField: 15, NXMClass: 0, NXMField: 11, NXMName: "NXM_OF_UDP_SRC", mem: mTpSrc})
	def(FieldUDPDst, Info{Name: "udp_dst", Bits: 16, Maskable: true, Prereq: PrereqUDP, Format: FormatDecimal, OXMClass: b, OXMField: 16, NXMClass: 0, NXMField: 12, NXMName: "NXM_OF_UDP_DST", mem: mTpDst})
	def(FieldSCTPSrc, Info{Name: "sctp_src", Bits: 16, Maskable: true, Prereq: PrereqSCTP, Format: FormatDecimal, OXMClass: b, OXMField: 17, mem: mTpSrc})
	def(FieldSCTPDst, Info{Name: "sctp_dst", Bits: 16, Maskable: true, Prereq: PrereqSCTP, Format: FormatDecimal, OXMClass: b, OXMField: 18, mem: mTpDst})
	def(FieldICMPType, Info{Name: "icmp_type", Aliases: []string{"icmpv4_type"}, Bits: 8, Prereq: PrereqICMP, Format: FormatDecimal, OXMClass: b, OXMField: 19, NXMClass: 0, NXMField: 13, NXMName: "NXM_OF_ICMP_TYPE", mem: mTpSrc})
	def(FieldICMPCode, Info{Name: "icmp_code", Aliases: []string{"icmpv4_code"}, Bits: 8, Prereq: PrereqICMP, Format: FormatDecimal, OXMClass: b, OXMField: 20, NXMClass: 0, NXMField: 14, NXMName: "NXM_OF_ICMP_CODE", mem: mTpDst})
	def(FieldICMPv6Type, Info{Name: "icmpv6_type", Bits: 8, Prereq: PrereqICMPv6, Format: FormatDecimal, OXMClass: b, OXMField: 29, NXMClass: 1, NXMField: 21, NXMName: "NXM_NX_ICMPV6_TYPE", mem: mTpSrc})
	def(FieldICMPv6Code, Info{Name: "icmpv6_code", Bits: 8, Prereq: PrereqICMPv6, Format: FormatDecimal, OXMClass: b, OXMField: 30, NXMClass: 1, NXMField: 22, NXMName: "NXM_NX_ICMPV6_CODE", mem: mTpDst})
	def(FieldTCPFlags, Info{Name: "tcp_flags", Bits: 12, Maskable: true, Prereq: PrereqTCP, Format: FormatTCPFlags, NXMClass: 1, NXMField: 34, NXMName: "NXM_NX_TCP_FLAGS", mem: mTCPFlags})

	for f := Field(1); f < numFields; f++ {
		in := &infos[f]
		if in.Name == "" {
			panic(fmt.Sprintf("flow: field %d has no definition", f))
		}
		byName[in.Name] = f
		for _, a := range in.Aliases {
			byName[a] = f
		}
		if in.NXMName != "" {
			byName[in.NXMName] = f
		}
	}
}

var byName = map[string]Field{}

// Info returns the description of f.
func (f Field) Info() *Info { return &infos[f] }

// Valid reports whether f names a field.
func (f Field) Valid() bool { return f > FieldInvalid && f < numFields }

// String returns the field's dump-flows name.
func (f Field) String() string {
	if !f.Valid() {
		return fmt.Sprintf("field(%d)", uint8(f))
	}
	return infos[f].Name
}

// Bits returns the width of f in bits.
func (f Field) Bits() int { return infos[f].Bits }

// Bytes returns the width of f in whole bytes, as encoded on the wire.
func (f Field) Bytes() int { return (infos[f].Bits + 7) / 8 }

// FullMask returns a Value with the low Bits() bits set.
func (f Field) FullMask() Value {
	var v Value
	bits := infos[f].Bits
	for i := 15; bits > 0; i-- {
		if bits >= 8 {
			v[i] = 0xff
		} else {
			v[i] = byte(1<<bits - 1)
		}
		bits -= 8
	}
	return v
}

// Lookup finds a field by any of its names: the dump-flows name, an alias, or
// its NXM name (NXM_OF_ETH_SRC, NXM_NX_REG0).
func Lookup(name string) (Field, bool) {
	f, ok := byName[name]
	return f, ok
}

// Names returns every name Lookup accepts, sorted; for "did you mean" hints.
func Names() []string {
	out := make([]string, 0, len(byName))
	for n := range byName {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// All returns every field in definition order.
func All() []Field {
	out := make([]Field, 0, numFields-1)
	for f := Field(1); f < numFields; f++ {
		out = append(out, f)
	}
	return out
}

// ByOXM finds the field with the given OXM class and field number.
func ByOXM(class uint16, field uint8) (Field, bool) {
	for f := Field(1); f < numFields; f++ {
		in := &infos[f]
		if in.OXMClass == class && in.OXMField == field && in.OXMClass != 0 {
			return f, true
		}
		if in.NXMName != "" && in.NXMClass == class && in.NXMField == field && class < ClassOpenFlowBasic {
			return f, true
		}
	}
	return FieldInvalid, false
}

// Get returns field f of k, right-aligned.
func (f Field) Get(k *Key) Value {
	in := &infos[f]
	switch in.mem {
	case mDlSrc:
		return Bytes(k.DlSrc[:])
	case mDlDst:
		return Bytes(k.DlDst[:])
	case mArpSha:
		return Bytes(k.ArpSha[:])
	case mArpTha:
		return Bytes(k.ArpTha[:])
	case mIPv6Src:
		return Value(k.IPv6Src)
	case mIPv6Dst:
		return Value(k.IPv6Dst)
	}
	raw := getWord(k, in)
	return U64((raw >> in.shift) & lowBits(in.Bits))
}

// Set stores the low Bits() bits of v into field f of k, leaving the other
// bits of the member alone.
func (f Field) Set(k *Key, v Value) {
	in := &infos[f]
	switch in.mem {
	case mDlSrc:
		copy(k.DlSrc[:], v.Tail(6))
		return
	case mDlDst:
		copy(k.DlDst[:], v.Tail(6))
		return
	case mArpSha:
		copy(k.ArpSha[:], v.Tail(6))
		return
	case mArpTha:
		copy(k.ArpTha[:], v.Tail(6))
		return
	case mIPv6Src:
		k.IPv6Src = v
		return
	case mIPv6Dst:
		k.IPv6Dst = v
		return
	}
	m := lowBits(in.Bits) << in.shift
	raw := getWord(k, in)
	raw = raw&^m | (v.Uint64()<<in.shift)&m
	setWord(k, in, raw)
}

func lowBits(n int) uint64 {
	if n >= 64 {
		return ^uint64(0)
	}
	return 1<<n - 1
}

func getWord(k *Key, in *Info) uint64 {
	switch in.mem {
	case mMetadata:
		return k.Metadata
	case mTunID:
		return k.TunID
	case mReg:
		return uint64(k.Regs[in.reg])
	case mInPort:
		return uint64(k.InPort)
	case mPktMark:
		return uint64(k.PktMark)
	case mCtMark:
		return uint64(k.CtMark)
	case mCtState:
		return uint64(k.CtState)
	case mIPv6Label:
		return uint64(k.IPv6Label)
	case mMplsLSE:
		return uint64(k.MplsLSE)
	case mNwSrc:
		return uint64(binary.BigEndian.Uint32(k.NwSrc[:]))
	case mNwDst:
		return uint64(binary.BigEndian.Uint32(k.NwDst[:]))
	case mCtZone:
		return uint64(k.CtZone)
	case mDlType:
		return uint64(k.DlType)
	case mVlanTCI:
		return uint64(k.VlanTCI)
	case mTpSrc:
		return uint64(k.TpSrc)
	case mTpDst:
		return uint64(k.TpDst)
	case mTCPFlags:
		return uint64(k.TCPFlags)
	case mNwProto:
		return uint64(k.NwProto)
	case mNwTos:
		return uint64(k.NwTos)
	case mNwTTL:
		return uint64(k.NwTTL)
	case mNwFrag:
		return uint64(k.NwFrag)
	}
	panic("flow: field without a word member")
}

func setWord(k *Key, in *Info, x uint64) {
	switch in.mem {
	case mMetadata:
		k.Metadata = x
	case mTunID:
		k.TunID = x
	case mReg:
		k.Regs[in.reg] = uint32(x)
	case mInPort:
		k.InPort = uint32(x)
	case mPktMark:
		k.PktMark = uint32(x)
	case mCtMark:
		k.CtMark = uint32(x)
	case mCtState:
		k.CtState = uint32(x)
	case mIPv6Label:
		k.IPv6Label = uint32(x)
	case mMplsLSE:
		k.MplsLSE = uint32(x)
	case mNwSrc:
		binary.BigEndian.PutUint32(k.NwSrc[:], uint32(x))
	case mNwDst:
		binary.BigEndian.PutUint32(k.NwDst[:], uint32(x))
	case mCtZone:
		k.CtZone = uint16(x)
	case mDlType:
		k.DlType = uint16(x)
	case mVlanTCI:
		k.VlanTCI = uint16(x)
	case mTpSrc:
		k.TpSrc = uint16(x)
	case mTpDst:
		k.TpDst = uint16(x)
	case mTCPFlags:
		k.TCPFlags = uint16(x)
	case mNwProto:
		k.NwProto = uint8(x)
	case mNwTos:
		k.NwTos = uint8(x)
	case mNwTTL:
		k.NwTTL = uint8(x)
	case mNwFrag:
		k.NwFrag = uint8(x)
	default:
		panic("flow: field without a word member")
	}
}

// Subfield is a bit range of a field, as in load/move's NXM_NX_REG0[0..15].
type Subfield struct {
	Field Field
	Ofs   uint16 // first bit, counting from the least significant
	NBits uint16 // number of bits; 0 is invalid
}

// Whole returns the subfield covering all of f.
func Whole(f Field) Subfield { return Subfield{Field: f, NBits: uint16(f.Bits())} }
