package ofproto

import (
	"errors"
	"sort"
	"strings"
	"testing"
	"time"

	"tapestry/flow"
	"tapestry/ofctl"
	"tapestry/openflow"
)

// dump returns the bridge's flows as "table,priority,match actions cookie"
// strings, sorted.
func dump(b *Bridge) []string {
	var out []string
	for _, fs := range b.DumpFlows(openflow.FlowMod{Table: openflow.TableAll, OutPort: openflow.PortAny, OutGroup: openflow.GroupAny}) {
		s := "table=" + itoa(int(fs.Table)) + "," + ofctl.FormatMatch(&fs.Match, fs.Priority, nil) +
			" actions=" + ofctl.FormatActions(fs.Actions, nil)
		if fs.Cookie != 0 {
			s += " cookie=" + itoa(int(fs.Cookie))
		}
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

func mod(t *testing.T, cmd openflow.FlowModCommand, line string) openflow.FlowMod {
	t.Helper()
	if !strings.Contains(line, "actions=") {
		line += " actions=drop"
	}
	fm := parseFlow(t, line, nil)
	fm.Command = cmd
	if cmd != openflow.FlowAdd && !strings.Contains(line, "table=") {
		fm.Table = openflow.TableAll
	}
	return fm
}

func TestFlowModSemantics(t *testing.T) {
	base := []string{
		"priority=10,in_port=1 actions=output:2",
		"priority=10,in_port=1,ip actions=output:3",
		"priority=20,ip,nw_src=10.0.0.1 actions=output:2",
		"table=1,priority=10,in_port=1 actions=output:2",
	}
	tests := []struct {
		name string
		cmd  openflow.FlowModCommand
		line string
		mask uint64 // cookie mask
		out  uint32 // out_port filter (0: any)
		want []string
	}{
		{"delete loose all", openflow.FlowDelete, "", 0, 0, nil},
		{"delete loose in_port", openflow.FlowDelete, "in_port=1", 0, 0, []string{"table=0,priority=20,ip,nw_src=10.0.0.1 actions=output:2"}},
		{"delete strict", openflow.FlowDeleteStrict, "priority=10,in_port=1", 0, 0, []string{
			"table=0,priority=10,ip,in_port=1 actions=output:3", "table=0,priority=20,ip,nw_src=10.0.0.1 actions=output:2"}},
		{"delete strict wrong priority", openflow.FlowDeleteStrict, "priority=11,in_port=1", 0, 0, nil},
		{"delete out_port", openflow.FlowDelete, "", 0, 2, []string{"table=0,priority=10,ip,in_port=1 actions=output:3"}},
		{"delete one table", openflow.FlowDelete, "table=1", 0, 0, []string{
			"table=0,priority=10,in_port=1 actions=output:2", "table=0,priority=10,ip,in_port=1 actions=output:3",
			"table=0,priority=20,ip,nw_src=10.0.0.1 actions=output:2"}},
		{"delete cookie mask", openflow.FlowDelete, "cookie=7", 0xff, 0, nil},
		{"modify loose", openflow.FlowModify, "in_port=1 actions=output:4", 0, 0, []string{
			"table=0,priority=10,in_port=1 actions=output:4", "table=0,priority=10,ip,in_port=1 actions=output:4",
			"table=0,priority=20,ip,nw_src=10.0.0.1 actions=output:2", "table=1,priority=10,in_port=1 actions=output:4"}},
		{"modify strict", openflow.FlowModifyStrict, "priority=10,in_port=1,ip actions=output:4", 0, 0, []string{
			"table=0,priority=10,in_port=1 actions=output:2", "table=0,priority=10,ip,in_port=1 actions=output:4",
			"table=0,priority=20,ip,nw_src=10.0.0.1 actions=output:2", "table=1,priority=10,in_port=1 actions=output:2"}},
		{"modify adds when nothing matches", openflow.FlowModifyStrict, "priority=5,in_port=9 actions=output:4", 0, 0, []string{
			"table=0,priority=10,in_port=1 actions=output:2", "table=0,priority=10,ip,in_port=1 actions=output:3",
			"table=0,priority=20,ip,nw_src=10.0.0.1 actions=output:2", "table=0,priority=5,in_port=9 actions=output:4", "table=1,priority=10,in_port=1 actions=output:2"}},
		{"add replaces", openflow.FlowAdd, "priority=10,in_port=1 actions=output:5", 0, 0, []string{
			"table=0,priority=10,in_port=1 actions=output:5", "table=0,priority=10,ip,in_port=1 actions=output:3",
			"table=0,priority=20,ip,nw_src=10.0.0.1 actions=output:2", "table=1,priority=10,in_port=1 actions=output:2"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tb := newTestBridge(t, 0)
			tb.flows(base...)
			fm := mod(t, tc.cmd, tc.line)
			fm.CookieMask = tc.mask
			if tc.out != 0 {
				fm.OutPort = tc.out
			}
			if _, err := tb.FlowMods([]openflow.FlowMod{fm}); err != nil {
				t.Fatalf("FlowMods(%q): %v", tc.line, err)
			}
			got := dump(tb.Bridge)
			want := tc.want
			if tc.name == "delete strict wrong priority" || tc.name == "delete cookie mask" {
				want = dump(func() *Bridge { b := newTestBridge(t, 0); b.flows(base...); return b.Bridge }())
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("after %s %q:\n got %q\nwant %q", tc.name, tc.line, got, want)
			}
		})
	}
}

func TestFlowModCountersAndCookies(t *testing.T) {
	tb := newTestBridge(t, 2)
	tb.flows("cookie=0x5,in_port=1 actions=output:2")
	tb.rx(1, icmp(macA, macB), icmp(macA, macB))
	stat := func() openflow.FlowStats {
		fs := tb.DumpFlows(openflow.FlowMod{Table: openflow.TableAll, OutPort: openflow.PortAny, OutGroup: openflow.GroupAny})
		if len(fs) != 1 {
			t.Fatalf("DumpFlows: %d flows, want 1", len(fs))
		}
		return fs[0]
	}
	if s := stat(); s.Packets != 2 || s.Bytes != 2*uint64(len(icmp(macA, macB))) {
		t.Fatalf("counters = %d packets %d bytes, want 2 and %d", s.Packets, s.Bytes, 2*len(icmp(macA, macB)))
	}
	apply := func(fm openflow.FlowMod) {
		t.Helper()
		if _, err := tb.FlowMods([]openflow.FlowMod{fm}); err != nil {
			t.Fatal(err)
		}
	}
	// Modify with a cookie mask selects by cookie and keeps counters.
	fm := mod(t, openflow.FlowModify, "cookie=0x5 actions=output:1")
	fm.CookieMask = ^uint64(0)
	apply(fm)
	if s := stat(); s.Packets != 2 || s.Cookie != 5 {
		t.Fatalf("after modify: packets %d cookie %#x, want 2 and 0x5", s.Packets, s.Cookie)
	}
	// Modify without a mask sets the cookie (ovs-ofctl mod-flows).
	apply(mod(t, openflow.FlowModify, "cookie=0x9,in_port=1 actions=output:2"))
	if s := stat(); s.Cookie != 9 || s.Packets != 2 {
		t.Fatalf("after modify: cookie %#x packets %d, want 0x9 and 2", s.Cookie, s.Packets)
	}
	// Add of an identical flow keeps counters (Open vSwitch) ...
	tb.clock.Advance(5 * time.Second)
	apply(mod(t, openflow.FlowAdd, "in_port=1 actions=output:2"))
	if s := stat(); s.Packets != 2 || s.Duration != 0 {
		t.Fatalf("after re-add: packets %d duration %v, want 2 and 0", s.Packets, s.Duration)
	}
	// ... unless reset_counts.
	apply(mod(t, openflow.FlowAdd, "reset_counts,in_port=1 actions=output:2"))
	if s := stat(); s.Packets != 0 {
		t.Fatalf("after reset_counts add: packets %d, want 0", s.Packets)
	}
}

func TestFlowModErrors(t *testing.T) {
	tests := []struct {
		name string
		fm   func(t *testing.T) openflow.FlowMod
		want error
	}{
		{"goto backward", func(t *testing.T) openflow.FlowMod {
			return mod(t, openflow.FlowAdd, "table=3 actions=goto_table:2")
		}, ErrBadGotoTable},
		{"goto same", func(t *testing.T) openflow.FlowMod {
			return mod(t, openflow.FlowAdd, "table=3 actions=goto_table:3")
		}, ErrBadGotoTable},
		{"bad table", func(t *testing.T) openflow.FlowMod {
			fm := mod(t, openflow.FlowAdd, "actions=drop")
			fm.Table = 255
			return fm
		}, ErrBadTable},
		{"output to port 0", func(t *testing.T) openflow.FlowMod {
			fm := mod(t, openflow.FlowAdd, "actions=drop")
			fm.Actions = []openflow.Action{{Type: openflow.ActOutput, Port: 0}}
			return fm
		}, ErrBadOutPort},
		{"output to ANY", func(t *testing.T) openflow.FlowMod {
			fm := mod(t, openflow.FlowAdd, "actions=drop")
			fm.Actions = []openflow.Action{{Type: openflow.ActOutput, Port: openflow.PortAny}}
			return fm
		}, ErrBadOutPort},
		{"set read-only field", func(t *testing.T) openflow.FlowMod {
			fm := mod(t, openflow.FlowAdd, "actions=drop")
			fm.Actions = []openflow.Action{{Type: openflow.ActSetField, Dst: flow.Whole(flow.FieldDlType), Value: flow.U64(0x800)}}
			return fm
		}, ErrBadField},
		{"load outside field", func(t *testing.T) openflow.FlowMod {
			fm := mod(t, openflow.FlowAdd, "actions=drop")
			fm.Actions = []openflow.Action{{Type: openflow.ActLoad, Dst: flow.Subfield{Field: flow.FieldReg0, Ofs: 30, NBits: 4}, Value: flow.U64(1)}}
			return fm
		}, ErrBadArgument},
		{"goto inside write_actions", func(t *testing.T) openflow.FlowMod {
			fm := mod(t, openflow.FlowAdd, "actions=drop")
			fm.Actions = []openflow.Action{{Type: openflow.ActWriteActions, Nested: []openflow.Action{{Type: openflow.ActGotoTable, Table: 1}}}}
			return fm
		}, ErrBadInstruction},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tb := newTestBridge(t, 0)
			_, err := tb.FlowMods([]openflow.FlowMod{tc.fm(t)})
			if !errors.Is(err, tc.want) {
				t.Fatalf("FlowMods = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestFlowModsAtomic(t *testing.T) {
	tb := newTestBridge(t, 0)
	tb.flows("priority=5,ip actions=output:1")
	before := dump(tb.Bridge)
	fms := []openflow.FlowMod{
		mod(t, openflow.FlowDelete, ""),
		mod(t, openflow.FlowAdd, "priority=7,in_port=1 actions=output:2"),
		mod(t, openflow.FlowAdd, "check_overlap,priority=7,ip actions=output:3"),
	}
	_, err := tb.FlowMods(fms)
	if !errors.Is(err, ErrOverlap) {
		t.Fatalf("FlowMods = %v, want ErrOverlap", err)
	}
	if after := dump(tb.Bridge); strings.Join(after, "\n") != strings.Join(before, "\n") {
		t.Fatalf("failed batch changed the tables:\n got %q\nwant %q", after, before)
	}
	ch, err := tb.FlowMods(fms[:2])
	if err != nil {
		t.Fatal(err)
	}
	if len(ch.Removed) != 1 || len(ch.Added) != 1 || ch.Added[0].Priority != 7 {
		t.Fatalf("FlowChanges = %d removed, %d added, want 1 and 1", len(ch.Removed), len(ch.Added))
	}
}

// TestApplyFlowModsCounts checks that the lighter ApplyFlowMods applies the
// same changes and counts the adds without listing them.
func TestApplyFlowModsCounts(t *testing.T) {
	tb := newTestBridge(t, 0)
	// The default NORMAL flow and this one are deleted; only this one
	// asked for a flow-removed message, so only it is in Removed.
	if _, err := tb.FlowMods([]openflow.FlowMod{mod(t, openflow.FlowAdd, "send_flow_rem,priority=9,udp actions=drop")}); err != nil {
		t.Fatal(err)
	}
	ch, err := tb.ApplyFlowMods([]openflow.FlowMod{
		mod(t, openflow.FlowDelete, ""),
		mod(t, openflow.FlowAdd, "priority=7,in_port=1 actions=output:2"),
		mod(t, openflow.FlowAdd, "priority=8,ip actions=output:1"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if ch.NAdded != 2 || ch.Added != nil || ch.NRemoved != 2 || len(ch.Removed) != 1 || ch.Removed[0].Priority != 9 {
		t.Fatalf("ApplyFlowMods = NAdded %d, Added %d, NRemoved %d, Removed %+v; want 2, nil, 2 and the priority 9 flow",
			ch.NAdded, len(ch.Added), ch.NRemoved, ch.Removed)
	}
	if got := len(dump(tb.Bridge)); got != 2 {
		t.Fatalf("after ApplyFlowMods the bridge has %d flows, want 2", got)
	}
}

func TestTimeouts(t *testing.T) {
	tb := newTestBridge(t, 2)
	var removed []uint8
	tb.SetFlowRemovedHook(func(fs openflow.FlowStats, reason uint8) { removed = append(removed, reason) })
	tb.flows("idle_timeout=10,in_port=1 actions=output:2", "hard_timeout=30,in_port=2 actions=output:1", "priority=1 actions=drop")
	removed = nil
	tb.clock.Advance(8 * time.Second)
	tb.rx(1, icmp(macA, macB)) // keeps the idle flow alive
	tb.clock.Advance(8 * time.Second)
	if n := tb.Expire(); n != 0 {
		t.Fatalf("Expire at 16s removed %d flows, want 0", n)
	}
	tb.clock.Advance(3 * time.Second)
	if n := tb.Expire(); n != 1 || len(removed) != 1 || removed[0] != RemovedIdleTimeout {
		t.Fatalf("Expire at 19s removed %d flows (reasons %v), want the idle one", n, removed)
	}
	tb.rx(2, icmp(macB, macA))
	tb.clock.Advance(12 * time.Second)
	if n := tb.Expire(); n != 1 || removed[1] != RemovedHardTimeout {
		t.Fatalf("Expire at 31s removed %d flows (reasons %v), want the hard one", n, removed)
	}
	if got := len(dump(tb.Bridge)); got != 1 {
		t.Fatalf("%d flows left, want 1", got)
	}
	tb.out()
	tb.rx(1, icmp(macA, macB))
	if got := tb.out(); len(got) != 0 {
		t.Fatalf("expired flow still forwards: outputs on %v", keys(got))
	}
}

func TestTableStats(t *testing.T) {
	tb := newTestBridge(t, 2)
	tb.flows("in_port=1 actions=resubmit(,1)", "table=1,ip actions=output:2")
	tb.rx(1, icmp(macA, macB), icmp(macA, macB), icmp(macA, macB))
	tb.rx(2, icmp(macA, macB))
	ts := tb.TableStats()
	if ts[0].LookupCount != 4 || ts[0].MatchedCount != 3 || ts[0].ActiveCount != 1 {
		t.Errorf("table 0 stats = %+v, want 4 lookups, 3 matched, 1 active", ts[0])
	}
	if ts[1].LookupCount != 3 || ts[1].MatchedCount != 3 {
		t.Errorf("table 1 stats = %+v, want 3 lookups, 3 matched", ts[1])
	}
	agg := tb.Aggregate(openflow.FlowMod{Table: openflow.TableAll, OutPort: openflow.PortAny, OutGroup: openflow.GroupAny})
	if agg.Flows != 2 || agg.Packets != 6 {
		t.Errorf("Aggregate = %+v, want 2 flows, 6 packets", agg)
	}
	if d := tb.DropStats()["table-miss"]; d != 1 {
		t.Errorf("table-miss drops = %d, want 1", d)
	}
}
