package ofctl

import (
	"strconv"
	"strings"

	"tapestry/flow"
	"tapestry/openflow"
)

// ParseActions parses an action list as written after "actions=" (ovs-actions(7)).
// "drop" (alone) and the empty string give an empty list. Instructions
// (meter, clear_actions, write_actions, write_metadata, goto_table) must come
// in OpenFlow 1.1's order, after the apply-actions, as ovs-ofctl requires.
func ParseActions(text string, names PortNamer) ([]openflow.Action, error) {
	acts, err := parseActionList(text, names, false)
	if err != nil {
		return nil, err
	}
	return acts, nil
}

// instruction ranks, in the order OpenFlow 1.1+ executes instructions.
const (
	rankMeter = iota
	rankApply
	rankClear
	rankWrite
	rankMetadata
	rankGoto
)

var rankNames = [...]string{"meter", "apply_actions", "clear_actions", "write_actions", "write_metadata", "goto_table"}

func rankOf(t openflow.ActionType) int {
	switch t {
	case openflow.ActMeter:
		return rankMeter
	case openflow.ActClearActions:
		return rankClear
	case openflow.ActWriteActions:
		return rankWrite
	case openflow.ActWriteMetadata:
		return rankMetadata
	case openflow.ActGotoTable:
		return rankGoto
	}
	return rankApply
}

func parseActionList(text string, names PortNamer, nested bool) ([]openflow.Action, error) {
	acts, err := appendActionList(nil, text, names, nested)
	if err != nil {
		return nil, err
	}
	return acts, nil
}

// appendActionList parses an action list onto dst; on error it returns
// dst as it was, so that a reused buffer stays usable.
func appendActionList(dst []openflow.Action, text string, names PortNamer, nested bool) ([]openflow.Action, error) {
	start := len(dst)
	p := pairs{s: text}
	sawDrop := false
	lastRank := -1
	for {
		key, value, paren, ok := p.next()
		if !ok {
			break
		}
		if key == "drop" && value == "" {
			sawDrop = true
			continue
		}
		if dst == nil {
			dst = make([]openflow.Action, 0, 4)
		}
		a, err := parseAction(key, value, paren, names, nested)
		if err != nil {
			return dst[:start], err
		}
		r := rankOf(a.Type)
		if r < lastRank || r == lastRank && r != rankApply {
			if r == lastRank {
				return dst[:start], errorf("instruction %s may be specified only once", rankNames[r])
			}
			return dst[:start], errorf("invalid instruction ordering: %s must appear before %s", rankNames[r], rankNames[lastRank])
		}
		lastRank = r
		dst = append(dst, a)
	}
	if sawDrop && len(dst) > start {
		return dst[:start], errorf("\"drop\" must not be accompanied by any other action or instruction")
	}
	return dst, nil
}

// actionWords are the action keywords, for "did you mean" hints.
var actionWords = []string{
	"output", "in_port", "normal", "flood", "all", "local", "drop", "controller", "enqueue",
	"set_queue", "group", "mod_dl_src", "mod_dl_dst", "mod_nw_src", "mod_nw_dst", "mod_nw_tos",
	"mod_nw_ecn", "mod_nw_ttl", "mod_tp_src", "mod_tp_dst", "mod_vlan_vid", "mod_vlan_pcp",
	"strip_vlan", "push_vlan", "pop_vlan", "push_mpls", "pop_mpls", "set_field", "load", "move",
	"dec_ttl", "dec_mpls_ttl", "set_mpls_ttl", "resubmit", "note", "goto_table", "write_metadata",
	"clear_actions", "write_actions", "meter", "clone", "multipath", "bundle", "bundle_load",
	"ct",
}

