package main

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"tapestry/ofconn"
	"tapestry/ofctl"
	"tapestry/openflow"
)

// When the switch argument is a connection target (unix:PATH,
// tcp:IP[:PORT]) tapestry ofctl speaks OpenFlow itself, as ovs-ofctl does,
// instead of asking the daemon over its API. The differences from
// ovs-ofctl 3.1, on purpose:
//
//   - Without -O, ovs-ofctl offers only OpenFlow 1.0; we offer 1.0 and 1.3
//     and use the highest version both sides speak. -O OpenFlow10 or
//     -O OpenFlow13 pins the version, as with ovs-ofctl.
//   - ovs-ofctl opens up to three connections per command (to learn port
//     and table names) and, with OpenFlow 1.0, first tries to switch to
//     Nicira's NXM flow format. We use one connection and standard
//     the same requests otherwise, and spend the transaction ids of the
//     hellos and table-name requests we leave out (SkipXIDs), so the
//     "(xid=0x..)" ovs-ofctl prints come out the same.
//
// With OpenFlow 1.0, flow and aggregate dumps first ask for Nicira's NXM
// flow format as ovs-ofctl does: a switch that accepts (Open vSwitch) is
// asked with NXST_FLOW/NXST_AGGREGATE, which carry idle and hard ages; one
// that refuses (tapestry) gets standard OFPST requests.

// wireTarget reports whether the switch argument names a connection.
func wireTarget(s string) bool {
	_, _, ok, _ := ofconn.ParseTarget(s)
	return ok
}

// ofctlWire is a connection plus what commands need from the invocation.
type ofctlWire struct {
	c     *ofctlCtx
	conn  *ofconn.Conn
	ports wirePorts
}

func (c *ofctlCtx) dialWire() (*ofctlWire, error) {
	bm := ofconn.Spoken
	if c.inv.protocols != "" {
		bm = protocolBitmap(c.inv.protocols)
	}
	conn, err := ofconn.Dial(c.ctx, c.arg(0), bm)
	if err != nil {
		return nil, err
	}
	return &ofctlWire{c: c, conn: conn}, nil
}

// protocolBitmap is the set of versions -O lists that we speak.
func protocolBitmap(list string) uint32 {
	var bm uint32
	for _, p := range strings.Split(list, ",") {
		switch strings.TrimSpace(p) {
		case "OpenFlow10":
			bm |= ofconn.Bitmap(openflow.Version10)
		case "OpenFlow13":
			bm |= ofconn.Bitmap(openflow.Version13)
		}
	}
	return bm
}

func (w *ofctlWire) v() uint8 { return w.conn.Version() }

// fetchPorts learns the switch's ports: the features reply carries them in
// OpenFlow 1.0, a port-description request in 1.3.
func (w *ofctlWire) fetchPorts() error {
	if w.v() == openflow.Version10 {
		m, _, err := w.conn.Request(w.c.ctx, &openflow.FeaturesRequest{})
		if err != nil {
			return err
		}
		f, ok := m.(*openflow.FeaturesReply)
		if !ok {
			return fmt.Errorf("features request answered with %v", m.Type())
		}
		w.ports = ports10(f.Ports)
		return nil
	}
	parts, _, err := w.conn.Multipart(w.c.ctx, &openflow.MultipartRequest{MPType: openflow.MPPortDesc})
	if err != nil {
		return err
	}
	w.ports = nil
	for _, p := range parts {
		w.ports = append(w.ports, p.PortDescs...)
	}
	return nil
}

// prepareMods does what ovs-ofctl does before sending modifications: it
// asks for table names (we skip that) and ports (for parsing names).
func (w *ofctlWire) prepareMods() error {
	w.conn.SkipXIDs(2)
	if err := w.fetchPorts(); err != nil {
		return err
	}
	w.conn.SkipXIDs(1)
	return nil
}

// wirePorts names ports from a port list.
type wirePorts []openflow.PortDesc

