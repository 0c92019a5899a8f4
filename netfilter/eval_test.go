package netfilter_test

import (
	"testing"

	nf "tapestry/netfilter"
	"tapestry/packet"
)

// TestMatches runs one rule per case against one packet: the rule marks
// the packet 0x1 when it matches.
func TestMatches(t *testing.T) {
	synTo := func(dst string) []byte { return tcp("10.0.0.7:40000", dst, syn) }
	web := synTo("10.0.0.2:80")
	tests := []struct {
		name  string
		rule  string // mangle PREROUTING rule spec, -j MARK --set-mark 1 appended
		frame []byte
		in    string
		want  bool
	}{
		{"any", "", web, "eth0", true},
		{"src host", "-s 10.0.0.7", web, "eth0", true},
		{"src net miss", "-s 192.168.0.0/16", web, "eth0", false},
		{"! src", "! -s 192.168.0.0/16", web, "eth0", true},
		{"dst mask", "-d 10.0.0.0/255.255.255.0", web, "eth0", true},
		{"in exact", "-i eth0", web, "eth0", true},
		{"in exact miss", "-i eth0", web, "eth01", false},
		{"in wildcard", "-i eth+", web, "eth01", true},
		{"! in wildcard", "! -i eth+", web, "tun0", true},
		{"proto name", "-p tcp", web, "eth0", true},
		{"proto number", "-p 6", web, "eth0", true},
		{"! proto", "! -p udp", web, "eth0", true},
		{"proto miss", "-p udp", web, "eth0", false},
		{"dport", "-p tcp --dport 80", web, "eth0", true},
		{"dport range", "-p tcp --dport 79:81", web, "eth0", true},
		{"! dport", "-p tcp ! --dport 80", web, "eth0", false},
		{"sport open range", "-p tcp --sport 40000:", web, "eth0", true},
		{"syn", "-p tcp --syn", web, "eth0", true},
		{"! syn on ack", "-p tcp ! --syn", tcp("10.0.0.7:40000", "10.0.0.2:80", ack), "eth0", true},
		{"tcp-flags", "-p tcp --tcp-flags SYN,ACK SYN", web, "eth0", true},
		{"tcp-flags miss", "-p tcp --tcp-flags SYN,ACK ACK", web, "eth0", false},
		{"multiport dports", "-p tcp -m multiport --dports 22,80,443", web, "eth0", true},
		{"multiport range", "-p tcp -m multiport --ports 1000:2000,79:80", web, "eth0", true},
		{"! multiport", "-p tcp -m multiport ! --dports 22,443", web, "eth0", true},
		{"udp dport", "-p udp --dport 53", udp("10.0.0.7:5353", "10.0.0.2:53"), "eth0", true},
		{"icmp echo", "-p icmp --icmp-type echo-request", icmpEcho("10.0.0.7", "10.0.0.2", 1), "eth0", true},
		{"icmp type/code miss", "-p icmp --icmp-type 3/3", icmpEcho("10.0.0.7", "10.0.0.2", 1), "eth0", false},
		{"icmp any", "-p icmp --icmp-type any", icmpEcho("10.0.0.7", "10.0.0.2", 1), "eth0", true},
		{"iprange", "-m iprange --src-range 10.0.0.5-10.0.0.9", web, "eth0", true},
		{"! iprange", "-m iprange ! --dst-range 10.0.0.5-10.0.0.9", web, "eth0", true},
		{"mac", "-m mac --mac-source 02:00:00:00:00:0a", web, "eth0", true},
		{"mac miss", "-m mac --mac-source 02:00:00:00:00:0b", web, "eth0", false},
		{"tos", "-m tos --tos 0x00/0xff", web, "eth0", true},
		{"dscp", "-m dscp --dscp 0", web, "eth0", true},
		{"! dscp", "-m dscp ! --dscp-class EF", web, "eth0", true},
		{"length", "-m length --length 40", web, "eth0", true},
		{"length miss", "-m length --length 41:1500", web, "eth0", false},
		{"ttl eq", "-m ttl --ttl-eq 64", web, "eth0", true},
		{"ttl ne", "-m ttl ! --ttl-eq 64", web, "eth0", false},
		{"ttl gt", "-m ttl --ttl-gt 63", web, "eth0", true},
		{"ttl lt", "-m ttl --ttl-lt 64", web, "eth0", false},
		{"comment", "-m comment --comment hi", web, "eth0", true},
		{"mark unset", "-m mark --mark 0", web, "eth0", true},
		{"addrtype local dst", "-m addrtype --dst-type LOCAL", synTo("10.0.0.1:22"), "eth0", true},
		{"addrtype ! local", "-m addrtype ! --dst-type LOCAL", web, "eth0", true},
		{"state new", "-m state --state NEW", web, "eth0", true},
		{"ctstate est miss", "-m conntrack --ctstate ESTABLISHED", web, "eth0", false},
		{"ctproto", "-m conntrack --ctproto tcp --ctorigdst 10.0.0.2", web, "eth0", true},
		{"ctdir", "-m conntrack --ctdir ORIGINAL", web, "eth0", true},
		{"fragment flag miss", "-f", web, "eth0", false},
		{"! fragment", "! -f", web, "eth0", true},
	}
	for _, tt := range tests {
		rs := compile(t, newEnv(), "-t mangle -A PREROUTING "+tt.rule+" -j MARK --set-mark 1")
		p := pkt(append([]byte(nil), tt.frame...), tt.in, "")
		rs.Hook(nf.HookPrerouting, p)
		if got := p.Key.PktMark == 1; got != tt.want {
			t.Errorf("%s: rule %q matched = %v, want %v", tt.name, tt.rule, got, tt.want)
		}
	}
}

