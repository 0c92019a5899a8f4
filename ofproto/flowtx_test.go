package ofproto

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"tapestry/openflow"
)

// txBase is what every FlowTx test bridge holds before the batch.
var txBase = []string{
	"priority=5,ip actions=output:1",
	"send_flow_rem,priority=6,udp actions=output:2",
	"table=1,priority=9,in_port=1 actions=output:3",
}

// txMods turns "cmd line" strings into flow mods: cmd is add, del, strict
// (delete_strict) or mod (modify); "table=255" makes a mod invalid.
func txMods(t *testing.T, lines ...string) []openflow.FlowMod {
	t.Helper()
	cmds := map[string]openflow.FlowModCommand{"add": openflow.FlowAdd, "del": openflow.FlowDelete,
		"strict": openflow.FlowDeleteStrict, "mod": openflow.FlowModify}
	fms := make([]openflow.FlowMod, len(lines))
	for i, l := range lines {
		c, rest, _ := strings.Cut(l, " ")
		bad := strings.Contains(rest, "table=255")
		rest = strings.ReplaceAll(rest, "table=255", "")
		if c == "del" || c == "strict" {
			rest = strings.TrimSuffix(rest, "*") + " actions=drop"
		}
		fms[i] = mod(t, cmds[c], rest)
		if bad {
			fms[i].Table = 255
		}
	}
	return fms
}

// applyParts runs fms through a FlowTx in parts of the given sizes (the
// last part takes the rest).
func applyParts(b *Bridge, fms []openflow.FlowMod, sizes []int) (FlowChanges, error) {
	tx := b.BeginFlowMods()
	defer tx.Abort()
	for _, n := range sizes {
		n = min(n, len(fms))
		_ = tx.Apply(fms[:n])
		fms = fms[n:]
	}
	_ = tx.Apply(fms)
	return tx.Commit()
}

// TestFlowTxMatchesFlowMods checks FlowTx against the oracle FlowMods on
// the whole batch: same error (with the batch-wide mod index), same tables
// after, and nothing changed when the batch fails, whichever part fails.
func TestFlowTxMatchesFlowMods(t *testing.T) {
	tests := []struct {
		name  string
		sizes []int
		lines []string
	}{
		{"adds in three parts", []int{1, 2}, []string{"add priority=7,in_port=2 actions=output:1", "add priority=8,tcp actions=drop", "add priority=7,in_port=3 actions=output:4", "add priority=9,arp actions=output:1"}},
		{"delete then add across parts", []int{1}, []string{"del *", "add priority=7,in_port=2 actions=output:1", "add priority=8,tcp actions=drop"}},
		{"replace across parts", []int{1}, []string{"add priority=5,ip actions=output:7", "add priority=5,ip actions=output:8"}},
		{"modify across parts", []int{1, 1}, []string{"add priority=7,in_port=2 actions=output:1", "mod in_port=2 actions=output:9", "add priority=8,tcp actions=drop"}},
		{"overlap in part 3 rolls back parts 1 and 2", []int{1, 1}, []string{"del *", "add priority=7,in_port=2 actions=output:1", "add check_overlap,priority=7,ip actions=output:3"}},
		{"overlap in part 1", []int{1, 1}, []string{"add check_overlap,priority=5,tcp actions=output:3", "add priority=7,in_port=2 actions=output:1", "add priority=8,tcp actions=drop"}},
		{"bad table in part 3", []int{2, 1}, []string{"add priority=7,in_port=2 actions=output:1", "del *", "add table=255 priority=8,tcp actions=drop"}},
		{"bad table after an overlap wins", []int{1, 1, 1}, []string{"add priority=7,in_port=2 actions=output:1", "add check_overlap,priority=5,tcp actions=drop", "add priority=8,tcp actions=drop", "add table=255 priority=9,tcp actions=drop"}},
		{"bad goto in the last part", []int{2}, []string{"strict priority=5,ip", "add priority=7,in_port=2 actions=output:1", "add table=3 actions=goto_table:2"}},
		{"empty parts", []int{0, 0, 2, 0}, []string{"add priority=7,in_port=2 actions=output:1", "del table=1", "add priority=8,tcp actions=drop"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			oracle, tx := newTestBridge(t, 0), newTestBridge(t, 0)
			oracle.flows(txBase...)
			tx.flows(txBase...)
			before := dump(tx.Bridge)
			wantCh, wantErr := oracle.ApplyFlowMods(txMods(t, tc.lines...))
			gotCh, gotErr := applyParts(tx.Bridge, txMods(t, tc.lines...), tc.sizes)
			if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
				t.Fatalf("FlowTx error = %v, want %v (FlowMods)", gotErr, wantErr)
			}
			got, want := dump(tx.Bridge), dump(oracle.Bridge)
			if wantErr != nil {
				want = before
			}
			if !slices.Equal(got, want) {
				t.Fatalf("FlowTx tables:\n got %q\nwant %q", got, want)
			}
			if gotCh.NAdded != wantCh.NAdded || gotCh.NRemoved != wantCh.NRemoved || len(gotCh.Removed) != len(wantCh.Removed) {
				t.Fatalf("FlowTx changes = %d added, %d (%d) removed; want %d, %d (%d)", gotCh.NAdded, gotCh.NRemoved,
					len(gotCh.Removed), wantCh.NAdded, wantCh.NRemoved, len(wantCh.Removed))
			}
		})
	}
}

