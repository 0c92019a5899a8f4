package ofproto

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"

	"tapestry/openflow"
	"tapestry/packet"
)

// withTwoPass sends every batch through the two-pass path (on) or the
// one-pass path (off) until the returned function restores the default.
func withTwoPass(on bool) (restore func()) {
	old := twoPass
	twoPass = func(*table) bool { return on }
	return func() { twoPass = old }
}

// TestTwoPassMatchesOnePass is the oracle test of the two-pass path: two
// bridges with the same flows get the same random batches, one through
// each path, and must send the same frames, in the same order, to the
// same ports, and count the same packets on every flow. The batches mix a
// few hosts and flows, so that within one batch a frame's flow is new,
// repeats an earlier frame's, or has its cached entry made stale by an
// earlier frame (NORMAL learning a MAC bumps the generation).
func TestTwoPassMatchesOnePass(t *testing.T) {
	setups := map[string][]string{
		"normal": {"actions=NORMAL"},
		"tables": {
			"priority=10,arp,actions=FLOOD",
			"priority=10,ip,actions=goto_table:1",
			"table=1,priority=20,udp,tp_dst=53,actions=mod_nw_tos:32,resubmit(,2)",
			"table=1,priority=10,ip,nw_dst=10.0.0.2,actions=load:2->NXM_NX_REG0[],resubmit(,2)",
			"table=1,priority=5,ip,actions=load:3->NXM_NX_REG0[],resubmit(,2)",
			"table=2,reg0=2,actions=output:2",
			"table=2,reg0=3,actions=dec_ttl,output:3,output:4",
			"table=2,priority=0,actions=NORMAL",
		},
		"ct": {
			"table=0,priority=10,ip,ct_state=-trk,actions=ct(table=1)",
			"table=0,priority=1,actions=NORMAL",
			"table=1,ip,ct_state=+trk+new,in_port=1,actions=ct(commit),NORMAL",
			"table=1,ip,ct_state=+trk+est,actions=NORMAL",
			"table=1,priority=0,actions=drop",
		},
	}
	for name, flows := range setups {
		t.Run(name, func(t *testing.T) {
			one, two := newTestBridge(t, 4), newTestBridge(t, 4)
			one.flows(flows...)
			two.flows(flows...)
			rng := rand.New(rand.NewPCG(7, 8))
			sent := 0
			for round := range 300 {
				port := uint32(1 + rng.IntN(4))
				frames := make([][]byte, 1+rng.IntN(20))
				for i := range frames {
					frames[i] = randomFrame(rng)
				}
				func() {
					defer withTwoPass(false)()
					one.rx(port, frames...)
				}()
				func() {
					defer withTwoPass(true)()
					two.rx(port, frames...)
				}()
				want, got := one.out(), two.out()
				for no := uint32(1); no <= 4; no++ {
					if !slices.EqualFunc(want[no], got[no], bytes.Equal) {
						t.Fatalf("round %d (%d frames in on port %d): port %d sent %d frames by the two-pass path, %d by the one-pass path, or different ones",
							round, len(frames), port, no, len(got[no]), len(want[no]))
					}
					sent += len(got[no])
				}
				if round%50 == 0 {
					one.clock.Advance(100 * 1e9) // age some MACs out now and then
					two.clock.Advance(100 * 1e9)
				}
			}
			if sent == 0 {
				t.Fatal("no frame was forwarded: the test proves nothing")
			}
			if w, g := flowCounts(t, one), flowCounts(t, two); w != g {
				t.Errorf("flow counters differ:\none-pass:\n%s\ntwo-pass:\n%s", w, g)
			}
		})
	}
}

// randomFrame returns one of a few kinds of frame among four hosts: ARP
// broadcasts, ICMP, and UDP or TCP over a handful of ports.
func randomFrame(rng *rand.Rand) []byte {
	hosts := []packet.MAC{macA, macB, macC, packet.MustMAC("00:00:00:00:00:0d")}
	si, di := rng.IntN(4), rng.IntN(4)
	src, dst := hosts[si], hosts[di]
	sip := netip.AddrFrom4([4]byte{10, 0, 0, byte(1 + si)})
	dip := netip.AddrFrom4([4]byte{10, 0, 0, byte(1 + di)})
	sport, dport := uint16(1000+rng.IntN(3)), []uint16{53, 80, 443}[rng.IntN(3)]
	switch rng.IntN(4) {
	case 0:
		return packet.ARPRequest(src, sip, dip)
	case 1:
		return packet.ICMPEcho(src, dst, sip, dip, 7, uint16(rng.IntN(3)), []byte("ping"), false)
	case 2:
		return packet.UDPDatagram(src, dst, netip.AddrPortFrom(sip, sport), netip.AddrPortFrom(dip, dport), []byte("payload"))
	default:
		return packet.TCPSegment(src, dst, netip.AddrPortFrom(sip, sport), netip.AddrPortFrom(dip, dport), packet.TCPFlagSYN, nil)
	}
}

// flowCounts lists every flow's match and packet count.
func flowCounts(t *testing.T, tb *testBridge) string {
	t.Helper()
	var buf bytes.Buffer
	for _, f := range tb.DumpFlows(openflow.FlowMod{Table: openflow.TableAll, OutPort: openflow.PortAny, OutGroup: openflow.GroupAny}) {
		fmt.Fprintf(&buf, "table=%d priority=%d %v n_packets=%d\n", f.Table, f.Priority, f.Match, f.Packets)
	}
	return buf.String()
}
