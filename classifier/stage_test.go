package classifier

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"tapestry/flow"
)

// TestStageMasksPartition checks that every bit of a Key belongs to exactly
// one stage: a bit in no stage would never be hashed, a bit in two would be
// hashed twice.
func TestStageMasksPartition(t *testing.T) {
	var union flow.Mask
	for i := range stageMasks {
		for j := i + 1; j < len(stageMasks); j++ {
			if both := stageMasks[i].And(&stageMasks[j]); !both.IsZero() {
				t.Errorf("stages %d and %d share bits %+v", i, j, both)
			}
		}
		union = union.Or(&stageMasks[i])
	}
	for i, w := range union.Words() {
		if w != ^uint64(0) {
			t.Errorf("key word %d: stages cover %#x, want every bit", i, w)
		}
	}
}

// TestMakePieces checks the split of masks into stage pieces.
func TestMakePieces(t *testing.T) {
	tests := []struct {
		match  string
		pieces int
		ends   []uint8
	}{
		{"in_port=1", 1, []uint8{1}},
		{"in_port=1,metadata=2", 2, []uint8{2}},
		{"in_port=1,nw_dst=10.0.0.1", 2, []uint8{1, 2}},
		{"dl_type=0x800,tp_src=80", 2, []uint8{1, 2}}, // one key word, two stages
		{"in_port=1,dl_dst=00:00:00:00:00:01,nw_src=10.0.0.1,tp_dst=80", 4, []uint8{1, 2, 3, 4}},
		{"", 0, nil},
	}
	for _, tt := range tests {
		m := match(t, tt.match)
		ps, ends := makePieces(&m.Mask)
		if len(ps) != tt.pieces || fmt.Sprint(ends) != fmt.Sprint(tt.ends) {
			t.Errorf("makePieces(%q) = %d pieces, ends %v; want %d, %v", tt.match, len(ps), ends, tt.pieces, tt.ends)
		}
		// A piece names its stage's filter only if it ends the stage.
		stage := 0
		for j, p := range ps {
			want := -1
			if stage < len(ends) && j+1 == int(ends[stage]) {
				want = stage
				stage++
			}
			if p.stage != want {
				t.Errorf("makePieces(%q): piece %d has stage %d, want %d", tt.match, j, p.stage, want)
			}
		}
	}
}

// TestFilterNoFalseNegative checks that every key inserted into a staged
// subtable passes every one of its stage filters, through growth.
func TestFilterNoFalseNegative(t *testing.T) {
	c := New[string]()
	var keys []flow.Match
	for i := range 2000 {
		m := match(t, fmt.Sprintf("in_port=%d,dl_dst=00:00:00:00:%02x:%02x,nw_dst=10.0.%d.%d,tp_dst=%d", i%7, i>>8, i&0xff, i>>8, i&0xff, i%13))
		c.Insert(&Rule[string]{Priority: 1, Value: fmt.Sprint(i)}, &m)
		keys = append(keys, m)
	}
	st := c.subtableFor(&keys[0].Mask)
	tab := st.tab.Load()
	if tab.nf != 3 {
		t.Fatalf("table has %d filters, want 3", tab.nf)
	}
	for _, m := range keys {
		var part [numStages]uint64
		st.hashKey(m.Key.Words(), &part)
		for s := range tab.nf {
			if !tab.filt.mayHold(s, part[s]) {
				t.Fatalf("stage %d filter rejects inserted key %+v", s, m.Key)
			}
		}
	}
}

// TestTagCollision makes two keys with the same tag and home slot, so that
// a lookup's first tag match is the wrong key and it must go on probing
// (candidate.settle's fallback).
func TestTagCollision(t *testing.T) {
	c := New[string]()
	c.Insert(rule(t, "in_port=1", 10, "a"))
	m := match(t, "in_port=1")
	st := c.subtableFor(&m.Mask)
	tab := st.tab.Load()
	var part [numStages]uint64
	ha := st.hashKey(m.Key.Words(), &part)
	var other flow.Match
	for p := uint64(2); ; p++ {
		other = match(t, fmt.Sprintf("in_port=%d", p))
		h := st.hashKey(other.Key.Words(), &part)
		if tagOf(h) == tagOf(ha) && h>>tab.shift == ha>>tab.shift {
			break
		}
	}
	k := other.Key
	if got := name(c.Lookup(&k, nil)); got != "" {
		t.Errorf("Lookup(colliding key) before insert = %q, want no match", got)
	}
	c.Insert(&Rule[string]{Priority: 10, Value: "b"}, &other)
	if st.tab.Load() != tab {
		t.Fatal("table was rebuilt; the collision is lost")
	}
	if got := name(c.Lookup(&k, nil)); got != "b" {
		t.Errorf("Lookup(colliding key) = %q, want b", got)
	}
	if n := testing.AllocsPerRun(100, func() { c.Lookup(&k, nil) }); n != 0 {
		t.Errorf("Lookup allocates %v times per run", n)
	}
}

