package openflow

import (
	"fmt"

	"tapestry/flow"
)

// Multipart (OpenFlow 1.3 §7.3.5) and stats (OpenFlow 1.0 §5.3.5) messages:
// type(2) flags(2), four pad bytes in 1.3 only, then a body whose shape
// depends on the type. Types 0..5 mean the same in both versions.

// Multipart types (OFPMP_*).
const (
	MPDesc          uint16 = 0
	MPFlow          uint16 = 1
	MPAggregate     uint16 = 2
	MPTable         uint16 = 3
	MPPortStats     uint16 = 4
	MPQueue         uint16 = 5
	MPGroup         uint16 = 6
	MPGroupDesc     uint16 = 7
	MPGroupFeatures uint16 = 8
	MPMeter         uint16 = 9
	MPMeterConfig   uint16 = 10
	MPMeterFeatures uint16 = 11
	MPTableFeatures uint16 = 12
	MPPortDesc      uint16 = 13
	MPExperimenter  uint16 = 0xffff
)

// MultipartMore is OFPMPF_REQ_MORE / OFPMPF_REPLY_MORE.
const MultipartMore = 1

func mpHeaderLen(version uint8) int {
	if version == Version10 {
		return 4
	}
	return 8
}

// FlowStatsRequest selects flows for flow and aggregate requests.
type FlowStatsRequest struct {
	Table      uint8
	OutPort    uint32
	OutGroup   uint32
	Cookie     uint64
	CookieMask uint64
	Match      flow.Match
}

// MultipartRequest is OFPT_MULTIPART_REQUEST (OFPT_STATS_REQUEST in 1.0).
// Which fields matter depends on MPType: Flow for flow and aggregate; Port
// for port stats and queue; Queue for queue; Group for group; Meter for the
// meter kinds; TableFeatures for table features (empty = just list them);
// Experimenter/ExpType for experimenter. Body keeps the raw body of kinds
// the codec does not parse, so they re-encode unchanged.
type MultipartRequest struct {
	MPType        uint16
	Flags         uint16
	Flow          FlowStatsRequest
	Port          uint32
	Queue         uint32
	Group         uint32
	Meter         uint32
	TableFeatures []TableFeatures
	Experimenter  uint32
	ExpType       uint32
	Body          []byte
}

// Type implements Message.
func (*MultipartRequest) Type() Type { return TypeMultipartRequest }

func decodeMultipartRequest(version uint8, b []byte) (Message, error) {
	hl := mpHeaderLen(version)
	if err := minBody(TypeMultipartRequest, b, hl); err != nil {
		return nil, err
	}
	r := &MultipartRequest{MPType: be16(b), Flags: be16(b[2:])}
	body := b[hl:]
	var err error
	switch r.MPType {
	case MPDesc, MPTable, MPGroupDesc, MPGroupFeatures, MPMeterFeatures, MPPortDesc:
		err = mpFixed(body, 0)
	case MPFlow, MPAggregate:
		err = decodeFlowStatsRequest(version, body, &r.Flow)
	case MPPortStats:
		if version == Version10 {
			if err = mpFixed(body, 8); err == nil {
				r.Port = port10To32(be16(body))
			}
		} else if err = mpFixed(body, 8); err == nil {
			r.Port = be32(body)
		}
	case MPQueue:
		if err = mpFixed(body, 8); err == nil {
			if version == Version10 {
				r.Port, r.Queue = port10To32(be16(body)), be32(body[4:])
			} else {
				r.Port, r.Queue = be32(body), be32(body[4:])
			}
		}
	case MPGroup:
		if err = mpFixed(body, 8); err == nil {
			r.Group = be32(body)
		}
	case MPMeter, MPMeterConfig:
		if err = mpFixed(body, 8); err == nil {
			r.Meter = be32(body)
		}
	case MPTableFeatures:
		r.TableFeatures, err = decodeTableFeaturesList(body)
	case MPExperimenter:
		if len(body) < 8 {
			return nil, errorf(ErrBadRequest, BRCBadLen, "experimenter multipart of %d bytes", len(body))
		}
		r.Experimenter, r.ExpType, r.Body = be32(body), be32(body[4:]), clone(body[8:])
		if version == Version10 {
			r.ExpType, r.Body = 0, clone(body[4:])
		}
	default:
		return nil, errorf(ErrBadRequest, BRCBadMultipart, "multipart type %d", r.MPType)
	}
	if err != nil {
		return nil, err
	}
	return r, nil
}

func mpFixed(b []byte, n int) error {
	if len(b) != n {
		return errorf(ErrBadRequest, BRCBadLen, "multipart body of %d bytes, want %d", len(b), n)
	}
	return nil
}

