package route

import (
	"runtime"
	"testing"
)

// BenchmarkFibLookup1M is the bare fib walk of BenchmarkLookup1M's main
// table and the read of the entry it answers, without the rule walk.
func BenchmarkFibLookup1M(b *testing.B) {
	db, dsts := bigDB(b, 1_000_000)
	f := db.cur.Load().tables[TableMain].fib
	ds := make([]uint32, len(dsts))
	for i, d := range dsts {
		ds[i] = addr32(d)
	}
	b.ReportAllocs()
	b.ResetTimer()
	defer cpuMetric(b)()
	n := 0
	for i := 0; b.Loop(); i++ {
		if e := f.lookup(ds[i&4095]); e != nil {
			n += int(e.typ)
		}
	}
	if n == 0 {
		b.Fatal("no lookup answered")
	}
}

// BenchmarkBuildFib1M is the full rebuild a bulk transaction on a table
// of a million routes pays at commit; it reports the heap the fib adds.
func BenchmarkBuildFib1M(b *testing.B) {
	db, _ := bigDB(b, 1_000_000)
	t := db.cur.Load().tables[TableMain]
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f := buildFib(t.trie)
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(f)
	mib := float64(after.HeapAlloc-before.HeapAlloc) / (1 << 20)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		buildFib(t.trie)
	}
	b.ReportMetric(mib, "fib-MiB") // after the loop: ResetTimer clears metrics
}