func (ps wirePorts) PortNumber(name string) (uint32, bool) {
	for _, p := range ps {
		if p.Name == name {
			return p.No, true
		}
	}
	return 0, false
}

func (ps wirePorts) PortName(no uint32) (string, bool) {
	for _, p := range ps {
		if p.No == no {
			return p.Name, true
		}
	}
	return "", false
}

// runWire runs command over OpenFlow; handled is false for commands that
// only exist for bridge names.
func runWire(c *ofctlCtx) (handled bool, err error) {
	fn, ok := wireCommands[c.inv.command]
	if !ok {
		return false, nil
	}
	w, err := c.dialWire()
	if err != nil {
		return true, err
	}
	defer w.conn.Close()
	return true, fn(w)
}

var wireCommands map[string]func(*ofctlWire) error

func init() {
	wireCommands = map[string]func(*ofctlWire) error{
		"show":                wireShow,
		"dump-flows":          wireDumpFlows,
		"dump-aggregate":      wireDumpAggregate,
		"add-flow":            func(w *ofctlWire) error { return w.flowMods(openflow.FlowAdd, []string{w.c.arg(1)}) },
		"add-flows":           wireAddFlows,
		"mod-flows":           wireModFlows,
		"del-flows":           wireDelFlows,
		"dump-ports":          wireDumpPorts,
		"dump-ports-desc":     wireDumpPortsDesc,
		"dump-tables":         wireDumpTables,
		"mod-port":            wireModPort,
		"packet-out":          wirePacketOut,
		"add-group":           wireAddGroup,
		"add-groups":          wireAddGroups,
		"mod-group":           wireModGroup,
		"del-groups":          wireDelGroups,
		"dump-groups":         wireDumpGroups,
		"dump-group-stats":    wireDumpGroupStats,
		"dump-group-features": wireDumpGroupFeatures,
	}
}

// flowMods parses and sends flow mods, each followed by a barrier as
// ovs-ofctl does, stopping at the first error.
func (w *ofctlWire) flowMods(cmd openflow.FlowModCommand, lines []string) error {
	if err := w.prepareMods(); err != nil {
		return err
	}
	fms := make([]openflow.FlowMod, 0, len(lines))
	tableID := false
	for _, l := range lines {
		lcmd, text := cmd, l
		if cmd == openflow.FlowAdd {
			lcmd, text = flowFileCommand(l)
		}
		fm, err := ofctl.ParseFlowMod(text, lcmd, w.ports)
		if err != nil {
			return err
		}
		if fm.Table == openflow.TableAll && w.v() != openflow.Version10 &&
			(fm.Command == openflow.FlowModify || fm.Command == openflow.FlowModifyStrict) {
			// OpenFlow 1.3 allows OFPTT_ALL only in deletes (§7.3.4.1);
			// ovs-ofctl modifies table 0 unless told otherwise.
			fm.Table = 0
		}
		if fm.Table != 0 && fm.Table != openflow.TableAll {
			tableID = true
		}
		fms = append(fms, fm)
	}
	if tableID && w.v() == openflow.Version10 {
		// OpenFlow 1.0 has no table in a flow mod; Nicira's
		// NXT_FLOW_MOD_TABLE_ID puts it in the command's high byte.
		if _, err := w.conn.TransactRaw(w.c.ctx, nxtFlowModTableID()); err != nil {
			return err
		}
	}
	nxm := false
	for i := range fms {
		if w.v() == openflow.Version10 && (fms[i].CookieMask != 0 || openflow.NeedsNXMatch(&fms[i].Match)) && !nxm {
			// As ovs-ofctl: ask for the NXM flow format, then send what
			// ofp_match cannot carry as NXT_FLOW_MOD.
			if _, err := w.conn.SetFlowFormatNXM(w.c.ctx); err != nil {
				return err
			}
			nxm = true
		}
	}
	for i := range fms {
		raw, err := w.flowModMsg(&fms[i], tableID)
		if err != nil {
			return err
		}
		if _, err := w.conn.TransactRaw(w.c.ctx, raw); err != nil {
			return w.explain(err, raw)
		}
	}
	return nil
}

