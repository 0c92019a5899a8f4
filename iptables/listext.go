package iptables

import (
	"fmt"
	"net/netip"
	"strings"

	nf "tapestry/netfilter"
)

// The -L forms of matches and targets (each extension's print function):
// every piece starts with a space.

func neg(i bool, s string) string {
	if i {
		return s
	}
	return ""
}

func listPorts(b *strings.Builder, label string, r *nf.PortRange, inv bool) {
	if r == nil {
		return
	}
	if r.Lo == r.Hi {
		fmt.Fprintf(b, " %s:%s%d", label, neg(inv, "!"), r.Lo)
	} else {
		fmt.Fprintf(b, " %ss:%s%d:%d", label, neg(inv, "!"), r.Lo, r.Hi)
	}
}

func listMatch(b *strings.Builder, m nf.Match) {
	switch m := m.(type) {
	case *nf.TCPMatch:
		b.WriteString(" tcp")
		listPorts(b, "spt", m.Src, m.InvSrc)
		listPorts(b, "dpt", m.Dst, m.InvDst)
		if m.HasOption {
			fmt.Fprintf(b, " option=%s%d", neg(m.InvOption, "!"), m.Option)
		}
		if m.HasFlags {
			fmt.Fprintf(b, " flags:%s0x%02X/0x%02X", neg(m.InvFlags, "!"), m.FlagsMask, m.FlagsCmp)
		}
	case *nf.UDPMatch:
		b.WriteString(" udp")
		listPorts(b, "spt", m.Src, m.InvSrc)
		listPorts(b, "dpt", m.Dst, m.InvDst)
	case *nf.ICMPMatch:
		fmt.Fprintf(b, " icmp%stype", neg(m.Inv, " !"))
		switch {
		case m.Any:
			b.WriteString(" 255")
		case m.CodeMin == 0 && m.CodeMax == 0xff:
			fmt.Fprintf(b, " %d", m.Type)
		default:
			fmt.Fprintf(b, " %d code %d", m.Type, m.CodeMin)
		}
	case *nf.MultiportMatch:
		fmt.Fprintf(b, " multiport %s %s", [...]string{"sports", "dports", "ports"}[m.Dir], neg(m.Inv, " !"))
		for i, p := range m.Ports {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(portRangeString(p.Lo, p.Hi, ":"))
		}
	case *nf.MarkMatch:
		fmt.Fprintf(b, " mark match %s%s", neg(m.Inv, "! "), markString(m.Value, m.Mask))
	case *nf.ConnmarkMatch:
		fmt.Fprintf(b, " connmark match %s %s", neg(m.Inv, "!"), markString(m.Value, m.Mask))
	case *nf.StateMatch:
		fmt.Fprintf(b, " %sstate %s", neg(m.Inv, "! "), statesString(m.States))
	case *nf.ConntrackMatch:
		listConntrack(b, m)
	case *nf.IPRangeMatch:
		if m.SrcLo.IsValid() {
			fmt.Fprintf(b, " source IP range %s%s-%s", neg(m.InvSrc, "! "), m.SrcLo, m.SrcHi)
		}
		if m.DstLo.IsValid() {
			fmt.Fprintf(b, " destination IP range %s%s-%s", neg(m.InvDst, "! "), m.DstLo, m.DstHi)
		}
	case *nf.MACMatch:
		a := m.Addr
		fmt.Fprintf(b, " MAC %s%02x:%02x:%02x:%02x:%02x:%02x", neg(m.Inv, "! "), a[0], a[1], a[2], a[3], a[4], a[5])
	case *nf.TOSMatch:
		fmt.Fprintf(b, " tos match%s0x%02x/0x%02x", neg(m.Inv, "!"), m.Value, m.Mask)
	case *nf.DSCPMatch:
		fmt.Fprintf(b, " DSCP match %s0x%02x", neg(m.Inv, "!"), m.Value)
	case *nf.LengthMatch:
		fmt.Fprintf(b, " length %s", neg(m.Inv, "!"))
		if m.Min == m.Max {
			fmt.Fprintf(b, "%d", m.Min)
		} else {
			fmt.Fprintf(b, "%d:%d", m.Min, m.Max)
		}
	case *nf.LimitMatch:
		fmt.Fprintf(b, " limit: avg %s burst %d", rateString(m.Avg), m.Burst)
	case *nf.CommentMatch:
		fmt.Fprintf(b, " /* %s */", m.Text)
	case *nf.AddrTypeMatch:
		b.WriteString(" ADDRTYPE match")
		if m.Src != 0 {
			fmt.Fprintf(b, " src-type %s%s", neg(m.InvSrc, "!"), addrTypesString(m.Src))
		}
		if m.Dst != 0 {
			fmt.Fprintf(b, " dst-type %s%s", neg(m.InvDst, "!"), addrTypesString(m.Dst))
		}
		if m.LimitIn {
			b.WriteString(" limit-in")
		}
		if m.LimitOut {
			b.WriteString(" limit-out")
		}
	case *nf.TTLMatch:
		fmt.Fprintf(b, " TTL match TTL %s %d", [...]string{"==", "!=", "<", ">"}[m.Mode], m.Value)
	case *nf.OwnerMatch:
		fmt.Fprintf(b, " %sowner UID match %d", neg(m.Inv, "! "), m.UIDMin)
		if m.UIDMax != m.UIDMin {
			fmt.Fprintf(b, "-%d", m.UIDMax)
		}
	}
}