func decodeFlowStatsRequest(version uint8, b []byte, f *FlowStatsRequest) error {
	if version == Version10 {
		if err := mpFixed(b, 44); err != nil {
			return err
		}
		if err := decodeMatch10(b, &f.Match); err != nil {
			return err
		}
		f.Table, f.OutPort, f.OutGroup = b[40], port10To32(be16(b[42:])), GroupAny
		return nil
	}
	if len(b) < 32+matchHeaderLen {
		return errorf(ErrBadRequest, BRCBadLen, "flow stats request of %d bytes", len(b))
	}
	f.Table, f.OutPort, f.OutGroup = b[0], be32(b[4:]), be32(b[8:])
	f.Cookie, f.CookieMask = be64(b[16:]), be64(b[24:])
	n, err := decodeMatch13(b[32:], &f.Match)
	if err != nil {
		return err
	}
	return mpFixed(b[32+n:], 0)
}

func appendFlowStatsRequest(dst []byte, version uint8, f *FlowStatsRequest) ([]byte, error) {
	if version == Version10 {
		dst, err := appendMatch10(dst, &f.Match)
		if err != nil {
			return dst, err
		}
		p, ok := port32To10(f.OutPort)
		if !ok {
			return dst, fmt.Errorf("openflow: out_port %d has no OpenFlow 1.0 number", f.OutPort)
		}
		return put16(append(dst, f.Table, 0), p), nil
	}
	dst = pad(put32(put32(pad(append(dst, f.Table), 3), f.OutPort), f.OutGroup), 4)
	dst = put64(put64(dst, f.Cookie), f.CookieMask)
	return appendMatch13(dst, &f.Match)
}

// Append implements Message.
func (r *MultipartRequest) Append(dst []byte, version uint8, xid uint32) ([]byte, error) {
	dst, start, err := appendHeader(dst, version, TypeMultipartRequest, xid)
	if err != nil {
		return dst, err
	}
	dst = put16(put16(dst, r.MPType), r.Flags)
	if version != Version10 {
		dst = pad(dst, 4)
	}
	switch r.MPType {
	case MPFlow, MPAggregate:
		dst, err = appendFlowStatsRequest(dst, version, &r.Flow)
	case MPPortStats, MPQueue:
		if version == Version10 {
			p, _ := port32To10(r.Port)
			dst = put16(dst, p)
			if r.MPType == MPQueue {
				dst = put32(pad(dst, 2), r.Queue)
			} else {
				dst = pad(dst, 6)
			}
		} else if r.MPType == MPQueue {
			dst = put32(put32(dst, r.Port), r.Queue)
		} else {
			dst = pad(put32(dst, r.Port), 4)
		}
	case MPGroup:
		dst = pad(put32(dst, r.Group), 4)
	case MPMeter, MPMeterConfig:
		dst = pad(put32(dst, r.Meter), 4)
	case MPTableFeatures:
		dst = appendTableFeaturesList(dst, r.TableFeatures)
	case MPExperimenter:
		dst = put32(dst, r.Experimenter)
		if version != Version10 {
			dst = put32(dst, r.ExpType)
		}
		dst = append(dst, r.Body...)
	}
	if err != nil {
		return dst[:start], err
	}
	return finish(dst, start)
}

// SwitchDesc is the desc reply (ofp_desc).
type SwitchDesc struct {
	Manufacturer string
	Hardware     string
	Software     string
	SerialNum    string
	Datapath     string
}

// QueueStats is one queue-stats reply entry.
type QueueStats struct {
	Port      uint32
	Queue     uint32
	TxBytes   uint64
	TxPackets uint64
	TxErrors  uint64
	Duration  uint64 // 1.3: sec<<32 | nsec, raw
}

// GroupStats is one group-stats reply entry.
type GroupStats struct {
	ID       uint32
	RefCount uint32
	Packets  uint64
	Bytes    uint64
	Duration uint64 // sec<<32 | nsec, raw
	Buckets  [][2]uint64
}

// GroupFeatures is the group-features reply.
type GroupFeatures struct {
	Types        uint32
	Capabilities uint32
	MaxGroups    [4]uint32
	Actions      [4]uint32
}

// MultipartReply is OFPT_MULTIPART_REPLY (OFPT_STATS_REPLY in 1.0). The
// field named after MPType carries the body; Body keeps the raw body of
// kinds the codec does not parse (meters, experimenter).
type MultipartReply struct {
	MPType        uint16
	Flags         uint16
	Desc          SwitchDesc
	Flows         []FlowStats
	Aggregate     AggregateStats
	Tables        []TableStats
	Ports         []PortStats
	PortDescs     []PortDesc
	Queues        []QueueStats
	Groups        []GroupStats
	GroupDescs    []Group
	GroupFeatures GroupFeatures
	TableFeatures []TableFeatures
	Body          []byte
}

// Type implements Message.
func (*MultipartReply) Type() Type { return TypeMultipartReply }
