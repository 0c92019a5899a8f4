package netstack

import (
	"os"
	osexec "os/exec"
	"strings"
	"testing"
	"time"

	"tapestry/link"
	"tapestry/neigh"
	"tapestry/ofproto"
)

func runCmd(t *testing.T, args ...string) string {
	t.Helper()
	out, err := osexec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestKernelMix puts real and userspace hosts on one tapestry bridge:
//
//	tpp-k0 (kernel netns, 10.77.1.10) -- TAP tpp0 --+
//	host  (userspace, 10.77.1.20) ------ pipe ------+-- bridge tppbr (NORMAL)
//	router (userspace, 10.77.1.1) ------ pipe ------+
//	router 10.77.2.1 -- veth -- behind (userspace, 10.77.2.20)
//
// The kernel pings the userspace host, the router and the host behind
// it (also with -s 3000: the kernel fragments, behind reassembles and
// fragments its reply); the userspace host pings the kernel.
func TestKernelMix(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	const kns, tap = "tpp-k0", "tpp0"
	osexec.Command("ip", "netns", "del", kns).Run()
	osexec.Command("ip", "link", "del", tap).Run()
	runCmd(t, "ip", "netns", "add", kns)
	t.Cleanup(func() { osexec.Command("ip", "netns", "del", kns).Run() })
	runCmd(t, "ip", "tuntap", "add", tap, "mode", "tap")
	t.Cleanup(func() { osexec.Command("ip", "link", "del", tap).Run() })
	tl, err := link.OpenTAP(tap, false)
	must(t, err)
	runCmd(t, "ip", "link", "set", tap, "netns", kns)
	runCmd(t, "ip", "-n", kns, "addr", "add", "10.77.1.10/24", "dev", tap)
	runCmd(t, "ip", "-n", kns, "link", "set", tap, "up")
	runCmd(t, "ip", "-n", kns, "route", "add", "default", "via", "10.77.1.1")

	br := ofproto.New(ofproto.Config{Name: "tppbr"})
	t.Cleanup(br.Close)
	_, err = br.AddPort(ofproto.PortSpec{Name: tap, Type: "tap", Link: tl})
	must(t, err)

	host := NewNamespace("host", nil)
	t.Cleanup(host.Close)
	rtr := NewNamespace("router", nil)
	t.Cleanup(rtr.Close)
	behind := NewNamespace("behind", nil)
	t.Cleanup(behind.Close)
	attach := func(ns *Namespace, port, addr string) *Interface {
		sw, nsEnd := link.Pipe(port, "eth0", link.PipeOptions{})
		_, err := br.AddPort(ofproto.PortSpec{Name: port, Link: sw})
		must(t, err)
		ifc, err := ns.AddLink("eth0", nsEnd, [6]byte{})
		must(t, err)
		addAddr(t, ns, ifc, addr)
		return ifc
	}
	hostEth := attach(host, "tpph", "10.77.1.20/24")
	rtrEth := attach(rtr, "tppr", "10.77.1.1/24")
	r1, bEth, err := AddVethPair(rtr, "eth1", behind, "eth0")
	must(t, err)
	addAddr(t, rtr, r1, "10.77.2.1/24")
	addAddr(t, behind, bEth, "10.77.2.20/24")
	must(t, rtr.SetSysctl("net.ipv4.ip_forward", "1"))
	exec(t, host, "route add default via 10.77.1.1")
	exec(t, behind, "route add default via 10.77.2.1")

	for _, args := range [][]string{
		{"10.77.1.20"}, {"10.77.1.1"}, {"10.77.2.20"}, {"-s", "3000", "10.77.2.20"},
	} {
		cmd := append([]string{"ip", "netns", "exec", kns, "ping", "-c", "3", "-i", "0.2", "-W", "2"}, args...)
		out := runCmd(t, cmd...)
		if !strings.Contains(out, "3 received") {
			t.Errorf("%s:\n%s", strings.Join(cmd, " "), out)
		}
	}
	r, err := Ping(host, PingOptions{Dest: ip("10.77.1.10"), Count: 3, Interval: 200 * time.Millisecond, Timeout: 2 * time.Second})
	must(t, err)
	if r.Received != 3 {
		t.Errorf("userspace host ping 10.77.1.10:\n%s", strings.Join(r.Lines, "\n"))
	}

	// Neighbour states after the traffic: the userspace side learnt the
	// kernel's MAC and confirmed it; the kernel has the userspace MACs.
	kmac := strings.Fields(runCmd(t, "ip", "-n", kns, "-br", "link", "show", tap))[2]
	for _, c := range []struct {
		ns  *Namespace
		ifc *Interface
	}{{host, hostEth}, {rtr, rtrEth}} {
		e, ok := c.ns.Neigh().Lookup(c.ifc.Index(), ip("10.77.1.10"))
		if !ok || macStr(e.MAC) != kmac || (e.State != neigh.StateReachable && e.State != neigh.StateStale && e.State != neigh.StateDelay) {
			t.Errorf("%s: neighbour 10.77.1.10 = %v %s, want %s REACHABLE/DELAY/STALE", c.ns.Name(), e.State, macStr(e.MAC), kmac)
		}
	}
	kn := runCmd(t, "ip", "-n", kns, "neigh", "show", "dev", tap)
	for _, want := range []string{"10.77.1.20 lladdr " + macStr(hostEth.MAC()), "10.77.1.1 lladdr " + macStr(rtrEth.MAC())} {
		if !strings.Contains(kn, want) {
			t.Errorf("kernel neighbours lack %q:\n%s", want, kn)
		}
	}
	if d := behind.Drops(); d["ip_fragment_reassembly"] != 0 || d["frag_reasm_timeout"] != 0 {
		t.Errorf("behind drops %v", d)
	}
}
