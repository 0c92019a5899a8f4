package ofctl

import (
	"strconv"
	"strings"

	"tapestry/flow"
	"tapestry/openflow"
)

// Nicira actions with registers, nested actions and port lists, in
// ovs-actions(7)'s syntax and printed as ovs-ofctl 3.1 prints them:
//
//	output:REG[start..end]          output to the port number a subfield holds
//	clone(ACTIONS)                  run ACTIONS on a copy of the packet
//	dec_ttl(id1,id2,...)            dec_ttl that tells these controller ids on expiry
//	multipath(fields,basis,algorithm,n_links,arg,dst)
//	bundle(fields,basis,algorithm,ofport,members:p1,p2,...)
//	bundle_load(fields,basis,algorithm,ofport,dst,members:p1,p2,...)
//
// Open vSwitch parses the arguments of the last three with strtok and atoi:
// numbers that do not parse read as 0 rather than failing, and so do they
// here, so that a line ovs-ofctl accepts is accepted alike.

// parseOutputReg handles output:SUBFIELD, tried after the port names as
// Open vSwitch does (so output:in_port is IN_PORT, output:reg0 a register).
func parseOutputReg(value string) (openflow.Action, error) {
	src, err := parseSubfield(value)
	if err != nil || src.NBits > 64 {
		return openflow.Action{}, errorf("output: %q: output to unknown port", value)
	}
	return openflow.OutputReg(nxmWidth(src)), nil
}

// nxmWidth narrows a whole in_port to the 16 bits of NXM_OF_IN_PORT, the
// header load, move and output_reg carry it with (in_port_oxm is the 32-bit
// one).
func nxmWidth(sf flow.Subfield) flow.Subfield {
	if sf.Field == flow.FieldInPort && sf.Ofs == 0 && sf.NBits == 32 {
		sf.NBits = 16
	}
	return sf
}

// appendNXSubfield prints a subfield as Open vSwitch does, with the whole
// 16-bit NXM_OF_IN_PORT as NXM_OF_IN_PORT[].
func appendNXSubfield(b []byte, sf flow.Subfield) []byte {
	if sf.Field == flow.FieldInPort && sf.Ofs == 0 && sf.NBits == 16 {
		sf.NBits = 32
	}
	return appendSubfield(b, sf)
}

// parseClone handles clone(ACTIONS): plain actions only, no instructions.
func parseClone(value string, names PortNamer) (openflow.Action, error) {
	nested, err := parseActionList(value, names, true)
	if err != nil {
		return openflow.Action{}, wrapf(err, "clone")
	}
	return openflow.Action{Type: openflow.ActClone, Nested: nested}, nil
}

// parseDecTTL handles dec_ttl and dec_ttl(id,...). "dec_ttl()" is plain
// dec_ttl, as in Open vSwitch; each id reads as C's atoi truncated to 16 bits.
func parseDecTTL(value string, paren bool) (openflow.Action, error) {
	if !paren && value != "" {
		return openflow.Action{}, errorf("dec_ttl: takes no argument, got %q", value)
	}
	toks := nxTokens(value)
	ids := make([]uint16, len(toks))
	for i, t := range toks {
		ids[i] = uint16(atoi(t))
	}
	return openflow.DecTTLIDs(ids...), nil
}

// nxTokens splits as strtok(s, ", \t\r\n") does.
func nxTokens(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\r' || r == '\n' })
}

// atoi is C's atoi: optional sign, leading digits, 0 when there are none.
func atoi(s string) int64 {
	s = strings.TrimLeft(s, " \t")
	neg := false
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg, s = s[0] == '-', s[1:]
	}
	var n int64
	for i := 0; i < len(s) && s[i] >= '0' && s[i] <= '9' && n < 1<<40; i++ {
		n = n*10 + int64(s[i]-'0')
	}
	if neg {
		n = -n
	}
	return n
}

// parseMultipath handles multipath(fields,basis,algorithm,n_links,arg,dst).
func parseMultipath(value string) (openflow.Action, error) {
	t := nxTokens(value)
	if len(t) < 6 {
		return openflow.Action{}, errorf("multipath: %q: not enough arguments to multipath action", value)
	}
	var m openflow.Multipath
	var ok bool
	if m.Fields, ok = openflow.HashFieldsByName(t[0]); !ok {
		return openflow.Action{}, errorf("multipath: unknown fields %q", t[0])
	}
	m.Basis = uint16(atoi(t[1]))
	if m.Algorithm, ok = openflow.MultipathAlgorithmByName(t[2]); !ok {
		return openflow.Action{}, errorf("multipath: unknown algorithm %q", t[2])
	}
	n := atoi(t[3])
	if n < 1 || n > 65536 {
		return openflow.Action{}, errorf("multipath: n_links %s is not in valid range 1 to 65536", t[3])
	}
	m.NLinks, m.Arg = uint32(n), uint32(atoi(t[4]))
	dst, err := parseSubfield(t[5])
	if err != nil {
		return openflow.Action{}, wrapf(err, "multipath")
	}
	if readOnly(dst.Field) {
		return openflow.Action{}, errorf("multipath: %s is read-only", t[5])
	}
	if dst.NBits < 32 && uint64(n) > 1<<dst.NBits {
		return openflow.Action{}, errorf("multipath: %d-bit destination field has %d possible values, less than specified n_links %d",
			dst.NBits, 1<<dst.NBits, n)
	}
	m.Dst = nxmWidth(dst)
	return m.Action(), nil
}

