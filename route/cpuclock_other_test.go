//go:build !linux

package route

import "testing"

// cpuMetric reports nothing where the thread CPU clock is not wired up.
func cpuMetric(*testing.B) func() { return func() {} }
