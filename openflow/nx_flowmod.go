package openflow

import "tapestry/flow"

// NXT_FLOW_MOD is how ovs-ofctl, speaking OpenFlow 1.0 (its default),
// sends a flow whose match ofp_match cannot carry: registers, metadata,
// IPv6, conntrack state, tunnel ids, ARP hardware addresses, a cookie
// mask. The body is struct nx_flow_mod (Open vSwitch nicira-ext.h):
//
//	cookie(8) command(2) idle(2) hard(2) priority(2) buffer_id(4)
//	out_port(2) flags(2) match_len(2) pad(6)
//
// then match_len bytes of nx_match, zero padding to 8 bytes, and OpenFlow
// 1.0 actions (with Nicira ones) to the end.
// NXTFlowMod is the Nicira vendor subtype of NXT_FLOW_MOD.
const NXTFlowMod uint32 = 13

const (
	nxFlowModLen = 32

	// NXM_NX_COOKIE(_W): a cookie (and mask) to select flows by, which only
	// an nx_match can carry; Open vSwitch pulls it out of the match.
	nxmClass1       = 0x0001
	nxmFieldCookie  = 30
	nxmCookieLen    = 8
	nxmCookieMasked = 16
)

// NXFlowMod is a decoded NXT_FLOW_MOD. Command holds the raw 16-bit
// command: with NXT_FLOW_MOD_TABLE_ID enabled its high byte is the table
// (the connection knows; see FlowMod.Command for the low byte).
type NXFlowMod struct {
	FlowMod
	RawCommand uint16
}

// DecodeNXFlowMod parses the body of an NXT_FLOW_MOD (after the vendor id
// and subtype) into m, reusing m.Actions' storage. With tableID set (the
// connection enabled NXT_FLOW_MOD_TABLE_ID) the command's high byte is the
// table; otherwise the flow mod applies to every table (0 for an add), as
// for OFPT_FLOW_MOD in 1.0.
func DecodeNXFlowMod(b []byte, m *NXFlowMod, tableID bool) error {
	acts := m.Actions[:0]
	*m = NXFlowMod{}
	fm := &m.FlowMod
	if len(b) < nxFlowModLen {
		return errorf(ErrBadRequest, BRCBadLen, "NXT_FLOW_MOD of %d bytes, want at least %d", len(b), nxFlowModLen)
	}
	newCookie := be64(b)
	m.RawCommand = be16(b[8:])
	fm.IdleTimeout, fm.HardTimeout, fm.Priority = be16(b[10:]), be16(b[12:]), be16(b[14:])
	fm.BufferID = be32(b[16:])
	fm.OutPort = port10To32(be16(b[20:]))
	fm.Flags = FlowModFlags(be16(b[22:]))
	fm.OutGroup = GroupAny
	matchLen := int(be16(b[24:]))
	padded := (matchLen + 7) / 8 * 8
	if nxFlowModLen+padded > len(b) {
		return errorf(ErrBadRequest, BRCBadLen, "nx_match of %d bytes (padded %d) in %d bytes", matchLen, padded, len(b)-nxFlowModLen)
	}
	match := b[nxFlowModLen : nxFlowModLen+matchLen]
	for _, z := range b[nxFlowModLen+matchLen : nxFlowModLen+padded] {
		if z != 0 {
			return errorf(ErrBadMatch, BMCBadLen, "nx_match padding is not zero")
		}
	}
	cookie, mask, match, err := pullNXCookie(match)
	if err != nil {
		return err
	}
	if err := DecodeNXMatch(match, &fm.Match); err != nil {
		return err
	}
	cmd := m.RawCommand
	if tableID {
		fm.Table, cmd = uint8(cmd>>8), cmd&0xff
	}
	if cmd > uint16(FlowDeleteStrict) {
		return errorf(ErrFlowModFailed, FMFCBadCommand, "flow mod command %d", cmd)
	}
	fm.Command = FlowModCommand(cmd)
	if !tableID {
		fm.Table = TableAll
		if fm.Command == FlowAdd {
			fm.Table = 0
		}
	}
	switch {
	case fm.Command == FlowAdd && mask != 0:
		// Open vSwitch: additions may only set a new cookie
		// (NXBRC_NXM_INVALID).
		return errorf(ErrBadMatch, BMCBadMask, "an add matches a cookie (mask %#x); adds may only set one", mask)
	case mask != 0:
		// The cookie selects flows; the new-cookie field is then all
		// ones (leave cookies alone), as ovs-ofctl sends it.
		fm.Cookie, fm.CookieMask = cookie&mask, mask
	default:
		// The new cookie; all ones asks a modify to keep the flows'
		// cookies (Open vSwitch's modify_cookie).
		fm.Cookie = newCookie
	}
	if fm.Actions, err = decodeActions(Version10, b[nxFlowModLen+padded:], acts); err != nil {
		return err
	}
	return checkActions(fm.Actions, &fm.Match)
}

