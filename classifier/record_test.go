package classifier

import (
	"testing"
	"unsafe"

	"tapestry/flow"
)

// TestRankUnderWriterChange checks the version protocol of subtable.ver:
// while the version is odd (a writer mid-change), Lookup must rank a slot's
// rule by the rule itself and not by the slot's record, which may belong to
// another rule. The test plants a wrong rank in a record and shows that it
// decides the answer when the version is even and is ignored when it is odd.
func TestRankUnderWriterChange(t *testing.T) {
	c := New[string]()
	c.Insert(rule(t, "in_port=1", 10, "port"))
	c.Insert(rule(t, "in_port=2", 30, "port2")) // probe in_port's subtable first
	c.Insert(rule(t, "nw_dst=10.0.0.1", 20, "dst"))
	k := key(t, "in_port=1,nw_dst=10.0.0.1")
	if got := name(c.Lookup(&k, nil)); got != "dst" {
		t.Fatalf("Lookup before tampering = %q, want dst", got)
	}

	// Give the in_port=1 slot a rank above every real one.
	m := match(t, "in_port=1")
	st := c.subtableFor(&m.Mask)
	tab, s, ok := st.slotOf(&m.Key)
	if !ok {
		t.Fatal("slotOf(in_port=1) found no slot")
	}
	good := tab.rec(s)[0].Load()
	tab.rec(s)[0].Store(^uint64(0))
	for _, tc := range []struct {
		ver  uint64
		want string
	}{
		{0, "port"}, // even: the planted rank is believed
		{1, "dst"},  // odd: ranked by the rule, which has priority 10
		{2, "port"}, // even again
	} {
		st.ver.Store(tc.ver)
		if got := name(c.Lookup(&k, nil)); got != tc.want {
			t.Errorf("ver=%d: Lookup = %q, want %q", tc.ver, got, tc.want)
		}
	}
	st.ver.Store(0)
	tab.rec(s)[0].Store(good)
}

// TestTombstoneRevive checks that a removed key's slot comes back to life
// for the same key (its record is still valid) and is never reused for
// another key, which would change key words a reader may be comparing.
func TestTombstoneRevive(t *testing.T) {
	c := New[string]()
	c.Insert(rule(t, "in_port=9", 10, "keeper")) // keeps the subtable alive
	c.Insert(rule(t, "in_port=1", 10, "a"))
	m := match(t, "in_port=1")
	st := c.subtableFor(&m.Mask)
	_, slotA, _ := st.slotOf(&m.Key)
	c.Remove(&m, 10)
	c.Insert(rule(t, "in_port=1", 10, "a2"))
	tab, s, ok := st.slotOf(&m.Key)
	if !ok || s != slotA || st.used != 2 {
		t.Errorf("re-insert of in_port=1: slot %d ok=%v used=%d, want slot %d revived, used 2", s, ok, st.used, slotA)
	}
	k := key(t, "in_port=1")
	if got := name(c.Lookup(&k, nil)); got != "a2" {
		t.Errorf("Lookup after revive = %q, want a2", got)
	}

	// Remove it again and insert other keys: the tombstone keeps in_port=1.
	c.Remove(&m, 10)
	for p := uint32(2); p < 6; p++ {
		var om flow.Match
		om.Set(flow.FieldInPort, flow.U64(uint64(p)))
		c.Insert(&Rule[string]{Priority: 10, Value: "other"}, &om)
	}
	if tab2 := st.tab.Load(); tab2 == tab {
		if w := tab.rec(slotA)[1].Load(); w != m.Key.Words()[st.sig[0].i] {
			t.Errorf("tombstone of in_port=1 now holds key word %#x", w)
		}
	}
	if got := name(c.Lookup(&k, nil)); got != "" {
		t.Errorf("Lookup of removed in_port=1 = %q, want no match", got)
	}
}

// TestLineLayout checks where a big table keeps its slots: records of up
// to lineWords words share a 64-byte, line-aligned slot with the rule list
// head; longer ones stay in separate arrays. rec and head must address the
// same memory as the lines themselves.
func TestLineLayout(t *testing.T) {
	tests := []struct {
		n, nsig   int
		wantLines bool
	}{
		{bigSlots, 6, true},      // the 1M exact benchmark's mask
		{bigSlots, 1, true},      // in_port alone
		{bigSlots, 7, false},     // record of eight words: no room for the head
		{bigSlots / 2, 6, false}, // not big
	}
	for _, tt := range tests {
		tab := newTable[int](tt.n, tt.nsig, 0)
		if got := tab.lines != nil; got != tt.wantLines || got == (tab.rules != nil) {
			t.Errorf("newTable(%d, %d): lines %v, rules %v; want lines %v", tt.n, tt.nsig, got, tab.rules != nil, tt.wantLines)
			continue
		}
		if tab.slots() != tt.n || len(tab.rec(uint64(tt.n-1))) != tt.nsig+1 {
			t.Errorf("newTable(%d, %d): %d slots, last record %d words", tt.n, tt.nsig, tab.slots(), len(tab.rec(uint64(tt.n-1))))
		}
		if !tt.wantLines {
			continue
		}
		if a := uintptr(unsafe.Pointer(&tab.lines[0])); a%64 != 0 {
			t.Errorf("newTable(%d, %d): lines start at %#x, not on a cache line", tt.n, tt.nsig, a)
		}
		for _, s := range []uint64{0, 1, uint64(tt.n) - 1} {
			if &tab.rec(s)[0] != &tab.lines[s].rec[0] || tab.head(s) != &tab.lines[s].head {
				t.Errorf("newTable(%d, %d): slot %d's record or head is not in line %d", tt.n, tt.nsig, s, s)
			}
		}
	}
}
