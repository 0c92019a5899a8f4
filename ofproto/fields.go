package ofproto

import "tapestry/flow"

// Field writes during translation: set_field, load, move and the mod_*
// actions change the key and, for fields the packet carries, append an op
// that rewrites the frame the same way.

// write sets the bits of field f selected by mask (zero: all) to v.
func (x *xlate) write(f flow.Field, v, mask flow.Value) {
	full := f.FullMask()
	if mask.IsZero() {
		mask = full
	}
	mask = mask.And(full)
	switch f {
	case flow.FieldVlanTCI, flow.FieldVlanVID, flow.FieldDlVlan, flow.FieldVlanPCP:
		x.writeVLAN(f, v, mask)
		return
	}
	if !x.prereqs(f) {
		x.notef("%s: prerequisites not met, skipped", f)
		return
	}
	if mask != full {
		// The result keeps some of the packet's bits: they must be exact
		// in the megaflow.
		x.unwildcard(f)
	}
	old := f.Get(&x.key)
	f.Set(&x.key, old.And(mask.Not()).Or(v.And(mask)))
	x.emit(f)
}

// load writes v into the subfield dst (load:V->DST[ofs..end]).
func (x *xlate) load(dst flow.Subfield, v flow.Value) {
	mask := shiftLeft(lowMask(int(dst.NBits)), int(dst.Ofs))
	x.write(dst.Field, shiftLeft(v, int(dst.Ofs)), mask)
}

// move copies the subfield src into dst (move:SRC->DST). The source bits
// decide the result, so they become exact in the megaflow.
func (x *xlate) move(src, dst flow.Subfield) {
	if !x.prereqs(src.Field) {
		x.notef("%s: prerequisites not met, skipped", src.Field)
		return
	}
	x.unwildcard(src.Field)
	v := shiftRight(src.Field.Get(&x.key), int(src.Ofs)).And(lowMask(int(src.NBits)))
	x.load(dst, v)
}

// unwildcard makes field f exact in the megaflow mask.
func (x *xlate) unwildcard(f flow.Field) {
	wk := (*flow.Key)(&x.wc)
	f.Set(wk, f.Get(wk).Or(f.FullMask()))
}

// prereqs reports whether the packet carries field f (OpenFlow 1.3
// §7.2.3.6); actions on missing fields are skipped, as Open vSwitch does. The
// answer depends on the packet's protocol fields, so they become exact.
func (x *xlate) prereqs(f flow.Field) bool {
	k := &x.key
	p := f.Info().Prereq
	if p == flow.PrereqNone || p == flow.PrereqVLAN {
		return true
	}
	x.wc.DlType = 0xffff
	ip4 := k.DlType == flow.EthTypeIPv4
	ip6 := k.DlType == flow.EthTypeIPv6
	switch p {
	case flow.PrereqMPLS:
		return k.DlType == flow.EthTypeMPLS || k.DlType == flow.EthTypeMPLSMcast
	case flow.PrereqIPv4:
		return ip4
	case flow.PrereqIPv6:
		return ip6
	case flow.PrereqIP:
		return ip4 || ip6
	case flow.PrereqARP:
		return k.DlType == flow.EthTypeARP || k.DlType == 0x8035
	}
	if !ip4 && !ip6 {
		return false
	}
	x.wc.NwProto = 0xff
	x.wc.NwFrag = 0xff
	if k.NwFrag&flow.FragLater != 0 {
		return false // later fragments carry no transport header
	}
	switch p {
	case flow.PrereqTCP:
		return k.NwProto == flow.ProtoTCP
	case flow.PrereqUDP:
		return k.NwProto == flow.ProtoUDP
	case flow.PrereqSCTP:
		return k.NwProto == flow.ProtoSCTP
	case flow.PrereqICMP:
		return ip4 && k.NwProto == flow.ProtoICMP
	case flow.PrereqICMPv6:
		return ip6 && k.NwProto == flow.ProtoICMPv6
	case flow.PrereqL4:
		return k.NwProto == flow.ProtoTCP || k.NwProto == flow.ProtoUDP || k.NwProto == flow.ProtoSCTP
	}
	return false
}

