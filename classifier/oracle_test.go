package classifier

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"tapestry/flow"
)

// oracle is the obvious classifier: a slice scanned in full on every lookup.
type oracle struct {
	rules []oracleRule
	seq   uint64
}

type oracleRule struct {
	r   *Rule[string]
	m   flow.Match // normalized
	seq uint64
}

func (o *oracle) insert(r *Rule[string], m flow.Match) *Rule[string] {
	m.Normalize()
	for i := range o.rules {
		e := &o.rules[i]
		if e.r.Priority == r.Priority && e.m == m {
			old := e.r
			e.r = r // the replacement keeps the old rule's seniority
			return old
		}
	}
	o.seq++
	o.rules = append(o.rules, oracleRule{r, m, o.seq})
	return nil
}

// match returns the match r was inserted with.
func (o *oracle) match(r *Rule[string]) (flow.Match, bool) {
	for _, e := range o.rules {
		if e.r == r {
			return e.m, true
		}
	}
	return flow.Match{}, false
}

func (o *oracle) remove(m *flow.Match, p uint16) *Rule[string] {
	for i, e := range o.rules {
		if e.r.Priority == p && e.m == *m {
			o.rules = slices.Delete(o.rules, i, i+1)
			return e.r
		}
	}
	return nil
}

func (o *oracle) lookup(k *flow.Key) *Rule[string] {
	var best *oracleRule
	for i := range o.rules {
		e := &o.rules[i]
		if !e.m.Matches(k) {
			continue
		}
		if best == nil || e.r.Priority > best.r.Priority || e.r.Priority == best.r.Priority && e.seq < best.seq {
			best = e
		}
	}
	if best == nil {
		return nil
	}
	return best.r
}

// loose is OpenFlow's non-strict selection, written from the definition.
func (o *oracle) loose(m *flow.Match) []*Rule[string] {
	var out []*Rule[string]
	for _, e := range o.rules {
		if e.m.Mask.Covers(&m.Mask) && e.m.Key.Masked(&m.Mask) == m.Key {
			out = append(out, e.r)
		}
	}
	return out
}

// overlaps is written from the definition too: is there a key both match?
// Build the candidate from the two matches and test it.
func (o *oracle) overlaps(m *flow.Match, p uint16) bool {
	for _, e := range o.rules {
		if e.r.Priority != p {
			continue
		}
		var k flow.Key
		kw, aw, bw := k.Words(), e.m.Key.Words(), m.Key.Words()
		for i := range kw {
			kw[i] = aw[i] | bw[i]
		}
		if e.m.Matches(&k) && m.Matches(&k) {
			return true
		}
	}
	return false
}

// gen makes random rules and keys over few fields with few values each, so
// that overlaps, ties, shared masked keys and replacements are common.
type gen struct {
	rng   *rand.Rand
	masks []flow.Match // masks only
	prios int          // priorities are drawn from [0, prios)
}

var genFields = []flow.Field{flow.FieldInPort, flow.FieldNwDst, flow.FieldDlDst, flow.FieldTpDst, flow.FieldMetadata, flow.FieldReg0}

func newGen(seed uint64, nmasks, prios int) *gen {
	g := &gen{rng: rand.New(rand.NewPCG(seed, seed^0x5eed)), prios: prios}
	for range nmasks {
		var m flow.Match
		for _, f := range genFields {
			switch g.rng.IntN(3) {
			case 0: // wildcarded
			case 1:
				m.SetMasked(f, flow.Value{}, f.FullMask())
			case 2:
				m.SetMasked(f, flow.Value{}, g.value(f))
			}
		}
		g.masks = append(g.masks, m)
	}
	return g
}

// value returns a random value for f from a small set: few bits, placed in
// the field's low and high bytes so masks of every shape see them.
func (g *gen) value(f flow.Field) flow.Value {
	var v flow.Value
	n := f.Bytes()
	v[15] = byte(g.rng.IntN(4))
	v[16-n] = byte(g.rng.IntN(4)) << 6
	return v.And(f.FullMask())
}