// flowModMsg encodes fm for the connection's version: OFPT_FLOW_MOD, or in
// OpenFlow 1.0 NXT_FLOW_MOD when the match needs NXM or a cookie mask.
// With tableID (NXT_FLOW_MOD_TABLE_ID enabled) a 1.0 mod carries its table
// in the command's high byte.
func (w *ofctlWire) flowModMsg(fm *openflow.FlowMod, tableID bool) ([]byte, error) {
	if w.v() != openflow.Version10 {
		return fm.Append(nil, w.v(), 0)
	}
	withTable := tableID && fm.Table != openflow.TableAll
	if fm.CookieMask != 0 || openflow.NeedsNXMatch(&fm.Match) {
		return openflow.AppendNXFlowMod(nil, 0, fm, withTable)
	}
	raw, err := fm.Append(nil, w.v(), 0)
	if err == nil && withTable {
		raw[of10CommandOff] = fm.Table
	}
	return raw, err
}

// of10CommandOff is the offset of ofp_flow_mod.command in an OpenFlow 1.0
// flow mod, whose high byte NXT_FLOW_MOD_TABLE_ID turns into a table id.
const of10CommandOff = openflow.HeaderLen + 48

// flowFileCommand reads the optional leading command word of an add-flows
// line ("add", "modify", "delete_strict"...).
func flowFileCommand(line string) (openflow.FlowModCommand, string) {
	word, rest, _ := strings.Cut(strings.TrimSpace(line), " ")
	switch word {
	case "add":
		return openflow.FlowAdd, rest
	case "modify":
		return openflow.FlowModify, rest
	case "modify_strict":
		return openflow.FlowModifyStrict, rest
	case "delete":
		return openflow.FlowDelete, rest
	case "delete_strict":
		return openflow.FlowDeleteStrict, rest
	}
	return openflow.FlowAdd, line
}

// nxtFlowModTableID is NXT_FLOW_MOD_TABLE_ID with set=1 (Open vSwitch
// nicira-ext.h): vendor header, subtype 15, one byte, seven of padding.
func nxtFlowModTableID() []byte {
	return []byte{openflow.Version10, 4, 0, 24, 0, 0, 0, 0,
		0x00, 0x00, 0x23, 0x20, 0, 0, 0, 15,
		1, 0, 0, 0, 0, 0, 0, 0}
}

// flowLines splits a flow file into its flows: blank lines and # comments
// are skipped, as ovs-ofctl does.
func flowLines(body []byte) []string {
	var out []string
	for _, l := range strings.Split(string(body), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		out = append(out, l)
	}
	return out
}

func wireAddFlows(w *ofctlWire) error {
	body, err := w.c.readFlowFile(w.c.arg(1))
	if err != nil {
		return err
	}
	return w.flowMods(openflow.FlowAdd, flowLines(body))
}

func (w *ofctlWire) flowArgLines(i int) ([]string, error) {
	if w.c.arg(i) == "-" {
		body, err := io.ReadAll(w.c.stdin)
		return flowLines(body), err
	}
	return []string{w.c.arg(i)}, nil
}

func wireModFlows(w *ofctlWire) error {
	cmd := openflow.FlowModify
	if w.c.inv.strict {
		cmd = openflow.FlowModifyStrict
	}
	lines, err := w.flowArgLines(1)
	if err != nil {
		return err
	}
	return w.flowMods(cmd, lines)
}

func wireDelFlows(w *ofctlWire) error {
	cmd := openflow.FlowDelete
	if w.c.inv.strict {
		cmd = openflow.FlowDeleteStrict
	}
	lines := []string{""}
	if len(w.c.inv.args) > 1 {
		var err error
		if lines, err = w.flowArgLines(1); err != nil {
			return err
		}
	}
	return w.flowMods(cmd, lines)
}

