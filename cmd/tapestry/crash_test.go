package main

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// childDaemonEnv makes the test binary run `tapestry daemon` instead of the
// tests (see TestMain), so a test can kill a real daemon process.
const childDaemonEnv = "TAPESTRY_TEST_CHILD_DAEMON"

func TestMain(m *testing.M) {
	if os.Getenv(childDaemonEnv) != "" {
		os.Exit(runTapestry([]string{"daemon", "--log-level=error"}, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// startChild runs a daemon process on state and run dirs and waits for its
// socket.
func startChild(t *testing.T, state, run string) *exec.Cmd {
	t.Helper()
	c := exec.Command(os.Args[0])
	c.Env = append(os.Environ(), childDaemonEnv+"=1", "TAPESTRY_STATEDIR="+state, "TAPESTRY_RUNDIR="+run)
	c.Stderr = os.Stderr
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Process.Kill()
		c.Wait()
	})
	// A killed daemon leaves its socket behind; wait for one that answers.
	sock := filepath.Join(run, "tapestry.sock")
	for range 500 {
		if conn, err := net.Dial("unix", sock); err == nil {
			conn.Close()
			return c
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("daemon did not create %s", sock)
	return nil
}

// TestKill9Restart: everything a command was told succeeded survives a
// SIGKILL of the daemon right after, and SIGTERM removes the socket.
func TestKill9Restart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts daemon processes")
	}
	state, run := t.TempDir(), t.TempDir()
	child := startChild(t, state, run)
	// Ports whose devices do not exist: the test needs no root and
	// creates no devices (as root, only the bridge's own TAP tpfk0, which
	// vanishes with the process).
	for _, line := range []string{
		"add-br tpfk0",
		"add-port tpfk0 tpfx1 tag=5 -- add-port tpfk0 tpfx2 -- set interface tpfx2 ofport_request=9",
		"set bridge tpfk0 other-config:datapath-id=0000000000000042 -- set-fail-mode tpfk0 secure",
	} {
		if _, stderr, code := cli(t, run, runVsctl, line); code != 0 && code != 1 || code == 1 && stderr == "" {
			t.Fatalf("vsctl %s: exit %d %s", line, code, stderr)
		}
	}
	for _, line := range []string{"del-flows tpfk0", "add-flow tpfk0 in_port=9,actions=output:1", "add-flow tpfk0 table=3,priority=7,ip,nw_src=10.0.0.0/8,actions=mod_nw_tos:8,resubmit(,4)"} {
		if _, stderr, code := cli(t, run, runOfctl, line); code != 0 {
			t.Fatalf("ofctl %s: exit %d %s", line, code, stderr)
		}
	}
	show, _, _ := cli(t, run, runVsctl, "show")
	flows, _, _ := cli(t, run, runOfctl, "--no-stats dump-flows tpfk0")
	dpid, _, _ := cli(t, run, runVsctl, "get bridge tpfk0 datapath_id")

	child.Process.Signal(syscall.SIGKILL)
	child.Wait()
	child = startChild(t, state, run)
	show2, _, _ := cli(t, run, runVsctl, "show")
	flows2, _, _ := cli(t, run, runOfctl, "--no-stats dump-flows tpfk0")
	dpid2, _, _ := cli(t, run, runVsctl, "get bridge tpfk0 datapath_id")
	if show2 != show || flows2 != flows || dpid2 != dpid || dpid != "\"0000000000000042\"\n" {
		t.Errorf("after kill -9:\nshow\n%s\nwas\n%s\nflows\n%s\nwas\n%s\ndpid %s was %s", show2, show, flows2, flows, dpid2, dpid)
	}

	child.Process.Signal(syscall.SIGTERM)
	if err := child.Wait(); err != nil {
		t.Errorf("daemon exit after SIGTERM: %v", err)
	}
	if _, err := os.Stat(filepath.Join(run, "tapestry.sock")); !os.IsNotExist(err) {
		t.Errorf("socket left after SIGTERM: %v", err)
	}
}
