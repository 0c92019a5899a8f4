// Package e2e runs tapestry as users do: the built binary, a daemon, real TAP
// devices and network namespaces, and the kernel's own ping. Every test here
// needs root and skips without it.
package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// binary is the tapestry binary built once for the package's tests.
var binary string

func TestMain(m *testing.M) {
	if os.Geteuid() != 0 {
		fmt.Println("e2e: not root; the end-to-end tests skip")
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "tapestry-e2e-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "tapestry")
	build := exec.Command("go", "build", "-o", binary, "tapestry/cmd/tapestry")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: building tapestry:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates TAP devices and network namespaces")
	}
}

// daemon is a running `tapestry daemon` with its own state and run dirs.
type daemon struct {
	t        *testing.T
	stateDir string
	runDir   string
	cmd      *exec.Cmd
	log      bytes.Buffer
}

func newDaemon(t *testing.T) *daemon {
	d := &daemon{t: t, stateDir: t.TempDir(), runDir: t.TempDir()}
	d.start()
	t.Cleanup(func() { d.stop(syscall.SIGTERM) })
	return d
}

func (d *daemon) env() []string {
	return append(os.Environ(), "TAPESTRY_STATEDIR="+d.stateDir, "TAPESTRY_RUNDIR="+d.runDir)
}