// statsRequest builds the flow or aggregate request for a dump filter,
// making the requests ovs-ofctl makes first: with a filter it fetches
// ports (and table names, xids we skip); with OpenFlow 1.0 it asks for
// Nicira's NXM flow format, and nx reports whether the switch agreed.
func (w *ofctlWire) statsRequest(filter string) (req *openflow.FlowStatsRequest, nx bool, err error) {
	req = &openflow.FlowStatsRequest{Table: openflow.TableAll, OutPort: openflow.PortAny, OutGroup: openflow.GroupAny}
	if filter != "" {
		if err := w.fetchPorts(); err != nil {
			return nil, false, err
		}
		w.conn.SkipXIDs(3)
		fm, err := ofctl.ParseFlowMod(filter, openflow.FlowDelete, w.ports)
		if err != nil {
			return nil, false, err
		}
		*req = openflow.FlowStatsRequest{Table: fm.Table, OutPort: fm.OutPort, OutGroup: fm.OutGroup,
			Cookie: fm.Cookie, CookieMask: fm.CookieMask, Match: fm.Match}
	}
	if w.v() == openflow.Version10 {
		if nx, err = w.conn.SetFlowFormatNXM(w.c.ctx); err != nil {
			return nil, false, err
		}
	}
	return req, nx, nil
}

// flowReply is one part of a flow-stats reply, standard or Nicira.
type flowReply struct {
	flags uint16
	flows []openflow.FlowStats
	agg   openflow.AggregateStats
}

// flowStats sends the flow (or aggregate) request and returns the parts
// of the reply, its xid and the reply's name prefix (OFPST or NXST).
func (w *ofctlWire) flowStats(filter string, aggregate bool) ([]flowReply, uint32, string, error) {
	req, nx, err := w.statsRequest(filter)
	if err != nil {
		return nil, 0, "", err
	}
	var out []flowReply
	if nx {
		parts, xid, err := w.conn.NXFlowStats(w.c.ctx, req, aggregate)
		if err != nil {
			return nil, xid, "", w.explain(err, nil)
		}
		for _, p := range parts {
			out = append(out, flowReply{flags: p.Flags, flows: p.Flows, agg: p.Aggregate})
		}
		return out, xid, "NXST", nil
	}
	mp := openflow.MPFlow
	if aggregate {
		mp = openflow.MPAggregate
	}
	parts, xid, err := w.conn.Multipart(w.c.ctx, &openflow.MultipartRequest{MPType: mp, Flow: *req})
	if err != nil {
		return nil, xid, "", w.explain(err, nil)
	}
	for _, p := range parts {
		out = append(out, flowReply{flags: p.Flags, flows: p.Flows, agg: p.Aggregate})
	}
	return out, xid, "OFPST", nil
}

func wireDumpFlows(w *ofctlWire) error {
	parts, xid, kind, err := w.flowStats(w.c.arg(1), false)
	if err != nil {
		return err
	}
	opts := ofctl.FormatOptions{NoStats: w.c.inv.noStats, Version: w.v()}
	if w.c.inv.names == 1 {
		if w.ports == nil {
			if err := w.fetchPorts(); err != nil {
				return err
			}
		}
		opts.Names = w.ports
	}
	ages := kind == "NXST"
	var b []byte
	if !w.c.replyStyle() {
		var all []openflow.FlowStats
		for _, p := range parts {
			all = append(all, p.flows...)
		}
		if err := sortWire(all, w.c.inv.sort, w.c.inv.rsort); err != nil {
			return err
		}
		// ovs-ofctl gathers flows for sorting and names without the
		// Nicira ages (vconn_dump_flows decodes without them).
		for i := range all {
			b = append(w.flowLine(b, &all[i], opts, false), '\n')
		}
	} else {
		for _, p := range parts {
			b = append(b, statsHeader(kind, "FLOW", w.v(), xid, p.flags)...)
			b = append(b, '\n')
			for i := range p.flows {
				b = append(w.flowLine(b, &p.flows[i], opts, ages), '\n')
			}
		}
	}
	_, err = w.c.stdout.Write(b)
	return err
}

