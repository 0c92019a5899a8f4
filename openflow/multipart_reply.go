package openflow

const (
	descStrLen   = 256
	serialNumLen = 32
	descLen      = 4*descStrLen + serialNumLen
)

func decodeMultipartReply(version uint8, b []byte) (Message, error) {
	hl := mpHeaderLen(version)
	if err := minBody(TypeMultipartReply, b, hl); err != nil {
		return nil, err
	}
	r := &MultipartReply{MPType: be16(b), Flags: be16(b[2:])}
	body := b[hl:]
	var err error
	switch r.MPType {
	case MPDesc:
		if err = mpFixed(body, descLen); err == nil {
			r.Desc = SwitchDesc{Manufacturer: cstring(body[:256]), Hardware: cstring(body[256:512]),
				Software: cstring(body[512:768]), SerialNum: cstring(body[768:800]), Datapath: cstring(body[800:])}
		}
	case MPFlow:
		r.Flows, err = decodeFlowStatsList(version, body)
	case MPAggregate:
		if err = mpFixed(body, 24); err == nil {
			r.Aggregate = AggregateStats{Packets: be64(body), Bytes: be64(body[8:]), Flows: be32(body[16:])}
		}
	case MPTable:
		r.Tables, err = decodeTableStats(version, body)
	case MPPortStats:
		r.Ports, err = decodePortStats(version, body)
	case MPPortDesc:
		r.PortDescs, err = decodePortList(version, body)
	case MPGroupDesc:
		r.GroupDescs, err = decodeGroupDescs(body)
	case MPGroupFeatures:
		if err = mpFixed(body, 40); err == nil {
			g := &r.GroupFeatures
			g.Types, g.Capabilities = be32(body), be32(body[4:])
			for i := range 4 {
				g.MaxGroups[i], g.Actions[i] = be32(body[8+4*i:]), be32(body[24+4*i:])
			}
		}
	case MPTableFeatures:
		r.TableFeatures, err = decodeTableFeaturesList(body)
	default:
		// Queue, group and meter statistics, meter config and features,
		// experimenter: kept raw; the switch only ever sends empty ones.
		r.Body = clone(body)
	}
	if err != nil {
		return nil, err
	}
	return r, nil
}

// Append implements Message.
func (r *MultipartReply) Append(dst []byte, version uint8, xid uint32) ([]byte, error) {
	dst, start, err := appendHeader(dst, version, TypeMultipartReply, xid)
	if err != nil {
		return dst, err
	}
	dst = put16(put16(dst, r.MPType), r.Flags)
	if version != Version10 {
		dst = pad(dst, 4)
	}
	switch r.MPType {
	case MPDesc:
		d := &r.Desc
		dst = putString(putString(putString(dst, d.Manufacturer, descStrLen), d.Hardware, descStrLen), d.Software, descStrLen)
		dst = putString(putString(dst, d.SerialNum, serialNumLen), d.Datapath, descStrLen)
	case MPFlow:
		for i := range r.Flows {
			if dst, err = appendFlowStats(dst, version, &r.Flows[i]); err != nil {
				return dst[:start], err
			}
		}
	case MPAggregate:
		dst = pad(put32(put64(put64(dst, r.Aggregate.Packets), r.Aggregate.Bytes), r.Aggregate.Flows), 4)
	case MPTable:
		for i := range r.Tables {
			dst = appendTableStats(dst, version, &r.Tables[i])
		}
	case MPPortStats:
		for i := range r.Ports {
			dst = appendPortStats(dst, version, &r.Ports[i])
		}
	case MPPortDesc:
		for i := range r.PortDescs {
			if dst, err = appendPortDesc(dst, version, &r.PortDescs[i]); err != nil {
				return dst[:start], err
			}
		}
	case MPGroupDesc:
		for i := range r.GroupDescs {
			g := &r.GroupDescs[i]
			gs := len(dst)
			dst = put32(append(pad(dst, 2), g.GroupType, 0), g.ID)
			if dst, err = appendBuckets(dst, g.Buckets); err != nil {
				return dst[:start], err
			}
			n := len(dst) - gs
			dst[gs], dst[gs+1] = byte(n>>8), byte(n)
		}
	case MPGroupFeatures:
		g := &r.GroupFeatures
		dst = put32(put32(dst, g.Types), g.Capabilities)
		for _, v := range g.MaxGroups {
			dst = put32(dst, v)
		}
		for _, v := range g.Actions {
			dst = put32(dst, v)
		}
	case MPTableFeatures:
		dst = appendTableFeaturesList(dst, r.TableFeatures)
	default:
		dst = append(dst, r.Body...)
	}
	return finish(dst, start)
}

