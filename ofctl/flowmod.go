package ofctl

import (
	"math"
	"strconv"
	"strings"
	"time"

	"tapestry/flow"
	"tapestry/openflow"
)

// flagWords are the flow-mod flags in bit order, as ovs-ofctl spells them.
var flagWords = [...]struct {
	name string
	flag openflow.FlowModFlags
}{
	{"send_flow_rem", openflow.FlagSendFlowRem},
	{"check_overlap", openflow.FlagCheckOverlap},
	{"reset_counts", openflow.FlagResetCounts},
	{"no_packet_counts", openflow.FlagNoPktCounts},
	{"no_byte_counts", openflow.FlagNoBytCounts},
}

// ParseFlowMod parses the text add-flow/add-flows, mod-flows and del-flows
// take (ovs-ofctl(8) "Flow Syntax"): match fields, priority=, table=,
// cookie= (cookie=V/MASK for modify and delete), idle_timeout=,
// hard_timeout=, importance=, the flags send_flow_rem, check_overlap,
// reset_counts, no_packet_counts and no_byte_counts, out_port= and
// out_group= (modify/delete filters), and actions=. The statistics a dump
// prints (duration=, n_packets=, n_bytes=, idle_age=, hard_age=) are
// ignored, so dump-flows output reads back, as with ovs-ofctl.
//
// Adding and modifying need actions ("must specify an action"); deleting
// forbids them. Defaults: priority 32768, table 0 for add and TableAll for
// modify/delete, OutPort PortAny, OutGroup GroupAny, BufferID NoBuffer.
//
// cookie=V without a mask sets the cookie (add and modify: CookieMask stays
// 0); with a mask it selects flows (modify and delete: Cookie=V&M,
// CookieMask=M), as ovs-ofctl distinguishes them.
func ParseFlowMod(text string, cmd openflow.FlowModCommand, names PortNamer) (openflow.FlowMod, error) {
	var fm openflow.FlowMod
	_, err := parseFlowModInto(&fm, text, cmd, names, nil)
	return fm, err
}

// ParseFlowModBuf is ParseFlowMod for a caller that parses many flows and
// keeps each only briefly (the daemon's add-flows hands them to the bridge
// a few thousand at a time, and the bridge copies their actions): the
// actions are appended to buf instead of getting a slice of their own,
// fm.Actions is the new tail of buf (capacity-capped, nil when there is no
// action), and the grown buf is returned for the next flow. Reusing one
// buffer spares an allocation per flow. Nested action lists (write_actions,
// clone) still get their own slices.
func ParseFlowModBuf(text string, cmd openflow.FlowModCommand, names PortNamer, buf []openflow.Action) (openflow.FlowMod, []openflow.Action, error) {
	var fm openflow.FlowMod
	if buf == nil {
		buf = make([]openflow.Action, 0, 64)
	}
	buf, err := parseFlowModInto(&fm, text, cmd, names, buf)
	return fm, buf, err
}

// parseFlowModInto parses text into *fm; with buf non-nil, the actions go
// onto buf, which is returned grown.
func parseFlowModInto(fm *openflow.FlowMod, text string, cmd openflow.FlowModCommand, names PortNamer, buf []openflow.Action) ([]openflow.Action, error) {
	*fm = openflow.FlowMod{
		Command:  cmd,
		Priority: openflow.DefaultPriority,
		BufferID: openflow.NoBuffer,
		OutPort:  openflow.PortAny,
		OutGroup: openflow.GroupAny,
	}
	isAdd := cmd == openflow.FlowAdd
	isDel := cmd == openflow.FlowDelete || cmd == openflow.FlowDeleteStrict
	if !isAdd {
		fm.Table = openflow.TableAll
	}
	matchText, actText, hasActions, err := splitActions(text)
	if err != nil {
		return buf, err
	}
	var mp matchParser
	p := pairs{s: matchText}
	for {
		key, value, _, ok := p.next()
		if !ok {
			break
		}
		handled, err := parseFlowModWord(fm, key, value, isAdd, isDel, names)
		if err != nil {
			return buf, err
		}
		if !handled {
			if err := mp.field(key, value, names); err != nil {
				return buf, err
			}
		}
	}
	if err := mp.checkPrereqs(); err != nil {
		return buf, err
	}
	fm.Match = mp.m
	switch {
	case isDel && hasActions:
		return buf, errorf("%q: del-flows does not take actions", "actions="+actText)
	case !isDel && !hasActions:
		return buf, errorf("must specify an action (actions=...)")
	case hasActions:
		start := len(buf)
		if buf == nil {
			fm.Actions, err = parseActionList(actText, names, false)
		} else if buf, err = appendActionList(buf, actText, names, false); len(buf) > start {
			fm.Actions = buf[start:len(buf):len(buf)]
		}
		if err == nil {
			err = checkConsistency(&fm.Match, fm.Actions)
		}
		if err != nil {
			return buf[:start], err
		}
	}
	return buf, nil
}

