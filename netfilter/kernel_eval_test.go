package netfilter_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"tapestry/conntrack"
	"tapestry/flow"
	"tapestry/internal/hosttest"
	"tapestry/iptables"
	"tapestry/link"
	nf "tapestry/netfilter"
	"tapestry/packet"
)

// The evaluation differential test: a kernel namespace routes between two
// TAP devices the test holds; the same packets go through the kernel and
// through tapestry's netfilter, and each packet's fate and rewrite and the
// per-rule counters must agree.
//
//	host A 10.1.0.2/.3 --[tpk-ea]-- router 10.1.0.1 | 10.2.0.1 --[tpk-eb]-- host B 10.2.0.2/.3
//
// After each test packet the test writes a sentinel A->B and one B->A
// (UDP port 9, accepted first in every chain) from the same CPU, so the
// kernel's per-CPU backlog processes them after the packet: what a TAP
// yields before its sentinel is what the packet caused.

var (
	routerA = packet.MustMAC("02:00:00:00:01:01")
	routerB = packet.MustMAC("02:00:00:00:02:01")
	hostMAC = map[string]packet.MAC{
		"10.1.0.2": packet.MustMAC("02:00:00:00:01:02"), "10.1.0.3": packet.MustMAC("02:00:00:00:01:03"),
		"10.2.0.2": packet.MustMAC("02:00:00:00:02:02"), "10.2.0.3": packet.MustMAC("02:00:00:00:02:03"),
	}
	hostsA = []string{"10.1.0.2", "10.1.0.3"}
	hostsB = []string{"10.2.0.2", "10.2.0.3"}
)

const sentinelPort = 9

// step is one packet of a scenario: a frame written on side A or B, or a
// reply to an earlier step (built from what that step produced).
type step struct {
	sideB   bool
	frame   []byte
	replyTo int // >= 0: build the reply to that step's output
	flags   uint16
}

// outcome is what a packet caused: the IP datagram forwarded out the
// other side, and the replies sent back out its own side.
type outcome struct {
	forwarded []byte
	replies   [][]byte
}

func (o outcome) String() string {
	var b strings.Builder
	if o.forwarded == nil {
		b.WriteString("not forwarded")
	} else {
		fmt.Fprintf(&b, "forwarded %s", describe(o.forwarded))
	}
	for _, r := range o.replies {
		fmt.Fprintf(&b, "; reply %s", describe(r))
	}
	return b.String()
}

func describe(ipb []byte) string {
	ip := packet.IPv4(ipb)
	s := fmt.Sprintf("%v->%v proto %d tos %#x ttl %d len %d", netip.AddrFrom4(ip.Src()), netip.AddrFrom4(ip.Dst()), ip.Protocol(), ip.TOS(), ip.TTL(), ip.TotalLen())
	l4 := ipb[ip.HeaderLen():]
	switch ip.Protocol() {
	case packet.ProtoTCP, packet.ProtoUDP:
		s += fmt.Sprintf(" ports %d->%d", binary.BigEndian.Uint16(l4), binary.BigEndian.Uint16(l4[2:]))
		if ip.Protocol() == packet.ProtoTCP {
			s += fmt.Sprintf(" flags %#x", packet.TCP(l4).Flags())
		}
	case packet.ProtoICMP:
		s += fmt.Sprintf(" icmp %d/%d", l4[0], l4[1])
	}
	return s
}

// sameOutcome compares a forwarded datagram byte for byte, and replies
// byte for byte from the transport header on, plus addresses, protocol,
// TOS and TTL (the kernel picks the ICMP error's IP id).
func sameOutcome(k, m outcome) bool {
	if !bytes.Equal(k.forwarded, m.forwarded) || len(k.replies) != len(m.replies) {
		return false
	}
	for i := range k.replies {
		a, b := packet.IPv4(k.replies[i]), packet.IPv4(m.replies[i])
		if a.Src() != b.Src() || a.Dst() != b.Dst() || a.Protocol() != b.Protocol() || a.TOS() != b.TOS() || a.TTL() != b.TTL() ||
			!bytes.Equal(a[a.HeaderLen():], b[b.HeaderLen():]) {
			return false
		}
	}
	return true
}

