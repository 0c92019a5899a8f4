package iptables

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	nf "tapestry/netfilter"
)

// RuleSpec formats a rule as iptables -S prints it after "-A CHAIN": the
// ipt_ip fields in a fixed order (-s -d -i -o -p -f), each match as
// "-m NAME" and its options, then the target.
func RuleSpec(r *nf.Rule) string {
	var b strings.Builder
	w := func(inv bool, s string, args ...any) {
		if inv {
			b.WriteString(" !")
		}
		b.WriteByte(' ')
		fmt.Fprintf(&b, s, args...)
	}
	if r.Src.IsValid() && (r.Src.Bits() != 0 || r.InvSrc) {
		w(r.InvSrc, "-s %s", addrString(r.Src))
	}
	if r.Dst.IsValid() && (r.Dst.Bits() != 0 || r.InvDst) {
		w(r.InvDst, "-d %s", addrString(r.Dst))
	}
	if r.InIface != "" {
		w(r.InvIn, "-i %s", r.InIface)
	}
	if r.OutIface != "" {
		w(r.InvOut, "-o %s", r.OutIface)
	}
	if r.Proto != 0 {
		w(r.InvProto, "-p %s", protoString(r.Proto))
	}
	if r.Frag {
		w(r.InvFrag, "-f")
	}
	for _, m := range r.Matches {
		b.WriteString(" -m ")
		b.WriteString(m.Name())
		saveMatch(&b, m)
	}
	saveTarget(&b, r.Target)
	return strings.TrimPrefix(b.String(), " ")
}

func inv(b *strings.Builder, i bool) {
	if i {
		b.WriteString(" !")
	}
}

func savePorts(b *strings.Builder, name string, r *nf.PortRange, i bool) {
	if r == nil {
		return
	}
	inv(b, i)
	fmt.Fprintf(b, " --%s %s", name, portRangeString(r.Lo, r.Hi, ":"))
}

func tcpFlagsString(f uint8) string {
	if f == 0 {
		return "NONE"
	}
	var names []string
	for _, x := range tcpFlagNames {
		if f&x.bit != 0 {
			names = append(names, x.name)
		}
	}
	return strings.Join(names, ",")
}

func statesString(s nf.CtState) string {
	var names []string
	for _, x := range nf.CtStateNames {
		if s&x.State != 0 {
			names = append(names, x.Name)
		}
	}
	return strings.Join(names, ",")
}

func addrTypesString(t nf.AddrType) string {
	var names []string
	for i, n := range nf.AddrTypeNames {
		if t&(1<<i) != 0 {
			names = append(names, n)
		}
	}
	return strings.Join(names, ",")
}

// ctAddrString prints a conntrack address: /32 without the length.
func ctAddrString(p netip.Prefix) string {
	if p.Bits() == 32 {
		return p.Addr().String()
	}
	return p.String()
}

func markString(v, m uint32) string {
	if m == ^uint32(0) {
		return fmt.Sprintf("0x%x", v)
	}
	return fmt.Sprintf("0x%x/0x%x", v, m)
}

