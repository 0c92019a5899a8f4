package route

import (
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/gaissmai/bart"
)

// BenchmarkBartBaseline is the raw trie lookup cost at 1M prefixes, to
// separate bart's share from the RPDB's in BenchmarkLookup1M.
func BenchmarkBartBaseline(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	t := new(bart.Table[*leaf])
	l := &leaf{}
	for i := 0; i < 1_000_000; i++ {
		a := netip.AddrFrom4([4]byte{byte(11 + rng.IntN(200)), byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32())})
		t.Insert(netip.PrefixFrom(a, 8+rng.IntN(25)).Masked(), l)
	}
	dsts := make([]netip.Addr, 4096)
	for i := range dsts {
		dsts[i] = netip.AddrFrom4([4]byte{byte(11 + rng.IntN(200)), byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32())})
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		_, _ = t.Lookup(dsts[i&4095])
	}
}
