package netfilter

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"strings"

	"tapestry/packet"
)

// logPacket writes a LOG target's line to the environment's logger in the
// kernel's format (nf_log_syslog.c: dump_ipv4_packet), e.g.
//
//	prefix IN=eth0 OUT= MAC=... SRC=10.0.0.1 DST=10.0.0.2 LEN=60 TOS=0x00 PREC=0x00 TTL=64 ID=1 DF PROTO=TCP SPT=40000 DPT=80 WINDOW=64240 RES=0x00 SYN URGP=0
func logPacket(env *Env, p *Packet, h Hook, l *LogTarget) {
	line := l.Prefix + FormatLogLine(p, l.Flags)
	env.logger().Log(context.Background(), syslogLevel(l.Level), line, slog.Int("syslog_level", int(l.Level)))
}

func syslogLevel(l uint8) slog.Level {
	switch {
	case l <= 3:
		return slog.LevelError
	case l == 4:
		return slog.LevelWarn
	case l <= 6:
		return slog.LevelInfo
	}
	return slog.LevelDebug
}

// FormatLogLine formats the packet part of a LOG line (everything after
// the prefix).
func FormatLogLine(p *Packet, flags uint8) string {
	var b strings.Builder
	fmt.Fprintf(&b, "IN=%s OUT=%s ", p.In, p.Out)
	if p.In != "" && p.Off.HasL3() && int(p.Off.L3) <= len(p.Frame) {
		// The link-layer header as the device has it (dev->hard_header_len).
		b.WriteString("MAC=")
		for i, c := range p.Frame[:p.Off.L3] {
			if i > 0 {
				b.WriteByte(':')
			}
			fmt.Fprintf(&b, "%02x", c)
		}
		b.WriteByte(' ')
	}
	if p.Off.HasL3() {
		end := int(p.Off.L3) + p.ipLen()
		if end <= len(p.Frame) {
			dumpIPv4(&b, p.Frame[p.Off.L3:end], flags, false)
		}
	}
	if p.Key.PktMark != 0 {
		fmt.Fprintf(&b, "MARK=0x%x ", p.Key.PktMark)
	}
	return b.String()
}

func dumpIPv4(b *strings.Builder, ipb []byte, flags uint8, inner bool) {
	if len(ipb) < packet.IPv4MinimumSize {
		b.WriteString("TRUNCATED")
		return
	}
	ip := packet.IPv4(ipb)
	src, dst := ip.Src(), ip.Dst()
	fmt.Fprintf(b, "SRC=%d.%d.%d.%d DST=%d.%d.%d.%d ", src[0], src[1], src[2], src[3], dst[0], dst[1], dst[2], dst[3])
	fmt.Fprintf(b, "LEN=%d TOS=0x%02X PREC=0x%02X TTL=%d ID=%d ", ip.TotalLen(), ip.TOS()&tosMask, ip.TOS()&0xe0, ip.TTL(), ip.ID())
	ff := ip.FlagsFrag()
	if ff&0x8000 != 0 {
		b.WriteString("CE ")
	}
	if ff&ipDF != 0 {
		b.WriteString("DF ")
	}
	if ff&0x2000 != 0 {
		b.WriteString("MF ")
	}
	if off := ff & 0x1fff; off != 0 {
		fmt.Fprintf(b, "FRAG:%d ", off)
	}
	hl := ip.HeaderLen()
	if hl > len(ipb) {
		return
	}
	l4 := ipb[hl:]
	later := ff&0x1fff != 0
	switch ip.Protocol() {
	case packet.ProtoTCP:
		b.WriteString("PROTO=TCP ")
		if later {
			return
		}
		dumpTCP(b, l4, flags)
	case packet.ProtoUDP:
		b.WriteString("PROTO=UDP ")
		if later {
			return
		}
		if len(l4) < packet.UDPMinimumSize {
			fmt.Fprintf(b, "INCOMPLETE [%d bytes] ", len(l4))
			return
		}
		u := packet.UDP(l4)
		fmt.Fprintf(b, "SPT=%d DPT=%d LEN=%d ", u.SrcPort(), u.DstPort(), u.Length())
	case packet.ProtoICMP:
		b.WriteString("PROTO=ICMP ")
		if later {
			return
		}
		dumpICMP(b, l4, flags, inner)
	default:
		fmt.Fprintf(b, "PROTO=%d ", ip.Protocol())
	}
}

