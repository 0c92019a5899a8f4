package openflow

// Groups over OpenFlow 1.0, as Open vSwitch does them with Nicira
// extensions (nicira-ext.h, ofp-group.c): NXT_GROUP_MOD is a vendor
// message whose body is an OpenFlow 1.5 group mod (struct ofp15_group_mod)
// with 1.5 buckets (struct ofp15_bucket) carrying weight, watch_port and
// watch_group as bucket properties; bucket actions are OpenFlow 1.0
// actions. The dumps are vendor stats NXST_GROUP, NXST_GROUP_DESC and
// NXST_GROUP_FEATURES (nx_group_stats.go).

// Nicira subtypes for groups: NXT_GROUP_MOD is a vendor message subtype,
// the NXST_* ones are vendor stats subtypes.
const (
	NXTGroupMod       uint32 = 31
	NXSTGroup         uint32 = 7
	NXSTGroupDesc     uint32 = 8
	NXSTGroupFeatures uint32 = 9
)

// Layout of struct ofp15_group_mod after the Nicira header (vendor,
// subtype): command, type, pad, group_id, bucket_array_len, pad(2),
// command_bucket_id, then the buckets and group properties.
const (
	nxgmCommand        = 0
	nxgmType           = 2
	nxgmGroupID        = 4
	nxgmBucketArrayLen = 8
	nxGroupModLen      = 16 // through command_bucket_id
)

// Layout of struct ofp15_bucket: len, action_array_len, bucket_id, then
// the actions and the bucket properties.
const (
	b15Len         = 0
	b15ActionsLen  = 2
	bucket15HdrLen = 8 // through bucket_id
)

// Bucket property types (OFPGBPT15_*); each property is type, length and
// a 4-byte value (weight is 16 bits and 2 pad bytes).
const (
	gbptWeight     = 0
	gbptWatchPort  = 1
	gbptWatchGroup = 2
	gbptLen        = 8
)

// nxastGroup is NXAST_GROUP, the group action in OpenFlow 1.0 (nicira
// action header, pad(2), group_id).
const nxastGroup = 40

// BucketAll is OFPG15_BUCKET_ALL, the command_bucket_id Open vSwitch puts
// in add, modify and delete group mods.
const BucketAll uint32 = 0xffffffff

// group15CommandMax is the last OpenFlow 1.5 group mod command the model
// knows (OFPGC15_DELETE); OFPGC15_INSERT_BUCKET and OFPGC15_REMOVE_BUCKET
// (3 and 4) edit a group's buckets, which the bridge does not support.
const group15CommandMax = GroupDelete

// DecodeNXGroupMod decodes the body of an NXT_GROUP_MOD: what follows the
// Nicira vendor id and subtype in an OpenFlow 1.0 vendor message (the
// Experimenter's Data after its first four bytes). Group properties (Open
// vSwitch's selection method) are refused: the bridge has no use for them.
func DecodeNXGroupMod(b []byte) (*GroupMod, error) {
	if len(b) < nxGroupModLen {
		return nil, errorf(ErrBadRequest, BRCBadLen, "NXT_GROUP_MOD body of %d bytes", len(b))
	}
	g := &GroupMod{Command: be16(b[nxgmCommand:]), Group: Group{GroupType: b[nxgmType], ID: be32(b[nxgmGroupID:])}}
	if g.Command > group15CommandMax {
		return nil, errorf(ErrGroupModFailed, GMFCBadCommand, "group mod command %d", g.Command)
	}
	if g.GroupType > GroupTypeFastFailover {
		return nil, errorf(ErrGroupModFailed, GMFCBadType, "group type %d", g.GroupType)
	}
	n := int(be16(b[nxgmBucketArrayLen:]))
	rest := b[nxGroupModLen:]
	if n > len(rest) {
		return nil, errorf(ErrGroupModFailed, GMFCBadBucket, "bucket_array_len %d with %d bytes left", n, len(rest))
	}
	if len(rest) > n {
		return nil, errorf(ErrGroupModFailed, GMFCBadType, "%d bytes of group properties", len(rest)-n)
	}
	var err error
	if g.Buckets, err = decodeBuckets15(rest[:n], g.GroupType); err != nil {
		return nil, err
	}
	return g, nil
}

