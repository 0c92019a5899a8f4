package controller_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"tapestry/controller"
	"tapestry/controller/controllertest"
	"tapestry/flow"
	"tapestry/openflow"
	"tapestry/packet"
)

const wait = 5 * time.Second

// start runs a controller on a loopback port of its own and returns it
// with its address.
func start(t testing.TB, opts controller.Options) (*controller.Controller, string) {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.EchoInterval == 0 {
		opts.EchoInterval = time.Minute
	}
	c := controller.New(opts)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { _ = c.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); c.Close() })
	return c, ln.Addr().String()
}

func dial(t testing.TB, addr string, dpid uint64, nports uint32, version uint8) *controllertest.Switch {
	t.Helper()
	sw, err := controllertest.Dial(addr, dpid, nports, version)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sw.Close() })
	return sw
}

// waitSwitch waits until the controller has dpid up.
func waitSwitch(t testing.TB, c *controller.Controller, dpid uint64) *controller.Switch {
	t.Helper()
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) {
		if s, ok := c.Switch(dpid); ok {
			return s
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("switch %016x never came up", dpid)
	return nil
}

var (
	macA = packet.MustMAC("02:00:00:00:00:0a")
	macB = packet.MustMAC("02:00:00:00:00:0b")
	ipA  = netip.MustParseAddr("10.0.0.1")
	ipB  = netip.MustParseAddr("10.0.0.2")
)

func ping(src, dst packet.MAC, s, d netip.Addr) []byte {
	return packet.ICMPEcho(src, dst, s, d, 1, 1, []byte("hi"), false)
}

func hasFlow(flows []openflow.FlowMod, inPort uint32, dst packet.MAC) bool {
	for _, f := range flows {
		v, m := f.Match.Get(flow.FieldDlDst)
		iv, _ := f.Match.Get(flow.FieldInPort)
		if m != (flow.Value{}) && [6]byte(v.Tail(6)) == [6]byte(dst) && iv.Uint64() == uint64(inPort) {
			return true
		}
	}
	return false
}

func TestL2Learning(t *testing.T) {
	for _, v := range []uint8{openflow.Version13, openflow.Version10} {
		c, addr := start(t, controller.Options{Apps: nil})
		if _, err := c.LoadApp("l2-learning"); err != nil {
			t.Fatal(err)
		}
		sw := dial(t, addr, 0x42, 3, v)
		// Table-miss flow first.
		if !sw.WaitFor(wait, func(f []openflow.FlowMod, _ map[uint32][][]byte) bool { return len(f) == 1 }) {
			t.Fatalf("v%d: table-miss flow never installed", v)
		}
		// A -> B: unknown destination, flooded to ports 2 and 3.
		sw.Inject(1, ping(macA, macB, ipA, ipB))
		if !sw.WaitFor(wait, func(_ []openflow.FlowMod, out map[uint32][][]byte) bool { return len(out[2]) == 1 && len(out[3]) == 1 }) {
			t.Fatalf("v%d: first packet not flooded", v)
		}
		// B -> A: A is known on port 1: flow installed and packet sent there.
		sw.Inject(2, ping(macB, macA, ipB, ipA))
		if !sw.WaitFor(wait, func(f []openflow.FlowMod, out map[uint32][][]byte) bool {
			return len(out[1]) == 1 && hasFlow(f, 2, macA)
		}) {
			t.Fatalf("v%d: reply not forwarded with a learned flow; flows %v", v, sw.Flows())
		}
		// A -> B again: now known, flow installed; then traffic goes
		// through flows without the controller.
		sw.Inject(1, ping(macA, macB, ipA, ipB))
		// The controller answers with a flow-mod and a packet-out of this
		// packet to port 2; wait for both before draining, or the packet-out
		// may land after the drain and be counted with the next packet.
		if !sw.WaitFor(wait, func(f []openflow.FlowMod, out map[uint32][][]byte) bool {
			return hasFlow(f, 1, macB) && len(out[2]) >= 2
		}) {
			t.Fatalf("v%d: no flow for A->B (or its packet-out to port 2)", v)
		}
		sw.Received(2)
		sw.Received(3)
		before := sw.PacketIns
		sw.Inject(1, ping(macA, macB, ipA, ipB))
		if got := len(sw.Received(2)); got != 1 || sw.PacketIns != before {
			t.Errorf("v%d: learned flow: got %d frames on port 2, packet-ins %d -> %d; want 1 frame, no packet-in", v, got, before, sw.PacketIns)
		}
		if got := len(sw.Received(3)); got != 0 {
			t.Errorf("v%d: port 3 got %d frames after learning, want 0", v, got)
		}
	}
}

func TestReconnectReplaces(t *testing.T) {
	c, addr := start(t, controller.Options{})
	sw1 := dial(t, addr, 7, 2, openflow.Version13)
	s1 := waitSwitch(t, c, 7)
	_ = sw1
	sw2 := dial(t, addr, 7, 2, openflow.Version13)
	_ = sw2
	select {
	case <-s1.Done():
	case <-time.After(wait):
		t.Fatal("old connection not closed when the switch reconnected")
	}
	s2 := waitSwitch(t, c, 7)
	if s2 == s1 {
		t.Fatal("controller kept the old connection")
	}
	if n := len(c.Switches()); n != 1 {
		t.Errorf("Switches() = %d, want 1", n)
	}
	if got := len(s2.Ports()); got != 2 {
		t.Errorf("ports = %d, want 2", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := s2.Barrier(ctx); err != nil {
		t.Errorf("Barrier: %v", err)
	}
}

// badApp fails on its first packet-in, by panic or error.
type badApp struct {
	name  string
	panic bool
}

func (b *badApp) Name() string { return b.name }
func (b *badApp) HandleEvent(_ *controller.Controller, ev controller.Event) error {
	if ev.Kind != controller.EventPacketIn {
		return nil
	}
	if b.panic {
		var frames [][]byte
		_ = frames[len(ev.PacketIn.Data)] // index out of range: a real bug
	}
	return errors.New("cannot cope")
}

func TestAppIsolation(t *testing.T) {
	c, addr := start(t, controller.Options{})
	for _, a := range []controller.App{&badApp{name: "panicky", panic: true}, &badApp{name: "erring"}, controller.NewL2Learning()} {
		if err := c.AddApp(a); err != nil {
			t.Fatal(err)
		}
	}
	sw := dial(t, addr, 1, 2, openflow.Version13)
	sw.WaitFor(wait, func(f []openflow.FlowMod, _ map[uint32][][]byte) bool { return len(f) == 1 })
	sw.Inject(1, ping(macA, macB, ipA, ipB))
	if !sw.WaitFor(wait, func(_ []openflow.FlowMod, out map[uint32][][]byte) bool { return len(out[2]) == 1 }) {
		t.Fatal("l2-learning stopped working next to failing apps")
	}
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) {
		apps := c.Apps()
		if !apps[0].Enabled && !apps[1].Enabled {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	for _, a := range c.Apps() {
		want := a.Name == "l2-learning"
		if a.Enabled != want {
			t.Errorf("app %s enabled=%v (reason %q), want %v", a.Name, a.Enabled, a.Reason, want)
		}
		if !want && a.Reason == "" {
			t.Errorf("app %s disabled without a reason", a.Name)
		}
	}
}

func TestStaticReloadAppliesDifference(t *testing.T) {
	path := filepath.Join(t.TempDir(), "flows.yaml")
	write := func(s string) {
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("\"*\":\n  - priority=1,actions=drop\n\"0000000000000005\":\n  - priority=10,icmp,actions=drop\n")
	c, addr := start(t, controller.Options{StaticFile: path})
	if _, err := c.LoadApp("static"); err != nil {
		t.Fatal(err)
	}
	sw := dial(t, addr, 5, 2, openflow.Version13)
	if !sw.WaitFor(wait, func(f []openflow.FlowMod, _ map[uint32][][]byte) bool { return len(f) == 2 }) {
		t.Fatalf("static flows not installed: %v", sw.Flows())
	}
	n := len(sw.FlowMods())
	write("\"*\":\n  - priority=1,actions=drop\n\"0x5\":\n  - priority=20,tcp,actions=drop\n")
	c.Reload()
	if !sw.WaitFor(wait, func(f []openflow.FlowMod, _ map[uint32][][]byte) bool { return len(f) == 2 && f[0].Priority == 20 }) {
		t.Fatalf("reload: flows %v", sw.Flows())
	}
	mods := sw.FlowMods()[n:]
	if len(mods) != 2 || mods[0].Command != openflow.FlowDeleteStrict || mods[1].Command != openflow.FlowAdd {
		t.Errorf("reload sent %d flow mods %+v, want one strict delete then one add", len(mods), mods)
	}
	write("\"*\":\n  - priority=1,actions=bogus\n")
	c.Reload() // logged; old flows stay
	if got := len(sw.Flows()); got != 2 {
		t.Errorf("after a bad reload: %d flows, want the 2 old ones", got)
	}
}

func TestTopologyLLDP(t *testing.T) {
	c, addr := start(t, controller.Options{})
	topo := controller.NewTopology(time.Hour)
	if err := c.AddApp(topo); err != nil {
		t.Fatal(err)
	}
	sw1 := dial(t, addr, 1, 2, openflow.Version13)
	sw2 := dial(t, addr, 2, 2, openflow.Version13)
	// The wire: sw1 port 2 <-> sw2 port 1. Carry the probes across.
	if !sw1.WaitFor(wait, func(_ []openflow.FlowMod, out map[uint32][][]byte) bool { return len(out[2]) > 0 }) {
		t.Fatal("no LLDP probe out of sw1 port 2")
	}
	if !sw2.WaitFor(wait, func(_ []openflow.FlowMod, out map[uint32][][]byte) bool { return len(out[1]) > 0 }) {
		t.Fatal("no LLDP probe out of sw2 port 1")
	}
	for _, f := range sw1.Received(2) {
		sw2.Inject(1, f)
	}
	for _, f := range sw2.Received(1) {
		sw1.Inject(2, f)
	}
	deadline := time.Now().Add(wait)
	for len(topo.Links()) < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	got := topo.Links()
	if len(got) != 2 || got[0].SrcDPID != "0000000000000001" || got[0].SrcPort != 2 || got[0].DstPort != 1 || got[1].SrcPort != 1 || got[1].DstPort != 2 {
		t.Errorf("links = %+v, want 1:2->2:1 and 2:1->1:2", got)
	}
}

func TestLLDPRoundTrip(t *testing.T) {
	tests := []struct {
		dpid uint64
		port uint32
	}{{1, 1}, {0xfedcba9876543210, 0xfffffeff}, {0, 65535}}
	for _, tt := range tests {
		d, p, ok := controller.ParseLLDP(controller.LLDPFrame(tt.dpid, tt.port, [6]byte{2}))
		if !ok || d != tt.dpid || p != tt.port {
			t.Errorf("ParseLLDP(LLDPFrame(%x, %d)) = %x, %d, %v", tt.dpid, tt.port, d, p, ok)
		}
	}
	if _, _, ok := controller.ParseLLDP(ping(macA, macB, ipA, ipB)); ok {
		t.Error("ParseLLDP accepted an ICMP frame")
	}
}

func FuzzParseLLDP(f *testing.F) {
	f.Add(controller.LLDPFrame(1, 2, [6]byte{}))
	f.Fuzz(func(t *testing.T, b []byte) { controller.ParseLLDP(b) })
}