func (g *gen) key() flow.Key {
	var m flow.Match
	for _, f := range genFields {
		m.Set(f, g.value(f))
	}
	return m.Key
}

// rule returns a new rule and its match. Every third match has key bits
// outside its mask, which Insert must ignore.
func (g *gen) rule(id int) (*Rule[string], flow.Match) {
	m := g.masks[g.rng.IntN(len(g.masks))]
	k := g.key()
	m.Key = k.Masked(&m.Mask)
	if id%3 == 0 {
		m.Key = k
	}
	return &Rule[string]{Priority: uint16(g.rng.IntN(g.prios)), Value: fmt.Sprint("r", id)}, m
}

func TestAgainstOracle(t *testing.T) {
	for seed := range uint64(12) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) { checkOracle(t, seed) })
	}
}

func checkOracle(t *testing.T, seed uint64) {
	// Few priorities make ties common; many exercise the priority bitmap.
	prios := 4
	if seed%2 == 1 {
		prios = 100
	}
	g := newGen(seed, 1+int(seed%8), prios)
	h := &harness{t: t, g: g, c: New[string](), o: &oracle{}}
	for step := 0; step < 1000; step++ {
		if g.rng.IntN(40) == 0 {
			// A batch of changes: the writer's side sees each at once,
			// lookups are compared once the batch has been published.
			h.c.Batch(func() {
				for range 20 {
					step++
					h.step(step)
					checkSelections(t, g, h.c, h.o, step)
				}
			})
		} else {
			h.step(step)
		}
		checkLookups(t, g, h.c, h.o, step)
		if step%10 == 0 {
			checkBatch(t, g, h.c, step)
		}
		if step%50 == 0 {
			checkSelections(t, g, h.c, h.o, step)
		}
	}
}

// harness drives a classifier and the oracle through the same random
// changes.
type harness struct {
	t    *testing.T
	g    *gen
	c    *Classifier[string]
	o    *oracle
	live []*Rule[string]
}

func (h *harness) step(step int) {
	t, g, c, o := h.t, h.g, h.c, h.o
	switch op := g.rng.IntN(10); {
	case op < 6 || len(h.live) == 0:
		r, m := g.rule(step)
		wantOld := o.insert(r, m)
		gotOld, replaced := c.Insert(r, &m)
		if gotOld != wantOld || replaced != (wantOld != nil) {
			t.Fatalf("step %d: Insert(%s) = %s, %v; want %s", step, r.Value, name(gotOld), replaced, name(wantOld))
		}
		if wantOld != nil {
			h.live[slices.Index(h.live, wantOld)] = r
		} else {
			h.live = append(h.live, r)
		}
	case op < 9:
		i := g.rng.IntN(len(h.live))
		r := h.live[i]
		m, _ := o.match(r)
		if got := r.Match(); got != m {
			t.Fatalf("step %d: %s.Match() = %+v, want %+v", step, r.Value, got, m)
		}
		if step%2 == 0 {
			if !c.RemoveRule(r) {
				t.Fatalf("step %d: RemoveRule(%s) = false", step, r.Value)
			}
		} else if got, ok := c.Remove(&m, r.Priority); got != r || !ok {
			t.Fatalf("step %d: Remove(%s) = %s, %v", step, r.Value, name(got), ok)
		}
		o.remove(&m, r.Priority)
		h.live = slices.Delete(h.live, i, i+1)
	default:
		// Remove a random match, usually one that is not there.
		r, m := g.rule(step)
		m.Normalize()
		want := o.remove(&m, r.Priority)
		got, _ := c.Remove(&m, r.Priority)
		if got != want {
			t.Fatalf("step %d: Remove(random) = %s, want %s", step, name(got), name(want))
		}
		if want != nil {
			h.live = slices.DeleteFunc(h.live, func(x *Rule[string]) bool { return x == want })
		}
	}
	if c.Len() != len(o.rules) {
		t.Fatalf("step %d: Len() = %d, want %d", step, c.Len(), len(o.rules))
	}
}

