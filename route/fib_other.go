//go:build !linux

package route

// adviseHuge is a no-op where transparent huge pages are not available.
func adviseHuge[T any](s []T) {}
