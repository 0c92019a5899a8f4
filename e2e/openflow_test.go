package e2e

import (
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"tapestry/internal/hosttest"
)

// TestOvsOfctlOverManagementSocket drives a tapestry bridge with the real
// ovs-ofctl through <rundir>/<bridge>.mgmt, as one drives Open vSwitch, in
// both OpenFlow versions; flows set over OpenFlow are desired state and
// survive a crash of the daemon.
func TestOvsOfctlOverManagementSocket(t *testing.T) {
	needRoot(t)
	hosttest.Need(t, "ovs-ofctl", "openvswitch-common")
	d := newDaemon(t)
	d.run("vsctl", "add-br", "e2ebr0")
	sock := "unix:" + filepath.Join(d.runDir, "e2ebr0.mgmt")
	ofctl := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("ovs-ofctl", args...).CombinedOutput()
		if err != nil {
			t.Fatalf("ovs-ofctl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	ofctl("-O", "OpenFlow13", "add-flow", sock, "priority=100,ip,nw_dst=10.1.0.0/16,actions=drop")
	ofctl("-O", "OpenFlow10", "add-flow", sock, "priority=90,arp,actions=NORMAL")

	want := []string{"priority=100,ip,nw_dst=10.1.0.0/16 actions=drop", "priority=90,arp actions=NORMAL", "priority=0 actions=NORMAL"}
	check := func(when, got string) {
		t.Helper()
		for _, w := range want {
			if !strings.Contains(got, w) {
				t.Errorf("%s: %q missing from\n%s", when, w, got)
			}
		}
	}
	check("ovs-ofctl dump-flows", ofctl("dump-flows", "--no-stats", sock))
	check("tapestry ofctl dump-flows", d.run("ofctl", "dump-flows", "--no-stats", "e2ebr0"))
	if out := ofctl("-O", "OpenFlow13", "show", sock); !strings.Contains(out, "LOCAL(e2ebr0)") {
		t.Errorf("ovs-ofctl show lacks the LOCAL port:\n%s", out)
	}

	d.stop(syscall.SIGKILL)
	d.start()
	check("after kill -9, ovs-ofctl dump-flows", ofctl("dump-flows", "--no-stats", sock))
}
