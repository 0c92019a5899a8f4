package ofchannel

import (
	"encoding/binary"
	"errors"

	"tapestry/ofproto"
	"tapestry/openflow"
)

// Grouper is implemented by a switch with a group table (*ofproto.Bridge
// does). A switch without one answers group mods as a switch with
// max_groups 0 would, and reports no groups.
type Grouper interface {
	GroupMod(gm openflow.GroupMod) (ofproto.FlowChanges, error)
	Groups() []openflow.Group
	GroupStats(id uint32) []openflow.GroupStats
	GroupFeatures() openflow.GroupFeatures
}

// groupMod applies OFPT_GROUP_MOD (OpenFlow 1.3 §7.3.4.2). Flows a group
// delete removed are reported through OnFlowChanges, then OnGroupChanges
// is called.
func (c *conn) groupMod(m *openflow.GroupMod) error {
	g, ok := c.a.sw.(Grouper)
	if !ok {
		return noGroupTable(m)
	}
	ch, err := g.GroupMod(*m)
	if err != nil {
		return mapGroupError(err)
	}
	c.a.flowsChanged(ch)
	if c.a.cfg.OnGroupChanges != nil {
		c.a.cfg.OnGroupChanges()
	}
	return nil
}

// noGroupTable answers group mods for a switch without groups: with
// max_groups 0 an add cannot succeed, a modify names an unknown group, and
// a delete of absent groups succeeds (deleting a group that does not exist
// is no error, §6.5).
func noGroupTable(m *openflow.GroupMod) error {
	switch m.Command {
	case openflow.GroupAdd:
		return codecErr(openflow.ErrGroupModFailed, openflow.GMFCOutOfGroups, "group %d: the bridge has no group table", m.ID)
	case openflow.GroupModify:
		return codecErr(openflow.ErrGroupModFailed, openflow.GMFCUnknownGroup, "group %d", m.ID)
	case openflow.GroupDelete:
		return nil
	}
	return codecErr(openflow.ErrGroupModFailed, openflow.GMFCBadCommand, "group mod command %d", m.Command)
}

// groupErrors maps the bridge's group errors to OFPET_GROUP_MOD_FAILED
// codes.
var groupErrors = []struct {
	err  error
	code uint16
}{
	{ofproto.ErrGroupExists, openflow.GMFCGroupExists},
	{ofproto.ErrInvalidGroup, openflow.GMFCInvalidGroup},
	{ofproto.ErrUnknownGroup, openflow.GMFCUnknownGroup},
	{ofproto.ErrBadGroupType, openflow.GMFCBadType},
	{ofproto.ErrBadBucket, openflow.GMFCBadBucket},
	{ofproto.ErrBadWatch, openflow.GMFCBadWatch},
	{ofproto.ErrGroupLoop, openflow.GMFCLoop},
	{ofproto.ErrBadCommand, openflow.GMFCBadCommand},
}

// mapGroupError turns a GroupMod error into the OpenFlow error to answer:
// group errors as OFPET_GROUP_MOD_FAILED, errors in a bucket's actions as
// they are for a flow mod's (OFPET_BAD_ACTION ...).
func mapGroupError(err error) error {
	for _, ge := range groupErrors {
		if errors.Is(err, ge.err) {
			return &openflow.CodecError{Type: openflow.ErrGroupModFailed, Code: ge.code, Reason: err.Error()}
		}
	}
	return mapBridgeError(err)
}

// groupStats answers OFPMP_GROUP: one entry per group (or the one asked
// for; an unknown group gives an empty reply, as Open vSwitch does).
func (c *conn) groupStats(m *openflow.MultipartRequest, xid uint32) error {
	var stats []openflow.GroupStats
	if g, ok := c.a.sw.(Grouper); ok {
		stats = g.GroupStats(m.Group)
	}
	return c.split(xid, m.MPType, len(stats), func(i int, r *openflow.MultipartReply) {
		r.Body = appendGroupStats(r.Body[:0], &stats[i])
	})
}

// groupDescs answers OFPMP_GROUP_DESC with every group.
func (c *conn) groupDescs(m *openflow.MultipartRequest, xid uint32) error {
	var groups []openflow.Group
	if g, ok := c.a.sw.(Grouper); ok {
		groups = g.Groups()
	}
	return c.split(xid, m.MPType, len(groups), func(i int, r *openflow.MultipartReply) {
		r.GroupDescs = append(r.GroupDescs[:0], groups[i])
	})
}

// groupStatsLen is the fixed part of struct ofp_group_stats; each
// ofp_bucket_counter adds 16 bytes.
const groupStatsLen = 40

// appendGroupStats encodes one struct ofp_group_stats (OpenFlow 1.3
// §7.3.5.9): length, pad(2), group_id, ref_count, pad(4), packet_count,
// byte_count, duration_sec, duration_nsec, then packet and byte counts per
// bucket. (The openflow codec keeps group stats replies raw.)
func appendGroupStats(dst []byte, s *openflow.GroupStats) []byte {
	n := groupStatsLen + 16*len(s.Buckets)
	be := binary.BigEndian
	dst = be.AppendUint16(dst, uint16(n))
	dst = append(dst, 0, 0)
	dst = be.AppendUint32(dst, s.ID)
	dst = be.AppendUint32(dst, s.RefCount)
	dst = append(dst, 0, 0, 0, 0)
	dst = be.AppendUint64(dst, s.Packets)
	dst = be.AppendUint64(dst, s.Bytes)
	dst = be.AppendUint64(dst, s.Duration) // sec<<32 | nsec
	for _, b := range s.Buckets {
		dst = be.AppendUint64(dst, b[0])
		dst = be.AppendUint64(dst, b[1])
	}
	return dst
}