// parseAction parses one action; key is its name, value its argument.
func parseAction(key, value string, paren bool, names PortNamer, nested bool) (openflow.Action, error) {
	var a openflow.Action
	var err error
	switch key {
	case "output":
		return parseOutput(value, paren, names)
	case "controller":
		return parseController(value, paren)
	case "enqueue":
		return parseEnqueue(value, paren, names)
	case "set_queue":
		a.Type = openflow.ActSetQueue
		a.Queue, err = parseU32Arg(key, value)
	case "group":
		a.Type = openflow.ActGroup
		a.Group, err = parseU32Arg(key, value)
	case "mod_dl_src", "mod_dl_dst":
		a.Type = map[bool]openflow.ActionType{true: openflow.ActModDlSrc, false: openflow.ActModDlDst}[key == "mod_dl_src"]
		mac, ok := parseMAC(value)
		if !ok {
			return a, errorf("%s: invalid Ethernet address %q", key, value)
		}
		a.Value = flow.Bytes(mac[:])
	case "mod_nw_src", "mod_nw_dst":
		a.Type = openflow.ActModNwDst
		if key == "mod_nw_src" {
			a.Type = openflow.ActModNwSrc
		}
		ip, ok := parseIPv4(value)
		if !ok {
			return a, errorf("%s: invalid IP address %q", key, value)
		}
		a.Value = u32Value(ip)
	case "mod_nw_tos":
		a.Type = openflow.ActModNwTos
		a.Value, err = parseSmallArg(key, value, 0xff)
		if err == nil && a.Value.Uint64()&3 != 0 {
			err = errorf("%s: %q: TOS must not set the ECN bits (a multiple of 4)", key, value)
		}
	case "mod_nw_ecn":
		a.Type = openflow.ActModNwECN
		a.Value, err = parseSmallArg(key, value, 3)
	case "mod_nw_ttl":
		a.Type = openflow.ActSetTTL
		var v flow.Value
		v, err = parseSmallArg(key, value, 0xff)
		a.TTL = uint8(v.Uint64())
	case "mod_tp_src", "mod_tp_dst":
		a.Type = openflow.ActModTpDst
		if key == "mod_tp_src" {
			a.Type = openflow.ActModTpSrc
		}
		a.Value, err = parseSmallArg(key, value, 0xffff)
	case "mod_vlan_vid":
		a.Type = openflow.ActModVlanVID
		a.Value, err = parseSmallArg(key, value, flow.VlanVIDMask)
	case "mod_vlan_pcp":
		a.Type = openflow.ActModVlanPCP
		a.Value, err = parseSmallArg(key, value, 7)
	case "push_vlan", "push_mpls", "pop_mpls":
		a.Type = map[string]openflow.ActionType{"push_vlan": openflow.ActPushVlan, "push_mpls": openflow.ActPushMPLS, "pop_mpls": openflow.ActPopMPLS}[key]
		var v flow.Value
		v, err = parseSmallArg(key, value, 0xffff)
		a.EtherType = uint16(v.Uint64())
		if err == nil {
			err = checkEtherType(key, a.EtherType)
		}
	case "set_field":
		return parseSetField(value, names, false)
	case "load":
		return parseLoad(value, false)
	case "move":
		return parseMove(value)
	case "set_mpls_ttl":
		a.Type = openflow.ActSetMPLSTTL
		var v flow.Value
		v, err = parseSmallArg(key, value, 0xff)
		a.TTL = uint8(v.Uint64())
	case "resubmit":
		return parseResubmit(value, paren, names)
	case "clone":
		return parseClone(value, names)
	case "ct":
		return parseCT(value, names) // actions_ct.go
	case "dec_ttl":
		return parseDecTTL(value, paren)
	case "multipath":
		return parseMultipath(value)
	case "bundle", "bundle_load":
		return parseBundle(key, value, names)
	case "note":
		return parseNote(value)
	case "goto_table":
		a.Type = openflow.ActGotoTable
		var v flow.Value
		v, err = parseSmallArg(key, value, uint64(openflow.TableMax))
		a.Table = uint8(v.Uint64())
	case "write_metadata":
		return parseWriteMetadata(value)
	case "write_actions":
		if nested {
			return a, errorf("write_actions: instructions cannot be nested")
		}
		a.Type = openflow.ActWriteActions
		a.Nested, err = parseActionList(value, names, true)
		if err == nil {
			for _, n := range a.Nested {
				if rankOf(n.Type) != rankApply {
					return a, errorf("write_actions: %s is an instruction, not an action", rankNames[rankOf(n.Type)])
				}
			}
		}
	case "meter":
		// The model keeps the meter id in ID ("meter:ID"), 16 bits wide.
		a.Type = openflow.ActMeter
		var v flow.Value
		v, err = parseSmallArg(key, value, 0xffff)
		a.ID = uint16(v.Uint64())
	default:
		return parseSimpleAction(key, value, names, nested)
	}
	if err != nil {
		return openflow.Action{}, err
	}
	if nested && rankOf(a.Type) != rankApply {
		return openflow.Action{}, errorf("write_actions: %s is an instruction, not an action", key)
	}
	return a, nil
}

