package ofproto

// Group execution during translation (OpenFlow 1.3 §5.6.1):
//
//   - all: every bucket, each on its own copy of the packet;
//   - select: one live bucket of non-zero weight, chosen by a symmetric hash
//     of the packet's L2-L4 addresses, weighted by the buckets' weights;
//   - indirect: its one bucket;
//   - fast_failover: the first live bucket.
//
// As Open vSwitch does, every bucket runs as a clone: changes a bucket makes
// to the packet (and to registers and metadata) are not seen by the next
// bucket nor by the actions after the group action. In the datapath ops a
// bucket that rewrites the frame is bracketed by opSave/opRestore.

import (
	"math"

	"tapestry/flow"
	"tapestry/openflow"
)

// group executes group id from table tid.
func (x *xlate) group(id uint32, tid uint8) {
	g := x.b.groupTable().get(id)
	if g == nil {
		// Possible only for a group chained from a bucket whose target
		// was deleted later; flows cannot name a missing group.
		x.notef("!group %d does not exist, dropping", id)
		return
	}
	if x.depth >= maxDepth {
		x.notef("!over max translation depth %d", maxDepth)
		x.failed = dropRecursion
		return
	}
	x.groupCtrs = append(x.groupCtrs, g.ctr)
	switch g.typ {
	case openflow.GroupTypeAll:
		for i := range g.buckets {
			x.bucket(g, i, tid)
		}
	case openflow.GroupTypeIndirect:
		x.bucket(g, 0, tid)
	case openflow.GroupTypeSelect:
		x.chosen(g, x.selectBucket(g), tid)
	case openflow.GroupTypeFastFailover:
		x.chosen(g, x.firstLive(g), tid)
	}
}

// chosen executes bucket i of a select or fast-failover group; -1 means no
// bucket was live and the packet goes nowhere through this group.
func (x *xlate) chosen(g *group, i int, tid uint8) {
	if i < 0 {
		x.note("!no live bucket, dropping")
		return
	}
	x.notef("using bucket %d", i)
	x.bucket(g, i, tid)
}

// bucket executes bucket i of g as a clone of the packet.
func (x *xlate) bucket(g *group, i int, tid uint8) {
	bk := &g.buckets[i]
	x.groupCtrs = append(x.groupCtrs, bk.ctr)
	saved := x.key
	n := len(x.ops)
	x.depth++
	x.tr.enter()
	x.tr.bucket(g.id, i)
	x.actions(bk.Actions, tid, false)
	x.tr.leave()
	x.depth--
	x.key = saved
	x.bracket(n)
}

// bucketEffects reports whether a bucket's ops output the packet and
// whether they leave the frame changed (a nested clone puts back what it
// changed).
func bucketEffects(ops []op) (outputs, rewrites bool) {
	depth := 0
	for i := range ops {
		switch ops[i].kind {
		case opOutput, opController, opCT:
			outputs = true
		case opLearn:
		case opSave:
			depth++
		case opRestore:
			depth--
		default:
			rewrites = rewrites || depth == 0
		}
	}
	return outputs, rewrites
}

// firstLive returns the index of g's first live bucket, or -1.
func (x *xlate) firstLive(g *group) int {
	for i := range g.buckets {
		if x.bucketLive(g, &g.buckets[i], 0) {
			return i
		}
	}
	return -1
}

// bucketLive reports whether a bucket may be used: its watch port exists
// and is up, and its watch group has a live bucket (OpenFlow 1.3 §6.5).
// Buckets of all and indirect groups have no liveness. Port and group
// changes bump the bridge generation, so cached decisions that depended on
// liveness are dropped when it changes.
func (x *xlate) bucketLive(g *group, bk *bucket, depth int) bool {
	if g.typ == openflow.GroupTypeAll || g.typ == openflow.GroupTypeIndirect {
		return true
	}
	if bk.WatchPort != openflow.PortAny {
		p := x.ports.byNo(bk.WatchPort)
		if p == nil || p.cfg()&openflow.PortDown != 0 {
			return false
		}
	}
	if bk.WatchGroup != openflow.GroupAny {
		wg := x.b.groupTable().get(bk.WatchGroup)
		if wg == nil || depth >= maxDepth || !x.groupLive(wg, depth+1) {
			return false
		}
	}
	return true
}

