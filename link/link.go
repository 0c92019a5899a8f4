// Package link moves Ethernet frames between a bridge port and the outside:
// kernel TAP devices (/dev/net/tun), existing kernel interfaces through
// AF_PACKET, and in-memory wires for tests and userspace hosts.
//
// Every device is read and written in batches, as wireguard-go's tun.Device is,
// so that one syscall (or one channel operation) moves many frames.
package link

import "errors"

// Link is one end of a wire that carries Ethernet frames.
//
// Read blocks until at least one frame is available, then fills bufs[i][offset:]
// with up to len(bufs) frames and sets sizes[i] to each frame's length; the
// bytes before offset are headroom the caller may use to push headers. It
// returns the number of frames read. After Close, Read returns ErrClosed.
//
// Write sends each frame in pkts (whole frames, no headroom convention) and
// returns how many were sent. Write may be called from several goroutines at
// once; Read from one.
type Link interface {
	Name() string
	Read(bufs [][]byte, sizes []int, offset int) (int, error)
	Write(pkts [][]byte) (int, error)
	// MTU is the largest frame payload (without the Ethernet header) the
	// device carries.
	MTU() int
	Close() error
}

// ErrClosed is returned by Read and Write on a closed link.
var ErrClosed = errors.New("link: closed")

// BatchSize is the number of frames a port reads or writes in one call.
const BatchSize = 64

// FrameSize is the size of a receive buffer: a 9000-byte jumbo frame, its
// Ethernet and VLAN headers, and headroom.
const FrameSize = 9216

// Headroom is the number of bytes kept in front of every received frame so
// that VLAN or MPLS headers can be pushed without copying.
const Headroom = 64
