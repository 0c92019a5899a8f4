package netstack

import (
	"encoding/binary"
	"net/netip"
	"sync"
	"time"

	"tapestry/packet"
	"tapestry/route"
)

// ICMP destination unreachable codes (RFC 792, RFC 1812 section 5.2.7.1).
const (
	icmpNetUnreach  = 0
	icmpHostUnreach = 1
	icmpProtUnreach = 2
	icmpPortUnreach = 3
	icmpFragNeeded  = 4
	icmpPktFiltered = 13
)

// icmpFragTime is the time exceeded code for "fragment reassembly time
// exceeded" (RFC 792, ICMP_EXC_FRAGTIME).
const icmpFragTime = 1

// arpInput is arp_process.
func (ns *Namespace) arpInput(p *pkt) {
	b := p.frame[packet.EthernetMinimumSize:]
	if len(b) < packet.ARPSize {
		ns.drop(p.tr, dropARP)
		return
	}
	a := packet.ARP(b)
	op := a.Op()
	if !a.IsEthernetIPv4() || (op != packet.ARPOpRequest && op != packet.ARPOpReply) {
		ns.drop(p.tr, dropARP)
		return
	}
	sha, sip, tip := a.SHA(), netip.AddrFrom4(a.SPA()), netip.AddrFrom4(a.TPA())
	if sip.IsMulticast() || tip.IsMulticast() {
		ns.drop(p.tr, dropARP)
		return
	}
	in := p.in
	conf := ns.sys.Load().conf(in.name)
	if op == packet.ARPOpRequest {
		if sip.IsUnspecified() {
			// Duplicate address detection probe (RFC 5227): answer for
			// our own address, target IP 0.
			if ns.addrOn(in, tip, route.ScopeHost) && !ns.arpIgnore(conf, in, sip, tip) {
				p.tr.record("arp", "DAD probe for %v: reply", tip)
				in.transmit(packet.ARPFrame(packet.ARPOpReply, in.MAC(), tip, sha, sip, sha))
			}
			return
		}
		res, err := ns.routes.Input(route.Query{Dst: tip, Src: sip, IIF: in.index})
		if err == nil && res.Type == route.TypeLocal {
			if ns.arpIgnore(conf, in, sip, tip) {
				p.tr.record("arp", "request for %v ignored (arp_ignore=%d)", tip, conf.ARPIgnore)
				ns.drop(p.tr, dropARPIgnore)
				return
			}
			ns.neigh.Received(in.index, sip, sha, true, false, false)
			p.tr.record("arp", "request for %v from %v: reply %s", tip, sip, macStr(in.MAC()))
			in.transmit(packet.ARPFrame(packet.ARPOpReply, in.MAC(), tip, sha, sip, sha))
			return
		}
		if err == nil && res.Type == route.TypeUnicast && conf.Forwarding != 0 && conf.ProxyARP != 0 && res.DevIndex != in.index {
			// arp_fwd_proxy: the target is reachable through another
			// interface. The kernel delays replies to broadcast requests
			// by a random part of proxy_delay (0.8 s); we answer at once.
			ns.neigh.Received(in.index, sip, sha, true, false, false)
			p.tr.record("arp", "proxy ARP for %v (via %s)", tip, res.Dev)
			in.transmit(packet.ARPFrame(packet.ARPOpReply, in.MAC(), tip, sha, sip, sha))
			return
		}
	}
	garp := sip == tip
	ns.neigh.Received(in.index, sip, sha, false, op == packet.ARPOpReply && p.host, garp)
	p.tr.record("arp", "learn %v is-at %s", sip, macStr(sha))
}

// addrOn reports whether a is configured on ifc with a scope no wider
// than scope.
func (ns *Namespace) addrOn(ifc *Interface, a netip.Addr, scope route.Scope) bool {
	for _, x := range ifc.cfg.Load().addrs {
		if x.Prefix.Addr() == a && x.Scope <= scope {
			return true
		}
	}
	return false
}

