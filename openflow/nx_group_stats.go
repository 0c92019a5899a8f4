package openflow

// Open vSwitch's Nicira group statistics for OpenFlow 1.0: vendor stats
// (OFPST_VENDOR) whose body is the Nicira vendor id, a subtype (NXST_GROUP,
// NXST_GROUP_DESC, NXST_GROUP_FEATURES) and four pad bytes. The group and
// group-desc requests then carry a group id and four pad bytes; the
// replies carry struct ofp13_group_stats entries, struct
// ofp15_group_desc_stats entries (1.5 buckets) and struct
// ofp12_group_features with OpenFlow 1.0 action bitmaps.

// nxStatsHdrLen is the vendor id, subtype and pad of a Nicira stats body.
const nxStatsHdrLen = 12

// Layout of struct ofp15_group_desc_stats: length, type, pad, group_id,
// bucket_list_len, pad(6), then buckets and group properties.
const (
	gd15Type       = 2
	gd15GroupID    = 4
	gd15BucketsLen = 8
	groupDesc15Len = 16
)

// groupFeaturesLen is struct ofp12_group_features.
const groupFeaturesLen = 40

// NXGroupStatsRequest is an NXST_GROUP, NXST_GROUP_DESC or
// NXST_GROUP_FEATURES request. Group (OFPG_ALL for every group) is unused
// for features.
type NXGroupStatsRequest struct {
	Subtype uint32
	Group   uint32
}

// DecodeNXGroupStatsRequest reads a Nicira group stats request from an
// OpenFlow 1.0 vendor stats request (m.Experimenter is the Nicira id and
// m.Body what follows it). ok is false when m is some other Nicira stats
// request (NXST_FLOW ...).
func DecodeNXGroupStatsRequest(m *MultipartRequest) (r NXGroupStatsRequest, ok bool, err error) {
	b := m.Body
	if m.Experimenter != niciraExperimenterID || len(b) < 4 {
		return r, false, nil
	}
	r.Subtype = be32(b)
	want := 16
	switch r.Subtype {
	case NXSTGroup, NXSTGroupDesc:
	case NXSTGroupFeatures:
		want = 8
	default:
		return r, false, nil
	}
	if len(b) != want {
		return r, true, errorf(ErrBadRequest, BRCBadLen, "Nicira group stats request subtype %d of %d bytes, want %d", r.Subtype, len(b), want)
	}
	if want == 16 {
		r.Group = be32(b[8:])
	}
	return r, true, nil
}

// Append appends r as a complete OpenFlow 1.0 vendor stats request.
func (r *NXGroupStatsRequest) Append(dst []byte, xid uint32) ([]byte, error) {
	body := pad(put32(nil, r.Subtype), 4)
	if r.Subtype != NXSTGroupFeatures {
		body = pad(put32(body, r.Group), 4)
	}
	m := MultipartRequest{MPType: MPExperimenter, Experimenter: niciraExperimenterID, Body: body}
	return m.Append(dst, Version10, xid)
}

// NXGroupStatsReply is one NXST_GROUP, NXST_GROUP_DESC or
// NXST_GROUP_FEATURES reply message; the field named after Subtype holds
// the body.
type NXGroupStatsReply struct {
	Subtype    uint32
	Flags      uint16
	Groups     []GroupStats
	GroupDescs []Group
	Features   GroupFeatures
}

// DecodeNXGroupStatsReply reads a Nicira group stats reply from an
// OpenFlow 1.0 vendor stats reply (m.Body starts with the vendor id).
func DecodeNXGroupStatsReply(m *MultipartReply) (*NXGroupStatsReply, error) {
	b := m.Body
	if m.MPType != MPExperimenter || len(b) < nxStatsHdrLen || be32(b) != niciraExperimenterID {
		return nil, errorf(ErrBadRequest, BRCBadLen, "not a Nicira stats reply")
	}
	r := &NXGroupStatsReply{Subtype: be32(b[4:]), Flags: m.Flags}
	body := b[nxStatsHdrLen:]
	var err error
	switch r.Subtype {
	case NXSTGroup:
		r.Groups, err = decodeGroupStatsList(body)
	case NXSTGroupDesc:
		r.GroupDescs, err = decodeGroupDescs15(body)
	case NXSTGroupFeatures:
		r.Features, err = decodeGroupFeatures(body)
	default:
		err = errorf(ErrBadRequest, BRCBadExpType, "Nicira stats subtype %d", r.Subtype)
	}
	if err != nil {
		return nil, err
	}
	return r, nil
}

// Append appends r as a complete OpenFlow 1.0 vendor stats reply.
func (r *NXGroupStatsReply) Append(dst []byte, xid uint32) ([]byte, error) {
	body := pad(put32(put32(nil, niciraExperimenterID), r.Subtype), 4)
	var err error
	switch r.Subtype {
	case NXSTGroup:
		for i := range r.Groups {
			body = AppendGroupStats(body, &r.Groups[i])
		}
	case NXSTGroupDesc:
		for i := range r.GroupDescs {
			if body, err = AppendNXGroupDesc(body, &r.GroupDescs[i]); err != nil {
				return dst, err
			}
		}
	case NXSTGroupFeatures:
		body = AppendGroupFeatures(body, &r.Features)
	}
	m := MultipartReply{MPType: MPExperimenter, Flags: r.Flags, Body: body}
	return m.Append(dst, Version10, xid)
}

