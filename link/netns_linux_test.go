package link

import (
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestFindTAPInNamespace moves a persistent TAP into a namespace, as the seed
// experiment does, and checks that FindTAP attaches to it there and that
// frames flow: the kernel answers an ARP request written into the TAP.
func TestFindTAPInNamespace(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	const dev, ns = "tplnet0", "tpl-ns0"
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v\n%s", args, err, out)
		}
	}
	exec.Command("ip", "netns", "del", ns).Run()
	exec.Command("ip", "link", "del", dev).Run()
	run("tuntap", "add", dev, "mode", "tap")
	run("netns", "add", ns)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run(); exec.Command("ip", "link", "del", dev).Run() })
	run("link", "set", dev, "netns", ns)
	run("-n", ns, "addr", "add", "192.0.2.1/24", "dev", dev)
	run("-n", ns, "link", "set", dev, "up")

	if _, err := OpenTAP(dev, false); err == nil {
		t.Fatalf("OpenTAP(%q) found a device that moved to %s", dev, ns)
	}
	tap, where, err := FindTAP(dev)
	if err != nil {
		t.Fatalf("FindTAP(%q): %v", dev, err)
	}
	defer tap.Close()
	if want := filepath.Join(NetnsDir, ns); where != want {
		t.Errorf("FindTAP(%q) found it in %q, want %q", dev, where, want)
	}
	if got := arpExchange(t, tap); !got {
		t.Errorf("no ARP reply from the kernel through the TAP found in %s", ns)
	}

	if _, _, err := FindTAP("tplnone0"); err == nil {
		t.Errorf("FindTAP of a missing device succeeded")
	}
}

// arpExchange asks, through tap, who has 192.0.2.1 and reports whether the
// kernel on the far side answered. The request is resent every 200 ms: a
// freshly attached TAP can drop the first frames while the kernel brings the
// carrier up.
func arpExchange(t *testing.T, tap *TAP) bool {
	t.Helper()
	me := [6]byte{0x02, 0, 0, 0, 0x77, 0x01}
	req := arpRequest(me, netip.MustParseAddr("192.0.2.2"), netip.MustParseAddr("192.0.2.1"))
	done := make(chan bool, 1)
	go func() {
		bufs := [][]byte{make([]byte, FrameSize)}
		sizes := []int{0}
		for {
			n, err := tap.Read(bufs, sizes, 0)
			if err != nil {
				done <- false
				return
			}
			if n == 1 {
				if _, ok := isARPReply(bufs[0][:sizes[0]], netip.MustParseAddr("192.0.2.1"), me); ok {
					done <- true
					return
				}
			}
		}
	}()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(5 * time.Second)
	for {
		if _, err := tap.Write([][]byte{req}); err != nil {
			t.Fatalf("write ARP request: %v", err)
		}
		select {
		case ok := <-done:
			return ok
		case <-deadline:
			tap.Close() // unblocks the reader
			return false
		case <-tick.C:
		}
	}
}