// parseBundle handles bundle(fields,basis,algorithm,ofport,members:p,...)
// and bundle_load(fields,basis,algorithm,ofport,dst,members:p,...);
// "slaves:" is the older spelling of "members:".
func parseBundle(key, value string, names PortNamer) (openflow.Action, error) {
	bd := openflow.Bundle{Load: key == "bundle_load"}
	t := nxTokens(value)
	want := 5
	if bd.Load {
		want = 6
	}
	if len(t) < want {
		return openflow.Action{}, errorf("%s: %q: not enough arguments to %s action", key, value, key)
	}
	var ok bool
	if bd.Fields, ok = openflow.HashFieldsByName(t[0]); !ok {
		return openflow.Action{}, errorf("%s: unknown fields %q", key, t[0])
	}
	bd.Basis = uint16(atoi(t[1]))
	switch t[2] {
	case "hrw":
		bd.Algorithm = openflow.BundleHRW
	case "active_backup":
		bd.Algorithm = openflow.BundleActiveBackup
	default:
		return openflow.Action{}, errorf("%s: unknown algorithm %q", key, t[2])
	}
	if t[3] != "ofport" {
		return openflow.Action{}, errorf("%s: unknown member_type %q", key, t[3])
	}
	rest := t[4:]
	if bd.Load {
		dst, err := parseSubfield(t[4])
		if err != nil {
			return openflow.Action{}, wrapf(err, "%s", key)
		}
		if dst.NBits < 16 {
			return openflow.Action{}, errorf("%s: %s: destination field must be at least 16 bits", key, t[4])
		}
		bd.Dst, rest = nxmWidth(dst), t[5:]
	}
	members, err := bundleMembers(key, rest, names)
	if err != nil {
		return openflow.Action{}, err
	}
	bd.Members = members
	return bd.Action(), nil
}

// bundleMembers parses "members:p1" "p2" ... (the tokens after ofport/dst).
func bundleMembers(key string, toks []string, names PortNamer) ([]uint32, error) {
	delim, first, _ := strings.Cut(toks[0], ":")
	if delim != "members" && delim != "slaves" {
		return nil, errorf("%s: missing member delimiter, expected `members', got %q", key, delim)
	}
	toks = toks[1:]
	if first != "" {
		toks = append([]string{first}, toks...)
	}
	out := make([]uint32, 0, len(toks))
	for _, s := range toks {
		p, ok := parsePort(s, names)
		if !ok || p >= openflow.PortMax && p != openflow.PortLocal {
			return nil, errorf("%s: %q: bad member port", key, s)
		}
		out = append(out, p)
	}
	return out, nil
}

// appendNXAction prints the actions of this file; ok is false for others.
func appendNXAction(b []byte, a *openflow.Action, names PortNamer, mode fmtMode, ctx *actCtx) ([]byte, bool) {
	switch a.Type {
	case openflow.ActOutputReg:
		// max_len is not printed: ovs-ofctl shows output:SRC for
		// NXAST_OUTPUT_REG2 too.
		return appendNXSubfield(append(b, "output:"...), a.Src), true
	case openflow.ActClone:
		inner := *ctx
		b = appendActions(append(b, "clone("...), a.Nested, names, mode, nil)
		*ctx = inner
		return append(b, ')'), true
	case openflow.ActMultipath:
		m := a.Multipath()
		b = append(append(b, "multipath("...), m.Fields.String()...)
		b = appendNum(b, ",", uint64(m.Basis))
		b = append(append(b, ','), m.Algorithm.String()...)
		b = appendNum(b, ",", uint64(m.NLinks))
		b = appendNum(b, ",", uint64(m.Arg))
		b = appendNXSubfield(append(b, ','), m.Dst)
		return append(b, ')'), true
	case openflow.ActBundle, openflow.ActBundleLoad:
		return appendBundle(b, a, names), true
	case openflow.ActCT:
		return appendCT(b, a, names, mode), true // actions_ct.go
	}
	return b, false
}

func appendBundle(b []byte, a *openflow.Action, names PortNamer) []byte {
	b = append(b, "bundle"...)
	if a.Type == openflow.ActBundleLoad {
		b = append(b, "_load"...)
	}
	b = append(append(b, '('), openflow.HashFields(a.Reason).String()...)
	b = appendNum(b, ",", uint64(a.ID))
	b = append(append(b, ','), openflow.BundleAlgorithm(a.Table).String()...)
	b = append(b, ",ofport,"...)
	if a.Type == openflow.ActBundleLoad {
		b = append(appendNXSubfield(b, a.Dst), ',')
	}
	b = append(b, "members:"...)
	for i := range a.BundleMembers() {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendPort(b, a.BundleMember(i), names)
	}
	return append(b, ')')
}

// appendDecTTLIDs prints dec_ttl(id,...).
func appendDecTTLIDs(b []byte, a *openflow.Action) []byte {
	b = append(b, "dec_ttl("...)
	for i, id := range a.ControllerIDs() {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendUint(b, uint64(id), 10)
	}
	return append(b, ')')
}