func listConntrack(b *strings.Builder, m *nf.ConntrackMatch) {
	if m.HasState {
		fmt.Fprintf(b, " %sctstate %s", neg(m.InvState, "! "), statesString(m.State))
	}
	if m.HasProto {
		fmt.Fprintf(b, " %sctproto %d", neg(m.InvProto, "! "), m.Proto)
	}
	for _, x := range []struct {
		name string
		p    netip.Prefix
		inv  bool
	}{{"ctorigsrc", m.OrigSrc, m.InvOrigSrc}, {"ctorigdst", m.OrigDst, m.InvOrigDst}, {"ctreplsrc", m.ReplSrc, m.InvReplSrc}, {"ctrepldst", m.ReplDst, m.InvReplDst}} {
		if x.p.IsValid() {
			fmt.Fprintf(b, " %s%s %s", neg(x.inv, "! "), x.name, ctAddrString(x.p))
		}
	}
	switch m.Dir {
	case nf.CtDirOriginal:
		b.WriteString(" ctdir ORIGINAL")
	case nf.CtDirReply:
		b.WriteString(" ctdir REPLY")
	}
}

func markOp(b *strings.Builder, what string, v, m uint32) {
	switch {
	case v == 0:
		fmt.Fprintf(b, " %s and 0x%x", what, ^m)
	case v == m:
		fmt.Fprintf(b, " %s or 0x%x", what, v)
	case m == 0:
		fmt.Fprintf(b, " %s xor 0x%x", what, v)
	case m == ^uint32(0):
		fmt.Fprintf(b, " %s set 0x%x", what, v)
	default:
		fmt.Fprintf(b, " %s xset 0x%x/0x%x", what, v, m)
	}
}

func connmarkMasks(b *strings.Builder, op string, first, second uint32) {
	switch {
	case first == ^uint32(0) && second == ^uint32(0):
		fmt.Fprintf(b, " CONNMARK %s", op)
	case first == second:
		fmt.Fprintf(b, " CONNMARK %s mask 0x%x", op, first)
	case op == "save":
		fmt.Fprintf(b, " CONNMARK save nfmask 0x%x ctmask ~0x%x", first, second)
	default:
		fmt.Fprintf(b, " CONNMARK restore ctmask 0x%x nfmask ~0x%x", first, second)
	}
}

func listTarget(b *strings.Builder, t nf.Target) {
	switch t := t.(type) {
	case *nf.RejectTarget:
		fmt.Fprintf(b, " reject-with %s", nf.RejectNames[t.With])
	case *nf.MarkTarget:
		markOp(b, "MARK", t.Value, t.Mask)
	case *nf.ConnmarkTarget:
		switch t.Mode {
		case nf.ConnmarkSet:
			markOp(b, "CONNMARK", t.CtMark, t.CtMask)
		case nf.ConnmarkSave:
			connmarkMasks(b, "save", t.NfMask, t.CtMask)
		default:
			connmarkMasks(b, "restore", t.CtMask, t.NfMask)
		}
	case *nf.TOSTarget:
		fmt.Fprintf(b, " TOS set 0x%02x/0x%02x", t.Value, t.Mask)
	case *nf.DSCPTarget:
		fmt.Fprintf(b, " DSCP set 0x%02x", t.Value)
	case *nf.TTLTarget:
		fmt.Fprintf(b, " TTL %s %d", [...]string{"set to", "decrement by", "increment by"}[t.Mode], t.Value)
	case *nf.LogTarget:
		fmt.Fprintf(b, " LOG flags %d level %d", t.Flags, t.Level)
		if t.Prefix != "" {
			fmt.Fprintf(b, " prefix \"%s\"", t.Prefix)
		}
	case *nf.DNATTarget:
		fmt.Fprintf(b, " to:%s", natRangeString(t, nil))
		listNATFlags(b, t.Flags)
	case *nf.SNATTarget:
		fmt.Fprintf(b, " to:%s", natRangeString(nil, t))
		listNATFlags(b, t.Flags)
	case *nf.MasqueradeTarget:
		if t.HasPorts {
			fmt.Fprintf(b, " masq ports: %s", portRangeString(t.MinPort, t.MaxPort, "-"))
		}
		listNATFlags(b, t.Flags)
	case *nf.RedirectTarget:
		if t.HasPorts {
			fmt.Fprintf(b, " redir ports %s", portRangeString(t.MinPort, t.MaxPort, "-"))
		}
		listNATFlags(b, t.Flags)
	case *nf.CTTarget:
		if t.NoTrack {
			b.WriteString(" CT notrack")
		} else if t.Zone != 0 {
			fmt.Fprintf(b, " CT zone %d", t.Zone)
		}
	case *nf.NotrackTarget:
		b.WriteString(" NOTRACK")
	}
}

func listNATFlags(b *strings.Builder, f uint8) {
	if f&nf.NATRandom != 0 {
		b.WriteString(" random")
	}
	if f&nf.NATPersistent != 0 {
		b.WriteString(" persistent")
	}
	if f&nf.NATRandomFully != 0 {
		b.WriteString(" random-fully")
	}
}
