//go:build amd64 || arm64

package classifier

// prefetch hints the CPU to bring the cache line holding addr into the
// caches (PREFETCHT0 on amd64, PRFM PLDL1KEEP on arm64). It never faults
// and never changes memory; a wrong address only wastes a fetch.
func prefetch(addr uintptr)
