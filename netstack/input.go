package netstack

// The receive path, in Linux's order (net/core/dev.c, net/ipv4/arp.c,
// net/ipv4/ip_input.c, route.c, ip_forward.c, ip_output.c):
//
//  1. receive frame (Inject)
//  2. L2 accept: our MAC, broadcast, multicast; else drop "l2-otherhost"
//  3. ARP (arpInput): answer for our addresses honouring arp_ignore,
//     learn the sender, proxy ARP when proxy_arp and forwarding are on
//  4. IPv4 header validation (ip_rcv_core): version, IHL, checksum,
//     total length
//  5. [hook: PREROUTING] raw, conntrack, mangle, nat (DNAT): hookPrerouting
//  6. routing decision: route.Input with iif, mark, tos; rp_filter
//  7a. LOCAL_IN [hook: INPUT] -> local delivery (local.go): ICMP echo,
//      ping sockets, UDP echo, TCP RST / ICMP port unreachable
//  7b. FORWARD: ip_forward must be on; TTL expiry -> ICMP time exceeded;
//      DF and too big -> ICMP fragmentation needed; TTL decrement
//      [hook: FORWARD]
//  8. [hook: POSTROUTING] mangle, nat (SNAT): hookPostrouting
//  9. fragmentation when larger than the MTU (no DF)
// 10. neighbour resolution (queue while INCOMPLETE) -> transmit
//
// Locally generated packets (output.go) take route.Output, [hook: OUTPUT],
// then stages 8-10. The hooks run the namespace's netfilter ruleset
// (netfilter.go); without one they are a single branch.

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"sync"

	"tapestry/netfilter"
	"tapestry/packet"
	"tapestry/route"
)

// pkt is the per-packet state carried through the pipeline.
type pkt struct {
	in    *Interface
	frame []byte // the whole Ethernet frame; IPv4 header at 14
	mark  uint32
	host  bool // addressed to our MAC (PACKET_HOST)
	tr    *Trace
	// nf and rs are the netfilter state and the ruleset the packet runs
	// through; nil when the namespace has no tables (the fast path).
	nf *netfilter.Packet
	rs *netfilter.Ruleset
}

// ctx holds a goroutine's scratch buffers; it is taken from a pool per
// received frame so that nested synchronous deliveries (veth) each get
// their own.
type ctx struct {
	scratch [2048]byte
	res     route.Result
	nfp     netfilter.Packet
}

var ctxPool = sync.Pool{New: func() any { return new(ctx) }}

// Inject hands a received frame to the interface's receive path, as the
// driver does. The frame may be modified in place and must not be used by
// the caller afterwards until Inject returns.
func (ifc *Interface) Inject(frame []byte) { ifc.ns.receive(ifc, frame, nil) }

// InjectTrace is Inject that records every stage into tr.
func (ifc *Interface) InjectTrace(frame []byte, tr *Trace) { ifc.ns.receive(ifc, frame, tr) }

func (ns *Namespace) receive(in *Interface, frame []byte, tr *Trace) {
	in.rxPackets.Add(1)
	in.rxBytes.Add(uint64(len(frame)))
	if !in.cfg.Load().up {
		ns.drop(tr, dropLinkDown)
		return
	}
	if len(frame) < packet.EthernetMinimumSize {
		ns.drop(tr, dropRunt)
		return
	}
	p := pkt{in: in, frame: frame, tr: tr}
	dst := packet.Ethernet(frame).Dst()
	switch {
	case dst == in.MAC():
		p.host = true
	case packet.IsMulticast(dst):
	default:
		ns.drop(tr, dropOtherHost)
		return
	}
	if tr != nil {
		tr.record("l2", "accept dst %s type %#04x", macStr(dst), packet.Ethernet(frame).Type())
	}
	switch packet.Ethernet(frame).Type() {
	case packet.EtherTypeARP:
		ns.arpInput(&p)
	case packet.EtherTypeIPv4:
		c := ctxPool.Get().(*ctx)
		ns.ipInput(c, &p)
		ctxPool.Put(c)
	default:
		ns.drop(tr, dropProto)
	}
}

