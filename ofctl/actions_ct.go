package ofctl

import (
	"strconv"

	"tapestry/flow"
	"tapestry/openflow"
)

// The ct action (ovs-actions(7) "The ct action"):
//
//	ct([commit][,force][,table=N][,zone=N|zone=FIELD[RANGE]][,exec(ACTIONS)][,alg=ftp|tftp])
//
// ovs-ofctl 3.1 reads the arguments in any order, a later one replacing an
// earlier one (several exec() lists append), and prints them in the fixed
// order above. exec may hold only set_field or load to ct_mark (tapestry
// has no ct_label), and only with commit.

// ctAlgs are the ALG helper names ovs-ofctl knows, with their ports.
var ctAlgs = []struct {
	name string
	port uint16
}{{"ftp", 21}, {"tftp", 69}}

// parseCT handles ct(...).
func parseCT(value string, names PortNamer) (openflow.Action, error) {
	c := openflow.CT{Table: openflow.CTRecircNone}
	p := pairs{s: value}
	for {
		key, v, paren, ok := p.next()
		if !ok {
			break
		}
		if err := ctArg(&c, key, v, paren, names); err != nil {
			return openflow.Action{}, err
		}
	}
	if c.Force && !c.Commit {
		return openflow.Action{}, errorf(`ct: "force" flag requires "commit" flag`)
	}
	if len(c.Exec) > 0 && !c.Commit {
		// ovs-ofctl sends this and the switch refuses it
		// (OFPBAC_BAD_ARGUMENT); refusing it here says why.
		return openflow.Action{}, errorf("ct: exec requires the commit flag")
	}
	return c.Action(), nil
}

func ctArg(c *openflow.CT, key, v string, paren bool, names PortNamer) error {
	switch key {
	case "commit":
		c.Commit = true
	case "force":
		c.Force = true
	case "table":
		// Decimal only, as ovs-ofctl's table parser (ct(table=0x10)
		// is "unknown table 0x10").
		t, err := strconv.ParseUint(v, 10, 8)
		if err != nil {
			return errorf("ct: unknown table %q", v)
		}
		if t > uint64(openflow.TableMax) {
			return errorf("ct: invalid table %#x", t)
		}
		c.Table = uint8(t)
	case "zone":
		return ctZone(c, v)
	case "alg":
		for _, a := range ctAlgs {
			if a.name == v {
				c.Alg = a.port
				return nil
			}
		}
		return errorf("ct: invalid conntrack helper %q", v)
	case "exec":
		if !paren && v != "" {
			return errorf("ct: exec takes a list in parentheses, got %q", v)
		}
		return ctExec(c, v, names)
	default:
		return errorf("ct: invalid argument %q%s", key, suggest(key, []string{"commit", "force", "table", "zone", "exec", "alg"}))
	}
	return nil
}

// ctZone reads zone=N (a 16-bit number, decimal or 0x hex) or
// zone=FIELD[RANGE] (a 16-bit subfield), as Open vSwitch tries them.
func ctZone(c *openflow.CT, v string) error {
	if n, ok := parseUint(v); ok && n <= 0xffff {
		c.Zone, c.ZoneSrc = uint16(n), flow.Subfield{}
		return nil
	}
	sf, err := parseSubfield(v)
	if err != nil {
		return wrapf(err, "ct: zone")
	}
	if sf.NBits != 16 {
		return errorf("ct: zone %s: n_bits %d not within valid range [16..16]", v, sf.NBits)
	}
	c.Zone, c.ZoneSrc = 0, sf
	return nil
}

// ctExec parses exec(ACTIONS): set_field and load may write ct_mark here,
// which they may not anywhere else.
func ctExec(c *openflow.CT, v string, names PortNamer) error {
	p := pairs{s: v}
	for {
		key, value, paren, ok := p.next()
		if !ok {
			return nil
		}
		var a openflow.Action
		var err error
		switch {
		case key == "drop" && value == "":
			continue
		case key == "set_field":
			a, err = parseSetField(value, names, true)
		case key == "load":
			a, err = parseLoad(value, true)
		default:
			a, err = parseAction(key, value, paren, names, true)
		}
		if err != nil {
			return wrapf(err, "ct: exec")
		}
		f, ok := openflow.CTExecField(&a)
		switch {
		case ok:
		case f != flow.FieldInvalid:
			return errorf("ct action doesn't support nested modification of %s", f.Info().Name)
		default:
			return errorf("ct action doesn't support nested action %s", FormatActions([]openflow.Action{a}, names))
		}
		c.Exec = append(c.Exec, a)
	}
}

// appendCT prints ct(...) in ovs-ofctl's order.
func appendCT(b []byte, a *openflow.Action, names PortNamer, mode fmtMode) []byte {
	c := a.CT()
	b = append(b, "ct("...)
	start := len(b)
	if c.Commit {
		b = append(b, "commit,"...)
	}
	if c.Force {
		b = append(b, "force,"...)
	}
	if c.Table != openflow.CTRecircNone {
		b = append(appendNum(b, "table=", uint64(c.Table)), ',')
	}
	if c.ZoneSrc.Field != flow.FieldInvalid {
		b = append(appendNXSubfield(append(b, "zone="...), c.ZoneSrc), ',')
	} else if c.Zone != 0 {
		b = append(appendNum(b, "zone=", uint64(c.Zone)), ',')
	}
	if len(c.Exec) > 0 {
		b = append(appendActions(append(b, "exec("...), c.Exec, names, mode, nil), "),"...)
	}
	for _, alg := range ctAlgs {
		if alg.port == c.Alg {
			b = append(append(append(b, "alg="...), alg.name...), ',')
		}
	}
	if c.Alg != 0 && !ctAlgKnown(c.Alg) {
		b = append(appendNum(b, "alg=", uint64(c.Alg)), ',')
	}
	if len(b) > start {
		b = b[:len(b)-1]
	}
	return append(b, ')')
}

func ctAlgKnown(port uint16) bool {
	for _, a := range ctAlgs {
		if a.port == port {
			return true
		}
	}
	return false
}
