package neigh

import (
	"net/netip"
	"testing"
	"time"

	"tapestry/packet"
)

type fakeSender struct {
	solicits []solicitation
	xmit     [][]byte
	unreach  [][]byte
}

func (f *fakeSender) Solicit(ifindex int, target [4]byte, dst packet.MAC, trigger []byte) {
	f.solicits = append(f.solicits, solicitation{ifindex: ifindex, target: target, dst: dst})
}
func (f *fakeSender) Transmit(_ int, frame []byte)    { f.xmit = append(f.xmit, frame) }
func (f *fakeSender) Unreachable(_ int, frame []byte) { f.unreach = append(f.unreach, frame) }

var (
	ip2  = netip.MustParseAddr("10.0.0.2")
	mac2 = packet.MAC{2, 0, 0, 0, 0, 2}
	mac3 = packet.MAC{2, 0, 0, 0, 0, 3}
)

func newTable(t *testing.T) (*Table, *ManualClock, *fakeSender) {
	t.Helper()
	clk := NewManualClock(time.Unix(1000, 0))
	s := &fakeSender{}
	return New(clk, s, 1), clk, s
}

func state(t *testing.T, tb *Table) State {
	t.Helper()
	e, ok := tb.Lookup(1, ip2)
	if !ok {
		return StateNone
	}
	return e.State
}

// step advances the clock and runs timers.
func step(tb *Table, clk *ManualClock, d time.Duration) {
	clk.Advance(d)
	tb.Tick()
}

func TestResolveFailsAfterThreeBroadcasts(t *testing.T) {
	tb, clk, s := newTable(t)
	frame := make([]byte, 60)
	if _, ok := tb.Resolve(1, ip2.As4(), frame); ok {
		t.Fatal("Resolve on empty table: got usable entry")
	}
	if got := state(t, tb); got != StateIncomplete {
		t.Fatalf("state after Resolve = %v, want INCOMPLETE", got)
	}
	step(tb, clk, time.Second)
	step(tb, clk, time.Second)
	if got := state(t, tb); got != StateIncomplete {
		t.Fatalf("state at 2s = %v, want INCOMPLETE", got)
	}
	step(tb, clk, time.Second)
	if got := state(t, tb); got != StateFailed {
		t.Fatalf("state at 3s = %v, want FAILED", got)
	}
	if len(s.solicits) != 3 {
		t.Fatalf("solicits = %d, want 3 (mcast_solicit)", len(s.solicits))
	}
	for i, sol := range s.solicits {
		if sol.dst != (packet.MAC{}) {
			t.Errorf("solicit %d to %v, want broadcast", i, sol.dst)
		}
	}
	if len(s.unreach) != 1 {
		t.Fatalf("unreachable reports = %d, want 1", len(s.unreach))
	}
	if st := tb.Stats(); st.ResFailed != 1 {
		t.Errorf("ResFailed = %d, want 1", st.ResFailed)
	}
}

