package ofchannel

import (
	"time"

	"encoding/binary"

	"tapestry/openflow"
)

// Multipart replies (OpenFlow 1.3 §7.3.5). Replies longer than one message
// are split into several, every one but the last flagged
// OFPMPF_REPLY_MORE; entries are never split.

// maxEntries is the max_entries every table reports (as Open vSwitch does).
const maxEntries = 1000000

// Desc strings (ovs-ofctl show prints them).
const (
	descManufacturer = "tapestry"
	descHardware     = "tapestry userspace switch"
	descSerial       = "None"
)

func (c *conn) multipart(m *openflow.MultipartRequest, xid uint32) error {
	if c.version == openflow.Version10 && m.MPType > openflow.MPQueue && m.MPType != openflow.MPExperimenter &&
		m.MPType != openflow.MPPortDesc {
		// OpenFlow 1.0 defines stats types 0..5 and vendor; Open vSwitch
		// adds port-desc (13), which ovs-ofctl dump-ports-desc uses.
		return codecErr(openflow.ErrBadRequest, openflow.BRCBadMultipart, "stats type %d", m.MPType)
	}
	r := &openflow.MultipartReply{MPType: m.MPType}
	switch m.MPType {
	case openflow.MPDesc:
		sw, dp := c.a.cfg.Software, c.a.cfg.DPDesc
		if sw == "" {
			sw = "tapestry"
		}
		if dp == "" {
			dp = "None"
		}
		r.Desc = openflow.SwitchDesc{Manufacturer: descManufacturer, Hardware: descHardware,
			Software: sw, SerialNum: descSerial, Datapath: dp}
	case openflow.MPFlow:
		return c.flowStats(m, xid)
	case openflow.MPAggregate:
		r.Aggregate = c.a.sw.Aggregate(statsFilter(&m.Flow))
	case openflow.MPTable:
		ts := wireTableStats(c.a.sw.TableStats())
		return c.split(xid, m.MPType, len(ts), tableEntries(ts))
	case openflow.MPPortStats:
		return c.portStats(m, xid)
	case openflow.MPPortDesc:
		ports := c.a.sw.Ports()
		return c.split(xid, m.MPType, len(ports), func(i int, rr *openflow.MultipartReply) {
			rr.PortDescs = append(rr.PortDescs[:0], ports[i].Desc)
		})
	case openflow.MPQueue, openflow.MPMeter, openflow.MPMeterConfig:
		// No queues or meters: empty lists.
	case openflow.MPGroup:
		return c.groupStats(m, xid)
	case openflow.MPGroupDesc:
		return c.groupDescs(m, xid)
	case openflow.MPGroupFeatures:
		// A switch without groups reports all zeros: no types,
		// max_groups 0.
		if g, ok := c.a.sw.(Grouper); ok {
			r.GroupFeatures = g.GroupFeatures()
		}
	case openflow.MPMeterFeatures:
		// struct ofp_meter_features with max_meter 0: meters unsupported.
		r.Body = make([]byte, 16)
	case openflow.MPTableFeatures:
		if len(m.TableFeatures) > 0 {
			// Reconfiguring tables is not supported.
			return codecErr(openflow.ErrTableFeaturesFailed, openflow.TFFCEPerm, "table features cannot be changed")
		}
		for _, msg := range c.a.tableFeatures {
			b := append([]byte(nil), msg...)
			binary.BigEndian.PutUint32(b[4:], xid)
			if !c.send(b) {
				return nil
			}
		}
		return nil
	case openflow.MPExperimenter:
		if c.version == openflow.Version10 && m.Experimenter == niciraVendor {
			return c.niciraStats(m, xid)
		}
		return openflow.UnknownExperimenter(m.Experimenter)
	default:
		return codecErr(openflow.ErrBadRequest, openflow.BRCBadMultipart, "multipart type %d", m.MPType)
	}
	c.reply(r, xid)
	return nil
}

// statsFilter turns a flow or aggregate request into the bridge's filter.
func statsFilter(f *openflow.FlowStatsRequest) openflow.FlowMod {
	return openflow.FlowMod{Table: f.Table, Match: f.Match, Cookie: f.Cookie, CookieMask: f.CookieMask,
		OutPort: f.OutPort, OutGroup: f.OutGroup}
}

func (c *conn) flowStats(m *openflow.MultipartRequest, xid uint32) error {
	flows := c.a.sw.DumpFlows(statsFilter(&m.Flow))
	// Open vSwitch keeps flow times in milliseconds, so ovs-ofctl prints
	// "duration=1.234s"; report the same granularity.
	for i := range flows {
		flows[i].Duration = flows[i].Duration.Truncate(time.Millisecond)
	}
	return c.split(xid, m.MPType, len(flows), func(i int, r *openflow.MultipartReply) {
		r.Flows = append(r.Flows[:0], flows[i])
	})
}

// visibleTables is how many tables Open vSwitch reports in table stats:
// 0-253; table 254 is its hidden internal table.
const visibleTables = 254

