package openflow

import "tapestry/flow"

// Exported pieces of the codec for Nicira extension messages built outside
// the package (Open vSwitch's NXST_FLOW and NXST_AGGREGATE stats, which
// carry an nx_match: the same TLVs as an OXM match, without ofp_match's
// type/length header and padding).

// AppendNXMatch appends m's fields as nx_match TLVs (fields with an OXM
// header use it; Open vSwitch reads both kinds in an nx_match).
func AppendNXMatch(dst []byte, m *flow.Match) ([]byte, error) { return appendOXMFields(dst, m) }

// DecodeNXMatch decodes nx_match TLVs (NXM classes 0 and 1, OXM classes)
// into m. NXM_OF_IN_PORT carries a 16-bit OpenFlow 1.0 port number
// (0xfffe is LOCAL); it is widened to OXM_OF_IN_PORT's 32-bit numbering
// first, as Open vSwitch's nx_pull_match does with ofp_to_u16.
func DecodeNXMatch(b []byte, m *flow.Match) error {
	*m = flow.Match{}
	var conv []byte
	for rest := b; len(rest) > 0; {
		t, n, err := parseOXMTLV(rest)
		if err != nil {
			return err
		}
		if t.class == nxmClass0 && t.field == 0 && !t.hasMask && len(t.value) == 2 {
			if conv == nil {
				conv = append(make([]byte, 0, len(b)+2), b[:len(b)-len(rest)]...)
			}
			conv = put32(append(conv, 0x80, 0x00, 0x00, 4), port10To32(be16(t.value)))
		} else if conv != nil {
			conv = append(conv, rest[:n]...)
		}
		rest = rest[n:]
	}
	if conv != nil {
		b = conv
	}
	return decodeOXMFields(b, m)
}

// nxmClass0 is Open vSwitch's NXM_OF class (fields OpenFlow 1.0 had).
const nxmClass0 = 0x0000

// DecodeActions decodes an action list of version (OpenFlow 1.0 actions
// or 1.3 actions, with Nicira extensions).
func DecodeActions(version uint8, b []byte) ([]Action, error) { return decodeActions(version, b, nil) }

// AppendActions appends acts encoded for version (OpenFlow 1.0 actions or
// a 1.3 action list, Nicira extensions where needed); m is the flow's
// match, which decides how set-field actions are spelled in 1.0.
func AppendActions(dst []byte, version uint8, acts []Action, m *flow.Match) ([]byte, error) {
	return appendActions(dst, version, acts, m)
}
