// Package hosttest is for tests that use programs of the host as real
// peers and oracles (ovs-ofctl, iptables, the os-ken vectors in shared/).
//
// Run by hand, a test without its program skips. Run by `make test` as
// root, which installs every such program first (make deps), a missing one
// is a failure: a skip there would let a broken set-up pass as green.
package hosttest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Strict reports whether missing programs and files fail tests instead of
// skipping them: under `make test` as root (TAPESTRY_TEST_STRICT=1), or
// where CI says so (CI=true).
func Strict() bool {
	return os.Getenv("TAPESTRY_TEST_STRICT") == "1" || os.Getenv("CI") == "true"
}

// Missing skips t, or fails it when Strict, for the reason msg.
func Missing(t testing.TB, msg string) {
	t.Helper()
	if Strict() {
		t.Fatal(msg)
		return
	}
	t.Skip(msg)
}

// Need makes sure the program path (a name looked up in PATH, or an
// absolute path) is there; pkg names the Debian package that has it.
func Need(t testing.TB, path, pkg string) {
	t.Helper()
	var err error
	if filepath.IsAbs(path) {
		_, err = os.Stat(path)
	} else {
		_, err = exec.LookPath(path)
	}
	if err != nil {
		Missing(t, fmt.Sprintf("%s not installed (make deps installs %s)", path, pkg))
	}
}
