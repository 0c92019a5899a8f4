package link

import (
	"errors"
	"io/fs"
	"net"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
)

// TestTAPNamespace is the seed experiment's wiring: a persistent TAP made by
// `ip tuntap add`, attached here, moved into a namespace that gives it an
// address; the kernel there must answer ARP and ping through our fd.
func TestTAPNamespace(t *testing.T) {
	needRoot(t)
	const dev, ns = "tpd0", "tpd-ns0"
	netns(t, ns)
	delLink(t, dev, ns)
	run(t, "ip", "tuntap", "add", dev, "mode", "tap")
	if !Exists(dev) || !IsTAP(dev) {
		t.Fatalf("Exists(%q) = %v, IsTAP = %v; want true, true", dev, Exists(dev), IsTAP(dev))
	}
	tap, err := OpenTAP(dev, false)
	if err != nil {
		t.Fatalf("OpenTAP(%q, false): %v", dev, err)
	}
	defer tap.Close()
	if tap.Name() != dev || tap.MTU() != 1500 {
		t.Errorf("Name, MTU = %q, %d; want %q, 1500", tap.Name(), tap.MTU(), dev)
	}
	run(t, "ip", "link", "set", dev, "netns", ns)
	if Exists(dev) {
		t.Errorf("Exists(%q) after moving it to %s = true", dev, ns)
	}
	run(t, "ip", "-n", ns, "addr", "add", "10.201.0.1/24", "dev", dev)
	run(t, "ip", "-n", ns, "link", "set", dev, "up")
	pingThrough(t, tap, netip.MustParseAddr("10.201.0.1"), netip.MustParseAddr("10.201.0.2"))
	if st := tap.Stats(); st.TxPackets < 2 || st.RxPackets < 2 || st.TxErrors != 0 || st.RxErrors != 0 {
		t.Errorf("Stats() = %+v, want >= 2 tx, >= 2 rx, no errors", st)
	}
	if out := run(t, "ip", "-n", ns, "link", "show", dev); strings.Contains(out, "NO-CARRIER") {
		t.Errorf("%s has no carrier while open:\n%s", dev, out)
	}
	tap.Close()
	if out := run(t, "ip", "-n", ns, "link", "show", dev); !strings.Contains(out, "NO-CARRIER") {
		t.Errorf("%s still has carrier after Close:\n%s", dev, out)
	}
}

// TestTAPCreate checks that a TAP made by OpenTAP goes away on Close unless
// made persistent.
func TestTAPCreate(t *testing.T) {
	needRoot(t)
	const dev = "tpd1"
	delLink(t, dev, "")
	tap, err := OpenTAP(dev, true)
	if err != nil {
		t.Fatalf("OpenTAP(%q, true): %v", dev, err)
	}
	if !IsTAP(dev) {
		t.Errorf("IsTAP(%q) = false after creating it", dev)
	}
	tap.Close()
	if Exists(dev) {
		t.Errorf("%s still exists after Close of a non-persistent TAP", dev)
	}
	if err := tap.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}

	tap, err = OpenTAP(dev, true)
	if err != nil {
		t.Fatalf("OpenTAP(%q, true) again: %v", dev, err)
	}
	if err := tap.SetPersist(true); err != nil {
		t.Fatalf("SetPersist(true): %v", err)
	}
	tap.Close()
	if !IsTAP(dev) {
		t.Errorf("persistent %s gone after Close", dev)
	}
	// Reattach to the persistent device without creating.
	tap, err = OpenTAP(dev, false)
	if err != nil {
		t.Fatalf("OpenTAP(%q, false) on persistent device: %v", dev, err)
	}
	tap.Close()
}

func TestTAPMultiQueue(t *testing.T) {
	needRoot(t)
	const dev = "tpd2"
	delLink(t, dev, "")
	run(t, "ip", "tuntap", "add", dev, "mode", "tap", "multi_queue")
	// A multi-queue device admits several descriptors, one per queue.
	a, err := OpenTAP(dev, false)
	if err != nil {
		t.Fatalf("OpenTAP(%q) multi_queue: %v", dev, err)
	}
	defer a.Close()
	b, err := OpenTAP(dev, false)
	if err != nil {
		t.Fatalf("second OpenTAP(%q) multi_queue: %v", dev, err)
	}
	b.Close()
}

