package netstack

import (
	"encoding/binary"
	"net/netip"
	"sync"

	"tapestry/netfilter"
	"tapestry/packet"
	"tapestry/route"
)

// finishOutput is ip_output/ip_finish_output: POSTROUTING, fragmentation
// when the packet exceeds the MTU, then neighbour output.
func (ns *Namespace) finishOutput(c *ctx, p *pkt, out *Interface, nexthop [4]byte) {
	if !ns.hookPostrouting(p, out) {
		return
	}
	ip := packet.IPv4(p.frame[packet.EthernetMinimumSize:])
	if mtu := out.cfg.Load().mtu; len(ip) > mtu {
		if ip.FlagsFrag()&packet.IPv4FlagDF != 0 {
			// Locally generated with DF (forwarded ones were answered in
			// forward): EMSGSIZE to the sender.
			ns.drop(p.tr, dropFragNeeded)
			return
		}
		ns.fragment(p, out, nexthop, mtu)
		return
	}
	ns.neighOutput(p, out, nexthop, p.frame)
}

// neighOutput is neigh_output: fill in the Ethernet header from a usable
// neighbour entry, or queue the frame while the address is resolved.
func (ns *Namespace) neighOutput(p *pkt, out *Interface, nexthop [4]byte, frame []byte) {
	eth := packet.Ethernet(frame)
	eth.SetSrc(out.MAC())
	eth.SetType(packet.EtherTypeIPv4)
	if out.loopback {
		out.transmit(frame)
		return
	}
	if nexthop == [4]byte{255, 255, 255, 255} || ns.isBroadcast(out, nexthop) {
		eth.SetDst(packet.Broadcast)
		out.transmit(frame)
		return
	}
	mac, ok := ns.neigh.Resolve(out.index, nexthop, frame)
	if p.tr != nil {
		e, _ := ns.neigh.Lookup(out.index, netip.AddrFrom4(nexthop))
		p.tr.record("neigh", "%v dev %s %s", netip.AddrFrom4(nexthop), out.name, e.State)
	}
	if !ok {
		return
	}
	eth.SetDst(mac)
	if p.tr != nil {
		p.tr.record("xmit", "%s to %s", out.name, macStr(mac))
	}
	out.transmit(frame)
}

// isBroadcast reports whether a is the subnet broadcast of an address of
// out (such packets are sent to ff:ff:ff:ff:ff:ff, arp_mc_map).
func (ns *Namespace) isBroadcast(out *Interface, a [4]byte) bool {
	for _, x := range out.cfg.Load().addrs {
		if x.Prefix.Bits() < 31 && x.Broadcast.IsValid() && x.Broadcast.As4() == a {
			return true
		}
	}
	return false
}

var outPool = sync.Pool{New: func() any { return new([1][]byte) }}

// transmit puts a finished frame on the wire: a veth delivers it to its
// peer synchronously, lo loops it back, a link is written.
func (ifc *Interface) transmit(frame []byte) {
	c := ifc.cfg.Load()
	if !c.up {
		ifc.txDropped.Add(1)
		return
	}
	ifc.txPackets.Add(1)
	ifc.txBytes.Add(uint64(len(frame)))
	switch {
	case ifc.loopback:
		ifc.ns.receive(ifc, frame, nil)
	case ifc.peer != nil:
		ifc.peer.ns.receive(ifc.peer, frame, nil)
	case ifc.link != nil:
		b := outPool.Get().(*[1][]byte)
		b[0] = frame
		if n, err := ifc.link.Write(b[:]); n != 1 || err != nil {
			ifc.txDropped.Add(1)
		}
		b[0] = nil
		outPool.Put(b)
	}
}