// ipInput is ip_rcv: header validation, PREROUTING, the routing decision.
func (ns *Namespace) ipInput(c *ctx, p *pkt) {
	b := p.frame[packet.EthernetMinimumSize:]
	if len(b) < packet.IPv4MinimumSize {
		ns.drop(p.tr, dropIPHeader)
		return
	}
	ip := packet.IPv4(b)
	hl := ip.HeaderLen()
	if ip.Version() != 4 || hl < packet.IPv4MinimumSize || len(b) < hl {
		ns.drop(p.tr, dropIPHeader)
		return
	}
	if !ip.ChecksumValid() {
		ns.drop(p.tr, dropIPChecksum)
		return
	}
	tl := int(ip.TotalLen())
	if tl < hl || tl > len(b) {
		ns.drop(p.tr, dropIPLength)
		return
	}
	p.frame = p.frame[:packet.EthernetMinimumSize+tl] // strip Ethernet padding
	ns.nfStart(c, p)
	if !ns.hookPrerouting(p) {
		return
	}
	ns.routeInput(c, p)
}

// hookPrerouting is the PREROUTING hook (raw, conntrack, mangle, nat):
// before the routing decision, so that a mark set in mangle steers the
// `ip rule fwmark` lookup and DNAT the destination. It returns false when
// the packet was consumed (dropped or rejected).
func (ns *Namespace) hookPrerouting(p *pkt) bool {
	if p.nf == nil {
		p.tr.record("prerouting", "accept (no rules)")
		return true
	}
	return ns.nfHook(netfilter.HookPrerouting, p, nil)
}

// hookInput is the INPUT hook (mangle, filter, nat), before local delivery.
func (ns *Namespace) hookInput(p *pkt) bool {
	if p.nf == nil {
		p.tr.record("input", "accept (no rules)")
		return true
	}
	return ns.nfHook(netfilter.HookInput, p, nil)
}

// hookForward is the FORWARD hook (mangle, filter), after the TTL
// decrement as in ip_forward.
func (ns *Namespace) hookForward(p *pkt, out *Interface) bool {
	if p.nf == nil {
		if p.tr != nil {
			p.tr.record("forward", "accept (no rules) out %s", out.name)
		}
		return true
	}
	p.nf.Key.NwTTL = packet.IPv4(p.frame[packet.EthernetMinimumSize:]).TTL()
	return ns.nfHook(netfilter.HookForward, p, out)
}

// hookOutput is the OUTPUT hook (raw, conntrack, mangle, nat, filter).
// As in Linux, the route is known by then, so rules can match the output
// interface (-o); out is nil when the route has no device.
func (ns *Namespace) hookOutput(p *pkt, out *Interface) bool {
	if p.nf == nil {
		p.tr.record("output", "accept (no rules)")
		return true
	}
	return ns.nfHook(netfilter.HookOutput, p, out)
}

// hookPostrouting is the POSTROUTING hook (mangle, nat SNAT/MASQUERADE),
// before fragmentation and neighbour resolution.
func (ns *Namespace) hookPostrouting(p *pkt, out *Interface) bool {
	if p.nf == nil {
		if p.tr != nil {
			p.tr.record("postrouting", "accept (no rules) out %s", out.name)
		}
		return true
	}
	return ns.nfHook(netfilter.HookPostrouting, p, out)
}

// routeInput is ip_route_input_slow plus fib_validate_source's
// rp_filter, then the dispatch to local delivery or forwarding.
func (ns *Namespace) routeInput(c *ctx, p *pkt) {
	ip := packet.IPv4(p.frame[packet.EthernetMinimumSize:])
	q := route.Query{Dst: netip.AddrFrom4(ip.Dst()), Src: netip.AddrFrom4(ip.Src()), Mark: p.mark,
		IIF: p.in.index, TOS: ip.TOS(), Proto: ip.Protocol()}
	if !ip.IsFragment() {
		l4 := ip[ip.HeaderLen():]
		if (q.Proto == packet.ProtoTCP || q.Proto == packet.ProtoUDP) && len(l4) >= 4 {
			q.SPort, q.DPort = binary.BigEndian.Uint16(l4), binary.BigEndian.Uint16(l4[2:])
		}
	}
	if p.tr != nil {
		p.tr.route(ns.routes, q)
	}
	var err error
	c.res, err = ns.routes.Input(q)
	if err != nil {
		ns.routeError(c, p, err)
		return
	}
	conf := ns.sys.Load().conf(p.in.name)
	if conf.RPFilter != 0 && !ns.rpfCheck(p, &q, conf, c.res.DevIndex) {
		ns.drop(p.tr, dropRPFilter)
		return
	}
	switch c.res.Type {
	case route.TypeLocal, route.TypeBroadcast:
		// ip_local_deliver reassembles before the LOCAL_IN hook.
		if ip.IsFragment() && !ns.defrag(p) {
			return
		}
		if !ns.hookInput(p) {
			return
		}
		ns.localDeliver(c, p, c.res.Type == route.TypeBroadcast)
	case route.TypeUnicast:
		if !p.host {
			ns.drop(p.tr, dropOtherHost) // only PACKET_HOST is forwarded
			return
		}
		if conf.Forwarding == 0 {
			// ip_route_input_slow: no forwarding is -EHOSTUNREACH, which
			// ip_error answers with host unreachable.
			ns.routeError(c, p, route.ErrHostUnreachable)
			return
		}
		ns.forward(c, p)
	default:
		ns.drop(p.tr, dropMartian)
	}
}

