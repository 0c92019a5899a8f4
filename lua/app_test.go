package lua

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tapestry/controller"
	"tapestry/controller/controllertest"
	"tapestry/openflow"
	"tapestry/packet"
)

const wait = 5 * time.Second

func startController(t testing.TB, cfg Config) (*controller.Controller, string) {
	t.Helper()
	c := controller.New(controller.Options{Logger: slog.New(slog.DiscardHandler), EchoInterval: time.Minute, LoadFile: Loader(cfg)})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { _ = c.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); c.Close() })
	return c, ln.Addr().String()
}

func writeFile(t testing.TB, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

var (
	macA = packet.MustMAC("02:00:00:00:00:0a")
	macB = packet.MustMAC("02:00:00:00:00:0b")
	ipA  = netip.MustParseAddr("10.0.0.1")
	ipB  = netip.MustParseAddr("10.0.0.2")
)

const dropICMP = `
-- Drop ICMP from host A, let everything else through (l2-learning does).
function on_switch_up(sw)
  sw:add_flow("priority=100,icmp,nw_src=10.0.0.1,actions=drop")
end
`

func TestSealedAppDropsICMP(t *testing.T) {
	dir := t.TempDir()
	sealed, err := Seal([]byte(dropICMP), "dropicmp", key(7), nil)
	if err != nil {
		t.Fatal(err)
	}
	path := writeFile(t, dir, "dropicmp.tlua", sealed)
	if strings.Contains(string(sealed), "icmp") {
		t.Fatal("sealed file contains plaintext")
	}
	for _, tc := range []struct {
		name    string
		key     []byte
		loads   bool
		icmpOut int // ICMP frames A->B flooded to port 2
	}{
		{"right key", key(7), true, 0},
		{"wrong key", key(8), false, 1},
	} {
		c, addr := startController(t, Config{Key: tc.key})
		if _, err := c.LoadApp("l2-learning"); err != nil {
			t.Fatal(err)
		}
		_, err := c.LoadApp(path)
		if (err == nil) != tc.loads {
			t.Fatalf("%s: LoadApp = %v, want loads=%v", tc.name, err, tc.loads)
		}
		if !tc.loads && !errors.Is(err, ErrWrongKey) {
			t.Errorf("%s: error %v does not say wrong key", tc.name, err)
		}
		sw, err := controllertest.Dial(addr, 1, 2, openflow.Version13)
		if err != nil {
			t.Fatal(err)
		}
		nflows := 1 + map[bool]int{true: 1}[tc.loads]
		if !sw.WaitFor(wait, func(f []openflow.FlowMod, _ map[uint32][][]byte) bool { return len(f) == nflows }) {
			t.Fatalf("%s: flows %v, want %d", tc.name, sw.Flows(), nflows)
		}
		sw.Inject(1, packet.ICMPEcho(macA, macB, ipA, ipB, 1, 1, nil, false))
		sw.Inject(1, packet.UDPDatagram(macA, macB, netip.AddrPortFrom(ipA, 5), netip.AddrPortFrom(ipB, 53), nil))
		if !sw.WaitFor(wait, func(_ []openflow.FlowMod, out map[uint32][][]byte) bool { return len(out[2]) == 1+tc.icmpOut }) {
			t.Fatalf("%s: port 2 got %d frames, want %d", tc.name, len(sw.Received(2)), 1+tc.icmpOut)
		}
		icmp := 0
		for _, fr := range sw.Received(2) {
			if fr[23] == 1 { // IPv4 protocol byte
				icmp++
			}
		}
		if icmp != tc.icmpOut {
			t.Errorf("%s: %d ICMP frames through, want %d", tc.name, icmp, tc.icmpOut)
		}
		sw.Close()
	}
}

const floodApp = `
seen = 0
function on_packet_in(sw, pkt)
  seen = seen + 1
  if pkt.nw_proto == 1 and pkt.nw_src == "10.0.0.1" then return end
  sw:flood(pkt)
end
`

func TestLuaPacketIn(t *testing.T) {
	dir := t.TempDir()
	c, addr := startController(t, Config{})
	if _, err := c.LoadApp(writeFile(t, dir, "flood.lua", []byte(floodApp))); err != nil {
		t.Fatal(err)
	}
	sw, err := controllertest.Dial(addr, 3, 3, openflow.Version10)
	if err != nil {
		t.Fatal(err)
	}
	defer sw.Close()
	waitUp(t, c, 3)
	sw.InjectMiss(1, packet.ICMPEcho(macA, macB, ipA, ipB, 1, 1, nil, false))
	sw.InjectMiss(1, packet.ICMPEcho(macB, macA, ipB, ipA, 1, 1, nil, false))
	if !sw.WaitFor(wait, func(_ []openflow.FlowMod, out map[uint32][][]byte) bool { return len(out[2]) == 1 && len(out[3]) == 1 }) {
		t.Fatal("lua flood: want only B's ping flooded")
	}
	if got := sw.Received(2); got[0][26+3] != 2 { // IPv4 source 10.0.0.2
		t.Errorf("flooded frame from %v, want 10.0.0.2", got[0][26:30])
	}
}

func waitUp(t testing.TB, c *controller.Controller, dpid uint64) {
	t.Helper()
	for deadline := time.Now().Add(wait); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if _, ok := c.Switch(dpid); ok {
			return
		}
	}
	t.Fatalf("switch %d never came up", dpid)
}