// arpIgnore is arp_ignore(): whether to stay silent to a request for tip.
func (ns *Namespace) arpIgnore(conf devConf, in *Interface, sip, tip netip.Addr) bool {
	switch conf.ARPIgnore {
	case 1: // tip must be configured on the incoming interface
		return !ns.addrOn(in, tip, route.ScopeHost)
	case 2: // ... and sip in the same subnet
		for _, x := range in.cfg.Load().addrs {
			if x.Prefix.Addr() == tip && x.Prefix.Contains(sip) {
				return false
			}
		}
		return true
	case 3: // no reply for addresses of scope host
		for _, ifc := range ns.Interfaces() {
			if ns.addrOn(ifc, tip, route.ScopeLink) {
				return false
			}
		}
		return true
	case 8:
		return true
	}
	return false
}

// localDeliver is ip_local_deliver and the protocol handlers.
func (ns *Namespace) localDeliver(c *ctx, p *pkt, bcast bool) {
	ip := packet.IPv4(p.frame[packet.EthernetMinimumSize:])
	if ip.IsFragment() {
		if !ns.defrag(p) {
			return
		}
		ip = packet.IPv4(p.frame[packet.EthernetMinimumSize:])
	}
	hl := ip.HeaderLen()
	l4 := []byte(ip[hl:])
	switch ip.Protocol() {
	case packet.ProtoICMP:
		ns.icmpInput(c, p, ip, l4, bcast)
	case packet.ProtoUDP:
		ns.udpInput(c, p, ip, l4, bcast)
	case packet.ProtoTCP:
		ns.tcpInput(p, ip, l4, bcast)
	default:
		if !bcast {
			ns.icmpError(c, p, packet.ICMPv4Unreachable, icmpProtUnreach, 0)
		}
		ns.drop(p.tr, dropNoProto)
	}
}

func (ns *Namespace) icmpInput(c *ctx, p *pkt, ip packet.IPv4, l4 []byte, bcast bool) {
	if len(l4) < packet.ICMPv4MinimumSize || packet.Checksum(l4) != 0 {
		ns.drop(p.tr, dropICMP)
		return
	}
	m := packet.ICMPv4(l4)
	switch m.Type() {
	case packet.ICMPv4Echo:
		if bcast && ns.sys.Load().ICMPEchoIgnoreBroadcasts != 0 {
			ns.drop(p.tr, dropEchoBroadcast)
			return
		}
		r := append(c.scratch[:0], l4...)
		rm := packet.ICMPv4(r)
		rm.SetType(packet.ICMPv4EchoReply)
		rm.SetChecksum(0)
		rm.SetChecksum(packet.Checksum(r))
		src := netip.AddrFrom4(ip.Dst())
		if bcast {
			src = netip.Addr{}
		}
		p.tr.record("local", "icmp echo request: reply")
		_, _ = ns.send(SendOptions{Src: src, Dst: netip.AddrFrom4(ip.Src()), Proto: packet.ProtoICMP, TOS: ip.TOS(), Mark: p.mark}, r, p.tr)
	case packet.ICMPv4EchoReply:
		ns.sockets.deliver(m.ID(), PingEvent{From: netip.AddrFrom4(ip.Src()), Type: m.Type(), Seq: m.Seq(),
			TTL: ip.TTL(), Size: len(l4), At: ns.clock.Now()})
	case packet.ICMPv4Unreachable, packet.ICMPv4TimeExceed, 12:
		inner := l4[8:]
		if len(inner) < packet.IPv4MinimumSize {
			return
		}
		iip := packet.IPv4(inner)
		ihl := iip.HeaderLen()
		if iip.Protocol() != packet.ProtoICMP || len(inner) < ihl+8 || ihl < packet.IPv4MinimumSize {
			return
		}
		im := packet.ICMPv4(inner[ihl:])
		if im.Type() == packet.ICMPv4Echo {
			ns.sockets.deliver(im.ID(), PingEvent{From: netip.AddrFrom4(ip.Src()), Type: m.Type(), Code: m.Code(),
				Seq: im.Seq(), TTL: ip.TTL(), At: ns.clock.Now()})
		}
	}
}

