package e2e

import (
	"bufio"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"tapestry/internal/hosttest"
)

// ctFirewallFlows is the stateful firewall of the ct action: ARP passes,
// IP goes through conntrack (ct(table=1)), ctns0 (port 1) may open
// connections to ctns1 (port 2), and only replies (+est) come back.
var ctFirewallFlows = []string{
	"table=0,priority=10,arp,actions=NORMAL",
	"table=0,priority=100,ip,ct_state=-trk,actions=ct(table=1)",
	"table=1,priority=100,ip,in_port=1,ct_state=+trk+new,actions=ct(commit),output:2",
	"table=1,priority=100,ip,in_port=1,ct_state=+trk+est,actions=output:2",
	"table=1,priority=100,ip,in_port=2,ct_state=+trk+est,actions=output:1",
	"table=1,priority=1,actions=drop",
}

// TestCTFirewall: the kernel's ping and TCP through a tapestry bridge
// whose flows are a ct firewall. ctns0 -> ctns1 works (echo replies and
// TCP segments from ctns1 are +est), ctns1 -> ctns0 is dropped, and the
// counters of dump-flows show the +new and +est flows hit.
func TestCTFirewall(t *testing.T) {
	needRoot(t)
	hosttest.Need(t, "/usr/bin/python3", "python3")
	clean := func() {
		quiet("ip", "netns", "del", "ctns0")
		quiet("ip", "netns", "del", "ctns1")
		quiet("ip", "link", "del", "cttap0")
		quiet("ip", "link", "del", "cttap1")
	}
	clean()
	t.Cleanup(clean)
	sh(t, "ip", "tuntap", "add", "cttap0", "mode", "tap")
	sh(t, "ip", "tuntap", "add", "cttap1", "mode", "tap")
	d := newDaemon(t)
	d.run("vsctl", "add-br", "br-ct")
	d.run("vsctl", "add-port", "br-ct", "cttap0")
	d.run("vsctl", "add-port", "br-ct", "cttap1")
	intoNamespace(t, "ctns0", "cttap0", "10.0.0.1/24")
	intoNamespace(t, "ctns1", "cttap1", "10.0.0.2/24")
	d.run("ofctl", "del-flows", "br-ct")
	for _, f := range ctFirewallFlows {
		d.run("ofctl", "add-flow", "br-ct", f)
	}
	dump := func() string { return d.run("ofctl", "dump-flows", "br-ct") }

	// ofproto/trace shows the ct action and the recirculation, as Open
	// vSwitch's does.
	tr := d.run("ofctl", "trace", "br-ct", "in_port=1,tcp,nw_src=10.0.0.1,nw_dst=10.0.0.2,tp_src=1000,tp_dst=80")
	for _, want := range []string{
		"    ct(table=1)\n",
		"-> A clone of the packet is forked to recirculate. The forked pipeline will be resumed at table 1.",
		"Datapath actions: ct,recirc(0x",
		"resume conntrack with default ct_state=trk|new (use --ct-next to customize)",
		"    thaw\n        Resuming from table 1\n",
		" 1. ct_state=+new+trk,ip,in_port=1, priority 100\n    ct(commit)\n",
		"Datapath actions: ct(commit),2\n",
	} {
		if !strings.Contains(tr, want) {
			t.Errorf("ofctl trace lacks %q:\n%s", want, tr)
		}
	}

	if !ping("ctns0", "10.0.0.2", 3) {
		t.Fatalf("ping ctns0 -> ctns1 through the firewall failed\n%s", dump())
	}
	after := dump()
	if n := flowPackets(t, after, "ct_state=+new+trk,ip,in_port=1"); n < 1 {
		t.Errorf("after ping: the +new flow counts %d packets, want >= 1\n%s", n, after)
	}
	if n := flowPackets(t, after, "ct_state=+est+trk,ip,in_port=2"); n < 3 {
		t.Errorf("after 3 pings: the +est flow from port 2 counts %d packets, want >= 3 (the replies)\n%s", n, after)
	}
	if ping("ctns1", "10.0.0.1", 2) {
		t.Errorf("ping ctns1 -> ctns0 passed the firewall, want it dropped\n%s", dump())
	}

	if got := tcpHello(t, "ctns0", "ctns1", "10.0.0.2", 8471); got != "hello" {
		t.Errorf("TCP ctns0 -> ctns1: read %q, want %q\n%s", got, "hello", dump())
	}
	estBefore := flowPackets(t, dump(), "ct_state=+est+trk,ip,in_port=1")
	if got := tcpHello(t, "ctns1", "ctns0", "10.0.0.1", 8472); got != "" {
		t.Errorf("TCP ctns1 -> ctns0: read %q, want the connection refused by the firewall", got)
	}
	final := dump()
	t.Logf("dump-flows after ping and TCP:\n%s", final)
	if n := flowPackets(t, final, "ct_state=+est+trk,ip,in_port=1"); n < 2 || n < estBefore {
		t.Errorf("after TCP: the +est flow from port 1 counts %d packets, want >= 2 (ACK, FIN)\n%s", n, final)
	}
	if n := flowPackets(t, final, "priority=1 "); n < 3 {
		t.Errorf("the drop flow counts %d packets, want >= 3 (pings and SYNs from ctns1)\n%s", n, final)
	}
}

