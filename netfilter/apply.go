package netfilter

import (
	"net/netip"

	"tapestry/conntrack"
	"tapestry/flow"
	"tapestry/packet"
)

func addrFrom4(a [4]byte) netip.Addr { return netip.AddrFrom4(a) }

// apply runs a non-verdict target. done reports that the target ended the
// traversal with v (REJECT and the NAT targets are terminal); otherwise
// evaluation continues with the next rule (XT_CONTINUE).
func (tg *ctarget) apply(h Hook, p *Packet, env *Env, tid TableID) (v Verdict, done bool) {
	k := &p.Key
	l3 := int(p.Off.L3)
	isIP := k.DlType == flow.EthTypeIPv4 && p.Off.HasL3()
	switch tg.kind {
	case tMark:
		k.PktMark = k.PktMark&^tg.b ^ tg.a
	case tConnmark:
		connmark(tg, p)
	case tTOS:
		if isIP {
			tos := k.NwTos&^tg.m8 ^ tg.v8
			packet.SetIPv4TOS(p.Frame, l3, tos)
			k.NwTos = tos
		}
	case tDSCP:
		if isIP {
			tos := k.NwTos&0x03 | tg.v8<<2
			packet.SetIPv4TOS(p.Frame, l3, tos)
			k.NwTos = tos
		}
	case tTTL:
		if isIP {
			ttl := newTTL(tg.mode, k.NwTTL, tg.v8)
			packet.SetIPv4TTL(p.Frame, l3, ttl)
			k.NwTTL = ttl
		}
	case tLog:
		logPacket(env, p, h, tg.log)
	case tTrace:
		p.Traced = true
	case tNotrack:
		p.tracked = true
		p.Conn, p.CtInfo = nil, conntrack.InfoUntracked
	case tCTZone:
		p.Zone = uint16(tg.a)
	case tReject:
		if !buildReject(p, tg.reject, h, env) {
			return env.drop(p, 0), true
		}
		return env.drop(p, 2), true
	case tDNAT, tSNAT, tMasquerade, tRedirect:
		return natTarget(tg, h, p, env), true
	}
	return VerdictAccept, false
}

// newTTL is xt_HL's arithmetic: dec and inc saturate at 0 and 255.
func newTTL(mode, ttl, v uint8) uint8 {
	switch mode {
	case TTLDec:
		if v > ttl {
			return 0
		}
		return ttl - v
	case TTLInc:
		if int(ttl)+int(v) > 255 {
			return 255
		}
		return ttl + v
	}
	return v
}

func connmark(tg *ctarget, p *Packet) {
	c := p.Conn
	if c == nil {
		return
	}
	switch tg.mode {
	case ConnmarkSet:
		c.SetMark(c.Mark()&^tg.b ^ tg.a)
	case ConnmarkSave:
		c.SetMark(c.Mark()&^tg.b ^ p.Key.PktMark&tg.c)
	case ConnmarkRestore:
		p.Key.PktMark = p.Key.PktMark&^tg.c ^ c.Mark()&tg.b
	}
	p.Key.CtMark = c.Mark()
}

// natTarget sets up the binding of the first packet (the nat table is only
// traversed for those) and accepts; the nat hook then applies it.
func natTarget(tg *ctarget, h Hook, p *Packet, env *Env) Verdict {
	c := p.Conn
	if c == nil || env.Conntrack == nil {
		return VerdictAccept
	}
	r := tg.nat
	m := conntrack.ManipDst
	switch tg.kind {
	case tSNAT:
		m = conntrack.ManipSrc
	case tMasquerade:
		m = conntrack.ManipSrc
		a, ok := primary(env, p.Out)
		if !ok {
			return env.drop(p, 6)
		}
		r.MinIP, r.MaxIP, r.HasIP = a, a, true
	case tRedirect:
		a := [4]byte{127, 0, 0, 1}
		if h == HookPrerouting {
			var ok bool
			if a, ok = primary(env, p.In); !ok {
				return env.drop(p, 6)
			}
		}
		r.MinIP, r.MaxIP, r.HasIP = a, a, true
	}
	if !env.Conntrack.SetupNAT(c, m, r, p.Now) {
		return env.drop(p, 5)
	}
	return VerdictAccept
}

func primary(env *Env, dev string) ([4]byte, bool) {
	if env.Addrs == nil {
		return [4]byte{}, false
	}
	a, ok := env.Addrs.PrimaryAddr(dev)
	if !ok || !a.Is4() {
		return [4]byte{}, false
	}
	return a.As4(), true
}
