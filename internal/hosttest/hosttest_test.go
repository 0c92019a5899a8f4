package hosttest

import (
	"testing"
)

// recorder is a testing.TB that records Skip and Fatal instead of ending
// the test.
type recorder struct {
	testing.TB
	skipped, failed bool
}

func (r *recorder) Helper()             {}
func (r *recorder) Skip(...any)         { r.skipped = true }
func (r *recorder) Fatal(...any)        { r.failed = true }
func (r *recorder) Logf(string, ...any) {}

func TestNeed(t *testing.T) {
	for _, tc := range []struct {
		strict, ci string
		path       string
		skip, fail bool
	}{
		{"", "", "sh", false, false},
		{"", "", "/bin/sh", false, false},
		{"", "", "no-such-program-tapestry", true, false},
		{"1", "", "no-such-program-tapestry", false, true},
		{"", "true", "/no/such/program", false, true},
		{"1", "", "sh", false, false},
	} {
		t.Setenv("TAPESTRY_TEST_STRICT", tc.strict)
		t.Setenv("CI", tc.ci)
		r := &recorder{TB: t}
		Need(r, tc.path, "pkg")
		if r.skipped != tc.skip || r.failed != tc.fail {
			t.Errorf("strict=%q CI=%q Need(%q): skipped %v failed %v, want %v %v",
				tc.strict, tc.ci, tc.path, r.skipped, r.failed, tc.skip, tc.fail)
		}
	}
}