// TestBigTablesAgainstOracle runs the oracle comparison with every table of
// 16 slots or more treated as big: no stage filters, home-slot prefetch,
// and tables that change from filtered to big as they grow.
func TestBigTablesAgainstOracle(t *testing.T) {
	defer func(n int) { bigSlots = n }(bigSlots)
	bigSlots = 16
	for seed := range uint64(4) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) { checkOracle(t, 100+seed) })
	}
}

// TestPrioSetMin drains a priority set from the bottom, checking min (the
// bound a pending candidate is deferred by) after every step.
func TestPrioSetMin(t *testing.T) {
	for _, n := range []int{5, 40} { // the small set and the bitmap
		var s prioSet
		for i := range n {
			s.add(uint16(1000 - 7*i))
			s.add(uint16(1000 - 7*i)) // twice: the first remove keeps it
		}
		for i := n - 1; i >= 0; i-- {
			want := uint16(1000 - 7*i)
			if s.min != want {
				t.Fatalf("n=%d: min = %d, want %d", n, s.min, want)
			}
			s.remove(want)
			if s.min != want {
				t.Fatalf("n=%d: min after removing one of two %d = %d", n, want, s.min)
			}
			s.remove(want)
		}
	}
}

// TestHashSigMatchesHashKey checks the writer's hash of a record's words
// (hashSig, pieces found through recPos) against the hash of the whole key
// (hashKey), full and per stage, for masks of every shape the benchmarks
// use and masks that put two stages in one key word.
func TestHashSigMatchesHashKey(t *testing.T) {
	masks := benchMasks(20)
	for _, s := range []string{"dl_type=0x800,tp_src=80", "in_port=1,dl_type=0x800,nw_proto=6,tp_dst=22", "metadata=1"} {
		masks = append(masks, match(t, s).Mask)
	}
	rng := rand.New(rand.NewPCG(9, 10))
	for mi := range masks {
		st := newSubtable[int](&masks[mi])
		nf := max(len(st.ends)-1, 0)
		for range 50 {
			var k flow.Key
			randKey(rng, &k)
			mk := k.Masked(&masks[mi])
			var buf [flow.KeyWords]uint64
			var want, got [numStages]uint64
			hk := st.hashKey(mk.Words(), &want)
			hs := st.hashSig(st.sigKey(mk.Words(), &buf), &got, nil, nf)
			if hs != hk || !slices.Equal(got[:nf], want[:nf]) {
				t.Fatalf("mask %d: hashSig = %#x, parts %x; hashKey = %#x, parts %x", mi, hs, got[:nf], hk, want[:nf])
			}
		}
	}
}

// TestShrinkToFilteredTable makes a big table (no filters) shrink, in the
// rebuild an insert triggers, into a small one with filters: the key being
// inserted must go into the new filters, though its partial hashes were not
// needed for the big table it was hashed for.
func TestShrinkToFilteredTable(t *testing.T) {
	defer func(n int) { bigSlots = n }(bigSlots)
	bigSlots = 16
	c := New[string]()
	m := func(i int) flow.Match { return match(t, fmt.Sprintf("in_port=%d,nw_dst=10.0.0.%d", i%5, i&0xff)) }
	for i := range 12 {
		mi := m(i)
		c.Insert(&Rule[string]{Priority: 1, Value: fmt.Sprint(i)}, &mi)
	}
	first := m(0)
	st := c.subtableFor(&first.Mask)
	if tab := st.tab.Load(); tab.nf != 0 || !tab.big {
		t.Fatalf("table of %d slots has %d filters, big %v; want a big table", tab.slots(), tab.nf, tab.big)
	}
	for i := range 11 {
		mi := m(i)
		c.Remove(&mi, 1)
	}
	// Each new key takes a fresh slot and leaves a tombstone, until the
	// tombstones force a rebuild sized for the two live keys.
	for i := 12; i < 200; i++ {
		mi := m(i)
		c.Insert(&Rule[string]{Priority: 1, Value: fmt.Sprint(i)}, &mi)
		if tab := st.tab.Load(); tab.nf > 0 {
			k := mi.Key
			if got := name(c.Lookup(&k, nil)); got != fmt.Sprint(i) {
				t.Fatalf("after shrinking to %d slots: Lookup(key %d) = %q, want %d", tab.slots(), i, got, i)
			}
			if c.Big() {
				t.Fatal("Big() = true after the only big table shrank")
			}
			return
		}
		if !c.Big() {
			t.Fatalf("Big() = false with a table of %d slots", st.tab.Load().slots())
		}
		c.Remove(&mi, 1)
	}
	t.Fatal("the table never shrank below bigSlots")
}

