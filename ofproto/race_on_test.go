//go:build race

package ofproto

// raceEnabled: the race detector's own bookkeeping shows up in allocation
// counts (sync.Pool drops items on purpose under -race), so allocation
// assertions only hold in normal builds, which `make test` also runs.
const raceEnabled = true
