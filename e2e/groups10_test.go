package e2e

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"tapestry/internal/hosttest"
)

// Names of this file's kernel objects, unique to it.
const (
	g10Tap0, g10Tap1 = "g10tap0", "g10tap1"
	g10NS0, g10NS1   = "g10ns0", "g10ns1"
	g10Bridge        = "g10br0"
)

func groups10Topology(t *testing.T) {
	clean := func() {
		quiet("ip", "netns", "del", g10NS0)
		quiet("ip", "netns", "del", g10NS1)
		quiet("ip", "link", "del", g10Tap0)
		quiet("ip", "link", "del", g10Tap1)
	}
	clean()
	t.Cleanup(clean)
	sh(t, "ip", "tuntap", "add", g10Tap0, "mode", "tap")
	sh(t, "ip", "tuntap", "add", g10Tap1, "mode", "tap")
}

// g10Setup is the group and flow setup both bridges get, as ovs-ofctl
// -O OpenFlow10 sends it (NXT_GROUP_MOD, and NXAST_GROUP in the flows).
var g10Setup = [][]string{
	{"add-group", "group_id=1,type=all,bucket=output:2"},
	{"add-group", "group_id=2,type=select,bucket=weight:10,actions=output:1,bucket=output:1"},
	{"add-group", "group_id=3,type=fast_failover,bucket=watch_port:2,output:2"},
	{"add-flow", "in_port=1,actions=group:1"},
	{"add-flow", "in_port=2,actions=group:2"},
}

// TestGroups10WithOvsOfctl: the real ovs-ofctl -O OpenFlow10 sets groups
// (Nicira NXT_GROUP_MOD) and flows that use them on a tapestry bridge;
// packets go through the groups; dump-groups, dump-group-stats and
// dump-group-features (Nicira NXST_GROUP*) print what they print for a real
// Open vSwitch bridge set up the same way, and so does a duplicate add;
// del-groups takes the flows with it.
func TestGroups10WithOvsOfctl(t *testing.T) {
	needRoot(t)
	hosttest.Need(t, "ovs-ofctl", "openvswitch-common")
	groups10Topology(t)
	d := newDaemon(t)
	d.run("vsctl", "add-br", g10Bridge)
	d.run("vsctl", "add-port", g10Bridge, g10Tap0)
	d.run("vsctl", "add-port", g10Bridge, g10Tap1)
	intoNamespace(t, g10NS0, g10Tap0, "10.79.0.1/24")
	intoNamespace(t, g10NS1, g10Tap1, "10.79.0.2/24")
	sock := "unix:" + filepath.Join(d.runDir, g10Bridge+".mgmt")
	of10 := func(target string, args ...string) string {
		t.Helper()
		return ovsOfctl(t, append([]string{"-O", "OpenFlow10", args[0], target}, args[1:]...)...)
	}

	of10(sock, "del-flows")
	for _, c := range g10Setup {
		of10(sock, c...)
	}
	if !ping(g10NS0, "10.79.0.2", 3) {
		t.Fatalf("ping through groups failed\n%s\n%s", of10(sock, "dump-groups"), of10(sock, "dump-flows"))
	}
	want := "NXST_GROUP_DESC reply (xid=0x2):\n" +
		" group_id=1,type=all,bucket=bucket_id:0,actions=output:2\n" +
		" group_id=2,type=select,bucket=bucket_id:0,weight:10,actions=output:1,bucket=bucket_id:1,actions=output:1\n" +
		" group_id=3,type=ff,bucket=bucket_id:0,watch_port:2,actions=output:2\n"
	if got := of10(sock, "dump-groups"); got != want {
		t.Errorf("dump-groups:\n%s\nwant:\n%s", got, want)
	}
	if got := stripCounters(of10(sock, "dump-flows")); !strings.Contains(got, " in_port=1 actions=group:1\n") || !strings.Contains(got, " in_port=2 actions=group:2\n") {
		t.Errorf("dump-flows lacks the group flows:\n%s", got)
	}
	stats := of10(sock, "dump-group-stats", "group_id=1")
	if !strings.HasPrefix(stats, "NXST_GROUP reply") || !strings.Contains(stats, "group_id=1,") || strings.Contains(stats, "packet_count=0,") {
		t.Errorf("group 1 counted no packets after a ping:\n%s", stats)
	}

	// The same setup on a real Open vSwitch prints the same.
	o := startTpnOVS(t)
	ovs := "unix:" + o.sock
	for _, c := range g10Setup {
		of10(ovs, c...)
	}
	for _, cmd := range [][]string{{"dump-groups"}, {"dump-group-stats"}, {"dump-group-stats", "group_id=2"}, {"dump-group-features"}} {
		// Open vSwitch lists groups in hash order; counters differ.
		r := sortedLines(blankGroupStats(of10(ovs, cmd...)))
		ours := sortedLines(blankGroupStats(of10(sock, cmd...)))
		if r != ours {
			t.Errorf("%s:\nOpen vSwitch:\n%s\ntapestry:\n%s", strings.Join(cmd, " "), r, ours)
		}
	}
	dup := []string{"-O", "OpenFlow10", "add-group", "", "group_id=1,type=all,bucket=output:1"}
	dup[3] = sock
	ourErr, err1 := exec.Command("ovs-ofctl", dup...).CombinedOutput()
	dup[3] = ovs
	realErr, err2 := exec.Command("ovs-ofctl", dup...).CombinedOutput()
	if err1 == nil || err2 == nil || string(ourErr) != string(realErr) {
		t.Errorf("duplicate add-group:\ntapestry (%v):\n%s\nOpen vSwitch (%v):\n%s", err1, ourErr, err2, realErr)
	}

	// Deleting a group deletes the flows that use it: no more ping.
	of10(sock, "del-groups", "group_id=1")
	if got := of10(sock, "dump-flows"); strings.Contains(got, "group:1") || !strings.Contains(got, "group:2") {
		t.Errorf("after del-groups group_id=1, flows:\n%s", got)
	}
	quiet("ip", "-n", g10NS0, "neigh", "flush", "all")
	if ping(g10NS0, "10.79.0.2", 2) {
		t.Errorf("ping works after del-groups removed its flow")
	}
	of10(sock, "del-groups")
	if got := of10(sock, "dump-groups"); got != "NXST_GROUP_DESC reply (xid=0x2):\n" {
		t.Errorf("dump-groups after del-groups:\n%s", got)
	}
	if got := of10(sock, "dump-flows"); strings.Contains(got, "group:") {
		t.Errorf("flows using deleted groups remain:\n%s", got)
	}
}