// TestBigTableHome checks that LookupBatch prefetches the right lines: for
// every key in a big table, the home slot it computes starts the probe
// sequence that reaches the key's slot within a few slots. A wrong hash
// sends the slot anywhere in the table.
func TestBigTableHome(t *testing.T) {
	defer func(n int) { bigSlots = n }(bigSlots)
	bigSlots = 1 << 10
	masks := benchMasks(5)[4:]
	rng := rand.New(rand.NewPCG(11, 12))
	rules, ms := benchRules(rng, 5000, masks, func(int, int) uint16 { return 7 })
	c := New[int]()
	insertAll(c, rules, ms)
	st := c.list.Load().entries[0].st
	tab := st.tab.Load()
	if !tab.big || tab.slots() < bigSlots {
		t.Fatalf("table of %d slots is not big", tab.slots())
	}
	far := 0
	for i := range ms {
		var buf [flow.KeyWords]uint64
		kw := st.sigKey(ms[i].Key.Words(), &buf)
		s, _ := st.findSlot(tab, kw, st.hashSig(kw, nil, nil, 0))
		home := st.home(tab, ms[i].Key.Words())
		if d := (s - home) & tab.mask(); d > 64 {
			t.Fatalf("rule %d: in slot %d, %d slots past the home slot %d", i, s, d, home)
		} else if d > 8 {
			far++
		}
	}
	if far > len(ms)/10 {
		t.Errorf("%d of %d keys more than 8 slots from their home", far, len(ms))
	}
}

// TestBig follows Classifier.Big through subtables that grow big, stay
// small, and are dropped with their last rule.
func TestBig(t *testing.T) {
	defer func(n int) { bigSlots = n }(bigSlots)
	bigSlots = 64
	c := New[string]()
	ins := func(s string) flow.Match {
		m := match(t, s)
		c.Insert(&Rule[string]{Priority: 1, Value: s}, &m)
		return m
	}
	small := ins("in_port=9")
	var bigA, bigB []flow.Match
	for i := range 40 {
		if c.Big() && i < 20 {
			t.Fatalf("Big() = true after %d rules in one subtable", i)
		}
		bigA = append(bigA, ins(fmt.Sprintf("nw_dst=10.0.0.%d,dl_type=0x800", i)))
	}
	if !c.Big() {
		t.Fatal("Big() = false with 40 rules in a subtable (big from 64 slots)")
	}
	for i := range 40 {
		bigB = append(bigB, ins(fmt.Sprintf("nw_src=10.0.1.%d,dl_type=0x800", i)))
	}
	for _, m := range bigA {
		c.Remove(&m, 1)
	}
	if !c.Big() {
		t.Fatal("Big() = false with one big subtable dropped and one left")
	}
	for _, m := range bigB {
		c.Remove(&m, 1)
	}
	if c.Big() {
		t.Fatal("Big() = true with only a small subtable left")
	}
	c.Remove(&small, 1)
	if c.Big() || c.big.Load() != 0 {
		t.Fatalf("big = %d with no rules", c.big.Load())
	}
}