// fragment is ip_fragment's slow path: split the payload into pieces of
// the MTU (offsets in multiples of 8), copying the header into each.
func (ns *Namespace) fragment(p *pkt, out *Interface, nexthop [4]byte, mtu int) {
	ip := packet.IPv4(p.frame[packet.EthernetMinimumSize:])
	hl := ip.HeaderLen()
	payload := ip[hl:]
	chunk := (mtu - hl) &^ 7
	if chunk <= 0 {
		ns.drop(p.tr, dropFragNeeded)
		return
	}
	baseOff := ip.FragOffset()
	moreFlag := ip.FlagsFrag() & packet.IPv4FlagMF
	for off := 0; off < len(payload); off += chunk {
		n := min(chunk, len(payload)-off)
		f := make([]byte, packet.EthernetMinimumSize+hl+n)
		copy(f, p.frame[:packet.EthernetMinimumSize+hl])
		copy(f[packet.EthernetMinimumSize+hl:], payload[off:off+n])
		fip := packet.IPv4(f[packet.EthernetMinimumSize:])
		fip.SetTotalLen(uint16(hl + n))
		flags := uint16((baseOff+off)/8) & packet.IPv4FragOffsetMask
		if off+n < len(payload) || moreFlag != 0 {
			flags |= packet.IPv4FlagMF
		}
		fip.SetFlagsFrag(flags)
		fip.SetChecksum(0)
		fip.SetChecksum(fip.ComputeChecksum())
		ns.neighOutput(p, out, nexthop, f)
	}
	p.tr.record("fragment", "%d bytes into fragments of %d for mtu %d", len(payload), chunk, mtu)
}

// nsSender connects the neighbour table to the namespace.
type nsSender struct{ ns *Namespace }

// Solicit sends an ARP request, choosing the sender address by
// arp_announce as arp_solicit does.
func (s nsSender) Solicit(ifindex int, target [4]byte, dst packet.MAC, trigger []byte) {
	ns := s.ns
	ifc := ns.ifaceByIndex(ifindex)
	if ifc == nil {
		return
	}
	t := netip.AddrFrom4(target)
	var src netip.Addr
	announce := ns.sys.Load().conf(ifc.name).ARPAnnounce
	if announce < 2 && len(trigger) >= packet.EthernetMinimumSize+packet.IPv4MinimumSize {
		s := packet.IPv4(trigger[packet.EthernetMinimumSize:]).Src()
		if ns.localAddr(s) {
			src = netip.AddrFrom4(s)
			if announce == 1 && !ns.onLink(ifc, t, src) {
				src = netip.Addr{}
			}
		}
	}
	if !src.IsValid() {
		src = ns.selectAddr(ifc, t, route.ScopeLink)
	}
	if !src.IsValid() {
		src = netip.IPv4Unspecified()
	}
	eth := dst
	if dst == (packet.MAC{}) {
		eth = packet.Broadcast
	}
	f := packet.ARPFrame(packet.ARPOpRequest, ifc.MAC(), src, packet.MAC{}, t, eth)
	if dst != (packet.MAC{}) {
		// A unicast probe carries the known address as target (RFC 1122 2.3.2.1).
		copy(f[packet.EthernetMinimumSize+18:], dst[:])
	}
	ifc.transmit(f)
}

// onLink is inet_addr_onlink: target and src share a subnet of ifc.
func (ns *Namespace) onLink(ifc *Interface, target, src netip.Addr) bool {
	for _, a := range ifc.cfg.Load().addrs {
		if a.Prefix.Contains(target) && a.Prefix.Contains(src) {
			return true
		}
	}
	return false
}

// Transmit sends a frame the neighbour table held.
func (s nsSender) Transmit(ifindex int, frame []byte) {
	if ifc := s.ns.ifaceByIndex(ifindex); ifc != nil {
		ifc.transmit(frame)
	}
}

// Unreachable answers a packet whose next hop did not resolve with ICMP
// host unreachable (arp_error_report -> dst_link_failure).
func (s nsSender) Unreachable(ifindex int, frame []byte) {
	ns := s.ns
	ns.drop(nil, dropNeighFailed)
	c := ctxPool.Get().(*ctx)
	p := pkt{in: ns.ifaceByIndex(ifindex), frame: frame, host: true}
	ns.icmpError(c, &p, packet.ICMPv4Unreachable, icmpHostUnreach, 0)
	ctxPool.Put(c)
}

// SendOptions describe a locally generated IPv4 packet.
type SendOptions struct {
	Src, Dst  netip.Addr
	Proto     uint8
	TOS       uint8
	TTL       uint8 // 0: net.ipv4.ip_default_ttl
	DF        bool
	Mark      uint32
	Interface string // SO_BINDTODEVICE
}

// Send routes and transmits a locally generated packet whose transport
// header and payload are l4 (checksums already set), like
// ip_queue_xmit: route.Output, OUTPUT, POSTROUTING, neighbour. It returns
// the source address used.
func (ns *Namespace) Send(o SendOptions, l4 []byte) (netip.Addr, error) {
	return ns.send(o, l4, nil)
}