func saveMatch(b *strings.Builder, m nf.Match) {
	switch m := m.(type) {
	case *nf.TCPMatch:
		savePorts(b, "sport", m.Src, m.InvSrc)
		savePorts(b, "dport", m.Dst, m.InvDst)
		if m.HasOption {
			inv(b, m.InvOption)
			fmt.Fprintf(b, " --tcp-option %d", m.Option)
		}
		if m.HasFlags {
			inv(b, m.InvFlags)
			fmt.Fprintf(b, " --tcp-flags %s %s", tcpFlagsString(m.FlagsMask), tcpFlagsString(m.FlagsCmp))
		}
	case *nf.UDPMatch:
		savePorts(b, "sport", m.Src, m.InvSrc)
		savePorts(b, "dport", m.Dst, m.InvDst)
	case *nf.ICMPMatch:
		inv(b, m.Inv)
		switch {
		case m.Any:
			b.WriteString(" --icmp-type any")
		case m.CodeMin == 0 && m.CodeMax == 0xff:
			fmt.Fprintf(b, " --icmp-type %d", m.Type)
		default:
			fmt.Fprintf(b, " --icmp-type %d/%d", m.Type, m.CodeMin)
		}
	case *nf.MultiportMatch:
		inv(b, m.Inv)
		b.WriteString([...]string{" --sports ", " --dports ", " --ports "}[m.Dir])
		for i, p := range m.Ports {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(portRangeString(p.Lo, p.Hi, ":"))
		}
	case *nf.MarkMatch:
		inv(b, m.Inv)
		fmt.Fprintf(b, " --mark %s", markString(m.Value, m.Mask))
	case *nf.ConnmarkMatch:
		inv(b, m.Inv)
		fmt.Fprintf(b, " --mark %s", markString(m.Value, m.Mask))
	case *nf.StateMatch:
		inv(b, m.Inv)
		fmt.Fprintf(b, " --state %s", statesString(m.States))
	case *nf.ConntrackMatch:
		saveConntrack(b, m)
	case *nf.IPRangeMatch:
		if m.SrcLo.IsValid() {
			inv(b, m.InvSrc)
			fmt.Fprintf(b, " --src-range %s-%s", m.SrcLo, m.SrcHi)
		}
		if m.DstLo.IsValid() {
			inv(b, m.InvDst)
			fmt.Fprintf(b, " --dst-range %s-%s", m.DstLo, m.DstHi)
		}
	case *nf.MACMatch:
		inv(b, m.Inv)
		a := m.Addr
		fmt.Fprintf(b, " --mac-source %02x:%02x:%02x:%02x:%02x:%02x", a[0], a[1], a[2], a[3], a[4], a[5])
	case *nf.TOSMatch:
		inv(b, m.Inv)
		fmt.Fprintf(b, " --tos 0x%02x/0x%02x", m.Value, m.Mask)
	case *nf.DSCPMatch:
		inv(b, m.Inv)
		fmt.Fprintf(b, " --dscp 0x%02x", m.Value)
	case *nf.LengthMatch:
		inv(b, m.Inv)
		if m.Min == m.Max {
			fmt.Fprintf(b, " --length %d", m.Min)
		} else {
			fmt.Fprintf(b, " --length %d:%d", m.Min, m.Max)
		}
	case *nf.LimitMatch:
		fmt.Fprintf(b, " --limit %s", rateString(m.Avg))
		if m.Burst != 5 {
			fmt.Fprintf(b, " --limit-burst %d", m.Burst)
		}
	case *nf.CommentMatch:
		fmt.Fprintf(b, " --comment %s", SaveString(m.Text))
	case *nf.AddrTypeMatch:
		if m.Src != 0 {
			inv(b, m.InvSrc)
			fmt.Fprintf(b, " --src-type %s", addrTypesString(m.Src))
		}
		if m.Dst != 0 {
			inv(b, m.InvDst)
			fmt.Fprintf(b, " --dst-type %s", addrTypesString(m.Dst))
		}
		if m.LimitIn {
			b.WriteString(" --limit-iface-in")
		}
		if m.LimitOut {
			b.WriteString(" --limit-iface-out")
		}
	case *nf.TTLMatch:
		switch m.Mode {
		case nf.TTLEq:
			fmt.Fprintf(b, " --ttl-eq %d", m.Value)
		case nf.TTLNe:
			fmt.Fprintf(b, " ! --ttl-eq %d", m.Value)
		case nf.TTLLt:
			fmt.Fprintf(b, " --ttl-lt %d", m.Value)
		case nf.TTLGt:
			fmt.Fprintf(b, " --ttl-gt %d", m.Value)
		}
	case *nf.OwnerMatch:
		inv(b, m.Inv)
		if m.UIDMin == m.UIDMax {
			fmt.Fprintf(b, " --uid-owner %d", m.UIDMin)
		} else {
			fmt.Fprintf(b, " --uid-owner %d-%d", m.UIDMin, m.UIDMax)
		}
	}
}

func saveConntrack(b *strings.Builder, m *nf.ConntrackMatch) {
	if m.HasState {
		inv(b, m.InvState)
		fmt.Fprintf(b, " --ctstate %s", statesString(m.State))
	}
	if m.HasProto {
		inv(b, m.InvProto)
		fmt.Fprintf(b, " --ctproto %d", m.Proto)
	}
	for _, x := range []struct {
		name string
		p    netip.Prefix
		inv  bool
	}{{"ctorigsrc", m.OrigSrc, m.InvOrigSrc}, {"ctorigdst", m.OrigDst, m.InvOrigDst}, {"ctreplsrc", m.ReplSrc, m.InvReplSrc}, {"ctrepldst", m.ReplDst, m.InvReplDst}} {
		if x.p.IsValid() {
			inv(b, x.inv)
			fmt.Fprintf(b, " --%s %s", x.name, ctAddrString(x.p))
		}
	}
	switch m.Dir {
	case nf.CtDirOriginal:
		b.WriteString(" --ctdir ORIGINAL")
	case nf.CtDirReply:
		b.WriteString(" --ctdir REPLY")
	}
}

