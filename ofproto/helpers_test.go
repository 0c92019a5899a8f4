package ofproto

import (
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"tapestry/link"
	"tapestry/ofctl"
	"tapestry/openflow"
	"tapestry/packet"
)

// fakeClock is an injectable clock for timeouts and ages.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: time.Unix(1_000_000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// capLink is a link whose Read blocks until Close (so that the receive
// goroutine idles) and whose Write records copies of the frames.
type capLink struct {
	name   string
	mu     sync.Mutex
	out    [][]byte
	closed chan struct{}
	once   sync.Once
}

func newCapLink(name string) *capLink { return &capLink{name: name, closed: make(chan struct{})} }

func (l *capLink) Name() string { return l.name }
func (l *capLink) MTU() int     { return 1500 }
func (l *capLink) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	<-l.closed
	return 0, link.ErrClosed
}
func (l *capLink) Write(pkts [][]byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, p := range pkts {
		l.out = append(l.out, append([]byte(nil), p...))
	}
	return len(pkts), nil
}
func (l *capLink) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

// take returns and forgets the frames written so far.
func (l *capLink) take() [][]byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.out
	l.out = nil
	return out
}

// sinkLink counts frames written and keeps nothing (for benchmarks).
type sinkLink struct {
	capLink
	n int
}

func (l *sinkLink) Write(pkts [][]byte) (int, error) {
	l.n += len(pkts)
	return len(pkts), nil
}

// testBridge is a bridge whose ports are capLinks, driven synchronously
// through the same per-port fast path the receive goroutines run.
type testBridge struct {
	*Bridge
	t     testing.TB
	clock *fakeClock
	links map[uint32]*capLink
	procs map[uint32]*proc
}

func newTestBridge(t testing.TB, nports int) *testBridge {
	t.Helper()
	clk := newClock()
	b := New(Config{Name: "br0", Now: clk.Now})
	tb := &testBridge{Bridge: b, t: t, clock: clk, links: map[uint32]*capLink{}, procs: map[uint32]*proc{}}
	for i := 1; i <= nports; i++ {
		tb.addPort(PortSpec{Name: "p" + strconv.Itoa(i)})
	}
	t.Cleanup(b.Close)
	return tb
}

func (tb *testBridge) addPort(ps PortSpec) uint32 {
	tb.t.Helper()
	l := newCapLink(ps.Name)
	ps.Link = l
	no, err := tb.AddPort(ps)
	if err != nil {
		tb.t.Fatalf("AddPort(%q): %v", ps.Name, err)
	}
	tb.links[no] = l
	return no
}

// rx runs frames through the fast path as if port no received them in one
// batch.
func (tb *testBridge) rx(no uint32, frames ...[]byte) {
	pr := tb.procs[no]
	if pr == nil {
		p := tb.ports.Load().byNo(no)
		pr = newProc(tb.Bridge, p, no, true)
		tb.procs[no] = pr
	}
	for i, f := range frames {
		copy(pr.bufs[i][link.Headroom:], f)
		pr.sizes[i] = len(f)
	}
	pr.batch(len(frames))
}

// out returns what each port sent since the last call (ports that sent
// nothing are absent).
func (tb *testBridge) out() map[uint32][][]byte {
	m := map[uint32][][]byte{}
	for no, l := range tb.links {
		if f := l.take(); len(f) > 0 {
			m[no] = f
		}
	}
	return m
}

// flows replaces the bridge's flows with lines in ovs-ofctl add-flow
// syntax (table=, priority=, cookie=, idle_timeout=, hard_timeout= and
// flags are recognized here, the rest by ofctl).
func (tb *testBridge) flows(lines ...string) {
	tb.t.Helper()
	fms := []openflow.FlowMod{{Command: openflow.FlowDelete, Table: openflow.TableAll, OutPort: openflow.PortAny, OutGroup: openflow.GroupAny}}
	for _, l := range lines {
		fms = append(fms, parseFlow(tb.t, l, tb.Bridge))
	}
	if _, err := tb.FlowMods(fms); err != nil {
		tb.t.Fatalf("FlowMods: %v", err)
	}
}

func parseFlow(t testing.TB, line string, names ofctl.PortNamer) openflow.FlowMod {
	t.Helper()
	fm := openflow.FlowMod{Command: openflow.FlowAdd, Priority: openflow.DefaultPriority,
		OutPort: openflow.PortAny, OutGroup: openflow.GroupAny, BufferID: openflow.NoBuffer}
	i := strings.Index(line, "actions=")
	if i < 0 {
		t.Fatalf("flow %q: no actions", line)
	}
	matchText, actText := strings.TrimRight(line[:i], ", "), line[i+len("actions="):]
	var rest []string
	for _, tok := range strings.Split(matchText, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(tok), "=")
		n, _ := strconv.ParseUint(v, 0, 64)
		switch k {
		case "table":
			fm.Table = uint8(n)
		case "cookie":
			fm.Cookie = n
		case "idle_timeout":
			fm.IdleTimeout = uint16(n)
		case "hard_timeout":
			fm.HardTimeout = uint16(n)
		case "send_flow_rem":
			fm.Flags |= openflow.FlagSendFlowRem
		case "check_overlap":
			fm.Flags |= openflow.FlagCheckOverlap
		case "reset_counts":
			fm.Flags |= openflow.FlagResetCounts
		case "":
		default:
			rest = append(rest, tok)
		}
	}
	m, prio, err := ofctl.ParseMatch(strings.Join(rest, ","), names)
	if err != nil {
		t.Fatalf("ParseMatch(%q): %v", line, err)
	}
	fm.Match, fm.Priority = m, prio
	acts, err := ofctl.ParseActions(actText, names)
	if err != nil {
		t.Fatalf("ParseActions(%q): %v", actText, err)
	}
	fm.Actions = acts
	return fm
}

var (
	macA  = packet.MustMAC("00:00:00:00:00:0a")
	macB  = packet.MustMAC("00:00:00:00:00:0b")
	macC  = packet.MustMAC("00:00:00:00:00:0c")
	bcast = packet.MustMAC("ff:ff:ff:ff:ff:ff")
)

func ip(s string) netip.Addr     { return netip.MustParseAddr(s) }
func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

func icmp(src, dst packet.MAC) []byte {
	return packet.ICMPEcho(src, dst, ip("10.0.0.1"), ip("10.0.0.2"), 7, 1, []byte("hello"), false)
}

func tcp(src, dst string) []byte {
	return packet.TCPSegment(macA, macB, ap(src), ap(dst), packet.TCPFlagSYN, nil)
}

func udp(src, dst string) []byte {
	return packet.UDPDatagram(macA, macB, ap(src), ap(dst), []byte("payload"))
}
