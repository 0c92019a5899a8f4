package ofctl

import (
	"strconv"

	"tapestry/flow"
	"tapestry/openflow"
)

// setFieldName is the name set_field prints for a field: Open vSwitch's
// canonical field name, which for several fields is the OXM-style one
// (eth_src, ip_src) rather than the dump-flows match name (dl_src, nw_src).
func setFieldName(f flow.Field) string {
	switch f {
	case flow.FieldDlSrc:
		return "eth_src"
	case flow.FieldDlDst:
		return "eth_dst"
	case flow.FieldDlType:
		return "eth_type"
	case flow.FieldNwSrc:
		return "ip_src"
	case flow.FieldNwDst:
		return "ip_dst"
	case flow.FieldVlanPCP:
		return "vlan_pcp"
	}
	return f.String()
}

// oxmNames are the OXM_OF_* names of the fields that have no NXM name;
// load/move print them and accept them (ovs-fields(7)).
var oxmNames = map[flow.Field]string{
	flow.FieldMetadata:  "OXM_OF_METADATA",
	flow.FieldVlanVID:   "OXM_OF_VLAN_VID",
	flow.FieldVlanPCP:   "OXM_OF_VLAN_PCP",
	flow.FieldMplsLabel: "OXM_OF_MPLS_LABEL",
	flow.FieldMplsTC:    "OXM_OF_MPLS_TC",
	flow.FieldMplsBOS:   "OXM_OF_MPLS_BOS",
	flow.FieldIPDSCP:    "OXM_OF_IP_DSCP",
	flow.FieldSCTPSrc:   "OXM_OF_SCTP_SRC",
	flow.FieldSCTPDst:   "OXM_OF_SCTP_DST",
}

var oxmByName = func() map[string]flow.Field {
	m := make(map[string]flow.Field, len(oxmNames))
	for f, n := range oxmNames {
		m[n] = f
	}
	return m
}()

// lookupField finds a field by any name flow.Lookup knows or by its OXM_OF_
// name. tp_src and tp_dst are Open vSwitch aliases of tcp_src and tcp_dst in
// actions, so they resolve to those.
func lookupField(name string) (flow.Field, bool) {
	f, ok := flow.Lookup(name)
	if !ok {
		f, ok = oxmByName[name]
	}
	switch f {
	case flow.FieldTpSrc:
		f = flow.FieldTCPSrc
	case flow.FieldTpDst:
		f = flow.FieldTCPDst
	}
	return f, ok
}

// subfieldName is the name load and move print: the NXM name, else the OXM
// name, else the plain name.
func subfieldName(f flow.Field) string {
	if n := f.Info().NXMName; n != "" {
		return n
	}
	if n, ok := oxmNames[f]; ok {
		return n
	}
	return f.String()
}

func appendSubfield(b []byte, sf flow.Subfield) []byte {
	b = append(b, subfieldName(sf.Field)...)
	b = append(b, '[')
	switch {
	case sf.Ofs == 0 && int(sf.NBits) >= sf.Field.Bits():
	case sf.NBits == 1:
		b = strconv.AppendUint(b, uint64(sf.Ofs), 10)
	default:
		b = strconv.AppendUint(b, uint64(sf.Ofs), 10)
		b = append(b, ".."...)
		b = strconv.AppendUint(b, uint64(sf.Ofs+sf.NBits-1), 10)
	}
	return append(b, ']')
}

func appendLoad(b []byte, v flow.Value, dst flow.Subfield) []byte {
	b = append(b, "load:"...)
	b = appendHex(b, v)
	b = append(b, "->"...)
	return appendSubfield(b, dst)
}

// appendFieldValue prints a value in its field's syntax.
func appendFieldValue(b []byte, f flow.Field, v flow.Value, names PortNamer) []byte {
	switch f.Info().Format {
	case flow.FormatMAC:
		return appendMAC(b, v.Tail(6))
	case flow.FormatIPv4:
		return appendIPv4(b, v.Tail(4))
	case flow.FormatIPv6:
		return appendIPv6(b, v[:])
	case flow.FormatPort:
		return appendPort(b, uint32(v.Uint64()), names)
	case flow.FormatDecimal:
		return strconv.AppendUint(b, v.Uint64(), 10)
	}
	return appendHex(b, v)
}

