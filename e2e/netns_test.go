package e2e

import (
	"os/exec"
	"strings"
	"testing"
)

// TestKernelAndUserspaceHostsMix puts a kernel namespace (tpm-k0, behind
// the TAP tpm-tap0) on a tapestry bridge next to a userspace host and a
// userspace router in tapestry namespaces; the router leads to a second
// bridge with another userspace host:
//
//	tpm-k0 10.77.0.10 (kernel) --+
//	tpm-u1 10.77.0.20 (tapestry) -+- tpm-br0 -- tpm-ra 10.77.0.1 [tpm-r] tpm-rb 10.78.0.1 -- tpm-br1 -- tpm-u2 10.78.0.20
func TestKernelAndUserspaceHostsMix(t *testing.T) {
	needRoot(t)
	cleanup := func() {
		quiet("ip", "netns", "del", "tpm-k0")
		quiet("ip", "link", "del", "tpm-tap0")
	}
	cleanup()
	t.Cleanup(cleanup)
	d := newDaemon(t)

	sh(t, "ip", "tuntap", "add", "tpm-tap0", "mode", "tap")
	d.run("vsctl", "add-br", "tpm-br0")
	d.run("vsctl", "add-br", "tpm-br1")
	d.run("vsctl", "add-port", "tpm-br0", "tpm-tap0")
	sh(t, "ip", "netns", "add", "tpm-k0")
	sh(t, "ip", "link", "set", "tpm-tap0", "netns", "tpm-k0")
	sh(t, "ip", "-n", "tpm-k0", "addr", "add", "10.77.0.10/24", "dev", "tpm-tap0")
	sh(t, "ip", "-n", "tpm-k0", "link", "set", "tpm-tap0", "up")
	sh(t, "ip", "-n", "tpm-k0", "route", "add", "default", "via", "10.77.0.1")

	for _, l := range []string{
		"vsctl add-port tpm-br0 tpm-h1 -- set interface tpm-h1 type=internal",
		"vsctl add-port tpm-br0 tpm-ra -- set interface tpm-ra type=internal",
		"vsctl add-port tpm-br1 tpm-rb -- set interface tpm-rb type=internal",
		"vsctl add-port tpm-br1 tpm-h2 -- set interface tpm-h2 type=internal",
		"netns add tpm-u1", "netns add tpm-u2", "netns add tpm-r",
		"ip link set tpm-h1 netns tpm-u1", "ip link set tpm-h2 netns tpm-u2",
		"ip link set tpm-ra netns tpm-r", "ip link set tpm-rb netns tpm-r",
		"ip -n tpm-u1 addr add 10.77.0.20/24 dev tpm-h1", "ip -n tpm-u1 link set tpm-h1 up",
		"ip -n tpm-u2 addr add 10.78.0.20/24 dev tpm-h2", "ip -n tpm-u2 link set tpm-h2 up",
		"ip -n tpm-u2 route add default via 10.78.0.1",
		"ip -n tpm-r addr add 10.77.0.1/24 dev tpm-ra", "ip -n tpm-r link set tpm-ra up",
		"ip -n tpm-r addr add 10.78.0.1/24 dev tpm-rb", "ip -n tpm-r link set tpm-rb up",
		"ip netns exec tpm-r sysctl -w net.ipv4.ip_forward=1",
	} {
		d.run(strings.Fields(l)...)
	}
	// A claimed internal port is no kernel device.
	if out, err := d.try("vsctl", "show"); err != nil || strings.Contains(out, "error:") {
		t.Errorf("vsctl show: %v\n%s", err, out)
	}
	for _, dev := range []string{"tpm-h1", "tpm-ra"} {
		if quietOK("ip", "link", "show", dev) {
			t.Errorf("claimed internal port %s exists as a kernel device", dev)
		}
	}

	for _, dst := range []string{"10.77.0.20", "10.77.0.1", "10.78.0.20"} {
		if !ping("tpm-k0", dst, 3) {
			t.Errorf("kernel namespace tpm-k0 cannot ping %s; daemon log:\n%s", dst, d.log.String())
		}
	}
	out, err := d.try("ip", "netns", "exec", "tpm-u2", "ping", "-c", "2", "-i", "0.2", "-W", "1", "10.77.0.10")
	if err != nil || !strings.Contains(out, "from 10.77.0.10: icmp_seq=1 ttl=63") {
		t.Errorf("userspace host tpm-u2 -> kernel tpm-k0 through the userspace router: %v\n%s", err, out)
	}
	// The kernel's own ping sees the router's TTL decrement.
	k := sh(t, "ip", "netns", "exec", "tpm-k0", "ping", "-c", "1", "-W", "1", "10.78.0.20")
	if !strings.Contains(k, "ttl=63") {
		t.Errorf("kernel ping through the userspace router:\n%s", k)
	}
}

// quietOK runs a command and reports whether it succeeded.
func quietOK(name string, args ...string) bool {
	return exec.Command(name, args...).Run() == nil
}
