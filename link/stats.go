package link

import "sync/atomic"

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

// counters are a device's Stats, updated atomically by its reader and
// writers. Devices embed them, so the fields read as the device's own.
type counters struct {
	rxPackets, rxBytes, rxDropped, rxErrors atomic.Uint64
	txPackets, txBytes, txDropped, txErrors atomic.Uint64
}

// snapshot reads every counter once.
func (c *counters) snapshot() Stats {
	return Stats{
		RxPackets: c.rxPackets.Load(), RxBytes: c.rxBytes.Load(),
		RxDropped: c.rxDropped.Load(), RxErrors: c.rxErrors.Load(),
		TxPackets: c.txPackets.Load(), TxBytes: c.txBytes.Load(),
		TxDropped: c.txDropped.Load(), TxErrors: c.txErrors.Load(),
	}
}