// parseSimpleAction handles the actions without arguments and bare ports.
func parseSimpleAction(key, value string, names PortNamer, nested bool) (openflow.Action, error) {
	var a openflow.Action
	noArg := func(t openflow.ActionType) (openflow.Action, error) {
		if value != "" {
			return a, errorf("%s: takes no argument, got %q", key, value)
		}
		a.Type = t
		return a, nil
	}
	switch key {
	case "strip_vlan":
		return noArg(openflow.ActStripVlan)
	case "pop_vlan":
		return noArg(openflow.ActPopVlan)
	case "dec_ttl":
		return noArg(openflow.ActDecTTL)
	case "dec_mpls_ttl":
		return noArg(openflow.ActDecMPLSTTL)
	case "clear_actions":
		if nested {
			return a, errorf("write_actions: clear_actions is an instruction, not an action")
		}
		return noArg(openflow.ActClearActions)
	}
	if strings.EqualFold(key, "CONTROLLER") {
		// "CONTROLLER:N" is how dump-flows prints controller:N.
		return parseController(value, false)
	}
	if value == "" {
		if p, ok := parsePort(key, names); ok {
			return outputTo(p), nil
		}
	}
	return a, errorf("unknown action %q%s", key, suggest(key, actionWords))
}

func parseU32Arg(key, value string) (uint32, error) {
	v, ok := parseUint(value)
	if !ok || v > 0xffffffff {
		return 0, errorf("%s: invalid number %q", key, value)
	}
	return uint32(v), nil
}

func parseSmallArg(key, value string, max uint64) (flow.Value, error) {
	v, ok := parseUint(value)
	if !ok {
		return flow.Value{}, errorf("%s: invalid number %q", key, value)
	}
	if v > max {
		return flow.Value{}, errorf("%s: %q out of range (maximum %d)", key, value, max)
	}
	return flow.U64(v), nil
}

func checkEtherType(key string, et uint16) error {
	switch key {
	case "push_vlan":
		if et != flow.EthTypeVLAN && et != flow.EthTypeQinQ {
			return errorf("push_vlan: ethertype 0x%04x is not 0x8100 or 0x88a8", et)
		}
	case "push_mpls":
		if et != flow.EthTypeMPLS && et != flow.EthTypeMPLSMcast {
			return errorf("push_mpls: ethertype 0x%04x is not 0x8847 or 0x8848", et)
		}
	}
	return nil
}

// parseOutput handles output:PORT and output(port=P,max_len=N).
func parseOutput(value string, paren bool, names PortNamer) (openflow.Action, error) {
	a := openflow.Action{Type: openflow.ActOutput}
	if paren {
		var portSeen bool
		p := pairs{s: value}
		for {
			k, v, _, ok := p.next()
			if !ok {
				break
			}
			switch k {
			case "port":
				port, ok := parsePort(v, names)
				if !ok {
					return a, errorf("output: %q: output to unknown port", v)
				}
				a.Port, portSeen = port, true
			case "max_len":
				n, err := parseSmallArg("output", v, 0xffff)
				if err != nil {
					return a, err
				}
				a.MaxLen = uint16(n.Uint64())
			default:
				return a, errorf("output: unknown argument %q", k)
			}
		}
		if !portSeen {
			return a, errorf("output: missing port= in %q", value)
		}
		return a, nil
	}
	port, ok := parsePort(value, names)
	if !ok {
		return parseOutputReg(value) // output:REG[..], actions_nx.go
	}
	return outputTo(port), nil
}

// outputTo is output to a port; output to the controller port is the
// controller action (the two print alike, as CONTROLLER:65535), so the model
// has one way to say it.
func outputTo(p uint32) openflow.Action {
	if p == openflow.PortController {
		return openflow.Action{Type: openflow.ActController, MaxLen: openflow.ControllerMaxLen, Reason: reasonAction}
	}
	return openflow.Action{Type: openflow.ActOutput, Port: p}
}

// packet-in reasons (OpenFlow 1.3 §7.4.1 ofp_packet_in_reason), by the names
// ovs-actions(7) gives them.
var reasonNames = [...]string{"no_match", "action", "invalid_ttl", "action_set", "group", "packet_out"}

// reasonAction is OFPR_ACTION, controller()'s default reason.
const reasonAction = 1

// parseController handles controller, controller:MAXLEN and
// controller(reason=R,max_len=N,id=I).
func parseController(value string, paren bool) (openflow.Action, error) {
	a := openflow.Action{Type: openflow.ActController, MaxLen: openflow.ControllerMaxLen, Reason: reasonAction}
	if !paren {
		if value != "" {
			n, err := parseSmallArg("controller", value, 0xffff)
			if err != nil {
				return a, err
			}
			a.MaxLen = uint16(n.Uint64())
		}
		return a, nil
	}
	p := pairs{s: value}
	for {
		k, v, _, ok := p.next()
		if !ok {
			return a, nil
		}
		switch k {
		case "reason":
			found := false
			for i, r := range reasonNames {
				if r == v {
					a.Reason, found = uint8(i), true
				}
			}
			if !found {
				return a, errorf("controller: unknown reason %q%s", v, suggest(v, reasonNames[:]))
			}
		case "max_len":
			n, err := parseSmallArg("controller", v, 0xffff)
			if err != nil {
				return a, err
			}
			a.MaxLen = uint16(n.Uint64())
		case "id":
			n, err := parseSmallArg("controller", v, 0xffff)
			if err != nil {
				return a, err
			}
			a.ID = uint16(n.Uint64())
		default:
			return a, errorf("controller: unknown argument %q", k)
		}
	}
}

