package ofproto

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"tapestry/classifier"
	"tapestry/flow"
	"tapestry/ofctl"
	"tapestry/openflow"
)

// delAll is del-flows: every flow of every table.
var delAll = openflow.FlowMod{Command: openflow.FlowDelete, Table: openflow.TableAll,
	OutPort: openflow.PortAny, OutGroup: openflow.GroupAny}

// adds100k returns the 100,000 adds of bench/add-flows.sh.
func adds100k() []openflow.FlowMod {
	fms := make([]openflow.FlowMod, 100000)
	for i := range fms {
		var m flow.Match
		m.Set(flow.FieldDlType, flow.U64(flow.EthTypeIPv4))
		m.Set(flow.FieldInPort, flow.U64(1))
		m.Set(flow.FieldNwDst, flow.Bytes([]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}))
		fms[i] = flowAdd(0, uint16(100+i%1000), m, output(2))
	}
	return fms
}

// BenchmarkDelFlows100k deletes every flow of a bridge holding 100,000, as
// the daemon does for del-flows (RecordFlowMods) and as a controller's
// delete does (ApplyFlowMods), and flow by flow as before flowclear.go.
// The adds are redone outside the timer, so run it with -benchtime 5x.
func BenchmarkDelFlows100k(b *testing.B) {
	fms := adds100k()
	for _, bc := range []struct {
		name string
		del  func(*Bridge, []openflow.FlowMod) (FlowChanges, error)
	}{
		{"record", (*Bridge).RecordFlowMods},
		{"apply", (*Bridge).ApplyFlowMods},
		{"record-flow-by-flow", oneByOne((*Bridge).RecordFlowMods)},
		{"apply-flow-by-flow", oneByOne((*Bridge).ApplyFlowMods)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			br := New(Config{Name: "br0"})
			defer br.Close()
			var cpu time.Duration
			for range b.N {
				b.StopTimer()
				if _, err := br.ApplyFlowMods(fms); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				c0 := cpuTime()
				ch, err := bc.del(br, []openflow.FlowMod{delAll})
				cpu += cpuTime() - c0
				if err != nil || ch.NRemoved < len(fms) {
					b.Fatalf("delete = %d removed, %v; want %d or more", ch.NRemoved, err, len(fms))
				}
			}
			b.ReportMetric(float64(cpu.Microseconds())/1e3/float64(b.N), "cpu-ms/op")
		})
	}
}

// oneByOne is run with the flow-by-flow delete, for comparison.
func oneByOne(run func(*Bridge, []openflow.FlowMod) (FlowChanges, error)) func(*Bridge, []openflow.FlowMod) (FlowChanges, error) {
	return func(b *Bridge, fms []openflow.FlowMod) (ch FlowChanges, err error) {
		withoutClear(func() { ch, err = run(b, fms) })
		return ch, err
	}
}

// cpuTime is the process's user and system CPU time: the shared machine's
// wall-clock figures are noisy.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// clearBase is what every clear test bridge holds: flows with and without
// send_flow_rem and timeouts in three tables.
var clearBase = []string{
	"priority=5,ip actions=output:1",
	"send_flow_rem,priority=6,udp actions=output:2",
	"idle_timeout=10,priority=7,tcp actions=output:2",
	"table=1,send_flow_rem,hard_timeout=20,priority=9,in_port=1 actions=output:3",
	"table=1,priority=9,in_port=2 actions=output:3",
	"table=2,idle_timeout=30,priority=1,arp actions=drop",
}

// withoutClear runs fn with the flow-by-flow delete, the oracle.
func withoutClear(fn func()) {
	clearAtOnce = false
	defer func() { clearAtOnce = true }()
	fn()
}

// changesText describes ch in full, in order.
func changesText(ch FlowChanges) string {
	var s strings.Builder
	fmt.Fprintf(&s, "added %d removed %d\n", ch.NAdded, ch.NRemoved)
	for _, fs := range ch.Added {
		fmt.Fprintf(&s, "A %v\n", fs)
	}
	for _, r := range ch.AddedRefs {
		fmt.Fprintf(&s, "AR %v\n", r.FlowMod())
	}
	for _, fs := range ch.Removed {
		fmt.Fprintf(&s, "R %v\n", fs)
	}
	for _, r := range ch.RemovedRefs {
		fmt.Fprintf(&s, "RR %v\n", r.FlowMod())
	}
	return s.String()
}