func dumpTCP(b *strings.Builder, l4 []byte, flags uint8) {
	if len(l4) < packet.TCPMinimumSize {
		fmt.Fprintf(b, "INCOMPLETE [%d bytes] ", len(l4))
		return
	}
	t := packet.TCP(l4)
	fmt.Fprintf(b, "SPT=%d DPT=%d ", t.SrcPort(), t.DstPort())
	if flags&1 != 0 {
		fmt.Fprintf(b, "SEQ=%d ACK=%d ", t.Seq(), t.Ack())
	}
	fmt.Fprintf(b, "WINDOW=%d RES=0x%02x ", t.Window(), (binary.BigEndian.Uint32(l4[12:])&0x0F000000)>>22)
	f := t.Flags()
	for _, x := range []struct {
		bit  uint16
		name string
	}{{packet.TCPFlagCWR, "CWR "}, {packet.TCPFlagECE, "ECE "}, {packet.TCPFlagURG, "URG "}, {packet.TCPFlagACK, "ACK "}, {packet.TCPFlagPSH, "PSH "}, {packet.TCPFlagRST, "RST "}, {packet.TCPFlagSYN, "SYN "}, {packet.TCPFlagFIN, "FIN "}} {
		if f&x.bit != 0 {
			b.WriteString(x.name)
		}
	}
	fmt.Fprintf(b, "URGP=%d ", t.Urgent())
}

func dumpICMP(b *strings.Builder, l4 []byte, flags uint8, inner bool) {
	if len(l4) < 4 {
		fmt.Fprintf(b, "INCOMPLETE [%d bytes] ", len(l4))
		return
	}
	typ, code := l4[0], l4[1]
	fmt.Fprintf(b, "TYPE=%d CODE=%d ", typ, code)
	switch {
	case typ == 0 || typ == 8:
		if len(l4) >= 8 {
			fmt.Fprintf(b, "ID=%d SEQ=%d ", binary.BigEndian.Uint16(l4[4:]), binary.BigEndian.Uint16(l4[6:]))
		}
	case typ == 12 && len(l4) >= 5:
		fmt.Fprintf(b, "PARAMETER=%d ", l4[4])
	case typ == 5 && len(l4) >= 8:
		fmt.Fprintf(b, "GATEWAY=%d.%d.%d.%d ", l4[4], l4[5], l4[6], l4[7])
	}
	if isICMPError(typ) && !inner && len(l4) > 8 {
		// The kernel dumps the embedded header once, in brackets.
		b.WriteByte('[')
		dumpIPv4(b, l4[8:], flags, true)
		b.WriteString("] ")
		if typ == 3 && code == 4 && len(l4) >= 8 {
			fmt.Fprintf(b, "MTU=%d ", binary.BigEndian.Uint16(l4[6:]))
		}
	}
}

// trace reports the rule at pos to p's tracer and, for packets marked by
// the TRACE target, logs the kernel's "TRACE: table:chain:type:num" line.
func (t *ctable) trace(p *Packet, env *Env, pos int32) {
	r := &t.rules[pos]
	kind := "rule"
	switch {
	case r.flags&fPolicy != 0:
		kind = "policy"
	case r.flags&fReturn != 0:
		kind = "return"
	}
	step := TraceStep{Table: t.id, Chain: t.chains[r.chain].name, Kind: kind, Num: int(r.num), Rule: r.model, Verdict: verdictName(r)}
	if p.Trace != nil {
		p.Trace.Step(step)
	}
	if p.Traced {
		env.logger().Warn(fmt.Sprintf("TRACE: %s:%s:%s:%d %s", t.id, step.Chain, kind, step.Num, FormatLogLine(p, 0)))
	}
}

func verdictName(r *crule) string {
	switch r.tgt.kind {
	case tNone:
		return ""
	case tAccept:
		return "ACCEPT"
	case tDrop:
		return "DROP"
	case tReturn:
		return "RETURN"
	}
	if r.model != nil && r.model.Target != nil {
		return r.model.Target.Name()
	}
	return ""
}
