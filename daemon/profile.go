package daemon

import (
	"os"
	"runtime/pprof"
)

// ProfileEnv names a file the daemon writes a CPU profile to, from Serve
// until Close: how bench/add-flows.sh and bench/flowmods.sh runs are
// examined (go tool pprof tapestry FILE). Unset, nothing is profiled.
const ProfileEnv = "TAPESTRY_CPUPROFILE"

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
