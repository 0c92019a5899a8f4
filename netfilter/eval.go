package netfilter

import (
	"encoding/binary"

	"tapestry/conntrack"
	"tapestry/flow"
	"tapestry/packet"
)

// hookTables is the order tables run at each hook (by priority). The nat
// table runs at PREROUTING/OUTPUT as destination NAT (-100, before filter)
// and at INPUT/POSTROUTING as source NAT (+100, after filter).
var hookTables = [NumHooks][]TableID{
	HookPrerouting:  {TableRaw, TableMangle, TableNAT},
	HookInput:       {TableMangle, TableFilter, TableNAT},
	HookForward:     {TableMangle, TableFilter},
	HookOutput:      {TableRaw, TableMangle, TableNAT, TableFilter},
	HookPostrouting: {TableMangle, TableNAT},
}

// Hook runs every table registered at hook h on p, with connection
// tracking between raw and mangle at PREROUTING and OUTPUT, NAT in the nat
// slots and the conntrack confirm at the end of INPUT and POSTROUTING. It
// returns the verdict; on VerdictDrop/VerdictReject p.DropReason says why.
// It allocates nothing unless a rule logs, rejects or sets up NAT.
func (rs *Ruleset) Hook(h Hook, p *Packet) Verdict {
	env := rs.env
	for _, tid := range hookTables[h] {
		if tid == TableMangle && (h == HookPrerouting || h == HookOutput) {
			if v, ok := rs.track(p); !ok {
				return v
			}
		}
		if tid == TableNAT {
			if v := rs.nat(h, p); v != VerdictAccept {
				return v
			}
			continue
		}
		if v := rs.tables[tid].run(h, p, env); v != VerdictAccept {
			return v
		}
	}
	// Confirm, but only from an original-direction packet: a REJECT's reset
	// attached to an unconfirmed connection leaves it unconfirmed
	// (__nf_conntrack_confirm).
	if (h == HookPostrouting || h == HookInput) && p.Conn != nil && env.Conntrack != nil && p.CtInfo.Dir() == conntrack.DirOriginal {
		if !env.Conntrack.Confirm(p.Conn, p.Now) {
			return env.drop(p, 4)
		}
	}
	return VerdictAccept
}

// track is the conntrack hook (nf_conntrack_in).
func (rs *Ruleset) track(p *Packet) (Verdict, bool) {
	ct := rs.env.Conntrack
	if p.tracked || ct == nil {
		return VerdictAccept, true
	}
	p.tracked = true
	var l4 []byte
	if p.Off.HasL4() && int(p.Off.L4) <= len(p.Frame) {
		l4 = p.Frame[p.Off.L4:]
	}
	p.Conn, p.CtInfo = ct.Track(&p.Key, l4, p.Zone, p.Now)
	if p.CtInfo == conntrack.InfoFull {
		p.Conn = nil
		return rs.env.drop(p, 3), false
	}
	if p.Conn != nil {
		p.Key.CtMark = p.Conn.Mark()
	}
	return VerdictAccept, true
}

// nat runs the nat table for the first packet of a connection and then
// applies the connection's bindings (nf_nat_inet_fn).
func (rs *Ruleset) nat(h Hook, p *Packet) Verdict {
	c := p.Conn
	if c == nil {
		return VerdictAccept
	}
	m := conntrack.ManipDst
	if h == HookPostrouting || h == HookInput {
		m = conntrack.ManipSrc
	}
	related := p.CtInfo == conntrack.InfoRelated || p.CtInfo == conntrack.InfoRelatedReply
	if related && p.Key.NwProto == flow.ProtoICMP {
		// Related ICMP errors are translated from the connection's
		// bindings, never by the table (nf_nat_icmp_reply_translation).
		conntrack.ApplyNATRelated(c, p.CtInfo.Dir(), m, p.Frame, p.Off, &p.Key)
		return VerdictAccept
	}
	// The table runs for the first packet of a connection, and for a
	// non-ICMP related packet (a REJECT's reset) whose connection has no
	// binding of this kind yet (nf_nat_inet_fn).
	if (p.CtInfo == conntrack.InfoNew || related) && !c.NATDone(m) {
		if v := rs.tables[TableNAT].run(h, p, rs.env); v != VerdictAccept {
			return v
		}
		// No rule bound it: a null binding, which still makes the
		// tuple unique (implicit source port reallocation).
		if !c.NATDone(m) && !rs.env.Conntrack.SetupNAT(c, m, conntrack.NATRange{}, p.Now) {
			return rs.env.drop(p, 5)
		}
	}
	conntrack.ApplyNAT(c, p.CtInfo.Dir(), m, p.Frame, p.Off, &p.Key)
	return VerdictAccept
}