// TestUniformStages follows table.uni through a subtable's life. Its
// rules match in_port (stage 0), dl_type (stage 1) and nw_src (stage 2),
// with one dl_type: stage 1 is uniform, so a key with another dl_type is
// rejected there with dl_type alone in its wildcards, even when its
// in_port is one the rules have. A key with another dl_type clears the
// bit, before the key is visible; a removal leaves it clear; the rebuild
// after that key is gone sets it again. Every step checks the answers.
func TestUniformStages(t *testing.T) {
	c := New[string]()
	ipRule := func(i int) (*Rule[string], *flow.Match) {
		return rule(t, fmt.Sprintf("in_port=%d,dl_type=0x0800,nw_src=10.0.%d.%d", i%4, i>>8, i&0xff), 10, fmt.Sprint("ip", i))
	}
	for i := range 100 {
		c.Insert(ipRule(i))
	}
	_, m0 := ipRule(0)
	st := c.subtableFor(&m0.Mask)
	uni := func() uint32 { return st.tab.Load().uni.Load() }
	if got := uni(); got != 0b010 {
		t.Fatalf("uni = %03b with 4 in_ports, one dl_type, 100 nw_srcs; want 010", got)
	}
	arpKey := key(t, "in_port=3,dl_type=0x0806,nw_src=10.0.0.7")
	var wc flow.Mask
	if got := name(c.Lookup(&arpKey, &wc)); got != "" {
		t.Fatalf("ARP key found %q among IPv4 rules", got)
	}
	if want := flow.Mask(match(t, "dl_type=0xffff").Key); wc != want {
		t.Fatalf("ARP key's wildcards %+v, want dl_type alone %+v", wc, want)
	}
	ipKey := key(t, "in_port=3,dl_type=0x0800,nw_src=10.0.0.7")
	if got := name(c.Lookup(&ipKey, nil)); got != "ip7" {
		t.Fatalf("Lookup(10.0.0.7) = %q, want ip7", got)
	}

	arp, am := rule(t, "in_port=3,dl_type=0x0806,nw_src=10.0.0.7", 20, "arp")
	c.Insert(arp, am)
	if got := uni(); got != 0 {
		t.Fatalf("uni = %03b with dl_types 0x0800 and 0x0806, want 000", got)
	}
	if got := name(c.Lookup(&arpKey, nil)); got != "arp" {
		t.Fatalf("ARP key after inserting its rule: %q, want arp", got)
	}
	c.Remove(am, 20)
	if got := uni(); got != 0 {
		t.Fatalf("uni = %03b after a removal; only a rebuild may set bits", got)
	}
	if got := name(c.Lookup(&arpKey, nil)); got != "" {
		t.Fatalf("ARP key after removing its rule: %q, want none", got)
	}
	// Grow the table: the rebuild sees only IPv4 keys.
	slots := st.tab.Load().slots()
	for i := 100; st.tab.Load().slots() == slots; i++ {
		c.Insert(ipRule(i))
	}
	if got := uni(); got != 0b010 {
		t.Fatalf("uni = %03b after a rebuild of IPv4 keys alone, want 010", got)
	}
	if got := name(c.Lookup(&ipKey, nil)); got != "ip7" {
		t.Fatalf("Lookup(10.0.0.7) after the rebuild = %q, want ip7", got)
	}
	if got := name(c.Lookup(&arpKey, nil)); got != "" {
		t.Fatalf("ARP key after the rebuild: %q, want none", got)
	}

	// One rule: every stage is uniform, and a lookup compares each.
	c1 := New[string]()
	c1.Insert(rule(t, "in_port=5,dl_type=0x0800,nw_src=10.9.9.9", 1, "only"))
	for _, tt := range []struct{ key, want, wc string }{
		{"in_port=5,dl_type=0x0800,nw_src=10.9.9.9", "only", "in_port=0xffffffff,dl_type=0xffff,nw_src=255.255.255.255"},
		{"in_port=6,dl_type=0x0800,nw_src=10.9.9.9", "", "in_port=0xffffffff"},
		{"in_port=5,dl_type=0x86dd", "", "dl_type=0xffff"},
		{"in_port=5,dl_type=0x0800,nw_src=10.9.9.8", "", "nw_src=255.255.255.255"},
	} {
		k := key(t, tt.key)
		var wc flow.Mask
		if got := name(c1.Lookup(&k, &wc)); got != tt.want {
			t.Errorf("one rule: Lookup(%s) = %q, want %q", tt.key, got, tt.want)
		}
		if want := flow.Mask(match(t, tt.wc).Key); wc != want {
			t.Errorf("one rule: Lookup(%s) wildcards %+v, want %+v", tt.key, wc, want)
		}
	}
}
