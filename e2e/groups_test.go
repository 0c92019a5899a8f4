package e2e

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"tapestry/internal/hosttest"
)

// Names of this file's kernel objects, unique to it.
const (
	grpTap0, grpTap1 = "grptap0", "grptap1"
	grpNS0, grpNS1   = "grpns0", "grpns1"
	grpBridge        = "grpbr0"
)

func groupTopology(t *testing.T) {
	clean := func() {
		quiet("ip", "netns", "del", grpNS0)
		quiet("ip", "netns", "del", grpNS1)
		quiet("ip", "link", "del", grpTap0)
		quiet("ip", "link", "del", grpTap1)
	}
	clean()
	t.Cleanup(clean)
	sh(t, "ip", "tuntap", "add", grpTap0, "mode", "tap")
	sh(t, "ip", "tuntap", "add", grpTap1, "mode", "tap")
}

var (
	groupDurations = regexp.MustCompile(`duration=[0-9.]+s`)
	groupCounts    = regexp.MustCompile(`(packet|byte)_count=[0-9]+`)
)

// blankGroupStats blanks what changes between two dumps of live groups.
func blankGroupStats(s string) string {
	return groupCounts.ReplaceAllString(groupDurations.ReplaceAllString(s, "duration=X"), "${1}_count=N")
}

// TestGroupsWithOvsOfctl: the real ovs-ofctl sets groups and flows that use
// them on a tapestry bridge through its management socket; packets go
// through the groups; ovs-ofctl and tapestry ofctl dump the same groups; a
// crash keeps them; del-groups takes the flows with it and stops the ping.
func TestGroupsWithOvsOfctl(t *testing.T) {
	needRoot(t)
	hosttest.Need(t, "ovs-ofctl", "openvswitch-common")
	groupTopology(t)
	d := newDaemon(t)
	d.run("vsctl", "add-br", grpBridge)
	d.run("vsctl", "add-port", grpBridge, grpTap0)
	d.run("vsctl", "add-port", grpBridge, grpTap1)
	intoNamespace(t, grpNS0, grpTap0, "10.77.0.1/24")
	intoNamespace(t, grpNS1, grpTap1, "10.77.0.2/24")
	sock := "unix:" + filepath.Join(d.runDir, grpBridge+".mgmt")
	of13 := func(args ...string) string {
		t.Helper()
		return ovsOfctl(t, append([]string{"-O", "OpenFlow13"}, args...)...)
	}

	of13("del-flows", sock)
	of13("add-group", sock, "group_id=1,type=all,bucket=output:2")
	of13("add-group", sock, "group_id=2,type=select,bucket=weight:10,actions=output:1")
	of13("add-flow", sock, "in_port=1,actions=group:1")
	of13("add-flow", sock, "in_port=2,actions=group:2")
	if !ping(grpNS0, "10.77.0.2", 3) {
		t.Fatalf("ping through groups failed\n%s\n%s", of13("dump-groups", sock), of13("dump-flows", sock))
	}
	real, ours := of13("dump-groups", sock), d.run("ofctl", "-O", "OpenFlow13", "dump-groups", grpBridge)
	want := "OFPST_GROUP_DESC reply (OF1.3) (xid=0x2):\n group_id=1,type=all,bucket=actions=output:2\n" +
		" group_id=2,type=select,bucket=weight:10,actions=output:1\n"
	if real != want || ours != want {
		t.Errorf("dump-groups:\novs-ofctl:\n%s\ntapestry ofctl:\n%s\nwant:\n%s", real, ours, want)
	}
	stats := d.run("ofctl", "-O", "OpenFlow13", "dump-group-stats", grpBridge, "group_id=1")
	if !strings.Contains(stats, "group_id=1,") || strings.Contains(stats, "packet_count=0,") {
		t.Errorf("group 1 counted no packets after a ping:\n%s", stats)
	}
	// The kernel sends packets of its own meanwhile; counters may differ.
	if r, o := blankGroupStats(of13("dump-group-stats", sock)), blankGroupStats(d.run("ofctl", "-O", "OpenFlow13", "dump-group-stats", sock)); r != o {
		t.Errorf("dump-group-stats over OpenFlow:\novs-ofctl:\n%s\ntapestry ofctl:\n%s", r, o)
	}

	// Groups set over OpenFlow are desired state: a crash keeps them and
	// the flows that use them.
	d.stop(syscall.SIGKILL)
	d.start()
	if got := of13("dump-groups", sock); got != want {
		t.Errorf("after kill -9, dump-groups:\n%s\nwant:\n%s", got, want)
	}
	quiet("ip", "-n", grpNS0, "neigh", "flush", "all")
	if !ping(grpNS0, "10.77.0.2", 3) {
		t.Errorf("after kill -9: ping through groups failed\n%s", of13("dump-flows", sock))
	}

	// Deleting the groups deletes the flows that use them: no more ping.
	of13("del-groups", sock)
	if got := of13("dump-flows", sock); strings.Contains(got, "group:") {
		t.Errorf("flows using deleted groups remain:\n%s", got)
	}
	if got := d.run("ofctl", "-O", "OpenFlow13", "dump-groups", grpBridge); got != "OFPST_GROUP_DESC reply (OF1.3) (xid=0x2):\n" {
		t.Errorf("tapestry ofctl dump-groups after del-groups:\n%s", got)
	}
	quiet("ip", "-n", grpNS0, "neigh", "flush", "all")
	if ping(grpNS0, "10.77.0.2", 2) {
		t.Errorf("ping works after del-groups removed its flows")
	}
	d.stop(syscall.SIGTERM)
	d.start()
	if got := of13("dump-groups", sock); got != "OFPST_GROUP_DESC reply (OF1.3) (xid=0x2):\n" {
		t.Errorf("deleted groups came back after a restart:\n%s", got)
	}
}

