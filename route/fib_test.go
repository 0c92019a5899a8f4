package route

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"
)

// scanLPM is the slow, obvious longest-prefix match: every prefix of live
// that holds d, the longest wins.
func scanLPM(live map[netip.Prefix]*entry, d netip.Addr) *entry {
	var best *entry
	for p, e := range live {
		if p.Contains(d) && (best == nil || p.Bits() > int(best.bits)) {
			best = e
		}
	}
	return best
}

// fibProbes are addresses that exercise every band boundary of p: its
// first and last address and their neighbours.
func fibProbes(p netip.Prefix) []netip.Addr {
	first := p.Masked().Addr()
	last := lastAddr(p)
	return []netip.Addr{first, last, first.Prev(), last.Next()}
}

// randFibPrefix draws dense, overlapping prefixes: mostly inside
// 10.0.0.0/14 so that all three bands meet in the same blocks, sometimes
// anywhere, with /0 and /32 both common.
func randFibPrefix(rng *rand.Rand) netip.Prefix {
	a := 10<<24 | rng.Uint32()&0x0003ffff
	if rng.IntN(8) == 0 {
		a = rng.Uint32()
	}
	n := []int{0, 1, 8, 12, 14, 16, 19, 20, 21, 22, 24, 25, 28, 30, 31, 32}[rng.IntN(16)]
	if rng.IntN(3) == 0 {
		n = rng.IntN(33)
	}
	b := netip.AddrFrom4([4]byte{byte(a >> 24), byte(a >> 16), byte(a >> 8), byte(a)})
	return netip.PrefixFrom(b, n).Masked()
}

// TestFibOracle changes a trie at random (adds, changed leaves, deletes;
// commits of one to a few dozen changes) and compares the copy-on-write
// updated fib, a freshly built one and the previous fib, which must not
// change, with a linear scan.
func TestFibOracle(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	tr := new(trie)
	live := map[netip.Prefix]*entry{}
	f := buildFib(tr)
	var probes []netip.Addr
	var keys []netip.Prefix // live's prefixes, some deleted since
	serial := 0
	for round := 0; round < 200; round++ {
		prev, prevLive := f, make(map[netip.Prefix]*entry, len(live))
		for p, e := range live {
			prevLive[p] = e
		}
		var changed []netip.Prefix
		for range 1 + rng.IntN([]int{3, 40}[rng.IntN(2)]) {
			p := randFibPrefix(rng)
			if len(keys) > 0 && rng.IntN(3) == 0 {
				p = keys[rng.IntN(len(keys))] // change or delete a known prefix
			}
			keys = append(keys, p)
			changed = append(changed, p)
			probes = append(probes, fibProbes(p)...)
			if _, ok := live[p]; ok && (rng.IntN(2) == 0 || len(live) > 150) {
				tr.Delete(p)
				delete(live, p)
				continue
			}
			serial++ // tells a changed entry from the one it replaced
			e := &entry{pfx: p.Addr().As4(), bits: uint8(p.Bits()), devIndex: serial}
			tr.Insert(p, e)
			live[p] = e
		}
		f = prev.update(tr, changed)
		built := buildFib(tr)
		if len(probes) > 400 {
			probes = probes[len(probes)-400:]
		}
		if len(keys) > 400 {
			keys = keys[len(keys)-400:]
		}
		qs := append([]netip.Addr(nil), probes...)
		for range 100 {
			qs = append(qs, netip.AddrFrom4([4]byte{10, byte(rng.IntN(4)), byte(rng.Uint32()), byte(rng.Uint32())}))
		}
		for _, d := range qs {
			if !d.Is4() {
				continue
			}
			want := scanLPM(live, d)
			if got := f.lookup(addr32(d)); !sameEntry(got, want) {
				t.Fatalf("round %d: updated fib lookup(%v) = %v, want %v", round, d, fibName(got), fibName(want))
			}
			if got := built.lookup(addr32(d)); !sameEntry(got, want) {
				t.Fatalf("round %d: built fib lookup(%v) = %v, want %v", round, d, fibName(got), fibName(want))
			}
			if got, want := prev.lookup(addr32(d)), scanLPM(prevLive, d); !sameEntry(got, want) {
				t.Fatalf("round %d: previous fib changed: lookup(%v) = %v, want %v", round, d, fibName(got), fibName(want))
			}
		}
	}
}

// sameEntry reports whether a fib answer is the trie's entry: the same
// one, or buildFib's copy of it (see fib.slabs).
func sameEntry(got, want *entry) bool {
	return got == want || got != nil && want != nil && *got == *want
}

