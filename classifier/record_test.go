package classifier

import (
	"testing"

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
	good := tab.recs[s*tab.stride].Load()
	tab.recs[s*tab.stride].Store(^uint64(0))
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
	tab.recs[s*tab.stride].Store(good)
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
		r := &Rule[string]{Priority: 10, Value: "other"}
		r.Match.Set(flow.FieldInPort, flow.U64(uint64(p)))
		c.Insert(r)
	}
	if tab2 := st.tab.Load(); tab2 == tab {
		if w := tab.recs[slotA*tab.stride+1].Load(); w != m.Key.Words()[st.sig[0].i] {
			t.Errorf("tombstone of in_port=1 now holds key word %#x", w)
		}
	}
	if got := name(c.Lookup(&k, nil)); got != "" {
		t.Errorf("Lookup of removed in_port=1 = %q, want no match", got)
	}
}
