package route

import (
	"math/rand/v2"
	"net/netip"
	"testing"
)

// TestLookupToMatchesLookup: the in-place form answers what Lookup does,
// on the fast path and off it (a custom rule turns the fast path off),
// overwrites whatever the Result held, and allocates nothing.
func TestLookupToMatchesLookup(t *testing.T) {
	db, dsts := bigDB(t, 5_000)
	rng := rand.New(rand.NewPCG(9, 9))
	check := func(when string) {
		t.Helper()
		res := Result{Table: 99, Dev: "stale"}
		for i := 0; i < 2000; i++ {
			q := Query{Dst: dsts[rng.IntN(len(dsts))]}
			if i%7 == 0 {
				q.Dst = netip.AddrFrom4([4]byte{byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32())})
			}
			want, werr := db.Lookup(q)
			err := db.LookupTo(&q, &res)
			if err != werr || res != want {
				t.Fatalf("%s: LookupTo(%v) = %+v, %v; Lookup = %+v, %v", when, q.Dst, res, err, want, werr)
			}
		}
		q := Query{Dst: dsts[0]}
		if a := testing.AllocsPerRun(100, func() { _ = db.LookupTo(&q, &res) }); a != 0 {
			t.Errorf("%s: LookupTo allocates %v times", when, a)
		}
	}
	check("default rules")
	if err := db.Update(func(tx *Tx) error { return Exec(tx, "rule add pref 100 fwmark 7 lookup 7") }); err != nil {
		t.Fatal(err)
	}
	check("with a custom rule")
}