// checkLookups compares lookups and checks the wildcards are sound: a key
// that agrees with k on every reported bit gets the same answer.
func checkLookups(t *testing.T, g *gen, c *Classifier[string], o *oracle, step int) {
	t.Helper()
	for range 4 {
		k := g.key()
		var wc flow.Mask
		got, want := c.Lookup(&k, &wc), o.lookup(&k)
		if got != want {
			t.Fatalf("step %d: Lookup(%+v) = %s, want %s", step, k, name(got), name(want))
		}
		for range 3 {
			k2 := g.key()
			kw, k2w, ww := k.Words(), k2.Words(), wc.Words()
			for i := range k2w {
				k2w[i] = k2w[i]&^ww[i] | kw[i]&ww[i]
			}
			if got2 := o.lookup(&k2); got2 != want {
				t.Fatalf("step %d: unsound wildcards %+v: key %+v gets %s, key %+v gets %s",
					step, wc, k, name(want), k2, name(got2))
			}
		}
	}
}

func checkSelections(t *testing.T, g *gen, c *Classifier[string], o *oracle, step int) {
	t.Helper()
	for range 5 {
		r, m := g.rule(-1)
		m.Normalize()
		if got, want := c.Overlaps(&m, r.Priority), o.overlaps(&m, r.Priority); got != want {
			t.Fatalf("step %d: Overlaps(%+v, %d) = %v, want %v", step, m, r.Priority, got, want)
		}
		var got []*Rule[string]
		c.ForEachLoose(&m, func(r *Rule[string]) bool { got = append(got, r); return true })
		want := o.loose(&m)
		byName := func(a, b *Rule[string]) int { return strings.Compare(a.Value, b.Value) }
		slices.SortFunc(got, byName)
		slices.SortFunc(want, byName)
		if !slices.Equal(got, want) {
			t.Fatalf("step %d: ForEachLoose(%+v) = %d rules, want %d", step, m, len(got), len(want))
		}
		f, ok := c.Find(&m, r.Priority)
		var wantF *Rule[string]
		for _, e := range o.rules {
			if e.m == m && e.r.Priority == r.Priority {
				wantF = e.r
			}
		}
		if f != wantF || ok != (wantF != nil) {
			t.Fatalf("step %d: Find = %s, want %s", step, name(f), name(wantF))
		}
	}
	var all []*Rule[string]
	c.ForEach(func(r *Rule[string]) bool { all = append(all, r); return true })
	if len(all) != len(o.rules) {
		t.Fatalf("step %d: ForEach visited %d rules, want %d", step, len(all), len(o.rules))
	}
}

// checkBatch compares LookupBatch with Lookup key by key: the same rules
// and the same wildcards. Batches of up to 70 keys cross maxBatch, and
// some keys ask for no wildcards.
func checkBatch(t *testing.T, g *gen, c *Classifier[string], step int) {
	t.Helper()
	n := 1 + g.rng.IntN(70)
	keys := make([]flow.Key, n)
	kp := make([]*flow.Key, n)
	wcs := make([]flow.Mask, n)
	wp := make([]*flow.Mask, n)
	for i := range keys {
		keys[i] = g.key()
		kp[i] = &keys[i]
		if i%7 != 3 {
			wp[i] = &wcs[i]
		}
	}
	out := make([]*Rule[string], n)
	c.LookupBatch(kp, wp, out)
	for i := range keys {
		var wc flow.Mask
		want := c.Lookup(&keys[i], &wc)
		if out[i] != want {
			t.Fatalf("step %d: LookupBatch key %d of %d = %s, Lookup = %s", step, i, n, name(out[i]), name(want))
		}
		if wp[i] != nil && wcs[i] != wc {
			t.Fatalf("step %d: LookupBatch key %d of %d: wildcards %+v, Lookup's %+v", step, i, n, wcs[i], wc)
		}
	}
	if n > 1 {
		c.LookupBatch(kp, nil, out) // without wildcards at all
		if want := c.Lookup(&keys[0], nil); out[0] != want {
			t.Fatalf("step %d: LookupBatch without wildcards = %s, Lookup = %s", step, name(out[0]), name(want))
		}
	}
}