func TestKernelEvalDifferential(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	hosttest.Need(t, "iptables-restore", "iptables")
	for seed := 0; seed < 8; seed++ {
		rng := rand.New(rand.NewPCG(uint64(seed), 11))
		rules := genEvalRules(rng)
		steps := genSteps(rng, 40)
		k, kc, kerr := runKernel(t, rules, steps)
		if _, err := iptables.Restore(nf.Tables{}, rules, iptables.RestoreOptions{}); (err != nil) != (kerr != nil) {
			t.Fatalf("seed %d: kernel restore error %v, tapestry %v", seed, kerr, err)
		}
		if kerr != nil {
			continue
		}
		m, mc := runModel(t, rules, steps)
		bad := firstDiff(k, m)
		if bad < 0 && kc == mc {
			continue
		}
		if bad >= 0 {
			t.Errorf("seed %d: packet %d (%s): kernel %v; tapestry %v", seed, bad, describe(steps[bad].frame[14:]), k[bad], m[bad])
		} else {
			var ks, ms []string
			runKernel(t, rules, steps, &ks)
			runModel(t, rules, steps, &ms)
			i := 0
			for i < len(ks) && i < len(ms) && ks[i] == ms[i] {
				i++
			}
			t.Errorf("seed %d: counters differ after packet %d (%s) (-kernel +tapestry):\n%s", seed, i, describe(resolve(steps, i, m)[14:]), lineDiff(ks[i], ms[i]))
		}
		t.Logf("smallest ruleset that differs:\n%s", shrink(t, rules, steps))
		return
	}
}

func firstDiff(k, m []outcome) int {
	for i := range k {
		if !sameOutcome(k[i], m[i]) {
			return i
		}
	}
	return -1
}

func lineDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	var out []string
	for i := range max(len(al), len(bl)) {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			out = append(out, "- "+x, "+ "+y)
		}
	}
	return strings.Join(out, "\n")
}

// shrink removes rules while the kernel and tapestry still disagree.
func shrink(t *testing.T, rules string, steps []step) string {
	lines := strings.Split(rules, "\n")
	differs := func(ls []string) bool {
		r := strings.Join(ls, "\n")
		k, kc, kerr := runKernel(t, r, steps)
		if kerr != nil {
			return false
		}
		m, mc := runModel(t, r, steps)
		return firstDiff(k, m) >= 0 || kc != mc
	}
	for i := len(lines) - 1; i >= 0; i-- {
		if !strings.HasPrefix(lines[i], "-A ") || strings.Contains(lines[i], "--dport 9 -j ACCEPT") {
			continue
		}
		try := append(append([]string{}, lines[:i]...), lines[i+1:]...)
		if differs(try) {
			lines = try
		}
	}
	return strings.Join(lines, "\n")
}

