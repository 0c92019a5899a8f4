package conntrack

import (
	"encoding/binary"

	"tapestry/flow"
	"tapestry/packet"
)

// Manip is the kind of NAT: source (SNAT, MASQUERADE) or destination
// (DNAT, REDIRECT).
type Manip uint8

// NAT manipulation types (enum nf_nat_manip_type).
const (
	ManipSrc Manip = iota
	ManipDst
)

// NATRange is a NAT target's --to-source/--to-destination range
// (struct nf_nat_range2).
type NATRange struct {
	MinIP, MaxIP     [4]byte
	MinPort, MaxPort uint16
	HasIP            bool // an address range was given (else keep the address)
	HasPorts         bool // a port range was given (NF_NAT_RANGE_PROTO_SPECIFIED)
}

// NATDone reports whether a binding of kind m was set up already.
func (c *Conn) NATDone(m Manip) bool {
	if m == ManipSrc {
		return c.status.Load()&StatusSrcNATDone != 0
	}
	return c.status.Load()&StatusDstNATDone != 0
}

// SetupNAT binds c (unconfirmed, first packet) to a translation of kind m
// chosen from r, like nf_nat_setup_info: the original tuple as already
// translated is moved into the range, keeping the address and port when
// they are in range and still unique, otherwise searching the port range
// for a tuple no other connection uses. A null binding (HasIP and HasPorts
// false) only makes the tuple unique. It returns false when no unique tuple
// exists (the kernel drops the packet).
func (t *Table) SetupNAT(c *Conn, m Manip, r NATRange, now int64) bool {
	if c.NATDone(m) {
		return true
	}
	cur := c.reply.Invert() // the original tuple after earlier bindings
	nt, ok := t.uniqueTuple(c, cur, m, r, now)
	if !ok {
		return false
	}
	c.reply = nt.Invert()
	c.bkt[DirReply], c.nodes[DirReply].bit = t.replyBucket(c.reply, c.zone)
	bits := uint32(StatusSrcNATDone)
	if m == ManipDst {
		bits = StatusDstNATDone
	}
	if nt != cur {
		if m == ManipSrc {
			bits |= StatusSrcNAT
		} else {
			bits |= StatusDstNAT
		}
	}
	c.setStatus(bits)
	return true
}

// uniqueTuple is get_unique_tuple: the address is chosen first (a hash of
// the tuple picks within a range, so one client keeps one address), then
// the port or ICMP id.
func (t *Table) uniqueTuple(c *Conn, cur Tuple, m Manip, r NATRange, now int64) (Tuple, bool) {
	nt := cur
	if r.HasIP {
		ip := pickIP(cur, r)
		if m == ManipSrc {
			nt.Src = ip
		} else {
			nt.Dst = ip
		}
	}
	used := func(x Tuple) bool { return t.taken(x.Invert(), c.zone, c, now) }
	port, portOK := nt.SrcPort, hasPorts(nt.Proto) || nt.Proto == packet.ProtoICMP
	if m == ManipDst {
		port = nt.DstPort
		if nt.Proto == packet.ProtoICMP {
			portOK = false // the ICMP id is the source side of the tuple
		}
	}
	inRange := !r.HasPorts || (port >= r.MinPort && port <= r.MaxPort)
	if inRange && !used(nt) {
		return nt, true
	}
	if !portOK || (m == ManipDst && !r.HasPorts) {
		// Nothing else to vary: the kernel keeps the clashing tuple; a
		// later source binding may still make it unique, or the insert
		// at confirm time fails.
		return nt, true
	}
	lo, hi := defaultPortRange(port, nt.Proto)
	if r.HasPorts {
		lo, hi = r.MinPort, r.MaxPort
	}
	// Search upwards from the range start: deterministic (the kernel
	// starts at a random offset).
	for p := uint32(lo); p <= uint32(hi); p++ {
		if m == ManipSrc {
			nt.SrcPort = uint16(p)
		} else {
			nt.DstPort = uint16(p)
		}
		if !used(nt) {
			return nt, true
		}
	}
	return nt, false
}

// defaultPortRange is the range nf_nat_l4proto_unique_tuple searches when
// the rule gave none: privileged ports stay privileged (1-511 or 600-1023),
// others move within 1024-65535; ICMP ids use the whole space.
func defaultPortRange(port uint16, proto uint8) (uint16, uint16) {
	switch {
	case proto == packet.ProtoICMP:
		return 0, 65535
	case port < 512:
		return 1, 511
	case port < 1024:
		return 600, 1023
	}
	return 1024, 65535
}

func pickIP(cur Tuple, r NATRange) [4]byte {
	lo, hi := binary.BigEndian.Uint32(r.MinIP[:]), binary.BigEndian.Uint32(r.MaxIP[:])
	if hi <= lo {
		return r.MinIP
	}
	h := hashKey(key{t: Tuple{Src: cur.Src, Dst: cur.Dst}})
	var ip [4]byte
	binary.BigEndian.PutUint32(ip[:], lo+h%(hi-lo+1))
	return ip
}