// flowPackets returns n_packets of the dump-flows line containing match.
func flowPackets(t *testing.T, dump, match string) int {
	t.Helper()
	for _, line := range strings.Split(dump, "\n") {
		if strings.Contains(line, match) {
			m := regexp.MustCompile(`n_packets=(\d+)`).FindStringSubmatch(line)
			if m == nil {
				t.Fatalf("dump-flows line without n_packets: %s", line)
			}
			n, _ := strconv.Atoi(m[1])
			return n
		}
	}
	t.Fatalf("dump-flows has no flow with %q:\n%s", match, dump)
	return 0
}

// tcpHello starts a TCP server in namespace to that greets with "hello",
// connects to it from namespace from and returns what the client read
// ("" when the connection did not open within 3 seconds).
func tcpHello(t *testing.T, from, to, addr string, port int) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	srv := exec.CommandContext(ctx, "ip", "netns", "exec", to, "/usr/bin/python3", "-c", fmt.Sprintf(`
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", %d))
s.listen(1)
print("ready", flush=True)
s.settimeout(6)
try:
    c, _ = s.accept()
    c.sendall(b"hello\n")
    c.close()
except socket.timeout:
    pass
`, port))
	stdout, err := srv.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Wait()
	defer cancel()
	if line, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || line != "ready\n" {
		t.Fatalf("TCP server in %s: %q, %v", to, line, err)
	}
	out, _ := exec.Command("ip", "netns", "exec", from, "timeout", "3", "bash", "-c",
		fmt.Sprintf("exec 3<>/dev/tcp/%s/%d && head -n1 <&3", addr, port)).Output()
	return strings.TrimSpace(string(out))
}

// TestCTFlowsMatchOpenVSwitch: ct flows go from the real ovs-ofctl to a
// real Open vSwitch and to a tapestry bridge, and from tapestry ofctl to a
// second Open vSwitch bridge, in OpenFlow 1.0 (+NXM) and 1.3; after every
// step all three dump the same flows, so the NXAST_CT encoding and its
// text agree with Open vSwitch's both ways.
func TestCTFlowsMatchOpenVSwitch(t *testing.T) {
	needRoot(t)
	hosttest.Need(t, "ovs-ofctl", "openvswitch-common")
	ovs := startTpnOVS(t)
	d := newDaemon(t)
	d.run("vsctl", "add-br", "ctbr0")
	sh(t, "ovs-vsctl", "--db=unix:"+filepath.Join(ovs.dir, "db.sock"), "--timeout=20",
		"add-br", "ctovs1", "--", "set", "bridge", "ctovs1", "datapath_type=netdev")
	waitFile(t, filepath.Join(ovs.dir, "ctovs1.mgmt"))
	targets := map[string]string{
		"ovs":            "unix:" + ovs.sock,
		"tapestry":       "unix:" + filepath.Join(d.runDir, "ctbr0.mgmt"),
		"tapestry-ofctl": "unix:" + filepath.Join(ovs.dir, "ctovs1.mgmt"),
	}
	flows := []string{
		"table=0,priority=100,ip,ct_state=-trk,actions=ct(table=1)",
		"table=0,priority=90,ipv6,ct_state=-trk,actions=ct(zone=NXM_NX_REG0[0..15],table=2)",
		"table=1,priority=100,ip,ct_state=+trk+new,actions=ct(commit,zone=5,exec(set_field:0x1->ct_mark)),output:2",
		"table=1,priority=90,tcp,ct_state=+trk+new,actions=ct(commit,force,exec(load:0x3->NXM_NX_CT_MARK[0..7]),alg=ftp),output:2",
		"table=1,priority=80,ip,ct_state=+trk+est,ct_mark=0x1,actions=ct(commit),output:2",
		"table=1,priority=1,actions=drop",
	}
	for _, proto := range []string{"OpenFlow10", "OpenFlow13"} {
		for _, name := range []string{"ovs", "tapestry", "tapestry-ofctl"} {
			if name == "tapestry-ofctl" {
				d.run("ofctl", "-O", proto, "del-flows", targets[name])
			} else {
				ovsOfctl(t, "-O", proto, "del-flows", targets[name])
			}
		}
		for i, f := range flows {
			for _, name := range []string{"ovs", "tapestry", "tapestry-ofctl"} {
				if name == "tapestry-ofctl" {
					d.run("ofctl", "-O", proto, "add-flow", targets[name], f)
				} else {
					ovsOfctl(t, "-O", proto, "add-flow", targets[name], f)
				}
			}
			want := flowEntries(ovsOfctl(t, "-O", proto, "--no-stats", "dump-flows", targets["ovs"]))
			slices.Sort(want)
			for _, name := range []string{"tapestry", "tapestry-ofctl"} {
				got := flowEntries(ovsOfctl(t, "-O", proto, "--no-stats", "dump-flows", targets[name]))
				slices.Sort(got)
				if !slices.Equal(want, got) {
					t.Fatalf("%s step %d (%s): flows differ\nOpen vSwitch:\n  %s\n%s:\n  %s", proto, i, f,
						strings.Join(want, "\n  "), name, strings.Join(got, "\n  "))
				}
			}
			if i == len(flows)-1 {
				if len(want) != len(flows) {
					t.Fatalf("%s: Open vSwitch holds %d flows, want %d:\n  %s", proto, len(want), len(flows), strings.Join(want, "\n  "))
				}
				t.Logf("%s flows on all three:\n  %s", proto, strings.Join(want, "\n  "))
			}
		}
	}
}
