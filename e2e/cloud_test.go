package e2e

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"
)

// runExample runs one of examples/*.sh against daemon d with the kernel
// names prefixed pfx, and fails the test unless every check passed.
func runExample(t *testing.T, d *daemon, script, pfx string, keep bool) string {
	t.Helper()
	cmd := exec.Command("bash", filepath.Join("..", "examples", script))
	cmd.Env = append(d.env(), "TAPESTRY="+binary, "PFX="+pfx)
	if keep {
		cmd.Env = append(cmd.Env, "KEEP=1")
	}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "all checks passed") {
		t.Fatalf("%s: %v\n%s\ndaemon log:\n%s", script, err, out, d.log.String())
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "ok: ") {
			t.Log(line)
		}
	}
	return string(out)
}

func cleanupKernel(pfx string) {
	out, _ := exec.Command("ip", "netns", "list").Output()
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 0 && strings.HasPrefix(f[0], pfx+"-") {
			quiet("ip", "netns", "del", f[0])
		}
	}
	quiet("ip", "link", "del", pfx+"-ext0")
}

// TestFloatingIPsMultiFixedIP runs the seed's second way (one NIC, two
// fixed IPs, a floating IP each) as examples/floating-ips-multi-fixed-ip.sh
// has it: an external kernel host pings both floating IPs, the instance's
// replies come from the mapped fixed IPs, its own traffic leaves with the
// floating IP of its source, and a disassociated floating IP stops working.
func TestFloatingIPsMultiFixedIP(t *testing.T) {
	needRoot(t)
	const pfx = "tpc2"
	cleanupKernel(pfx)
	t.Cleanup(func() { cleanupKernel(pfx) })
	d := newDaemon(t)
	runExample(t, d, "floating-ips-multi-fixed-ip.sh", pfx, false)
}

// TestFloatingIPsMultiNIC runs the seed's first way (two NICs, a floating
// IP each, source routing inside) and then restarts the daemon: the cloud
// is realized again without a duplicate flow, rule, address or port, and
// the floating IP still answers.
func TestFloatingIPsMultiNIC(t *testing.T) {
	needRoot(t)
	const pfx = "tpc1"
	cleanupKernel(pfx)
	t.Cleanup(func() { cleanupKernel(pfx) })
	d := newDaemon(t)
	runExample(t, d, "floating-ips-multi-nic.sh", pfx, true)

	router := "qrouter-" + strings.TrimSpace(d.run("cloud", "router-show", "router1", "-f", "value", "-c", "id"))
	snapshot := func() map[string]string {
		return map[string]string{
			"br-int flows": sortedLines(stripCounters(d.run("ofctl", "dump-flows", "br-int", "--no-stats"))),
			"br-ex flows":  sortedLines(stripCounters(d.run("ofctl", "dump-flows", "br-ex", "--no-stats"))),
			"nat rules":    d.run("ip", "netns", "exec", router, "iptables", "-t", "nat", "-S"),
			"addresses":    d.run("ip", "-n", router, "addr", "show"),
			"routes":       d.run("ip", "-n", router, "route", "show"),
			"ports":        d.run("vsctl", "list-ports", "br-int") + d.run("vsctl", "list-ports", "br-ex"),
		}
	}
	before := snapshot()
	if !strings.Contains(before["nat rules"], "-A neutron-l3-agent-PREROUTING -d 172.24.4.229/32") ||
		!strings.Contains(before["nat rules"], "floatingip ") {
		t.Fatalf("router nat table lacks the floating IP's DNAT with its origin:\n%s", before["nat rules"])
	}
	if !regexp.MustCompile(`cookie=0x[0-9a-f]+, .*in_port="?tap`).MatchString(d.run("ofctl", "dump-flows", "br-int", "--names")) {
		t.Errorf("br-int has no per-port flow with its port's cookie:\n%s", before["br-int flows"])
	}
	d.stop(syscall.SIGTERM)
	d.start()
	after := snapshot()
	for k := range before {
		if before[k] != after[k] {
			t.Errorf("%s changed across a restart:\nbefore:\n%s\nafter:\n%s\ndaemon log:\n%s", k, before[k], after[k], d.log.String())
		}
	}
	if !ping("tpc1-ext", "172.24.4.229", 3) {
		t.Errorf("172.24.4.229 does not answer after the restart; daemon log:\n%s", d.log.String())
	}
}

var countersRE = regexp.MustCompile(`(duration|n_packets|n_bytes|idle_age|hard_age)=[^ ,]*[, ]*`)

func stripCounters(s string) string { return countersRE.ReplaceAllString(s, "") }

func sortedLines(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}