// ApplyNAT rewrites a packet of c travelling in direction d at a hook of
// kind m (nf_nat_packet): a source hook (POSTROUTING, INPUT) applies SNAT
// to original packets and un-DNATs replies; a destination hook
// (PREROUTING, OUTPUT) applies DNAT and un-SNATs replies. The frame's
// checksums are updated incrementally and the key is kept in step.
func ApplyNAT(c *Conn, d Dir, m Manip, frame []byte, off flow.Offsets, k *flow.Key) {
	bit := uint32(StatusSrcNAT)
	if m == ManipDst {
		bit = StatusDstNAT
	}
	if d == DirReply {
		bit ^= StatusSrcNAT | StatusDstNAT
	}
	if c.status.Load()&bit == 0 || !off.HasL3() {
		return
	}
	target := c.Tuple(1 - d).Invert()
	l3, l4 := int(off.L3), int(off.L4)
	proto := k.NwProto
	if m == ManipSrc {
		if target.Src != k.NwSrc {
			packet.SetIPv4Src(frame, l3, target.Src)
			k.NwSrc = target.Src
		}
		switch {
		case hasPorts(proto) && off.HasL4() && target.SrcPort != k.TpSrc:
			packet.SetL4Src(frame, l3, l4, proto, target.SrcPort)
			k.TpSrc = target.SrcPort
		case proto == packet.ProtoICMP && off.HasL4():
			setICMPID(frame, l4, target.SrcPort)
		}
		return
	}
	if target.Dst != k.NwDst {
		packet.SetIPv4Dst(frame, l3, target.Dst)
		k.NwDst = target.Dst
	}
	if hasPorts(proto) && off.HasL4() && target.DstPort != k.TpDst {
		packet.SetL4Dst(frame, l3, l4, proto, target.DstPort)
		k.TpDst = target.DstPort
	}
}

// setICMPID rewrites the identifier of an ICMP query and its checksum.
func setICMPID(frame []byte, l4 int, id uint16) {
	if l4+8 > len(frame) {
		return
	}
	b := frame[l4:]
	old := binary.BigEndian.Uint16(b[4:])
	if old == id {
		return
	}
	binary.BigEndian.PutUint16(b[4:], id)
	c := packet.ICMPv4(b).Checksum()
	packet.ICMPv4(b).SetChecksum(packet.ChecksumUpdate16(c, old, id))
}

// ApplyNATRelated translates an ICMP error RELATED to c at a hook of kind
// m (nf_nat_icmp_reply_translation): the quoted packet is rewritten back
// to what its sender saw, using the other direction's tuple and the
// opposite manipulation, the ICMP checksum is recomputed, and the outer
// header is changed so that the error looks like the reply to the packet
// it quotes. The ICMP "port" (id) is not touched for error types.
func ApplyNATRelated(c *Conn, d Dir, m Manip, frame []byte, off flow.Offsets, k *flow.Key) {
	bit := uint32(StatusSrcNAT)
	if m == ManipDst {
		bit = StatusDstNAT
	}
	if d == DirReply {
		bit ^= StatusSrcNAT | StatusDstNAT
	}
	if c.status.Load()&bit == 0 || !off.HasL3() || !off.HasL4() {
		return
	}
	l3, l4 := int(off.L3), int(off.L4)
	end := l3 + int(packet.IPv4(frame[l3:]).TotalLen())
	if end > len(frame) || l4+8+packet.IPv4MinimumSize > end {
		return
	}
	inner := l4 + 8
	ihl := packet.IPv4(frame[inner:]).HeaderLen()
	if ihl < packet.IPv4MinimumSize || inner+ihl > end {
		return
	}
	quoted := frame[:end]
	t := c.Tuple(1 - d)
	proto := packet.IPv4(frame[inner:]).Protocol()
	if m == ManipDst { // the opposite manipulation inside
		packet.SetIPv4Src(quoted, inner, t.Src)
		if hasPorts(proto) {
			packet.SetL4Src(quoted, inner, inner+ihl, proto, t.SrcPort)
		}
	} else {
		packet.SetIPv4Dst(quoted, inner, t.Dst)
		if hasPorts(proto) {
			packet.SetL4Dst(quoted, inner, inner+ihl, proto, t.DstPort)
		}
	}
	icmp := packet.ICMPv4(frame[l4:end])
	icmp.SetChecksum(0)
	icmp.SetChecksum(packet.Checksum(frame[l4:end]))
	target := t.Invert()
	if m == ManipSrc {
		packet.SetIPv4Src(frame, l3, target.Src)
		k.NwSrc = target.Src
	} else {
		packet.SetIPv4Dst(frame, l3, target.Dst)
		k.NwDst = target.Dst
	}
}