// parseEnqueue handles enqueue:PORT:QUEUE and enqueue(PORT,QUEUE).
func parseEnqueue(value string, paren bool, names PortNamer) (openflow.Action, error) {
	a := openflow.Action{Type: openflow.ActEnqueue}
	sep := ":"
	if paren {
		sep = ","
	}
	ps, qs, ok := strings.Cut(value, sep)
	if !ok {
		return a, errorf("enqueue: %q: want PORT%sQUEUE", value, sep)
	}
	port, ok := parsePort(ps, names)
	if !ok {
		return a, errorf("enqueue: %q: unknown port", ps)
	}
	q, err := parseU32Arg("enqueue", qs)
	if err != nil {
		return a, err
	}
	a.Port, a.Queue = port, q
	return a, nil
}

// parseResubmit handles resubmit:PORT and resubmit([PORT],[TABLE]).
func parseResubmit(value string, paren bool, names PortNamer) (openflow.Action, error) {
	a := openflow.Action{Type: openflow.ActResubmit, Port: openflow.PortInPort, Table: openflow.TableAll}
	ps, ts := value, ""
	if paren {
		var ok bool
		if ps, ts, ok = strings.Cut(value, ","); !ok {
			return a, errorf("resubmit: %q: want (PORT,TABLE)", value)
		}
		if strings.IndexByte(ts, ',') >= 0 {
			return a, errorf("resubmit: %q: connection tracking resubmit is not supported", value)
		}
		if ps == "" && ts == "" {
			return a, errorf("resubmit: at least one \"in_port\" or \"table\" must be specified")
		}
	}
	if ps != "" {
		port, ok := parsePort(ps, names)
		if !ok {
			return a, errorf("resubmit: %q: unknown port", ps)
		}
		a.Port = port
	} else if !paren {
		return a, errorf("resubmit: missing port")
	}
	if ts != "" {
		t, ok := parseUint(ts)
		if !ok || t > uint64(openflow.TableMax) {
			return a, errorf("resubmit: %q: resubmit to unknown table", ts)
		}
		a.Table = uint8(t)
	}
	return a, nil
}

// parseNote handles note:HEX.HEX..., padding the bytes with zeros as Open
// vSwitch does when it encodes the note (the action is a multiple of 8 bytes
// long: 10 bytes of header plus the note), so that a dumped note reads the
// same as a parsed one.
func parseNote(value string) (openflow.Action, error) {
	a := openflow.Action{Type: openflow.ActNote}
	var note []byte
	s := value
	for s != "" {
		if s[0] == '.' {
			s = s[1:]
			continue
		}
		if len(s) < 2 {
			return a, errorf("note: %q: odd number of hex digits", value)
		}
		hi, ok1 := hexDigit(s[0])
		lo, ok2 := hexDigit(s[1])
		if !ok1 || !ok2 {
			return a, errorf("note: %q: invalid hex digit", value)
		}
		note = append(note, hi<<4|lo)
		s = s[2:]
	}
	padded := (10+len(note)+7)/8*8 - 10
	a.Note = append(note, make([]byte, padded-len(note))...)
	return a, nil
}

func parseWriteMetadata(value string) (openflow.Action, error) {
	a := openflow.Action{Type: openflow.ActWriteMetadata}
	vs, ms, masked := splitMask(value)
	v, ok := parseUint(vs)
	if !ok {
		return a, errorf("write_metadata: invalid value %q", vs)
	}
	a.Value = flow.U64(v)
	if masked {
		m, ok := parseUint(ms)
		if !ok {
			return a, errorf("write_metadata: invalid mask %q", ms)
		}
		a.Mask = flow.U64(m)
		a.Value = flow.U64(v & m)
	}
	return a, nil
}

// readOnly are fields set_field and load may not write (ovs-fields(7) marks
// them read-only, or only ct() may write them).
func readOnly(f flow.Field) bool {
	switch f {
	case flow.FieldDlType, flow.FieldNwProto, flow.FieldNwFrag, flow.FieldCtState,
		flow.FieldCtZone, flow.FieldCtMark, flow.FieldTCPFlags:
		return true
	}
	return false
}