// parseFlowModWord handles the flow-mod keywords that are not match fields.
func parseFlowModWord(fm *openflow.FlowMod, key, value string, isAdd, isDel bool, names PortNamer) (bool, error) {
	u16 := func() (uint16, error) {
		v, ok := parseUint(value)
		if !ok || v > math.MaxUint16 {
			return 0, errorf("%s: invalid value %q", key, value)
		}
		return uint16(v), nil
	}
	var err error
	switch key {
	case "priority":
		fm.Priority, err = parsePriority(value)
	case "table":
		v, ok := parseUint(value)
		if !ok || v > 255 {
			return true, errorf("table: invalid table %q", value)
		}
		fm.Table = uint8(v)
	case "cookie":
		err = parseCookie(fm, value, isAdd, isDel)
	case "idle_timeout":
		fm.IdleTimeout, err = u16()
	case "hard_timeout":
		fm.HardTimeout, err = u16()
	case "importance":
		fm.Importance, err = u16()
	case "out_port":
		p, ok := parsePort(value, names)
		if !ok {
			return true, errorf("out_port: invalid or unknown port %q", value)
		}
		fm.OutPort = p
	case "out_group":
		fm.OutGroup, err = parseU32Arg(key, value)
	case "buffer_id":
		fm.BufferID, err = parseU32Arg(key, value)
	case "duration", "n_packets", "n_bytes", "idle_age", "hard_age":
		// dump-flows statistics: ignored so that dumps read back.
	default:
		for _, fw := range flagWords {
			if key == fw.name {
				if value != "" {
					return true, errorf("%s: takes no value, got %q", key, value)
				}
				fm.Flags |= fw.flag
				return true, nil
			}
		}
		return false, nil
	}
	return true, err
}

func parseCookie(fm *openflow.FlowMod, value string, isAdd, isDel bool) error {
	vs, ms, masked := splitMask(value)
	v, ok := parseCookieNum(vs)
	if !ok {
		return errorf("cookie: invalid cookie %q", vs)
	}
	if !masked {
		if isDel {
			return errorf("cookie=%s: del-flows cannot set a cookie (use cookie=VALUE/MASK to select flows)", value)
		}
		fm.Cookie = v
		return nil
	}
	if isAdd {
		return errorf("cookie=%s: flow additions cannot use a cookie mask", value)
	}
	m, ok := parseCookieNum(ms)
	if !ok {
		return errorf("cookie: invalid cookie mask %q", ms)
	}
	fm.Cookie, fm.CookieMask = v&m, m
	return nil
}

// parseCookieNum parses a cookie or its mask as ovs-ofctl does, with
// strtoull: a leading minus wraps around, so the customary "/-1" is the
// all-ones mask.
func parseCookieNum(s string) (uint64, bool) {
	if rest, neg := strings.CutPrefix(s, "-"); neg {
		v, ok := parseUint(rest)
		return -v, ok
	}
	return parseUint(s)
}

// checkConsistency rejects actions that write or read a field the packet
// cannot have at that point (Open vSwitch's ofpacts_check: "actions are
// invalid with specified match", OFPBAC_MATCH_INCONSISTENT). It follows the
// packet's dl_type through push_mpls/pop_mpls and its VLAN tag through
// push_vlan/pop_vlan, as Open vSwitch does.
func checkConsistency(m *flow.Match, acts []openflow.Action) error {
	dl, dlOK := exact16(m.Key.DlType, m.Mask.DlType)
	st := packetShape{dl: dl, dlOK: dlOK, nw: m.Key.NwProto, nwOK: m.Mask.NwProto == 0xff,
		vlan: m.Key.VlanTCI&flow.VlanCFI != 0}
	return st.check(acts)
}

// packetShape is what the match and the actions so far say of the packet:
// its dl_type and nw_proto when known, and whether it has a VLAN tag.
type packetShape struct {
	dl         uint16
	dlOK, nwOK bool
	nw         uint8
	vlan       bool
}

