package classifier

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"tapestry/flow"
)

type ruleSpec struct {
	match string
	prio  uint16
	name  string
}

func build(t testing.TB, specs []ruleSpec) *Classifier[string] {
	t.Helper()
	c := New[string]()
	for _, s := range specs {
		c.Insert(rule(t, s.match, s.prio, s.name))
	}
	return c
}

// A small routing-like table with CIDR, arbitrary MAC masks, masked
// metadata and registers, and a catch-all.
var lookupRules = []ruleSpec{
	{"", 0, "default"},
	{"nw_dst=10.0.0.0/8", 10, "ten"},
	{"nw_dst=10.1.0.0/16", 20, "ten-one"},
	{"nw_dst=10.1.2.0/24", 5, "ten-one-two-low"},
	{"in_port=1,nw_dst=10.1.0.0/16", 30, "port1-ten-one"},
	{"dl_dst=01:00:00:00:00:00/01:00:00:00:00:00", 40, "multicast"},
	{"metadata=0x10/0xf0", 50, "meta-1x"},
	{"reg3=0x5/0x5", 45, "reg3-bits"},
	{"tp_dst=80,nw_proto=6", 25, "http"},
	{"nw_src=192.168.0.0/255.255.0.255", 15, "odd-mask"},
}

func TestLookup(t *testing.T) {
	c := build(t, lookupRules)
	tests := []struct {
		key  string
		want string
	}{
		{"", "default"},
		{"nw_dst=11.0.0.1", "default"},
		{"nw_dst=10.200.0.1", "ten"},
		{"nw_dst=10.1.9.9", "ten-one"},
		{"nw_dst=10.1.2.3", "ten-one"}, // /24 exists but at lower priority
		{"in_port=1,nw_dst=10.1.2.3", "port1-ten-one"},
		{"in_port=2,nw_dst=10.1.2.3", "ten-one"},
		{"in_port=1,nw_dst=10.2.0.1", "ten"},
		{"dl_dst=01:00:5e:00:00:01,nw_dst=10.1.0.1", "multicast"},
		{"dl_dst=02:00:5e:00:00:01,nw_dst=10.1.0.1", "ten-one"},
		{"metadata=0x1234,nw_dst=10.0.0.1", "ten"},
		{"metadata=0x1214,dl_dst=01:00:00:00:00:00", "meta-1x"},
		{"reg3=0xf", "reg3-bits"},
		{"reg3=0xd,dl_dst=ff:ff:ff:ff:ff:ff", "reg3-bits"},
		{"reg3=0x4", "default"},
		{"tp_dst=80,nw_proto=6,nw_dst=10.1.0.1", "http"},
		{"tp_dst=80,nw_proto=17", "default"},
		{"nw_src=192.168.77.0", "odd-mask"},
		{"nw_src=192.168.77.1", "default"},
	}
	for _, tt := range tests {
		k := key(t, tt.key)
		if got := name(c.Lookup(&k, nil)); got != tt.want {
			t.Errorf("Lookup(%q) = %q, want %q", tt.key, got, tt.want)
		}
	}
	k := key(t, "in_port=1,nw_dst=10.1.2.3")
	var wc flow.Mask
	if n := testing.AllocsPerRun(100, func() { c.Lookup(&k, &wc) }); n != 0 {
		t.Errorf("Lookup allocates %v times per run, want 0", n)
	}
}

func TestLookupEmpty(t *testing.T) {
	c := New[string]()
	k := key(t, "in_port=1")
	var wc flow.Mask
	if r := c.Lookup(&k, &wc); r != nil {
		t.Errorf("Lookup on empty classifier = %q, want nil", r.Value)
	}
	if !wc.IsZero() {
		t.Errorf("Lookup on empty classifier set wildcard bits %v", wc)
	}
}