// appendSetField prints set_field. Open vSwitch encodes a masked set_field
// as one NXAST_REG_LOAD per contiguous run of mask bits, which print as load;
// OpenFlow 1.0 has no set_field at all, so exact ones print as the legacy
// mod_* action or as load.
func appendSetField(b []byte, a *openflow.Action, names PortNamer, mode fmtMode, ctx *actCtx) []byte {
	f := a.Dst.Field
	masked := !a.Mask.IsZero() && a.Mask != f.FullMask()
	if f == flow.FieldVlanVID || f == flow.FieldVlanTCI {
		ctx.hasVlan = true
	}
	if mode != modeNative && masked {
		return appendMaskedLoads(b, f, a.Value, a.Mask)
	}
	if mode == modeOF10 {
		if out, ok := appendOF10Set(b, f, a.Value); ok {
			return out
		}
		return appendMaskedLoads(b, f, a.Value, f.FullMask())
	}
	b = append(b, "set_field:"...)
	b = appendFieldValue(b, f, a.Value, names)
	if masked {
		b = append(b, '/')
		b = appendFieldValue(b, f, a.Mask, nil)
	}
	b = append(b, "->"...)
	return append(b, setFieldName(f)...)
}

// appendOF10Set prints an exact set_field as the OpenFlow 1.0 action Open
// vSwitch encodes it as, when there is one.
func appendOF10Set(b []byte, f flow.Field, v flow.Value) ([]byte, bool) {
	x := v.Uint64()
	switch f {
	case flow.FieldDlSrc:
		return appendMAC(append(b, "mod_dl_src:"...), v.Tail(6)), true
	case flow.FieldDlDst:
		return appendMAC(append(b, "mod_dl_dst:"...), v.Tail(6)), true
	case flow.FieldNwSrc:
		return appendIPv4(append(b, "mod_nw_src:"...), v.Tail(4)), true
	case flow.FieldNwDst:
		return appendIPv4(append(b, "mod_nw_dst:"...), v.Tail(4)), true
	case flow.FieldIPDSCP:
		return appendNum(b, "mod_nw_tos:", x<<2), true
	case flow.FieldNwTos:
		return appendNum(b, "mod_nw_tos:", x&0xfc), true
	case flow.FieldTCPSrc, flow.FieldUDPSrc:
		return appendNum(b, "mod_tp_src:", x), true
	case flow.FieldTCPDst, flow.FieldUDPDst:
		return appendNum(b, "mod_tp_dst:", x), true
	case flow.FieldVlanVID:
		return appendNum(b, "mod_vlan_vid:", x&flow.VlanVIDMask), true
	case flow.FieldVlanPCP:
		return appendNum(b, "mod_vlan_pcp:", x), true
	}
	return b, false
}