// genEvalRules writes a random forwarding ruleset. Every built-in chain
// starts by accepting the sentinels; OUTPUT chains hold nothing else.
func genEvalRules(rng *rand.Rand) string {
	pick := func(s ...string) string { return s[rng.IntN(len(s))] }
	var b strings.Builder
	tables := []struct {
		name   string
		chains []string
	}{
		{"raw", []string{"PREROUTING", "OUTPUT"}},
		{"mangle", []string{"PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"}},
		{"nat", []string{"PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"}},
		{"filter", []string{"INPUT", "FORWARD", "OUTPUT"}},
	}
	for _, tb := range tables {
		fmt.Fprintf(&b, "*%s\n", tb.name)
		for _, c := range tb.chains {
			pol := "ACCEPT"
			if tb.name == "filter" && c == "FORWARD" && rng.IntN(3) == 0 {
				pol = "DROP"
			}
			fmt.Fprintf(&b, ":%s %s [0:0]\n", c, pol)
		}
		user := tb.name + "_u"
		fmt.Fprintf(&b, ":%s - [0:0]\n", user)
		for _, c := range tb.chains {
			fmt.Fprintf(&b, "-A %s -p udp --dport 9 -j ACCEPT\n", c)
		}
		for range 12 {
			chain := pick(tb.chains...)
			if chain == "OUTPUT" || chain == "INPUT" {
				chain = user
			}
			var parts []string
			add := func(s string) { parts = append(parts, s) }
			proto := pick("", "tcp", "udp", "icmp")
			if rng.IntN(3) == 0 {
				add(pick("-s 10.1.0.2", "-s 10.1.0.0/24", "! -s 10.1.0.3", "-d 10.2.0.2", "-d 10.2.0.0/24", "! -d 10.2.0.3"))
			}
			if chain != "POSTROUTING" && chain != user && rng.IntN(4) == 0 {
				add(pick("-i tpk-ea", "-i tpk-eb", "-i tpk-e+", "! -i tpk-ea"))
			}
			if chain != "PREROUTING" && chain != user && rng.IntN(4) == 0 {
				add(pick("-o tpk-eb", "-o tpk-ea", "! -o tpk-eb"))
			}
			if proto != "" {
				add("-p " + proto)
			}
			switch proto {
			case "tcp":
				add(pick("", "--dport 80", "--dport 22", "--sport 1000:2000", "--syn", "! --syn", "--tcp-flags SYN,ACK ACK", "-m multiport --dports 22,80,443"))
			case "udp":
				add(pick("", "--dport 53", "! --dport 53", "--sport 5000:6000"))
			case "icmp":
				add(pick("", "--icmp-type echo-request", "--icmp-type echo-reply"))
			}
			add(pick("", "", "-m conntrack --ctstate NEW", "-m state --state ESTABLISHED,RELATED", "-m conntrack --ctstate INVALID",
				"-m mark --mark 1", "-m mark ! --mark 0x2/0x2", "-m connmark --mark 5", "-m tos --tos 0x10", "-m dscp --dscp 10",
				"-m ttl --ttl-lt 10", "-m length --length 0:60", "-m iprange --src-range 10.1.0.2-10.1.0.2",
				"-m iprange --src-range 10.1.0.3-10.1.0.3", "-m conntrack --ctstate DNAT", "-m conntrack --ctdir REPLY",
				"-m addrtype --dst-type LOCAL", "-m comment --comment x"))
			if chain == "PREROUTING" && rng.IntN(6) == 0 {
				add("-m mac --mac-source 02:00:00:00:01:03")
			}
			add(evalTarget(rng, tb.name, chain, proto, user))
			fmt.Fprintf(&b, "-A %s %s\n", chain, strings.Join(strings.Fields(strings.Join(parts, " ")), " "))
		}
		b.WriteString("COMMIT\n")
	}
	return b.String()
}

func evalTarget(rng *rand.Rand, table, chain, proto, user string) string {
	opts := []string{"", "-j ACCEPT", "-j RETURN", "-j MARK --set-mark 1", "-j MARK --or-mark 2", "-j CONNMARK --set-mark 5", "-j CONNMARK --restore-mark", "-j CONNMARK --save-mark"}
	if chain != user {
		opts = append(opts, "-j "+user, "-g "+user)
	}
	if table != "nat" {
		opts = append(opts, "-j DROP")
	}
	ports := proto == "tcp" || proto == "udp"
	switch table {
	case "raw":
		opts = append(opts, "-j CT --notrack")
	case "mangle":
		opts = append(opts, "-j TOS --set-tos 0x10", "-j TOS --or-tos 0x08", "-j DSCP --set-dscp 10", "-j TTL --ttl-set 33", "-j TTL --ttl-inc 5", "-j TTL --ttl-dec 2")
	case "nat":
		switch chain {
		case "PREROUTING":
			opts = append(opts, "-j DNAT --to-destination 10.2.0.3")
			if ports {
				opts = append(opts, "-j DNAT --to-destination 10.2.0.2:8080")
			}
		case "POSTROUTING":
			opts = append(opts, "-o tpk-eb -j MASQUERADE", "-o tpk-eb -j SNAT --to-source 10.2.0.1")
			if ports {
				opts = append(opts, "-o tpk-eb -j SNAT --to-source 10.2.0.1:2000")
			}
		}
	case "filter":
		if chain == "FORWARD" {
			opts = append(opts, "-j REJECT", "-j REJECT --reject-with icmp-host-prohibited")
			if proto == "tcp" {
				opts = append(opts, "-j REJECT --reject-with tcp-reset")
			}
		}
	}
	return opts[rng.IntN(len(opts))]
}

