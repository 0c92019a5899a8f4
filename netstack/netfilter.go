package netstack

// Netfilter at the five hook points (net/ipv4/ip_input.c, ip_forward.c,
// ip_output.c, netfilter/nf_reject_ipv4.c). A namespace holds an
// immutable netfilter.Ruleset behind an atomic pointer: nil (no table ever
// configured) is the fast path of one branch per hook; a change compiles
// a new ruleset and swaps it in, as iptables-restore replaces a table
// blob. Per packet, the netfilter.Packet lives in the pooled ctx, so the
// hooks allocate nothing for established connections.

import (
	"log/slog"
	"net/netip"

	"tapestry/conntrack"
	"tapestry/flow"
	"tapestry/netfilter"
	"tapestry/packet"
	"tapestry/route"
)

// ConntrackMax is nf_conntrack_max of a namespace.
const ConntrackMax = 65536

// conntrackGCInterval is how often the namespace tick reaps expired
// connections (the kernel's gc worker scans a slice of the table every
// run; tapestry scans it all, so less often), in nanoseconds.
const conntrackGCInterval = int64(1e9)

// nfAddrs answers netfilter's address questions from the namespace's
// interfaces (MASQUERADE's source, addrtype).
type nfAddrs struct{ ns *Namespace }

// PrimaryAddr is the first primary address of interface name.
func (a nfAddrs) PrimaryAddr(name string) (netip.Addr, bool) {
	ifc, ok := a.ns.Interface(name)
	if !ok {
		return netip.Addr{}, false
	}
	for _, x := range ifc.cfg.Load().addrs {
		if !x.Secondary {
			return x.Prefix.Addr(), true
		}
	}
	return netip.Addr{}, false
}

// AddrType classifies addr as inet_addr_type/inet_dev_addr_type do: local
// addresses (of dev when given), broadcasts, multicast, unspecified, else
// unicast.
func (a nfAddrs) AddrType(addr netip.Addr, dev string) netfilter.AddrType {
	switch {
	case addr.IsUnspecified():
		return netfilter.AddrUnspec
	case addr.IsMulticast():
		return netfilter.AddrMulticast
	case addr == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return netfilter.AddrBroadcast
	}
	for _, ifc := range a.ns.ifaces.Load().byIndex {
		if ifc == nil || dev != "" && ifc.name != dev {
			continue
		}
		for _, x := range ifc.cfg.Load().addrs {
			if x.Prefix.Addr() == addr {
				return netfilter.AddrLocal
			}
			if x.Broadcast == addr {
				return netfilter.AddrBroadcast
			}
		}
	}
	return netfilter.AddrUnicast
}

func (ns *Namespace) initNetfilter() {
	ns.nfEnv = &netfilter.Env{
		Conntrack: conntrack.New(ConntrackMax),
		Addrs:     nfAddrs{ns},
		Log:       slog.Default().With("netns", ns.name),
	}
}

// SetNetfilter compiles ts and makes it the namespace's ruleset. Tables
// that are nil do not exist (iptables-save leaves them out); when none
// exists, the hooks are skipped entirely. Counters start from the rules'
// Counters. On error nothing changes.
func (ns *Namespace) SetNetfilter(ts netfilter.Tables) error {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	present := [netfilter.NumTables]bool{}
	any := false
	for i, t := range ts {
		present[i] = t != nil
		any = any || t != nil
	}
	if !any {
		ns.nf.Store(nil)
		ns.nfPresent = present
		return nil
	}
	rs, err := netfilter.Compile(ts, ns.nfEnv)
	if err != nil {
		return err
	}
	ns.nf.Store(rs)
	ns.nfPresent = present
	return nil
}

// Netfilter returns the namespace's tables with their current counters;
// tables never configured are nil.
func (ns *Namespace) Netfilter() netfilter.Tables {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	rs := ns.nf.Load()
	if rs == nil {
		return netfilter.Tables{}
	}
	ts := rs.Export()
	for i := range ts {
		if !ns.nfPresent[i] {
			ts[i] = nil
		}
	}
	return ts
}

// Clock returns the namespace's time source.
func (ns *Namespace) Clock() Clock { return ns.clock }

// Conntrack returns the namespace's connection tracking table.
func (ns *Namespace) Conntrack() *conntrack.Table { return ns.nfEnv.Conntrack }

// NetfilterDrops returns netfilter's drop counters by reason.
func (ns *Namespace) NetfilterDrops() map[string]uint64 { return ns.nfEnv.Drops() }

// expireConntrack is the conntrack gc worker, run from Tick.
func (ns *Namespace) expireConntrack() {
	now := ns.clock.Now().UnixNano()
	if now-ns.nfGC.Load() < conntrackGCInterval {
		return
	}
	ns.nfGC.Store(now)
	ns.nfEnv.Conntrack.Expire(now)
}

