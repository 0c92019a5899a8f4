package api

import "unsafe"

// ownedString returns b as a string without copying it. The caller must
// own b and never write to it again: postFlows reads a request body that
// nothing else holds, and a 100,000-line add-flows body is 6 MB that
// string(b) would copy only to drop b.
func ownedString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}