// appendMaskedLoads prints one load per contiguous run of set mask bits,
// lowest bits first.
func appendMaskedLoads(b []byte, f flow.Field, v, mask flow.Value) []byte {
	first := true
	width := f.Bits()
	for ofs := 0; ofs < width; {
		if bitAt(mask, ofs) == 0 {
			ofs++
			continue
		}
		// NXAST_REG_LOAD carries at most 64 bits of value.
		end := ofs
		for end < width && end-ofs < 64 && bitAt(mask, end) == 1 {
			end++
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendLoad(b, shiftRight(v, ofs, end-ofs), flow.Subfield{Field: f, Ofs: uint16(ofs), NBits: uint16(end - ofs)})
		ofs = end
	}
	return b
}

func bitAt(v flow.Value, i int) byte { return v[15-i/8] >> (i % 8) & 1 }

// shiftRight returns n bits of v starting at bit ofs, right-aligned.
func shiftRight(v flow.Value, ofs, n int) flow.Value {
	var out flow.Value
	for i := 0; i < n; i++ {
		out[15-i/8] |= bitAt(v, ofs+i) << (i % 8)
	}
	return out
}

// appendLegacySet prints the OpenFlow 1.0 style mod_* actions; OpenFlow 1.3
// has only set_field, which Open vSwitch uses where it can (mod_tp_src stays
// mod_tp_src when the match does not pin the L4 protocol, and mod_vlan_vid on
// a packet not known to be tagged pushes a tag first).
func appendLegacySet(b []byte, a *openflow.Action, mode fmtMode, ctx *actCtx) []byte {
	x := a.Value.Uint64()
	if mode == modeOF13 {
		sf := func(f flow.Field, v flow.Value) []byte {
			b = append(b, "set_field:"...)
			b = appendFieldValue(b, f, v, nil)
			b = append(b, "->"...)
			return append(b, setFieldName(f)...)
		}
		switch a.Type {
		case openflow.ActModDlSrc:
			return sf(flow.FieldDlSrc, a.Value)
		case openflow.ActModDlDst:
			return sf(flow.FieldDlDst, a.Value)
		case openflow.ActModNwSrc:
			return sf(flow.FieldNwSrc, a.Value)
		case openflow.ActModNwDst:
			return sf(flow.FieldNwDst, a.Value)
		case openflow.ActModNwTos:
			return sf(flow.FieldIPDSCP, flow.U64(x>>2))
		case openflow.ActModNwECN:
			return sf(flow.FieldNwECN, a.Value)
		case openflow.ActModTpSrc, openflow.ActModTpDst:
			if f, ok := l4Field(ctx.ipProto, a.Type == openflow.ActModTpSrc); ok {
				return sf(f, a.Value)
			}
		case openflow.ActModVlanVID, openflow.ActModVlanPCP:
			if !ctx.hasVlan {
				b = append(b, "push_vlan:0x8100,"...)
				ctx.hasVlan = true
			}
			if a.Type == openflow.ActModVlanVID {
				return sf(flow.FieldVlanVID, flow.U64(x|flow.VlanCFI))
			}
			return sf(flow.FieldVlanPCP, a.Value)
		}
	}
	if mode == modeOF10 {
		switch a.Type {
		case openflow.ActModNwECN:
			return appendLoad(b, a.Value, flow.Whole(flow.FieldNwECN))
		case openflow.ActSetTTL:
			return appendLoad(b, flow.U64(uint64(a.TTL)), flow.Whole(flow.FieldNwTTL))
		}
	}
	switch a.Type {
	case openflow.ActModDlSrc:
		return appendMAC(append(b, "mod_dl_src:"...), a.Value.Tail(6))
	case openflow.ActModDlDst:
		return appendMAC(append(b, "mod_dl_dst:"...), a.Value.Tail(6))
	case openflow.ActModNwSrc:
		return appendIPv4(append(b, "mod_nw_src:"...), a.Value.Tail(4))
	case openflow.ActModNwDst:
		return appendIPv4(append(b, "mod_nw_dst:"...), a.Value.Tail(4))
	case openflow.ActModNwTos:
		return appendNum(b, "mod_nw_tos:", x)
	case openflow.ActModNwECN:
		return appendNum(b, "mod_nw_ecn:", x)
	case openflow.ActSetTTL:
		return appendNum(b, "mod_nw_ttl:", uint64(a.TTL))
	case openflow.ActModTpSrc:
		return appendNum(b, "mod_tp_src:", x)
	case openflow.ActModTpDst:
		return appendNum(b, "mod_tp_dst:", x)
	case openflow.ActModVlanVID:
		return appendNum(b, "mod_vlan_vid:", x)
	}
	return appendNum(b, "mod_vlan_pcp:", x)
}

// l4Field is the set_field target for mod_tp_src/mod_tp_dst given the IP
// protocol the match pins.
func l4Field(proto uint8, src bool) (flow.Field, bool) {
	switch proto {
	case flow.ProtoTCP:
		return pick(src, flow.FieldTCPSrc, flow.FieldTCPDst), true
	case flow.ProtoUDP:
		return pick(src, flow.FieldUDPSrc, flow.FieldUDPDst), true
	case flow.ProtoSCTP:
		return pick(src, flow.FieldSCTPSrc, flow.FieldSCTPDst), true
	}
	return 0, false
}

func pick(c bool, a, b flow.Field) flow.Field {
	if c {
		return a
	}
	return b
}