// genSteps writes a scenario: flows opened from A with replies from B,
// and stray packets from B.
func genSteps(rng *rand.Rand, n int) []step {
	var steps []step
	for len(steps) < n {
		a := hostsA[rng.IntN(2)]
		b := hostsB[rng.IntN(2)]
		tos := []uint8{0, 0x10, 0x28}[rng.IntN(3)]
		ttl := []uint8{64, 6}[rng.IntN(2)]
		switch rng.IntN(5) {
		case 0, 1: // TCP handshake and data
			// Every flow has its own source port: the kernel picks a
			// random port when tuples clash (nf_nat_l4proto_unique_tuple),
			// which no model can predict.
			sp := uint16(1000 + len(steps)*7)
			dp := []uint16{22, 80, 443}[rng.IntN(3)]
			first := len(steps)
			steps = append(steps, step{frame: tcpFrame(a, b, sp, dp, packet.TCPFlagSYN, tos, ttl, 0), replyTo: -1})
			steps = append(steps, step{sideB: true, replyTo: first, flags: packet.TCPFlagSYN | packet.TCPFlagACK})
			steps = append(steps, step{frame: tcpFrame(a, b, sp, dp, packet.TCPFlagACK|packet.TCPFlagPSH, tos, ttl, rng.IntN(100)), replyTo: -1})
		case 2: // UDP and its reply
			first := len(steps)
			steps = append(steps, step{frame: udpFrame(a, b, 5000+uint16(len(steps)), []uint16{53, 123}[rng.IntN(2)], tos, ttl, rng.IntN(200)), replyTo: -1})
			steps = append(steps, step{sideB: true, replyTo: first})
		case 3: // ping
			first := len(steps)
			f := packet.ICMPEcho(hostMAC[a], routerA, ip(a), ip(b), uint16(len(steps)), 1, make([]byte, rng.IntN(64)), false)
			setTOSTTL(f, tos, ttl)
			steps = append(steps, step{frame: f, replyTo: -1})
			steps = append(steps, step{sideB: true, replyTo: first})
		case 4: // stray segment from outside
			steps = append(steps, step{sideB: true, frame: tcpFrame(b, a, 4000+uint16(len(steps)), []uint16{22, 80}[rng.IntN(2)], []uint16{packet.TCPFlagSYN, packet.TCPFlagACK, packet.TCPFlagSYN | packet.TCPFlagACK}[rng.IntN(3)], tos, 64, 0), replyTo: -1})
		}
	}
	return steps[:n]
}

func tcpFrame(src, dst string, sp, dp, flags uint16, tos, ttl uint8, n int) []byte {
	f := packet.TCPSegment(hostMAC[src], routerFor(src), netip.AddrPortFrom(ip(src), sp), netip.AddrPortFrom(ip(dst), dp), flags, make([]byte, n))
	setTOSTTL(f, tos, ttl)
	return f
}

func udpFrame(src, dst string, sp, dp uint16, tos, ttl uint8, n int) []byte {
	f := packet.UDPDatagram(hostMAC[src], routerFor(src), netip.AddrPortFrom(ip(src), sp), netip.AddrPortFrom(ip(dst), dp), make([]byte, n))
	setTOSTTL(f, tos, ttl)
	return f
}

func routerFor(src string) packet.MAC {
	if strings.HasPrefix(src, "10.2.") {
		return routerB
	}
	return routerA
}

func setTOSTTL(f []byte, tos, ttl uint8) {
	packet.SetIPv4TOS(f, 14, tos)
	packet.SetIPv4TTL(f, 14, ttl)
}