// TestTapestryOfctlGroupsOnOpenVSwitch: tapestry ofctl's group commands
// drive a real Open vSwitch, and print what ovs-ofctl prints.
func TestTapestryOfctlGroupsOnOpenVSwitch(t *testing.T) {
	needRoot(t)
	o := startTpnOVS(t)
	d := newDaemon(t)
	target := "unix:" + o.sock
	tof := func(args ...string) string {
		t.Helper()
		return d.run(append([]string{"ofctl", "-O", "OpenFlow13"}, args...)...)
	}
	tof("add-group", target, "group_id=5,type=select,bucket=weight:100,actions=output:1,bucket=weight:50,output:2")
	tof("add-group", target, "group_id=6,type=fast_failover,bucket=watch_port:1,output:1")
	tof("mod-group", target, "group_id=6,type=indirect,bucket=output:LOCAL")
	for _, cmd := range [][]string{{"dump-groups"}, {"dump-group-stats"}, {"dump-group-stats", "group_id=5"}, {"dump-group-features"}} {
		args := append([]string{"-O", "OpenFlow13", cmd[0], target}, cmd[1:]...)
		r := groupDurations.ReplaceAllString(ovsOfctl(t, args...), "X")
		o := groupDurations.ReplaceAllString(d.run(append([]string{"ofctl"}, args...)...), "X")
		if cmd[0] == "dump-groups" || cmd[0] == "dump-group-stats" {
			// Open vSwitch lists groups in hash order; compare the lines
			// (sortedLines is cloud_test.go's).
			r, o = sortedLines(r), sortedLines(o)
		}
		if r != o {
			t.Errorf("%s:\novs-ofctl:\n%s\ntapestry ofctl:\n%s", strings.Join(cmd, " "), r, o)
		}
	}
	if got := ovsOfctl(t, "-O", "OpenFlow13", "dump-groups", target); !strings.Contains(got, " group_id=6,type=indirect,bucket=actions=LOCAL\n") {
		t.Errorf("mod-group did not reach Open vSwitch:\n%s", got)
	}
	out, err := d.try("ofctl", "-O", "OpenFlow13", "add-group", target, "group_id=5,type=all,bucket=output:1")
	real, _ := exec.Command("ovs-ofctl", "-O", "OpenFlow13", "add-group", target, "group_id=5,type=all,bucket=output:1").CombinedOutput()
	if err == nil || out != string(real) {
		t.Errorf("add-group of an existing group: err %v\ntapestry ofctl:\n%s\novs-ofctl:\n%s", err, out, real)
	}
	tof("del-groups", target, "group_id=5")
	tof("del-groups", target)
	if got := ovsOfctl(t, "-O", "OpenFlow13", "dump-groups", target); got != "OFPST_GROUP_DESC reply (OF1.3) (xid=0x2):\n" {
		t.Errorf("groups left after tapestry ofctl del-groups:\n%s", got)
	}
}