// pullNXCookie removes NXM_NX_COOKIE or NXM_NX_COOKIE_W from an nx_match
// and returns it (mask all ones for the unmasked form) with the rest of
// the match, which is copied only when it held a cookie.
func pullNXCookie(match []byte) (cookie, mask uint64, rest []byte, err error) {
	rest = match
	found := false
	for off := 0; off < len(rest); {
		t, n, err := parseOXMTLV(rest[off:])
		if err != nil {
			return 0, 0, nil, err
		}
		if t.class != nxmClass1 || t.field != nxmFieldCookie {
			off += n
			continue
		}
		switch {
		case found:
			return 0, 0, nil, errorf(ErrBadMatch, BMCDupField, "the cookie appears twice in the nx_match")
		case !t.hasMask && t.length == nxmCookieLen:
			cookie, mask = be64(t.value), ^uint64(0)
		case t.hasMask && t.length == nxmCookieMasked:
			cookie, mask = be64(t.value), be64(t.mask)
		default:
			return 0, 0, nil, errorf(ErrBadMatch, BMCBadLen, "NXM_NX_COOKIE of %d bytes", t.length)
		}
		found = true
		rest = append(append(make([]byte, 0, len(rest)-n), rest[:off]...), rest[off+n:]...)
	}
	return cookie, mask, rest, nil
}

// AppendNXFlowMod appends fm as a complete NXT_FLOW_MOD. With tableID the
// table travels in the command's high byte (NXT_FLOW_MOD_TABLE_ID must be
// enabled on the connection). A cookie mask travels as NXM_NX_COOKIE_W in
// the match, with the all-ones new cookie ovs-ofctl sends beside it.
func AppendNXFlowMod(dst []byte, xid uint32, fm *FlowMod, tableID bool) ([]byte, error) {
	dst, start, err := nxHeaderMsg(dst, xid, NXTFlowMod)
	if err != nil {
		return dst, err
	}
	cookie := fm.Cookie
	switch {
	case fm.CookieMask != 0 && (fm.Command == FlowModify || fm.Command == FlowModifyStrict):
		cookie = ^uint64(0)
	case fm.CookieMask != 0:
		cookie = 0
	}
	cmd := uint16(fm.Command)
	if tableID {
		cmd |= uint16(fm.Table) << 8
	}
	out, ok := port32To10(fm.OutPort)
	if !ok {
		return dst[:start], errorf(ErrBadRequest, BRCBadPort, "out_port %d has no OpenFlow 1.0 number", fm.OutPort)
	}
	dst = put64(dst, cookie)
	dst = put16(put16(put16(put16(dst, cmd), fm.IdleTimeout), fm.HardTimeout), fm.Priority)
	dst = put16(put16(put32(dst, fm.BufferID), out), uint16(fm.Flags))
	lenAt := len(dst)
	dst = pad(put16(dst, 0), 6)
	ms := len(dst)
	if dst, err = AppendNXMatch(dst, &fm.Match); err != nil {
		return dst[:start], err
	}
	// Open vSwitch puts the cookie after the flow's fields.
	switch fm.CookieMask {
	case 0:
	case ^uint64(0):
		dst = put64(append(put16(dst, nxmClass1), nxmFieldCookie<<1, nxmCookieLen), fm.Cookie)
	default:
		dst = put64(put64(append(put16(dst, nxmClass1), nxmFieldCookie<<1|1, nxmCookieMasked), fm.Cookie&fm.CookieMask), fm.CookieMask)
	}
	n := len(dst) - ms
	dst[lenAt], dst[lenAt+1] = byte(n>>8), byte(n)
	dst = pad(dst, (8-n%8)%8)
	if dst, err = appendActions(dst, Version10, fm.Actions, &fm.Match); err != nil {
		return dst[:start], err
	}
	return finish(dst, start)
}

// NeedsNXMatch reports whether m needs an nx_match in OpenFlow 1.0: it
// uses a field ofp_match cannot carry, or a mask it cannot express. That
// is when ovs-ofctl sends NXT_FLOW_MOD instead of OFPT_FLOW_MOD.
func NeedsNXMatch(m *flow.Match) bool {
	var b [40]byte
	_, err := appendMatch10(b[:0], m)
	return err != nil
}
