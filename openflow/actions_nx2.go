package openflow

import (
	"fmt"

	"tapestry/flow"
)

// Nicira actions that carry registers, nested actions or port lists
// (Open vSwitch's nicira-ext.h and ofp-actions.c layouts; every one is an
// experimenter action, vendor 0x00002320, in OpenFlow 1.0 and 1.3 alike):
//
//	NXAST_MULTIPATH (10)      fields basis pad algorithm max_link arg pad ofs_nbits dst      32 bytes
//	NXAST_BUNDLE (12)         algorithm fields basis slave_type n_slaves ofs_nbits dst zero[4] slaves... (pad to 8)
//	NXAST_BUNDLE_LOAD (13)    the same, with ofs_nbits/dst naming the register
//	NXAST_OUTPUT_REG (15)     ofs_nbits src(NXM header) max_len zero[6]                       24 bytes
//	NXAST_DEC_TTL_CNT_IDS (21) n_controllers zero[4] ids... (pad to 8)
//	NXAST_OUTPUT_REG2 (32)    ofs_nbits max_len src(NXM/OXM header) zero (pad to 24)
//	NXAST_CLONE (42)          pad[6] nested actions...
const (
	nxastMultipath     = 10
	nxastBundle        = 12
	nxastBundleLoad    = 13
	nxastOutputReg     = 15
	nxastDecTTLCntIDs  = 21
	nxastOutputReg2    = 32
	nxastClone         = 42
	nxmOfInPortHeader  = 0x00000002 // NXM_OF_IN_PORT, bundle's only slave_type
	nxBundleHeaderLen  = 32
	nxCntIDsHeaderLen  = 16
	nxCloneHeaderLen   = 16
	maxMultipathLinks  = 65536
	maxBundleMemberNum = 0xff00 // OFPP_MAX in 16 bits: members must be physical ports
)

// decodeNXAction2 decodes the subtypes this file owns; ok is false for any
// other subtype.
func decodeNXAction2(version uint8, sub uint16, b []byte) (a Action, ok bool, err error) {
	switch sub {
	case nxastOutputReg:
		a, err = decodeOutputReg(b)
	case nxastOutputReg2:
		a, err = decodeOutputReg2(b)
	case nxastClone:
		a = Action{Type: ActClone}
		a.Nested, err = decodeActions(version, b[nxCloneHeaderLen:], nil)
		if err == nil && len(a.Nested) == 0 {
			a.Nested = nil
		}
	case nxastDecTTLCntIDs:
		a, err = decodeDecTTLCntIDs(b)
	case nxastMultipath:
		a, err = decodeMultipath(b)
	case nxastBundle, nxastBundleLoad:
		a, err = decodeBundle(sub, b)
	case nxastCT:
		a, err = decodeCT(version, b) // actions_ct.go
	default:
		return a, false, nil
	}
	return a, true, err
}

func zeros(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}

func decodeOutputReg(b []byte) (Action, error) {
	if len(b) != 24 {
		return Action{}, errorf(ErrBadAction, BACBadLen, "output_reg of %d bytes", len(b))
	}
	if !zeros(b[18:24]) {
		return Action{}, errorf(ErrBadAction, BACBadArgument, "output_reg padding is not zero")
	}
	on := be16(b[10:])
	src, err := nxmSubfield(be32(b[12:]), on>>6, on&0x3f+1)
	if err != nil {
		return Action{}, err
	}
	a := OutputReg(src)
	a.MaxLen = be16(b[16:])
	return a, nil
}

func decodeOutputReg2(b []byte) (Action, error) {
	if len(b) < 24 {
		return Action{}, errorf(ErrBadAction, BACBadLen, "output_reg2 of %d bytes", len(b))
	}
	h := be32(b[14:])
	if h>>16 == 0xffff {
		// An experimenter OXM header (8 bytes); no register tapestry
		// knows has one.
		return Action{}, errorf(ErrBadAction, BACBadSetType, "output_reg2 of experimenter field 0x%08x", h)
	}
	if !zeros(b[18:]) {
		return Action{}, errorf(ErrBadAction, BACBadArgument, "output_reg2 padding is not zero")
	}
	on := be16(b[10:])
	src, err := nxmSubfield(h, on>>6, on&0x3f+1)
	if err != nil {
		return Action{}, err
	}
	a := OutputReg(src)
	a.MaxLen = be16(b[12:])
	return a, nil
}

