package e2e

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"tapestry/internal/hosttest"
)

// TestOvsOfctlNXMFlowsMatchOpenVSwitch: the real ovs-ofctl with its default
// protocol (OpenFlow 1.0) sends NXT_FLOW_MOD for every flow ofp_match
// cannot express (registers, IPv6, conntrack state, metadata, tunnel ids,
// ARP hardware addresses, cookie masks, tables other than 0). The same
// commands go from ovs-ofctl to a real Open vSwitch and to a tapestry
// bridge, and from `tapestry ofctl -O OpenFlow10` (which then speaks NXM as
// ovs-ofctl does) to a second Open vSwitch bridge; after every step all
// three dump the same flows.
func TestOvsOfctlNXMFlowsMatchOpenVSwitch(t *testing.T) {
	needRoot(t)
	hosttest.Need(t, "ovs-ofctl", "openvswitch-common")
	ovs := startTpnOVS(t)
	d := newDaemon(t)
	d.run("vsctl", "add-br", "nxmbr0")
	sh(t, "ovs-vsctl", "--db=unix:"+filepath.Join(ovs.dir, "db.sock"), "--timeout=20",
		"add-br", "nxmovs1", "--", "set", "bridge", "nxmovs1", "datapath_type=netdev")
	waitFile(t, filepath.Join(ovs.dir, "nxmovs1.mgmt"))
	targets := map[string]string{
		"ovs":            "unix:" + ovs.sock,
		"tapestry":       "unix:" + filepath.Join(d.runDir, "nxmbr0.mgmt"),
		"tapestry-ofctl": "unix:" + filepath.Join(ovs.dir, "nxmovs1.mgmt"),
	}
	steps := [][]string{
		{"add-flow", "priority=10,reg0=1,actions=drop"},
		{"add-flow", "cookie=0x5,priority=20,reg1=0x10/0xf0,ip,actions=output:1"},
		{"add-flow", "priority=30,ipv6,ipv6_dst=2001:db8::/32,actions=drop"},
		{"add-flow", "priority=40,ct_state=+trk+est,tcp,actions=NORMAL"},
		{"add-flow", "table=3,priority=5,metadata=0x1234/0xffff,actions=resubmit(,4)"},
		{"add-flow", "priority=50,tun_id=0x42,actions=drop"},
		{"add-flow", "priority=60,arp,arp_sha=52:54:00:00:00:01,actions=NORMAL"},
		{"add-flow", "cookie=0x7,priority=70,reg2=3,actions=load:0x5->NXM_NX_REG3[],resubmit(,1)"},
		{"add-flow", "priority=11,in_port=1,dl_vlan=10,actions=strip_vlan,output:2"},
		{"mod-flows", "reg0=1,actions=output:2"},
		{"mod-flows", "cookie=0x9,reg2=3,actions=drop"},
		{"mod-flows", "cookie=0x5/-1,actions=output:3"},
		{"mod-flows", "--strict", "priority=30,ipv6,ipv6_dst=2001:db8::/32,actions=output:1"},
		{"del-flows", "cookie=0x9/0xff"},
		{"del-flows", "--strict", "table=3,priority=5,metadata=0x1234/0xffff"},
		{"del-flows", "tun_id=0x42"},
	}
	dump := func(target string) []string {
		out := ovsOfctl(t, "dump-flows", "--no-stats", target)
		var flows []string
		for _, l := range strings.Split(out, "\n") {
			if strings.HasPrefix(l, " ") {
				flows = append(flows, strings.TrimSpace(l))
			}
		}
		slices.Sort(flows)
		return flows
	}
	for i, st := range steps {
		for _, name := range []string{"ovs", "tapestry", "tapestry-ofctl"} {
			args := append(append(append([]string{st[0]}, st[1:len(st)-1]...), targets[name]), st[len(st)-1])
			if name == "tapestry-ofctl" {
				d.run(append([]string{"ofctl", "-O", "OpenFlow10"}, args...)...)
			} else {
				ovsOfctl(t, args...)
			}
		}
		o := dump(targets["ovs"])
		for _, name := range []string{"tapestry", "tapestry-ofctl"} {
			if got := dump(targets[name]); !slices.Equal(o, got) {
				t.Fatalf("step %d (%s): flows differ\nOpen vSwitch driven by ovs-ofctl:\n  %s\n%s:\n  %s", i, strings.Join(st, " "),
					strings.Join(o, "\n  "), name, strings.Join(got, "\n  "))
			}
		}
	}
	final := dump(targets["tapestry"])
	t.Logf("final flows:\n  %s", strings.Join(final, "\n  "))
	if n := len(final); n < 7 {
		t.Fatalf("only %d flows left at the end; the steps should leave at least 7", n)
	}
}

// waitFile waits up to five seconds for path to appear.
func waitFile(t *testing.T, path string) {
	t.Helper()
	for i := 0; i < 100; i++ {
		if _, err := os.Stat(path); err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s did not appear", path)
}