// nfStart sets up p's netfilter state when the namespace has a ruleset:
// the key extracted once, kept through every hook the packet passes.
func (ns *Namespace) nfStart(c *ctx, p *pkt) {
	rs := ns.nf.Load()
	if rs == nil {
		return
	}
	np := &c.nfp
	np.Reset()
	np.Frame = p.frame
	np.Off = flow.Extract(p.frame, 0, &np.Key)
	np.Key.PktMark = p.mark
	if p.in != nil {
		np.In = p.in.name
	}
	np.Now = ns.clock.Now().UnixNano()
	if p.tr != nil {
		np.Trace = nfTracer{p.tr}
	}
	p.nf, p.rs = np, rs
}

// nfTracer records the rules a traced packet passes, in the kernel TRACE
// target's "table:chain:type:rulenum" form.
type nfTracer struct{ tr *Trace }

// Step records one rule, return or policy.
func (t nfTracer) Step(s netfilter.TraceStep) {
	t.tr.record("netfilter", "%s:%s:%s:%d %s", s.Table, s.Chain, s.Kind, s.Num, s.Verdict)
}

// nfHook runs hook h on p and reports whether the packet goes on. A drop
// is counted under netfilter's reason (and as netfilter_drop in the
// namespace's counters); a REJECT's reply is sent back out.
func (ns *Namespace) nfHook(h netfilter.Hook, p *pkt, out *Interface) bool {
	np := p.nf
	if len(np.Frame) == 0 || len(p.frame) == 0 || &np.Frame[0] != &p.frame[0] || len(np.Frame) != len(p.frame) {
		// Reassembly gave the packet a new frame: extract it again.
		np.Frame = p.frame
		np.Off = flow.Extract(p.frame, 0, &np.Key)
		np.Key.PktMark = p.mark
	}
	np.Out = ""
	if out != nil {
		np.Out = out.name
	}
	v := p.rs.Hook(h, np)
	p.mark = np.Key.PktMark
	if v == netfilter.VerdictAccept {
		if p.tr != nil {
			p.tr.record(hookStage[h], "ACCEPT mark %#x", p.mark)
		}
		return true
	}
	ns.drops[dropNetfilter].Add(1)
	if p.tr != nil {
		p.tr.record(hookStage[h], "%s: %s", v, np.DropReason)
		p.tr.record("drop", "%s", dropNames[dropNetfilter])
	}
	if v == netfilter.VerdictReject && len(np.Reply) >= packet.IPv4MinimumSize {
		ns.sendReject(np, p.tr)
	}
	return false
}

var hookStage = [netfilter.NumHooks]string{"prerouting", "input", "forward", "output", "postrouting"}

// sendReject routes REJECT's reply (an IPv4 packet) as a locally generated
// packet attached to the rejected packet's connection (nf_send_reset /
// nf_send_unreach: ip_route_me_harder, then ip_local_out).
func (ns *Namespace) sendReject(orig *netfilter.Packet, tr *Trace) {
	ip := packet.IPv4(orig.Reply)
	q := route.Query{Dst: netip.AddrFrom4(ip.Dst()), Src: netip.AddrFrom4(ip.Src()), Proto: ip.Protocol(), TOS: ip.TOS()}
	res, err := ns.routes.Output(q)
	if err != nil {
		tr.record("route", "reject reply: output route error: %v", err)
		return
	}
	f := make([]byte, packet.EthernetMinimumSize+len(orig.Reply))
	copy(f[packet.EthernetMinimumSize:], orig.Reply)
	packet.Ethernet(f).SetType(packet.EtherTypeIPv4)
	conn, info := orig.Conn, orig.CtInfo
	p := pkt{frame: f, tr: tr}
	_ = ns.output(&p, q, res, func(np *netfilter.Packet) {
		if conn != nil {
			np.Attach(conn, info)
		}
	})
}

// rerouteOutput is ip_route_me_harder: after OUTPUT changed the mark, the
// TOS or (DNAT) the destination, the route is looked up again.
func (ns *Namespace) rerouteOutput(p *pkt, q *route.Query, res *route.Result) error {
	ip := packet.IPv4(p.frame[packet.EthernetMinimumSize:])
	dst := netip.AddrFrom4(ip.Dst())
	if p.mark == q.Mark && dst == q.Dst && ip.TOS() == q.TOS {
		return nil
	}
	q.Mark, q.Dst, q.TOS = p.mark, dst, ip.TOS()
	q.Src = netip.AddrFrom4(ip.Src())
	if p.tr != nil {
		p.tr.record("route", "re-route after OUTPUT: mark %#x dst %v", p.mark, dst)
		p.tr.route(ns.routes, *q)
	}
	r, err := ns.routes.Output(*q)
	if err != nil {
		return err
	}
	*res = r
	return nil
}
