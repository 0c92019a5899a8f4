package openflow

import (
	"tapestry/flow"
)

// OXM TLVs (OpenFlow 1.3 §7.2.3.2): a 32-bit header class(16) field(7)
// hasmask(1) length(8), then the value and, with hasmask, a mask of the same
// width. Open vSwitch puts Nicira NXM headers (classes 0x0000 and 0x0001) in
// the same list for fields OpenFlow lacks (registers, ct_state, pkt_mark...),
// and so do we: a field is encoded with its OXM header when it has one and
// with its NXM header otherwise.

// OXM classes beyond the flow package's.
const (
	oxmClassExperimenter = 0xffff
	oxmHeaderLen         = 4
	matchTypeOXM         = 1 // OFPMT_OXM
	matchHeaderLen       = 4 // ofp_match type + length
)

// Field lookup tables indexed by the 7-bit field number, one per class; built
// from the flow registry so the registry stays the single source of truth.
var (
	oxmBasic [128]flow.Field
	nxm0     [128]flow.Field
	nxm1     [128]flow.Field
)

func init() {
	for _, f := range flow.All() {
		in := f.Info()
		if in.OXMClass == flow.ClassOpenFlowBasic {
			oxmBasic[in.OXMField] = f
		}
		if in.NXMName != "" {
			switch in.NXMClass {
			case flow.ClassNXM0:
				nxm0[in.NXMField] = f
			case flow.ClassNXM1:
				nxm1[in.NXMField] = f
			}
		}
	}
}

// oxmField finds the field a TLV header names.
func oxmField(class uint16, field uint8) flow.Field {
	if field >= 128 {
		return flow.FieldInvalid
	}
	switch class {
	case flow.ClassOpenFlowBasic:
		return oxmBasic[field]
	case flow.ClassNXM0:
		return nxm0[field]
	case flow.ClassNXM1:
		return nxm1[field]
	}
	return flow.FieldInvalid
}

// oxmWidth is the on-wire width of f's value under class. It differs from
// f.Bytes() where the wire rounds up to a whole word (20-bit labels travel in
// 32 bits) and for NXM_OF_IN_PORT, OpenFlow 1.0's 16-bit port.
func oxmWidth(f flow.Field, class uint16) int {
	if f == flow.FieldInPort && class == flow.ClassNXM0 {
		return 2
	}
	if f.Bits() == 20 {
		return 4
	}
	return f.Bytes()
}

// oxmHeaderFor returns the class and field number f is encoded with: its OXM
// form when it has one, else its NXM form. ok is false for fields with
// neither (tp_src, dl_vlan: they only exist in flow text).
func oxmHeaderFor(f flow.Field) (class uint16, field uint8, ok bool) {
	in := f.Info()
	if in.OXMClass != 0 {
		return in.OXMClass, in.OXMField, true
	}
	if in.NXMName != "" {
		return in.NXMClass, in.NXMField, true
	}
	return 0, 0, false
}

// appendOXM appends one TLV for f with value v and mask m (right-aligned).
// A zero or full mask writes the unmasked form.
func appendOXM(dst []byte, f flow.Field, v, m flow.Value) []byte {
	class, field, _ := oxmHeaderFor(f)
	w := oxmWidth(f, class)
	full := f.FullMask()
	masked := !m.IsZero() && m != full
	n := w
	hm := byte(0)
	if masked {
		n, hm = 2*w, 1
	}
	dst = append(dst, byte(class>>8), byte(class), field<<1|hm, byte(n))
	dst = append(dst, v.Tail(w)...)
	if masked {
		dst = append(dst, m.Tail(w)...)
	}
	return dst
}

// oxmTLV is one parsed TLV.
type oxmTLV struct {
	class   uint16
	field   uint8
	hasMask bool
	length  int
	value   []byte
	mask    []byte
}

// parseOXMTLV reads the TLV at the start of b.
func parseOXMTLV(b []byte) (t oxmTLV, n int, err error) {
	if len(b) < oxmHeaderLen {
		return t, 0, errorf(ErrBadMatch, BMCBadLen, "OXM header truncated to %d bytes", len(b))
	}
	t.class = be16(b)
	t.field = b[2] >> 1
	t.hasMask = b[2]&1 != 0
	t.length = int(b[3])
	n = oxmHeaderLen + t.length
	if len(b) < n {
		return t, 0, errorf(ErrBadMatch, BMCBadLen, "OXM 0x%04x:%d length %d runs past the match", t.class, t.field, t.length)
	}
	body := b[oxmHeaderLen:n]
	if t.class == oxmClassExperimenter {
		return t, n, nil
	}
	if t.hasMask {
		if t.length%2 != 0 {
			return t, 0, errorf(ErrBadMatch, BMCBadLen, "masked OXM 0x%04x:%d has odd length %d", t.class, t.field, t.length)
		}
		t.value, t.mask = body[:t.length/2], body[t.length/2:]
	} else {
		t.value = body
	}
	return t, n, nil
}