// TestLookupWildcards checks the bits Lookup reports examining: the masks of
// the subtables it probed and no others.
func TestLookupWildcards(t *testing.T) {
	tests := []struct {
		rules []ruleSpec
		key   string
		want  string // the expected wildcard mask, as a match's mask
	}{
		{[]ruleSpec{{"in_port=1", 10, "a"}}, "in_port=2", "in_port=0xffffffff"},
		{[]ruleSpec{{"in_port=1", 10, "a"}, {"nw_dst=10.0.0.0/8", 5, "b"}}, "in_port=1", "in_port=0xffffffff"},
		{[]ruleSpec{{"in_port=1", 10, "a"}, {"nw_dst=10.0.0.0/8", 5, "b"}}, "in_port=2", "in_port=0xffffffff,nw_dst=255.0.0.0"},
		{[]ruleSpec{{"in_port=1", 10, "a"}, {"nw_dst=10.0.0.0/8", 10, "b"}}, "in_port=1", "in_port=0xffffffff,nw_dst=255.0.0.0"},
		{[]ruleSpec{{"nw_dst=10.0.0.0/8", 5, "b"}, {"nw_dst=10.1.0.0/16", 6, "c"}}, "nw_dst=10.1.0.1", "nw_dst=255.255.0.0"},
		{[]ruleSpec{{"nw_dst=10.0.0.0/8", 5, "b"}, {"nw_dst=10.1.0.0/16", 6, "c"}}, "nw_dst=10.2.0.1", "nw_dst=255.255.0.0"},
		// Staged lookup: a subtable rejected by its in_port stage costs only in_port.
		{[]ruleSpec{{"in_port=1,nw_dst=10.0.0.1", 10, "a"}}, "in_port=2,nw_dst=10.0.0.1", "in_port=0xffffffff"},
		// With one rule, every stage has one value (see table.uni): a
		// stage that differs is rejected on its own bits alone.
		{[]ruleSpec{{"in_port=1,nw_dst=10.0.0.1", 10, "a"}}, "in_port=1,nw_dst=10.0.0.2", "nw_dst=255.255.255.255"},
		{[]ruleSpec{{"in_port=1,dl_dst=00:00:00:00:00:01,tp_dst=80", 10, "a"}}, "in_port=1,dl_dst=00:00:00:00:00:02,tp_dst=80", "dl_dst=ff:ff:ff:ff:ff:ff"},
		// Two values per stage: the filters decide, on the stages so far.
		{[]ruleSpec{{"in_port=1,nw_dst=10.0.0.1", 10, "a"}, {"in_port=2,nw_dst=10.0.0.9", 10, "b"}}, "in_port=3,nw_dst=10.0.0.1", "in_port=0xffffffff"},
		{[]ruleSpec{{"in_port=1,nw_dst=10.0.0.1", 10, "a"}, {"in_port=2,nw_dst=10.0.0.9", 10, "b"}}, "in_port=1,nw_dst=10.0.0.2", "in_port=0xffffffff,nw_dst=255.255.255.255"},
		{[]ruleSpec{{"in_port=1,dl_dst=00:00:00:00:00:01,tp_dst=80", 10, "a"}, {"in_port=2,dl_dst=00:00:00:00:00:03,tp_dst=81", 10, "b"}}, "in_port=1,dl_dst=00:00:00:00:00:02,tp_dst=80", "in_port=0xffffffff,dl_dst=ff:ff:ff:ff:ff:ff"},
		// A first stage of two pieces, rejected before scan (see Lookup).
		{[]ruleSpec{{"in_port=1,metadata=5,nw_dst=10.0.0.1", 10, "a"}}, "in_port=1,metadata=6,nw_dst=10.0.0.1", "in_port=0xffffffff,metadata=0xffffffffffffffff"},
		{[]ruleSpec{{"in_port=1,metadata=5,nw_dst=10.0.0.1", 10, "a"}}, "in_port=1,metadata=5,nw_dst=10.0.0.2", "nw_dst=255.255.255.255"},
		{[]ruleSpec{{"in_port=1,metadata=5,nw_dst=10.0.0.1", 10, "a"}, {"in_port=1,metadata=7,nw_dst=10.0.0.9", 10, "b"}}, "in_port=1,metadata=5,nw_dst=10.0.0.2", "in_port=0xffffffff,metadata=0xffffffffffffffff,nw_dst=255.255.255.255"},
		{[]ruleSpec{{"in_port=1,dl_dst=00:00:00:00:00:01,tp_dst=80", 10, "a"}}, "in_port=1,dl_dst=00:00:00:00:00:01,tp_dst=80", "in_port=0xffffffff,dl_dst=ff:ff:ff:ff:ff:ff,tp_dst=0xffff"},
	}
	for _, tt := range tests {
		c := build(t, tt.rules)
		k := key(t, tt.key)
		var wc flow.Mask
		c.Lookup(&k, &wc)
		want := match(t, tt.want).Key
		if diff := cmp.Diff(flow.Mask(want), wc); diff != "" {
			t.Errorf("Lookup(%q) wildcards (-want +got):\n%s", tt.key, diff)
		}
	}
}