func (ns *Namespace) send(o SendOptions, l4 []byte, tr *Trace) (netip.Addr, error) {
	q := route.Query{Dst: o.Dst, Src: o.Src, Mark: o.Mark, TOS: o.TOS, Proto: o.Proto}
	if o.Interface != "" {
		ifc, ok := ns.Interface(o.Interface)
		if !ok {
			return netip.Addr{}, ErrNoDevice
		}
		q.OIF = ifc.index
	}
	if tr != nil {
		tr.route(ns.routes, q)
	}
	res, err := ns.routes.Output(q)
	if err != nil {
		tr.record("route", "output route error: %v", err)
		return netip.Addr{}, err
	}
	src := res.Src
	if !src.IsValid() {
		src = netip.IPv4Unspecified()
	}
	f := make([]byte, packet.EthernetMinimumSize+packet.IPv4MinimumSize+len(l4))
	ttl := o.TTL
	if ttl == 0 {
		ttl = uint8(ns.sys.Load().DefaultTTL)
	}
	ns.buildIPv4(f, src, o.Dst, o.Proto, o.TOS, ttl, o.DF, l4)
	ns.fixL4(f)
	p := pkt{frame: f, mark: o.Mark, tr: tr}
	return src, ns.output(&p, q, res, nil)
}

// output is ip_local_out for a built frame routed by q to res: OUTPUT,
// the re-route when OUTPUT changed what the route depends on, then
// POSTROUTING and transmission, or, for a local destination, the loopback
// path (PREROUTING and INPUT) to local delivery. attach, when set, adjusts
// the netfilter state before OUTPUT (REJECT's nf_ct_attach).
func (ns *Namespace) output(p *pkt, q route.Query, res route.Result, attach func(*netfilter.Packet)) error {
	c := ctxPool.Get().(*ctx)
	defer ctxPool.Put(c)
	ns.nfStart(c, p)
	if p.nf != nil && attach != nil {
		attach(p.nf)
	}
	if !ns.hookOutput(p, ns.ifaceByIndex(res.DevIndex)) {
		return nil
	}
	if p.nf != nil {
		if err := ns.rerouteOutput(p, &q, &res); err != nil {
			p.tr.record("route", "output re-route error: %v", err)
			return err
		}
	}
	out := ns.ifaceByIndex(res.DevIndex)
	if out == nil {
		return ErrNoDevice
	}
	if res.Type == route.TypeLocal {
		if p.nf != nil {
			// Through lo: POSTROUTING out, then PREROUTING and INPUT in.
			lo := ns.ifaceByIndex(route.LoopbackIndex)
			if !ns.hookPostrouting(p, lo) {
				return nil
			}
			p.nf.In = "lo"
			if !ns.hookPrerouting(p) || !ns.hookInput(p) {
				return nil
			}
		}
		p.in = out
		c.res = res
		ns.localDeliver(c, p, false)
		return nil
	}
	nh := res.Gateway
	if !nh.IsValid() {
		nh = q.Dst
	}
	ns.finishOutput(c, p, out, nh.As4())
	return nil
}

// buildIPv4 writes an Ethernet-framed IPv4 header and l4 into f.
func (ns *Namespace) buildIPv4(f []byte, src, dst netip.Addr, proto, tos, ttl uint8, df bool, l4 []byte) {
	ip := packet.IPv4(f[packet.EthernetMinimumSize:])
	ip.SetVersionIHL(packet.IPv4MinimumSize)
	ip.SetTOS(tos)
	ip.SetTotalLen(uint16(packet.IPv4MinimumSize + len(l4)))
	ip.SetID(uint16(ns.ipID.Add(1)))
	var ff uint16
	if df {
		ff = packet.IPv4FlagDF
	}
	ip.SetFlagsFrag(ff)
	ip.SetTTL(ttl)
	ip.SetProtocol(proto)
	ip.SetSrc(src.As4())
	ip.SetDst(dst.As4())
	ip.SetChecksum(0)
	ip.SetChecksum(ip.ComputeChecksum())
	copy(f[packet.EthernetMinimumSize+packet.IPv4MinimumSize:], l4)
	binary.BigEndian.PutUint16(f[12:], packet.EtherTypeIPv4)
}

// fixL4 recomputes the transport checksum of a frame built by buildIPv4
// (the source address may have been chosen after l4 was written).
func (ns *Namespace) fixL4(f []byte) {
	packet.FixChecksums(f)
}
