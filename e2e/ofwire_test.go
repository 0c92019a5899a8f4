package e2e

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"tapestry/internal/hosttest"
)

// Device, namespace and port names of these tests (prefix tpn, TCP ports
// 16700-16799 on 127.0.0.1).
const (
	ovsNS       = "tpn-ovs"
	osKenPort   = "16710"
	ptcpPort    = "16711"
	ofVersions  = "OpenFlow10,OpenFlow13"
	ovsBridge   = "tpnovs"
	learnBridge = "tpnbr"
)

var (
	durations = regexp.MustCompile(`duration=[0-9.]+s`)
	ages      = regexp.MustCompile(`(idle|hard)_age=\d+`)
)

// blankDurations blanks what changes between two dumps a moment apart:
// durations and the Nicira idle/hard ages.
func blankDurations(s string) string {
	return ages.ReplaceAllString(durations.ReplaceAllString(s, "duration=X"), "${1}_age=X")
}

// tpnOVS is a private Open vSwitch (userspace datapath) in its own network
// namespace, so its ovs-netdev device cannot collide with another userspace
// OVS in the root namespace; its unix sockets are reached by path.
type tpnOVS struct {
	dir  string
	sock string // the bridge's management socket
}

func startTpnOVS(t *testing.T) *tpnOVS {
	t.Helper()
	for _, b := range []string{"ovsdb-server", "ovs-vswitchd", "ovs-vsctl", "ovsdb-tool"} {
		hosttest.Need(t, b, "openvswitch-switch")
	}
	dir, err := os.MkdirTemp("", "tpn-ovs")
	if err != nil {
		t.Fatal(err)
	}
	o := &tpnOVS{dir: dir, sock: filepath.Join(dir, ovsBridge+".mgmt")}
	quiet("ip", "netns", "del", ovsNS)
	sh(t, "ip", "netns", "add", ovsNS)
	sh(t, "ip", "-n", ovsNS, "link", "set", "lo", "up")
	t.Cleanup(func() {
		for _, d := range []string{"ovs-vswitchd", "ovsdb-server"} {
			if b, err := os.ReadFile(filepath.Join(dir, d+".pid")); err == nil {
				var pid int
				if _, err := fmtSscan(strings.TrimSpace(string(b)), &pid); err == nil && pid > 0 {
					syscall.Kill(pid, syscall.SIGTERM)
				}
			}
		}
		time.Sleep(200 * time.Millisecond)
		quiet("ip", "netns", "del", ovsNS)
		os.RemoveAll(dir)
	})
	db := filepath.Join(dir, "conf.db")
	dbSock := "unix:" + filepath.Join(dir, "db.sock")
	// Every OVS program finds its control sockets through these.
	env := append(os.Environ(), "OVS_RUNDIR="+dir, "OVS_LOGDIR="+dir, "OVS_DBDIR="+dir, "OVS_SYSCONFDIR="+dir)
	run := func(name string, args ...string) {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
	}
	run("ovsdb-tool", "create", db, "/usr/share/openvswitch/vswitch.ovsschema")
	run("ip", "netns", "exec", ovsNS, "ovsdb-server", db, "--remote=p"+dbSock,
		"--pidfile="+filepath.Join(dir, "ovsdb-server.pid"), "--detach", "--no-chdir",
		"--log-file="+filepath.Join(dir, "ovsdb-server.log"), "-vconsole:off")
	vsctl := func(args ...string) {
		t.Helper()
		run("ovs-vsctl", append([]string{"--db=" + dbSock, "--timeout=20"}, args...)...)
	}
	vsctl("--no-wait", "init")
	run("ip", "netns", "exec", ovsNS, "ovs-vswitchd", dbSock,
		"--pidfile="+filepath.Join(dir, "ovs-vswitchd.pid"), "--detach", "--no-chdir",
		"--log-file="+filepath.Join(dir, "ovs-vswitchd.log"), "-vconsole:off")
	vsctl("add-br", ovsBridge, "--", "set", "bridge", ovsBridge, "datapath_type=netdev")
	for i := 0; i < 100; i++ {
		if _, err := os.Stat(o.sock); err == nil {
			return o
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s did not appear", o.sock)
	return nil
}

// ovsOfctl runs the real ovs-ofctl.
func ovsOfctl(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("ovs-ofctl", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ovs-ofctl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// flowEntries is the flow lines of a dump, trimmed, without the reply
// header, idle ages (Nicira stats only) and durations.
var idleAge = regexp.MustCompile(`idle_age=X, (hard_age=X, )?`)

func flowEntries(dump string) []string {
	var out []string
	for _, l := range strings.Split(blankDurations(dump), "\n") {
		if strings.HasPrefix(l, " ") {
			out = append(out, idleAge.ReplaceAllString(strings.TrimSpace(l), ""))
		}
	}
	return out
}

// TestTapestryOfctlDrivesOpenVSwitch: tapestry ofctl adds, modifies, dumps
// and deletes flows on a real Open vSwitch over its management socket, in
// OpenFlow 1.0 and 1.3, and the real ovs-ofctl sees the same flows.
func TestTapestryOfctlDrivesOpenVSwitch(t *testing.T) {
	needRoot(t)
	o := startTpnOVS(t)
	d := newDaemon(t)
	target := "unix:" + o.sock
	flows := filepath.Join(t.TempDir(), "flows.txt")
	if err := os.WriteFile(flows, []byte("priority=50,udp,tp_dst=53,actions=drop\n# comment\ncookie=0x7,priority=40,arp,actions=NORMAL\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"OpenFlow10", "OpenFlow13"} {
		t.Run(v, func(t *testing.T) {
			d.run("ofctl", "-O", v, "del-flows", target)
			d.run("ofctl", "-O", v, "add-flow", target, "priority=100,ip,nw_dst=10.0.0.1,actions=output:LOCAL")
			d.run("ofctl", "-O", v, "add-flow", target, "table=1,priority=5,tcp,tp_dst=80,actions=drop")
			d.run("ofctl", "-O", v, "add-flows", target, flows)
			d.run("ofctl", "-O", v, "mod-flows", target, "ip,nw_dst=10.0.0.1,actions=drop")
			d.run("ofctl", "-O", v, "del-flows", target, "udp")
			d.run("ofctl", "-O", v, "del-flows", "--strict", target, "table=1,priority=4,tcp,tp_dst=80") // no such flow
			want := []string{
				"cookie=0x0, duration=X, table=0, n_packets=0, n_bytes=0, priority=100,ip,nw_dst=10.0.0.1 actions=drop",
				"cookie=0x7, duration=X, table=0, n_packets=0, n_bytes=0, priority=40,arp actions=NORMAL",
				"cookie=0x0, duration=X, table=1, n_packets=0, n_bytes=0, priority=5,tcp,tp_dst=80 actions=drop",
			}
			real := ovsOfctl(t, "-O", v, "dump-flows", target)
			ours := d.run("ofctl", "-O", v, "dump-flows", target)
			if got := flowEntries(real); strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("ovs-ofctl dump-flows after tapestry ofctl:\n%s\nwant:\n%s", real, strings.Join(want, "\n"))
			}
			if got := flowEntries(ours); strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("tapestry ofctl dump-flows:\n%s\nwant:\n%s", ours, strings.Join(want, "\n"))
			}
			for _, cmd := range [][]string{{"dump-flows"}, {"dump-flows", "tcp"}, {"dump-flows", "--sort"},
				{"dump-flows", "--no-stats", "table=1"}, {"dump-flows", "--names"}, {"dump-aggregate"}, {"dump-aggregate", "arp"},
				{"show"}, {"dump-ports-desc"}, {"dump-tables"}, {"dump-ports", "LOCAL"}} {
				args := append([]string{"-O", v, cmd[0], target}, cmd[1:]...)
				if r, o := blankDurations(ovsOfctl(t, args...)), blankDurations(d.run(append([]string{"ofctl"}, args...)...)); r != o {
					t.Errorf("%s differs:\novs-ofctl:\n%s\ntapestry ofctl:\n%s", cmd[0], r, o)
				}
			}
			if v == "OpenFlow13" {
				d.run("ofctl", "-O", v, "add-group", target, "group_id=1,type=all,bucket=output:1,bucket=output:LOCAL")
				d.run("ofctl", "-O", v, "add-group", target, "group_id=2,type=select,bucket=output:1,bucket=weight:5,actions=drop")
				// Open vSwitch lists groups in hash order; both tools print
				// that order.
				r, o := ovsOfctl(t, "-O", v, "dump-groups", target), d.run("ofctl", "-O", v, "dump-groups", target)
				for _, g := range []string{"OFPST_GROUP_DESC reply (OF1.3) (xid=0x2):\n",
					"\n group_id=1,type=all,bucket=actions=output:1,bucket=actions=LOCAL\n",
					"\n group_id=2,type=select,bucket=actions=output:1,bucket=weight:5,actions=drop\n"} {
					if !strings.Contains(r, g) || r != o {
						t.Errorf("dump-groups: %q missing or outputs differ:\novs-ofctl:\n%s\ntapestry ofctl:\n%s", g, r, o)
					}
				}
				d.run("ofctl", "-O", v, "del-groups", target)
				if r := ovsOfctl(t, "-O", v, "dump-groups", target); r != "OFPST_GROUP_DESC reply (OF1.3) (xid=0x2):\n" {
					t.Errorf("groups left after del-groups:\n%s", r)
				}
			}
			d.run("ofctl", "-O", v, "packet-out", target,
				"in_port=LOCAL packet=ffffffffffff020000000001080600010800060400010200000000010a0000010000000000000a000002 actions=drop")
			// Errors print as ovs-ofctl prints them: the error, then the
			// request it refers to.
			bad := "table=254,priority=7,ip,nw_dst=1.2.3.4,actions=drop" // table 254 is internal
			realErr, _ := exec.Command("ovs-ofctl", "-O", v, "add-flow", target, bad).CombinedOutput()
			if out, err := d.try("ofctl", "-O", v, "add-flow", target, bad); err == nil || out != string(realErr) {
				t.Errorf("add-flow to table 254: err %v\novs-ofctl:\n%s\ntapestry ofctl:\n%s", err, realErr, out)
			}
			d.run("ofctl", "-O", v, "del-flows", target)
			if got := flowEntries(ovsOfctl(t, "-O", v, "dump-flows", target)); len(got) != 0 {
				t.Errorf("flows left after del-flows: %q", got)
			}
		})
	}
}

// TestOfctlWireMatchesOvsOfctl: against a tapestry bridge's management
// socket, tapestry ofctl and ovs-ofctl print the same for every command.
func TestOfctlWireMatchesOvsOfctl(t *testing.T) {
	needRoot(t)
	d := newDaemon(t)
	d.run("vsctl", "add-br", "tpnw0")
	target := "unix:" + filepath.Join(d.runDir, "tpnw0.mgmt")
	ovsOfctl(t, "add-flow", target, "table=1,priority=5,tcp,tp_dst=80,actions=drop")
	ovsOfctl(t, "add-flow", target, "cookie=0x9,priority=50,ip,nw_src=10.1.0.0/16,actions=mod_nw_tos:8,NORMAL")
	ovsOfctl(t, "add-flow", target, "priority=60,in_port=LOCAL,arp,actions=output:LOCAL")
	cmds := [][]string{{"show"}, {"dump-flows"}, {"dump-flows", "tcp"}, {"dump-flows", "--no-stats"},
		{"dump-flows", "in_port=LOCAL"}, {"dump-flows", "--names"}, {"dump-flows", "--rsort=priority"},
		{"dump-flows", "--sort"}, {"dump-aggregate"}, {"dump-aggregate", "ip"}, {"dump-ports"},
		{"dump-ports", "LOCAL"}, {"dump-ports-desc"}, {"dump-tables"}}
	for _, v := range []string{"OpenFlow10", "OpenFlow13"} {
		for _, cmd := range cmds {
			args := append([]string{"-O", v, cmd[0], target}, cmd[1:]...)
			real := blankDurations(ovsOfctl(t, args...))
			ours := blankDurations(d.run(append([]string{"ofctl"}, args...)...))
			if real != ours {
				t.Errorf("%s %s differs:\novs-ofctl:\n%s\ntapestry ofctl:\n%s", v, strings.Join(cmd, " "), real, ours)
			}
		}
	}
	// Errors print as ovs-ofctl prints them: a group added twice.
	ovsOfctl(t, "-O", "OpenFlow13", "add-group", target, "group_id=1,type=all,bucket=output:LOCAL")
	cmd := exec.Command("ovs-ofctl", "-O", "OpenFlow13", "add-group", target, "group_id=1,type=all,bucket=output:LOCAL")
	real, rerr := cmd.CombinedOutput()
	ours, err := d.try("ofctl", "-O", "OpenFlow13", "add-group", target, "group_id=1,type=all,bucket=output:LOCAL")
	if rerr == nil || err == nil || ours != string(real) || !strings.Contains(ours, "OFPGMFC_GROUP_EXISTS") {
		t.Errorf("add-group of an existing group: err %v, %v\novs-ofctl:\n%s\ntapestry ofctl:\n%s", rerr, err, real, ours)
	}
	// Without -O the best common version (1.3) is used.
	if out := d.run("ofctl", "dump-flows", target); !strings.HasPrefix(out, "OFPST_FLOW reply (OF1.3) (xid=0x2):") {
		t.Errorf("dump-flows without -O:\n%s", out)
	}
}

// tshark captures OpenFlow on loopback.
type tshark struct {
	cmd  *exec.Cmd
	file string
}

func startTshark(t *testing.T, ports ...string) *tshark {
	t.Helper()
	hosttest.Need(t, "tshark", "tshark")
	file := filepath.Join(t.TempDir(), "of.pcapng")
	filter := "tcp port " + strings.Join(ports, " or tcp port ")
	ts := &tshark{cmd: exec.Command("tshark", "-i", "lo", "-f", filter, "-w", file), file: file}
	stderr, err := ts.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := ts.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ts.stop() })
	// tshark says "Capturing on 'Loopback: lo'" once it captures.
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		if strings.Contains(sc.Text(), "Capturing on") {
			go func() {
				for sc.Scan() {
				}
			}()
			return ts
		}
	}
	t.Fatalf("tshark did not start capturing")
	return nil
}