// check checks acts in order, updating s as push and pop actions change
// the packet.
func (s *packetShape) check(acts []openflow.Action) error {
	for i := range acts {
		a := &acts[i]
		var fields []flow.Field
		switch a.Type {
		case openflow.ActSetField, openflow.ActLoad, openflow.ActMultipath, openflow.ActBundleLoad:
			fields = []flow.Field{a.Dst.Field}
		case openflow.ActMove:
			fields = []flow.Field{a.Src.Field, a.Dst.Field}
		case openflow.ActOutputReg:
			fields = []flow.Field{a.Src.Field}
		case openflow.ActPushMPLS:
			s.dl, s.dlOK, s.nwOK = a.EtherType, true, false
		case openflow.ActPopMPLS:
			s.dl, s.dlOK = a.EtherType, true
		case openflow.ActPushVlan, openflow.ActModVlanVID, openflow.ActModVlanPCP:
			s.vlan = true
		case openflow.ActStripVlan, openflow.ActPopVlan:
			s.vlan = false
		case openflow.ActWriteActions:
			if err := s.check(a.Nested); err != nil {
				return err
			}
		case openflow.ActCT:
			// Connection tracking needs an IP packet (ovs-ofctl refuses
			// ct on a match without ip or ipv6).
			if !s.dlOK || s.dl != flow.EthTypeIPv4 && s.dl != flow.EthTypeIPv6 {
				return errorf("actions are invalid with specified match: ct requires ip or ipv6")
			}
			if err := s.checkFields(openflow.ActSetField, ctExecFields(a)); err != nil {
				return err
			}
		case openflow.ActClone:
			// The clone's actions see the packet as it is here, and
			// what they change stays in the clone: Open vSwitch checks
			// them on a copy and restores the flow after.
			inner := *s
			if err := inner.check(a.Nested); err != nil {
				return err
			}
		}
		if err := s.checkFields(a.Type, fields); err != nil {
			return err
		}
	}
	return nil
}

// checkFields checks the fields action t reads or writes.
func (s *packetShape) checkFields(t openflow.ActionType, fields []flow.Field) error {
	for _, f := range fields {
		if ok, need := prereqOK(f, s.dl, s.dlOK, s.nw, s.nwOK); !ok {
			return errorf("actions are invalid with specified match: %s on %q requires %s", actionName(t), setFieldName(f), need)
		}
		if !s.vlan && (f == flow.FieldVlanVID || f == flow.FieldVlanPCP || f == flow.FieldDlVlan) && t == openflow.ActSetField {
			return errorf("actions are invalid with specified match: set_field on %q requires a VLAN tag (match one or push_vlan first)", setFieldName(f))
		}
	}
	return nil
}

func actionName(t openflow.ActionType) string {
	switch t {
	case openflow.ActSetField:
		return "set_field"
	case openflow.ActLoad:
		return "load"
	case openflow.ActOutputReg:
		return "output"
	case openflow.ActMultipath:
		return "multipath"
	case openflow.ActBundleLoad:
		return "bundle_load"
	}
	return "move"
}

// FormatFlowMod prints a flow mod as text that ParseFlowMod (given the same
// command) reads back to an equal FlowMod; it is how flows are stored. The
// command itself is not part of the text.
func FormatFlowMod(fm *openflow.FlowMod, names PortNamer) string {
	return string(AppendFlowMod(make([]byte, 0, 128), fm, names))
}

// AppendFlowMod is FormatFlowMod appending to b, for formatting many flows
// into one buffer (the daemon's store records) without a string each.
func AppendFlowMod(b []byte, fm *openflow.FlowMod, names PortNamer) []byte {
	isAdd := fm.Command == openflow.FlowAdd
	isDel := fm.Command == openflow.FlowDelete || fm.Command == openflow.FlowDeleteStrict
	if isAdd && fm.Table != 0 || !isAdd && fm.Table != openflow.TableAll {
		b = appendNum(b, "table=", uint64(fm.Table))
		b = append(b, ',')
	}
	if fm.CookieMask != 0 && !isAdd {
		b = appendCHex(append(b, "cookie="...), fm.Cookie)
		b = append(b, '/')
		b = append(appendCHex(b, fm.CookieMask), ',')
	} else if fm.Cookie != 0 && !isDel {
		b = append(appendCHex(append(b, "cookie="...), fm.Cookie), ',')
	}
	for _, kv := range [...]struct {
		name string
		v    uint16
	}{{"idle_timeout=", fm.IdleTimeout}, {"hard_timeout=", fm.HardTimeout}, {"importance=", fm.Importance}} {
		if kv.v != 0 {
			b = append(appendNum(b, kv.name, uint64(kv.v)), ',')
		}
	}
	for _, fw := range flagWords {
		if fm.Flags&fw.flag != 0 {
			b = append(append(b, fw.name...), ',')
		}
	}
	if fm.OutPort != openflow.PortAny {
		b = append(appendPort(append(b, "out_port="...), fm.OutPort, names), ',')
	}
	if fm.OutGroup != openflow.GroupAny {
		b = append(appendNum(b, "out_group=", uint64(fm.OutGroup)), ',')
	}
	if fm.BufferID != openflow.NoBuffer {
		b = append(appendNum(b, "buffer_id=", uint64(fm.BufferID)), ',')
	}
	b = appendMatch(b, &fm.Match, fm.Priority, names)
	if !isDel {
		if len(b) > 0 && b[len(b)-1] != ',' {
			b = append(b, ',')
		}
		b = append(b, "actions="...)
		b = appendActions(b, fm.Actions, names, modeNative, nil)
	} else if len(b) > 0 && b[len(b)-1] == ',' {
		b = b[:len(b)-1]
	}
	return b
}

