package link

import "tapestry/packet"

// VnetLink is a Link that can also carry frames whose work is left
// undone, as a virtio NIC does: each frame comes with a virtio_net_hdr
// (packet.VnetHdr) saying whether its transport checksum is partial and
// whether it is a TCP super-frame still to be segmented. A TAP opened with
// IFF_VNET_HDR is one. A bridge detects it with a type assertion when the
// port is added and, while Offload reports true, reads with ReadVnet into
// buffers of VnetFrameSize bytes and writes super-frames with WriteVnet
// unchanged, so that one syscall moves up to 64 KB instead of one MTU.
//
// Read and Write keep the Link contract: they carry complete wire frames
// whatever Offload says (Read segments super-frames and completes partial
// checksums in software).
type VnetLink interface {
	Link
	// Offload reports whether the kernel may hand over, and is told it
	// may be given, partial checksums and TCP super-frames.
	Offload() bool
	// ReadVnet is Read that also sets hdrs[i] to each frame's header; the
	// frame is left as the kernel gave it. len(hdrs) bounds the batch too.
	// A super-frame counts as one packet of its full length.
	ReadVnet(bufs [][]byte, sizes []int, hdrs []packet.VnetHdr, offset int) (int, error)
	// WriteVnet is Write with a header for each frame. The caller
	// completes a frame itself (packet.Segment, packet.CompleteChecksum)
	// when Offload is false.
	WriteVnet(pkts [][]byte, hdrs []packet.VnetHdr) (int, error)
}

// VnetFrameSize is the receive buffer a VnetLink needs for any frame: the
// largest IP datagram (65535 bytes, the limit of IPv4's total length and of
// a TSO super-frame without BIG TCP), an Ethernet header with two VLAN tags,
// and Headroom in front.
const VnetFrameSize = Headroom + 14 + 8 + 65535

// VnetBatchSize is the batch a bridge reads from a VnetLink: fewer frames
// than BatchSize because each buffer is 64 KB (an idle port holds
// VnetBatchSize*VnetFrameSize bytes), and a batch of super-frames already
// moves far more bytes than BatchSize wire frames.
const VnetBatchSize = 8
