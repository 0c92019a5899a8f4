package flow

import "unsafe"

// This file is the only place that views a Key as machine words. Masking and
// hashing a 184-byte key word by word is what keeps the classifier and the
// flow caches cheap; Key's layout test guarantees there is no padding whose
// contents could differ between two equal keys.

// KeyWords is the size of a Key in 64-bit words.
const KeyWords = int(unsafe.Sizeof(Key{})) / 8

// Words returns k viewed as an array of words. Writes through it change k.
func (k *Key) Words() *[KeyWords]uint64 {
	return (*[KeyWords]uint64)(unsafe.Pointer(k))
}

// Words returns m viewed as an array of words.
func (m *Mask) Words() *[KeyWords]uint64 {
	return (*[KeyWords]uint64)(unsafe.Pointer(m))
}

// Masked returns k with every bit outside m cleared.
func (k *Key) Masked(m *Mask) Key {
	var out Key
	o, a, b := out.Words(), k.Words(), m.Words()
	for i := range o {
		o[i] = a[i] & b[i]
	}
	return out
}

// And returns the intersection of two masks.
func (m *Mask) And(o *Mask) Mask {
	var out Mask
	r, a, b := out.Words(), m.Words(), o.Words()
	for i := range r {
		r[i] = a[i] & b[i]
	}
	return out
}

// Or returns the union of two masks.
func (m *Mask) Or(o *Mask) Mask {
	var out Mask
	r, a, b := out.Words(), m.Words(), o.Words()
	for i := range r {
		r[i] = a[i] | b[i]
	}
	return out
}

// Covers reports whether every bit set in o is also set in m.
func (m *Mask) Covers(o *Mask) bool {
	a, b := m.Words(), o.Words()
	for i := range a {
		if b[i]&^a[i] != 0 {
			return false
		}
	}
	return true
}

// IsZero reports whether the mask wildcards everything.
func (m *Mask) IsZero() bool { return *m == Mask{} }
