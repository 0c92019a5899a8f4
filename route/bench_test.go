package route

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"testing"
)

// bigDB builds main with n random routes (/8../32, dev routes) in one
// transaction.
func bigDB(b testing.TB, n int) (*RPDB, []netip.Addr) {
	b.Helper()
	db := testDB(b)
	rng := rand.New(rand.NewPCG(1, 2))
	err := db.Update(func(tx *Tx) error {
		for i := 0; i < n; i++ {
			a := netip.AddrFrom4([4]byte{byte(11 + rng.IntN(200)), byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32())})
			p := netip.PrefixFrom(a, 8+rng.IntN(25)).Masked()
			err := tx.AddRoute(Route{Table: TableMain, Dst: p, Type: TypeUnicast, DevIndex: 2, Protocol: ProtoStatic, Scope: ScopeLink})
			if err != nil && err != ErrExist {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	dsts := make([]netip.Addr, 4096)
	for i := range dsts {
		dsts[i] = netip.AddrFrom4([4]byte{byte(11 + rng.IntN(200)), byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32())})
	}
	runtime.GC()
	return db, dsts
}

func BenchmarkLookup1M(b *testing.B) {
	db, dsts := bigDB(b, 1_000_000)
	b.ReportAllocs()
	b.ResetTimer()
	defer cpuMetric(b)()
	for i := 0; b.Loop(); i++ {
		_, _ = db.Lookup(Query{Dst: dsts[i&4095]})
	}
}

// BenchmarkLookupTo1M is BenchmarkLookup1M through LookupTo, the form the
// kernel's fib_lookup has (the result filled through a pointer): it is
// the lookup without the copies of a returned 128-byte Result.
func BenchmarkLookupTo1M(b *testing.B) {
	db, dsts := bigDB(b, 1_000_000)
	b.ReportAllocs()
	var q Query
	var res Result
	b.ResetTimer()
	defer cpuMetric(b)()
	for i := 0; b.Loop(); i++ {
		q.Dst = dsts[i&4095]
		_ = db.LookupTo(&q, &res)
	}
}

// BenchmarkLookupRules100 walks 100 non-matching fwmark rules before main.
func BenchmarkLookupRules100(b *testing.B) {
	db, dsts := bigDB(b, 10_000)
	err := db.Update(func(tx *Tx) error {
		for i := 0; i < 100; i++ {
			if err := Exec(tx, fmt.Sprintf("rule add pref %d fwmark %d lookup %d", 1000+i, 1000+i, 1000+i)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	defer cpuMetric(b)()
	for i := 0; b.Loop(); i++ {
		_, _ = db.Lookup(Query{Dst: dsts[i&4095], Mark: 1})
	}
}

func BenchmarkOutput(b *testing.B) {
	db, dsts := bigDB(b, 10_000)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		_, _ = db.Output(Query{Dst: dsts[i&4095]})
	}
}

func BenchmarkAddRoute(b *testing.B) {
	db, _ := bigDB(b, 100_000)
	b.ReportAllocs()
	b.ResetTimer()
	defer cpuMetric(b)()
	for i := 0; b.Loop(); i++ {
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{250, byte(i >> 16), byte(i >> 8), byte(i)}), 32)
		_ = db.AddRoute(Route{Dst: p, Type: TypeUnicast, Dev: "eth0", Protocol: ProtoBoot, Scope: ScopeLink})
	}
}

// BenchmarkLookupHot is Lookup1M's path with a cache-resident working set
// (10,000 routes, 64 destinations): the instruction cost of the code
// without the trie's cache and TLB misses.
func BenchmarkLookupHot(b *testing.B) {
	db, dsts := bigDB(b, 10_000)
	b.ReportAllocs()
	b.ResetTimer()
	defer cpuMetric(b)()
	for i := 0; b.Loop(); i++ {
		_, _ = db.Lookup(Query{Dst: dsts[i&63]})
	}
}
