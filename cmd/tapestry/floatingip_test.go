package main

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"testing"

	"tapestry/daemon"
)

// TestFloatingIPsUserspace is issue 6's scenario without root, in
// process: both of the seed's layouts built with `tapestry cloud` alone,
// the instances and the external host userspace namespaces. The external
// host pings every floating IP; counters inside each instance show that
// each reply left from the fixed IP its floating IP maps to (and, for the
// two-NIC instance, by the NIC that fixed IP is on); counters on the
// external host show the instances' own traffic arriving from their
// floating IPs; a disassociated floating IP stops answering and its fixed
// IP falls back to the router's SNAT address; and after a restart the
// cloud is realized again without a single duplicate.
func TestFloatingIPsUserspace(t *testing.T) {
	state, run := t.TempDir(), t.TempDir()
	var d *daemon.Daemon
	start := func() {
		var err error
		d, err = daemon.New(daemon.Config{StateDir: state, RunDir: run, Devices: &daemon.MemDevices{},
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Serve(); err != nil {
			t.Fatal(err)
		}
	}
	start()
	t.Cleanup(func() { d.Close() })
	t.Setenv("TAPESTRY_RUNDIR", run)
	sh := func(line string) (string, string, int) {
		var stdout, stderr bytes.Buffer
		code := runTapestry(strings.Fields(line), &stdout, &stderr)
		return stdout.String(), stderr.String(), code
	}
	tp := func(line string) string {
		t.Helper()
		out, errOut, code := sh(line)
		if code != 0 {
			t.Fatalf("tapestry %s: exit %d\n%s%s", line, code, out, errOut)
		}
		return out
	}
	id := func(line string) string { return strings.TrimSpace(tp(line + " -f value -c id")) }

	// The external network, a router, three tenant networks.
	tp("cloud net-create public --router:external --provider:network_type flat")
	tp("cloud subnet-create public 172.24.4.224/28 --name public-subnet --gateway 172.24.4.225 --allocation-pool start=172.24.4.226,end=172.24.4.238 --disable-dhcp")
	tp("cloud router-create router1")
	tp("cloud router-gateway-set router1 public")
	for _, n := range []struct{ net, cidr, sub string }{{"1", "10.0.1.0/24", "sub1"}, {"2", "10.0.2.0/24", "sub2"}, {"private", "10.0.0.0/24", "private-subnet"}} {
		tp("cloud net-create " + n.net)
		tp("cloud subnet-create " + n.net + " " + n.cidr + " --name " + n.sub)
		tp("cloud router-interface-add router1 " + n.sub)
	}
	// The seed's first way: two NICs, a floating IP each.
	tp("cloud port-create 1 --name vm1-nic0 --fixed-ip ip_address=10.0.1.5")
	tp("cloud port-create 2 --name vm1-nic1 --fixed-ip ip_address=10.0.2.5")
	tp("cloud server-create vm1 --nic port-id=vm1-nic0 --nic port-id=vm1-nic1")
	// The seed's second way: one NIC, two fixed IPs, a floating IP each.
	tp("cloud port-create private --name vm2-nic0 --fixed-ip ip_address=10.0.0.5 --fixed-ip ip_address=10.0.0.6")
	tp("cloud server-create vm2 --nic port-id=vm2-nic0")
	fips := map[string]string{}
	for _, f := range []struct{ addr, port, fixed string }{
		{"172.24.4.228", "vm1-nic0", ""}, {"172.24.4.229", "vm1-nic1", ""},
		{"172.24.4.230", "vm2-nic0", "10.0.0.5"}, {"172.24.4.231", "vm2-nic0", "10.0.0.6"},
	} {
		fips[f.addr] = id("cloud floatingip-create public --floating-ip-address " + f.addr)
		line := "cloud floatingip-associate " + fips[f.addr] + " " + f.port
		if f.fixed != "" {
			line += " --fixed-ip-address " + f.fixed
		}
		tp(line)
	}

	// Inside the instances: source routing in vm1, reply counters in both.
	tp("ip -n vm1 rule add from 10.0.2.5 table 102")
	tp("ip -n vm1 route add default via 10.0.2.1 dev eth1 table 102")
	for _, r := range []string{"vm1 -s 10.0.1.5 -o eth0", "vm1 -s 10.0.2.5 -o eth1", "vm2 -s 10.0.0.5 -o eth0", "vm2 -s 10.0.0.6 -o eth0"} {
		ns, rest, _ := strings.Cut(r, " ")
		tp("ip netns exec " + ns + " iptables -A OUTPUT " + rest + " -p icmp --icmp-type echo-reply")
	}
	// The external host, on br-ex.
	tp("vsctl add-port br-ex ext0 -- set interface ext0 type=internal")
	tp("ip netns add ext")
	tp("ip link set ext0 netns ext")
	tp("ip -n ext addr add 172.24.4.225/28 dev ext0")
	tp("ip -n ext link set ext0 up")
	tp("ip netns exec ext iptables -N seen")
	tp("ip netns exec ext iptables -A INPUT -p icmp --icmp-type echo-request -j seen")
	for _, src := range []string{"172.24.4.226", "172.24.4.228", "172.24.4.229", "172.24.4.230", "172.24.4.231"} {
		tp("ip netns exec ext iptables -A seen -s " + src)
	}

	pings := func(ns, args string) bool {
		// -W 5: a loaded machine (CI has two cores) may be slow to answer.
		_, _, code := sh("ip netns exec " + ns + " ping -c 2 -i 0.1 -W 5 " + args)
		return code == 0
	}
	count := func(ns, chain, match string) int {
		for _, line := range strings.Split(tp("ip netns exec "+ns+" iptables -S "+chain+" -v"), "\n") {
			if strings.Contains(line, match) {
				f := strings.Fields(line)
				for i := range f {
					if f[i] == "-c" && i+1 < len(f) {
						n, _ := strconv.Atoi(f[i+1])
						return n
					}
				}
			}
		}
		t.Fatalf("no rule %q in %s %s", match, ns, chain)
		return 0
	}

	for _, c := range []struct{ fip, ns, rule string }{
		{"172.24.4.228", "vm1", "-s 10.0.1.5/32 -o eth0"},
		{"172.24.4.229", "vm1", "-s 10.0.2.5/32 -o eth1"},
		{"172.24.4.230", "vm2", "-s 10.0.0.5/32 -o eth0"},
		{"172.24.4.231", "vm2", "-s 10.0.0.6/32 -o eth0"},
	} {
		before := count(c.ns, "OUTPUT", c.rule)
		if !pings("ext", c.fip) {
			t.Errorf("the external host cannot ping %s", c.fip)
			continue
		}
		if after := count(c.ns, "OUTPUT", c.rule); after < before+2 {
			t.Errorf("pinging %s: %s sent %d replies %s, want 2 more than %d", c.fip, c.ns, after, c.rule, before)
		}
	}
	for _, c := range []struct{ ns, args, fip string }{
		{"vm1", "172.24.4.225", "172.24.4.228"},
		{"vm1", "-I 10.0.2.5 172.24.4.225", "172.24.4.229"},
		{"vm2", "172.24.4.225", "172.24.4.230"},
		{"vm2", "-I 10.0.0.6 172.24.4.225", "172.24.4.231"},
	} {
		before := count("ext", "seen", "-s "+c.fip+"/32")
		if !pings(c.ns, c.args) {
			t.Errorf("%s cannot ping %s", c.ns, c.args)
		}
		if after := count("ext", "seen", "-s "+c.fip+"/32"); after < before+2 {
			t.Errorf("ping %s from %s: the external host saw %d requests from %s, want 2 more than %d", c.args, c.ns, after, c.fip, before)
		}
	}

	// Origins: the router's NAT rules name their floating IPs, the flows
	// of an instance port carry its cookie.
	router := "qrouter-" + id("cloud router-show router1")
	nat := tp("ip netns exec " + router + " iptables -t nat -S")
	if !strings.Contains(nat, `--comment "floatingip `+fips["172.24.4.228"]+`"`) {
		t.Errorf("the DNAT of 172.24.4.228 does not name its floating IP:\n%s", nat)
	}
	port := id("cloud port-show vm1-nic0")
	// dump-flows prints the cookie in hex without leading zeros.
	c64, err := strconv.ParseUint(strings.ReplaceAll(port, "-", "")[:16], 16, 64)
	if err != nil {
		t.Fatalf("port id %q: %v", port, err)
	}
	cookie := fmt.Sprintf("cookie=%#x,", c64)
	if !strings.Contains(tp("ofctl dump-flows br-int"), cookie) {
		t.Errorf("no flow on br-int with vm1-nic0's cookie %s", cookie)
	}

	// The conflicts a Neutron user knows: Neutron's words on stderr, exit
	// status 1, and nothing configured changes.
	realized := func() string {
		return tp("cloud port-list -f json") + tp("cloud floatingip-list -f json") + tp("cloud subnet-list -f json") +
			tp("ofctl dump-flows br-int --no-stats") + tp("ip netns exec "+router+" iptables -t nat -S") + tp("ip -n vm2 addr show")
	}
	before := realized()
	for _, c := range []struct{ line, want string }{
		{"cloud port-create 1 --fixed-ip ip_address=10.0.1.5", "IP address 10.0.1.5 already allocated in subnet "},
		{"cloud subnet-create 1 10.0.1.0/25", "Invalid input for operation: Requested subnet with cidr: 10.0.1.0/25 for network: "},
		{"cloud server-create vm3 --nic port-id=vm1-nic0", "Port already has an attached device "},
		{"cloud floatingip-associate " + fips["172.24.4.229"] + " vm2-nic0 --fixed-ip-address 10.0.0.5", "as that fixed IP already has a floating IP on external network "},
		{"cloud floatingip-associate " + fips["172.24.4.229"] + " vm2-nic0 --fixed-ip-address 10.0.0.9", "does not have fixed ip 10.0.0.9"},
	} {
		_, errOut, code := sh(c.line)
		if code != 1 || !strings.Contains(errOut, c.want) {
			t.Errorf("tapestry %s: exit %d, stderr %q; want 1 and %q", c.line, code, errOut, c.want)
		}
	}
	if after := realized(); after != before {
		t.Errorf("refused commands changed the cloud:\nbefore:\n%s\nafter:\n%s", before, after)
	}

	// Disassociation: the floating IP stops answering; the fixed IP's own
	// traffic now leaves as the router's gateway address.
	tp("cloud floatingip-disassociate " + fips["172.24.4.228"])
	if pings("ext", "172.24.4.228") {
		t.Error("172.24.4.228 still answers after floatingip-disassociate")
	}
	gwBefore := count("ext", "seen", "-s 172.24.4.226/32")
	if !pings("vm1", "172.24.4.225") || count("ext", "seen", "-s 172.24.4.226/32") < gwBefore+2 {
		t.Error("after disassociation, vm1's traffic does not leave as the router's address 172.24.4.226")
	}

	// A restart realizes the same cloud again: nothing doubles.
	snapshot := func() string {
		return tp("ofctl dump-flows br-int --no-stats") + tp("ofctl dump-flows br-ex --no-stats") +
			tp("ip netns exec "+router+" iptables -t nat -S") + tp("ip -n "+router+" addr show") +
			tp("ip -n vm1 addr show") + tp("ip -n vm1 route show") + tp("vsctl show")
	}
	before = snapshot()
	d.Close()
	start()
	if after := snapshot(); after != before {
		t.Errorf("the realized cloud changed across a restart:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	if !pings("ext", "172.24.4.229") {
		t.Error("172.24.4.229 does not answer after a restart")
	}
}