// Flow stats entry: 1.0 is length table pad match(40) duration priority idle
// hard pad(6) cookie packets bytes actions; 1.3 is length table pad duration
// priority idle hard flags pad(4) cookie packets bytes match instructions.
func decodeFlowStatsList(version uint8, b []byte) ([]FlowStats, error) {
	var out []FlowStats
	for len(b) > 0 {
		if len(b) < 4 {
			return nil, errorf(ErrBadRequest, BRCBadLen, "flow stats entry truncated")
		}
		n := int(be16(b))
		if n < 56 || n > len(b) {
			return nil, errorf(ErrBadRequest, BRCBadLen, "flow stats entry of %d bytes", n)
		}
		fs, err := decodeFlowStats(version, b[:n])
		if err != nil {
			return nil, err
		}
		out = append(out, fs)
		b = b[n:]
	}
	return out, nil
}

func decodeFlowStats(version uint8, e []byte) (FlowStats, error) {
	fs := FlowStats{Table: e[2]}
	var err error
	if version == Version10 {
		if len(e) < 88 {
			return fs, errorf(ErrBadRequest, BRCBadLen, "flow stats entry of %d bytes", len(e))
		}
		if err = decodeMatch10(e[4:], &fs.Match); err != nil {
			return fs, err
		}
		fs.Duration, fs.Priority = durationOf(e[44:]), be16(e[52:])
		fs.IdleTimeout, fs.HardTimeout = be16(e[54:]), be16(e[56:])
		fs.Cookie, fs.Packets, fs.Bytes = be64(e[64:]), be64(e[72:]), be64(e[80:])
		fs.Actions, err = decodeActions(version, e[88:], nil)
		return fs, err
	}
	fs.Duration, fs.Priority = durationOf(e[4:]), be16(e[12:])
	fs.IdleTimeout, fs.HardTimeout, fs.Flags = be16(e[14:]), be16(e[16:]), FlowModFlags(be16(e[18:]))
	fs.Cookie, fs.Packets, fs.Bytes = be64(e[24:]), be64(e[32:]), be64(e[40:])
	n, err := decodeMatch13(e[48:], &fs.Match)
	if err != nil {
		return fs, err
	}
	fs.Actions, err = decodeInstructions(e[48+n:], nil)
	return fs, err
}

func appendFlowStats(dst []byte, version uint8, fs *FlowStats) ([]byte, error) {
	start := len(dst)
	dst = append(dst, 0, 0, fs.Table, 0)
	var err error
	if version == Version10 {
		if dst, err = appendMatch10(dst, &fs.Match); err != nil {
			return dst[:start], err
		}
		dst = put16(put16(put16(putDuration(dst, fs.Duration), fs.Priority), fs.IdleTimeout), fs.HardTimeout)
		dst = put64(put64(put64(pad(dst, 6), fs.Cookie), fs.Packets), fs.Bytes)
		dst, err = appendActions(dst, version, fs.Actions, &fs.Match)
	} else {
		dst = put16(put16(put16(putDuration(dst, fs.Duration), fs.Priority), fs.IdleTimeout), fs.HardTimeout)
		dst = put64(put64(put64(pad(put16(dst, uint16(fs.Flags)), 4), fs.Cookie), fs.Packets), fs.Bytes)
		if dst, err = appendMatch13(dst, &fs.Match); err == nil {
			dst, err = appendInstructions(dst, fs.Actions, &fs.Match)
		}
	}
	if err != nil {
		return dst[:start], err
	}
	n := len(dst) - start
	dst[start], dst[start+1] = byte(n>>8), byte(n)
	return dst, nil
}