// frame is one jump stack entry: the chain and the cursor to resume.
type frame struct {
	cur cursor
}

// run traverses one table from the hook's entry point (ipt_do_table).
func (t *ctable) run(h Hook, p *Packet, env *Env) Verdict {
	e := t.entry[h]
	if e < 0 {
		return VerdictAccept
	}
	var stack [MaxJumpDepth + 1]frame
	sp := 0
	ch := t.rules[e].chain
	cur := t.chains[ch].begin(t, p)
	for {
		pos := cur.next()
		r := &t.rules[pos]
		if pos != cur.end && !r.match(p, env) {
			continue
		}
		t.count(pos, p)
		if p.Trace != nil || p.Traced {
			t.trace(p, env, pos)
		}
		switch r.tgt.kind {
		case tNone:
			continue
		case tAccept:
			return VerdictAccept
		case tDrop:
			if r.flags&fPolicy != 0 {
				return env.drop(p, 1)
			}
			return env.drop(p, 0)
		case tReturn:
			if sp == 0 {
				// RETURN with an empty stack (from a built-in chain, or a
				// chain reached by goto): the hook's policy decides.
				cur = cursor{pos: t.underflow[h] - 1, end: t.underflow[h]}
				continue
			}
			sp--
			cur = stack[sp].cur
		case tJump, tGoto:
			if r.tgt.kind == tJump {
				if sp == len(stack) {
					return env.drop(p, 7)
				}
				stack[sp].cur = cur
				sp++
			}
			cur = t.chains[r.tgt.jump].begin(t, p)
		default:
			if v, done := r.tgt.apply(h, p, env, t.id); done {
				return v
			}
		}
	}
}

func (t *ctable) count(pos int32, p *Packet) {
	c := &t.ctr[pos]
	c.pkts.Add(1)
	c.bytes.Add(uint64(p.ipLen()))
}

// ipLen is the IP datagram length (skb->len at the IP layer).
func (p *Packet) ipLen() int {
	if !p.Off.HasL3() || int(p.Off.L3)+4 > len(p.Frame) {
		return 0
	}
	return int(binary.BigEndian.Uint16(p.Frame[p.Off.L3+2:]))
}

// match tests the ipt_ip part and then every cond (ip_packet_match and the
// match loop of ipt_do_table).
func (r *crule) match(p *Packet, env *Env) bool {
	k := &p.Key
	if k.DlType != flow.EthTypeIPv4 {
		return false
	}
	if (binary.BigEndian.Uint32(k.NwSrc[:])&r.smsk != r.src) != (r.flags&fInvSrc != 0) ||
		(binary.BigEndian.Uint32(k.NwDst[:])&r.dmsk != r.dst) != (r.flags&fInvDst != 0) {
		return false
	}
	if !r.in.any() && r.in.match(p.In) == (r.flags&fInvIn != 0) {
		return false
	}
	if !r.out.any() && r.out.match(p.Out) == (r.flags&fInvOut != 0) {
		return false
	}
	if r.proto != 0 && (k.NwProto == r.proto) == (r.flags&fInvProto != 0) {
		return false
	}
	if r.flags&fFrag != 0 && (k.NwFrag&flow.FragLater != 0) == (r.flags&fInvFrag != 0) {
		return false
	}
	for i := range r.conds {
		if !r.conds[i].match(p, env) {
			return false
		}
	}
	return true
}

// later reports a non-first fragment: transport matches never match those
// (the kernel's tcp_mt and friends return false when fragoff != 0).
func later(k *flow.Key) bool { return k.NwFrag&flow.FragLater != 0 }

