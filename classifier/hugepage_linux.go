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