func fibName(e *entry) string {
	if e == nil {
		return "none"
	}
	return e.prefix().String()
}

// TestFibLookup pins the band boundaries with a hand-made table.
func TestFibLookup(t *testing.T) {
	tr := new(trie)
	for _, s := range []string{"0.0.0.0/0", "10.0.0.0/8", "10.1.0.0/20", "10.1.0.0/21", "10.1.4.0/24",
		"10.1.4.128/25", "10.1.4.130/32", "10.1.16.0/24", "192.168.1.1/32"} {
		p := pfx(s)
		tr.Insert(p, &entry{pfx: p.Addr().As4(), bits: uint8(p.Bits())})
	}
	f := buildFib(tr)
	tests := []struct{ dst, want string }{
		{"1.2.3.4", "0.0.0.0/0"},
		{"10.200.0.1", "10.0.0.0/8"},
		{"10.1.15.255", "10.1.0.0/20"},
		{"10.1.7.255", "10.1.0.0/21"},
		{"10.1.8.0", "10.1.0.0/20"},
		{"10.1.4.127", "10.1.4.0/24"},
		{"10.1.4.129", "10.1.4.128/25"},
		{"10.1.4.130", "10.1.4.130/32"},
		{"10.1.4.255", "10.1.4.128/25"},
		{"10.1.16.7", "10.1.16.0/24"},
		{"10.1.17.7", "10.0.0.0/8"},
		{"192.168.1.1", "192.168.1.1/32"},
		{"192.168.1.2", "0.0.0.0/0"},
	}
	for _, tt := range tests {
		if got := fibName(f.lookup(addr32(ip(tt.dst)))); got != tt.want {
			t.Errorf("lookup(%s) = %s, want %s", tt.dst, got, tt.want)
		}
	}
	d := addr32(ip("10.1.4.130"))
	if allocs := testing.AllocsPerRun(100, func() { f.lookup(d) }); allocs != 0 {
		t.Errorf("lookup allocates %v times, want 0", allocs)
	}
}

// fillerRoutes returns n (at most 512) "route add" lines for table, half
// 172.16.I.0/24, half 172.17.0.I/32: enough of them give a table its fib.
func fillerRoutes(n int, table string) []string {
	var ls []string
	for i := range n {
		p := fmt.Sprintf("172.16.%d.0/24", i/2)
		if i%2 == 1 {
			p = fmt.Sprintf("172.17.0.%d/32", i/2)
		}
		ls = append(ls, fmt.Sprintf("route add %s dev eth0 table %s", p, table))
	}
	return ls
}

// TestFibPublished checks which published tables have a fib (those with
// fibMinPrefixes prefixes or more, whichever way they got there) and that
// it answers like the trie.
func TestFibPublished(t *testing.T) {
	db := testDB(t, fillerRoutes(fibMinPrefixes, "100")...)
	_ = db.Update(func(tx *Tx) error {
		return Exec(tx, "route add 10.9.0.0/16 via 1.1.1.1 table 101") // fails: table 101 stays, empty
	})
	err := db.Update(func(tx *Tx) error {
		for _, l := range append(fillerRoutes(2*fibMinPrefixes, "102"), "route del 172.16.0.0/24 table 100") {
			if err := Exec(tx, l); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 { // small commits: copy-on-write updates
		if err := db.Update(func(tx *Tx) error { return Exec(tx, fmt.Sprintf("route del 172.17.0.%d/32 table 102", i)) }); err != nil {
			t.Fatal(err)
		}
	}
	s := db.cur.Load()
	for _, tt := range []struct {
		id  TableID
		fib bool
	}{{TableLocal, false}, {TableMain, false}, {100, false}, {101, false}, {102, true}} {
		tb := s.tables[tt.id]
		if tb == nil || (tb.fib != nil) != tt.fib {
			t.Fatalf("table %v: has fib = %v, want %v", tt.id, tb != nil && tb.fib != nil, tt.fib)
		}
		if tb.fib == nil {
			continue
		}
		for p := range tb.trie.All4() {
			for _, d := range fibProbes(p) {
				want, _ := tb.trie.Lookup(d)
				if got := tb.fib.lookup(addr32(d)); !sameEntry(got, want) {
					t.Errorf("table %v: fib lookup(%v) = %v, trie %v", tt.id, d, fibName(got), fibName(want))
				}
			}
		}
	}
}