func (x *xlate) groupLive(g *group, depth int) bool {
	for i := range g.buckets {
		if x.bucketLive(g, &g.buckets[i], depth) {
			return true
		}
	}
	return false
}

// selectBucket picks a live bucket of non-zero weight by weighted
// rendezvous hashing: each bucket scores -ln(u)/weight for a uniform u
// derived from the packet's hash and the bucket's index, and the lowest
// score wins. A bucket then carries a share of flows proportional to its
// weight, and adding or removing a bucket moves only the flows that go to
// or come from it. (Open vSwitch's default "hash" method scores
// hash*weight, which is not proportional to the weights.) It returns -1
// when no bucket qualifies.
func (x *xlate) selectBucket(g *group) int {
	h := x.hashL4()
	best, bestScore := -1, math.Inf(1)
	for i := range g.buckets {
		bk := &g.buckets[i]
		if bk.Weight == 0 || !x.bucketLive(g, bk, 0) {
			continue
		}
		r := finishHash(h ^ uint64(i+1)*0x9e3779b97f4a7c15)
		u := (float64(r>>11) + 0.5) / (1 << 53)
		if s := -math.Log(u) / float64(bk.Weight); s < bestScore {
			best, bestScore = i, s
		}
	}
	return best
}

// hashL4 hashes the packet symmetrically (both directions of a connection
// hash alike) over Ethernet addresses, EtherType, VLAN ID, IP addresses,
// IP protocol and TCP/UDP/SCTP ports, as Open vSwitch's
// flow_hash_symmetric_l4. Every field it reads becomes exact in the
// megaflow mask, so that a cached decision holds for every packet the
// megaflow matches.
func (x *xlate) hashL4() uint64 {
	k, wc := &x.key, &x.wc
	wc.DlSrc, wc.DlDst = allOnes6, allOnes6
	wc.DlType = 0xffff
	wc.VlanTCI |= flow.VlanCFI | flow.VlanVIDMask
	h := mixWord(0, mac48(k.DlSrc)^mac48(k.DlDst))
	h = mixWord(h, uint64(k.DlType)<<16|uint64(k.VlanTCI&(flow.VlanCFI|flow.VlanVIDMask)))
	h, ip := x.hashL3Symmetric(h)
	if !ip {
		return finishHash(h)
	}
	wc.NwProto = 0xff
	h = mixWord(h, uint64(k.NwProto))
	switch k.NwProto {
	case flow.ProtoTCP, flow.ProtoUDP, flow.ProtoSCTP:
		wc.TpSrc, wc.TpDst = 0xffff, 0xffff
		h = mixWord(h, uint64(k.TpSrc^k.TpDst))
	}
	return finishHash(h)
}

// hashL3Symmetric mixes the IPv4 or IPv6 addresses into h so that both
// directions hash alike, making them (and dl_type) exact in the megaflow;
// ip is false, and h unchanged, for a packet that is neither.
func (x *xlate) hashL3Symmetric(h uint64) (_ uint64, ip bool) {
	k, wc := &x.key, &x.wc
	wc.DlType = 0xffff
	switch k.DlType {
	case flow.EthTypeIPv4:
		wc.NwSrc, wc.NwDst = [4]byte{0xff, 0xff, 0xff, 0xff}, [4]byte{0xff, 0xff, 0xff, 0xff}
		return mixWord(h, uint64(be32(k.NwSrc[:])^be32(k.NwDst[:]))), true
	case flow.EthTypeIPv6:
		wc.IPv6Src, wc.IPv6Dst = allOnes16(), allOnes16()
		h = mixWord(h, be64(k.IPv6Src[:])^be64(k.IPv6Dst[:]))
		return mixWord(h, be64(k.IPv6Src[8:])^be64(k.IPv6Dst[8:])), true
	}
	return h, false
}

func mac48(m [6]byte) uint64 {
	return uint64(m[0])<<40 | uint64(m[1])<<32 | uint64(m[2])<<24 | uint64(m[3])<<16 | uint64(m[4])<<8 | uint64(m[5])
}

func be32(b []byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func be64(b []byte) uint64 { return uint64(be32(b))<<32 | uint64(be32(b[4:])) }
