package openflow

// Table features (OpenFlow 1.3 §7.3.5.5): per table a fixed part and a list
// of properties (type, length, payload padded to 8). Properties are kept as
// raw payloads: a switch only needs to parse requests (to see whether the
// controller tries to reconfigure tables) and to build replies, which
// TableFeatureProps helps with.

// Table feature property types (OFPTFPT_*).
const (
	TFPInstructions       uint16 = 0
	TFPInstructionsMiss   uint16 = 1
	TFPNextTables         uint16 = 2
	TFPNextTablesMiss     uint16 = 3
	TFPWriteActions       uint16 = 4
	TFPWriteActionsMiss   uint16 = 5
	TFPApplyActions       uint16 = 6
	TFPApplyActionsMiss   uint16 = 7
	TFPMatch              uint16 = 8
	TFPWildcards          uint16 = 10
	TFPWriteSetField      uint16 = 12
	TFPWriteSetFieldMiss  uint16 = 13
	TFPApplySetField      uint16 = 14
	TFPApplySetFieldMiss  uint16 = 15
	TFPExperimenter       uint16 = 0xfffe
	TFPExperimenterMiss   uint16 = 0xffff
	tableFeaturesFixedLen        = 64
)

// TableFeatureProp is one property; Data is its payload without padding.
type TableFeatureProp struct {
	PropType uint16
	Data     []byte
}

// TableFeatures describes one table.
type TableFeatures struct {
	Table         uint8
	Name          string
	MetadataMatch uint64
	MetadataWrite uint64
	Config        uint32
	MaxEntries    uint32
	Props         []TableFeatureProp
}

func decodeTableFeaturesList(b []byte) ([]TableFeatures, error) {
	var out []TableFeatures
	for len(b) > 0 {
		if len(b) < tableFeaturesFixedLen {
			return nil, errorf(ErrTableFeaturesFailed, TFFCBadLen, "table features truncated to %d bytes", len(b))
		}
		n := int(be16(b))
		if n < tableFeaturesFixedLen || n > len(b) {
			return nil, errorf(ErrTableFeaturesFailed, TFFCBadLen, "table features of %d bytes", n)
		}
		t := TableFeatures{Table: b[2], Name: cstring(b[8:40]), MetadataMatch: be64(b[40:]),
			MetadataWrite: be64(b[48:]), Config: be32(b[56:]), MaxEntries: be32(b[60:])}
		for p := b[tableFeaturesFixedLen:n]; len(p) > 0; {
			if len(p) < 4 {
				return nil, errorf(ErrTableFeaturesFailed, TFFCBadLen, "property truncated")
			}
			pl := int(be16(p[2:]))
			if pl < 4 || pl > len(p) {
				return nil, errorf(ErrTableFeaturesFailed, TFFCBadLen, "property of %d bytes", pl)
			}
			t.Props = append(t.Props, TableFeatureProp{PropType: be16(p), Data: clone(p[4:pl])})
			adv := (pl + 7) &^ 7
			if adv > len(p) {
				return nil, errorf(ErrTableFeaturesFailed, TFFCBadLen, "property padding missing")
			}
			p = p[adv:]
		}
		out = append(out, t)
		b = b[n:]
	}
	return out, nil
}

func appendTableFeaturesList(dst []byte, ts []TableFeatures) []byte {
	for i := range ts {
		t := &ts[i]
		start := len(dst)
		dst = pad(append(dst, 0, 0, t.Table), 5)
		dst = putString(dst, t.Name, tableNameLen)
		dst = put32(put32(put64(put64(dst, t.MetadataMatch), t.MetadataWrite), t.Config), t.MaxEntries)
		for _, p := range t.Props {
			ps := len(dst)
			dst = append(put16(put16(dst, p.PropType), uint16(4+len(p.Data))), p.Data...)
			dst = padTo8(dst, ps)
		}
		n := len(dst) - start
		dst[start], dst[start+1] = byte(n>>8), byte(n)
	}
	return dst
}

// DefaultTableFeatures describes n tables the way tapestry implements
// them: every instruction, every table after this one as next table, the
// actions the codec knows, and every field with an OXM or NXM header as
// matchable, wildcardable and settable.
func DefaultTableFeatures(n int, maxEntries uint32) []TableFeatures {
	insts := []uint16{instGotoTable, instWriteMetadata, instWriteActions, instApplyActions, instClearActions}
	var instData []byte
	for _, it := range insts {
		instData = put16(put16(instData, it), 4)
	}
	var actData []byte
	for _, at := range []uint16{at13Output, at13SetMPLSTTL, at13DecMPLSTTL, at13PushVlan, at13PopVlan,
		at13PushMPLS, at13PopMPLS, at13SetQueue, at13Group, at13SetNwTTL, at13DecNwTTL, at13SetField} {
		actData = put16(put16(actData, at), 4)
	}
	var oxms []byte
	for _, f := range allOXMFields() {
		class, field, _ := oxmHeaderFor(f)
		oxms = put32(oxms, uint32(class)<<16|uint32(field)<<9|uint32(oxmWidth(f, class)))
	}
	out := make([]TableFeatures, n)
	for i := range out {
		var next []byte
		for t := i + 1; t < n; t++ {
			next = append(next, byte(t))
		}
		out[i] = TableFeatures{Table: uint8(i), Name: "table" + itoa(i), MetadataMatch: ^uint64(0),
			MetadataWrite: ^uint64(0), MaxEntries: maxEntries, Props: []TableFeatureProp{
				{TFPInstructions, instData}, {TFPInstructionsMiss, instData},
				{TFPNextTables, next}, {TFPNextTablesMiss, next},
				{TFPWriteActions, actData}, {TFPWriteActionsMiss, actData},
				{TFPApplyActions, actData}, {TFPApplyActionsMiss, actData},
				{TFPMatch, oxms}, {TFPWildcards, oxms},
				{TFPWriteSetField, oxms}, {TFPWriteSetFieldMiss, oxms},
				{TFPApplySetField, oxms}, {TFPApplySetFieldMiss, oxms},
			}}
	}
	return out
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}