func TestTAPCloseUnblocksRead(t *testing.T) {
	needRoot(t)
	const dev = "tpd3"
	delLink(t, dev, "")
	tap, err := OpenTAP(dev, true)
	if err != nil {
		t.Fatalf("OpenTAP: %v", err)
	}
	// The device is down: writes are dropped, not failed.
	if n, err := tap.Write([][]byte{make([]byte, 60), make([]byte, 60)}); n != 0 || err != nil {
		t.Errorf("Write to a down TAP = %d, %v; want 0, nil", n, err)
	}
	if st := tap.Stats(); st.TxDropped != 2 || st.TxErrors != 0 {
		t.Errorf("Stats() after writing to a down TAP = %+v, want 2 dropped, 0 errors", st)
	}
	errc := make(chan error)
	go func() {
		bufs, sizes := readBufs(4)
		_, err := tap.Read(bufs, sizes, 0)
		errc <- err
	}()
	tap.Close()
	if err := <-errc; !errors.Is(err, ErrClosed) {
		t.Errorf("Read after Close = %v, want ErrClosed", err)
	}
	if _, err := tap.Write([][]byte{make([]byte, 60)}); !errors.Is(err, ErrClosed) {
		t.Errorf("Write after Close = %v, want ErrClosed", err)
	}
}

func TestTAPErrors(t *testing.T) {
	needRoot(t)
	delLink(t, "tpd8", "")
	delLink(t, "tpd9", "")
	run(t, "ip", "tuntap", "add", "tpd8", "mode", "tap")
	run(t, "ip", "tuntap", "add", "tpd9", "mode", "tun")
	held, err := OpenTAP("tpd8", false)
	if err != nil {
		t.Fatalf("OpenTAP(tpd8): %v", err)
	}
	defer held.Close()
	tests := []struct {
		name   string
		create bool
		want   string
		is     error
	}{
		{"tpd-missing", false, `no TAP device "tpd-missing"`, fs.ErrNotExist},
		{"tpd9", true, "TUN device", nil},
		{"lo", true, "not a TUN/TAP device", nil},
		{"tpd8", false, "already attached", nil},
		{"tpd-name-too-long", true, "longer than the kernel's limit of 15", nil},
		{"", true, "empty interface name", nil},
		{"../tpd", true, "invalid interface name", nil},
	}
	for _, tc := range tests {
		tap, err := OpenTAP(tc.name, tc.create)
		if err == nil {
			tap.Close()
			t.Errorf("OpenTAP(%q, %v) succeeded, want error containing %q", tc.name, tc.create, tc.want)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) || (tc.is != nil && !errors.Is(err, tc.is)) {
			t.Errorf("OpenTAP(%q, %v) = %v, want error containing %q (is %v)", tc.name, tc.create, err, tc.want, tc.is)
		}
	}
	if IsTAP("tpd9") || IsTAP("lo") || IsTAP("tpd-missing") || Exists("tpd-missing") {
		t.Errorf("IsTAP(tpd9, lo, tpd-missing) = %v %v %v, Exists(tpd-missing) = %v; want all false",
			IsTAP("tpd9"), IsTAP("lo"), IsTAP("tpd-missing"), Exists("tpd-missing"))
	}
	if exec.Command("ip", "link", "show", "tpd-missing").Run() == nil {
		t.Errorf("OpenTAP with create=false created tpd-missing")
	}
}

// BenchmarkTAPWrite measures handing frames to the kernel through a TAP
// that is up; the stack drops them (the destination MAC is not its own).
func BenchmarkTAPWrite(b *testing.B) {
	if !Exists("lo") {
		b.Skip("no /sys/class/net")
	}
	tap, err := OpenTAP("tpd7", true)
	if err != nil {
		b.Skipf("OpenTAP: %v", err)
	}
	defer tap.Close()
	if err := exec.Command("ip", "link", "set", "tpd7", "up").Run(); err != nil {
		b.Fatalf("ip link set tpd7 up: %v", err)
	}
	pkts := make([][]byte, BatchSize)
	for i := range pkts {
		pkts[i] = icmpEcho(testMAC, testMAC, netip.MustParseAddr("10.201.9.1"), netip.MustParseAddr("10.201.9.2"), uint16(i))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tap.Write(pkts)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*BatchSize), "ns/frame")
}

func TestSetHWAddr(t *testing.T) {
	needRoot(t)
	const name = "tpd-hw0"
	delLink(t, name, "")
	tp, err := OpenTAP(name, true)
	if err != nil {
		t.Fatal(err)
	}
	defer tp.Close()
	want := [6]byte{0xfa, 0x16, 0x3e, 0x01, 0x02, 0x03}
	if err := SetHWAddr(name, want); err != nil {
		t.Fatal(err)
	}
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		t.Fatal(err)
	}
	if got := ifi.HardwareAddr.String(); got != "fa:16:3e:01:02:03" {
		t.Errorf("SetHWAddr: address is %s, want fa:16:3e:01:02:03", got)
	}
	if err := SetHWAddr("tpd-nosuch0", want); err == nil {
		t.Error("SetHWAddr of a missing device: no error")
	}
}