// FormatFlowStats prints one dump-flows line exactly as ovs-ofctl 3.1 does,
// e.g. " cookie=0x0, duration=1.234s, table=0, n_packets=3, n_bytes=294,
// idle_age=1, priority=100,in_port=1 actions=output:2". With NoStats it
// prints as ovs-ofctl --no-stats does. The OpenFlow version decides which
// optional items appear: OpenFlow 1.0 (Nicira stats) carries idle_age and
// hard_age but no flags; OpenFlow 1.3 carries flags but no ages. Neither
// carries importance (OpenFlow 1.4).
func FormatFlowStats(fs *openflow.FlowStats, opts FormatOptions) string {
	return string(AppendFlowStats(make([]byte, 0, 160), fs, opts))
}

// AppendFlowStats is FormatFlowStats appending to b, for dumping many flows
// without a string per line.
func AppendFlowStats(b []byte, fs *openflow.FlowStats, opts FormatOptions) []byte {
	stats := !opts.NoStats
	mode := modeFor(opts.Version)
	b = append(b, ' ')
	if stats || fs.Cookie != 0 {
		b = append(b, "cookie=0x"...)
		b = strconv.AppendUint(b, fs.Cookie, 16)
		b = append(b, ", "...)
	}
	if stats {
		b = append(b, "duration="...)
		b = appendDuration(b, fs.Duration)
		b = append(b, ", "...)
	}
	if stats || fs.Table != 0 {
		b = append(appendNum(b, "table=", uint64(fs.Table)), ", "...)
	}
	if stats {
		b = append(appendNum(b, "n_packets=", fs.Packets), ", "...)
		b = append(appendNum(b, "n_bytes=", fs.Bytes), ", "...)
	}
	if fs.IdleTimeout != 0 {
		b = append(appendNum(b, "idle_timeout=", uint64(fs.IdleTimeout)), ", "...)
	}
	if fs.HardTimeout != 0 {
		b = append(appendNum(b, "hard_timeout=", uint64(fs.HardTimeout)), ", "...)
	}
	if mode == modeOF13 {
		for _, fw := range flagWords {
			if fs.Flags&fw.flag != 0 {
				b = append(append(b, fw.name...), ' ')
			}
		}
	}
	if stats && mode == modeOF10 {
		idle, _ := durationSecs(fs.IdleAge)
		b = append(appendNum(b, "idle_age=", uint64(idle)), ", "...)
		hard, _ := durationSecs(fs.HardAge)
		if dur, _ := durationSecs(fs.Duration); hard != dur {
			b = append(appendNum(b, "hard_age=", uint64(hard)), ", "...)
		}
	}
	m := wireMatch(&fs.Match, opts.Version)
	b = appendMatch(b, &m, fs.Priority, opts.Names)
	if b[len(b)-1] != ' ' {
		b = append(b, ' ')
	}
	b = append(b, "actions="...)
	return appendActions(b, fs.Actions, opts.Names, mode, &fs.Match)
}

// appendDuration prints seconds with three decimals when the fraction is
// whole milliseconds, with as many as needed otherwise, and none when there
// is no fraction (Open vSwitch's ofp_print_duration).
func appendDuration(b []byte, d time.Duration) []byte {
	sec, nsec := durationSecs(d)
	b = strconv.AppendUint(b, uint64(sec), 10)
	if nsec > 0 {
		b = append(b, '.')
		if nsec%1000000 == 0 {
			b = appendDec(b, uint64(nsec/1000000), 3)
		} else {
			n := len(b)
			b = appendDec(b, uint64(nsec), 9)
			for len(b) > n && b[len(b)-1] == '0' {
				b = b[:len(b)-1]
			}
		}
	}
	return append(b, 's')
}

func appendDec(b []byte, v uint64, width int) []byte {
	var buf [20]byte
	s := strconv.AppendUint(buf[:0], v, 10)
	for i := len(s); i < width; i++ {
		b = append(b, '0')
	}
	return append(b, s...)
}

// ctExecFields are the fields a ct action's exec(...) writes.
func ctExecFields(a *openflow.Action) []flow.Field {
	var fs []flow.Field
	for i := range a.Nested {
		fs = append(fs, a.Nested[i].Dst.Field)
	}
	return fs
}
