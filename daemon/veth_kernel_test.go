package daemon

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

func sh(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

var macRE = regexp.MustCompile(`link/ether ([0-9a-f]{2}:){5}[0-9a-f]{2}`)

// TestVethShowMatchesKernel builds the same veth pairs in kernel
// namespaces and tapestry namespaces of the same names and compares `ip
// link show` (addresses masked: the kernel's are random).
func TestVethShowMatchesKernel(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: compares with the kernel")
	}
	const k1, k2 = "vethx-c1", "vethx-c2"
	for _, n := range []string{k1, k2} {
		exec.Command("ip", "netns", "del", n).Run()
		sh(t, "netns", "add", n)
		defer exec.Command("ip", "netns", "del", n).Run()
	}
	d := newTestDaemon(t, t.TempDir(), &MemDevices{})
	ip(t, d, "", "netns add "+k1)
	ip(t, d, "", "netns add "+k2)
	steps := []string{
		"link add xa type veth peer name xb",
		"link add xc type veth",
		"link set xa up",
		"link set veth0 up",
		"link set xc up",
		"link add xe type veth peer name xf netns " + k2,
		"link set xe up",
		// Not compared yet: moving xb into k2, where the rebuilt group
		// makes xb (peer of k1's xa) before k2's own xf, so their
		// indexes swap (see docs/netns.md).
		"link set xa mtu 1400",
		"link set xa address 02:00:00:00:00:aa",
	}
	for _, s := range steps {
		sh(t, append([]string{"-n", k1}, strings.Fields(s)...)...)
		ip(t, d, k1, s)
		for _, ns := range []string{k1, k2} {
			k := macRE.ReplaceAllString(sh(t, "-n", ns, "link", "show"), "link/ether MAC")
			u := macRE.ReplaceAllString(ip(t, d, ns, "link show"), "link/ether MAC")
			if k != u {
				t.Errorf("after %q, ip -n %s link show:\nkernel:\n%s\ntapestry:\n%s", s, ns, k, u)
			}
		}
	}
	if got := sh(t, "-n", k1, "link", "show", "xa"); !strings.Contains(got, "02:00:00:00:00:aa") {
		t.Errorf("kernel xa = %q", got)
	}
}

// TestKernelTAPIntoNetns moves a kernel TAP, whose kernel side sits in a
// kernel namespace the test makes, into a tapestry namespace and pings
// across it both ways.
func TestKernelTAPIntoNetns(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates a TAP device and a kernel namespace")
	}
	const kns, tap = "vethx-tapk", "vethx-t0"
	exec.Command("ip", "netns", "del", kns).Run()
	exec.Command("ip", "link", "del", tap).Run()
	sh(t, "netns", "add", kns)
	defer exec.Command("ip", "netns", "del", kns).Run()
	sh(t, "tuntap", "add", tap, "mode", "tap")
	defer exec.Command("ip", "link", "del", tap).Run()
	defer exec.Command("ip", "-n", kns, "link", "del", tap).Run()
	sh(t, "link", "set", tap, "netns", kns)
	sh(t, "-n", kns, "addr", "add", "10.77.9.1/24", "dev", tap)
	sh(t, "-n", kns, "link", "set", tap, "up")

	dir := t.TempDir()
	d := newTestDaemon(t, dir, KernelDevices{})
	ip(t, d, "", "netns add t1")
	ip(t, d, "", "link set "+tap+" netns t1")
	ip(t, d, "t1", "addr add 10.77.9.2/24 dev "+tap)
	ip(t, d, "t1", "link set "+tap+" up")
	kmac := macRE.FindString(sh(t, "-n", kns, "link", "show", tap))
	if got := ip(t, d, "t1", "link show "+tap); strings.Contains(got, kmac) {
		t.Errorf("the namespace side has the kernel device's address %s", kmac)
	}
	if code := pingCode(t, d, "t1", "-c 2 -i 0.2 -W 2 10.77.9.1"); code != 0 {
		t.Errorf("tapestry -> kernel ping: exit %d", code)
	}
	if out, err := exec.Command("ip", "netns", "exec", kns, "ping", "-c", "2", "-i", "0.2", "-W", "2", "10.77.9.2").CombinedOutput(); err != nil {
		t.Errorf("kernel -> tapestry ping: %v\n%s", err, out)
	}
	// A restart finds the TAP again in the kernel namespace.
	d.Close()
	d = newTestDaemon(t, dir, KernelDevices{})
	if code := pingCode(t, d, "t1", "-c 1 -W 2 10.77.9.1"); code != 0 {
		t.Errorf("tapestry -> kernel ping after restart: exit %d", code)
	}
	d.Close()
}