// decodeBuckets15 reads struct ofp15_bucket entries. A select group's
// bucket without a weight property weighs 1, as in Open vSwitch; other
// buckets weigh 0 (weight is a select-group property); watches default to
// ANY.
func decodeBuckets15(b []byte, groupType uint8) ([]Bucket, error) {
	var out []Bucket
	for len(b) > 0 {
		if len(b) < bucket15HdrLen {
			return nil, errorf(ErrGroupModFailed, GMFCBadBucket, "bucket truncated to %d bytes", len(b))
		}
		n, an := int(be16(b[b15Len:])), int(be16(b[b15ActionsLen:]))
		if n < bucket15HdrLen || n%8 != 0 || n > len(b) || an%8 != 0 || bucket15HdrLen+an > n {
			return nil, errorf(ErrGroupModFailed, GMFCBadBucket, "bucket length %d, action_array_len %d", n, an)
		}
		bk := Bucket{WatchPort: PortAny, WatchGroup: GroupAny}
		if groupType == GroupTypeSelect {
			bk.Weight = 1
		}
		var err error
		if bk.Actions, err = decodeActions(Version10, b[bucket15HdrLen:bucket15HdrLen+an], nil); err != nil {
			return nil, err
		}
		if err := decodeBucketProps(b[bucket15HdrLen+an:n], groupType, &bk); err != nil {
			return nil, err
		}
		out = append(out, bk)
		b = b[n:]
	}
	return out, nil
}

// decodeBucketProps reads a bucket's properties. A weight means something
// only in a select group; elsewhere it is dropped, as Open vSwitch never
// sends or prints one for other group types.
func decodeBucketProps(b []byte, groupType uint8, bk *Bucket) error {
	for len(b) > 0 {
		if len(b) < 4 {
			return errorf(ErrGroupModFailed, GMFCBadBucket, "bucket property truncated to %d bytes", len(b))
		}
		t, n := be16(b), int(be16(b[2:]))
		if n != gbptLen || n > len(b) {
			return errorf(ErrGroupModFailed, GMFCBadBucket, "bucket property %d of %d bytes", t, n)
		}
		switch t {
		case gbptWeight:
			if groupType == GroupTypeSelect {
				bk.Weight = be16(b[4:])
			}
		case gbptWatchPort:
			bk.WatchPort = be32(b[4:])
		case gbptWatchGroup:
			bk.WatchGroup = be32(b[4:])
		default:
			return errorf(ErrGroupModFailed, GMFCBadBucket, "bucket property type %d", t)
		}
		b = b[n:]
	}
	return nil
}

// appendBuckets15 encodes buckets as Open vSwitch does: bucket ids are the
// buckets' positions, a weight property only in select groups, watch
// properties only when set.
func appendBuckets15(dst []byte, buckets []Bucket, groupType uint8) ([]byte, error) {
	for i := range buckets {
		bk := &buckets[i]
		start := len(dst)
		dst = put32(pad(dst, 4), uint32(i))
		var err error
		if dst, err = appendActions(dst, Version10, bk.Actions, nil); err != nil {
			return dst[:start], err
		}
		an := len(dst) - start - bucket15HdrLen
		if groupType == GroupTypeSelect {
			dst = pad(put16(put16(put16(dst, gbptWeight), gbptLen), bk.Weight), 2)
		}
		if bk.WatchPort != PortAny {
			dst = put32(put16(put16(dst, gbptWatchPort), gbptLen), bk.WatchPort)
		}
		if bk.WatchGroup != GroupAny {
			dst = put32(put16(put16(dst, gbptWatchGroup), gbptLen), bk.WatchGroup)
		}
		n := len(dst) - start
		dst[start+b15Len], dst[start+b15Len+1] = byte(n>>8), byte(n)
		dst[start+b15ActionsLen], dst[start+b15ActionsLen+1] = byte(an>>8), byte(an)
	}
	return dst, nil
}

// nxHeaderMsg starts an OpenFlow 1.0 vendor message with the Nicira vendor
// id and subtype.
func nxHeaderMsg(dst []byte, xid, sub uint32) ([]byte, int, error) {
	dst, start, err := appendHeader(dst, Version10, TypeExperimenter, xid)
	if err != nil {
		return dst, start, err
	}
	return put32(put32(dst, niciraExperimenterID), sub), start, nil
}

// AppendNXGroupMod appends g as a complete OpenFlow 1.0 NXT_GROUP_MOD
// message, as ovs-ofctl -O OpenFlow10 add-group sends it.
func AppendNXGroupMod(dst []byte, xid uint32, g *GroupMod) ([]byte, error) {
	dst, start, err := nxHeaderMsg(dst, xid, NXTGroupMod)
	if err != nil {
		return dst, err
	}
	dst = put32(append(put16(dst, g.Command), g.GroupType, 0), g.ID)
	lenAt := len(dst)
	dst = put32(pad(dst, 4), BucketAll)
	bs := len(dst)
	if dst, err = appendBuckets15(dst, g.Buckets, g.GroupType); err != nil {
		return dst[:start], err
	}
	n := len(dst) - bs
	dst[lenAt], dst[lenAt+1] = byte(n>>8), byte(n)
	return finish(dst, start)
}
