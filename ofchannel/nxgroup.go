package ofchannel

import (
	"encoding/binary"

	"tapestry/openflow"
)

// Groups on OpenFlow 1.0 connections: Open vSwitch's ovs-ofctl -O
// OpenFlow10 sends NXT_GROUP_MOD and dumps with NXST_GROUP,
// NXST_GROUP_DESC and NXST_GROUP_FEATURES (openflow/nx_group*.go). They go
// through the same Grouper as OpenFlow 1.3's messages; errors travel as
// Nicira vendor errors carrying the OpenFlow 1.1 group error codes, as
// Open vSwitch sends them.

// nxGroupMod applies an NXT_GROUP_MOD body (after the subtype).
func (c *conn) nxGroupMod(body []byte) error {
	if c.version != openflow.Version10 {
		return codecErr(openflow.ErrBadRequest, openflow.BRCBadExpType, "NXT_GROUP_MOD on an OpenFlow 0x%02x connection", c.version)
	}
	if c.isSlave() {
		return errIsSlave
	}
	gm, err := openflow.DecodeNXGroupMod(body)
	if err != nil {
		return err
	}
	return c.groupMod(gm)
}

// nxGroupStats answers a Nicira group stats request; every reply part
// repeats the vendor id, subtype and pad after the stats header.
func (c *conn) nxGroupStats(r openflow.NXGroupStatsRequest, xid uint32) {
	prefix := make([]byte, 4+nxStatsPrefixLen)
	binary.BigEndian.PutUint32(prefix, niciraVendor)
	binary.BigEndian.PutUint32(prefix[4:], r.Subtype)
	s := splitter{version: c.version, xid: xid, mpType: openflow.MPExperimenter, prefix: prefix}
	g, ok := c.a.sw.(Grouper)
	switch r.Subtype {
	case openflow.NXSTGroup:
		if ok {
			for _, st := range g.GroupStats(r.Group) {
				s.add(openflow.AppendGroupStats(nil, &st))
			}
		}
	case openflow.NXSTGroupDesc:
		if ok {
			c.addGroupDescs(&s, g.Groups(), r.Group)
		}
	case openflow.NXSTGroupFeatures:
		var f openflow.GroupFeatures
		if ok {
			f = g.GroupFeatures()
			// Action bitmaps are per version: in 1.0 Open vSwitch
			// reports every OFPAT10 action (output .. enqueue).
			for i := range f.Actions {
				if f.Actions[i] != 0 {
					f.Actions[i] = actions10
				}
			}
		}
		s.add(openflow.AppendGroupFeatures(nil, &f))
	}
	for _, msg := range s.finish() {
		if !c.send(msg) {
			break
		}
	}
}

// addGroupDescs adds the group-desc entries of the groups id selects
// (OFPG_ALL: every group).
func (c *conn) addGroupDescs(s *splitter, groups []openflow.Group, id uint32) {
	var e []byte
	for i := range groups {
		if id != openflow.GroupAll && groups[i].ID != id {
			continue
		}
		var err error
		if e, err = openflow.AppendNXGroupDesc(e[:0], &groups[i]); err != nil {
			c.a.log.Debug("ofchannel: NXST_GROUP_DESC entry skipped", "group", groups[i].ID, "err", err)
			continue
		}
		s.add(e)
	}
}
