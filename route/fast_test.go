package route

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// walkLookup is the default rules' walk without the fast path: the oracle
// the fast path must agree with, field for field.
func walkLookup(s *snapshot, q Query, scope Scope) (Result, error) {
	var res Result
	err := s.defaultLookup(&q, scope, &res)
	return res, err
}

// TestFastPathOracle changes local, main and default at random (aliases,
// TOS, reject types, gateways, prefsrc, local routes over main's
// prefixes) and compares every answer of the fast path with the rule
// walk: the whole Result and the error. It also checks that the fast
// path answers enough lookups for it to be the path under test.
func TestFastPathOracle(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	db := testDB(t, fillerRoutes(fibMinPrefixes, "main")...)
	pfxs := []string{"0.0.0.0/0", "10.0.0.0/8", "10.50.0.0/16", "10.50.1.0/24", "10.50.1.128/25",
		"10.50.1.130/32", "10.51.0.0/16", "11.0.0.0/8", "4.0.0.0/6", "10.50.1.0/21", "12.34.0.0/13"}
	tables := []TableID{TableMain, TableMain, TableMain, TableLocal, TableDefault}
	types := []Type{TypeUnicast, TypeUnicast, TypeUnicast, TypeLocal, TypeBlackhole, TypeUnreachable, TypeThrow, TypeProhibit}
	randRoute := func() Route {
		r := Route{Table: tables[rng.IntN(len(tables))], Dst: pfx(pfxs[rng.IntN(len(pfxs))]).Masked(),
			Type: types[rng.IntN(len(types))], TOS: []uint8{0, 0, 0x04, 0x10}[rng.IntN(4)],
			Metric: uint32(rng.IntN(3)), Protocol: ProtoStatic}
		if r.Table == TableLocal { // a local route over a few of main's prefixes, never all of them
			r.Dst = pfx([]string{"10.50.1.128/25", "10.50.1.130/32", "10.51.0.0/16"}[rng.IntN(3)])
		}
		switch r.Type {
		case TypeUnicast:
			r.DevIndex, r.Scope = 2+rng.IntN(2), []Scope{ScopeLink, ScopeUniverse, ScopeHost}[rng.IntN(3)]
			r.Dev = []string{"", "", "eth0", "eth1"}[r.DevIndex]
			if rng.IntN(2) == 0 {
				r.Scope, r.DevIndex, r.Dev, r.Gateway = ScopeUniverse, 0, "", ip("10.1.0.9")
			}
			if rng.IntN(3) == 0 {
				r.PrefSrc = ip("10.2.0.1")
			}
		case TypeLocal:
			r.DevIndex, r.Dev, r.Scope = 2, "eth0", ScopeHost
		}
		return r
	}
	dsts := []string{"10.50.1.130", "10.50.1.131", "10.50.1.200", "10.50.1.1", "10.50.2.1", "10.51.3.3",
		"10.9.9.9", "11.1.1.1", "5.5.5.5", "12.0.0.1", "10.1.0.1", "127.0.0.1", "10.1.0.77", "10.1.0.255",
		"172.16.3.9", "172.17.0.5", "172.17.0.200", "12.35.1.1", "200.1.1.1", "::1", "2001:db8::1"}
	fast, total := 0, 0
	for round := 0; round < 300; round++ {
		n := 1 + rng.IntN(3)
		if rng.IntN(20) == 0 {
			n = 2 * bulkWrites
		}
		err := db.Update(func(tx *Tx) error {
			for range n {
				r := randRoute()
				if rng.IntN(3) == 0 {
					_, _ = tx.DelRoute(Selector{Table: r.Table, Dst: r.Dst, TOS: r.TOS, Scope: ScopeNowhere})
					continue
				}
				_ = []func(Route) error{tx.AddRoute, tx.AppendRoute, tx.PrependRoute, tx.ReplaceRoute}[rng.IntN(4)](r)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("round %d: Update: %v", round, err)
		}
		s := db.cur.Load()
		if !s.fast.on {
			t.Fatalf("round %d: fast path off with the default rules and a fib in main", round)
		}
		for _, d := range dsts {
			q := Query{Dst: ip(d), TOS: []uint8{0, 0x04, 0x10, 0x1c}[rng.IntN(4)], OIF: []int{0, 0, 2, 3}[rng.IntN(4)]}
			scope := []Scope{ScopeUniverse, ScopeUniverse, ScopeLink}[rng.IntN(3)]
			want, werr := walkLookup(s, q, scope)
			var got Result
			ok, err := s.fast.lookup(&q, scope, &got)
			total++
			if !ok {
				if got != (Result{}) {
					t.Fatalf("round %d: fast lookup(%v) declined but wrote %+v", round, q.Dst, got)
				}
				continue
			}
			fast++
			if !errors.Is(err, werr) && err != werr {
				t.Fatalf("round %d: fast lookup(%v tos %#x oif %d scope %v) err = %v, want %v", round, q.Dst, q.TOS, q.OIF, scope, err, werr)
			}
			if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
				cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }),
				cmp.Comparer(func(a, b *Route) bool { return a == b })); diff != "" { // the same route, not an equal one
				t.Fatalf("round %d: fast lookup(%v tos %#x oif %d scope %v) (-walk +fast):\n%s", round, q.Dst, q.TOS, q.OIF, scope, diff)
			}
		}
	}
	// Most queries carry a TOS, an oif or a scope some routes fail, and a
	// third of the routes are rejects: the walk answers those.
	if fast < total/10 {
		t.Errorf("fast path answered %d of %d lookups, want at least a tenth", fast, total)
	}
}