// TestFlowTxRandom compares FlowTx with FlowMods on random batches split
// at random points.
func TestFlowTxRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	words := []string{
		"add priority=%d,in_port=%d actions=output:1",
		"add check_overlap,priority=%d,in_port=%d,tcp actions=drop",
		"strict priority=%d,in_port=%d",
		"mod in_port=%[2]d actions=output:%[1]d",
		"add table=255 priority=%d,in_port=%d actions=drop",
	}
	for iter := range 300 {
		lines := make([]string, 1+rng.IntN(12))
		for i := range lines {
			w := rng.IntN(len(words) - 1)
			if rng.IntN(20) == 0 {
				w = len(words) - 1 // rarely invalid, so most batches apply
			}
			lines[i] = fmt.Sprintf(words[w], 5+rng.IntN(3), 1+rng.IntN(3))
		}
		var sizes []int
		for range rng.IntN(4) {
			sizes = append(sizes, rng.IntN(5))
		}
		oracle, tx := newTestBridge(t, 0), newTestBridge(t, 0)
		oracle.flows(txBase...)
		tx.flows(txBase...)
		before := dump(tx.Bridge)
		_, wantErr := oracle.ApplyFlowMods(txMods(t, lines...))
		_, gotErr := applyParts(tx.Bridge, txMods(t, lines...), sizes)
		want := dump(oracle.Bridge)
		if wantErr != nil {
			want = before
		}
		if got := dump(tx.Bridge); fmt.Sprint(gotErr) != fmt.Sprint(wantErr) || !slices.Equal(got, want) {
			t.Fatalf("iteration %d, %q in parts %v:\nFlowTx  %v %q\nFlowMods %v %q", iter, lines, sizes, gotErr, got, wantErr, want)
		}
	}
}

// TestFlowTxAbort checks that Abort after some parts leaves the bridge as
// it was, that the bridge is usable after, and that Abort after Commit
// does nothing.
func TestFlowTxAbort(t *testing.T) {
	tb := newTestBridge(t, 0)
	tb.flows(txBase...)
	before := dump(tb.Bridge)
	gen := tb.gen.Load()
	tx := tb.BeginFlowMods()
	if err := tx.Apply(txMods(t, "del *", "add priority=7,in_port=2 actions=output:1")); err != nil {
		t.Fatalf("Apply = %v", err)
	}
	if err := tx.Apply(txMods(t, "add priority=8,tcp actions=drop")); err != nil {
		t.Fatalf("Apply = %v", err)
	}
	tx.Abort()
	if got := dump(tb.Bridge); !slices.Equal(got, before) {
		t.Fatalf("after Abort:\n got %q\nwant %q", got, before)
	}
	if tb.gen.Load() == gen {
		t.Errorf("Abort of applied parts did not bump the generation")
	}
	tx = tb.BeginFlowMods()
	_ = tx.Apply(txMods(t, "add priority=8,tcp actions=drop"))
	if _, err := tx.Commit(); err != nil {
		t.Fatalf("Commit = %v", err)
	}
	tx.Abort()
	if got := len(dump(tb.Bridge)); got != len(before)+1 {
		t.Fatalf("Abort after Commit: %d flows, want %d", got, len(before)+1)
	}
	if _, err := tx.Commit(); err == nil {
		t.Errorf("second Commit = nil, want an error")
	}
}

// TestFlowTxReusesInput checks that the bridge keeps nothing of the flow
// mods a part hands it: the caller reuses the slice and the action lists.
func TestFlowTxReusesInput(t *testing.T) {
	tb := newTestBridge(t, 0)
	tb.flows()
	fms := txMods(t, "add priority=7,in_port=2 actions=output:1", "add priority=8,tcp actions=output:2,output:3")
	tx := tb.BeginFlowMods()
	defer tx.Abort()
	if err := tx.Apply(fms); err != nil {
		t.Fatalf("Apply = %v", err)
	}
	for i := range fms {
		for j := range fms[i].Actions {
			fms[i].Actions[j].Port = 99
		}
		fms[i].Match = fms[0].Match
	}
	if err := tx.Apply(txMods(t, "add priority=9,arp actions=output:4")); err != nil {
		t.Fatalf("Apply = %v", err)
	}
	ch, err := tx.Commit()
	if err != nil || ch.NAdded != 3 {
		t.Fatalf("Commit = %+v, %v; want 3 added", ch, err)
	}
	want := []string{
		"table=0,priority=7,in_port=2 actions=output:1",
		"table=0,priority=8,tcp actions=output:2,output:3",
		"table=0,priority=9,arp actions=output:4",
	}
	if got := dump(tb.Bridge); !slices.Equal(got, want) {
		t.Fatalf("tables:\n got %q\nwant %q", got, want)
	}
}