func (c *cond) match(p *Packet, env *Env) bool {
	k := &p.Key
	var ok bool
	switch c.kind {
	case cSport:
		ok = !later(k) && uint32(k.TpSrc) >= c.a && uint32(k.TpSrc) <= c.b
	case cDport:
		ok = !later(k) && uint32(k.TpDst) >= c.a && uint32(k.TpDst) <= c.b
	case cTCPFlags:
		ok = !later(k) && uint8(k.TCPFlags)&c.x == c.y
	case cTCPOption:
		ok = !later(k) && hasTCPOption(p, c.x)
	case cICMP:
		if later(k) {
			return false
		}
		ok = c.y == 1 || uint8(k.TpSrc) == c.x && uint32(k.TpDst) >= c.a && uint32(k.TpDst) <= c.b
	case cMultiport:
		ok = !later(k) && multiport(c, k)
	case cMark:
		ok = k.PktMark&c.b == c.a
	case cConnmark:
		ok = p.Conn != nil && p.Conn.Mark()&c.b == c.a
	case cCtState:
		ok = uint32(ctState(p))&c.a != 0
	case cCtProto:
		ok = p.Conn != nil && p.Conn.Orig().Proto == c.x
	case cCtOrigSrc, cCtOrigDst, cCtReplSrc, cCtReplDst:
		ok = p.Conn != nil && ctAddr(p.Conn, c.kind)&c.b == c.a
	case cCtDir:
		if p.Conn == nil {
			return false
		}
		ok = (p.CtInfo.Dir() == conntrack.DirOriginal) == (c.x == CtDirOriginal)
	case cSrcRange:
		a := binary.BigEndian.Uint32(k.NwSrc[:])
		ok = a >= c.a && a <= c.b
	case cDstRange:
		a := binary.BigEndian.Uint32(k.NwDst[:])
		ok = a >= c.a && a <= c.b
	case cMAC:
		ok = k.DlSrc == c.mac
	case cTOS:
		ok = k.NwTos&c.y == c.x
	case cDSCP:
		ok = k.NwTos>>2 == c.x
	case cLength:
		n := uint32(p.ipLen())
		ok = n >= c.a && n <= c.b
	case cLimit:
		return c.bucket.take(p.Now)
	case cSrcType, cDstType:
		ok = addrType(c, p, env)
	case cTTL:
		return ttlMatch(c.x, k.NwTTL, c.y)
	case cOwner:
		ok = p.HasUID && p.UID >= c.a && p.UID <= c.b
	}
	return ok != c.inv
}

func ttlMatch(mode, ttl, v uint8) bool {
	switch mode {
	case TTLEq:
		return ttl == v
	case TTLNe:
		return ttl != v
	case TTLLt:
		return ttl < v
	}
	return ttl > v
}

func multiport(c *cond, k *flow.Key) bool {
	for _, r := range c.ports {
		switch c.x {
		case MultiportSrc:
			if r.Contains(k.TpSrc) {
				return true
			}
		case MultiportDst:
			if r.Contains(k.TpDst) {
				return true
			}
		default:
			if r.Contains(k.TpSrc) || r.Contains(k.TpDst) {
				return true
			}
		}
	}
	return false
}

// ctState maps the packet's conntrack classification to -m state bits.
func ctState(p *Packet) CtState {
	var s CtState
	switch p.CtInfo {
	case conntrack.InfoUntracked:
		return StateUntracked
	case conntrack.InfoNew:
		s = StateNew
	case conntrack.InfoEstablished, conntrack.InfoEstablishedReply:
		s = StateEstablished
	case conntrack.InfoRelated, conntrack.InfoRelatedReply:
		s = StateRelated
	default:
		return StateInvalid
	}
	if p.Conn != nil {
		st := p.Conn.Status()
		if st&conntrack.StatusSrcNAT != 0 {
			s |= StateSNAT
		}
		if st&conntrack.StatusDstNAT != 0 {
			s |= StateDNAT
		}
	}
	return s
}

func ctAddr(c *conntrack.Conn, kind uint8) uint32 {
	var a [4]byte
	switch kind {
	case cCtOrigSrc:
		a = c.Orig().Src
	case cCtOrigDst:
		a = c.Orig().Dst
	case cCtReplSrc:
		a = c.Reply().Src
	default:
		a = c.Reply().Dst
	}
	return binary.BigEndian.Uint32(a[:])
}

func addrType(c *cond, p *Packet, env *Env) bool {
	if env.Addrs == nil {
		return false
	}
	a := p.Key.NwSrc
	if c.kind == cDstType {
		a = p.Key.NwDst
	}
	dev := ""
	if c.x == 1 {
		dev = p.In
	} else if c.y == 1 {
		dev = p.Out
	}
	return uint32(env.Addrs.AddrType(addrFrom4(a), dev))&c.a != 0
}

// hasTCPOption scans the TCP options for kind (xt_tcpudp's tcp_find_option).
func hasTCPOption(p *Packet, kind uint8) bool {
	if !p.Off.HasL4() || int(p.Off.L4)+packet.TCPMinimumSize > len(p.Frame) {
		return false
	}
	tcp := packet.TCP(p.Frame[p.Off.L4:])
	hl := tcp.HeaderLen()
	if hl < packet.TCPMinimumSize || hl > len(tcp) {
		return false
	}
	opts := tcp[packet.TCPMinimumSize:hl]
	for i := 0; i < len(opts); {
		if opts[i] == kind {
			return true
		}
		if opts[i] < 2 {
			i++
			continue
		}
		if i+1 >= len(opts) || opts[i+1] < 2 {
			return false
		}
		i += int(opts[i+1])
	}
	return false
}
