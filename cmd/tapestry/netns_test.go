package main

import (
	"bytes"
	"io"
	"log/slog"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"tapestry/daemon"
)

// nsDaemon is an in-process daemon on fixed state and run dirs, so that a
// test can stop it and start another on the same store.
type nsDaemon struct {
	t          *testing.T
	state, run string
	d          *daemon.Daemon
}

func newNSDaemon(t *testing.T) *nsDaemon {
	nd := &nsDaemon{t: t, state: t.TempDir(), run: t.TempDir()}
	t.Setenv("TAPESTRY_RUNDIR", nd.run)
	nd.start()
	t.Cleanup(func() { nd.stop() })
	return nd
}

func (nd *nsDaemon) start() {
	d, err := daemon.New(daemon.Config{StateDir: nd.state, RunDir: nd.run, Devices: &daemon.MemDevices{},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		nd.t.Fatal(err)
	}
	if err := d.Serve(); err != nil {
		nd.t.Fatal(err)
	}
	nd.d = d
}

func (nd *nsDaemon) stop() {
	if nd.d != nil {
		nd.d.Close()
		nd.d = nil
	}
}

// tap runs one tapestry command line and returns stdout, stderr and the
// exit status.
func tap(line string) (string, string, int) {
	var stdout, stderr bytes.Buffer
	code := runTapestry(strings.Fields(line), &stdout, &stderr)
	return stdout.String(), stderr.String(), code
}

// must runs command lines that must succeed.
func must(t *testing.T, lines ...string) {
	t.Helper()
	for _, l := range lines {
		if out, errOut, code := tap(l); code != 0 {
			t.Fatalf("tapestry %s: exit %d\nstdout: %s\nstderr: %s", l, code, out, errOut)
		}
	}
}

// buildRoutedTopology makes two userspace hosts on two subnets and a
// userspace router between them, each host and router leg an internal
// port of its subnet's bridge moved into a tapestry namespace:
//
//	h1 10.1.0.2 --br-a-- ra 10.1.0.1 [r] rb 10.2.0.1 --br-b-- h2 10.2.0.2
func buildRoutedTopology(t *testing.T) {
	must(t,
		"vsctl add-br br-a", "vsctl add-br br-b",
		"vsctl add-port br-a h1 -- set interface h1 type=internal",
		"vsctl add-port br-a ra -- set interface ra type=internal",
		"vsctl add-port br-b h2 -- set interface h2 type=internal",
		"vsctl add-port br-b rb -- set interface rb type=internal",
		"netns add h1", "ip netns add h2", "ip netns add r",
		"ip link set h1 netns h1", "ip link set h2 netns h2",
		"ip link set ra netns r", "ip link set rb netns r",
		"ip -n h1 addr add 10.1.0.2/24 dev h1", "ip -n h1 link set h1 up", "ip -n h1 link set lo up",
		"ip -n h1 route add default via 10.1.0.1",
		"ip -n h2 addr add 10.2.0.2/24 dev h2", "ip -n h2 link set h2 up",
		"ip -n h2 route add default via 10.2.0.1",
		"ip -n r addr add 10.1.0.1/24 dev ra", "ip -n r addr add 10.2.0.1/24 dev rb",
		"ip -n r link set ra up", "ip -n r link set rb up",
		"ip netns exec r sysctl -w net.ipv4.ip_forward=1",
		// Policy routing on the router: traffic from h1's subnet uses table 100.
		"ip -n r route add 10.2.0.0/24 dev rb table 100",
		"ip -n r rule add from 10.1.0.0/24 lookup 100 pref 100",
		"ip -n h2 neigh add 10.2.0.99 lladdr 02:00:00:00:00:99 dev h2",
	)
}

func TestRoutedNamespaces(t *testing.T) {
	nd := newNSDaemon(t)
	buildRoutedTopology(t)

	out, errOut, code := tap("ip netns exec h1 ping -c 2 -i 0.1 -W 2 10.2.0.2")
	if code != 0 || !strings.Contains(out, "64 bytes from 10.2.0.2: icmp_seq=1 ttl=63 time=") ||
		!strings.Contains(out, "2 packets transmitted, 2 received, 0% packet loss") {
		t.Fatalf("ping across the router: exit %d\n%s%s", code, out, errOut)
	}

	// TTL 1 expires at the router, which answers from its address on h1's side.
	out, _, code = tap("ip netns exec h1 ping -c 1 -t 1 -W 1 10.2.0.2")
	if code != 1 || !strings.Contains(out, "From 10.1.0.1 icmp_seq=1 Time to live exceeded\n") ||
		!strings.Contains(out, "1 packets transmitted, 0 received, +1 errors, 100% packet loss") {
		t.Errorf("ping -t 1: exit %d, want 1 and time exceeded\n%s", code, out)
	}
	// No route at the router: ICMP net unreachable.
	out, _, code = tap("ip netns exec h1 ping -c 1 -W 1 10.3.0.1")
	if code != 1 || !strings.Contains(out, "From 10.1.0.1 icmp_seq=1 Destination Net Unreachable\n") {
		t.Errorf("ping with no route at the router: exit %d, want 1 and net unreachable\n%s", code, out)
	}
	// An unreachable route at the router: host unreachable (ip_error).
	must(t, "ip -n r route add unreachable 10.4.0.0/16")
	out, _, code = tap("ip netns exec h1 ping -c 1 -W 1 10.4.0.1")
	if code != 1 || !strings.Contains(out, "From 10.1.0.1 icmp_seq=1 Destination Host Unreachable\n") {
		t.Errorf("ping into an unreachable route: exit %d, want 1 and host unreachable\n%s", code, out)
	}

	// After traffic the hosts know their gateway (REACHABLE), by its MAC.
	link, _, _ := tap("ip -n r link show ra")
	raMAC := regexp.MustCompile(`link/ether (\S+)`).FindStringSubmatch(link)
	if raMAC == nil {
		t.Fatalf("ip -n r link show ra: no MAC in %q", link)
	}
	out, _, _ = tap("ip -n h1 neigh show")
	if want := "10.1.0.1 dev h1 lladdr " + raMAC[1] + " REACHABLE\n"; out != want {
		t.Errorf("ip -n h1 neigh show = %q, want %q", out, want)
	}
	out, _, _ = tap("ip -n h1 neigh show dev h1")
	if want := "10.1.0.1 lladdr " + raMAC[1] + " REACHABLE\n"; out != want {
		t.Errorf("ip -n h1 neigh show dev h1 = %q, want %q", out, want)
	}

	// Errors are iproute2's, with its exit status.
	for _, tt := range []struct {
		line, stderr string
		code         int
	}{
		{"ip -n h1 addr add 10.1.0.2/24 dev h1", "RTNETLINK answers: File exists\n", 2},
		{"ip -n h1 route add default via 10.1.0.1", "RTNETLINK answers: File exists\n", 2},
		{"ip -n nope link", "Cannot open network namespace \"nope\": No such file or directory\n", 2},
		{"ip netns add r", "Cannot create namespace file \"/run/netns/r\": File exists\n", 1},
		{"ip netns exec h1 sysctl net.ipv4.nope", "sysctl: cannot stat /proc/sys/net/ipv4/nope: No such file or directory\n", 255},
	} {
		_, errOut, code := tap(tt.line)
		if errOut != tt.stderr || code != tt.code {
			t.Errorf("tapestry %s: stderr %q exit %d, want %q exit %d", tt.line, errOut, code, tt.stderr, tt.code)
		}
	}

	// What a restart must give back.
	checks := []string{
		"ip netns list",
		"ip -n h1 addr show",
		"ip -n h1 route show",
		"ip -n r route show",
		"ip -n r route show table 100",
		"ip -n r rule show",
		"ip -n h2 neigh show nud permanent",
		"ip netns exec r sysctl net.ipv4.ip_forward",
		"ip -n r link show",
	}
	before := map[string]string{}
	for _, c := range checks {
		out, errOut, code := tap(c)
		if code != 0 {
			t.Fatalf("tapestry %s: exit %d: %s", c, code, errOut)
		}
		before[c] = out
	}
	golden := map[string]string{
		"ip netns list":       "h1\nh2\nr\n",
		"ip -n h1 route show": "default via 10.1.0.1 dev h1 \n10.1.0.0/24 dev h1 proto kernel scope link src 10.1.0.2 \n",
		"ip -n r rule show": "0:\tfrom all lookup local\n100:\tfrom 10.1.0.0/24 lookup 100\n" +
			"32766:\tfrom all lookup main\n32767:\tfrom all lookup default\n",
		"ip -n r route show table 100":               "10.2.0.0/24 dev rb scope link \n",
		"ip -n h2 neigh show nud permanent":          "10.2.0.99 dev h2 lladdr 02:00:00:00:00:99 PERMANENT\n",
		"ip netns exec r sysctl net.ipv4.ip_forward": "net.ipv4.ip_forward = 1\n",
	}
	for c, want := range golden {
		if diff := cmp.Diff(want, before[c]); diff != "" {
			t.Errorf("tapestry %s (-want +got):\n%s", c, diff)
		}
	}

	nd.stop()
	nd.start()
	for _, c := range checks {
		out, errOut, code := tap(c)
		if code != 0 {
			t.Errorf("after restart, tapestry %s: exit %d: %s", c, code, errOut)
			continue
		}
		if diff := cmp.Diff(before[c], out); diff != "" {
			t.Errorf("after restart, tapestry %s (-before +after):\n%s", c, diff)
		}
	}
	out, errOut, code = tap("ip netns exec h1 ping -c 1 -W 2 10.2.0.2")
	if code != 0 || !strings.Contains(out, "ttl=63") {
		t.Errorf("ping across the router after restart: exit %d\n%s%s", code, out, errOut)
	}
	// The dynamic neighbours were not stored; traffic made them again.
	if out, _, _ := tap("ip -n h1 neigh show"); !strings.Contains(out, "10.1.0.1 dev h1 lladdr "+raMAC[1]+" REACHABLE") {
		t.Errorf("after restart and ping, ip -n h1 neigh show = %q", out)
	}
}

func TestDemo(t *testing.T) {
	var buf bytes.Buffer
	if code := runDemo(&buf, false); code != 0 || !strings.Contains(buf.String(), "\n4 passed, 0 failed\n") {
		t.Fatalf("tapestry demo: exit %d\n%s", code, buf.String())
	}
	for _, want := range []string{
		"\n$ tapestry ip link set p0 netns ns0\n",
		"  => no flows, no forwarding: fail, as expected\n",
		"in_port=1 actions=output:2",
	} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("tapestry demo output lacks %q", want)
		}
	}
}