const (
	tableNameLen   = 32
	tableStats10   = 64
	tableStats13   = 24
	portStats10Len = 104
	portStats13Len = 112
)

func decodeTableStats(version uint8, b []byte) ([]TableStats, error) {
	n := tableStats13
	if version == Version10 {
		n = tableStats10
	}
	if len(b)%n != 0 {
		return nil, errorf(ErrBadRequest, BRCBadLen, "table stats of %d bytes", len(b))
	}
	var out []TableStats
	for ; len(b) > 0; b = b[n:] {
		t := TableStats{Table: b[0]}
		if version == Version10 {
			t.Name, t.MaxEntries, t.ActiveCount = cstring(b[4:36]), be32(b[40:]), be32(b[44:])
			t.LookupCount, t.MatchedCount = be64(b[48:]), be64(b[56:])
		} else {
			t.ActiveCount, t.LookupCount, t.MatchedCount = be32(b[4:]), be64(b[8:]), be64(b[16:])
		}
		out = append(out, t)
	}
	return out, nil
}

func appendTableStats(dst []byte, version uint8, t *TableStats) []byte {
	dst = pad(append(dst, t.Table), 3)
	if version == Version10 {
		dst = putString(dst, t.Name, tableNameLen)
		dst = put32(put32(put32(dst, fw10All), t.MaxEntries), t.ActiveCount)
		return put64(put64(dst, t.LookupCount), t.MatchedCount)
	}
	return put64(put64(put32(dst, t.ActiveCount), t.LookupCount), t.MatchedCount)
}

func decodePortStats(version uint8, b []byte) ([]PortStats, error) {
	n := portStats13Len
	if version == Version10 {
		n = portStats10Len
	}
	if len(b)%n != 0 {
		return nil, errorf(ErrBadRequest, BRCBadLen, "port stats of %d bytes", len(b))
	}
	var out []PortStats
	for ; len(b) > 0; b = b[n:] {
		var p PortStats
		if version == Version10 {
			p.No = port10To32(be16(b))
		} else {
			p.No = be32(b)
		}
		c := b[8:]
		for i, f := range p.counters() {
			*f = be64(c[8*i:])
		}
		if version != Version10 {
			p.Duration = durationOf(b[104:])
		}
		out = append(out, p)
	}
	return out, nil
}

// counters lists the twelve 64-bit counters in wire order.
func (p *PortStats) counters() [12]*uint64 {
	return [12]*uint64{&p.RxPackets, &p.TxPackets, &p.RxBytes, &p.TxBytes, &p.RxDropped, &p.TxDropped,
		&p.RxErrors, &p.TxErrors, &p.RxFrameErr, &p.RxOverErr, &p.RxCRCErr, &p.Collisions}
}

func appendPortStats(dst []byte, version uint8, p *PortStats) []byte {
	if version == Version10 {
		no, _ := port32To10(p.No)
		dst = pad(put16(dst, no), 6)
	} else {
		dst = pad(put32(dst, p.No), 4)
	}
	for _, f := range p.counters() {
		dst = put64(dst, *f)
	}
	if version != Version10 {
		dst = putDuration(dst, p.Duration)
	}
	return dst
}

func decodeGroupDescs(b []byte) ([]Group, error) {
	var out []Group
	for len(b) > 0 {
		if len(b) < 8 {
			return nil, errorf(ErrBadRequest, BRCBadLen, "group desc truncated")
		}
		n := int(be16(b))
		if n < 8 || n > len(b) {
			return nil, errorf(ErrBadRequest, BRCBadLen, "group desc of %d bytes", n)
		}
		g := Group{GroupType: b[2], ID: be32(b[4:])}
		var err error
		if g.Buckets, err = decodeBuckets(b[8:n]); err != nil {
			return nil, err
		}
		out = append(out, g)
		b = b[n:]
	}
	return out, nil
}
