package route

import (
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

// cpuMetric pins the benchmark to its OS thread and returns a function
// that reports the thread's CPU time per op as "cpu-ns/op". On a machine
// shared with other jobs the wall clock (ns/op) also counts the time the
// scheduler gave to them; the thread's CPU time does not. Call it right
// before the b.Loop loop and defer the result.
func cpuMetric(b *testing.B) func() {
	runtime.LockOSThread()
	start := threadCPU()
	return func() {
		if b.N > 0 {
			b.ReportMetric(float64(threadCPU()-start)/float64(b.N), "cpu-ns/op")
		}
		runtime.UnlockOSThread()
	}
}

func threadCPU() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		return 0
	}
	return ts.Nano()
}
