package e2e

import (
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// markNames names the devices of one run of the MARK scenario.
type markNames struct {
	clientTap string // the kernel client's TAP on the tapestry bridge
	routerIn  string // the router's internal port facing the client
}

// TestSeedMarkPolicyRouting is the seed's scenario with real traffic: a
// kernel client behind a TAP on a tapestry bridge sends TCP SYNs through a
// tapestry router whose mangle PREROUTING marks port 5222 on the
// interface facing the client; `ip rule fwmark 1 table 100` sends the
// marked traffic to next hop A, the rest leaves by the main table's
// default via next hop B. Each next hop is a kernel namespace that counts
// what reaches it with its own iptables.
//
//	tpq-c 10.91.0.10 -- tun0 -- tpq-b0 -- [tpqr] -- tpq-b1 -- tpq-ta -- tpq-a 10.92.0.2
//	                                            \-- tpq-b2 -- tpq-tb -- tpq-b 10.93.0.2
//
// It runs twice: with the seed's TAP name tun0 and the router's
// interface tpq-rc (rule -i tpq-rc), and with the router's interface
// itself named tun0 (the rule literally -i tun0).
func TestSeedMarkPolicyRouting(t *testing.T) {
	needRoot(t)
	for _, n := range []markNames{{"tun0", "tpq-rc"}, {"tpq-tc", "tun0"}} {
		t.Run("-i "+n.routerIn, func(t *testing.T) { runMarkScenario(t, n) })
	}
}

func runMarkScenario(t *testing.T, n markNames) {
	clean := func() {
		for _, ns := range []string{"tpq-c", "tpq-a", "tpq-b"} {
			quiet("ip", "netns", "del", ns)
		}
		for _, dev := range []string{n.clientTap, "tpq-ta", "tpq-tb"} {
			quiet("ip", "link", "del", dev)
		}
	}
	clean()
	t.Cleanup(clean)
	d := newDaemon(t)
	kernelHost := func(ns, tap, br, addr, gw string) {
		sh(t, "ip", "tuntap", "add", tap, "mode", "tap")
		d.run("vsctl", "add-port", br, tap)
		sh(t, "ip", "netns", "add", ns)
		sh(t, "ip", "link", "set", tap, "netns", ns)
		sh(t, "ip", "-n", ns, "addr", "add", addr, "dev", tap)
		sh(t, "ip", "-n", ns, "link", "set", tap, "up")
		sh(t, "ip", "-n", ns, "link", "set", "lo", "up")
		sh(t, "ip", "-n", ns, "route", "add", "default", "via", gw)
	}
	for _, br := range []string{"tpq-b0", "tpq-b1", "tpq-b2"} {
		d.run("vsctl", "add-br", br)
	}
	kernelHost("tpq-c", n.clientTap, "tpq-b0", "10.91.0.10/24", "10.91.0.1")
	kernelHost("tpq-a", "tpq-ta", "tpq-b1", "10.92.0.2/24", "10.92.0.1")
	kernelHost("tpq-b", "tpq-tb", "tpq-b2", "10.93.0.2/24", "10.93.0.1")
	// The destination is an address of both next hops, which answer the
	// SYNs with resets (no listener) and count them.
	for _, ns := range []string{"tpq-a", "tpq-b"} {
		sh(t, "ip", "-n", ns, "addr", "add", "198.51.100.10/32", "dev", "lo")
		sh(t, "ip", "netns", "exec", ns, "iptables", "-A", "INPUT", "-p", "tcp", "--dport", "5222")
		sh(t, "ip", "netns", "exec", ns, "iptables", "-A", "INPUT", "-p", "tcp", "--dport", "80")
	}
	rin := n.routerIn
	for _, l := range []string{
		"vsctl add-port tpq-b0 " + rin + " -- set interface " + rin + " type=internal",
		"vsctl add-port tpq-b1 tpq-ra -- set interface tpq-ra type=internal",
		"vsctl add-port tpq-b2 tpq-rb -- set interface tpq-rb type=internal",
		"netns add tpqr",
		"ip link set " + rin + " netns tpqr", "ip link set tpq-ra netns tpqr", "ip link set tpq-rb netns tpqr",
		"ip -n tpqr addr add 10.91.0.1/24 dev " + rin, "ip -n tpqr link set " + rin + " up",
		"ip -n tpqr addr add 10.92.0.1/24 dev tpq-ra", "ip -n tpqr link set tpq-ra up",
		"ip -n tpqr addr add 10.93.0.1/24 dev tpq-rb", "ip -n tpqr link set tpq-rb up",
		"ip netns exec tpqr sysctl -w net.ipv4.ip_forward=1",
		"ip netns exec tpqr iptables -t mangle -A PREROUTING -j MARK --set-mark 1 -i " + rin + " -p tcp --dport 5222",
		"ip -n tpqr rule add fwmark 1 table 100",
		"ip -n tpqr route add default via 10.92.0.2 table 100",
		"ip -n tpqr route add default via 10.93.0.2",
	} {
		d.run(strings.Fields(l)...)
	}
	// Resolve the router's neighbours first so that no SYN waits on ARP.
	for _, dst := range []string{"10.91.0.1", "10.92.0.1", "10.93.0.1"} {
		if !ping("tpq-c", dst, 1) {
			t.Fatalf("tpq-c cannot ping %s; daemon log:\n%s", dst, d.log.String())
		}
	}
	ping("tpq-a", "10.92.0.1", 1)
	ping("tpq-b", "10.93.0.1", 1)

	for _, port := range []string{"5222", "80"} {
		// Connection refused by the next hop's reset; the timeout only
		// bounds a lost reply.
		out, err := exec.Command("ip", "netns", "exec", "tpq-c", "timeout", "3", "bash", "-c", "echo > /dev/tcp/198.51.100.10/"+port).CombinedOutput()
		if err == nil || !strings.Contains(string(out), "Connection refused") {
			t.Errorf("connect to port %s: %v %s (want the next hop's reset)", port, err, out)
		}
	}
	want := map[string][2]bool{"tpq-a": {true, false}, "tpq-b": {false, true}} // saw 5222, saw 80
	for ns, w := range want {
		got5222, got80 := inputCount(t, ns, "5222"), inputCount(t, ns, "80")
		t.Logf("next hop %s: %d SYNs to 5222, %d to 80", ns, got5222, got80)
		if (got5222 > 0) != w[0] || (got80 > 0) != w[1] {
			t.Errorf("next hop %s saw %d SYNs to 5222 and %d to 80; want 5222 %v, 80 %v", ns, got5222, got80, w[0], w[1])
		}
	}

	save := d.run("ip", "netns", "exec", "tpqr", "iptables-save", "-c", "-t", "mangle")
	rule := regexp.MustCompile(`\[(\d+):\d+\] -A PREROUTING -i ` + regexp.QuoteMeta(rin) + ` -p tcp -m tcp --dport 5222 -j MARK --set-xmark 0x1/0xffffffff`)
	if m := rule.FindStringSubmatch(save); m == nil || m[1] == "0" {
		t.Errorf("router's MARK rule did not count the marked SYN:\n%s", save)
	}
	ct := d.run("ip", "netns", "exec", "tpqr", "conntrack", "-L", "-p", "tcp", "-s", "10.91.0.10")
	for _, port := range []string{"dport=5222", "dport=80"} {
		if !strings.Contains(ct, port) {
			t.Errorf("router conntrack has no connection with %s:\n%s", port, ct)
		}
	}
	if !strings.Contains(ct, "2 flow entries have been shown.") {
		t.Errorf("router conntrack -L -p tcp -s 10.91.0.10:\n%s", ct)
	}
	// The tables survive a daemon restart (counters start again).
	d.stop(syscall.SIGTERM)
	d.start()
	save = d.run("ip", "netns", "exec", "tpqr", "iptables-save", "-c", "-t", "mangle")
	if m := rule.FindStringSubmatch(save); m == nil || m[1] != "0" {
		t.Errorf("after restart, iptables-save -c -t mangle:\n%s", save)
	}
}

// inputCount is the packet counter of a next hop's INPUT rule for port.
func inputCount(t *testing.T, ns, port string) int {
	t.Helper()
	out := sh(t, "ip", "netns", "exec", ns, "iptables-save", "-c", "-t", "filter")
	m := regexp.MustCompile(`\[(\d+):\d+\] -A INPUT -p tcp -m tcp --dport ` + port + `\n`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("%s: no INPUT rule for port %s:\n%s", ns, port, out)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}