// wireTableStats is the table-stats reply as Open vSwitch sends it: tables
// 0-253, with empty names (ovs-vswitchd leaves ofp_table_stats.name empty
// unless a name was configured, and ovs-ofctl prints a name only when one
// is sent).
func wireTableStats(ts []openflow.TableStats) []openflow.TableStats {
	if len(ts) > visibleTables {
		ts = ts[:visibleTables]
	}
	out := make([]openflow.TableStats, len(ts))
	copy(out, ts)
	for i := range out {
		out[i].Name = ""
	}
	return out
}

func tableEntries(ts []openflow.TableStats) func(int, *openflow.MultipartReply) {
	return func(i int, r *openflow.MultipartReply) { r.Tables = append(r.Tables[:0], ts[i]) }
}

func (c *conn) portStats(m *openflow.MultipartRequest, xid uint32) error {
	var stats []openflow.PortStats
	for _, p := range c.a.sw.Ports() {
		if m.Port == openflow.PortAny || m.Port == p.OFPort {
			stats = append(stats, p.Stats)
		}
	}
	if m.Port != openflow.PortAny && len(stats) == 0 {
		return codecErr(openflow.ErrBadRequest, openflow.BRCBadPort, "port %d", m.Port)
	}
	return c.split(xid, m.MPType, len(stats), func(i int, r *openflow.MultipartReply) {
		r.Ports = append(r.Ports[:0], stats[i])
	})
}

// split sends n entries of type mpType, set into a one-entry reply by fill,
// in as few messages as fit. Entries that cannot be encoded for the
// connection's version (a port number 1.0 cannot carry) are skipped.
func (c *conn) split(xid uint32, mpType uint16, n int, fill func(int, *openflow.MultipartReply)) error {
	sb := splitter{version: c.version, xid: xid, mpType: mpType}
	var one openflow.MultipartReply
	one.MPType = mpType
	var scratch []byte
	for i := range n {
		fill(i, &one)
		var err error
		scratch, err = one.Append(scratch[:0], c.version, xid)
		if err != nil {
			c.a.log.Debug("ofchannel: multipart entry skipped", "type", mpType, "err", err)
			continue
		}
		sb.add(scratch[mpHeaderLen(c.version):])
	}
	for _, msg := range sb.finish() {
		if !c.send(msg) {
			break
		}
	}
	return nil
}

// mpHeaderLen is ofp_header plus the multipart header: type, flags and, in
// 1.3, four pad bytes.
func mpHeaderLen(version uint8) int {
	if version == openflow.Version10 {
		return openflow.HeaderLen + 4
	}
	return openflow.HeaderLen + 8
}

// splitter packs entries into multipart reply messages.
type splitter struct {
	version uint8
	xid     uint32
	mpType  uint16
	prefix  []byte // repeated after the header of every part (vendor stats)
	msgs    [][]byte
	cur     []byte
}

func (s *splitter) start() {
	w, _ := openflow.WireType(s.version, openflow.TypeMultipartReply)
	s.cur = make([]byte, mpHeaderLen(s.version), 16<<10)
	s.cur[0], s.cur[1] = s.version, w
	binary.BigEndian.PutUint32(s.cur[4:], s.xid)
	binary.BigEndian.PutUint16(s.cur[8:], s.mpType)
	s.cur = append(s.cur, s.prefix...)
}

func (s *splitter) add(entry []byte) {
	if s.cur == nil {
		s.start()
	}
	if len(s.cur)+len(entry) > openflow.MaxMessageLen {
		s.seal(true)
		s.start()
	}
	s.cur = append(s.cur, entry...)
}

func (s *splitter) seal(more bool) {
	binary.BigEndian.PutUint16(s.cur[2:], uint16(len(s.cur)))
	if more {
		binary.BigEndian.PutUint16(s.cur[10:], openflow.MultipartMore)
	}
	s.msgs = append(s.msgs, s.cur)
	s.cur = nil
}

func (s *splitter) finish() [][]byte {
	if s.cur == nil {
		s.start()
	}
	s.seal(false)
	return s.msgs
}

// encodeTableFeatures encodes the table-features reply once (with xid 0):
// ovs-ofctl asks for it before many OpenFlow 1.3 commands, and at about
// 4 kB a table, re-encoding 254 tables per request would be slow.
func encodeTableFeatures() [][]byte {
	s := splitter{version: openflow.Version13, mpType: openflow.MPTableFeatures}
	var one openflow.MultipartReply
	one.MPType = openflow.MPTableFeatures
	for _, t := range openflow.DefaultTableFeatures(numTables, maxEntries) {
		// Open vSwitch sends empty names unless one was configured, and
		// ovs-ofctl --names prints a table by name when it has one
		// ("table=table0"); send none, as it does.
		t.Name = ""
		one.TableFeatures = append(one.TableFeatures[:0], t)
		b, err := one.Append(nil, openflow.Version13, 0)
		if err != nil {
			continue
		}
		s.add(b[mpHeaderLen(openflow.Version13):])
	}
	return s.finish()
}