// TestStateMachine walks an entry through every state with the clock.
func TestStateMachine(t *testing.T) {
	tb, clk, s := newTable(t)
	frame := make([]byte, 60)
	tb.Resolve(1, ip2.As4(), frame)
	tb.Received(1, ip2, mac2, false, true, false) // the reply
	if got := state(t, tb); got != StateReachable {
		t.Fatalf("after reply: %v, want REACHABLE", got)
	}
	if len(s.xmit) != 1 || packet.MAC(s.xmit[0][:6]) != mac2 {
		t.Fatalf("queued frame not sent to %v: %v", mac2, s.xmit)
	}
	rt := tb.ReachableTime()
	if rt < 15*time.Second || rt >= 45*time.Second {
		t.Fatalf("reachable_time %v outside [15s,45s)", rt)
	}
	step(tb, clk, rt+time.Millisecond)
	if got := state(t, tb); got != StateStale {
		t.Fatalf("after reachable_time: %v, want STALE", got)
	}
	if mac, ok := tb.Resolve(1, ip2.As4(), frame); !ok || mac != mac2 {
		t.Fatalf("Resolve on STALE = %v %v, want %v true", mac, ok, mac2)
	}
	if got := state(t, tb); got != StateDelay {
		t.Fatalf("after use: %v, want DELAY", got)
	}
	step(tb, clk, 5*time.Second)
	if got := state(t, tb); got != StateProbe {
		t.Fatalf("after delay_first_probe_time: %v, want PROBE", got)
	}
	last := s.solicits[len(s.solicits)-1]
	if last.dst != mac2 {
		t.Fatalf("PROBE solicit to %v, want unicast %v", last.dst, mac2)
	}
	tb.Received(1, ip2, mac2, false, true, false)
	if got := state(t, tb); got != StateReachable {
		t.Fatalf("reply in PROBE: %v, want REACHABLE", got)
	}
	// Go stale again, then DELAY with a confirmation: back to REACHABLE.
	step(tb, clk, tb.ReachableTime()+time.Millisecond)
	tb.Resolve(1, ip2.As4(), frame)
	clk.Advance(2 * time.Second)
	tb.Confirm(1, ip2)
	step(tb, clk, 3*time.Second)
	if got := state(t, tb); got != StateReachable {
		t.Fatalf("confirmed in DELAY: %v, want REACHABLE", got)
	}
	// Unanswered probes: PROBE -> FAILED after ucast_solicit probes.
	step(tb, clk, tb.ReachableTime()+time.Millisecond)
	tb.Resolve(1, ip2.As4(), frame)
	step(tb, clk, 5*time.Second)
	n := len(s.solicits)
	step(tb, clk, time.Second)
	step(tb, clk, time.Second)
	step(tb, clk, time.Second)
	if got := state(t, tb); got != StateFailed {
		t.Fatalf("unanswered probes: %v, want FAILED", got)
	}
	if got := len(s.solicits) - n; got != 2 {
		t.Errorf("probes after the first = %d, want 2", got)
	}
	// FAILED entries are collected by the periodic GC once past thresh1
	// only; below it they stay.
	step(tb, clk, 20*time.Second)
	if got := state(t, tb); got != StateFailed {
		t.Fatalf("below gc_thresh1: %v, want FAILED kept", got)
	}
}

func TestReachableGoesDelayWhenUsed(t *testing.T) {
	tb, clk, _ := newTable(t)
	tb.Received(1, ip2, mac2, true, false, false) // request for us: STALE
	if got := state(t, tb); got != StateStale {
		t.Fatalf("request from neighbour: %v, want STALE", got)
	}
	tb.Received(1, ip2, mac2, false, true, false)
	clk.Advance(tb.ReachableTime() - 2*time.Second)
	tb.Resolve(1, ip2.As4(), nil) // connected: used not touched, as the kernel's fast path
	step(tb, clk, 3*time.Second)
	if got := state(t, tb); got != StateStale {
		t.Fatalf("REACHABLE expiry: %v, want STALE", got)
	}
}

func TestUpdateOverrideAndLocktime(t *testing.T) {
	tb, clk, _ := newTable(t)
	tb.Received(1, ip2, mac2, true, false, false)
	tb.Received(1, ip2, mac3, false, false, false) // within locktime: ignored
	if e, _ := tb.Lookup(1, ip2); e.MAC != mac2 {
		t.Fatalf("within locktime lladdr = %v, want %v", e.MAC, mac2)
	}
	clk.Advance(2 * time.Second)
	tb.Received(1, ip2, mac3, false, false, false)
	if e, _ := tb.Lookup(1, ip2); e.MAC != mac3 || e.State != StateStale {
		t.Fatalf("after locktime = %v %v, want %v STALE", e.MAC, e.State, mac3)
	}
	tb.Received(1, ip2, mac2, false, false, true) // gratuitous overrides at once
	if e, _ := tb.Lookup(1, ip2); e.MAC != mac2 {
		t.Fatalf("gratuitous lladdr = %v, want %v", e.MAC, mac2)
	}
}