func (ts *tshark) stop() {
	if ts.cmd.Process == nil || ts.cmd.ProcessState != nil {
		return
	}
	ts.cmd.Process.Signal(syscall.SIGINT)
	ts.cmd.Wait()
}

// check reads the capture back with the OpenFlow dissector on ports and
// fails on malformed packets or dissector errors; it returns the OpenFlow
// versions seen.
func (ts *tshark) check(t *testing.T, ports ...string) map[string]bool {
	t.Helper()
	ts.stop()
	args := []string{"-r", ts.file}
	for _, p := range ports {
		args = append(args, "-d", "tcp.port=="+p+",openflow")
	}
	// Wireshark's OpenFlow 1.0 dissector calls every flow mod without
	// actions (a 72-byte delete) malformed, the one ovs-ofctl del-flows
	// sends byte for byte included; those are left out.
	bad, err := exec.Command("tshark", append(args, "-Y",
		"(_ws.malformed || _ws.expert.severity==error) && !(openflow.length == 72 && openflow_1_0.type == 14)")...).Output()
	if err != nil {
		t.Fatalf("tshark: %v\n%s", err, bad)
	}
	if len(strings.TrimSpace(string(bad))) != 0 {
		t.Errorf("tshark reports malformed OpenFlow packets:\n%s", bad)
	}
	out, err := exec.Command("tshark", append(args, "-T", "fields", "-e", "frame.protocols")...).Output()
	if err != nil {
		t.Fatalf("tshark: %v\n%s", err, out)
	}
	seen := map[string]bool{}
	for _, l := range strings.Fields(string(out)) {
		for _, p := range strings.Split(l, ":") {
			if strings.HasPrefix(p, "openflow_v") {
				seen[p] = true
			}
		}
	}
	return seen
}