// flowLine prints one flow. Standard OpenFlow 1.0 flow stats carry no idle
// or hard age (Nicira's NXST_FLOW does), so ovs-ofctl prints none for
// them; the shared formatter prints ages for 1.0 and they are cut here.
func (w *ofctlWire) flowLine(b []byte, fs *openflow.FlowStats, opts ofctl.FormatOptions, ages bool) []byte {
	start := len(b)
	b = ofctl.AppendFlowStats(b, fs, opts)
	if w.v() != openflow.Version10 || opts.NoStats || ages {
		return b
	}
	line := string(b[start:])
	for _, key := range []string{"idle_age=", "hard_age="} {
		i := strings.Index(line, key)
		if i < 0 {
			continue
		}
		j := strings.Index(line[i:], ", ")
		if j < 0 {
			continue
		}
		line = line[:i] + line[i+j+2:]
	}
	return append(b[:start], line...)
}

func sortWire(fs []openflow.FlowStats, sort, rsort string) error {
	switch {
	case sort != "":
		return ofctl.SortFlows(fs, sort, false)
	case rsort != "":
		return ofctl.SortFlows(fs, rsort, true)
	}
	return nil
}

// statsHeader is a stats reply's first line, e.g. "OFPST_FLOW reply
// (OF1.3) (xid=0x2):"; a part followed by more says so.
func statsHeader(prefix, kind string, v uint8, xid uint32, flags uint16) string {
	s := fmt.Sprintf("%s_%s reply%s (xid=%#x):", prefix, kind, ofconn.VersionTag(v), xid)
	if flags&openflow.MultipartMore != 0 {
		s += " flags=[more]"
	}
	return s
}

func wireDumpAggregate(w *ofctlWire) error {
	parts, xid, kind, err := w.flowStats(w.c.arg(1), true)
	if err != nil {
		return err
	}
	a := parts[len(parts)-1].agg
	_, err = fmt.Fprintf(w.c.stdout, "%s packet_count=%d byte_count=%d flow_count=%d\n",
		statsHeader(kind, "AGGREGATE", w.v(), xid, 0), a.Packets, a.Bytes, a.Flows)
	return err
}

// explain turns an error reply into what ovs-ofctl prints: the error, then
// the request it refers to when we can print it.
func (w *ofctlWire) explain(err error, sent []byte) error {
	var er *ofconn.ErrorReply
	if !errors.As(err, &er) {
		return err
	}
	text := er.Error()
	if req := describeRequest(er.Request(), sent); req != "" {
		text += "\n" + req
	}
	return &rawError{text: text}
}

// rawError is printed as it is, without the "ovs-ofctl: " prefix, as
// ovs-ofctl prints OpenFlow errors.
type rawError struct{ text string }

func (e *rawError) Error() string { return e.text }