func decodeDecTTLCntIDs(b []byte) (Action, error) {
	n := int(be16(b[10:]))
	if !zeros(b[12:16]) {
		return Action{}, errorf(ErrBadAction, BACBadArgument, "dec_ttl_cnt_ids reserved bytes are not zero")
	}
	if (len(b)-nxCntIDsHeaderLen)/2 < n {
		return Action{}, errorf(ErrBadAction, BACBadLen, "dec_ttl_cnt_ids of %d bytes cannot hold %d controller ids", len(b), n)
	}
	if n == 0 {
		// OVS prints this "dec_ttl()"; the model has no such form, and
		// it behaves as dec_ttl without a packet-in.
		return Action{Type: ActDecTTL}, nil
	}
	a := Action{Type: ActDecTTL, Note: append([]byte(nil), b[16:16+2*n]...)}
	return a, nil
}

func decodeMultipath(b []byte) (Action, error) {
	if len(b) != 32 {
		return Action{}, errorf(ErrBadAction, BACBadLen, "multipath of %d bytes", len(b))
	}
	m := Multipath{Fields: HashFields(be16(b[10:])), Basis: be16(b[12:]), NLinks: uint32(be16(b[18:])) + 1, Arg: be32(b[20:])}
	if be16(b[10:]) > uint16(HashSymmetricL3) {
		return Action{}, errorf(ErrBadAction, BACBadArgument, "multipath: unknown fields %d", be16(b[10:]))
	}
	alg := be16(b[16:])
	if alg > uint16(MultipathIterHash) {
		return Action{}, errorf(ErrBadAction, BACBadArgument, "multipath: unknown algorithm %d", alg)
	}
	m.Algorithm = MultipathAlgorithm(alg)
	on := be16(b[26:])
	dst, err := nxmSubfield(be32(b[28:]), on>>6, on&0x3f+1)
	if err != nil {
		return Action{}, err
	}
	if dst.NBits < 32 && m.NLinks > 1<<dst.NBits {
		return Action{}, errorf(ErrBadAction, BACBadArgument, "multipath needs at least %d bits for %d links", bitsFor(m.NLinks), m.NLinks)
	}
	m.Dst = dst
	return m.Action(), nil
}

// bitsFor is the number of bits that hold 0..n-1.
func bitsFor(n uint32) int {
	k := 0
	for uint64(1)<<k < uint64(n) {
		k++
	}
	return k
}

func decodeBundle(sub uint16, b []byte) (Action, error) {
	if len(b) < nxBundleHeaderLen {
		return Action{}, errorf(ErrBadAction, BACBadLen, "bundle of %d bytes", len(b))
	}
	bd := Bundle{Load: sub == nxastBundleLoad, Basis: be16(b[14:])}
	alg, fields := be16(b[10:]), be16(b[12:])
	if alg > uint16(BundleHRW) {
		return Action{}, errorf(ErrBadAction, BACBadArgument, "bundle: unknown algorithm %d", alg)
	}
	if fields > uint16(HashSymmetricL3) {
		return Action{}, errorf(ErrBadAction, BACBadArgument, "bundle: unknown fields %d", fields)
	}
	bd.Algorithm, bd.Fields = BundleAlgorithm(alg), HashFields(fields)
	if be32(b[16:]) != nxmOfInPortHeader {
		return Action{}, errorf(ErrBadAction, BACBadArgument, "bundle: unsupported member type 0x%08x", be32(b[16:]))
	}
	n := int(be16(b[20:]))
	if (len(b)-nxBundleHeaderLen)/2 < n {
		return Action{}, errorf(ErrBadAction, BACBadLen, "bundle of %d bytes cannot hold %d members", len(b), n)
	}
	if !zeros(b[28:32]) {
		return Action{}, errorf(ErrBadAction, BACBadArgument, "bundle: reserved bytes are not zero")
	}
	on, h := be16(b[22:]), be32(b[24:])
	if bd.Load {
		dst, err := nxmSubfield(h, on>>6, on&0x3f+1)
		if err != nil {
			return Action{}, err
		}
		if dst.NBits < 16 {
			return Action{}, errorf(ErrBadAction, BACBadArgument, "bundle_load: destination is %d bits, want at least 16", dst.NBits)
		}
		bd.Dst = dst
	} else if on != 0 || h != 0 {
		return Action{}, errorf(ErrBadAction, BACBadArgument, "bundle: ofs_nbits or dst is not zero")
	}
	bd.Members = make([]uint32, n)
	for i := range bd.Members {
		p := be16(b[nxBundleHeaderLen+2*i:])
		if p >= maxBundleMemberNum && p != 0xfffe { // OFPP_LOCAL
			return Action{}, errorf(ErrBadAction, BACBadOutPort, "bundle: invalid member %d", p)
		}
		bd.Members[i] = port10To32(p)
	}
	return bd.Action(), nil
}