// fieldSet is a bitset of flow fields, for duplicate detection.
type fieldSet [2]uint64

func (s *fieldSet) testAndSet(f flow.Field) bool {
	w, b := f/64, uint64(1)<<(f%64)
	had := s[w]&b != 0
	s[w] |= b
	return had
}

// decodeOXMFields parses a list of TLVs into m, enforcing what OpenFlow 1.3
// §7.2.3 requires: known fields (BAD_FIELD), exact lengths (BAD_LEN), masks
// only on maskable fields (BAD_MASK), values in range (BAD_VALUE), no field
// twice (DUP_FIELD) and prerequisites met by earlier fields (BAD_PREREQ; the
// spec and Open vSwitch both require prerequisites to come first).
func decodeOXMFields(b []byte, m *flow.Match) error {
	var seen fieldSet
	for len(b) > 0 {
		t, n, err := parseOXMTLV(b)
		if err != nil {
			return err
		}
		tlv := b[:n]
		b = b[n:]
		f := oxmField(t.class, t.field)
		if t.class == oxmClassExperimenter {
			if f, err = experimenterField(&t, tlv[oxmHeaderLen:]); err != nil {
				return err
			}
		}
		if f == flow.FieldInvalid {
			return errorf(ErrBadMatch, BMCBadField, "unknown OXM field class 0x%04x field %d", t.class, t.field)
		}
		if err := checkOXMValue(f, &t); err != nil {
			return err
		}
		if seen.testAndSet(f) {
			return errorf(ErrBadMatch, BMCDupField, "field %v appears twice", f)
		}
		if !prereqOK(f.Info().Prereq, m) {
			return errorf(ErrBadMatch, BMCBadPrereq, "field %v lacks its prerequisite", f)
		}
		v := flow.Bytes(t.value)
		mask := f.FullMask()
		if t.hasMask {
			mask = flow.Bytes(t.mask)
		}
		m.SetMasked(f, v, mask)
		if wide, ok := icmpWide(f); ok {
			// The model matches ICMP type and code on all of tp_src/tp_dst
			// (see putICMP).
			m.SetMasked(wide, v, wide.FullMask())
		}
		if f == flow.FieldVlanPCP {
			// A PCP match implies a tag (OpenFlow 1.3 §7.2.3.7).
			m.Key.VlanTCI |= flow.VlanCFI
			m.Mask.VlanTCI |= flow.VlanCFI
		}
	}
	return nil
}

// checkOXMValue validates a TLV's length, mask and value for field f.
func checkOXMValue(f flow.Field, t *oxmTLV) error {
	w := oxmWidth(f, t.class)
	if len(t.value) != w {
		return errorf(ErrBadMatch, BMCBadLen, "field %v has %d bytes, want %d", f, len(t.value), w)
	}
	full := f.FullMask()
	if f == flow.FieldInPort && t.class == flow.ClassNXM0 {
		full = flow.U64(0xffff)
	}
	v := flow.Bytes(t.value)
	if v.And(full.Not()) != (flow.Value{}) {
		return errorf(ErrBadMatch, BMCBadValue, "value 0x%x out of range for %v", t.value, f)
	}
	if t.hasMask {
		m := flow.Bytes(t.mask)
		if m.And(full.Not()) != (flow.Value{}) || (!f.Info().Maskable && m != full && !m.IsZero()) {
			return errorf(ErrBadMatch, BMCBadMask, "mask 0x%x not allowed for %v", t.mask, f)
		}
	}
	return checkFieldValue(f, v)
}

// checkFieldValue applies the value rules Open vSwitch's mf_is_value_valid
// enforces beyond the field width.
func checkFieldValue(f flow.Field, v flow.Value) error {
	x := v.Uint64()
	bad := false
	switch f {
	case flow.FieldInPort:
		// OpenFlow 1.3 ports 0xff00..0xfffffeff have no 1.0 equivalent;
		// Open vSwitch rejects them (ofputil_port_from_ofp11).
		bad = x >= 0xff00 && x < 0xffffff00
	case flow.FieldArpOp:
		bad = x > 0xff
	case flow.FieldNwTos:
		bad = x&0x03 != 0
	case flow.FieldNwFrag:
		bad = x > 3
	}
	if bad {
		return errorf(ErrBadMatch, BMCBadValue, "value %#x not allowed for %v", x, f)
	}
	return nil
}

