package ofproto

// Translation of the Nicira actions that read registers, nest actions or
// choose among links (ovs-actions(7)):
//
//   - output:SRC[..] outputs to the port number the subfield holds; only the
//     subfield's bits become exact in the megaflow.
//   - clone(ACTIONS) runs ACTIONS on a copy of the packet, registers and
//     action set: nothing they change is seen by the actions after it. In the
//     datapath ops a clone that rewrites the frame and outputs it is
//     bracketed by opSave/opRestore, as a group bucket is.
//   - dec_ttl(ids) sends a packet-in of reason invalid_ttl to each controller
//     id when the TTL runs out (see decTTL in xlate.go).
//   - multipath and bundle/bundle_load hash the named fields with the basis
//     (hashFields) and pick a link or a live member port. The hash is
//     tapestry's own, not Open vSwitch's, but it is a function of exactly the
//     hashed fields, which become exact in the megaflow and nothing else, so
//     one flow always picks the same link and every packet of a megaflow
//     picks alike.

import (
	"slices"

	"tapestry/flow"
	"tapestry/openflow"
)

// nxAction translates the actions of this file; it reports false for others.
func (x *xlate) nxAction(a *openflow.Action, id uint8) bool {
	switch a.Type {
	case openflow.ActOutputReg:
		x.outputReg(a.Src, a.MaxLen, id)
	case openflow.ActClone:
		x.clone(a.Nested, id)
	case openflow.ActMultipath:
		x.multipath(a)
	case openflow.ActBundle, openflow.ActBundleLoad:
		x.bundle(a, id)
	default:
		return false
	}
	return true
}

// readSubfield returns the value of sf and makes exactly its bits exact in
// the megaflow.
func (x *xlate) readSubfield(sf flow.Subfield) uint64 {
	wk := (*flow.Key)(&x.wc)
	sf.Field.Set(wk, sf.Field.Get(wk).Or(shiftLeft(lowMask(int(sf.NBits)), int(sf.Ofs))))
	return shiftRight(sf.Field.Get(&x.key), int(sf.Ofs)).And(lowMask(int(sf.NBits))).Uint64()
}

// outputReg translates output:SRC. The value is an OpenFlow 1.0 style
// 16-bit port, as in Open vSwitch: 0xfff8 is IN_PORT, 0xfffd CONTROLLER;
// larger values output nothing.
func (x *xlate) outputReg(src flow.Subfield, maxLen uint16, id uint8) {
	if !x.prereqs(src.Field) {
		x.notef("%s: prerequisites not met, skipped", src.Field)
		return
	}
	v := x.readSubfield(src)
	if v > 0xffff {
		x.notef("!output port %d is out of range", v)
		return
	}
	port := uint32(v)
	if port >= 0xff00 {
		port |= 0xffff0000 // reserved ports: 16-bit to 32-bit numbering
	}
	x.notef("output to port %d", v)
	x.output(port, maxLen, id)
}

// clone runs acts on a copy of the packet state.
func (x *xlate) clone(acts []openflow.Action, id uint8) {
	if x.depth >= maxDepth {
		x.notef("!over max translation depth %d", maxDepth)
		x.failed = dropRecursion
		return
	}
	savedKey := x.key
	var savedSet []openflow.Action
	if len(x.set) > 0 {
		savedSet = slices.Clone(x.set)
	}
	n := len(x.ops)
	x.depth++
	x.tr.enter()
	x.actions(acts, id, false)
	x.tr.leave()
	x.depth--
	x.key = savedKey
	x.set = append(x.set[:0], savedSet...)
	x.bracket(n)
}

// bracket makes the ops from n on (a clone's or a group bucket's) run on
// a copy of the frame when they rewrite it, and drops rewrites that reach
// no output: they are dead, and only learning is kept.
func (x *xlate) bracket(n int) {
	outputs, rewrites := bucketEffects(x.ops[n:])
	switch {
	case !outputs:
		kept := slices.DeleteFunc(x.ops[n:], func(o op) bool { return o.kind != opLearn })
		x.ops = x.ops[:n+len(kept)]
	case rewrites:
		x.ops = slices.Insert(x.ops, n, op{kind: opSave})
		x.ops = append(x.ops, op{kind: opRestore})
	}
}

// multipath stores the chosen link, 0..n_links-1, in the destination.
func (x *xlate) multipath(a *openflow.Action) {
	m := a.Multipath()
	h := x.hashFields(m.Fields, m.Basis)
	link := pickLink(m.Algorithm, h, m.NLinks, m.Arg)
	x.notef("multipath link %d of %d", link, m.NLinks)
	x.load(m.Dst, flow.U64(uint64(link)))
}

