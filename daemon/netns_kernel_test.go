package daemon

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"tapestry/api"
)

// TestAddrDelRoutesMatchKernel replays address and route commands in a
// tapestry namespace and in a kernel one (a veth end) and compares `ip
// route show table all` after each deletion: deleting one address keeps
// the static routes through the device (the default route of a router
// whose floating IP goes away), drops the routes that use it as their
// source, and deleting the last address drops every route.
func TestAddrDelRoutesMatchKernel(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: compares with the kernel")
	}
	const kns = "tpy-addrdel"
	exec.Command("ip", "netns", "del", kns).Run()
	for _, c := range [][]string{{"netns", "add", kns}, {"-n", kns, "link", "add", "p0", "type", "veth", "peer", "name", "p0peer"}, {"-n", kns, "link", "set", "p0peer", "up"}} {
		if out, err := exec.Command("ip", c...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(c, " "), err, out)
		}
	}
	defer exec.Command("ip", "netns", "del", kns).Run()

	d := newTestDaemon(t, t.TempDir(), &MemDevices{})
	vsctl(t, d, cmd("add-br", "br0"), cmd("add-port", "br0", "p0"),
		api.Command{Name: "set", Args: []string{"interface", "p0"}, Settings: []api.Setting{{Column: "type", Value: "internal"}}})
	ip(t, d, "", "netns add r")
	ip(t, d, "", "link set p0 netns r")

	steps := []string{
		"addr add 172.24.4.226/28 dev p0",
		"link set p0 up",
		"route add default via 172.24.4.225",
		"addr add 172.24.4.228/32 dev p0",
		"addr add 172.24.4.229/32 dev p0",
		"route add 10.9.0.0/16 via 172.24.4.225 src 172.24.4.228",
		"addr add 172.24.4.230/28 dev p0",
		"route add 10.8.0.0/16 via 172.24.4.225 src 172.24.4.230",
		"addr del 172.24.4.228/32 dev p0",
		"addr del 172.24.4.229/32 dev p0",
		"addr del 172.24.4.226/28 dev p0", // the primary takes its secondary .230 along
	}
	show := func(kernel bool) string {
		if kernel {
			out, err := exec.Command("ip", "-4", "-n", kns, "route", "show", "table", "all").CombinedOutput()
			if err != nil {
				t.Fatalf("ip route show: %v\n%s", err, out)
			}
			return string(out)
		}
		return ip(t, d, "r", "route show table all")
	}
	for _, s := range steps {
		if out, err := exec.Command("ip", append([]string{"-n", kns}, strings.Fields(s)...)...).CombinedOutput(); err != nil {
			t.Fatalf("kernel: ip %s: %v\n%s", s, err, out)
		}
		ip(t, d, "r", s)
		if !strings.HasPrefix(s, "addr del") {
			continue
		}
		if k, u := show(true), show(false); k != u {
			t.Errorf("after %q:\nkernel:\n%s\ntapestry:\n%s", s, k, u)
		}
	}
}
