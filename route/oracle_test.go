package route

import (
	"errors"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
)

// oracleLookup is the slow, obvious fib_lookup for the default rules:
// for local, main and default in turn, every route whose prefix holds dst,
// longest prefix first and in alias order within a prefix, the first
// eligible one answers.
func oracleLookup(db *RPDB, q Query) (Route, error) {
	for _, id := range []TableID{TableLocal, TableMain, TableDefault} {
		rs := db.Routes(id)
		slices.SortStableFunc(rs, func(a, b Route) int { return b.Dst.Bits() - a.Dst.Bits() })
		for _, r := range rs {
			if !r.Dst.Contains(q.Dst) || (r.TOS != 0 && r.TOS != q.TOS&tosMask) {
				continue
			}
			if err, rej := r.Type.reject(); rej {
				if err == errThrow {
					break
				}
				return r, err
			}
			if q.OIF != 0 && r.DevIndex != q.OIF {
				continue
			}
			return r, nil
		}
	}
	return Route{}, ErrNetUnreachable
}

// TestLookupOracle changes a table at random (several aliases per prefix,
// TOS, metrics, reject types, small and bulk transactions that take the
// copy-on-write and the private paths) and compares Lookup, which finds
// the prefix in the table's fib and reads the first alias from its entry,
// with oracleLookup.
func TestLookupOracle(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 9))
	// The filler routes give main a fib, so changes take its
	// copy-on-write update path (see TestFibPublished).
	db := testDB(t, fillerRoutes(fibMinPrefixes, "main")...)
	pfxs := []string{"0.0.0.0/0", "10.0.0.0/8", "10.50.0.0/16", "10.50.1.0/24", "10.50.1.128/25",
		"10.50.1.130/32", "10.51.0.0/16", "11.0.0.0/8", "4.0.0.0/6"}
	types := []Type{TypeUnicast, TypeUnicast, TypeUnicast, TypeBlackhole, TypeUnreachable, TypeThrow}
	randRoute := func() Route {
		r := Route{Table: TableMain, Dst: pfx(pfxs[rng.IntN(len(pfxs))]), Type: types[rng.IntN(len(types))],
			TOS: []uint8{0, 0, 0x04, 0x10}[rng.IntN(4)], Metric: uint32(rng.IntN(3)), Protocol: ProtoStatic}
		if r.Type == TypeUnicast {
			r.DevIndex, r.Dev, r.Scope = 2+rng.IntN(2), "", ScopeLink
			r.Dev = []string{"", "", "eth0", "eth1"}[r.DevIndex]
			if rng.IntN(2) == 0 {
				r.Scope, r.DevIndex, r.Dev, r.Gateway = ScopeUniverse, 0, "", ip("10.1.0.9")
			}
		}
		return r
	}
	dsts := []string{"10.50.1.130", "10.50.1.131", "10.50.1.200", "10.50.1.1", "10.50.2.1", "10.51.3.3",
		"10.9.9.9", "11.1.1.1", "5.5.5.5", "12.0.0.1", "10.1.0.1", "127.0.0.1", "10.1.0.77"}
	for round := 0; round < 300; round++ {
		n := 1 + rng.IntN(3)
		if rng.IntN(20) == 0 {
			n = 2 * bulkWrites // past bulkWrites: the transaction goes private
		}
		err := db.Update(func(tx *Tx) error {
			for range n {
				r := randRoute()
				if rng.IntN(3) == 0 {
					_, _ = tx.DelRoute(Selector{Table: TableMain, Dst: r.Dst, TOS: r.TOS, Scope: ScopeNowhere})
					continue
				}
				_ = []func(Route) error{tx.AddRoute, tx.AppendRoute, tx.PrependRoute, tx.ReplaceRoute}[rng.IntN(4)](r)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("round %d: Update: %v", round, err)
		}
		for _, d := range dsts {
			q := Query{Dst: ip(d), TOS: []uint8{0, 0x04, 0x10, 0x1c}[rng.IntN(4)], OIF: []int{0, 0, 2, 3}[rng.IntN(4)]}
			want, werr := oracleLookup(db, q)
			res, err := db.Lookup(q)
			if !errors.Is(err, werr) && err != werr {
				t.Fatalf("round %d: Lookup(%v tos %#x oif %d) err = %v, want %v (route %+v)", round, q.Dst, q.TOS, q.OIF, err, werr, want)
			}
			if err == ErrNetUnreachable {
				continue
			}
			gw := want.Gateway
			if want.nhScope != ScopeLink {
				gw = netip.Addr{}
			}
			if res.Route == nil || *res.Route != want || res.Prefix != want.Dst || res.Type != want.Type ||
				res.DevIndex != want.DevIndex || res.Dev != want.Dev || res.Gateway != gw ||
				res.Src != want.PrefSrc || res.Scope != want.Scope {
				t.Fatalf("round %d: Lookup(%v tos %#x oif %d) = %+v, want route %+v", round, q.Dst, q.TOS, q.OIF, res, want)
			}
		}
	}
}
