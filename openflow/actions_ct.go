package openflow

import (
	"fmt"

	"tapestry/flow"
)

// NXAST_CT (Open vSwitch's nx_action_conntrack), the same in OpenFlow 1.0
// and 1.3:
//
//	type(0xffff) len vendor(0x00002320) subtype(35)
//	flags(16)        NX_CT_F_COMMIT | NX_CT_F_FORCE
//	zone_src(32)     NXM/OXM header of the zone's field, 0 for an immediate zone
//	zone(16)         ofs<<6 | (n_bits-1) with zone_src, else the zone itself
//	recirc_table(8)  0xff: no recirculation
//	pad[3]
//	alg(16)          ALG port, 0 for none
//	nested actions... (included in len)
const (
	nxastCT       = 35
	nxCTHeaderLen = 24
	ctKnownFlags  = CTCommit | CTForce
)

func decodeCT(version uint8, b []byte) (Action, error) {
	if len(b) < nxCTHeaderLen {
		return Action{}, errorf(ErrBadAction, BACBadLen, "ct of %d bytes", len(b))
	}
	flags := be16(b[10:])
	if flags&^uint16(ctKnownFlags) != 0 {
		return Action{}, errorf(ErrBadAction, BACBadArgument, "ct: unknown flags 0x%x", flags)
	}
	c := CT{Commit: flags&uint16(CTCommit) != 0, Force: flags&uint16(CTForce) != 0, Table: b[18], Alg: be16(b[22:])}
	if h := be32(b[12:]); h != 0 {
		on := be16(b[16:])
		src, err := nxmSubfield(h, on>>6, on&0x3f+1)
		if err != nil {
			return Action{}, err
		}
		if src.NBits != 16 {
			// Open vSwitch: "zone n_bits N not within valid range [16..16]".
			return Action{}, errorf(ErrBadAction, BACBadSetLen, "ct: zone of %d bits, want 16", src.NBits)
		}
		c.ZoneSrc = src
	} else {
		c.Zone = be16(b[16:])
	}
	exec, err := decodeActions(version, b[nxCTHeaderLen:], nil)
	if err != nil {
		return Action{}, err
	}
	c.Exec = exec
	if err := checkCT(&c); err != nil {
		return Action{}, errorf(ErrBadAction, BACBadArgument, "%v", err)
	}
	return c.Action(), nil
}

// checkCT enforces Open vSwitch's rules for ct: force needs commit, exec
// holds only sets of ct_mark, and exec needs commit.
func checkCT(c *CT) error {
	if c.Force && !c.Commit {
		return fmt.Errorf(`"force" flag requires "commit" flag`)
	}
	for i := range c.Exec {
		a := &c.Exec[i]
		f, ok := CTExecField(a)
		if ok {
			continue
		}
		if f != flow.FieldInvalid {
			return fmt.Errorf("ct action doesn't support nested modification of %v", f)
		}
		return fmt.Errorf("ct action doesn't support nested action %d", a.Type)
	}
	if len(c.Exec) > 0 && !c.Commit {
		return fmt.Errorf("ct action requires commit flag if actions are specified")
	}
	return nil
}

// appendCT encodes NXAST_CT; the exec actions use the version's own
// encoding of set_field (OpenFlow 1.0: NXAST_REG_LOAD), as Open vSwitch.
func (e *actionEncoder) appendCT(dst []byte, a *Action) ([]byte, error) {
	c := a.CT()
	if err := checkCT(&c); err != nil {
		return dst, fmt.Errorf("openflow: %w", err)
	}
	start := len(dst)
	var flags uint16
	if c.Commit {
		flags |= uint16(CTCommit)
	}
	if c.Force {
		flags |= uint16(CTForce)
	}
	dst = put16(nxHeader(dst, 0, nxastCT), flags)
	if c.ZoneSrc.Field != flow.FieldInvalid {
		if err := checkSubfield("ct zone", c.ZoneSrc); err != nil {
			return dst[:start], err
		}
		if c.ZoneSrc.NBits != 16 {
			return dst[:start], fmt.Errorf("openflow: ct zone of %d bits, want 16", c.ZoneSrc.NBits)
		}
		dst = put16(put32(dst, nxmHeader(c.ZoneSrc)), ofsNBits(c.ZoneSrc))
	} else {
		dst = put16(put32(dst, 0), c.Zone)
	}
	dst = put16(pad(append(dst, c.Table), 3), c.Alg)
	inner := *e
	var err error
	if dst, err = inner.appendList(dst, c.Exec); err != nil {
		return dst[:start], err
	}
	n := len(dst) - start
	dst[start+2], dst[start+3] = byte(n>>8), byte(n)
	return dst, nil
}

// checkCTMatch is Open vSwitch's check of ct against the flow's match:
// conntrack needs an IPv4 or IPv6 packet, so the match must say so
// (OFPBAC_MATCH_INCONSISTENT otherwise).
func checkCTMatch(m *flow.Match) error {
	if m.Mask.DlType == 0xffff && (m.Key.DlType == flow.EthTypeIPv4 || m.Key.DlType == flow.EthTypeIPv6) {
		return nil
	}
	return errorf(ErrBadAction, BACMatchInconsistent, "ct needs an ip or ipv6 match")
}
