package ofconn

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"tapestry/openflow"
)

// Open vSwitch's Nicira extensions for OpenFlow 1.0 flow statistics
// (nicira-ext.h): after NXT_SET_FLOW_FORMAT selects NXM, NXST_FLOW and
// NXST_AGGREGATE take and give matches as nx_match and report each
// flow's idle and hard age, which standard 1.0 stats lack. ovs-ofctl uses
// them whenever the switch accepts NXM, and so do we.
const (
	niciraVendor        = 0x00002320
	nxtSetFlowFormat    = 12
	nxffNXM             = 2
	nxstFlow            = 0
	nxstAggregate       = 1
	nxFlowStatsLen      = 48 // struct nx_flow_stats without match and actions
	niciraStatsHdrLen   = 12 // vendor, subtype, pad after ofp_stats_{request,reply}
	nxFlowStatsReqLen   = 8  // struct nx_flow_stats_request without the match
	nxAggregateReplyLen = 24
)

// SetFlowFormatNXM asks the switch to use Nicira's NXM flow format
// (NXT_SET_FLOW_FORMAT followed by a barrier, as ovs-ofctl sends it). ok
// is false when the switch refused; the connection stays usable.
func (c *Conn) SetFlowFormatNXM(ctx context.Context) (ok bool, err error) {
	if c.version != openflow.Version10 {
		return false, errors.New("NXT_SET_FLOW_FORMAT is an OpenFlow 1.0 extension")
	}
	msg := make([]byte, 20)
	msg[0], msg[1] = openflow.Version10, 4 // OFPT_VENDOR
	binary.BigEndian.PutUint16(msg[2:], 20)
	binary.BigEndian.PutUint32(msg[8:], niciraVendor)
	binary.BigEndian.PutUint32(msg[12:], nxtSetFlowFormat)
	binary.BigEndian.PutUint32(msg[16:], nxffNXM)
	_, err = c.TransactRaw(ctx, msg)
	var er *ErrorReply
	if errors.As(err, &er) {
		return false, nil
	}
	return err == nil, err
}

// NXFlowStats sends NXST_FLOW (aggregate false) or NXST_AGGREGATE for req
// and decodes the reply parts: flows, or the aggregate in the last part.
func (c *Conn) NXFlowStats(ctx context.Context, req *openflow.FlowStatsRequest, aggregate bool) (parts []NXStatsReply, xid uint32, err error) {
	body := make([]byte, 8, 64)
	sub := uint32(nxstFlow)
	if aggregate {
		sub = nxstAggregate
	}
	binary.BigEndian.PutUint32(body, sub)
	out := uint16(req.OutPort)
	if req.OutPort == openflow.PortAny {
		out = 0xffff // OFPP_NONE in 1.0
	} else if req.OutPort >= 0xffffff00 {
		out = uint16(req.OutPort - 0xffff0000)
	}
	if req.Cookie != 0 || req.CookieMask != 0 {
		return nil, 0, errors.New("cookie filters in NXST requests are not supported")
	}
	start := len(body)
	body = append(body, byte(out>>8), byte(out), 0, 0, req.Table, 0, 0, 0)
	if body, err = openflow.AppendNXMatch(body, &req.Match); err != nil {
		return nil, 0, err
	}
	n := len(body) - start - nxFlowStatsReqLen
	binary.BigEndian.PutUint16(body[start+2:], uint16(n))
	for (len(body)-start)%8 != 0 {
		body = append(body, 0)
	}
	mp := &openflow.MultipartRequest{MPType: openflow.MPExperimenter, Experimenter: niciraVendor, Body: body}
	replies, xid, err := c.Multipart(ctx, mp)
	if err != nil {
		return nil, xid, err
	}
	for _, r := range replies {
		p, err := decodeNXStats(r, aggregate)
		if err != nil {
			return nil, xid, err
		}
		parts = append(parts, p)
	}
	return parts, xid, nil
}