func natRangeString(r *nf.DNATTarget, s *nf.SNATTarget) string {
	var rng = func() (lo, hi [4]byte, hasIP bool, plo, phi uint16, hasPorts bool) {
		if r != nil {
			x := r.Range
			return x.MinIP, x.MaxIP, x.HasIP, x.MinPort, x.MaxPort, x.HasPorts
		}
		x := s.Range
		return x.MinIP, x.MaxIP, x.HasIP, x.MinPort, x.MaxPort, x.HasPorts
	}
	lo, hi, hasIP, plo, phi, hasPorts := rng()
	var b strings.Builder
	if hasIP {
		b.WriteString(netip.AddrFrom4(lo).String())
		if hi != lo {
			b.WriteString("-" + netip.AddrFrom4(hi).String())
		}
	}
	if hasPorts {
		b.WriteString(":" + portRangeString(plo, phi, "-"))
	}
	return b.String()
}

func natFlags(b *strings.Builder, f uint8) {
	if f&nf.NATRandom != 0 {
		b.WriteString(" --random")
	}
	if f&nf.NATPersistent != 0 {
		b.WriteString(" --persistent")
	}
	if f&nf.NATRandomFully != 0 {
		b.WriteString(" --random-fully")
	}
}

func saveTarget(b *strings.Builder, t nf.Target) {
	if t == nil {
		return
	}
	if j, ok := t.(*nf.JumpTarget); ok {
		if j.Goto {
			fmt.Fprintf(b, " -g %s", j.Chain)
		} else {
			fmt.Fprintf(b, " -j %s", j.Chain)
		}
		return
	}
	fmt.Fprintf(b, " -j %s", t.Name())
	switch t := t.(type) {
	case *nf.RejectTarget:
		fmt.Fprintf(b, " --reject-with %s", nf.RejectNames[t.With])
	case *nf.LogTarget:
		if t.Prefix != "" {
			fmt.Fprintf(b, " --log-prefix %s", SaveString(t.Prefix))
		}
		if t.Level != 4 {
			fmt.Fprintf(b, " --log-level %d", t.Level)
		}
		for _, f := range []struct {
			bit  uint8
			name string
		}{{1, "--log-tcp-sequence"}, {2, "--log-tcp-options"}, {4, "--log-ip-options"}, {8, "--log-uid"}} {
			if t.Flags&f.bit != 0 {
				b.WriteString(" " + f.name)
			}
		}
	case *nf.MarkTarget:
		fmt.Fprintf(b, " --set-xmark 0x%x/0x%x", t.Value, t.Mask)
	case *nf.ConnmarkTarget:
		switch t.Mode {
		case nf.ConnmarkSet:
			fmt.Fprintf(b, " --set-xmark 0x%x/0x%x", t.CtMark, t.CtMask)
		case nf.ConnmarkSave:
			fmt.Fprintf(b, " --save-mark --nfmask 0x%x --ctmask 0x%x", t.NfMask, t.CtMask)
		case nf.ConnmarkRestore:
			fmt.Fprintf(b, " --restore-mark --nfmask 0x%x --ctmask 0x%x", t.NfMask, t.CtMask)
		}
	case *nf.TOSTarget:
		fmt.Fprintf(b, " --set-tos 0x%02x/0x%02x", t.Value, t.Mask)
	case *nf.DSCPTarget:
		fmt.Fprintf(b, " --set-dscp 0x%02x", t.Value)
	case *nf.TTLTarget:
		fmt.Fprintf(b, " --%s %d", [...]string{"ttl-set", "ttl-dec", "ttl-inc"}[t.Mode], t.Value)
	case *nf.DNATTarget:
		fmt.Fprintf(b, " --to-destination %s", natRangeString(t, nil))
		natFlags(b, t.Flags)
	case *nf.SNATTarget:
		fmt.Fprintf(b, " --to-source %s", natRangeString(nil, t))
		natFlags(b, t.Flags)
	case *nf.MasqueradeTarget:
		if t.HasPorts {
			fmt.Fprintf(b, " --to-ports %s", portRangeString(t.MinPort, t.MaxPort, "-"))
		}
		natFlags(b, t.Flags)
	case *nf.RedirectTarget:
		if t.HasPorts {
			fmt.Fprintf(b, " --to-ports %s", portRangeString(t.MinPort, t.MaxPort, "-"))
		}
		natFlags(b, t.Flags)
	case *nf.CTTarget:
		if t.NoTrack {
			b.WriteString(" --notrack")
		}
		if t.Zone != 0 {
			fmt.Fprintf(b, " --zone %d", t.Zone)
		}
	}
}

