package e2e

import (
	"bytes"
	"context"
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

// The controller end to end: `tapestry controller` (the built binary)
// drives a real Open vSwitch and a tapestry bridge, both in fail_mode
// secure, with l2-learning and a sealed Lua app that drops ICMP echo
// requests from one host; the REST API adds flows with curl.
//
// Names: devices and namespaces start with tpo-, ports are 127.0.0.1:168xx.

const (
	ctlToken  = "tpo-token"
	blockedIP = "10.8.0.1" // tpo host 0; host 1 is 10.8.0.2
)

// blockerApp is the Lua app that is sealed: it drops ICMP echo requests
// from blockedIP with a flow above l2-learning's, so replies (type 0) to
// the other host's pings still pass and ARP, UDP and TCP are untouched.
const blockerApp = `
local blocked = "` + blockedIP + `"
function on_switch_up(sw)
  sw:add_flow("priority=100,icmp,nw_src=" .. blocked .. ",icmp_type=8,actions=drop")
end
function on_packet_in(sw, pkt)
  -- l2-learning forwards; an echo request from the blocked host that
  -- raced the drop flow must not be forwarded by us either.
end
`

// ctlProc is a running `tapestry controller`.
type ctlProc struct {
	t   *testing.T
	ns  string // network namespace it runs in ("" for the root one)
	api string
	cmd *exec.Cmd
	log bytes.Buffer
}

// inNS prefixes a command with `ip netns exec ns` when ns is set.
func inNS(ns string, argv ...string) []string {
	if ns == "" {
		return argv
	}
	return append([]string{"ip", "netns", "exec", ns}, argv...)
}

func startController(t *testing.T, ns string, ofPort, apiPort int, args ...string) *ctlProc {
	t.Helper()
	c := &ctlProc{t: t, ns: ns, api: fmt.Sprintf("127.0.0.1:%d", apiPort)}
	argv := inNS(ns, append([]string{binary, "controller", "--listen", fmt.Sprintf("tcp:127.0.0.1:%d", ofPort),
		"--api", c.api, "--token", ctlToken}, args...)...)
	c.cmd = exec.Command(argv[0], argv[1:]...)
	c.cmd.Stdout, c.cmd.Stderr = &c.log, &c.log
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("starting controller: %v", err)
	}
	t.Cleanup(c.stop)
	for i := 0; i < 100; i++ {
		if code, _ := c.curl("GET", "/apps", "", ""); code == 200 {
			return c
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("controller REST did not answer on %s; log:\n%s", c.api, c.log.String())
	return nil
}

func (c *ctlProc) stop() {
	if c.cmd == nil || c.cmd.Process == nil {
		return
	}
	// `ip netns exec` execs the command, so this is the controller itself.
	c.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { c.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		c.cmd.Process.Kill()
		<-done
		c.t.Errorf("controller did not stop on SIGTERM; log:\n%s", c.log.String())
	}
	c.cmd = nil
}

// curl calls the REST API with the curl binary, in the controller's
// namespace, and returns the status code and body.
func (c *ctlProc) curl(method, path, token, body string) (int, string) {
	argv := []string{"curl", "-s", "-m", "5", "-X", method, "-w", "\n%{http_code}"}
	if token != "" {
		argv = append(argv, "-H", "Authorization: Bearer "+token)
	}
	if body != "" {
		argv = append(argv, "-H", "Content-Type: application/json", "--data-binary", body)
	}
	argv = inNS(c.ns, append(argv, "http://"+c.api+path)...)
	out, _ := exec.Command(argv[0], argv[1:]...).Output()
	s := strings.TrimRight(string(out), "\n")
	i := strings.LastIndexByte(s, '\n')
	var code int
	fmt.Sscan(s[i+1:], &code)
	if i < 0 {
		return code, ""
	}
	return code, s[:i]
}

// switchUnderTest is what the scenario needs from a switch: Open vSwitch
// or a tapestry bridge, with hosts in namespaces ns0 (10.8.0.1) and ns1
// (10.8.0.2) on ports 1 and 2.
type switchUnderTest struct {
	name          string
	ns0, ns1      string
	ctlNS         string // where the controller must run to be reachable
	setController func(target string)
	dumpFlows     func() string
	delFlows      func()
	connected     func() bool
	ports         [2]int // first OpenFlow and REST port of each phase
	blockFlow     *regexp.Regexp
}

// sealBlocker writes the blocker app sealed with a fresh key and returns
// the sealed file, the key file and another (wrong) key file.
func sealBlocker(t *testing.T) (app, key, wrong string) {
	dir := t.TempDir()
	src := filepath.Join(dir, "blocker.lua")
	app, key, wrong = filepath.Join(dir, "blocker.tlua"), filepath.Join(dir, "key"), filepath.Join(dir, "wrong")
	for _, f := range []string{key, wrong} {
		if err := os.WriteFile(f, []byte(sh(t, binary, "lua", "keygen")), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(src, []byte(blockerApp), 0o644); err != nil {
		t.Fatal(err)
	}
	sh(t, binary, "lua", "seal", "--key-file", key, src, "-o", app)
	if b, _ := os.ReadFile(app); bytes.Contains(b, []byte("icmp_type")) {
		t.Fatalf("sealed file %s holds the source in clear", app)
	}
	return app, key, wrong
}

// udpReaches reports whether a UDP datagram from ns0 reaches a listener
// on 10.8.0.2:port in ns1.
func udpReaches(t *testing.T, from, to string, port int) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ln := exec.CommandContext(ctx, "ip", "netns", "exec", to, "/usr/bin/python3", "-c", fmt.Sprintf(`
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", %d))
print("ready", flush=True)
s.settimeout(4)
try:
    data, _ = s.recvfrom(100)
    print(data.decode(), flush=True)
except socket.timeout:
    sys.exit(1)
`, port))
	var out bytes.Buffer
	stdout, err := ln.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := ln.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 6)
	if _, err := stdout.Read(buf); err != nil {
		t.Fatalf("UDP listener in %s: %v", to, err)
	}
	done := make(chan struct{})
	go func() {
		for {
			quiet("ip", "netns", "exec", from, "bash", "-c", fmt.Sprintf("echo tpo-probe > /dev/udp/10.8.0.2/%d", port))
			select {
			case <-done:
				return
			case <-time.After(200 * time.Millisecond):
			}
		}
	}()
	_, _ = out.ReadFrom(stdout) // until the listener exits
	close(done)
	err = ln.Wait()
	return err == nil && strings.Contains(out.String(), "tpo-probe")
}

func waitFor(d time.Duration, f func() bool) bool {
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if f() {
			return true
		}
	}
	return f()
}

// runControllerScenario is issue 7's "done when" against one switch.
func runControllerScenario(t *testing.T, sw switchUnderTest) {
	app, key, wrong := sealBlocker(t)

	// Phase 1: l2-learning and the sealed blocker, right key.
	sw.delFlows()
	c := startController(t, sw.ctlNS, sw.ports[0], sw.ports[0]+1, "--app", "l2-learning", "--app", app, "--key-file", key)
	sw.setController(fmt.Sprintf("tcp:127.0.0.1:%d", sw.ports[0]))
	if !waitFor(15*time.Second, func() bool { return strings.Contains(sw.dumpFlows(), "nw_src=10.8.0.1") && sw.connected() }) {
		t.Fatalf("%s: the controller's flows did not arrive:\n%s\ncontroller log:\n%s", sw.name, sw.dumpFlows(), c.log.String())
	}
	if !ping(sw.ns1, "10.8.0.1", 3) {
		t.Errorf("%s: host 1 cannot ping host 0 through l2-learning; flows:\n%s\ncontroller log:\n%s", sw.name, sw.dumpFlows(), c.log.String())
	}
	if ping(sw.ns0, "10.8.0.2", 2) {
		t.Errorf("%s: the blocked host 0 can ping host 1 despite the sealed app", sw.name)
	}
	if !udpReaches(t, sw.ns0, sw.ns1, 7001) {
		t.Errorf("%s: UDP from the blocked host does not get through (only ICMP should be dropped)", sw.name)
	}
	dump := sw.dumpFlows()
	if !sw.blockFlow.MatchString(dump) {
		t.Errorf("%s: dump-flows lacks the blocker's flow %s:\n%s", sw.name, sw.blockFlow, dump)
	}
	for _, want := range []string{"idle_timeout=60", "priority=10,in_port=", "actions=CONTROLLER:65535"} {
		if !strings.Contains(dump, want) {
			t.Errorf("%s: dump-flows lacks %q:\n%s", sw.name, want, dump)
		}
	}
	if n := strings.Count(dump, "dl_src="); n < 2 {
		t.Errorf("%s: %d learned flows, want at least 2:\n%s", sw.name, n, dump)
	}

	// REST with curl.
	dpid := "1"
	if code, body := c.curl("GET", "/switches", "", ""); code == 200 {
		if i := strings.Index(body, `"dpid":"`); i >= 0 {
			dpid = body[i+8 : i+24]
		}
	}
	flowPath := "/switches/" + dpid + "/flows"
	if code, body := c.curl("POST", flowPath, ctlToken, `{"flow":"priority=300,udp,tp_dst=7777,actions=drop"}`); code != 201 {
		t.Errorf("%s: POST %s: %d %s", sw.name, flowPath, code, body)
	}
	if dump := sw.dumpFlows(); !strings.Contains(dump, "priority=300,udp,tp_dst=7777 actions=drop") {
		t.Errorf("%s: the flow added over REST is not in dump-flows:\n%s", sw.name, dump)
	}
	if code, body := c.curl("POST", flowPath, "wrong", `{"flow":"priority=301,udp,actions=drop"}`); code != 401 {
		t.Errorf("%s: wrong token: %d %s, want 401", sw.name, code, body)
	}
	if code, body := c.curl("POST", flowPath, ctlToken, `{"flow": "priority=302,udp,actions=drop"`); code != 400 || !strings.Contains(body, "malformed JSON") {
		t.Errorf("%s: malformed JSON: %d %s, want 400 with a message", sw.name, code, body)
	}
	if dump := sw.dumpFlows(); strings.Contains(dump, "priority=301") || strings.Contains(dump, "priority=302") {
		t.Errorf("%s: a refused REST call added a flow", sw.name)
	}
	c.stop()

	// Phase 2: the wrong key. The sealed app does not load, the
	// controller stays up and l2-learning forwards, ICMP from host 0 too.
	sw.delFlows()
	c = startController(t, sw.ctlNS, sw.ports[1], sw.ports[1]+1, "--app", "l2-learning", "--app", app, "--key-file", wrong)
	sw.setController(fmt.Sprintf("tcp:127.0.0.1:%d", sw.ports[1]))
	if !waitFor(15*time.Second, func() bool { return strings.Contains(sw.dumpFlows(), "CONTROLLER") && sw.connected() }) {
		t.Fatalf("%s: no table-miss flow from the second controller:\n%s\nlog:\n%s", sw.name, sw.dumpFlows(), c.log.String())
	}
	if !strings.Contains(c.log.String(), "wrong key") {
		t.Errorf("%s: the controller log does not say the key is wrong:\n%s", sw.name, c.log.String())
	}
	if _, apps := c.curl("GET", "/apps", "", ""); strings.Contains(apps, "blocker") || !strings.Contains(apps, "l2-learning") {
		t.Errorf("%s: GET /apps with the wrong key: %s", sw.name, apps)
	}
	if !ping(sw.ns0, "10.8.0.2", 3) {
		t.Errorf("%s: with the blocker not loaded host 0 cannot ping; flows:\n%s\nlog:\n%s", sw.name, sw.dumpFlows(), c.log.String())
	}
	if strings.Contains(sw.dumpFlows(), "nw_src=10.8.0.1") {
		t.Errorf("%s: the blocker's flow is installed although its key was wrong", sw.name)
	}
}

// veth makes a veth pair a (into nsA, "" for root) - b (into nsB) and
// turns off TX checksum offload on b: the userspace datapath forwards
// partial checksums as they are.
func vethHost(t *testing.T, swEnd, swNS, hostEnd, hostNS, addr string) {
	t.Helper()
	sh(t, "ip", "link", "add", swEnd, "type", "veth", "peer", "name", hostEnd)
	sh(t, "ip", "link", "set", swEnd, "netns", swNS)
	sh(t, "ip", "-n", swNS, "link", "set", swEnd, "up")
	sh(t, "ip", "link", "set", hostEnd, "netns", hostNS)
	sh(t, "ip", "-n", hostNS, "addr", "add", addr, "dev", hostEnd)
	sh(t, "ip", "-n", hostNS, "link", "set", hostEnd, "up")
	sh(t, "ip", "-n", hostNS, "link", "set", "lo", "up")
	sh(t, "ip", "netns", "exec", hostNS, "ethtool", "-K", hostEnd, "tx", "off")
}

// startOVS runs ovsdb-server and ovs-vswitchd (userspace datapath) in the
// namespace tpo-ovs, with their own run directory: another userspace OVS
// in the root namespace would collide on the ovs-netdev device.
func startOVS(t *testing.T) (env []string) {
	t.Helper()
	hosttest.Need(t, "ovs-vswitchd", "openvswitch-switch")
	dir := t.TempDir()
	env = append(os.Environ(), "OVS_RUNDIR="+dir, "OVS_LOGDIR="+dir, "OVS_DBDIR="+dir, "OVS_SYSCONFDIR="+dir)
	clean := func() {
		for _, d := range []string{"ovs-vswitchd", "ovsdb-server"} {
			if b, err := os.ReadFile(filepath.Join(dir, d+".pid")); err == nil {
				var pid int
				if _, err := fmt.Sscan(string(b), &pid); err == nil && pid > 1 {
					syscall.Kill(pid, syscall.SIGTERM)
				}
			}
		}
		time.Sleep(200 * time.Millisecond)
		for _, ns := range []string{"tpo-ovs", "tpo-h0", "tpo-h1"} {
			quiet("ip", "netns", "del", ns)
		}
	}
	for _, ns := range []string{"tpo-ovs", "tpo-h0", "tpo-h1"} {
		quiet("ip", "netns", "del", ns)
	}
	t.Cleanup(clean)
	for _, ns := range []string{"tpo-ovs", "tpo-h0", "tpo-h1"} {
		sh(t, "ip", "netns", "add", ns)
	}
	sh(t, "ip", "-n", "tpo-ovs", "link", "set", "lo", "up")
	run := func(argv ...string) string {
		t.Helper()
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, out)
		}
		return string(out)
	}
	db := filepath.Join(dir, "conf.db")
	run("ovsdb-tool", "create", db, "/usr/share/openvswitch/vswitch.ovsschema")
	run("ip", "netns", "exec", "tpo-ovs", "ovsdb-server", db, "--remote=punix:"+filepath.Join(dir, "db.sock"),
		"--pidfile="+filepath.Join(dir, "ovsdb-server.pid"), "--detach", "--no-chdir",
		"--log-file="+filepath.Join(dir, "ovsdb-server.log"), "-vconsole:off")
	run("ovs-vsctl", "--no-wait", "init")
	run("ip", "netns", "exec", "tpo-ovs", "ovs-vswitchd", "unix:"+filepath.Join(dir, "db.sock"),
		"--pidfile="+filepath.Join(dir, "ovs-vswitchd.pid"), "--detach", "--no-chdir",
		"--log-file="+filepath.Join(dir, "ovs-vswitchd.log"), "-vconsole:off")
	run("ovs-vsctl", "--timeout=10", "add-br", "br0", "--", "set", "bridge", "br0", "datapath_type=netdev", "fail_mode=secure")
	vethHost(t, "tpo-v0", "tpo-ovs", "tpo-e0", "tpo-h0", "10.8.0.1/24")
	vethHost(t, "tpo-v1", "tpo-ovs", "tpo-e1", "tpo-h1", "10.8.0.2/24")
	run("ovs-vsctl", "--timeout=10", "add-port", "br0", "tpo-v0", "--", "set", "interface", "tpo-v0", "ofport_request=1")
	run("ovs-vsctl", "--timeout=10", "add-port", "br0", "tpo-v1", "--", "set", "interface", "tpo-v1", "ofport_request=2")
	return env
}

