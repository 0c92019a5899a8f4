//go:build !linux

package classifier

// adviseHuge does nothing where transparent huge pages do not exist.
func adviseHuge(uintptr, uintptr) {}

func collapseHuge(addr, n uintptr) {}
