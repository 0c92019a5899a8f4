package link

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"tapestry/packet"
)

// TestTAPOffloadPlainRead forwards a TCP stream between two namespaces with
// a loop of plain Read and Write over two TAPs that have offloads on: the
// kernel hands Read super-frames, which Read must return as wire frames
// (segmented, across calls when the batch is small), or the stream stalls
// or arrives corrupted.
func TestTAPOffloadPlainRead(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	var taps [2]*TAP
	cleanup := func() {
		for i := 2; i < 4; i++ {
			_ = exec.Command("ip", "netns", "del", fmt.Sprintf("c3ns%d", i)).Run()
			_ = exec.Command("ip", "link", "del", fmt.Sprintf("c3tap%d", i)).Run()
		}
	}
	cleanup()
	t.Cleanup(cleanup)
	for i := range taps {
		dev, ns := fmt.Sprintf("c3tap%d", i+2), fmt.Sprintf("c3ns%d", i+2)
		for _, args := range [][]string{{"tuntap", "add", dev, "mode", "tap"}, {"netns", "add", ns}} {
			if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
				t.Fatalf("ip %v: %v\n%s", args, err, out)
			}
		}
		tp, err := OpenTAP(dev, false)
		if err != nil {
			t.Fatalf("OpenTAP(%q): %v", dev, err)
		}
		t.Cleanup(func() { tp.Close() })
		if err := tp.SetOffload(true); err != nil || !tp.Offload() {
			t.Fatalf("SetOffload(true) = %v, Offload() = %v", err, tp.Offload())
		}
		taps[i] = tp
		for _, args := range [][]string{{"link", "set", dev, "netns", ns}, {"-n", ns, "addr", "add", fmt.Sprintf("10.203.1.%d/24", i+1), "dev", dev}, {"-n", ns, "link", "set", dev, "up"}} {
			if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
				t.Fatalf("ip %v: %v\n%s", args, err, out)
			}
		}
	}
	// Batches of 3 frames: a 44-segment super-frame spans many Reads.
	var fwd sync.WaitGroup
	for i := range taps {
		fwd.Add(1)
		go func(in, out *TAP) {
			defer fwd.Done()
			bufs, sizes := make([][]byte, 3), make([]int, 3)
			for j := range bufs {
				bufs[j] = make([]byte, FrameSize)
			}
			pkts := make([][]byte, 3)
			for {
				n, err := in.Read(bufs, sizes, Headroom)
				if err != nil {
					return
				}
				for j := 0; j < n; j++ {
					pkts[j] = bufs[j][Headroom : Headroom+sizes[j]]
				}
				_, _ = out.Write(pkts[:n])
			}
		}(taps[i], taps[1-i])
	}
	const size = 4 << 20
	data := bytes.Repeat([]byte("tapestry offload "), size/17+1)[:size]
	var ln net.Listener
	if err := inNetns(filepath.Join(NetnsDir, "c3ns3"), func() (err error) { ln, err = net.Listen("tcp4", "10.203.1.2:5301"); return err }); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	sum := make(chan [32]byte, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(sum)
			return
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(30 * time.Second))
		h := sha256.New()
		n, err := io.Copy(h, c)
		if err != nil || n != size {
			t.Errorf("received %d of %d bytes: %v", n, size, err)
		}
		sum <- [32]byte(h.Sum(nil))
	}()
	var c net.Conn
	if err := inNetns(filepath.Join(NetnsDir, "c3ns2"), func() (err error) {
		c, err = net.DialTimeout("tcp4", "10.203.1.2:5301", 5*time.Second)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := c.Write(data); err != nil {
		t.Fatalf("send: %v", err)
	}
	c.Close()
	if got := <-sum; got != sha256.Sum256(data) {
		t.Errorf("%d bytes arrived corrupted or short through plain Read/Write over offloading TAPs", size)
	}
	for _, tp := range taps {
		tp.Close()
	}
	fwd.Wait()
	if taps[0].pend.n == 0 {
		t.Errorf("Read never had a super-frame to segment: offloads not in effect")
	}
	if s := taps[0].Stats(); s.RxErrors > 0 {
		t.Errorf("%s: %+v", taps[0].Name(), s)
	}
}

// TestTAPVnetWriteAllocs: writing frames with headers allocates nothing.
// The device is down, so the kernel refuses every frame (counted drops).
func TestTAPVnetWriteAllocs(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	tp, err := OpenTAP("c3tap9", true)
	if err != nil {
		t.Fatal(err)
	}
	defer tp.Close()
	f := packet.ICMPEcho(packet.MustMAC("02:00:00:00:00:01"), packet.MustMAC("02:00:00:00:00:02"), netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2"), 1, 1, nil, false)
	pkts, hdrs := [][]byte{f, f}, make([]packet.VnetHdr, 2)
	if a := testing.AllocsPerRun(50, func() { _, _ = tp.WriteVnet(pkts, hdrs) }); a != 0 {
		t.Errorf("WriteVnet allocates %v times", a)
	}
	if a := testing.AllocsPerRun(50, func() { _, _ = tp.Write(pkts) }); a != 0 {
		t.Errorf("Write allocates %v times", a)
	}
	if s := tp.Stats(); s.TxDropped == 0 {
		t.Errorf("Stats = %+v: frames to a down TAP not counted as dropped", s)
	}
	if _, err := tp.WriteVnet(pkts, hdrs[:1]); err == nil {
		t.Errorf("WriteVnet with fewer headers than frames did not fail")
	}
}