func TestTies(t *testing.T) {
	tests := []struct {
		rules []ruleSpec
		key   string
		want  string
	}{
		{[]ruleSpec{{"in_port=1", 10, "first"}, {"nw_dst=10.0.0.0/8", 10, "second"}}, "in_port=1,nw_dst=10.0.0.1", "first"},
		{[]ruleSpec{{"nw_dst=10.0.0.0/8", 10, "first"}, {"in_port=1", 10, "second"}}, "in_port=1,nw_dst=10.0.0.1", "first"},
		// Replacing the senior rule keeps its seniority.
		{[]ruleSpec{{"in_port=1", 10, "first"}, {"nw_dst=10.0.0.0/8", 10, "second"}, {"in_port=1", 10, "first-v2"}}, "in_port=1,nw_dst=10.0.0.1", "first-v2"},
		{[]ruleSpec{{"in_port=1", 10, "first"}, {"", 10, "any"}, {"nw_dst=10.0.0.0/8", 10, "third"}}, "nw_dst=10.0.0.1", "any"},
		{[]ruleSpec{{"in_port=1", 10, "a"}, {"in_port=1", 11, "b"}, {"in_port=1", 9, "c"}}, "in_port=1", "b"},
	}
	for _, tt := range tests {
		c := build(t, tt.rules)
		k := key(t, tt.key)
		if got := name(c.Lookup(&k, nil)); got != tt.want {
			t.Errorf("rules %v: Lookup(%q) = %q, want %q", tt.rules, tt.key, got, tt.want)
		}
	}
}

func TestInsertReplace(t *testing.T) {
	c := New[string]()
	a, am := rule(t, "in_port=1", 10, "a")
	if old, replaced := c.Insert(a, am); old != nil || replaced {
		t.Fatalf("Insert(a) = %v, %v; want nil, false", old, replaced)
	}
	b, bm := rule(t, "in_port=1", 10, "b")
	if old, replaced := c.Insert(b, bm); old != a || !replaced {
		t.Fatalf("Insert(b) = %v, %v; want a, true", name(old), replaced)
	}
	d, dm := rule(t, "in_port=1", 11, "d")
	if old, replaced := c.Insert(d, dm); old != nil || replaced {
		t.Fatalf("Insert(d) at another priority replaced %q", name(old))
	}
	if c.Len() != 2 {
		t.Errorf("Len() = %d, want 2", c.Len())
	}
	// Key bits outside the mask do not count: the match is normalized.
	e, em := rule(t, "in_port=1", 11, "e")
	em.Key.TpDst = 99
	if old, replaced := c.Insert(e, em); old != d || !replaced {
		t.Errorf("Insert(unnormalized e) = %v, %v; want d, true", name(old), replaced)
	}
	if got := e.Match(); got.Key.TpDst != 0 || got != match(t, "in_port=1") {
		t.Errorf("e.Match() = %+v, want in_port=1 with TpDst 0", got)
	}
	if em.Key.TpDst != 99 {
		t.Errorf("Insert changed the caller's match: TpDst = %d", em.Key.TpDst)
	}
}

func TestInsertTwicePanics(t *testing.T) {
	c := New[string]()
	a, am := rule(t, "in_port=1", 10, "a")
	c.Insert(a, am)
	c.Remove(am, 10)
	defer func() {
		if recover() == nil {
			t.Error("reinserting a removed Rule did not panic")
		}
	}()
	c.Insert(a, am)
}

// TestMatchRoundTrip: a rule gives back the match it was inserted with,
// for masks that fit in the rule and masks that do not (more than
// ruleInline key words).
func TestMatchRoundTrip(t *testing.T) {
	c := New[string]()
	for _, s := range []string{
		"",
		"in_port=1",
		"dl_type=0x0800,in_port=3,nw_dst=10.1.0.0/16",
		"dl_type=0x0800,nw_proto=6,in_port=1,nw_src=1.2.3.4,nw_dst=5.6.7.8,tp_src=1,tp_dst=2",
		"dl_type=0x0800,nw_proto=6,metadata=0x5,reg0=1,reg7=2,tun_id=9,nw_dst=10.0.0.0/8,tp_dst=443,dl_src=00:11:22:33:44:55",
	} {
		r, m := rule(t, s, 7, s)
		c.Insert(r, m)
		if got := r.Match(); got != *m {
			t.Errorf("%q: Match() = %+v, want %+v", s, got, *m)
		}
	}
}

