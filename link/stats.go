package link

// Stats are the counters only the device itself can know: frames it dropped
// because a queue was full, reads that failed, frames the kernel refused.
// The bridge keeps its own per-port counters; these complement them and use
// the meanings of the kernel's rtnl_link_stats64 (rx = toward the reader of
// this end, tx = written into this end).
type Stats struct {
	RxPackets uint64 // frames returned by Read
	RxBytes   uint64 // bytes of those frames
	RxDropped uint64 // frames lost on the way in (e.g. too big for the caller's buffer)
	RxErrors  uint64 // failed reads
	TxPackets uint64 // frames accepted by Write
	TxBytes   uint64 // bytes of those frames
	TxDropped uint64 // frames Write discarded: queue full, peer gone, kernel out of buffers
	TxErrors  uint64 // frames Write could not send: oversized, rejected by the kernel
}