func (d *daemon) start() {
	d.t.Helper()
	d.log.Reset()
	d.cmd = exec.Command(binary, "daemon")
	d.cmd.Env = d.env()
	d.cmd.Stdout, d.cmd.Stderr = &d.log, &d.log
	if err := d.cmd.Start(); err != nil {
		d.t.Fatalf("starting daemon: %v", err)
	}
	sock := filepath.Join(d.runDir, "tapestry.sock")
	for i := 0; i < 100; i++ {
		if _, err := os.Stat(sock); err == nil {
			if _, err := d.try("vsctl", "list-br"); err == nil {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	d.t.Fatalf("daemon did not answer on %s; log:\n%s", sock, d.log.String())
}

// stop ends the daemon with sig (SIGTERM for a clean stop, SIGKILL for a crash).
func (d *daemon) stop(sig syscall.Signal) {
	if d.cmd == nil || d.cmd.Process == nil {
		return
	}
	d.cmd.Process.Signal(sig)
	done := make(chan struct{})
	go func() { d.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		d.cmd.Process.Kill()
		<-done
		d.t.Errorf("daemon did not stop on %v; log:\n%s", sig, d.log.String())
	}
	d.cmd = nil
}

// try runs a tapestry CLI command against this daemon.
func (d *daemon) try(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = d.env()
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// run runs a tapestry CLI command and fails the test if it fails.
func (d *daemon) run(args ...string) string {
	d.t.Helper()
	out, err := d.try(args...)
	if err != nil {
		d.t.Fatalf("tapestry %s: %v\n%s\ndaemon log:\n%s", strings.Join(args, " "), err, out, d.log.String())
	}
	return out
}

// sh runs a system command (ip, ping) and fails the test if it fails.
func sh(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// quiet runs a cleanup command and ignores its result.
func quiet(name string, args ...string) { exec.Command(name, args...).Run() }

// ping reports whether ns can ping dst; count probes, one second each at most.
func ping(ns, dst string, count int) bool {
	err := exec.Command("ip", "netns", "exec", ns, "ping", "-n", "-q", "-c", strconv.Itoa(count),
		"-i", "0.2", "-W", "1", dst).Run()
	return err == nil
}

// seedTopology creates the seed's TAPs and namespaces, removing leftovers of
// an earlier run first, and removes them when the test ends.
func seedTopology(t *testing.T) {
	clean := func() {
		quiet("ip", "netns", "del", "ns0")
		quiet("ip", "netns", "del", "ns1")
		quiet("ip", "link", "del", "tap0")
		quiet("ip", "link", "del", "tap1")
	}
	clean()
	t.Cleanup(clean)
	sh(t, "ip", "tuntap", "add", "tap0", "mode", "tap")
	sh(t, "ip", "tuntap", "add", "tap1", "mode", "tap")
}

func intoNamespace(t *testing.T, ns, dev, addr string) {
	t.Helper()
	sh(t, "ip", "netns", "add", ns)
	sh(t, "ip", "link", "set", dev, "netns", ns)
	sh(t, "ip", "-n", ns, "addr", "add", addr, "dev", dev)
	sh(t, "ip", "-n", ns, "link", "set", dev, "up")
	sh(t, "ip", "-n", ns, "link", "set", "lo", "up")
}

var nPackets = regexp.MustCompile(`n_packets=(\d+)`)

// packets sums n_packets over dump-flows output.
func packets(dump string) int {
	sum := 0
	for _, m := range nPackets.FindAllStringSubmatch(dump, -1) {
		n, _ := strconv.Atoi(m[1])
		sum += n
	}
	return sum
}

// TestSeedPing is the seed's PING experiment, command for command: a bridge,
// two TAP devices moved into namespaces, flows that make ping work, fail and
// work again, counters, and a restart that brings everything back.
func TestSeedPing(t *testing.T) {
	needRoot(t)
	seedTopology(t)
	d := newDaemon(t)

	d.run("vsctl", "add-br", "br-int")
	d.run("vsctl", "add-port", "br-int", "tap0")
	d.run("vsctl", "add-port", "br-int", "tap1")
	intoNamespace(t, "ns0", "tap0", "10.0.0.1/24")
	intoNamespace(t, "ns1", "tap1", "10.0.0.2/24")

	// A new bridge forwards with NORMAL, like Open vSwitch in standalone mode.
	if !ping("ns0", "10.0.0.2", 3) {
		t.Fatalf("fresh bridge (priority=0,actions=NORMAL): ping ns0 -> ns1 failed\n%s", d.run("ofctl", "dump-flows", "br-int"))
	}

	d.run("ofctl", "del-flows", "br-int")
	d.run("ofctl", "add-flow", "br-int", "in_port=1,actions=output:2")
	d.run("ofctl", "add-flow", "br-int", "in_port=2,actions=output:1")
	if !ping("ns0", "10.0.0.2", 3) {
		t.Fatalf("in_port=1->2 and 2->1 flows: ping failed\n%s", d.run("ofctl", "dump-flows", "br-int"))
	}
	if n := packets(d.run("ofctl", "dump-flows", "br-int")); n < 6 {
		t.Errorf("after 3 pings through in_port flows, dump-flows counts %d packets, want >= 6", n)
	}

	d.run("ofctl", "del-flows", "br-int")
	// ovs-ofctl prints its reply header ("NXST_FLOW reply (xid=0x4):") and no flows.
	if out := d.run("ofctl", "dump-flows", "br-int"); strings.Contains(out, "cookie=") {
		t.Errorf("dump-flows after del-flows still lists flows:\n%s", out)
	}
	quiet("ip", "-n", "ns0", "neigh", "flush", "all")
	if ping("ns0", "10.0.0.2", 2) {
		t.Fatalf("no flows: ping succeeded, want failure")
	}

	d.run("ofctl", "add-flow", "br-int", "actions=NORMAL")
	if !ping("ns0", "10.0.0.2", 3) {
		t.Fatalf("actions=NORMAL: ping failed\n%s", d.run("ofctl", "dump-flows", "br-int"))
	}
	dump := d.run("ofctl", "dump-flows", "br-int")
	if n := packets(dump); n < 6 {
		t.Errorf("after 3 pings with NORMAL, dump-flows counts %d packets, want >= 6:\n%s", n, dump)
	}
	if !strings.Contains(dump, "actions=NORMAL") {
		t.Errorf("dump-flows lacks the NORMAL flow:\n%s", dump)
	}

	// A restart, clean and then a crash, brings back the same bridges, ports
	// and flows, and forwarding resumes with the TAPs still in their namespaces.
	show := d.run("vsctl", "show")
	flows := d.run("ofctl", "dump-flows", "--no-stats", "br-int")
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		d.stop(sig)
		d.start()
		if got := d.run("vsctl", "show"); got != show {
			t.Errorf("after %v restart, vsctl show differs:\n--- before\n%s--- after\n%s", sig, show, got)
		}
		if got := d.run("ofctl", "dump-flows", "--no-stats", "br-int"); got != flows {
			t.Errorf("after %v restart, dump-flows differs:\n--- before\n%s--- after\n%s", sig, flows, got)
		}
		if !ping("ns0", "10.0.0.2", 3) {
			t.Errorf("after %v restart: ping failed\n%s", sig, d.log.String())
		}
	}
}