// rpfCheck is __fib_validate_source's reverse-path test: a lookup of the
// source (from the route's output device, or lo for local traffic) must
// give a unicast route; in strict mode (1) through the input interface.
func (ns *Namespace) rpfCheck(p *pkt, q *route.Query, conf devConf, oif int) bool {
	if oif == 0 || oif == route.LoopbackIndex {
		oif = route.LoopbackIndex
	}
	rq := route.Query{Dst: q.Src, Src: q.Dst, IIF: oif, TOS: q.TOS}
	if conf.SrcValidMark != 0 {
		rq.Mark = q.Mark
	}
	res, err := ns.routes.Lookup(rq)
	if err != nil || res.Type != route.TypeUnicast {
		p.tr.record("rp_filter", "no unicast route back to %v: drop", q.Src)
		return false
	}
	if conf.RPFilter == 1 && res.DevIndex != p.in.index {
		p.tr.record("rp_filter", "strict: route back to %v is via ifindex %d, not %s: drop", q.Src, res.DevIndex, p.in.name)
		return false
	}
	return true
}

// routeError is ip_error: the ICMP answer to a failed input route.
// EINVAL (blackhole, martians) is silent.
func (ns *Namespace) routeError(c *ctx, p *pkt, err error) {
	var code uint8
	reason := dropNoRoute
	switch {
	case errors.Is(err, route.ErrHostUnreachable):
		code, reason = icmpHostUnreach, dropUnreachable
	case errors.Is(err, route.ErrNetUnreachable):
		code = icmpNetUnreach
	case errors.Is(err, route.ErrAccess):
		code, reason = icmpPktFiltered, dropProhibit
	default:
		ns.drop(p.tr, dropBlackhole)
		return
	}
	p.tr.record("route", "input route error: %v", err)
	ns.drop(p.tr, reason)
	if p.host {
		ns.icmpError(c, p, packet.ICMPv4Unreachable, code, 0)
	}
}

// forward is ip_forward.
func (ns *Namespace) forward(c *ctx, p *pkt) {
	ip := packet.IPv4(p.frame[packet.EthernetMinimumSize:])
	out := ns.ifaceByIndex(c.res.DevIndex)
	if out == nil {
		ns.drop(p.tr, dropNoRoute)
		return
	}
	if ip.TTL() <= 1 {
		ns.drop(p.tr, dropTTL)
		ns.icmpError(c, p, packet.ICMPv4TimeExceed, 0, 0)
		return
	}
	mtu := out.cfg.Load().mtu
	if len(ip) > mtu && ip.FlagsFrag()&packet.IPv4FlagDF != 0 {
		ns.drop(p.tr, dropFragNeeded)
		ns.icmpError(c, p, packet.ICMPv4Unreachable, icmpFragNeeded, uint16(mtu))
		return
	}
	packet.DecTTL(p.frame, packet.EthernetMinimumSize)
	if !ns.hookForward(p, out) {
		return
	}
	nh := c.res.Gateway
	if !nh.IsValid() {
		nh = netip.AddrFrom4(ip.Dst())
	}
	ns.finishOutput(c, p, out, nh.As4())
}

func macStr(m packet.MAC) string {
	const hex = "0123456789abcdef"
	var b [17]byte
	for i, x := range m {
		if i > 0 {
			b[i*3-1] = ':'
		}
		b[i*3], b[i*3+1] = hex[x>>4], hex[x&15]
	}
	return string(b[:])
}