func (ns *Namespace) udpInput(c *ctx, p *pkt, ip packet.IPv4, l4 []byte, bcast bool) {
	if len(l4) < packet.UDPMinimumSize {
		ns.drop(p.tr, dropUDP)
		return
	}
	u := packet.UDP(l4)
	if ns.sockets.udpEcho(u.DstPort()) {
		r := append(c.scratch[:0], l4...)
		ru := packet.UDP(r)
		ru.SetSrcPort(u.DstPort())
		ru.SetDstPort(u.SrcPort())
		_, _ = ns.send(SendOptions{Src: netip.AddrFrom4(ip.Dst()), Dst: netip.AddrFrom4(ip.Src()), Proto: packet.ProtoUDP, TOS: ip.TOS()}, r, p.tr)
		return
	}
	ns.drop(p.tr, dropNoSocket)
	if !bcast {
		ns.icmpError(c, p, packet.ICMPv4Unreachable, icmpPortUnreach, 0)
	}
}

// tcpInput answers every segment with a reset, as a host with no
// listener does (tcp_v4_send_reset, RFC 793 "Reset Generation").
func (ns *Namespace) tcpInput(p *pkt, ip packet.IPv4, l4 []byte, bcast bool) {
	if len(l4) < packet.TCPMinimumSize || bcast {
		ns.drop(p.tr, dropTCP)
		return
	}
	t := packet.TCP(l4)
	ns.drop(p.tr, dropNoSocket)
	if t.Flags()&packet.TCPFlagRST != 0 {
		return
	}
	r := make([]byte, packet.TCPMinimumSize)
	rt := packet.TCP(r)
	rt.SetSrcPort(t.DstPort())
	rt.SetDstPort(t.SrcPort())
	if t.Flags()&packet.TCPFlagACK != 0 {
		rt.SetSeq(t.Ack())
		rt.SetHeaderLenFlags(packet.TCPMinimumSize, packet.TCPFlagRST)
	} else {
		n := uint32(len(l4) - t.HeaderLen())
		if t.Flags()&packet.TCPFlagSYN != 0 {
			n++
		}
		if t.Flags()&packet.TCPFlagFIN != 0 {
			n++
		}
		rt.SetAck(t.Seq() + n)
		rt.SetHeaderLenFlags(packet.TCPMinimumSize, packet.TCPFlagRST|packet.TCPFlagACK)
	}
	_, _ = ns.send(SendOptions{Src: netip.AddrFrom4(ip.Dst()), Dst: netip.AddrFrom4(ip.Src()), Proto: packet.ProtoTCP}, r, p.tr)
}