// TestFastPathGuard checks which lookups the fast path leaves to the rule
// walk, and that it is off with custom rules or without a fib in main.
func TestFastPathGuard(t *testing.T) {
	db := testDB(t, append(fillerRoutes(fibMinPrefixes, "main"),
		"route add 10.60.0.0/16 dev eth1",
		"route add blackhole 10.61.0.0/16",
		"route add 10.62.0.0/16 tos 0x10 dev eth1",
		"route add local 10.63.0.0/16 dev eth0 table local")...)
	s := db.cur.Load()
	tests := []struct {
		dst  string
		tos  uint8
		oif  int
		fast bool
		err  error
	}{
		{"10.60.1.1", 0, 0, true, nil},              // main, first alias eligible
		{"10.1.0.7", 0, 0, true, nil},               // octet 10 has local routes, none covers it
		{"10.1.0.1", 0, 0, false, nil},              // a local address
		{"10.1.0.255", 0, 0, false, nil},            // the subnet broadcast
		{"10.63.0.1", 0, 0, false, nil},             // a local /16
		{"127.0.0.2", 0, 0, false, nil},             // lo's /8
		{"10.61.0.1", 0, 0, false, nil},             // blackhole: a reject answers with an error
		{"10.62.0.1", 0x10, 0, true, nil},           // TOS route, matching TOS
		{"10.62.0.1", 0, 0, false, nil},             // TOS mismatch: backtracking
		{"10.60.1.1", 0, 2, false, nil},             // oif mismatch: backtracking
		{"10.60.1.1", 0, 3, true, nil},              // oif match
		{"99.1.1.1", 0, 0, true, ErrNetUnreachable}, // no route, no default table
		{"2001:db8::1", 0, 0, false, nil},           // not IPv4
		{"172.17.0.7", 0, 0, true, nil},             // a /32 in a band-D leaf
	}
	for _, tt := range tests {
		q := Query{Dst: ip(tt.dst), TOS: tt.tos, OIF: tt.oif}
		var res Result
		ok, err := s.fast.lookup(&q, ScopeUniverse, &res)
		if ok != tt.fast || ok && err != tt.err {
			t.Errorf("fast lookup(%s tos %#x oif %d) = %v, %v; want %v, %v", tt.dst, tt.tos, tt.oif, ok, err, tt.fast, tt.err)
		}
	}
	allocs := testing.AllocsPerRun(100, func() {
		for _, tt := range tests {
			_, _ = db.Lookup(Query{Dst: ip(tt.dst), TOS: tt.tos, OIF: tt.oif})
		}
	})
	if allocs != 0 {
		t.Errorf("Lookup allocates %v times per run, want 0", allocs)
	}
	for _, c := range []struct {
		name string
		db   *RPDB
	}{
		{"custom rule", testDB(t, append(fillerRoutes(fibMinPrefixes, "main"), "rule add fwmark 1 lookup 100")...)},
		{"small main", testDB(t)},
	} {
		if c.db.cur.Load().fast.on {
			t.Errorf("%s: fast path on, want off", c.name)
		}
	}
}

// TestFastPathLocalGuard checks the local-table guard against the local
// table's prefixes, listed and (past fastLocalMax) by octet only.
func TestFastPathLocalGuard(t *testing.T) {
	for _, n := range []int{0, 8, fastLocalMax + 8} {
		lines := fillerRoutes(fibMinPrefixes, "main")
		for i := range n {
			lines = append(lines, fmt.Sprintf("route add local 10.70.%d.0/24 dev eth0 table local", i))
		}
		s := testDB(t, lines...).cur.Load()
		for _, tt := range []struct {
			dst  string
			want bool // a local route covers dst
		}{{"10.70.0.5", n > 0}, {"10.70.7.1", n > 7}, {"10.71.0.1", false}, {"10.1.0.1", true}, {"127.9.9.9", true}, {"11.0.0.1", false}} {
			a := ip(tt.dst)
			d := addr32(a)
			got := s.fast.localOctets[d>>30]&(1<<(d>>24&63)) != 0 && s.fast.localCovers(d)
			if tt.want && !got || !tt.want && got && s.fast.local != nil {
				t.Errorf("%d local routes: guard(%s) = %v, want %v", n, tt.dst, got, tt.want)
			}
		}
		if listed := s.fast.local != nil; listed != (s.local.trie.Size4() <= fastLocalMax) {
			t.Errorf("%d local routes: listed = %v with %d prefixes", n, listed, s.local.trie.Size4())
		}
	}
}
