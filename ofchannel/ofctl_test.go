package ofchannel

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"tapestry/internal/hosttest"
)

// durationRE blanks what changes from run to run in ovs-ofctl output.
var durationRE = regexp.MustCompile(`duration=[0-9.]+s`)

// idleAgeRE matches the ages of Nicira flow stats (OpenFlow 1.0 dumps).
var idleAgeRE = regexp.MustCompile(`idle_age=\d+, (hard_age=\d+, )?`)

// ofctl runs the real ovs-ofctl against the agent's socket.
func ofctl(t *testing.T, sock, version string, args ...string) (string, error) {
	t.Helper()
	full := append([]string{"-O", version, args[0], "unix:" + sock}, args[1:]...)
	out, err := exec.Command("ovs-ofctl", full...).CombinedOutput()
	return durationRE.ReplaceAllString(string(out), "duration=X"), err
}

// ofctlLines returns the indented lines of a dump (the entries, without the
// reply header), trimmed.
func ofctlLines(out string) []string {
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, " ") {
			lines = append(lines, strings.TrimSpace(l))
		}
	}
	return lines
}

func TestOvsOfctl(t *testing.T) {
	hosttest.Need(t, "ovs-ofctl", "openvswitch-common")
	for _, v := range []string{"OpenFlow10", "OpenFlow13"} {
		t.Run(v, func(t *testing.T) {
			tb := newTestBed(t, Config{})
			run := func(args ...string) string {
				t.Helper()
				out, err := ofctl(t, tb.sock, v, args...)
				if err != nil {
					t.Fatalf("ovs-ofctl %v: %v\n%s", args, err, out)
				}
				return out
			}
			dump := func(want ...string) {
				t.Helper()
				out := run("dump-flows")
				// OpenFlow 1.0 dumps are Nicira NXST_FLOW, with idle ages.
				if wantNX := v == "OpenFlow10"; strings.HasPrefix(out, "NXST_FLOW reply") != wantNX ||
					(len(want) > 0 && strings.Contains(out, "idle_age=") != wantNX) {
					t.Errorf("dump-flows reply kind:\n%s", out)
				}
				if diff := cmp.Diff(want, ofctlLines(idleAgeRE.ReplaceAllString(out, ""))); diff != "" {
					t.Errorf("dump-flows (-want +got):\n%s", diff)
				}
			}
			out := run("show")
			for _, want := range []string{"dpid:0000000000001234", "n_tables:254", "1(p1): addr:02:00:00:00:00:01", "2(p2): addr:02:00:00:00:00:02"} {
				if !strings.Contains(out, want) {
					t.Errorf("show lacks %q:\n%s", want, out)
				}
			}
			run("del-flows")
			run("add-flow", "priority=100,ip,nw_dst=10.0.0.1,actions=output:2")
			run("add-flow", "table=1,priority=5,tcp,tp_dst=80,actions=drop")
			file := filepath.Join(t.TempDir(), "flows.txt")
			if err := os.WriteFile(file, []byte("priority=50,udp,tp_dst=53,actions=drop\ncookie=0x7,priority=40,arp,actions=NORMAL\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			run("add-flows", file)
			dump(
				"cookie=0x0, duration=X, table=0, n_packets=0, n_bytes=0, priority=100,ip,nw_dst=10.0.0.1 actions=output:2",
				"cookie=0x0, duration=X, table=0, n_packets=0, n_bytes=0, priority=50,udp,tp_dst=53 actions=drop",
				"cookie=0x7, duration=X, table=0, n_packets=0, n_bytes=0, priority=40,arp actions=NORMAL",
				"cookie=0x0, duration=X, table=1, n_packets=0, n_bytes=0, priority=5,tcp,tp_dst=80 actions=drop",
			)
			run("del-flows", "udp")
			run("del-flows", "arp")
			run("mod-flows", "ip,nw_dst=10.0.0.1,actions=output:1")
			run("del-flows", "--strict", "table=1,priority=4,tcp,tp_dst=80") // wrong priority: no-op
			dump(
				"cookie=0x0, duration=X, table=0, n_packets=0, n_bytes=0, priority=100,ip,nw_dst=10.0.0.1 actions=output:1",
				"cookie=0x0, duration=X, table=1, n_packets=0, n_bytes=0, priority=5,tcp,tp_dst=80 actions=drop",
			)
			run("del-flows", "--strict", "table=1,priority=5,tcp,tp_dst=80")
			dump("cookie=0x0, duration=X, table=0, n_packets=0, n_bytes=0, priority=100,ip,nw_dst=10.0.0.1 actions=output:1")
			if out := run("dump-aggregate"); !strings.Contains(out, "packet_count=0 byte_count=0 flow_count=1") ||
				(v == "OpenFlow10") != strings.HasPrefix(out, "NXST_AGGREGATE reply") {
				t.Errorf("dump-aggregate: %s", out)
			}
			if out := run("dump-ports"); !strings.Contains(out, "2 ports") || !strings.Contains(out, "port  1: rx pkts=0") {
				t.Errorf("dump-ports: %s", out)
			}
			run("mod-port", "p1", "down")
			if out := run("dump-ports-desc"); !strings.Contains(out, "config:     PORT_DOWN") {
				t.Errorf("dump-ports-desc after mod-port down: %s", out)
			}
			if out := run("dump-tables"); !strings.Contains(out, "table 0") || !strings.Contains(out, "active=1") {
				t.Errorf("dump-tables: %s", out)
			}
			run("del-flows")
			dump()
			// Groups: with OpenFlow 1.0 ovs-ofctl uses the Nicira
			// NXT_GROUP_MOD and NXST_GROUP* extensions (nxgroup.go).
			run("add-group", "group_id=1,type=all,bucket=output:1")
			run("add-group", "group_id=2,type=select,bucket=weight:5,output:1,bucket=output:2")
			if out, err := ofctl(t, tb.sock, v, "add-group", "group_id=1,type=all,bucket=output:2"); err == nil || !strings.Contains(out, "OFPGMFC_GROUP_EXISTS") {
				t.Errorf("duplicate add-group: err %v, output %q, want OFPGMFC_GROUP_EXISTS", err, out)
			}
			// As a real Open vSwitch 3.1 bridge prints them: Nicira (1.0)
			// group descs carry OpenFlow 1.5 buckets, with bucket ids.
			wantGroups := []string{
				"group_id=1,type=all,bucket=actions=output:1",
				"group_id=2,type=select,bucket=weight:5,actions=output:1,bucket=actions=output:2",
			}
			if v == "OpenFlow10" {
				wantGroups = []string{
					"group_id=1,type=all,bucket=bucket_id:0,actions=output:1",
					"group_id=2,type=select,bucket=bucket_id:0,weight:5,actions=output:1,bucket=bucket_id:1,actions=output:2",
				}
			}
			out = run("dump-groups")
			if diff := cmp.Diff(wantGroups, ofctlLines(out)); diff != "" {
				t.Errorf("dump-groups (-want +got):\n%s", diff)
			}
			if out := run("dump-group-stats"); !strings.Contains(out, "group_id=2,duration=X,ref_count=0,packet_count=0,byte_count=0,bucket0:packet_count=0,byte_count=0,bucket1:packet_count=0,byte_count=0") {
				t.Errorf("dump-group-stats:\n%s", out)
			}
			if out := run("dump-group-features"); !strings.Contains(out, "max_groups=") || !strings.Contains(out, "Types:  0xf") {
				t.Errorf("dump-group-features:\n%s", out)
			}
			run("del-groups", "group_id=1")
			if got := ofctlLines(run("dump-groups")); len(got) != 1 || !strings.HasPrefix(got[0], "group_id=2,") {
				t.Errorf("dump-groups after deleting group 1: %q", got)
			}
			run("del-groups")
			if got := ofctlLines(run("dump-groups")); len(got) != 0 {
				t.Errorf("dump-groups after del-groups: %q", got)
			}
			// packet-out to the pipeline.
			run("packet-out", "in_port=1 packet=ffffffffffff020000000001080600010800060400010200000000010a0000010000000000000a000002 actions=table")
		})
	}
}