// bookkeeping describes what the bridge keeps beside its classifiers: the
// flows with timeouts and the per-table send_flow_rem counts, which must
// match a walk of the tables.
func bookkeeping(t *testing.T, b *Bridge) []string {
	t.Helper()
	var out []string
	for f := range b.timed {
		m := f.rule.Match()
		out = append(out, fmt.Sprintf("timed table=%d,%s", f.table, ofctl.FormatMatch(&m, f.rule.Priority, nil)))
	}
	for i := range b.tables {
		n := 0
		if c := b.tables[i].cls.Load(); c != nil {
			c.ForEach(func(r *classifier.Rule[*Flow]) bool {
				if r.Value.flags&openflow.FlagSendFlowRem != 0 {
					n++
				}
				return true
			})
		}
		if b.tables[i].sendRem != n {
			t.Errorf("table %d: sendRem %d, walk finds %d", i, b.tables[i].sendRem, n)
		}
	}
	slices.Sort(out)
	return out
}

// clearRun is one way of handing a batch to the bridge.
type clearRun struct {
	name string
	run  func(b *Bridge, fms []openflow.FlowMod) (FlowChanges, error)
}

var clearRuns = []clearRun{
	{"FlowMods", (*Bridge).FlowMods},
	{"ApplyFlowMods", (*Bridge).ApplyFlowMods},
	{"RecordFlowMods", (*Bridge).RecordFlowMods},
	{"FlowTx in parts", func(b *Bridge, fms []openflow.FlowMod) (FlowChanges, error) {
		return applyParts(b, fms, []int{1, 2})
	}},
}

// checkClearMatchesOracle runs lines on two bridges holding clearBase, one
// clearing tables at once and one deleting flow by flow, and compares
// everything a caller can see: error, changes, tables, bookkeeping, and
// what expires later.
func checkClearMatchesOracle(t *testing.T, run clearRun, lines []string) {
	t.Helper()
	oracle, fast := newTestBridge(t, 0), newTestBridge(t, 0)
	oracle.flows(clearBase...)
	fast.flows(clearBase...)
	var wantCh FlowChanges
	var wantErr error
	withoutClear(func() { wantCh, wantErr = run.run(oracle.Bridge, txMods(t, lines...)) })
	gotCh, gotErr := run.run(fast.Bridge, txMods(t, lines...))
	if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
		t.Fatalf("%s(%q) error = %v, want %v", run.name, lines, gotErr, wantErr)
	}
	if diff := cmp.Diff(changesText(wantCh), changesText(gotCh)); diff != "" {
		t.Fatalf("%s(%q) changes (-want +got):\n%s", run.name, lines, diff)
	}
	if diff := cmp.Diff(dump(oracle.Bridge), dump(fast.Bridge)); diff != "" {
		t.Fatalf("%s(%q) tables (-want +got):\n%s", run.name, lines, diff)
	}
	if diff := cmp.Diff(bookkeeping(t, oracle.Bridge), bookkeeping(t, fast.Bridge)); diff != "" {
		t.Fatalf("%s(%q) timed flows (-want +got):\n%s", run.name, lines, diff)
	}
	if diff := cmp.Diff(tableCounts(oracle.Bridge), tableCounts(fast.Bridge)); diff != "" {
		t.Fatalf("%s(%q) table stats (-want +got):\n%s", run.name, lines, diff)
	}
	oracle.clock.Advance(time.Minute)
	fast.clock.Advance(time.Minute)
	if got, want := fast.Expire(), oracle.Expire(); got != want {
		t.Fatalf("%s(%q) then Expire = %d, want %d", run.name, lines, got, want)
	}
	if diff := cmp.Diff(dump(oracle.Bridge), dump(fast.Bridge)); diff != "" {
		t.Fatalf("%s(%q) tables after Expire (-want +got):\n%s", run.name, lines, diff)
	}
}

func tableCounts(b *Bridge) []uint32 {
	var n []uint32
	for _, ts := range b.TableStats() {
		n = append(n, ts.ActiveCount)
	}
	return n
}