// emit appends the op that writes field f's current key value into the
// frame; fields the frame does not carry (registers, metadata) need none.
func (x *xlate) emit(f flow.Field) {
	k := &x.key
	ip4 := k.DlType == flow.EthTypeIPv4
	arp := k.DlType == flow.EthTypeARP || k.DlType == 0x8035
	var o op
	switch f {
	case flow.FieldDlSrc:
		o = op{kind: opSetEthSrc, addr: addr6(k.DlSrc)}
	case flow.FieldDlDst:
		o = op{kind: opSetEthDst, addr: addr6(k.DlDst)}
	case flow.FieldNwSrc, flow.FieldArpSpa:
		o = op{kind: opSetIPv4Src, addr: addr4(k.NwSrc)}
		if arp {
			o.kind = opSetARPSpa
		} else if !ip4 {
			return
		}
	case flow.FieldNwDst, flow.FieldArpTpa:
		o = op{kind: opSetIPv4Dst, addr: addr4(k.NwDst)}
		if arp {
			o.kind = opSetARPTpa
		} else if !ip4 {
			return
		}
	case flow.FieldNwTos, flow.FieldIPDSCP:
		o = op{kind: opSetTOS, u8: k.NwTos}
	case flow.FieldNwECN:
		o = op{kind: opSetECN, u8: k.NwTos & 3}
	case flow.FieldNwTTL:
		o = op{kind: opSetTTL, u8: k.NwTTL}
	case flow.FieldTpSrc, flow.FieldTCPSrc, flow.FieldUDPSrc, flow.FieldSCTPSrc, flow.FieldICMPType, flow.FieldICMPv6Type:
		o = op{kind: opSetL4Src, u16: k.TpSrc, u8: k.NwProto}
	case flow.FieldTpDst, flow.FieldTCPDst, flow.FieldUDPDst, flow.FieldSCTPDst, flow.FieldICMPCode, flow.FieldICMPv6Code:
		o = op{kind: opSetL4Dst, u16: k.TpDst, u8: k.NwProto}
	case flow.FieldArpOp:
		o = op{kind: opSetARPOp, u16: uint16(k.NwProto)}
	case flow.FieldArpSha:
		o = op{kind: opSetARPSha, addr: addr6(k.ArpSha)}
	case flow.FieldArpTha:
		o = op{kind: opSetARPTha, addr: addr6(k.ArpTha)}
	case flow.FieldIPv6Src:
		o = op{kind: opSetIPv6Src, addr: k.IPv6Src}
	case flow.FieldIPv6Dst:
		o = op{kind: opSetIPv6Dst, addr: k.IPv6Dst}
	case flow.FieldIPv6Label:
		o = op{kind: opSetIPv6Label, u32: k.IPv6Label}
	default:
		return
	}
	o.v6 = k.DlType == flow.EthTypeIPv6
	x.ops = append(x.ops, o)
}

// writeVLAN handles writes to vlan_tci and its views. As Open vSwitch does,
// setting a VID or PCP on an untagged packet pushes a tag, and a vlan_tci
// without the CFI bit means "untagged".
func (x *xlate) writeVLAN(f flow.Field, v, mask flow.Value) {
	x.wc.VlanTCI = 0xffff
	tmp := x.key
	old := f.Get(&tmp)
	f.Set(&tmp, old.And(mask.Not()).Or(v.And(mask)))
	tci := tmp.VlanTCI
	switch f {
	case flow.FieldDlVlan, flow.FieldVlanPCP:
		tci |= flow.VlanCFI
	}
	if tci&flow.VlanCFI == 0 {
		tci = 0
	}
	x.setVLAN(tci)
}

// setVLAN makes the frame's outermost tag tci (0: untagged), pushing,
// popping or rewriting as needed.
func (x *xlate) setVLAN(tci uint16) {
	cur := x.key.VlanTCI
	switch {
	case cur == tci:
		return
	case tci == 0:
		x.ops = append(x.ops, op{kind: opPopVLAN})
	case cur == 0:
		x.ops = append(x.ops, op{kind: opPushVLAN, u16: tci &^ flow.VlanCFI, u32: flow.EthTypeVLAN})
	default:
		x.ops = append(x.ops, op{kind: opSetVLAN, u16: tci &^ flow.VlanCFI})
	}
	x.key.VlanTCI = tci
}

// pushVLAN pushes a new outer tag with the given TPID; its TCI copies the
// existing outer tag's, or is zero (OpenFlow 1.3 §7.2.4 push_vlan).
func (x *xlate) pushVLAN(tpid uint16) {
	tci := x.key.VlanTCI | flow.VlanCFI
	x.ops = append(x.ops, op{kind: opPushVLAN, u16: tci &^ flow.VlanCFI, u32: uint32(tpid)})
	x.key.VlanTCI = tci
}

func addr6(m [6]byte) (a [16]byte) {
	copy(a[:], m[:])
	return a
}

func addr4(ip [4]byte) (a [16]byte) {
	copy(a[:], ip[:])
	return a
}

// shiftLeft returns v << n for a 128-bit big-endian value.
func shiftLeft(v flow.Value, n int) flow.Value {
	var out flow.Value
	for i := 0; i < 128; i++ {
		if bit(v, i) && i+n < 128 {
			setBit(&out, i+n)
		}
	}
	return out
}

// shiftRight returns v >> n.
func shiftRight(v flow.Value, n int) flow.Value {
	var out flow.Value
	for i := n; i < 128; i++ {
		if bit(v, i) {
			setBit(&out, i-n)
		}
	}
	return out
}

func bit(v flow.Value, i int) bool { return v[15-i/8]>>(i%8)&1 != 0 }

func setBit(v *flow.Value, i int) { v[15-i/8] |= 1 << (i % 8) }
