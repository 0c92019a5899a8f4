package netfilter

import (
	"encoding/binary"

	"tapestry/packet"
)

// Rule indexing keeps evaluation from growing with the chain length while
// keeping first-match order exactly. For every indexed field a chain keeps,
// per value, the sorted positions of the rules that require that value, and
// the sorted positions of the rules that do not constrain the field
// ("wild"). A packet's candidates for one field are spec[v] ∪ wild: a
// superset of the rules that can match it. At chain entry the field with
// the fewest candidates is picked and its two lists are merged in position
// order while the rules are evaluated in full, so the result is the linear
// scan's. Indexed fields are those no non-terminal target changes (a MARK
// or TOS rewrite mid-chain cannot invalidate the candidate set): protocol,
// destination port, in interface, and /32 destination and source.

// minIndexed is the chain length from which a chain is indexed; shorter
// chains are scanned.
const minIndexed = 16

const (
	fieldProto = iota
	fieldDport
	fieldIn
	fieldDst
	fieldSrc
	numFields
)

type fieldIndex struct {
	spec32 map[uint32][]int32
	specS  map[string][]int32
	wild   []int32
	used   bool // some rule constrains the field
}

type chainIndex struct {
	f [numFields]fieldIndex
}

// cursor walks a chain's candidates in order; end is the underflow entry,
// returned once the candidates run out.
type cursor struct {
	pos     int32
	end     int32
	a, b    []int32
	indexed bool
}

func (c *cursor) next() int32 {
	if !c.indexed {
		c.pos++
		return c.pos
	}
	switch {
	case len(c.a) > 0 && (len(c.b) == 0 || c.a[0] < c.b[0]):
		p := c.a[0]
		c.a = c.a[1:]
		return p
	case len(c.b) > 0:
		p := c.b[0]
		c.b = c.b[1:]
		return p
	}
	return c.end
}

// begin returns the cursor for entering chain ch with packet p.
func (ch *cchain) begin(t *ctable, p *Packet) cursor {
	ix := ch.index
	if ix == nil {
		return cursor{pos: ch.start - 1, end: ch.end}
	}
	best := cursor{pos: ch.start - 1, end: ch.end}
	bestN := int(ch.end - ch.start)
	k := &p.Key
	for f := range ix.f {
		fi := &ix.f[f]
		if !fi.used {
			continue
		}
		var spec []int32
		switch f {
		case fieldProto:
			spec = fi.spec32[uint32(k.NwProto)]
		case fieldDport:
			spec = fi.spec32[uint32(k.TpDst)]
		case fieldIn:
			spec = fi.specS[p.In]
		case fieldDst:
			spec = fi.spec32[binary.BigEndian.Uint32(k.NwDst[:])]
		case fieldSrc:
			spec = fi.spec32[binary.BigEndian.Uint32(k.NwSrc[:])]
		}
		if n := len(spec) + len(fi.wild); n < bestN {
			bestN = n
			best = cursor{end: ch.end, a: spec, b: fi.wild, indexed: true}
		}
	}
	return best
}

// buildIndex indexes a long chain, or returns nil.
func buildIndex(t *ctable, ch *cchain) *chainIndex {
	if ch.end-ch.start < minIndexed {
		return nil
	}
	ix := &chainIndex{}
	for f := range ix.f {
		ix.f[f].spec32 = map[uint32][]int32{}
		ix.f[f].specS = map[string][]int32{}
	}
	for pos := ch.start; pos < ch.end; pos++ {
		r := &t.rules[pos]
		for f := range ix.f {
			fi := &ix.f[f]
			v, s, ok := r.indexValue(f)
			switch {
			case !ok:
				fi.wild = append(fi.wild, pos)
			case f == fieldIn:
				fi.specS[s] = append(fi.specS[s], pos)
				fi.used = true
			default:
				fi.spec32[v] = append(fi.spec32[v], pos)
				fi.used = true
			}
		}
	}
	return ix
}

// indexValue returns the single value rule r requires of field f, if it
// requires one.
func (r *crule) indexValue(f int) (uint32, string, bool) {
	switch f {
	case fieldProto:
		return uint32(r.proto), "", r.proto != 0 && r.flags&fInvProto == 0
	case fieldDport:
		if r.flags&fInvProto != 0 || (r.proto != packet.ProtoTCP && r.proto != packet.ProtoUDP) {
			return 0, "", false
		}
		for _, c := range r.conds {
			if c.kind == cDport && !c.inv && c.a == c.b {
				return c.a, "", true
			}
		}
	case fieldIn:
		return 0, r.in.name, r.in.name != "" && !r.in.prefix && r.flags&fInvIn == 0
	case fieldDst:
		return r.dst, "", r.dmsk == ^uint32(0) && r.flags&fInvDst == 0
	case fieldSrc:
		return r.src, "", r.smsk == ^uint32(0) && r.flags&fInvSrc == 0
	}
	return 0, "", false
}