func TestPermanentNeedsAdmin(t *testing.T) {
	tb, clk, _ := newTable(t)
	if err := tb.Add(1, ip2, &mac2, StatePermanent, false); err != nil {
		t.Fatal(err)
	}
	if err := tb.Add(1, ip2, &mac2, StatePermanent, false); err == nil || err.Error() != "RTNETLINK answers: File exists" {
		t.Fatalf("second Add: %v, want File exists", err)
	}
	clk.Advance(2 * time.Second)
	tb.Received(1, ip2, mac3, false, true, true)
	if e, _ := tb.Lookup(1, ip2); e.MAC != mac2 || e.State != StatePermanent {
		t.Fatalf("ARP changed PERMANENT entry: %v %v", e.MAC, e.State)
	}
	step(tb, clk, time.Hour)
	if got := state(t, tb); got != StatePermanent {
		t.Fatalf("PERMANENT after an hour: %v", got)
	}
	if n := tb.Flush(Filter{}); n != 0 {
		t.Fatalf("default flush removed %d PERMANENT entries", n)
	}
	if err := tb.Delete(1, ip2); err != nil {
		t.Fatal(err)
	}
	if err := tb.Delete(1, ip2); err == nil || err.Error() != "RTNETLINK answers: No such file or directory" {
		t.Fatalf("second Delete: %v", err)
	}
}

func TestQueueBoundDropsOldest(t *testing.T) {
	tb, _, s := newTable(t)
	p := tb.Params()
	p.UnresQLen = 3
	tb.SetParams(p)
	for i := range 5 {
		tb.Resolve(1, ip2.As4(), []byte{0, 0, 0, 0, 0, 0, byte(i)})
	}
	if st := tb.Stats(); st.UnresDiscards != 2 {
		t.Fatalf("UnresDiscards = %d, want 2", st.UnresDiscards)
	}
	tb.Received(1, ip2, mac2, false, true, false)
	if len(s.xmit) != 3 || s.xmit[0][6] != 2 || s.xmit[2][6] != 4 {
		t.Fatalf("sent %v, want frames 2,3,4", s.xmit)
	}
}

func TestGC(t *testing.T) {
	tb, clk, _ := newTable(t)
	p := tb.Params()
	p.GCThresh1, p.GCThresh2, p.GCThresh3 = 2, 3, 4
	tb.SetParams(p)
	for i := range 4 {
		a := netip.AddrFrom4([4]byte{10, 0, 0, byte(10 + i)})
		if err := tb.Replace(1, a, &mac2, StateStale, false); err != nil {
			t.Fatal(err)
		}
	}
	// Full at gc_thresh3, all updated just now: refused.
	if err := tb.Replace(1, netip.MustParseAddr("10.0.0.99"), &mac2, StateStale, false); err == nil {
		t.Fatal("alloc past gc_thresh3 succeeded")
	}
	clk.Advance(6 * time.Second) // older than 5 s: forced GC frees them
	if err := tb.Replace(1, netip.MustParseAddr("10.0.0.99"), &mac2, StateStale, false); err != nil {
		t.Fatalf("alloc after forced GC: %v", err)
	}
	step(tb, clk, 2*time.Minute) // stale entries unused for gc_stale_time go
	if n := tb.Stats().Entries; n != 0 {
		t.Fatalf("entries after periodic GC = %d, want 0", n)
	}
	if st := tb.Stats(); st.TableFulls != 1 || st.ForcedGCRuns < 2 {
		t.Errorf("stats = %+v", st)
	}
}

func TestResolveAllocs(t *testing.T) {
	tb, _, _ := newTable(t)
	tb.Received(1, ip2, mac2, false, false, false)
	if err := tb.Replace(1, ip2, &mac2, StateReachable, false); err != nil {
		t.Fatal(err)
	}
	a := ip2.As4()
	if n := testing.AllocsPerRun(100, func() { tb.Resolve(1, a, nil) }); n != 0 {
		t.Fatalf("Resolve allocs = %v, want 0", n)
	}
}

func BenchmarkResolve(b *testing.B) {
	clk := NewManualClock(time.Unix(0, 0))
	tb := New(clk, &fakeSender{}, 1)
	_ = tb.Replace(1, ip2, &mac2, StateReachable, false)
	a := ip2.As4()
	b.ReportAllocs()
	for b.Loop() {
		tb.Resolve(1, a, nil)
	}
}
