package ofproto

import (
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"tapestry/link"
)

// TestOffloadTCPThroughTAPs runs TCP streams of several MB each way between
// two network namespaces, each behind a persistent TAP (as `ip tuntap add`
// makes them) on a bridge doing NORMAL, and checks that every byte arrives
// intact. With offloads on both TAPs, the bridge must actually see and
// forward TCP super-frames; with a flow that rewrites the IP header, or
// with one TAP's offloads off, it must segment them in software, on real
// kernel traffic.
func TestOffloadTCPThroughTAPs(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	for _, tc := range []struct {
		name      string
		offload   [2]bool
		flows     []string
		wantSuper bool // super-frames written whole to a TAP
		wantSoft  bool // super-frames segmented in software
	}{
		{"both offload", [2]bool{true, true}, nil, true, false},
		{"rewrite needs wire frames", [2]bool{true, true}, []string{"priority=10,tcp,actions=mod_nw_tos:32,NORMAL", "priority=10,tcp6,actions=mod_nw_tos:32,NORMAL", "priority=0,actions=NORMAL"}, false, true},
		{"one side without offload", [2]bool{true, false}, nil, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			br, taps := tapPair(t, tc.offload)
			if tc.flows != nil {
				tb := &testBridge{Bridge: br, t: t}
				tb.flows(tc.flows...)
			}
			const size = 6 << 20
			var wg sync.WaitGroup
			errs := make(chan error, 3)
			for i, v6 := range []bool{false, false, true} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs <- tcpTransfer(i%2, v6, size, 5201+uint16(i))
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Error(err)
				}
			}
			st := br.OffloadStats()
			t.Logf("%+v; drops %v", st, br.DropStats())
			if tc.offload[0] && st.RxSuper == 0 {
				t.Errorf("OffloadStats = %+v: no super-frame received from an offloading TAP", st)
			}
			if (st.TxSuper > 0) != tc.wantSuper {
				t.Errorf("OffloadStats = %+v: super-frames written whole: %v, want %v", st, st.TxSuper > 0, tc.wantSuper)
			}
			if (st.SoftSegmented > 0) != tc.wantSoft {
				t.Errorf("OffloadStats = %+v: software segmentation %v, want %v", st, st.SoftSegmented > 0, tc.wantSoft)
			}
			for _, tp := range taps {
				if s := tp.Stats(); s.RxErrors+s.TxErrors > 0 {
					t.Errorf("%s: %+v", tp.Name(), s)
				}
			}
		})
	}
}

// tapPair makes namespaces c3ns0 and c3ns1 holding persistent TAPs c3tap0
// (10.203.0.1) and c3tap1 (10.203.0.2), attached to a fresh bridge, and
// removes them all when the test ends.
func tapPair(t *testing.T, offload [2]bool) (*Bridge, [2]*link.TAP) {
	t.Helper()
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v\n%s", args, err, out)
		}
	}
	cleanup := func() {
		for i := 0; i < 2; i++ {
			_ = exec.Command("ip", "netns", "del", fmt.Sprintf("c3ns%d", i)).Run()
			_ = exec.Command("ip", "link", "del", fmt.Sprintf("c3tap%d", i)).Run()
		}
	}
	cleanup()
	br := New(Config{Name: "c3br"})
	var taps [2]*link.TAP
	t.Cleanup(func() { br.Close(); cleanup() })
	for i := 0; i < 2; i++ {
		dev, ns := fmt.Sprintf("c3tap%d", i), fmt.Sprintf("c3ns%d", i)
		run("tuntap", "add", dev, "mode", "tap")
		// Attaching to the persistent device sets IFF_VNET_HDR on it.
		tp, err := link.OpenTAP(dev, false)
		if err != nil {
			t.Fatalf("OpenTAP(%q): %v", dev, err)
		}
		if err := tp.SetOffload(offload[i]); err != nil {
			t.Fatalf("SetOffload(%v): %v", offload[i], err)
		}
		taps[i] = tp
		if _, err := br.AddPort(PortSpec{Name: dev, Type: "tap", Link: tp}); err != nil {
			t.Fatalf("AddPort(%q): %v", dev, err)
		}
		if got := br.PortOffload(dev); got != offload[i] {
			t.Fatalf("PortOffload(%q) = %v, want %v", dev, got, offload[i])
		}
		run("netns", "add", ns)
		run("link", "set", dev, "netns", ns)
		run("-n", ns, "addr", "add", fmt.Sprintf("10.203.0.%d/24", i+1), "dev", dev)
		run("-n", ns, "addr", "add", fmt.Sprintf("fd03::%d/64", i+1), "dev", dev, "nodad")
		run("-n", ns, "link", "set", dev, "up")
	}
	return br, taps
}

// inNetns runs fn on a thread inside namespace ns; sockets fn makes stay in
// ns.
func inNetns(ns string, fn func() error) error {
	runtime.LockOSThread()
	self, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer self.Close()
	target, err := os.Open("/run/netns/" + ns)
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return err
	}
	ferr := fn()
	if err := unix.Setns(int(self.Fd()), unix.CLONE_NEWNET); err != nil {
		// Leave the thread locked: the runtime discards it.
		return err
	}
	runtime.UnlockOSThread()
	return ferr
}

// tcpTransfer sends size pseudo-random bytes from namespace c3ns<dir> to
// the other over TCP (IPv4 or IPv6) and compares SHA-256 digests of both
// ends.
func tcpTransfer(dir int, v6 bool, size int, port uint16) error {
	src, dst := fmt.Sprintf("c3ns%d", dir), fmt.Sprintf("c3ns%d", 1-dir)
	network, dstAddr := "tcp4", fmt.Sprintf("10.203.0.%d:%d", 2-dir, port)
	if v6 {
		network, dstAddr = "tcp6", fmt.Sprintf("[fd03::%d]:%d", 2-dir, port)
	}
	var ln net.Listener
	if err := inNetns(dst, func() (err error) { ln, err = net.Listen(network, dstAddr); return err }); err != nil {
		return fmt.Errorf("listen in %s: %w", dst, err)
	}
	defer ln.Close()
	got := make(chan [32]byte, 1)
	gotErr := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			gotErr <- err
			return
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(60 * time.Second))
		h := sha256.New()
		n, err := io.Copy(h, c)
		if err == nil && n != int64(size) {
			err = fmt.Errorf("received %d of %d bytes", n, size)
		}
		if err != nil {
			gotErr <- err
			return
		}
		got <- [32]byte(h.Sum(nil))
	}()
	var c net.Conn
	if err := inNetns(src, func() (err error) {
		c, err = net.DialTimeout(network, dstAddr, 5*time.Second)
		return err
	}); err != nil {
		return fmt.Errorf("dial %s from %s: %w", dstAddr, src, err)
	}
	_ = c.SetDeadline(time.Now().Add(60 * time.Second))
	rng := rand.NewChaCha8([32]byte{byte(port)})
	h := sha256.New()
	buf := make([]byte, 256<<10)
	for sent := 0; sent < size; sent += len(buf) {
		_, _ = rng.Read(buf)
		h.Write(buf)
		if _, err := c.Write(buf); err != nil {
			c.Close()
			return fmt.Errorf("send %s->%s: %w", src, dst, err)
		}
	}
	c.Close()
	want := [32]byte(h.Sum(nil))
	select {
	case g := <-got:
		if g != want {
			return fmt.Errorf("%s->%s: %d bytes arrived corrupted (sha256 %x, sent %x)", src, dst, size, g[:8], want[:8])
		}
	case err := <-gotErr:
		return fmt.Errorf("%s->%s: %w", src, dst, err)
	}
	return nil
}