// NXStatsReply is one part of an NXST_FLOW or NXST_AGGREGATE reply.
type NXStatsReply struct {
	Flags     uint16
	Flows     []openflow.FlowStats
	Aggregate openflow.AggregateStats
}

func decodeNXStats(r *openflow.MultipartReply, aggregate bool) (NXStatsReply, error) {
	p := NXStatsReply{Flags: r.Flags}
	// The codec keeps a 1.0 vendor stats body raw: vendor(4), subtype(4),
	// pad(4), entries.
	b := r.Body
	if len(b) < niciraStatsHdrLen || binary.BigEndian.Uint32(b) != niciraVendor {
		return p, fmt.Errorf("NXST reply of %d bytes is not a Nicira stats reply", len(b))
	}
	b = b[niciraStatsHdrLen:]
	if aggregate {
		if len(b) < nxAggregateReplyLen {
			return p, fmt.Errorf("NXST_AGGREGATE reply of %d bytes", len(b))
		}
		p.Aggregate = openflow.AggregateStats{Packets: be64(b), Bytes: be64(b[8:]), Flows: binary.BigEndian.Uint32(b[16:])}
		return p, nil
	}
	for len(b) > 0 {
		fs, n, err := decodeNXFlowStats(b)
		if err != nil {
			return p, err
		}
		p.Flows = append(p.Flows, fs)
		b = b[n:]
	}
	return p, nil
}

func be64(b []byte) uint64 { return binary.BigEndian.Uint64(b) }

// decodeNXFlowStats reads one struct nx_flow_stats: length(2) table(1)
// pad(1) duration sec(4) nsec(4) priority(2) idle_timeout(2)
// hard_timeout(2) match_len(2) idle_age(2) hard_age(2) cookie(8)
// packets(8) bytes(8), the nx_match padded to 8, then actions. The ages
// are seconds plus one; zero means unknown.
func decodeNXFlowStats(b []byte) (openflow.FlowStats, int, error) {
	var fs openflow.FlowStats
	if len(b) < nxFlowStatsLen {
		return fs, 0, fmt.Errorf("nx_flow_stats truncated to %d bytes", len(b))
	}
	n := int(binary.BigEndian.Uint16(b))
	matchLen := int(binary.BigEndian.Uint16(b[18:]))
	matchEnd := nxFlowStatsLen + (matchLen+7)&^7
	if n < nxFlowStatsLen || n > len(b) || matchEnd > n {
		return fs, 0, fmt.Errorf("nx_flow_stats of length %d with a %d-byte match in %d bytes", n, matchLen, len(b))
	}
	fs.Table = b[2]
	fs.Duration = time.Duration(binary.BigEndian.Uint32(b[4:]))*time.Second + time.Duration(binary.BigEndian.Uint32(b[8:]))
	fs.Priority = binary.BigEndian.Uint16(b[12:])
	fs.IdleTimeout, fs.HardTimeout = binary.BigEndian.Uint16(b[14:]), binary.BigEndian.Uint16(b[16:])
	if age := binary.BigEndian.Uint16(b[20:]); age > 0 {
		fs.IdleAge = time.Duration(age-1) * time.Second
	}
	if age := binary.BigEndian.Uint16(b[22:]); age > 0 {
		fs.HardAge = time.Duration(age-1) * time.Second
	} else {
		fs.HardAge = fs.Duration
	}
	fs.Cookie, fs.Packets, fs.Bytes = be64(b[24:]), be64(b[32:]), be64(b[40:])
	if err := openflow.DecodeNXMatch(b[nxFlowStatsLen:nxFlowStatsLen+matchLen], &fs.Match); err != nil {
		return fs, 0, fmt.Errorf("nx_flow_stats match: %w", err)
	}
	acts, err := openflow.DecodeActions(openflow.Version10, b[matchEnd:n])
	if err != nil {
		return fs, 0, fmt.Errorf("nx_flow_stats actions: %w", err)
	}
	fs.Actions = acts
	return fs, n, nil
}