// AppendNXGroupDesc appends one struct ofp15_group_desc_stats.
func AppendNXGroupDesc(dst []byte, g *Group) ([]byte, error) {
	start := len(dst)
	dst = pad(put32(append(pad(dst, 2), g.GroupType, 0), g.ID), 8)
	var err error
	if dst, err = appendBuckets15(dst, g.Buckets, g.GroupType); err != nil {
		return dst[:start], err
	}
	n, bn := len(dst)-start, len(dst)-start-groupDesc15Len
	dst[start], dst[start+1] = byte(n>>8), byte(n)
	dst[start+gd15BucketsLen], dst[start+gd15BucketsLen+1] = byte(bn>>8), byte(bn)
	return dst, nil
}

func decodeGroupDescs15(b []byte) ([]Group, error) {
	var out []Group
	for len(b) > 0 {
		if len(b) < groupDesc15Len {
			return nil, errorf(ErrBadRequest, BRCBadLen, "group desc truncated to %d bytes", len(b))
		}
		n, bn := int(be16(b)), int(be16(b[gd15BucketsLen:]))
		if n < groupDesc15Len || n > len(b) || groupDesc15Len+bn > n {
			return nil, errorf(ErrBadRequest, BRCBadLen, "group desc of %d bytes with %d of buckets", n, bn)
		}
		g := Group{GroupType: b[gd15Type], ID: be32(b[gd15GroupID:])}
		var err error
		if g.Buckets, err = decodeBuckets15(b[groupDesc15Len:groupDesc15Len+bn], g.GroupType); err != nil {
			return nil, err
		}
		out = append(out, g)
		b = b[n:]
	}
	return out, nil
}

// groupStatsLen is the fixed part of struct ofp13_group_stats; each bucket
// counter adds 16 bytes.
const groupStatsLen = 40

// AppendGroupStats appends one struct ofp13_group_stats (OpenFlow 1.3
// §7.3.5.9), which the Nicira NXST_GROUP reply uses unchanged: length,
// pad(2), group_id, ref_count, pad(4), packet_count, byte_count,
// duration_sec, duration_nsec, then packets and bytes per bucket.
func AppendGroupStats(dst []byte, s *GroupStats) []byte {
	dst = pad(put16(dst, uint16(groupStatsLen+16*len(s.Buckets))), 2)
	dst = pad(put32(put32(dst, s.ID), s.RefCount), 4)
	dst = put64(put64(put64(dst, s.Packets), s.Bytes), s.Duration)
	for _, c := range s.Buckets {
		dst = put64(put64(dst, c[0]), c[1])
	}
	return dst
}

func decodeGroupStatsList(b []byte) ([]GroupStats, error) {
	var out []GroupStats
	for len(b) > 0 {
		if len(b) < groupStatsLen {
			return nil, errorf(ErrBadRequest, BRCBadLen, "group stats truncated to %d bytes", len(b))
		}
		n := int(be16(b))
		if n < groupStatsLen || n > len(b) || (n-groupStatsLen)%16 != 0 {
			return nil, errorf(ErrBadRequest, BRCBadLen, "group stats of %d bytes", n)
		}
		s := GroupStats{ID: be32(b[4:]), RefCount: be32(b[8:]), Packets: be64(b[16:]), Bytes: be64(b[24:]), Duration: be64(b[32:])}
		for c := b[groupStatsLen:n]; len(c) > 0; c = c[16:] {
			s.Buckets = append(s.Buckets, [2]uint64{be64(c), be64(c[8:])})
		}
		out = append(out, s)
		b = b[n:]
	}
	return out, nil
}

// AppendGroupFeatures appends struct ofp12_group_features: types,
// capabilities, max_groups and actions per group type.
func AppendGroupFeatures(dst []byte, f *GroupFeatures) []byte {
	dst = put32(put32(dst, f.Types), f.Capabilities)
	for _, v := range f.MaxGroups {
		dst = put32(dst, v)
	}
	for _, v := range f.Actions {
		dst = put32(dst, v)
	}
	return dst
}

func decodeGroupFeatures(b []byte) (GroupFeatures, error) {
	var f GroupFeatures
	if len(b) != groupFeaturesLen {
		return f, errorf(ErrBadRequest, BRCBadLen, "group features of %d bytes, want %d", len(b), groupFeaturesLen)
	}
	f.Types, f.Capabilities = be32(b), be32(b[4:])
	for i := range 4 {
		f.MaxGroups[i], f.Actions[i] = be32(b[8+4*i:]), be32(b[24+4*i:])
	}
	return f, nil
}