// prereqOK reports whether m already matches what p requires.
func prereqOK(p flow.Prereq, m *flow.Match) bool {
	k, mk := &m.Key, &m.Mask
	ethIs := func(t uint16) bool { return mk.DlType == 0xffff && k.DlType == t }
	ip4, ip6 := ethIs(flow.EthTypeIPv4), ethIs(flow.EthTypeIPv6)
	protoIs := func(p uint8) bool { return mk.NwProto == 0xff && k.NwProto == p }
	switch p {
	case flow.PrereqNone:
		return true
	case flow.PrereqVLAN:
		return mk.VlanTCI&flow.VlanCFI != 0 && k.VlanTCI&flow.VlanCFI != 0
	case flow.PrereqMPLS:
		return ethIs(flow.EthTypeMPLS) || ethIs(flow.EthTypeMPLSMcast)
	case flow.PrereqIPv4:
		return ip4
	case flow.PrereqIPv6:
		return ip6
	case flow.PrereqIP:
		return ip4 || ip6
	case flow.PrereqARP:
		return ethIs(flow.EthTypeARP) || ethIs(0x8035)
	case flow.PrereqTCP:
		return (ip4 || ip6) && protoIs(flow.ProtoTCP)
	case flow.PrereqUDP:
		return (ip4 || ip6) && protoIs(flow.ProtoUDP)
	case flow.PrereqSCTP:
		return (ip4 || ip6) && protoIs(flow.ProtoSCTP)
	case flow.PrereqICMP:
		return ip4 && protoIs(flow.ProtoICMP)
	case flow.PrereqICMPv6:
		return ip6 && protoIs(flow.ProtoICMPv6)
	case flow.PrereqL4:
		return (ip4 || ip6) && (protoIs(flow.ProtoTCP) || protoIs(flow.ProtoUDP) || protoIs(flow.ProtoSCTP))
	}
	return false
}

// decodeMatch13 parses an ofp_match (OFPMT_OXM) at the start of b into m and
// returns its size including padding to 8 bytes.
func decodeMatch13(b []byte, m *flow.Match) (int, error) {
	*m = flow.Match{}
	if len(b) < matchHeaderLen {
		return 0, errorf(ErrBadMatch, BMCBadLen, "match truncated")
	}
	typ, n := be16(b), int(be16(b[2:]))
	if typ != matchTypeOXM {
		return 0, errorf(ErrBadMatch, BMCBadType, "match type %d is not OFPMT_OXM", typ)
	}
	padded := (n + 7) &^ 7
	if n < matchHeaderLen || padded > len(b) {
		return 0, errorf(ErrBadMatch, BMCBadLen, "match length %d does not fit in %d bytes", n, len(b))
	}
	if err := decodeOXMFields(b[matchHeaderLen:n], m); err != nil {
		return 0, err
	}
	return padded, nil
}

// appendMatch13 appends m as an ofp_match of type OXM, padded to 8 bytes.
func appendMatch13(dst []byte, m *flow.Match) ([]byte, error) {
	start := len(dst)
	dst = append(dst, 0, matchTypeOXM, 0, 0)
	dst, err := appendOXMFields(dst, m)
	if err != nil {
		return dst[:start], err
	}
	n := len(dst) - start
	dst[start+2], dst[start+3] = byte(n>>8), byte(n)
	return padTo8(dst, start), nil
}

// allOXMFields lists the fields that have a wire header, in registry order.
func allOXMFields() []flow.Field {
	var out []flow.Field
	for _, f := range flow.All() {
		if _, _, ok := oxmHeaderFor(f); ok {
			out = append(out, f)
		}
	}
	return out
}

// icmpWide returns the 16-bit member an ICMP type or code field is a view of.
func icmpWide(f flow.Field) (flow.Field, bool) {
	switch f {
	case flow.FieldICMPType, flow.FieldICMPv6Type:
		return flow.FieldTpSrc, true
	case flow.FieldICMPCode, flow.FieldICMPv6Code:
		return flow.FieldTpDst, true
	}
	return flow.FieldInvalid, false
}
