package classifier

import "golang.org/x/sys/unix"

// hugePage is the size of an x86-64 and arm64 transparent huge page.
const hugePage = 2 << 20

// adviseHuge asks the kernel to back the whole 2 MiB pages inside the
// n-byte array at addr with transparent huge pages (madvise(2)
// MADV_HUGEPAGE). A big table is probed at random: with 4 KiB pages
// nearly every probe also misses the TLB, and under virtualization a TLB
// miss walks two sets of page tables. With THP in "madvise" mode nothing
// else asks for huge pages for Go heap memory. The advice is a hint:
// failure changes nothing but speed, so it is ignored.
//
// Call it on a fresh allocation: pages not yet faulted in arrive as huge
// pages at once, while pages already present are left to khugepaged.
func adviseHuge(addr, n uintptr) {
	start := (addr + hugePage - 1) &^ (hugePage - 1)
	end := (addr + n) &^ (hugePage - 1)
	if end <= start {
		return
	}
	// The range lies inside a live Go allocation; madvise only changes how
	// the kernel backs it, never its contents.
	_, _, _ = unix.Syscall(unix.SYS_MADVISE, start, end-start, unix.MADV_HUGEPAGE)
}

// collapseHuge is adviseHuge for an array whose pages are already present:
// the Go runtime zeroes a large allocation that holds pointers (a big
// table's lines) before returning it, so its pages were faulted in as
// 4 KiB pages before the advice. MADV_COLLAPSE (Linux 6.1) rebuilds them
// as huge pages now instead of leaving it to khugepaged, which may take
// minutes. A hint as well: errors (older kernels, no free huge pages) are
// ignored.
func collapseHuge(addr, n uintptr) {
	adviseHuge(addr, n)
	start := (addr + hugePage - 1) &^ (hugePage - 1)
	end := (addr + n) &^ (hugePage - 1)
	if end <= start {
		return
	}
	_, _, _ = unix.Syscall(unix.SYS_MADVISE, start, end-start, unix.MADV_COLLAPSE)
}
