package classifier

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"tapestry/flow"
)

// TestConcurrentLookup runs one writer inserting, replacing and removing
// rules (growing and rebuilding tables, creating and dropping subtables)
// while readers look up. Run it under -race. Readers must only ever get
// rules that were handed to Insert, that match the key, and never nil: a
// catch-all rule stays in the table throughout.
func TestConcurrentLookup(t *testing.T) { concurrentLookup(t) }

// TestConcurrentLookupBigTables is TestConcurrentLookup with every table
// of 16 slots or more big: unfiltered, and with short records in lines.
func TestConcurrentLookupBigTables(t *testing.T) {
	defer func(n int) { bigSlots = n }(bigSlots)
	bigSlots = 16
	concurrentLookup(t)
}

func concurrentLookup(t *testing.T) {
	g := newGen(42, 8, 50)
	const nrules = 3000
	pool := make([]*Rule[string], nrules)
	poolM := make([]flow.Match, nrules)
	for i := range pool {
		pool[i], poolM[i] = g.rule(i)
	}
	keys := make([]flow.Key, 256)
	for i := range keys {
		keys[i] = g.key()
	}
	// Every rule the writer will insert, made up front: a Rule is
	// inserted at most once, and known must be complete before the readers
	// start reading it.
	const rounds = 3
	var fresh [rounds][]*Rule[string]
	c := New[string]()
	catchAll := &Rule[string]{Value: "catch-all"}
	c.Insert(catchAll, &flow.Match{})
	known := map[*Rule[string]]bool{catchAll: true}
	for round := range fresh {
		for _, r := range pool {
			nr := &Rule[string]{Priority: r.Priority, Value: fmt.Sprint(r.Value, "/", round)}
			fresh[round] = append(fresh[round], nr)
			known[nr] = true
		}
	}

	var stop atomic.Bool
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for w := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var wc flow.Mask
			for n := 0; !stop.Load(); n++ {
				k := &keys[(n*7+w)%len(keys)]
				r := c.Lookup(k, &wc)
				if w == 0 {
					// And as part of a batch.
					var out [2]*Rule[string]
					c.LookupBatch([]*flow.Key{&keys[(n*7+w+7)%len(keys)], k}, nil, out[:])
					r = out[1]
				}
				if err := checkAnswer(known, k, r); err != nil {
					errs <- err
					return
				}
			}
		}()
	}

	// The writer: each pool rule is inserted, sometimes replaced by a
	// fresh copy, and removed, over several rounds; the middle round's
	// inserts run as one Batch.
	for round := range rounds {
		live := make([]*Rule[string], 0, nrules)
		fill := func() {
			for i, nr := range fresh[round] {
				if _, replaced := c.Insert(nr, &poolM[i]); !replaced {
					live = append(live, nr)
				}
				if i%3 == 0 && len(live) > 0 {
					x := live[len(live)/2]
					c.RemoveRule(x)
				}
			}
		}
		if round == 1 {
			c.Batch(fill)
		} else {
			fill()
		}
		c.ForEach(func(r *Rule[string]) bool {
			if r != catchAll {
				m := r.Match()
				c.Remove(&m, r.Priority)
			}
			return true
		})
	}
	stop.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if c.Len() != 1 {
		t.Errorf("Len() = %d after removing all but the catch-all", c.Len())
	}
}

func checkAnswer(known map[*Rule[string]]bool, k *flow.Key, r *Rule[string]) error {
	switch {
	case r == nil:
		return fmt.Errorf("Lookup(%+v) = nil with a catch-all rule present", k)
	case !known[r]:
		return fmt.Errorf("Lookup(%+v) returned a rule never inserted: %+v", k, r)
	case !matches(r, k):
		return fmt.Errorf("Lookup(%+v) returned %s, which does not match", k, r.Value)
	}
	return nil
}

func matches[T any](r *Rule[T], k *flow.Key) bool {
	m := r.Match()
	return m.Matches(k)
}