// ListRules prints iptables -S [CHAIN] for table t: the policies ("-P
// CHAIN POLICY", or "-N CHAIN" for user chains) and then every rule as
// "-A CHAIN spec". With counters (-v) each line carries "-c PKTS BYTES".
func ListRules(t *nf.Table, chain string, counters bool) ([]string, error) {
	var out []string
	chains := t.Chains
	if chain != "" {
		c := t.Chain(chain)
		if c == nil {
			return nil, fmt.Errorf("iptables: chain %q does not exist", chain)
		}
		chains = []*nf.Chain{c}
	}
	for _, c := range chains {
		switch {
		case c.Builtin && counters:
			out = append(out, fmt.Sprintf("-P %s %s -c %d %d", c.Name, c.Policy, c.Counters.Packets, c.Counters.Bytes))
		case c.Builtin:
			out = append(out, fmt.Sprintf("-P %s %s", c.Name, c.Policy))
		default:
			out = append(out, "-N "+c.Name)
		}
	}
	for _, c := range chains {
		for _, r := range c.Rules {
			line := "-A " + c.Name
			if counters {
				line += fmt.Sprintf(" -c %d %d", r.Counters.Packets, r.Counters.Bytes)
			}
			if s := RuleSpec(r); s != "" {
				line += " " + s
			}
			out = append(out, line)
		}
	}
	return out, nil
}

var saveOrder = []nf.TableID{nf.TableMangle, nf.TableRaw, nf.TableFilter, nf.TableNAT}

// SaveOptions controls iptables-save output.
type SaveOptions struct {
	Counters bool      // -c: "[pkts:bytes]" before each rule
	Time     time.Time // for the header comment; zero: no header/footer comments
	Version  string    // e.g. "v1.8.9 (nf_tables)"
}

// Save prints tables as iptables-save does: the tables that exist (are
// non-nil) in iptables-nft's order (enum nft_table_type: mangle, raw,
// filter, nat), e.g.
//
//	# Generated by iptables-save v1.8.9 (nf_tables) on Mon Jan  1 00:00:00 2024
//	*mangle
//	:PREROUTING ACCEPT [0:0]
//	-A PREROUTING -i tun0 -p tcp -m tcp --dport 5222 -j MARK --set-xmark 0x1/0xffffffff
//	COMMIT
//	# Completed on Mon Jan  1 00:00:00 2024
func Save(ts nf.Tables, o SaveOptions) string {
	var b strings.Builder
	for _, id := range saveOrder {
		t := ts[id]
		if t == nil {
			continue
		}
		stamp := o.Time.Format("Mon Jan _2 15:04:05 2006")
		if !o.Time.IsZero() {
			fmt.Fprintf(&b, "# Generated by iptables-save %s on %s\n", o.Version, stamp)
		}
		fmt.Fprintf(&b, "*%s\n", t.ID)
		for _, c := range t.Chains {
			pol := "-"
			if c.Builtin {
				pol = c.Policy.String()
			}
			fmt.Fprintf(&b, ":%s %s [%d:%d]\n", c.Name, pol, c.Counters.Packets, c.Counters.Bytes)
		}
		for _, c := range t.Chains {
			for _, r := range c.Rules {
				if o.Counters {
					fmt.Fprintf(&b, "[%d:%d] ", r.Counters.Packets, r.Counters.Bytes)
				}
				b.WriteString("-A " + c.Name)
				if s := RuleSpec(r); s != "" {
					b.WriteString(" " + s)
				}
				b.WriteByte('\n')
			}
		}
		b.WriteString("COMMIT\n")
		if !o.Time.IsZero() {
			fmt.Fprintf(&b, "# Completed on %s\n", stamp)
		}
	}
	return b.String()
}
