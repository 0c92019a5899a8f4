package iptables

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// genRuleset writes a random iptables-restore input: n rules spread over
// the four tables, user chains, and a vocabulary of every match and target
// the package supports, spelled the many ways iptables accepts.
func genRuleset(rng *rand.Rand, n int) string {
	g := &gen{rng: rng}
	var b strings.Builder
	for _, tbl := range []string{"raw", "mangle", "nat", "filter"} {
		chains := builtin[tbl]
		users := []string{}
		for i := range rng.IntN(3) {
			users = append(users, fmt.Sprintf("%s_u%d", tbl, i))
		}
		fmt.Fprintf(&b, "*%s\n", tbl)
		for _, c := range chains {
			pol := "ACCEPT"
			if tbl == "filter" && rng.IntN(3) == 0 {
				pol = "DROP"
			}
			fmt.Fprintf(&b, ":%s %s [0:0]\n", c, pol)
		}
		for _, u := range users {
			fmt.Fprintf(&b, ":%s - [0:0]\n", u)
		}
		for range n / 4 {
			all := append(append([]string{}, chains...), users...)
			ci := rng.IntN(len(all))
			chain := all[ci]
			// Jumps only go to later user chains: no loops.
			var later []string
			for j, u := range users {
				if len(chains)+j > ci {
					later = append(later, u)
				}
			}
			fmt.Fprintf(&b, "-A %s %s\n", chain, g.rule(tbl, chain, later))
		}
		b.WriteString("COMMIT\n")
	}
	return b.String()
}

var builtin = map[string][]string{
	"raw":    {"PREROUTING", "OUTPUT"},
	"mangle": {"PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"},
	"nat":    {"PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"},
	"filter": {"INPUT", "FORWARD", "OUTPUT"},
}

type gen struct{ rng *rand.Rand }

func (g *gen) pick(s ...string) string { return s[g.rng.IntN(len(s))] }
func (g *gen) maybe(p int) bool        { return g.rng.IntN(100) < p }
func (g *gen) inv() string {
	if g.maybe(20) {
		return "! "
	}
	return ""
}
func (g *gen) addr() string {
	a := fmt.Sprintf("10.%d.%d.%d", g.rng.IntN(4), g.rng.IntN(256), g.rng.IntN(256))
	switch g.rng.IntN(4) {
	case 0:
		return a
	case 1:
		return a + "/32"
	case 2:
		return a + fmt.Sprintf("/%d", 8+g.rng.IntN(25))
	}
	return a + "/255.255.0.0"
}
func (g *gen) port() string { return fmt.Sprint(g.rng.IntN(65536)) }
func (g *gen) ports() string {
	if g.maybe(30) {
		a, b := g.rng.IntN(30000), 30000+g.rng.IntN(30000)
		return fmt.Sprintf("%d:%d", a, b)
	}
	return g.port()
}

func (g *gen) rule(tbl, chain string, users []string) string {
	var parts []string
	add := func(s string) { parts = append(parts, s) }
	proto := g.pick("", "", "tcp", "tcp", "udp", "icmp", "47", "TCP")
	if g.maybe(30) {
		add(g.inv() + "-s " + g.addr())
	}
	if g.maybe(30) {
		add(g.inv() + "-d " + g.addr())
	}
	if chain != "OUTPUT" && chain != "POSTROUTING" && g.maybe(30) {
		add(g.inv() + "-i " + g.pick("eth0", "tun0", "veth+", "br-lan"))
	}
	if chain != "PREROUTING" && chain != "INPUT" && g.maybe(30) {
		add(g.inv() + "-o " + g.pick("eth1", "wg0", "eth+"))
	}
	if proto != "" {
		add("-p " + proto)
	}
	lp := strings.ToLower(proto)
	switch lp {
	case "tcp":
		if g.maybe(50) {
			add(g.inv() + g.pick("--dport ", "--destination-port ") + g.ports())
		}
		if g.maybe(30) {
			add(g.inv() + "--sport " + g.ports())
		}
		if g.maybe(20) {
			add(g.pick("--syn", "--tcp-flags SYN,ACK SYN", "! --syn", "--tcp-flags ALL NONE", "--tcp-flags FIN,RST FIN"))
		}
	case "udp":
		if g.maybe(60) {
			add(g.inv() + "--dport " + g.ports())
		}
	case "icmp":
		if g.maybe(70) {
			add(g.inv() + "--icmp-type " + g.pick("echo-request", "8", "3/3", "port-unreachable", "time-exceeded", "0"))
		}
	}
	if (lp == "tcp" || lp == "udp") && g.maybe(20) {
		add("-m multiport " + g.inv() + g.pick("--dports ", "--sports ", "--ports ") + g.port() + "," + g.ports())
	}
	g.extraMatches(add)
	add(g.target(tbl, chain, lp, users))
	if g.maybe(30) && len(parts) > 1 && !strings.Contains(parts[len(parts)-1], "NAT") && !strings.Contains(parts[len(parts)-1], "--to-ports") {
		// iptables accepts the target and its options before the matches.
		parts = append([]string{parts[len(parts)-1]}, parts[:len(parts)-1]...)
	}
	return strings.Join(parts, " ")
}