func TestSandbox(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, src, wantErr string
	}{
		{"os", `os.exit(1)`, "os"},
		{"io", `io.open("/etc/passwd")`, "io"},
		{"dofile", `dofile("/etc/passwd")`, "dofile"},
		{"loadstring", `loadstring("return 1")()`, "loadstring"},
		{"require", `require("os")`, "require"},
		{"debug", `debug.getinfo(1)`, "debug"},
		{"string.dump", `string.dump(print)`, "dump"},
		{"rep bomb", `s = string.rep("x", 1e9)`, "sandbox limit"},
		{"loop", `while true do end`, "budget"},
		{"recursion", `function f() return 1 + f() end f()`, "stack overflow"},
	}
	for _, tt := range tests {
		p := writeFile(t, dir, strings.ReplaceAll(tt.name, " ", "_")+".lua", []byte(tt.src))
		_, err := Load(p, Config{Budget: 50 * time.Millisecond})
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%s: Load = %v, want an error mentioning %q", tt.name, err, tt.wantErr)
		}
	}
}

func TestOverrunDisablesAppOnly(t *testing.T) {
	dir := t.TempDir()
	c, addr := startController(t, Config{Budget: 20 * time.Millisecond})
	if _, err := c.LoadApp(writeFile(t, dir, "spin.lua", []byte(`function on_packet_in(sw, pkt) while true do end end`))); err != nil {
		t.Fatal(err)
	}
	if _, err := c.LoadApp("l2-learning"); err != nil {
		t.Fatal(err)
	}
	sw, err := controllertest.Dial(addr, 4, 2, openflow.Version13)
	if err != nil {
		t.Fatal(err)
	}
	defer sw.Close()
	sw.WaitFor(wait, func(f []openflow.FlowMod, _ map[uint32][][]byte) bool { return len(f) == 1 })
	sw.Inject(1, packet.ICMPEcho(macA, macB, ipA, ipB, 1, 1, nil, false))
	sw.Inject(1, packet.ICMPEcho(macA, macB, ipA, ipB, 1, 2, nil, false))
	if !sw.WaitFor(wait, func(_ []openflow.FlowMod, out map[uint32][][]byte) bool { return len(out[2]) == 2 }) {
		t.Fatal("l2-learning stalled behind a spinning Lua app")
	}
	for deadline := time.Now().Add(wait); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if a := c.Apps()[0]; !a.Enabled {
			if !strings.Contains(a.Reason, "budget") {
				t.Errorf("spin disabled with reason %q, want budget", a.Reason)
			}
			return
		}
	}
	t.Fatal("spinning app never disabled")
}

func TestHotReload(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "rl.lua", []byte(`function on_switch_up(sw) sw:add_flow("priority=1,actions=drop") end`))
	c, addr := startController(t, Config{})
	if _, err := c.LoadApp(p); err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "rl.lua", []byte(`function on_switch_up(sw) sw:add_flow("priority=2,actions=drop") end`))
	c.Reload()
	sw, err := controllertest.Dial(addr, 5, 1, openflow.Version13)
	if err != nil {
		t.Fatal(err)
	}
	defer sw.Close()
	if !sw.WaitFor(wait, func(f []openflow.FlowMod, _ map[uint32][][]byte) bool { return len(f) == 1 && f[0].Priority == 2 }) {
		t.Fatalf("after reload flows = %v, want priority 2", sw.Flows())
	}
	writeFile(t, dir, "rl.lua", []byte(`function on_switch_up(sw`))
	c.Reload() // syntax error: logged, old code stays
	if a := c.Apps()[0]; !a.Enabled {
		t.Errorf("bad reload disabled the app: %s", a.Reason)
	}
}