// reply builds the answer to a datagram as the far host would send it.
func reply(ipb []byte, flags uint16) []byte {
	ip := packet.IPv4(ipb)
	src, dst := netip.AddrFrom4(ip.Dst()), netip.AddrFrom4(ip.Src())
	l4 := ipb[ip.HeaderLen():]
	var f []byte
	switch ip.Protocol() {
	case packet.ProtoTCP:
		f = packet.TCPSegment(hostMAC[src.String()], routerFor(src.String()), netip.AddrPortFrom(src, binary.BigEndian.Uint16(l4[2:])), netip.AddrPortFrom(dst, binary.BigEndian.Uint16(l4)), flags, nil)
	case packet.ProtoUDP:
		f = packet.UDPDatagram(hostMAC[src.String()], routerFor(src.String()), netip.AddrPortFrom(src, binary.BigEndian.Uint16(l4[2:])), netip.AddrPortFrom(dst, binary.BigEndian.Uint16(l4)), []byte("re"))
	default:
		f = packet.ICMPEcho(hostMAC[src.String()], routerFor(src.String()), src, dst, binary.BigEndian.Uint16(l4[4:]), 1, nil, true)
	}
	return f
}

// resolve returns the frame of step i given earlier outcomes.
func resolve(steps []step, i int, outs []outcome) []byte {
	s := steps[i]
	if s.replyTo < 0 {
		return s.frame
	}
	prev := outs[s.replyTo].forwarded
	if prev == nil {
		prev = resolve(steps, s.replyTo, outs)[14:]
	}
	if _, ok := hostMAC[netip.AddrFrom4(packet.IPv4(prev).Dst()).String()]; !ok {
		prev = resolve(steps, s.replyTo, outs)[14:]
	}
	return reply(prev, s.flags)
}

func sentinel(src, dst string, n int) []byte {
	return packet.UDPDatagram(hostMAC[src], routerFor(src), netip.AddrPortFrom(ip(src), sentinelPort), netip.AddrPortFrom(ip(dst), sentinelPort), []byte(fmt.Sprintf("tpk-sentinel-%d", n)))
}

func isSentinel(ipb []byte, n int) bool {
	return bytes.HasSuffix(ipb, []byte(fmt.Sprintf("tpk-sentinel-%d", n)))
}

// ---- the model side ----

type routerAddrs struct{}

func (routerAddrs) PrimaryAddr(dev string) (netip.Addr, bool) {
	switch dev {
	case "tpk-ea":
		return ip("10.1.0.1"), true
	case "tpk-eb":
		return ip("10.2.0.1"), true
	}
	return netip.Addr{}, false
}

func (routerAddrs) AddrType(a netip.Addr, dev string) nf.AddrType {
	if (a == ip("10.1.0.1") || a == ip("10.2.0.1")) && dev == "" {
		return nf.AddrLocal
	}
	if a == ip("10.1.0.255") || a == ip("10.2.0.255") {
		return nf.AddrBroadcast
	}
	return nf.AddrUnicast
}

func runModel(t *testing.T, rules string, steps []step, perStep ...*[]string) ([]outcome, string) {
	ts, err := iptables.Restore(nf.Tables{}, rules, iptables.RestoreOptions{})
	if err != nil {
		t.Fatalf("tapestry restore: %v", err)
	}
	env := &nf.Env{Conntrack: conntrack.New(0), Addrs: routerAddrs{}}
	rs, err := nf.Compile(ts, env)
	if err != nil {
		t.Fatal(err)
	}
	outs := make([]outcome, len(steps))
	for i := range steps {
		f := append([]byte(nil), resolve(steps, i, outs)...)
		in := "tpk-ea"
		if steps[i].sideB {
			in = "tpk-eb"
		}
		outs[i] = modelRoute(rs, env, f, in)
		// The sentinels, as the kernel sees them.
		modelRoute(rs, env, sentinel(hostsA[0], hostsB[0], i), "tpk-ea")
		modelRoute(rs, env, sentinel(hostsB[0], hostsA[0], i), "tpk-eb")
		if len(perStep) > 0 {
			*perStep[0] = append(*perStep[0], iptables.Save(rs.Export(), iptables.SaveOptions{Counters: true}))
		}
	}
	return outs, iptables.Save(rs.Export(), iptables.SaveOptions{Counters: true})
}