// parseSetField handles set_field:VALUE[/MASK]->FIELD, the value in the
// field's own syntax. inCT allows ct_mark, which ct's exec may set.
func parseSetField(value string, names PortNamer, inCT bool) (openflow.Action, error) {
	a := openflow.Action{Type: openflow.ActSetField}
	vs, fs, ok := strings.Cut(value, "->")
	if !ok {
		return a, errorf("set_field: %q: want VALUE->FIELD", value)
	}
	f, ok := lookupField(fs)
	if !ok {
		return a, errorf("set_field: unknown field %q%s", fs, suggest(fs, flow.Names()))
	}
	if readOnly(f) && !(inCT && f == flow.FieldCtMark) {
		return a, errorf("set_field: %s is read-only", fs)
	}
	v, mask, err := parseFieldValue(f, vs, names)
	if err != nil {
		return a, wrapf(err, "set_field")
	}
	if mask != f.FullMask() {
		a.Mask = mask
	}
	a.Value = v.And(mask)
	a.Dst = flow.Whole(f)
	return a, nil
}

// parseLoad handles load:VALUE->DST[ofs..end]; the value is an integer that
// must fit in the destination's bits. inCT allows ct_mark, which ct's
// exec may set.
func parseLoad(value string, inCT bool) (openflow.Action, error) {
	a := openflow.Action{Type: openflow.ActLoad}
	vs, ds, ok := strings.Cut(value, "->")
	if !ok {
		return a, errorf("load: %q: want VALUE->DST", value)
	}
	dst, err := parseSubfield(ds)
	if err != nil {
		return a, wrapf(err, "load")
	}
	if readOnly(dst.Field) && !(inCT && dst.Field == flow.FieldCtMark) {
		return a, errorf("load: %s is read-only", ds)
	}
	v, ok := parseWide(vs)
	if !ok {
		return a, errorf("load: invalid value %q", vs)
	}
	if !fits(v, int(dst.NBits)) {
		return a, errorf("load: value %s does not fit into %d bits", vs, dst.NBits)
	}
	a.Value, a.Dst = v, dst
	return a, nil
}

// parseMove handles move:SRC[..]->DST[..]; both must be equally wide.
func parseMove(value string) (openflow.Action, error) {
	a := openflow.Action{Type: openflow.ActMove}
	ss, ds, ok := strings.Cut(value, "->")
	if !ok {
		return a, errorf("move: %q: want SRC->DST", value)
	}
	src, err := parseSubfield(ss)
	if err != nil {
		return a, wrapf(err, "move")
	}
	dst, err := parseSubfield(ds)
	if err != nil {
		return a, wrapf(err, "move")
	}
	if readOnly(dst.Field) {
		return a, errorf("move: %s is read-only", ds)
	}
	if src.NBits != dst.NBits {
		return a, errorf("move: %s: source field is %d bits wide but destination is %d bits wide", value, src.NBits, dst.NBits)
	}
	a.Src, a.Dst = src, dst
	return a, nil
}

// parseSubfield parses FIELD, FIELD[], FIELD[BIT] or FIELD[START..END]
// (ovs-actions(7) "Field Specifications"); FIELD is any name flow.Lookup
// knows, including NXM names such as NXM_NX_REG0.
func parseSubfield(s string) (flow.Subfield, error) {
	name, rng, hasRange := strings.Cut(s, "[")
	f, ok := lookupField(name)
	if !ok {
		return flow.Subfield{}, errorf("unknown field %q%s", name, suggest(name, flow.Names()))
	}
	sf := flow.Whole(f)
	if !hasRange {
		return sf, nil
	}
	if !strings.HasSuffix(rng, "]") {
		return sf, errorf("%q: missing ']'", s)
	}
	rng = rng[:len(rng)-1]
	if rng == "" {
		return sf, nil
	}
	lo, hi, isRange := strings.Cut(rng, "..")
	start, err1 := strconv.ParseUint(lo, 10, 16)
	end := start
	var err2 error
	if isRange {
		end, err2 = strconv.ParseUint(hi, 10, 16)
	}
	if err1 != nil || err2 != nil || end < start {
		return sf, errorf("%q: invalid bit range", s)
	}
	if int(end) >= f.Bits() {
		return sf, errorf("%q: bit %d is beyond the field's %d bits", s, end, f.Bits())
	}
	sf.Ofs, sf.NBits = uint16(start), uint16(end-start+1)
	return sf, nil
}