// appendNXAction2 encodes the actions this file owns; ok is false for any
// other action.
func (e *actionEncoder) appendNXAction2(dst []byte, a *Action) (out []byte, ok bool, err error) {
	switch a.Type {
	case ActOutputReg:
		out, err = appendOutputReg(dst, a)
	case ActClone:
		start := len(dst)
		dst = pad(nxHeader(dst, 0, nxastClone), 6)
		inner := *e
		if dst, err = inner.appendList(dst, a.Nested); err != nil {
			return dst, true, err
		}
		n := len(dst) - start
		dst[start+2], dst[start+3] = byte(n>>8), byte(n)
		out = dst
	case ActMultipath:
		out, err = appendMultipath(dst, a)
	case ActBundle, ActBundleLoad:
		out, err = appendBundle(dst, a)
	case ActCT:
		out, err = e.appendCT(dst, a) // actions_ct.go
	default:
		return dst, false, nil
	}
	return out, true, err
}

func ofsNBits(sf flow.Subfield) uint16 { return sf.Ofs<<6 | (sf.NBits - 1) }

func checkSubfield(what string, sf flow.Subfield) error {
	if !sf.Field.Valid() || sf.NBits == 0 || sf.NBits > 64 || int(sf.Ofs)+int(sf.NBits) > sf.Field.Bits() {
		return fmt.Errorf("openflow: %s of %v[%d+%d] is invalid", what, sf.Field, sf.Ofs, sf.NBits)
	}
	if _, _, ok := oxmHeaderFor(sf.Field); !ok {
		return fmt.Errorf("openflow: %s of field %v that has no NXM or OXM header", what, sf.Field)
	}
	return nil
}

// appendOutputReg writes NXAST_OUTPUT_REG, or NXAST_OUTPUT_REG2 when the
// packet-in length is not the default, as Open vSwitch chooses.
func appendOutputReg(dst []byte, a *Action) ([]byte, error) {
	if err := checkSubfield("output", a.Src); err != nil {
		return dst, err
	}
	if a.MaxLen == ControllerMaxLen {
		dst = put16(nxHeader(dst, 24, nxastOutputReg), ofsNBits(a.Src))
		return pad(put16(put32(dst, nxmHeader(a.Src)), a.MaxLen), 6), nil
	}
	dst = put16(put16(nxHeader(dst, 24, nxastOutputReg2), ofsNBits(a.Src)), a.MaxLen)
	return pad(put32(dst, nxmHeader(a.Src)), 6), nil
}

func appendDecTTLCntIDs(dst []byte, ids []byte) []byte {
	start := len(dst)
	dst = pad(put16(nxHeader(dst, 0, nxastDecTTLCntIDs), uint16(len(ids)/2)), 4)
	dst = padTo8(append(dst, ids[:len(ids)&^1]...), start)
	n := len(dst) - start
	dst[start+2], dst[start+3] = byte(n>>8), byte(n)
	return dst
}

func appendMultipath(dst []byte, a *Action) ([]byte, error) {
	m := a.Multipath()
	if err := checkSubfield("multipath", m.Dst); err != nil {
		return dst, err
	}
	dst = put16(put16(nxHeader(dst, 32, nxastMultipath), uint16(m.Fields)), m.Basis)
	dst = put16(put16(pad(dst, 2), uint16(m.Algorithm)), uint16(m.NLinks-1))
	dst = put16(pad(put32(dst, m.Arg), 2), ofsNBits(m.Dst))
	return put32(dst, nxmHeader(m.Dst)), nil
}

func appendBundle(dst []byte, a *Action) ([]byte, error) {
	start := len(dst)
	sub := uint16(nxastBundle)
	var on uint16
	var h uint32
	if a.Type == ActBundleLoad {
		if err := checkSubfield("bundle_load", a.Dst); err != nil {
			return dst, err
		}
		sub, on, h = nxastBundleLoad, ofsNBits(a.Dst), nxmHeader(a.Dst)
	}
	n := a.BundleMembers()
	dst = put16(put16(nxHeader(dst, 0, sub), uint16(a.Table)), uint16(a.Reason))
	dst = put16(put32(put16(dst, a.ID), nxmOfInPortHeader), uint16(n))
	dst = pad(put32(put16(dst, on), h), 4)
	for i := range n {
		p, ok := port32To10(a.BundleMember(i))
		if !ok {
			return dst[:start], fmt.Errorf("openflow: bundle member %d has no 16-bit number", a.BundleMember(i))
		}
		dst = put16(dst, p)
	}
	dst = padTo8(dst, start)
	l := len(dst) - start
	dst[start+2], dst[start+3] = byte(l>>8), byte(l)
	return dst, nil
}