func ovsCmd(env []string, argv ...string) (string, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestControllerDrivesOpenVSwitch runs the scenario against a real Open
// vSwitch 3.x (userspace datapath, veth ports) with the controller inside
// the switch's namespace.
func TestControllerDrivesOpenVSwitch(t *testing.T) {
	needRoot(t)
	env := startOVS(t)
	sw := switchUnderTest{
		name: "Open vSwitch", ns0: "tpo-h0", ns1: "tpo-h1", ctlNS: "tpo-ovs", ports: [2]int{16800, 16802},
		blockFlow: regexp.MustCompile(`priority=100,icmp,nw_src=10\.8\.0\.1,icmp_type=8 actions=drop`),
		setController: func(target string) {
			if out, err := ovsCmd(env, "ovs-vsctl", "--timeout=10", "set-controller", "br0", target); err != nil {
				t.Fatalf("ovs-vsctl set-controller: %v\n%s", err, out)
			}
		},
		dumpFlows: func() string {
			out, _ := ovsCmd(env, "ovs-ofctl", "-O", "OpenFlow13", "dump-flows", "br0")
			return out
		},
		delFlows: func() { ovsCmd(env, "ovs-ofctl", "del-flows", "br0") },
		connected: func() bool {
			out, _ := ovsCmd(env, "ovs-vsctl", "--timeout=5", "--columns=is_connected", "list", "controller")
			return strings.Contains(out, "true")
		},
	}
	runControllerScenario(t, sw)
}

// TestControllerDrivesTapestryBridge runs the scenario against a tapestry
// bridge (daemon, TAP ports in namespaces) with the controller in the root
// namespace.
func TestControllerDrivesTapestryBridge(t *testing.T) {
	needRoot(t)
	clean := func() {
		for _, n := range []string{"tpo-t0", "tpo-t1"} {
			quiet("ip", "netns", "del", n)
			quiet("ip", "link", "del", n)
		}
	}
	clean()
	t.Cleanup(clean)
	d := newDaemon(t)
	sh(t, "ip", "tuntap", "add", "tpo-t0", "mode", "tap")
	sh(t, "ip", "tuntap", "add", "tpo-t1", "mode", "tap")
	d.run("vsctl", "add-br", "tpo-br0")
	d.run("vsctl", "set-fail-mode", "tpo-br0", "secure")
	d.run("vsctl", "add-port", "tpo-br0", "tpo-t0")
	d.run("vsctl", "add-port", "tpo-br0", "tpo-t1")
	intoNamespace(t, "tpo-t0", "tpo-t0", "10.8.0.1/24")
	intoNamespace(t, "tpo-t1", "tpo-t1", "10.8.0.2/24")
	sw := switchUnderTest{
		name: "tapestry", ns0: "tpo-t0", ns1: "tpo-t1", ports: [2]int{16810, 16812},
		// The openflow package decodes OXM_OF_ICMPV4_TYPE with an 8-bit
		// mask on the 16-bit tp_src, so ofctl prints it masked where Open
		// vSwitch prints icmp_type=8; both mean the same flow.
		blockFlow:     regexp.MustCompile(`priority=100,icmp,nw_src=10\.8\.0\.1,icmp_type=(8|0x8/0xff) actions=drop`),
		setController: func(target string) { d.run("vsctl", "set-controller", "tpo-br0", target) },
		dumpFlows: func() string {
			out, _ := d.try("ofctl", "dump-flows", "tpo-br0")
			return out
		},
		delFlows:  func() { d.try("ofctl", "del-flows", "tpo-br0") },
		connected: func() bool { return true },
	}
	runControllerScenario(t, sw)
}