func TestOwnerMatchOnlyWithSocket(t *testing.T) {
	rs := compile(t, newEnv(), "-t mangle -A OUTPUT -m owner --uid-owner 1000-1005 -j MARK --set-mark 1")
	for _, tt := range []struct {
		uid    uint32
		hasUID bool
		want   uint32
	}{{1003, true, 1}, {999, true, 0}, {1003, false, 0}} {
		p := pkt(tcp("10.0.0.1:1000", "10.0.0.2:80", syn), "", "eth0")
		p.UID, p.HasUID = tt.uid, tt.hasUID
		rs.Hook(nf.HookOutput, p)
		if p.Key.PktMark != tt.want {
			t.Errorf("uid %d (socket %v): mark %d, want %d", tt.uid, tt.hasUID, p.Key.PktMark, tt.want)
		}
	}
}

// TestTargets checks what each rewriting target does to the packet.
func TestTargets(t *testing.T) {
	tests := []struct {
		rule  string
		check func(p *nf.Packet) bool
	}{
		{"-j MARK --set-mark 0x5", func(p *nf.Packet) bool { return p.Key.PktMark == 5 }},
		{"-j MARK --set-xmark 0x5/0xf0", func(p *nf.Packet) bool { return p.Key.PktMark == 0x5 }},
		{"-j MARK --or-mark 0x3", func(p *nf.Packet) bool { return p.Key.PktMark == 0x3 }},
		{"-j TOS --set-tos 0x10", func(p *nf.Packet) bool { return tos(p) == 0x10 && p.Key.NwTos == 0x10 }},
		{"-j TOS --or-tos 0x08", func(p *nf.Packet) bool { return tos(p) == 0x08 }},
		{"-j DSCP --set-dscp-class EF", func(p *nf.Packet) bool { return tos(p) == 0xb8 }},
		{"-j TTL --ttl-set 7", func(p *nf.Packet) bool { return ipv4(p).TTL() == 7 }},
		{"-j TTL --ttl-dec 1", func(p *nf.Packet) bool { return ipv4(p).TTL() == 63 }},
		{"-j TTL --ttl-inc 250", func(p *nf.Packet) bool { return ipv4(p).TTL() == 255 }},
		{"-j CONNMARK --set-mark 9", func(p *nf.Packet) bool { return p.Conn.Mark() == 9 }},
	}
	for _, tt := range tests {
		rs := compile(t, newEnv(), "-t mangle -A PREROUTING "+tt.rule)
		p := pkt(tcp("10.0.0.7:40000", "10.0.0.2:80", syn), "eth0", "")
		if v := rs.Hook(nf.HookPrerouting, p); v != nf.VerdictAccept {
			t.Errorf("%s: verdict %v", tt.rule, v)
		}
		if !tt.check(p) {
			t.Errorf("%s: packet not rewritten as expected (tos %#x ttl %d mark %#x)", tt.rule, tos(p), ipv4(p).TTL(), p.Key.PktMark)
		}
		if !ipv4(p).ChecksumValid() {
			t.Errorf("%s: IP checksum broken", tt.rule)
		}
	}
}