// TestRemoveRule: RemoveRule removes a live rule and nothing else: not a
// rule already removed, nor the rule that replaced it.
func TestRemoveRule(t *testing.T) {
	c := New[string]()
	a, am := rule(t, "in_port=1", 10, "a")
	c.Insert(a, am)
	b, bm := rule(t, "in_port=1", 5, "b") // same slot, lower priority
	c.Insert(b, bm)
	keep, km := rule(t, "in_port=2", 10, "keep")
	c.Insert(keep, km)
	if !c.RemoveRule(a) {
		t.Fatal("RemoveRule(a) = false for a live rule")
	}
	if c.RemoveRule(a) {
		t.Error("RemoveRule(a) = true a second time")
	}
	k := key(t, "in_port=1")
	if got := name(c.Lookup(&k, nil)); got != "b" {
		t.Errorf("after removing a, Lookup(in_port=1) = %q, want b", got)
	}
	b2, b2m := rule(t, "in_port=1", 5, "b2")
	if old, _ := c.Insert(b2, b2m); old != b {
		t.Fatalf("Insert(b2) replaced %q, want b", name(old))
	}
	if c.RemoveRule(b) {
		t.Error("RemoveRule(b) = true after b2 replaced it")
	}
	if got := name(c.Lookup(&k, nil)); got != "b2" || c.Len() != 2 {
		t.Errorf("Lookup(in_port=1) = %q with %d rules, want b2 with 2", got, c.Len())
	}
	if !c.RemoveRule(b2) || !c.RemoveRule(keep) || c.Len() != 0 {
		t.Errorf("removing the last rules: Len() = %d, want 0", c.Len())
	}
	if c.RemoveRule(keep) {
		t.Error("RemoveRule of a rule whose subtable is gone = true")
	}
}

func TestStrict(t *testing.T) {
	c := build(t, lookupRules)
	tests := []struct {
		op    string // find, remove
		match string
		prio  uint16
		want  string
		len   int
	}{
		{"find", "nw_dst=10.0.0.0/8", 10, "ten", 10},
		{"find", "nw_dst=10.0.0.0/8", 11, "", 10},
		{"find", "nw_dst=10.0.0.0/16", 10, "", 10},
		{"find", "nw_dst=10.0.0.1/8", 10, "ten", 10}, // normalized
		{"find", "", 0, "default", 10},
		{"remove", "nw_dst=10.1.0.0/16", 21, "", 10},
		{"remove", "nw_dst=10.1.0.0/16", 20, "ten-one", 9},
		{"remove", "nw_dst=10.1.0.0/16", 20, "", 9},
		{"find", "nw_dst=10.1.0.0/16", 20, "", 9},
		{"remove", "", 0, "default", 8},
		{"find", "in_port=1,nw_dst=10.1.0.0/16", 30, "port1-ten-one", 8},
		{"remove", "in_port=1", 30, "", 8},
	}
	for _, tt := range tests {
		m := match(t, tt.match)
		var r *Rule[string]
		var ok bool
		switch tt.op {
		case "find":
			r, ok = c.Find(&m, tt.prio)
		case "remove":
			r, ok = c.Remove(&m, tt.prio)
		}
		if name(r) != tt.want || ok != (tt.want != "") {
			t.Errorf("%s(%q, %d) = %q, %v; want %q", tt.op, tt.match, tt.prio, name(r), ok, tt.want)
		}
		if c.Len() != tt.len {
			t.Errorf("after %s(%q, %d): Len() = %d, want %d", tt.op, tt.match, tt.prio, c.Len(), tt.len)
		}
	}
	// Removal drops the rules from lookups too.
	k := key(t, "nw_dst=10.1.0.1")
	if got := name(c.Lookup(&k, nil)); got != "ten" {
		t.Errorf("Lookup(nw_dst=10.1.0.1) after removals = %q, want ten", got)
	}
	k = key(t, "nw_dst=11.0.0.1")
	if got := name(c.Lookup(&k, nil)); got != "" {
		t.Errorf("Lookup(nw_dst=11.0.0.1) after removing default = %q, want none", got)
	}
}

