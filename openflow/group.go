package openflow

// Groups (OpenFlow 1.3 §5.6, §7.3.4.2) and meters (§5.7, §7.3.4.4).

// Group types (OFPGT_*).
const (
	GroupTypeAll          uint8 = 0
	GroupTypeSelect       uint8 = 1
	GroupTypeIndirect     uint8 = 2
	GroupTypeFastFailover uint8 = 3
)

// Group-mod commands (OFPGC_*).
const (
	GroupAdd    uint16 = 0
	GroupModify uint16 = 1
	GroupDelete uint16 = 2
)

// Bucket is one action bucket of a group. Weight matters for select groups,
// WatchPort/WatchGroup for fast-failover (PortAny/GroupAny when unused).
type Bucket struct {
	Weight     uint16
	WatchPort  uint32
	WatchGroup uint32
	Actions    []Action
}

// Group is a group's definition (group-desc reply entry, group mod body).
type Group struct {
	GroupType uint8
	ID        uint32
	Buckets   []Bucket
}

// GroupMod is OFPT_GROUP_MOD.
type GroupMod struct {
	Command uint16
	Group
}

// Type implements Message.
func (*GroupMod) Type() Type { return TypeGroupMod }

const bucketHeaderLen = 16

func decodeBuckets(b []byte) ([]Bucket, error) {
	var out []Bucket
	for len(b) > 0 {
		if len(b) < bucketHeaderLen {
			return nil, errorf(ErrGroupModFailed, GMFCBadBucket, "bucket truncated to %d bytes", len(b))
		}
		n := int(be16(b))
		if n < bucketHeaderLen || n%8 != 0 || n > len(b) {
			return nil, errorf(ErrGroupModFailed, GMFCBadBucket, "bucket length %d", n)
		}
		bk := Bucket{Weight: be16(b[2:]), WatchPort: be32(b[4:]), WatchGroup: be32(b[8:])}
		var err error
		if bk.Actions, err = decodeActions(Version13, b[bucketHeaderLen:n], nil); err != nil {
			return nil, err
		}
		out = append(out, bk)
		b = b[n:]
	}
	return out, nil
}

func appendBuckets(dst []byte, buckets []Bucket) ([]byte, error) {
	for i := range buckets {
		bk := &buckets[i]
		start := len(dst)
		dst = pad(put32(put32(put16(pad(dst, 2), bk.Weight), bk.WatchPort), bk.WatchGroup), 4)
		var err error
		if dst, err = appendActions(dst, Version13, bk.Actions, nil); err != nil {
			return dst[:start], err
		}
		n := len(dst) - start
		dst[start], dst[start+1] = byte(n>>8), byte(n)
	}
	return dst, nil
}

func decodeGroupMod(version uint8, b []byte) (Message, error) {
	if err := minBody(TypeGroupMod, b, 8); err != nil {
		return nil, err
	}
	g := &GroupMod{Command: be16(b), Group: Group{GroupType: b[2], ID: be32(b[4:])}}
	if g.Command > GroupDelete {
		return nil, errorf(ErrGroupModFailed, GMFCBadCommand, "group mod command %d", g.Command)
	}
	if g.GroupType > GroupTypeFastFailover {
		return nil, errorf(ErrGroupModFailed, GMFCBadType, "group type %d", g.GroupType)
	}
	var err error
	if g.Buckets, err = decodeBuckets(b[8:]); err != nil {
		return nil, err
	}
	return g, nil
}

// Append implements Message.
func (g *GroupMod) Append(dst []byte, version uint8, xid uint32) ([]byte, error) {
	dst, start, err := appendHeader(dst, version, TypeGroupMod, xid)
	if err != nil {
		return dst, err
	}
	dst = put32(append(put16(dst, g.Command), g.GroupType, 0), g.ID)
	if dst, err = appendBuckets(dst, g.Buckets); err != nil {
		return dst[:start], err
	}
	return finish(dst, start)
}

// Meter-mod commands (OFPMC_*).
const (
	MeterAdd    uint16 = 0
	MeterModify uint16 = 1
	MeterDelete uint16 = 2
)

// MeterBand is one ofp_meter_band; Extra holds the type-specific bytes
// after rate and burst_size (prec_level for DSCP remark, the experimenter
// id for experimenter bands).
type MeterBand struct {
	BandType uint16
	Rate     uint32
	Burst    uint32
	Extra    []byte
}

// MeterMod is OFPT_METER_MOD. tapestry has no meters: a switch decodes it
// and answers with an error (Open vSwitch without meter support answers
// OFPMMFC_OUT_OF_METERS).
type MeterMod struct {
	Command uint16
	Flags   uint16
	Meter   uint32
	Bands   []MeterBand
}

// Type implements Message.
func (*MeterMod) Type() Type { return TypeMeterMod }

func decodeMeterMod(_ uint8, b []byte) (Message, error) {
	if err := minBody(TypeMeterMod, b, 8); err != nil {
		return nil, err
	}
	m := &MeterMod{Command: be16(b), Flags: be16(b[2:]), Meter: be32(b[4:])}
	for b = b[8:]; len(b) > 0; {
		if len(b) < 12 {
			return nil, errorf(ErrMeterModFailed, MMFCBadBand, "meter band truncated")
		}
		n := int(be16(b[2:]))
		if n < 12 || n%8 != 0 || n > len(b) {
			return nil, errorf(ErrMeterModFailed, MMFCBadBand, "meter band length %d", n)
		}
		m.Bands = append(m.Bands, MeterBand{BandType: be16(b), Rate: be32(b[4:]), Burst: be32(b[8:]), Extra: clone(b[12:n])})
		b = b[n:]
	}
	return m, nil
}

// Append implements Message.
func (m *MeterMod) Append(dst []byte, version uint8, xid uint32) ([]byte, error) {
	dst, start, err := appendHeader(dst, version, TypeMeterMod, xid)
	if err != nil {
		return dst, err
	}
	dst = put32(put16(put16(dst, m.Command), m.Flags), m.Meter)
	for _, bd := range m.Bands {
		bs := len(dst)
		dst = put32(put32(put16(put16(dst, bd.BandType), 0), bd.Rate), bd.Burst)
		dst = padTo8(append(dst, bd.Extra...), bs)
		n := len(dst) - bs
		dst[bs+2], dst[bs+3] = byte(n>>8), byte(n)
	}
	return finish(dst, start)
}