// describeRequest prints the request an error refers to, as ovs-ofctl's
// ofp-print does, for the messages tapestry ofctl sends; echoed is what
// the switch sent back (possibly truncated), sent the whole request.
func describeRequest(echoed, sent []byte) string {
	raw := echoed
	if len(sent) > 0 && len(echoed) >= openflow.HeaderLen && len(sent) >= len(echoed) {
		raw = append(append([]byte(nil), sent...), nil...)
		copy(raw, echoed[:openflow.HeaderLen]) // the xid the switch saw
	}
	h, err := openflow.ParseHeader(raw)
	if err != nil {
		return ""
	}
	// An OpenFlow 1.0 flow mod may carry a table id in its command's high
	// byte (NXT_FLOW_MOD_TABLE_ID); take it out to decode.
	table := uint8(0)
	if t, _ := openflow.TypeOf(h.Version, h.Type); h.Version == openflow.Version10 && t == openflow.TypeFlowMod && len(raw) > of10CommandOff {
		raw = append([]byte(nil), raw...)
		table, raw[of10CommandOff] = raw[of10CommandOff], 0
	}
	m, err := openflow.Decode(raw)
	if err != nil {
		return ""
	}
	if fm, ok := m.(*openflow.FlowMod); ok && table != 0 {
		fm.Table = table
	}
	tag := ofconn.VersionTag(h.Version)
	switch m := m.(type) {
	case *openflow.FlowMod:
		return fmt.Sprintf("OFPT_FLOW_MOD%s (xid=%#x):%s", tag, h.Xid, formatFlowModMsg(m, h.Version))
	case *openflow.GroupMod:
		return fmt.Sprintf("OFPT_GROUP_MOD%s (xid=%#x):\n %s", tag, h.Xid, formatGroupMod(m))
	}
	return ""
}

// flowModCommands are the names ofp-print gives flow-mod commands.
var flowModCommands = [...]string{"ADD", "MOD", "MOD_STRICT", "DEL", "DEL_STRICT"}

// formatFlowModMsg prints a flow mod as ofp-print does after the message
// name: " ADD table:254 priority=7,ip cookie:0x5 idle:10 actions=drop".
func formatFlowModMsg(fm *openflow.FlowMod, version uint8) string {
	b := []byte{' '}
	if int(fm.Command) < len(flowModCommands) {
		b = append(b, flowModCommands[fm.Command]...)
	} else {
		b = fmt.Appendf(b, "cmd:%d", fm.Command)
	}
	b = append(b, ' ')
	if fm.Table != 0 && (version != openflow.Version10 || fm.Table != openflow.TableAll) {
		b = fmt.Appendf(b, "table:%d ", fm.Table)
	}
	b = append(b, ofctl.FormatMatch(&fm.Match, fm.Priority, nil)...)
	if b[len(b)-1] != ' ' {
		b = append(b, ' ')
	}
	switch {
	case fm.CookieMask != 0:
		b = fmt.Appendf(b, "cookie:%#x/%#x ", fm.Cookie, fm.CookieMask)
	case fm.Cookie != 0 && fm.Cookie != ^uint64(0):
		b = fmt.Appendf(b, "cookie:%#x ", fm.Cookie)
	}
	if fm.IdleTimeout != 0 {
		b = fmt.Appendf(b, "idle:%d ", fm.IdleTimeout)
	}
	if fm.HardTimeout != 0 {
		b = fmt.Appendf(b, "hard:%d ", fm.HardTimeout)
	}
	if fm.BufferID != openflow.NoBuffer {
		b = fmt.Appendf(b, "buf:%#x ", fm.BufferID)
	}
	if fm.OutPort != openflow.PortAny {
		b = append(append(b, "out_port:"...), portLabel(fm.OutPort)...)
		b = append(b, ' ')
	}
	for _, f := range []struct {
		bit  openflow.FlowModFlags
		name string
	}{{openflow.FlagSendFlowRem, "send_flow_rem"}, {openflow.FlagCheckOverlap, "check_overlap"},
		{openflow.FlagResetCounts, "reset_counts"}, {openflow.FlagNoPktCounts, "no_packet_counts"},
		{openflow.FlagNoBytCounts, "no_byte_counts"}} {
		if fm.Flags&f.bit != 0 {
			b = append(append(b, f.name...), ' ')
		}
	}
	b = append(b, "actions="...)
	b = append(b, ofctl.FormatActions(fm.Actions, nil)...)
	return string(b)
}