func ipv4(p *nf.Packet) packet.IPv4 { return packet.IPv4(p.Frame[p.Off.L3:]) }
func tos(p *nf.Packet) uint8        { return ipv4(p).TOS() }

func TestConnmarkSaveRestore(t *testing.T) {
	rs := compile(t, newEnv(),
		"-t mangle -A PREROUTING -j CONNMARK --restore-mark",
		"-t mangle -A PREROUTING -m mark --mark 0 -j MARK --set-mark 0x42",
		"-t mangle -A PREROUTING -j CONNMARK --save-mark --mask 0xff",
		"-t filter -A INPUT -j ACCEPT",
	)
	p := pkt(tcp("10.0.0.7:40000", "10.0.0.1:80", syn), "eth0", "")
	rs.Hook(nf.HookPrerouting, p)
	rs.Hook(nf.HookInput, p)
	if p.Conn.Mark() != 0x42 {
		t.Fatalf("ct mark after save = %#x, want 0x42", p.Conn.Mark())
	}
	// The reply restores the mark from the connection.
	r := pkt(tcp("10.0.0.1:80", "10.0.0.7:40000", synack), "lo", "")
	rs.Hook(nf.HookPrerouting, r)
	if r.Key.PktMark != 0x42 {
		t.Errorf("reply mark after restore = %#x, want 0x42", r.Key.PktMark)
	}
}

// TestChains covers jump, goto, RETURN, policies and counters.
func TestChains(t *testing.T) {
	env := newEnv()
	rs := compile(t, env,
		"-P INPUT DROP",
		"-N web",
		"-N deep",
		"-A INPUT -p tcp --dport 80 -j web",
		"-A INPUT -p tcp --dport 81 -g web",
		"-A INPUT -p tcp --dport 22 -j ACCEPT",
		"-A web -s 10.0.0.66 -j RETURN",
		"-A web -j deep",
		"-A web -j ACCEPT",
		"-A deep -s 10.0.0.7 -j DROP",
	)
	tests := []struct {
		src, dst string
		want     nf.Verdict
		reason   string
	}{
		{"10.0.0.1:1", "10.0.0.1:22", nf.VerdictAccept, ""},
		{"10.0.0.1:1", "10.0.0.1:80", nf.VerdictAccept, ""},
		{"10.0.0.7:1", "10.0.0.1:80", nf.VerdictDrop, nf.ReasonRuleDrop},
		{"10.0.0.66:1", "10.0.0.1:80", nf.VerdictDrop, nf.ReasonPolicyDrop}, // RETURN to INPUT, then policy
		{"10.0.0.66:1", "10.0.0.1:81", nf.VerdictDrop, nf.ReasonPolicyDrop}, // goto: RETURN ends INPUT
		{"10.0.0.1:1", "10.0.0.1:23", nf.VerdictDrop, nf.ReasonPolicyDrop},
	}
	for _, tt := range tests {
		p := pkt(tcp(tt.src, tt.dst, syn), "eth0", "")
		p.Reset()
		p = pkt(tcp(tt.src, tt.dst, syn), "eth0", "")
		if v := rs.Hook(nf.HookInput, p); v != tt.want || p.DropReason != tt.reason {
			t.Errorf("%s -> %s: %v %q, want %v %q", tt.src, tt.dst, v, p.DropReason, tt.want, tt.reason)
		}
	}
	ts := rs.Export()
	in := ts[nf.TableFilter].Chain("INPUT")
	if in.Counters.Packets != 3 || in.Rules[0].Counters.Packets != 3 || in.Rules[0].Counters.Bytes != 3*40 {
		t.Errorf("counters: policy %+v, rule 1 %+v", in.Counters, in.Rules[0].Counters)
	}
	if got := env.Drops()[nf.ReasonPolicyDrop]; got != 3 {
		t.Errorf("policy drops counted %d, want 3", got)
	}
}