// TestOsKenLearningSwitch: os-ken runs a learning switch written against
// its API (testdata/tpn_learn13.py); a tapestry bridge in fail-mode secure
// with no flows of its own connects to it; ping between two namespaces
// works through packet-in and flow-mod learning, the learned flows show in
// dump-flows, and tshark finds every OpenFlow packet well formed, of the
// os-ken session and of ofctl sessions over tcp in both versions.
func TestOsKenLearningSwitch(t *testing.T) {
	needRoot(t)
	manager := "/usr/bin/osken-manager"
	hosttest.Need(t, manager, "python3-os-ken")
	capture := startTshark(t, osKenPort, ptcpPort)
	app, err := filepath.Abs("testdata/tpn_learn13.py")
	if err != nil {
		t.Fatal(err)
	}
	ctl := exec.Command(manager, "--ofp-listen-host", "127.0.0.1", "--ofp-tcp-listen-port", osKenPort, app)
	var ctlLog strings.Builder
	ctl.Stdout, ctl.Stderr = &ctlLog, &ctlLog
	if err := ctl.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctl.Process.Signal(syscall.SIGTERM)
		ctl.Wait()
	})

	clean := func() {
		quiet("ip", "netns", "del", "tpn-ns0")
		quiet("ip", "netns", "del", "tpn-ns1")
		quiet("ip", "link", "del", "tpntap0")
		quiet("ip", "link", "del", "tpntap1")
	}
	clean()
	t.Cleanup(clean)
	sh(t, "ip", "tuntap", "add", "tpntap0", "mode", "tap")
	sh(t, "ip", "tuntap", "add", "tpntap1", "mode", "tap")
	d := newDaemon(t)
	d.run("vsctl", "add-br", learnBridge)
	d.run("vsctl", "add-port", learnBridge, "tpntap0")
	d.run("vsctl", "add-port", learnBridge, "tpntap1")
	d.run("vsctl", "set-fail-mode", learnBridge, "secure")
	d.run("ofctl", "del-flows", learnBridge)
	intoNamespace(t, "tpn-ns0", "tpntap0", "10.9.0.1/24")
	intoNamespace(t, "tpn-ns1", "tpntap1", "10.9.0.2/24")
	d.run("vsctl", "set-controller", learnBridge, "tcp:127.0.0.1:"+osKenPort)

	// Wait for os-ken's table-miss flow: the controller is connected.
	for i := 0; ; i++ {
		if strings.Contains(d.run("ofctl", "dump-flows", learnBridge), "actions=CONTROLLER:65535") {
			break
		}
		if i == 200 {
			t.Fatalf("os-ken never installed its table-miss flow; os-ken log:\n%s\ndaemon log:\n%s", ctlLog.String(), d.log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !ping("tpn-ns0", "10.9.0.2", 3) {
		t.Fatalf("ping through the os-ken learning switch failed; flows:\n%s\nos-ken log:\n%s", d.run("ofctl", "dump-flows", learnBridge), ctlLog.String())
	}
	dump := d.run("ofctl", "-O", "OpenFlow13", "dump-flows", learnBridge)
	for _, want := range []string{"priority=10,in_port=1,dl_dst=", "priority=10,in_port=2,dl_dst=", "priority=0 actions=CONTROLLER:65535"} {
		if !strings.Contains(dump, want) {
			t.Errorf("learned flows: %q missing from\n%s", want, dump)
		}
	}

	// A passive listener on the bridge next to the controller, driven by
	// tapestry ofctl and ovs-ofctl over tcp in both versions.
	d.run("vsctl", "set-controller", learnBridge, "tcp:127.0.0.1:"+osKenPort, "ptcp:"+ptcpPort+":127.0.0.1")
	target := "tcp:127.0.0.1:" + ptcpPort
	var out string
	for i := 0; i < 100; i++ {
		if out, err = d.try("ofctl", "-O", "OpenFlow13", "dump-flows", target); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("tapestry ofctl over %s: %v\n%s", target, err, out)
	}
	for _, v := range []string{"OpenFlow10", "OpenFlow13"} {
		d.run("ofctl", "-O", v, "add-flow", target, "priority=5,arp,actions=NORMAL")
		d.run("ofctl", "-O", v, "show", target)
		d.run("ofctl", "-O", v, "dump-ports", target)
		d.run("ofctl", "-O", v, "dump-tables", target)
		if r, o := flowEntries(ovsOfctl(t, "-O", v, "dump-flows", target)), flowEntries(d.run("ofctl", "-O", v, "dump-flows", target)); strings.Join(r, "\n") != strings.Join(o, "\n") {
			t.Errorf("%s dump-flows over tcp: ovs-ofctl %q, tapestry ofctl %q", v, r, o)
		}
		d.run("ofctl", "-O", v, "del-flows", "--strict", target, "priority=5,arp")
	}
	d.run("ofctl", "-O", "OpenFlow13", "packet-out", target,
		"in_port=1 packet=ffffffffffff020000000001080600010800060400010200000000010a0000010000000000000a000002 actions=table")

	seen := capture.check(t, osKenPort, ptcpPort)
	if !seen["openflow_v1"] || !seen["openflow_v4"] {
		t.Errorf("capture lacks OpenFlow 1.0 or 1.3 packets; versions seen: %v", seen)
	}
}

func fmtSscan(s string, pid *int) (int, error) { return fmt.Sscan(s, pid) }