func wireDumpPorts(w *ofctlWire) error {
	port, byName := openflow.PortAny, false
	if p := w.c.arg(1); p != "" {
		if no, ok := reservedOrNumber(p); ok {
			port = no
		} else {
			byName = true
			if err := w.fetchPorts(); err != nil {
				return err
			}
			w.conn.SkipXIDs(1)
			if port, ok = w.ports.PortNumber(p); !ok {
				return fmt.Errorf("%s: unknown port `%s'", w.c.arg(0), p)
			}
		}
	}
	parts, _, err := w.conn.Multipart(w.c.ctx, &openflow.MultipartRequest{MPType: openflow.MPPortStats, Port: port})
	if err != nil {
		return w.explain(err, nil)
	}
	var ps []openflow.PortStats
	for _, p := range parts {
		ps = append(ps, p.Ports...)
	}
	_, err = io.WriteString(w.c.stdout, formatPortStatsAsSent(ps, w.v(), byName))
	return err
}

// reservedOrNumber reads a port given as a number or a reserved name.
func reservedOrNumber(s string) (uint32, bool) {
	if n, err := strconv.ParseUint(s, 10, 32); err == nil {
		return uint32(n), true
	}
	for _, no := range []uint32{openflow.PortLocal, openflow.PortController, openflow.PortNormal, openflow.PortFlood,
		openflow.PortAll, openflow.PortInPort, openflow.PortTable, openflow.PortAny} {
		if strings.EqualFold(s, portLabel(no)) {
			return no, true
		}
	}
	return 0, false
}

func wireDumpPortsDesc(w *ofctlWire) error {
	parts, _, err := w.conn.Multipart(w.c.ctx, &openflow.MultipartRequest{MPType: openflow.MPPortDesc})
	if err != nil {
		return w.explain(err, nil)
	}
	var ps []openflow.PortDesc
	for _, p := range parts {
		ps = append(ps, p.PortDescs...)
	}
	if w.v() == openflow.Version10 {
		ps = ports10(ps)
	}
	if p := w.c.arg(1); p != "" {
		if ps, err = selectPortDesc(ps, w.c.arg(0), p); err != nil {
			return err
		}
	}
	_, err = io.WriteString(w.c.stdout, formatPortDescReply(ps, w.v()))
	return err
}

func wireDumpTables(w *ofctlWire) error {
	parts, _, err := w.conn.Multipart(w.c.ctx, &openflow.MultipartRequest{MPType: openflow.MPTable})
	if err != nil {
		return w.explain(err, nil)
	}
	var ts []openflow.TableStats
	for _, p := range parts {
		ts = append(ts, p.Tables...)
	}
	_, err = io.WriteString(w.c.stdout, formatTableStatsAsSent(ts, w.v()))
	return err
}

// ports10 converts OpenFlow 1.0 port descriptions to the 1.3 numbering the
// printers use: 1.0's feature bits 7-11 (copper, fiber, autoneg, pause,
// pause-asym) are 1.3's bits 11-15, and 1.0 has no speed fields, so the
// speed comes from the fastest rate bit, as Open vSwitch derives it.
func ports10(ps []openflow.PortDesc) []openflow.PortDesc {
	out := make([]openflow.PortDesc, len(ps))
	for i, p := range ps {
		p.Curr, p.Advertised, p.Supported, p.Peer = features10(p.Curr), features10(p.Advertised), features10(p.Supported), features10(p.Peer)
		p.CurrSpeed, p.MaxSpeed = speedKbps(p.Curr), speedKbps(p.Supported)
		out[i] = p
	}
	return out
}

func features10(f uint32) uint32 { return f&0x7f | (f>>7&0x1f)<<11 }

// speedKbps is the rate of the fastest speed bit (OFPPF_10MB_HD..10GB_FD).
func speedKbps(f uint32) uint32 {
	kbps := [...]uint32{10e3, 10e3, 100e3, 100e3, 1e6, 1e6, 10e6}
	for b := len(kbps) - 1; b >= 0; b-- {
		if f&(1<<b) != 0 {
			return kbps[b]
		}
	}
	return 0
}