// TestClearMatchesOracle compares deleting every flow of a table at once
// with deleting flow by flow, in batches that mix the delete with adds,
// modifies, deletes and failures that roll it back.
func TestClearMatchesOracle(t *testing.T) {
	tests := []struct {
		name  string
		lines []string
	}{
		{"delete all", []string{"del *"}},
		{"delete one table", []string{"del table=1 *"}},
		{"delete an empty table", []string{"del table=7 *"}},
		{"delete all twice", []string{"del *", "del *"}},
		{"add then delete all", []string{"add send_flow_rem,priority=8,in_port=3 actions=output:1", "del *"}},
		{"delete all then add", []string{"del *", "add idle_timeout=5,send_flow_rem,priority=8,in_port=3 actions=output:1"}},
		{"add, delete all, add, delete table", []string{"add table=1,priority=8,in_port=3 actions=drop", "del *", "add table=1,hard_timeout=3,priority=8,in_port=4 actions=drop", "del table=1 *"}},
		{"modify then delete all", []string{"mod ip actions=output:9", "del *"}},
		{"strict delete then delete all", []string{"strict priority=6,udp", "del table=0 *"}},
		{"replace then delete all", []string{"add priority=6,udp actions=output:4", "del *", "add priority=6,udp actions=output:5"}},
		{"delete all rolled back by overlap", []string{"del *", "add priority=7,in_port=2 actions=output:1", "add check_overlap,priority=7,ip actions=output:3"}},
		{"delete table rolled back by overlap", []string{"add table=1,priority=3,in_port=9 actions=drop", "del table=1 *", "add table=1,priority=9,in_port=1 actions=drop", "add check_overlap,priority=9,ip actions=drop", "add check_overlap,priority=7,ip actions=output:3"}},
		{"delete all then a bad table", []string{"del *", "add table=255 priority=8,tcp actions=drop"}},
		{"delete all with a cookie mask is loose", []string{"del cookie=0/1 *"}},
	}
	for _, tc := range tests {
		for _, run := range clearRuns {
			t.Run(tc.name+"/"+run.name, func(t *testing.T) { checkClearMatchesOracle(t, run, tc.lines) })
		}
	}
}

// TestClearRandom compares the two on random batches.
func TestClearRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	words := []string{
		"add priority=%d,in_port=%d actions=output:1",
		"add send_flow_rem,idle_timeout=9,table=%d,in_port=%d actions=drop",
		"add hard_timeout=5,priority=%d,in_port=%d,tcp actions=drop",
		"add check_overlap,priority=%d,in_port=%d,tcp actions=drop",
		"strict priority=%d,in_port=%d",
		"mod in_port=%[2]d actions=output:%[1]d",
		"del table=%[2]d *",
		"del *",
		"add table=255 priority=%d,in_port=%d actions=drop",
	}
	for iter := range 150 {
		lines := make([]string, 1+rng.IntN(10))
		for i := range lines {
			w := rng.IntN(len(words) - 1)
			if rng.IntN(20) == 0 {
				w = len(words) - 1
			}
			lines[i] = fmt.Sprintf(words[w], 5+rng.IntN(3), rng.IntN(3))
			if !strings.Contains(words[w], "%") {
				lines[i] = words[w]
			}
			lines[i] = strings.Replace(lines[i], "table=5,", "table=0,", 1)
			lines[i] = strings.Replace(lines[i], "table=6,", "table=1,", 1)
			lines[i] = strings.Replace(lines[i], "table=7,", "table=2,", 1)
		}
		checkClearMatchesOracle(t, clearRuns[iter%len(clearRuns)], lines)
	}
}

// TestClearReportsSendFlowRem checks what ApplyFlowMods reports for a
// cleared table: the count of every flow, and the flows owed a
// flow-removed message, which the hook gets too.
func TestClearReportsSendFlowRem(t *testing.T) {
	tests := []struct {
		del     string
		removed int
		sendRem []string // priorities of Removed
	}{
		{"del *", 6, []string{"6", "9"}},
		{"del table=0 *", 3, []string{"6"}},
		{"del table=2 *", 1, nil},
		{"del table=3 *", 0, nil},
	}
	for _, tc := range tests {
		tb := newTestBridge(t, 0)
		tb.flows(clearBase...)
		var hooked []string
		tb.SetFlowRemovedHook(func(fs openflow.FlowStats, reason uint8) {
			hooked = append(hooked, fmt.Sprintf("%d/%d", fs.Priority, reason))
		})
		ch, err := tb.ApplyFlowMods(txMods(t, tc.del))
		if err != nil {
			t.Fatalf("ApplyFlowMods(%s) = %v", tc.del, err)
		}
		var got, wantHook []string
		for _, fs := range ch.Removed {
			got = append(got, fmt.Sprint(fs.Priority))
		}
		for _, p := range tc.sendRem {
			wantHook = append(wantHook, fmt.Sprintf("%s/%d", p, RemovedDelete))
		}
		slices.Sort(got)
		if ch.NRemoved != tc.removed || !slices.Equal(got, tc.sendRem) || !slices.Equal(hooked, wantHook) {
			t.Errorf("ApplyFlowMods(%s) = %d removed, Removed %q, hook %q; want %d, %q, %q",
				tc.del, ch.NRemoved, got, hooked, tc.removed, tc.sendRem, wantHook)
		}
	}
}