// modelRoute is the kernel's forwarding path around the hooks.
func modelRoute(rs *nf.Ruleset, env *nf.Env, frame []byte, in string) outcome {
	p := pkt(frame, in, "")
	if rs.Hook(nf.HookPrerouting, p) != nf.VerdictAccept {
		return outcome{}
	}
	// The route: 10.1.0.0/24 is out tpk-ea, everything else out tpk-eb
	// (DNAT may send a packet back out the side it came in).
	out := "tpk-eb"
	if p.Key.NwDst[1] == 1 {
		out = "tpk-ea"
	}
	p.Out = out
	if p.Key.NwTTL <= 1 {
		return outcome{} // time exceeded; the scenarios avoid it
	}
	packet.DecTTL(p.Frame, int(p.Off.L3))
	p.Key.NwTTL--
	switch rs.Hook(nf.HookForward, p) {
	case nf.VerdictDrop:
		return outcome{}
	case nf.VerdictReject:
		return outcome{replies: modelReject(rs, p)}
	}
	if rs.Hook(nf.HookPostrouting, p) != nf.VerdictAccept {
		return outcome{}
	}
	end := int(p.Off.L3) + int(packet.IPv4(p.Frame[p.Off.L3:]).TotalLen())
	if out == in {
		return outcome{replies: [][]byte{p.Frame[p.Off.L3:end]}}
	}
	return outcome{forwarded: p.Frame[p.Off.L3:end]}
}

// modelReject sends REJECT's reply through OUTPUT and POSTROUTING.
func modelReject(rs *nf.Ruleset, orig *nf.Packet) [][]byte {
	r := pkt(packet.IPFrame(routerA, routerA, append([]byte(nil), orig.Reply...)), "", orig.In)
	// The kernel attaches the offending packet's connection to the reply
	// (the reset and the ICMP error alike), even an unconfirmed one.
	if orig.Conn != nil {
		r.Attach(orig.Conn, orig.CtInfo)
	}
	for _, h := range []nf.Hook{nf.HookOutput, nf.HookPostrouting} {
		if rs.Hook(h, r) != nf.VerdictAccept {
			return nil
		}
	}
	return [][]byte{r.Frame[r.Off.L3:]}
}

// ---- the kernel side ----

