package daemon

import (
	"os"
	"runtime"
	"runtime/pprof"
)

// ProfileEnv names a file the daemon writes a CPU profile to, from Serve
// until Close: how bench/add-flows.sh and bench/flowmods.sh runs are
// examined (go tool pprof tapestry FILE). Unset, nothing is profiled.
const ProfileEnv = "TAPESTRY_CPUPROFILE"

// HeapProfileEnv names a file the daemon writes a heap profile to at
// Close, after a collection and before the bridges close: what stays live
// per flow, by allocation site (go tool pprof -sample_index=inuse_space
// tapestry FILE).
const HeapProfileEnv = "TAPESTRY_HEAPPROFILE"

// startProfile starts the CPU profile ProfileEnv asks for, returning the
// function that stops it.
func (d *Daemon) startProfile() func() {
	path := os.Getenv(ProfileEnv)
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		d.log.Error("cpu profile", "err", err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		d.log.Error("cpu profile", "err", err)
		f.Close()
		return func() {}
	}
	return func() { pprof.StopCPUProfile(); f.Close() }
}

func (d *Daemon) writeHeapProfile() {
	path := os.Getenv(HeapProfileEnv)
	if path == "" {
		return
	}
	f, err := os.Create(path)
	if err != nil {
		d.log.Error("heap profile", "err", err)
		return
	}
	defer f.Close()
	runtime.GC()
	if err := pprof.WriteHeapProfile(f); err != nil {
		d.log.Error("heap profile", "err", err)
	}
}