func TestForEachLoose(t *testing.T) {
	c := build(t, lookupRules)
	tests := []struct {
		match string
		want  []string
	}{
		{"", []string{"default", "http", "meta-1x", "multicast", "odd-mask", "port1-ten-one", "reg3-bits", "ten", "ten-one", "ten-one-two-low"}},
		{"nw_dst=10.0.0.0/8", []string{"port1-ten-one", "ten", "ten-one", "ten-one-two-low"}},
		{"nw_dst=10.1.0.0/16", []string{"port1-ten-one", "ten-one", "ten-one-two-low"}},
		{"nw_dst=10.1.2.0/24", []string{"ten-one-two-low"}},
		{"nw_dst=10.1.2.3", nil},
		{"nw_dst=11.0.0.0/8", nil},
		{"in_port=1", []string{"port1-ten-one"}},
		{"in_port=2", nil},
		{"metadata=0x10/0x10", []string{"meta-1x"}},
		{"metadata=0x10/0x1f", nil},
		{"reg3=0x1/0x1", []string{"reg3-bits"}},
		{"dl_dst=01:00:00:00:00:00/01:00:00:00:00:00", []string{"multicast"}},
		{"tp_dst=80", []string{"http"}},
	}
	for _, tt := range tests {
		m := match(t, tt.match)
		var got []string
		c.ForEachLoose(&m, func(r *Rule[string]) bool {
			got = append(got, r.Value)
			return true
		})
		slices.Sort(got)
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("ForEachLoose(%q) (-want +got):\n%s", tt.match, diff)
		}
	}
}

func TestForEachStopAndRemove(t *testing.T) {
	c := build(t, lookupRules)
	n := 0
	c.ForEach(func(*Rule[string]) bool { n++; return n < 3 })
	if n != 3 {
		t.Errorf("ForEach called fn %d times after it returned false at 3", n)
	}
	// Delete everything from inside the iteration, as a non-strict
	// delete-flows does.
	all := match(t, "")
	c.ForEachLoose(&all, func(r *Rule[string]) bool {
		m := r.Match()
		if _, ok := c.Remove(&m, r.Priority); !ok {
			t.Errorf("Remove(%q) inside ForEachLoose failed", r.Value)
		}
		return true
	})
	if c.Len() != 0 {
		t.Errorf("Len() = %d after removing every rule, want 0", c.Len())
	}
	c.ForEach(func(r *Rule[string]) bool {
		t.Errorf("ForEach on emptied classifier visited %q", r.Value)
		return true
	})
}

func TestOverlaps(t *testing.T) {
	c := build(t, lookupRules)
	tests := []struct {
		match string
		prio  uint16
		want  bool
	}{
		{"nw_dst=10.0.0.0/8", 10, true},      // identical
		{"nw_dst=10.9.0.0/16", 10, true},     // inside
		{"nw_dst=0.0.0.0/0", 10, true},       // contains
		{"in_port=7", 10, true},              // other field: some packet matches both
		{"nw_dst=11.0.0.0/8", 10, false},     // disjoint prefix
		{"nw_dst=10.0.0.0/8", 11, false},     // no rule at this priority
		{"metadata=0x20/0x30", 50, false},    // bit 4 disagrees
		{"metadata=0x110/0x130", 50, true},   // agrees on bits 4 and 5
		{"reg3=0x1/0x1", 45, true},           // agrees on bit 0
		{"reg3=0x0/0x4", 45, false},          // disagrees on bit 2
		{"nw_src=192.168.1.0/24", 15, true},  // agrees on the odd mask
		{"nw_src=192.169.0.0/16", 15, false}, // second byte differs
		{"in_port=1,nw_dst=10.2.0.0/16", 30, false},
	}
	for _, tt := range tests {
		m := match(t, tt.match)
		if got := c.Overlaps(&m, tt.prio); got != tt.want {
			t.Errorf("Overlaps(%q, %d) = %v, want %v", tt.match, tt.prio, got, tt.want)
		}
	}
}

func TestPrioSet(t *testing.T) {
	// Push past the small-set threshold so both representations are used,
	// then drain from the top, checking max after every step.
	var s prioSet
	ps := []uint16{7, 65535, 0, 300, 300, 64, 63, 4096, 4095, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 1000}
	for _, p := range ps {
		s.add(p)
	}
	sorted := slices.Clone(ps)
	slices.Sort(sorted)
	for len(sorted) > 0 {
		want := sorted[len(sorted)-1]
		if s.max != want {
			t.Fatalf("max = %d, want %d", s.max, want)
		}
		s.remove(want)
		sorted = sorted[:len(sorted)-1]
	}
	if len(s.count) != 0 {
		t.Errorf("count not empty after removing all: %v", s.count)
	}
}
