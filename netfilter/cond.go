package netfilter

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"tapestry/packet"
)

// cond is one compiled test of a match; a match compiles to one cond per
// option it was given. A flat struct and a switch, not an interface, so the
// rule loop makes no indirect calls.
type cond struct {
	kind   uint8
	inv    bool
	x, y   uint8
	a, b   uint32
	mac    [6]byte
	ports  []PortRange
	bucket *limitBucket
}

const (
	cSport = iota + 1
	cDport
	cTCPFlags
	cTCPOption
	cICMP
	cMultiport
	cMark
	cConnmark
	cCtState
	cCtProto
	cCtOrigSrc
	cCtOrigDst
	cCtReplSrc
	cCtReplDst
	cCtDir
	cSrcRange
	cDstRange
	cMAC
	cTOS
	cDSCP
	cLength
	cLimit
	cSrcType
	cDstType
	cTTL
	cOwner
)

func u32(a netip.Addr) uint32 {
	b := a.As4()
	return binary.BigEndian.Uint32(b[:])
}

func portCond(kind uint8, r *PortRange, inv bool) []cond {
	if r == nil {
		return nil
	}
	return []cond{{kind: kind, inv: inv, a: uint32(r.Lo), b: uint32(r.Hi)}}
}

func prefixCond(kind uint8, p netip.Prefix, inv bool) []cond {
	if !p.IsValid() {
		return nil
	}
	a, m := prefixBits(p)
	return []cond{{kind: kind, inv: inv, a: a, b: m}}
}

var errNeedProto = errors.New("needs a matching -p")

// compileMatch turns a model match into conds, checking what the kernel's
// checkentry functions check.
func compileMatch(m Match, r *Rule) ([]cond, error) {
	switch m := m.(type) {
	case *TCPMatch:
		if r.Proto != packet.ProtoTCP || r.InvProto {
			return nil, errNeedProto
		}
		cs := append(portCond(cSport, m.Src, m.InvSrc), portCond(cDport, m.Dst, m.InvDst)...)
		if m.HasFlags {
			cs = append(cs, cond{kind: cTCPFlags, inv: m.InvFlags, x: m.FlagsMask, y: m.FlagsCmp})
		}
		if m.HasOption {
			cs = append(cs, cond{kind: cTCPOption, inv: m.InvOption, x: m.Option})
		}
		return cs, nil
	case *UDPMatch:
		if r.Proto != packet.ProtoUDP || r.InvProto {
			return nil, errNeedProto
		}
		return append(portCond(cSport, m.Src, m.InvSrc), portCond(cDport, m.Dst, m.InvDst)...), nil
	case *ICMPMatch:
		if r.Proto != packet.ProtoICMP || r.InvProto {
			return nil, errNeedProto
		}
		c := cond{kind: cICMP, inv: m.Inv, x: m.Type, a: uint32(m.CodeMin), b: uint32(m.CodeMax)}
		if m.Any {
			c.y = 1
		}
		return []cond{c}, nil
	case *MultiportMatch:
		switch r.Proto {
		case packet.ProtoTCP, packet.ProtoUDP, packet.ProtoSCTP, 33, 136:
		default:
			return nil, errNeedProto
		}
		if len(m.Ports) == 0 || len(m.Ports) > 15 {
			return nil, fmt.Errorf("%d ports (1 to 15 allowed)", len(m.Ports))
		}
		return []cond{{kind: cMultiport, inv: m.Inv, x: m.Dir, ports: m.Ports}}, nil
	case *MarkMatch:
		return []cond{{kind: cMark, inv: m.Inv, a: m.Value, b: m.Mask}}, nil
	case *ConnmarkMatch:
		return []cond{{kind: cConnmark, inv: m.Inv, a: m.Value, b: m.Mask}}, nil
	case *StateMatch:
		return []cond{{kind: cCtState, inv: m.Inv, a: uint32(m.States)}}, nil
	case *ConntrackMatch:
		return conntrackConds(m), nil
	case *IPRangeMatch:
		var cs []cond
		if m.SrcLo.IsValid() {
			cs = append(cs, cond{kind: cSrcRange, inv: m.InvSrc, a: u32(m.SrcLo), b: u32(m.SrcHi)})
		}
		if m.DstLo.IsValid() {
			cs = append(cs, cond{kind: cDstRange, inv: m.InvDst, a: u32(m.DstLo), b: u32(m.DstHi)})
		}
		return cs, nil
	case *MACMatch:
		return []cond{{kind: cMAC, inv: m.Inv, mac: m.Addr}}, nil
	case *TOSMatch:
		return []cond{{kind: cTOS, inv: m.Inv, x: m.Value, y: m.Mask}}, nil
	case *DSCPMatch:
		if m.Value > 63 {
			return nil, fmt.Errorf("DSCP %#x out of range", m.Value)
		}
		return []cond{{kind: cDSCP, inv: m.Inv, x: m.Value}}, nil
	case *LengthMatch:
		return []cond{{kind: cLength, inv: m.Inv, a: uint32(m.Min), b: uint32(m.Max)}}, nil
	case *LimitMatch:
		return []cond{{kind: cLimit, bucket: newBucket(m)}}, nil
	case *CommentMatch:
		if len(m.Text) > 255 {
			return nil, errors.New("comment longer than 255 bytes")
		}
		return nil, nil
	case *AddrTypeMatch:
		var cs []cond
		if m.Src != 0 {
			cs = append(cs, cond{kind: cSrcType, inv: m.InvSrc, a: uint32(m.Src), x: b2u(m.LimitIn), y: b2u(m.LimitOut)})
		}
		if m.Dst != 0 {
			cs = append(cs, cond{kind: cDstType, inv: m.InvDst, a: uint32(m.Dst), x: b2u(m.LimitIn), y: b2u(m.LimitOut)})
		}
		return cs, nil
	case *TTLMatch:
		return []cond{{kind: cTTL, x: m.Mode, y: m.Value}}, nil
	case *OwnerMatch:
		return []cond{{kind: cOwner, inv: m.Inv, a: m.UIDMin, b: m.UIDMax}}, nil
	}
	return nil, fmt.Errorf("unsupported match %T", m)
}

func b2u(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

func conntrackConds(m *ConntrackMatch) []cond {
	var cs []cond
	if m.HasState {
		cs = append(cs, cond{kind: cCtState, inv: m.InvState, a: uint32(m.State)})
	}
	if m.HasProto {
		cs = append(cs, cond{kind: cCtProto, inv: m.InvProto, x: m.Proto})
	}
	cs = append(cs, prefixCond(cCtOrigSrc, m.OrigSrc, m.InvOrigSrc)...)
	cs = append(cs, prefixCond(cCtOrigDst, m.OrigDst, m.InvOrigDst)...)
	cs = append(cs, prefixCond(cCtReplSrc, m.ReplSrc, m.InvReplSrc)...)
	cs = append(cs, prefixCond(cCtReplDst, m.ReplDst, m.InvReplDst)...)
	if m.Dir != CtDirAny {
		cs = append(cs, cond{kind: cCtDir, x: m.Dir})
	}
	return cs
}

// newBucket sizes xt_limit's bucket: one packet costs Avg/LimitScale
// seconds, and Burst packets' worth of credit can accumulate.
func newBucket(m *LimitMatch) *limitBucket {
	avg, burst := m.Avg, m.Burst
	if avg == 0 {
		avg = LimitScale * 3600 / 3 // 3/hour
	}
	if burst == 0 {
		burst = 5
	}
	cost := int64(avg) * (1e9 / LimitScale)
	return &limitBucket{cost: cost, cap: cost * int64(burst)}
}