func sh(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func runKernel(t *testing.T, rules string, steps []step, perStep ...*[]string) ([]outcome, string, error) {
	const ns = "tpk-ev"
	exec.Command("ip", "netns", "del", ns).Run()
	sh(t, "", "ip", "netns", "add", ns)
	defer exec.Command("ip", "netns", "del", ns).Run()
	ta, err := link.OpenTAP("tpk-ea", true)
	if err != nil {
		t.Fatal(err)
	}
	defer ta.Close()
	tb, err := link.OpenTAP("tpk-eb", true)
	if err != nil {
		t.Fatal(err)
	}
	defer tb.Close()
	sh(t, "", "ip", "link", "set", "tpk-ea", "netns", ns)
	sh(t, "", "ip", "link", "set", "tpk-eb", "netns", ns)
	restore := exec.Command("ip", "netns", "exec", ns, "iptables-restore")
	restore.Stdin = strings.NewReader(rules)
	if out, err := restore.CombinedOutput(); err != nil {
		return nil, "", fmt.Errorf("%v: %s", err, out)
	}
	script := `set -e
sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 net.ipv4.conf.all.send_redirects=0
sysctl -qw net.netfilter.nf_conntrack_tcp_be_liberal=1 net.netfilter.nf_conntrack_checksum=1
# ICMP rate limiting belongs to the stack, not netfilter: off.
sysctl -qw net.ipv4.icmp_ratelimit=0 net.ipv4.icmp_msgs_per_sec=100000 net.ipv4.icmp_msgs_burst=100000
for d in tpk-ea tpk-eb; do sysctl -qw net.ipv6.conf.$d.disable_ipv6=1 net.ipv4.conf.$d.rp_filter=0 net.ipv4.conf.$d.send_redirects=0; done
ip link set lo up
ip link set tpk-ea address 02:00:00:00:01:01 up
ip link set tpk-eb address 02:00:00:00:02:01 up
ip addr add 10.1.0.1/24 dev tpk-ea
ip addr add 10.2.0.1/24 dev tpk-eb
ip neigh replace 10.1.0.2 lladdr 02:00:00:00:01:02 dev tpk-ea nud permanent
ip neigh replace 10.1.0.3 lladdr 02:00:00:00:01:03 dev tpk-ea nud permanent
ip neigh replace 10.2.0.2 lladdr 02:00:00:00:02:02 dev tpk-eb nud permanent
ip neigh replace 10.2.0.3 lladdr 02:00:00:00:02:03 dev tpk-eb nud permanent
`
	sh(t, script, "ip", "netns", "exec", ns, "sh")
	ra, rb := reader(ta), reader(tb)

	// One CPU for every write: the packets then share one backlog queue
	// and are processed in the order written.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var set unix.CPUSet
	set.Set(0)
	unix.SchedSetaffinity(0, &set)

	outs := make([]outcome, len(steps))
	for i := range steps {
		f := resolve(steps, i, outs)
		own, ownR, otherR := ta, ra, rb
		if steps[i].sideB {
			own, ownR, otherR = tb, rb, ra
		}
		if _, err := own.Write([][]byte{f}); err != nil {
			t.Fatal(err)
		}
		ta.Write([][]byte{sentinel(hostsA[0], hostsB[0], i)})
		tb.Write([][]byte{sentinel(hostsB[0], hostsA[0], i)})
		fwd := collect(t, otherR, i)
		rep := collect(t, ownR, i)
		if len(fwd) > 0 {
			outs[i].forwarded = fwd[0]
		}
		outs[i].replies = rep
		if len(perStep) > 0 {
			kt, err := iptables.Restore(nf.Tables{}, sh(t, "", "ip", "netns", "exec", ns, "iptables-save", "-c"), iptables.RestoreOptions{Counters: true})
			if err != nil {
				t.Fatal(err)
			}
			*perStep[0] = append(*perStep[0], iptables.Save(kt, iptables.SaveOptions{Counters: true}))
		}
	}
	var all unix.CPUSet
	for c := range runtime.NumCPU() {
		all.Set(c)
	}
	unix.SchedSetaffinity(0, &all)
	save := sh(t, "", "ip", "netns", "exec", ns, "iptables-save", "-c")
	kt, err := iptables.Restore(nf.Tables{}, save, iptables.RestoreOptions{Counters: true})
	if err != nil {
		t.Fatalf("reading the kernel's counters: %v", err)
	}
	return outs, iptables.Save(kt, iptables.SaveOptions{Counters: true}), nil
}

func reader(tp *link.TAP) chan []byte {
	ch := make(chan []byte, 256)
	go func() {
		bufs := [][]byte{make([]byte, 2048)}
		sizes := []int{0}
		for {
			n, err := tp.Read(bufs, sizes, 0)
			if err != nil {
				close(ch)
				return
			}
			for i := range n {
				f := bufs[i][:sizes[i]]
				if len(f) >= 34 && binary.BigEndian.Uint16(f[12:]) == flow.EthTypeIPv4 {
					ch <- append([]byte(nil), f[14:]...)
				}
			}
		}
	}()
	return ch
}

// collect returns the datagrams read before sentinel n.
func collect(t *testing.T, ch chan []byte, n int) [][]byte {
	var got [][]byte
	deadline := time.After(5 * time.Second) // a lost sentinel is a broken setup, not a slow kernel
	for {
		select {
		case d, ok := <-ch:
			if !ok {
				t.Fatal("TAP closed")
			}
			if isSentinel(d, n) {
				return got
			}
			got = append(got, d)
		case <-deadline:
			t.Fatalf("sentinel %d never arrived", n)
		}
	}
}
