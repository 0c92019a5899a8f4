package route

import (
	"syscall"
	"unsafe"
)

// adviseHuge asks Linux to back the 2 MiB-aligned part of s with
// transparent huge pages (madvise MADV_HUGEPAGE; a no-op when THP is
// "never"). A 1M-route table's entries and blocks span ~80 MiB; on 4 KiB
// pages nearly every lookup misses the TLB twice, on 2 MiB pages the
// whole structure fits the TLB. Only a fresh allocation, not yet touched,
// gets huge pages at fault time, which is what buildFib passes.
func adviseHuge[T any](s []T) {
	if len(s) == 0 {
		return
	}
	const huge = 2 << 20
	start := uintptr(unsafe.Pointer(unsafe.SliceData(s)))
	end := (start + uintptr(len(s))*unsafe.Sizeof(s[0])) &^ (huge - 1)
	beg := (start + huge - 1) &^ (huge - 1)
	if end <= beg {
		return
	}
	// Advice only: failure (an old kernel, THP compiled out) leaves
	// ordinary pages.
	_, _, _ = syscall.Syscall(syscall.SYS_MADVISE, beg, end-beg, syscall.MADV_HUGEPAGE)
}