// icmpError is icmp_send: an ICMP error about the packet in p, to its
// source, rate limited per destination like icmpv4_xrlim_allow.
func (ns *Namespace) icmpError(c *ctx, p *pkt, typ, code uint8, mtu uint16) {
	ip := packet.IPv4(p.frame[packet.EthernetMinimumSize:])
	src := netip.AddrFrom4(ip.Src())
	if src.IsUnspecified() || src.IsMulticast() || src == netip.AddrFrom4([4]byte{255, 255, 255, 255}) || ip.FragOffset() != 0 {
		return
	}
	hl := ip.HeaderLen()
	if ip.Protocol() == packet.ProtoICMP && len(ip) > hl {
		switch ip[hl] { // never answer an error with an error (RFC 1122 3.2.2)
		case packet.ICMPv4Unreachable, 4, 5, packet.ICMPv4TimeExceed, 12:
			return
		}
	}
	sys := ns.sys.Load()
	local := ns.localAddr(ip.Src())
	limited := !(typ == packet.ICMPv4Unreachable && code == icmpFragNeeded) && sys.ICMPRatemask&(1<<typ) != 0 && !local
	if limited && !ns.icmpRL.allow(src, ns.clock.Now(), time.Duration(sys.ICMPRatelimit)*time.Millisecond) {
		ns.drop(p.tr, dropICMPRateLimit)
		return
	}
	// RFC 1812 4.3.2.3: the IP header and as much data as fits in 576.
	n := min(len(ip), 576-packet.IPv4MinimumSize-8)
	r := c.scratch[:8+n]
	copy(r[8:], ip[:n])
	r[0], r[1] = typ, code
	binary.BigEndian.PutUint32(r[4:], uint32(mtu))
	r[2], r[3] = 0, 0
	binary.BigEndian.PutUint16(r[2:], packet.Checksum(r))
	var from netip.Addr
	if ns.localAddr(ip.Dst()) {
		from = netip.AddrFrom4(ip.Dst())
	}
	tos := ip.TOS()&0x1e | 0xc0 // RT_TOS | IPTOS_PREC_INTERNETCONTROL
	p.tr.record("icmp", "send type %d code %d to %v", typ, code, src)
	_, _ = ns.send(SendOptions{Src: from, Dst: src, Proto: packet.ProtoICMP, TOS: tos}, r, p.tr)
}

// rateLimiter is the inet_peer token bucket of icmpv4_xrlim_allow:
// tokens accrue with time up to 6 (XRLIM_BURST_FACTOR) intervals; a
// message costs one interval. A new peer starts with a full bucket.
type rateLimiter struct {
	mu    sync.Mutex
	peers map[netip.Addr]*bucket
}

type bucket struct {
	tokens time.Duration
	last   time.Time
}

func (r *rateLimiter) init() { r.peers = map[netip.Addr]*bucket{} }

func (r *rateLimiter) allow(dst netip.Addr, now time.Time, interval time.Duration) bool {
	if interval <= 0 {
		return true
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	b := r.peers[dst]
	if b == nil {
		if len(r.peers) > 4096 {
			clear(r.peers)
		}
		b = &bucket{last: now.Add(-60 * time.Second)}
		r.peers[dst] = b
	}
	b.tokens += now.Sub(b.last)
	b.last = now
	b.tokens = min(b.tokens, 6*interval)
	if b.tokens >= interval {
		b.tokens -= interval
		return true
	}
	return false
}

// PingEvent is what a ping socket receives: an echo reply or an ICMP
// error about one of its requests.
type PingEvent struct {
	From netip.Addr
	Type uint8
	Code uint8
	Seq  uint16
	TTL  uint8
	Size int // ICMP bytes of a reply
	At   time.Time
}

type sockets struct {
	mu   sync.RWMutex
	ping map[uint16]chan PingEvent
	udp  map[uint16]bool
}

func (s *sockets) init() {
	s.ping = map[uint16]chan PingEvent{}
	s.udp = map[uint16]bool{}
}

func (s *sockets) deliver(id uint16, ev PingEvent) {
	s.mu.RLock()
	ch := s.ping[id]
	s.mu.RUnlock()
	if ch != nil {
		select {
		case ch <- ev:
		default:
		}
	}
}

func (s *sockets) udpEcho(port uint16) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.udp[port]
}

// ListenUDPEcho makes the namespace echo UDP datagrams sent to port.
func (ns *Namespace) ListenUDPEcho(port uint16) {
	ns.sockets.mu.Lock()
	ns.sockets.udp[port] = true
	ns.sockets.mu.Unlock()
}

func (s *sockets) openPing() (uint16, chan PingEvent) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := uint16(len(s.ping)*7919 + 0x1234)
	for s.ping[id] != nil {
		id++
	}
	ch := make(chan PingEvent, 1024)
	s.ping[id] = ch
	return id, ch
}

func (s *sockets) closePing(id uint16) {
	s.mu.Lock()
	delete(s.ping, id)
	s.mu.Unlock()
}