func TestCompileRejects(t *testing.T) {
	tests := []struct {
		name string
		cmds []string
	}{
		{"loop", []string{"-N a", "-N b", "-A a -j b", "-A b -j a"}},
		{"self loop", []string{"-N a", "-A a -j a"}},
	}
	for _, tt := range tests {
		if _, err := nf.Compile(tables(t, tt.cmds...), nil); err == nil {
			t.Errorf("%s: Compile accepted", tt.name)
		}
	}
	// A chain of 17 nested jumps is one more than the jump stack holds.
	var cmds []string
	for i := 0; i <= nf.MaxJumpDepth; i++ {
		cmds = append(cmds, "-N c"+string(rune('a'+i)))
	}
	cmds = append(cmds, "-A INPUT -j ca")
	for i := 0; i < nf.MaxJumpDepth; i++ {
		cmds = append(cmds, "-A c"+string(rune('a'+i))+" -j c"+string(rune('a'+i+1)))
	}
	if _, err := nf.Compile(tables(t, cmds...), nil); err == nil {
		t.Errorf("Compile accepted %d nested jumps", nf.MaxJumpDepth+1)
	}
	if _, err := nf.Compile(tables(t, cmds[:len(cmds)-1]...), nil); err != nil {
		t.Errorf("Compile refused %d nested jumps: %v", nf.MaxJumpDepth, err)
	}
}

func TestRejectReplies(t *testing.T) {
	tests := []struct {
		with  string
		frame []byte
		check func(t *testing.T, reply []byte)
	}{
		{"", tcp("10.0.0.7:40000", "10.0.0.1:80", syn), func(t *testing.T, r []byte) {
			ip := packet.IPv4(r)
			icmp := ip.Payload()
			if ip.Protocol() != packet.ProtoICMP || icmp[0] != 3 || icmp[1] != 3 || ip.TOS() != 0xc0 {
				t.Errorf("port unreachable: proto %d type %d code %d tos %#x", ip.Protocol(), icmp[0], icmp[1], ip.TOS())
			}
			if packet.Checksum(icmp) != 0 || !ip.ChecksumValid() {
				t.Errorf("checksums wrong")
			}
			if packet.IPv4(icmp[8:]).Dst() != [4]byte{10, 0, 0, 1} {
				t.Errorf("embedded header is not the original")
			}
		}},
		{"--reject-with icmp-admin-prohibited", udp("10.0.0.7:1", "10.0.0.1:53"), func(t *testing.T, r []byte) {
			if c := packet.IPv4(r).Payload()[1]; c != 13 {
				t.Errorf("code %d, want 13", c)
			}
		}},
		{"--reject-with tcp-reset", tcp("10.0.0.7:40000", "10.0.0.1:80", syn), func(t *testing.T, r []byte) {
			ip := packet.IPv4(r)
			th := packet.TCP(ip.Payload())
			if th.Flags() != packet.TCPFlagRST|packet.TCPFlagACK || th.SrcPort() != 80 || th.DstPort() != 40000 || ip.FlagsFrag() != 0x4000 {
				t.Errorf("reset: flags %#x ports %d->%d frag %#x", th.Flags(), th.SrcPort(), th.DstPort(), ip.FlagsFrag())
			}
			orig := packet.TCP(tcp("10.0.0.7:40000", "10.0.0.1:80", syn)[34:])
			if th.Ack() != orig.Seq()+1 { // the SYN occupies one sequence number
				t.Errorf("reset ack %d, want %d", th.Ack(), orig.Seq()+1)
			}
			if packet.Sum(th, ip.PseudoHeaderSum(len(th))) != 0xffff {
				t.Errorf("TCP checksum wrong")
			}
		}},
	}
	for _, tt := range tests {
		proto := "tcp"
		if tt.frame[23] == 17 {
			proto = "udp"
		}
		rs := compile(t, newEnv(), "-A INPUT -p "+proto+" -j REJECT "+tt.with)
		p := pkt(tt.frame, "eth0", "")
		if v := rs.Hook(nf.HookInput, p); v != nf.VerdictReject || p.DropReason != nf.ReasonReject {
			t.Fatalf("REJECT %s: verdict %v %q", tt.with, v, p.DropReason)
		}
		tt.check(t, p.Reply)
	}
}

// TestLogLine checks the LOG line against the kernel's format.
func TestLogLine(t *testing.T) {
	p := pkt(tcp("10.0.0.7:40000", "10.0.0.1:80", syn), "eth0", "")
	got := nf.FormatLogLine(p, 0)
	want := "IN=eth0 OUT= MAC=02:00:00:00:00:0b:02:00:00:00:00:0a:08:00 SRC=10.0.0.7 DST=10.0.0.1 LEN=40 TOS=0x00 PREC=0x00 TTL=64 ID=0 PROTO=TCP SPT=40000 DPT=80 WINDOW=65535 RES=0x00 SYN URGP=0 "
	if got != want {
		t.Errorf("log line\n got %q\nwant %q", got, want)
	}
}
