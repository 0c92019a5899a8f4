//go:build !amd64 && !arm64

package classifier

// prefetch does nothing on architectures without a prefetch in assembly.
func prefetch(uintptr) {}
