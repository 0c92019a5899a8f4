package ofchannel

import (
	"encoding/binary"
	"time"

	"tapestry/openflow"
)

// Open vSwitch's Nicira flow statistics for OpenFlow 1.0 (nicira-ext.h):
// NXST_FLOW and NXST_AGGREGATE. They travel as OFPST_VENDOR stats whose
// body starts with the Nicira vendor id, a subtype and four pad bytes; the
// request is struct nx_flow_stats_request (out_port, match_len, table_id,
// pad) and an nx_match; a flow entry is struct nx_flow_stats, which unlike
// ofp_flow_stats carries the idle and hard age ovs-ofctl prints.
const (
	nxffOpenFlow10    = 0
	nxffNXM           = 2
	nxstFlow          = 0
	nxstAggregate     = 1
	nxStatsPrefixLen  = 8  // subtype, pad (after the vendor id)
	nxFlowStatsReqLen = 8  // struct nx_flow_stats_request without the match
	nxFlowStatsLen    = 48 // struct nx_flow_stats without match and actions
)

// niciraStats answers an OpenFlow 1.0 Nicira vendor stats request.
// m.Body is what follows the vendor id.
func (c *conn) niciraStats(m *openflow.MultipartRequest, xid uint32) error {
	if gr, ok, err := openflow.DecodeNXGroupStatsRequest(m); ok {
		if err == nil {
			c.nxGroupStats(gr, xid)
		}
		return err
	}
	sub, filter, err := parseNXStatsRequest(m.Body)
	if err != nil {
		return err
	}
	prefix := make([]byte, 4+nxStatsPrefixLen)
	binary.BigEndian.PutUint32(prefix, niciraVendor)
	binary.BigEndian.PutUint32(prefix[4:], sub)
	s := splitter{version: c.version, xid: xid, mpType: openflow.MPExperimenter, prefix: prefix}
	if sub == nxstAggregate {
		a := c.a.sw.Aggregate(filter)
		e := make([]byte, 24)
		binary.BigEndian.PutUint64(e, a.Packets)
		binary.BigEndian.PutUint64(e[8:], a.Bytes)
		binary.BigEndian.PutUint32(e[16:], a.Flows)
		s.add(e)
	} else {
		var e []byte
		for _, fs := range c.a.sw.DumpFlows(filter) {
			var err error
			if e, err = appendNXFlowStats(e[:0], &fs); err != nil {
				c.a.log.Debug("ofchannel: NXST_FLOW entry skipped", "err", err)
				continue
			}
			s.add(e)
		}
	}
	for _, msg := range s.finish() {
		if !c.send(msg) {
			break
		}
	}
	return nil
}

// parseNXStatsRequest reads an NXST_FLOW or NXST_AGGREGATE request body
// (after the vendor id): subtype, pad, struct nx_flow_stats_request and
// the nx_match; it returns the subtype and the bridge filter.
func parseNXStatsRequest(b []byte) (sub uint32, filter openflow.FlowMod, err error) {
	if len(b) < nxStatsPrefixLen+nxFlowStatsReqLen {
		return 0, filter, codecErr(openflow.ErrBadRequest, openflow.BRCBadLen, "Nicira stats request of %d bytes", len(b))
	}
	sub = binary.BigEndian.Uint32(b)
	if sub != nxstFlow && sub != nxstAggregate {
		return 0, filter, codecErr(openflow.ErrBadRequest, openflow.BRCBadExpType, "Nicira stats subtype %d", sub)
	}
	req := b[nxStatsPrefixLen:]
	matchLen := int(binary.BigEndian.Uint16(req[2:]))
	if nxFlowStatsReqLen+matchLen > len(req) {
		return 0, filter, codecErr(openflow.ErrBadRequest, openflow.BRCBadLen, "nx_match of %d bytes in %d", matchLen, len(req)-nxFlowStatsReqLen)
	}
	filter = openflow.FlowMod{Table: req[4], OutPort: port10(binary.BigEndian.Uint16(req)), OutGroup: openflow.GroupAny}
	if err := openflow.DecodeNXMatch(req[nxFlowStatsReqLen:nxFlowStatsReqLen+matchLen], &filter.Match); err != nil {
		return 0, filter, err
	}
	return sub, filter, nil
}

// port10 widens an OpenFlow 1.0 port number; OFPP_NONE (0xffff) means no
// out_port filter.
func port10(p uint16) uint32 {
	if p >= 0xff00 {
		return uint32(p) | 0xffff0000
	}
	return uint32(p)
}

// appendNXFlowStats encodes one struct nx_flow_stats. Ages go out as
// seconds plus one (zero would mean "unknown"); durations at millisecond
// granularity, as Open vSwitch keeps them.
func appendNXFlowStats(dst []byte, fs *openflow.FlowStats) ([]byte, error) {
	start := len(dst)
	dst = append(dst, make([]byte, nxFlowStatsLen)...)
	e := dst[start:]
	e[2] = fs.Table
	d := fs.Duration.Truncate(time.Millisecond)
	binary.BigEndian.PutUint32(e[4:], uint32(d/time.Second))
	binary.BigEndian.PutUint32(e[8:], uint32(d%time.Second))
	binary.BigEndian.PutUint16(e[12:], fs.Priority)
	binary.BigEndian.PutUint16(e[14:], fs.IdleTimeout)
	binary.BigEndian.PutUint16(e[16:], fs.HardTimeout)
	binary.BigEndian.PutUint16(e[20:], ageField(fs.IdleAge))
	binary.BigEndian.PutUint16(e[22:], ageField(fs.HardAge))
	binary.BigEndian.PutUint64(e[24:], fs.Cookie)
	binary.BigEndian.PutUint64(e[32:], fs.Packets)
	binary.BigEndian.PutUint64(e[40:], fs.Bytes)
	var err error
	if dst, err = openflow.AppendNXMatch(dst, &fs.Match); err != nil {
		return dst[:start], err
	}
	matchLen := len(dst) - start - nxFlowStatsLen
	binary.BigEndian.PutUint16(dst[start+18:], uint16(matchLen))
	for (len(dst)-start)%8 != 0 {
		dst = append(dst, 0)
	}
	if dst, err = openflow.AppendActions(dst, openflow.Version10, fs.Actions, &fs.Match); err != nil {
		return dst[:start], err
	}
	binary.BigEndian.PutUint16(dst[start:], uint16(len(dst)-start))
	return dst, nil
}

func ageField(d time.Duration) uint16 {
	s := d / time.Second
	if s >= 0xfffe {
		return 0xffff
	}
	return uint16(s) + 1
}