// pickLink applies a multipath algorithm to hash h.
func pickLink(alg openflow.MultipathAlgorithm, h uint64, n, arg uint32) uint32 {
	if n <= 1 {
		return 0
	}
	switch alg {
	case openflow.MultipathHashThreshold:
		// n equal regions of the 32-bit hash space.
		return uint32(uint64(uint32(h)) * uint64(n) >> 32)
	case openflow.MultipathHRW:
		// Highest random weight: the link whose own hash scores best.
		best, bestW := uint32(0), uint64(0)
		for i := range n {
			if w := finishHash(mixWord(h, uint64(i)+1)); i == 0 || w > bestW {
				best, bestW = i, w
			}
		}
		return best
	case openflow.MultipathIterHash:
		// Rehash within the next power of two until the value is a
		// link; arg salts the sequence.
		mask := uint32(1)<<bitLen(n-1) - 1
		for i := uint64(0); i < 64; i++ {
			if l := uint32(finishHash(mixWord(h, uint64(arg)<<32|i))) & mask; l < n {
				return l
			}
		}
	}
	return uint32(h % uint64(n))
}

func bitLen(v uint32) int {
	n := 0
	for ; v != 0; v >>= 1 {
		n++
	}
	return n
}

// noMember is what bundle_load stores when no member is live: OFPP_NONE
// in 16 bits, as Open vSwitch does.
const noMember = 0xffff

// bundle picks a live member: the first one for active_backup, the best
// scoring one for the hash of the fields for hrw.
func (x *xlate) bundle(a *openflow.Action, id uint8) {
	var h uint64
	hrw := openflow.BundleAlgorithm(a.Table) == openflow.BundleHRW
	if hrw {
		h = x.hashFields(openflow.HashFields(a.Reason), a.ID)
	}
	chosen, found, bestW := uint32(0), false, uint64(0)
	for i := range a.BundleMembers() {
		p := a.BundleMember(i)
		if !x.memberLive(p) {
			continue
		}
		if !hrw {
			chosen, found = p, true
			break
		}
		if w := finishHash(mixWord(h, uint64(p))); !found || w > bestW {
			chosen, found, bestW = p, true, w
		}
	}
	if a.Type == openflow.ActBundleLoad {
		v := uint64(noMember)
		if found {
			v = uint64(chosen & 0xffff)
		}
		x.notef("bundle_load member %d", v)
		x.load(a.Dst, flow.U64(v))
		return
	}
	if !found {
		x.note("!no live bundle member, dropping")
		return
	}
	x.notef("bundle member %d", chosen)
	x.output(chosen, 0, id)
}

// memberLive reports whether a bundle member may be used: its port exists
// and is up. Port changes bump the bridge generation, so cached choices are
// dropped when a member comes or goes.
func (x *xlate) memberLive(no uint32) bool {
	p := x.ports.byNo(no)
	return p != nil && p.cfg()&openflow.PortDown == 0
}

var allOnes6 = [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// hashFields hashes the field set fs of the packet with basis, making
// exactly the fields it reads exact in the megaflow.
func (x *xlate) hashFields(fs openflow.HashFields, basis uint16) uint64 {
	k, wc := &x.key, &x.wc
	h := mixWord(uint64(basis)+1, uint64(fs))
	switch fs {
	case openflow.HashEthSrc:
		wc.DlSrc = allOnes6
		return finishHash(mixWord(h, mac48(k.DlSrc)))
	case openflow.HashSymmetricL4:
		return finishHash(mixWord(h, x.hashL4()))
	case openflow.HashNwSrc, openflow.HashNwDst:
		return finishHash(x.hashAddr(h, fs == openflow.HashNwSrc))
	}
	// symmetric_l3l4, symmetric_l3l4+udp, symmetric_l3: IP addresses
	// (both directions alike), then the protocol and ports.
	h, ip := x.hashL3Symmetric(h) // groupxlate.go
	if !ip || fs == openflow.HashSymmetricL3 {
		return finishHash(h)
	}
	wc.NwProto = 0xff
	h = mixWord(h, uint64(k.NwProto))
	udp := fs == openflow.HashSymmetricL3L4UDP && k.NwProto == flow.ProtoUDP
	if k.NwProto == flow.ProtoTCP || k.NwProto == flow.ProtoSCTP || udp {
		// Later fragments carry no ports (ovs-actions(7)).
		wc.NwFrag = 0xff
		if k.NwFrag == 0 {
			wc.TpSrc, wc.TpDst = 0xffff, 0xffff
			h = mixWord(h, uint64(k.TpSrc^k.TpDst))
		}
	}
	return finishHash(h)
}

// hashAddr hashes the IPv4 or IPv6 source (src) or destination address.
func (x *xlate) hashAddr(h uint64, src bool) uint64 {
	k, wc := &x.key, &x.wc
	wc.DlType = 0xffff
	switch k.DlType {
	case flow.EthTypeIPv4:
		if src {
			wc.NwSrc = [4]byte{0xff, 0xff, 0xff, 0xff}
			return mixWord(h, uint64(be32(k.NwSrc[:])))
		}
		wc.NwDst = [4]byte{0xff, 0xff, 0xff, 0xff}
		return mixWord(h, uint64(be32(k.NwDst[:])))
	case flow.EthTypeIPv6:
		a, m := &k.IPv6Dst, &wc.IPv6Dst
		if src {
			a, m = &k.IPv6Src, &wc.IPv6Src
		}
		*m = allOnes16()
		return mixWord(mixWord(h, be64(a[:])), be64(a[8:]))
	}
	return h
}

func allOnes16() (a [16]byte) {
	for i := range a {
		a[i] = 0xff
	}
	return a
}