func (g *gen) extraMatches(add func(string)) {
	if g.maybe(15) {
		add("-m mark " + g.inv() + "--mark " + g.pick("1", "0x10/0xf0", "0xff"))
	}
	if g.maybe(10) {
		add("-m connmark " + g.inv() + "--mark " + g.pick("2", "0x3/0x3"))
	}
	if g.maybe(15) {
		add("-m state " + g.inv() + "--state " + g.pick("NEW", "ESTABLISHED,RELATED", "INVALID", "NEW,ESTABLISHED"))
	}
	if g.maybe(15) {
		add("-m conntrack " + g.inv() + "--ctstate " + g.pick("NEW", "RELATED,ESTABLISHED", "DNAT", "UNTRACKED") +
			g.pick("", " --ctdir ORIGINAL", " --ctproto tcp", " --ctorigdst 10.0.0.1"))
	}
	if g.maybe(8) {
		add("-m iprange " + g.inv() + "--src-range 10.0.0.1-10.0.0.50")
	}
	if g.maybe(5) {
		add("-m tos " + g.inv() + "--tos " + g.pick("0x10", "Minimize-Delay", "0x08/0x0f"))
	}
	if g.maybe(5) {
		add("-m dscp " + g.inv() + g.pick("--dscp 10", "--dscp-class EF", "--dscp 0x2e"))
	}
	if g.maybe(5) {
		add("-m length " + g.inv() + "--length " + g.pick("100", "64:1500"))
	}
	if g.maybe(5) {
		add("-m limit --limit " + g.pick("5/sec", "10/minute", "3/hour", "1/day", "100/s") + g.pick("", " --limit-burst 20"))
	}
	if g.maybe(10) {
		add("-m comment --comment " + g.pick("ssh", `"allow web"`, "a_b-c"))
	}
	if g.maybe(5) {
		add("-m addrtype " + g.inv() + "--dst-type " + g.pick("LOCAL", "BROADCAST", "MULTICAST,BROADCAST"))
	}
	if g.maybe(5) {
		add("-m ttl " + g.pick("--ttl-eq 64", "--ttl-gt 5", "--ttl-lt 2", "! --ttl-eq 1"))
	}
}

func (g *gen) target(tbl, chain, proto string, users []string) string {
	hasPorts := proto == "tcp" || proto == "udp"
	opts := []string{"-j ACCEPT", "-j RETURN", "-j LOG --log-prefix \"fw: \"", "-j LOG --log-level info", ""}
	if len(users) > 0 {
		u := users[g.rng.IntN(len(users))]
		opts = append(opts, "-j "+u, "-g "+u)
	}
	opts = append(opts, "-j MARK --set-mark "+g.pick("1", "0x10/0xff"), "-j MARK --set-xmark 0x2/0x3", "-j MARK --or-mark 4",
		"-j CONNMARK --save-mark", "-j CONNMARK --restore-mark --nfmask 0xff --ctmask 0xff", "-j CONNMARK --set-mark 7")
	if tbl != "nat" {
		opts = append(opts, "-j DROP")
	}
	switch tbl {
	case "raw":
		opts = append(opts, "-j CT --notrack", "-j NOTRACK", "-j TRACE")
	case "mangle":
		opts = append(opts, "-j TOS --set-tos 0x10", "-j TOS --and-tos 0x3", "-j DSCP --set-dscp 10", "-j DSCP --set-dscp-class AF41", "-j TTL --ttl-set 64", "-j TTL --ttl-dec 1")
	case "nat":
		switch chain {
		case "PREROUTING", "OUTPUT":
			opts = append(opts, "-j DNAT --to-destination 192.168.1."+fmt.Sprint(1+g.rng.IntN(254)))
			if hasPorts {
				opts = append(opts, "-j DNAT --to-destination 192.168.1.5:8080", "-j REDIRECT --to-ports 3128")
			}
		case "POSTROUTING":
			opts = append(opts, "-j MASQUERADE", "-j SNAT --to-source 203.0.113.1")
			if hasPorts {
				opts = append(opts, "-j SNAT --to-source 203.0.113.1-203.0.113.9:1024-2048", "-j MASQUERADE --to-ports 1024-65535")
			}
		}
	case "filter":
		if chain != "INPUT" && chain != "FORWARD" && chain != "OUTPUT" {
			break
		}
		opts = append(opts, "-j REJECT", "-j REJECT --reject-with icmp-host-prohibited")
		if proto == "tcp" {
			opts = append(opts, "-j REJECT --reject-with tcp-reset")
		}
	}
	return g.pick(opts...)
}
