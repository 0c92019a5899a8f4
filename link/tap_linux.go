package link

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"tapestry/packet"
)

// TAP is a kernel TAP device (drivers/net/tun.c in TAP mode) opened through
// /dev/net/tun. Frames the kernel transmits on the device are read here;
// frames written here are received by the kernel as if from a wire.
//
// The file descriptor stays bound to the device wherever the device goes:
// after `ip link set NAME netns NS` the TAP keeps carrying frames, which is
// how a namespace is plugged into a bridge. The device has carrier only
// while a file descriptor is attached, so it shows NO-CARRIER before
// OpenTAP and after Close.
//
// The descriptor is non-blocking and registered with Go's runtime poller, so
// Read parks the goroutine rather than a thread and Close wakes it.
type TAP struct {
	name string
	mtu  int
	file *os.File
	rc   syscall.RawConn

	// Read state, touched only by the single reading goroutine. readFn is
	// bound once so a Read allocates nothing.
	rd     tapRead
	readFn func(fd uintptr) bool

	writers sync.Pool // *tapWrite, each with its callback bound once

	// offload is whether TUNSETOFFLOAD advertised checksum offload and
	// TSO; rhdr is Read's header buffer when the caller left no headroom
	// for it; pend holds the segments of a super-frame Read could not
	// return at once.
	offload atomic.Bool
	rhdr    [packet.VnetHdrLen]byte
	stage   []byte
	pend    pending

	// closed is set before the descriptor is closed: RawConn reports a
	// closed file with the poller's own error, not os.ErrClosed.
	closed atomic.Bool

	counters
}

type tapRead struct {
	bufs  [][]byte
	sizes []int
	hdrs  []packet.VnetHdr // nil for Read, which completes frames itself
	off   int
	n     int
	err   error
}

type tapWrite struct {
	t     *TAP
	pkts  [][]byte
	hdrs  []packet.VnetHdr // nil: every frame is complete
	hb    [packet.VnetHdrLen]byte
	next  int // index of the next frame to write
	sent  int
	bytes uint64
	err   error // first error the kernel returned for a frame
	fn    func(fd uintptr) bool
}

// OpenTAP attaches to the TAP device called name. If it does not exist and
// create is true, OpenTAP creates it; a created device is not persistent and
// disappears when the TAP is closed (see SetPersist). Attaching to an
// existing device matches the flags it was created with: it must be a TAP,
// not a TUN (`ip tuntap add NAME mode tap`), and IFF_MULTI_QUEUE must agree
// or the kernel refuses (tun_set_iff returns EINVAL). Frames are carried
// without the packet-information prefix (IFF_NO_PI) and with a
// virtio_net_hdr (IFF_VNET_HDR), offloads off until SetOffload.
//
// An error for a missing device wraps fs.ErrNotExist.
func OpenTAP(name string, create bool) (*TAP, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	flags, err := tapFlags(name, create)
	if err != nil {
		return nil, err
	}
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("link: tap %s: open /dev/net/tun: %w", name, err)
	}
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("link: tap %s: %w", name, err)
	}
	ifr.SetUint16(flags)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		unix.Close(fd)
		return nil, tunsetiffError(name, err)
	}
	return newTAP(ifr.Name(), fd), nil
}

// tapFlags returns the TUNSETIFF flags for attaching to name, or for
// creating it when it does not exist and create is set.
func tapFlags(name string, create bool) (uint16, error) {
	// IFF_VNET_HDR puts a virtio_net_hdr in front of every frame (see
	// vnet_linux.go). tun_set_iff takes it from the request on attach to
	// an existing device as well (the TUN_FEATURES bits are replaced, only
	// IFF_MULTI_QUEUE must agree), so a persistent TAP made by
	// `ip tuntap add` gets it too.
	flags := uint16(unix.IFF_TAP | unix.IFF_NO_PI | unix.IFF_VNET_HDR)
	existing, err := tunFlags(name)
	switch {
	case err == nil:
		if existing&unix.IFF_TUN != 0 {
			return 0, fmt.Errorf("link: %s is a TUN device (mode tun, IP packets), not a TAP (mode tap, Ethernet frames)", name)
		}
		return flags | existing&unix.IFF_MULTI_QUEUE, nil
	case !errors.Is(err, fs.ErrNotExist):
		return 0, fmt.Errorf("link: tap %s: %w", name, err)
	case Exists(name):
		return 0, fmt.Errorf("link: %s exists but is not a TUN/TAP device", name)
	case !create:
		return 0, fmt.Errorf("link: no TAP device %q: %w", name, fs.ErrNotExist)
	}
	// IFF_TUN_EXCL makes creation fail with EBUSY if a device of that name
	// appeared meanwhile, rather than attaching to something else.
	return flags | unix.IFF_TUN_EXCL, nil
}

func tunsetiffError(name string, err error) error {
	switch {
	case errors.Is(err, unix.EBUSY):
		return fmt.Errorf("link: tap %s: already attached to another process (not multi_queue) or created meanwhile: %w", name, err)
	case errors.Is(err, unix.EPERM):
		return fmt.Errorf("link: tap %s: not permitted (needs CAP_NET_ADMIN or the device's owner): %w", name, err)
	case errors.Is(err, unix.EINVAL):
		return fmt.Errorf("link: tap %s: kernel refused TUNSETIFF (mode or multi_queue mismatch): %w", name, err)
	}
	return fmt.Errorf("link: tap %s: TUNSETIFF: %w", name, err)
}

func newTAP(name string, fd int) *TAP {
	mtu, err := sysfsInt(name, "mtu")
	if err != nil {
		mtu = 1500
	}
	t := &TAP{name: name, mtu: mtu, file: os.NewFile(uintptr(fd), "/dev/net/tun:"+name)}
	// A non-blocking descriptor given to os.NewFile is registered with the
	// runtime poller; SyscallConn lets Read and Write batch syscalls while
	// the poller does the waiting. It cannot fail for an *os.File.
	t.rc, _ = t.file.SyscallConn()
	setVnet(fd)
	t.readFn = t.readBatch
	t.writers.New = func() any {
		w := &tapWrite{t: t}
		w.fn = w.writeBatch
		return w
	}
	return t
}

// Name returns the device's name.
func (t *TAP) Name() string { return t.name }

// MTU returns the device's MTU when it was opened. The device may since have
// moved into another namespace, where it can no longer be looked up by name.
func (t *TAP) MTU() int { return t.mtu }

// Read waits for the kernel to transmit at least one frame on the device,
// then reads as many more as are already queued, up to len(bufs), without
// waiting again. Frames land at bufs[i][offset:]; a frame longer than that
// space is truncated by the kernel.
func (t *TAP) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	if t.pend.left() > 0 {
		n := t.pend.drain(bufs, sizes, offset)
		t.countRx(sizes[:n])
		return n, nil
	}
	return t.read(tapRead{bufs: bufs, sizes: sizes, off: offset})
}

func (t *TAP) read(rd tapRead) (int, error) {
	t.rd = rd
	sizes := rd.sizes
	err := t.rc.Read(t.readFn)
	n, rerr := t.rd.n, t.rd.err
	t.rd = tapRead{}
	if err != nil {
		if t.closed.Load() || errors.Is(err, os.ErrClosed) {
			return n, ErrClosed
		}
		return n, fmt.Errorf("link: tap %s: read: %w", t.name, err)
	}
	t.countRx(sizes[:n])
	if rerr != nil {
		t.rxErrors.Add(1)
		if n > 0 {
			// Deliver what was read; the error recurs on the next call.
			return n, nil
		}
		return 0, fmt.Errorf("link: tap %s: read: %w", t.name, rerr)
	}
	return n, nil
}

// readBatch is the RawConn callback: it reads until the batch is full or the
// device has nothing more, and asks the poller to wait only when nothing at
// all was read.
func (t *TAP) readBatch(fd uintptr) bool {
	r := &t.rd
	for r.n < len(r.bufs) && r.n < len(r.sizes) && (r.hdrs == nil || r.n < len(r.hdrs)) {
		buf := r.bufs[r.n]
		dst := buf[r.off:]
		// Read of a TAP with offloads on may be handed a 64 KB super-frame,
		// which the kernel would truncate to the caller's buffer: stage it.
		staged := r.hdrs == nil && t.offload.Load()
		var m, room int
		var err error
		var hb []byte
		switch {
		case staged:
			if t.stage == nil {
				t.stage = make([]byte, packet.VnetHdrLen+VnetFrameSize)
			}
			hb, room = t.stage[:packet.VnetHdrLen], len(t.stage)-packet.VnetHdrLen
			m, err = unix.Read(int(fd), t.stage)
		case r.off >= packet.VnetHdrLen:
			// The header lands in the headroom: one read, no copy.
			hb, room = buf[r.off-packet.VnetHdrLen:r.off], len(dst)
			m, err = unix.Read(int(fd), buf[r.off-packet.VnetHdrLen:])
		default:
			hb, room = t.rhdr[:], len(dst)
			m, err = readv2(int(fd), hb, dst)
		}
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return r.n > 0
		case err != nil:
			r.err = err
			return true
		case m < packet.VnetHdrLen:
			r.err = fmt.Errorf("%d-byte read is shorter than a virtio_net_hdr", m)
			return true
		}
		m -= packet.VnetHdrLen
		if m >= room {
			// tun_put_user copies what fits and says nothing: a frame that
			// fills the buffer may have been cut short.
			t.rxErrors.Add(1)
			continue
		}
		h := packet.DecodeVnetHdr(hb)
		switch {
		case r.hdrs != nil:
			r.hdrs[r.n] = h
		case staged:
			if t.complete(&h, t.stage[packet.VnetHdrLen:packet.VnetHdrLen+m], dst) {
				return true
			}
			continue
		}
		r.sizes[r.n] = m
		r.n++
	}
	return true
}

// Write hands each frame to the kernel, which receives it on the device as
// if it came from the wire. One writev(2) carries one frame behind an
// all-zero virtio_net_hdr. Frames written
// while the device is down are dropped and counted in TxDropped, without an
// error. A frame the kernel refuses (too short, too long) is counted in
// TxErrors and skipped;
// Write returns how many frames were accepted and the first such error.
// Write is safe for concurrent use.
func (t *TAP) Write(pkts [][]byte) (int, error) {
	return t.write(pkts, nil)
}

func (t *TAP) write(pkts [][]byte, hdrs []packet.VnetHdr) (int, error) {
	w := t.writers.Get().(*tapWrite)
	w.pkts, w.hdrs = pkts, hdrs
	err := t.rc.Write(w.fn)
	sent, bytes, werr := w.sent, w.bytes, w.err
	*w = tapWrite{t: t, fn: w.fn}
	t.writers.Put(w)
	t.txPackets.Add(uint64(sent))
	t.txBytes.Add(bytes)
	if err != nil {
		if t.closed.Load() || errors.Is(err, os.ErrClosed) {
			return sent, ErrClosed
		}
		return sent, fmt.Errorf("link: tap %s: write: %w", t.name, err)
	}
	if werr != nil {
		return sent, fmt.Errorf("link: tap %s: write: %w", t.name, werr)
	}
	return sent, nil
}

func (w *tapWrite) writeBatch(fd uintptr) bool {
	for w.next < len(w.pkts) {
		p := w.pkts[w.next]
		if w.hdrs != nil {
			w.hdrs[w.next].Encode(w.hb[:])
		} else {
			w.hb = [packet.VnetHdrLen]byte{}
		}
		_, err := writev2(int(fd), w.hb[:], p)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return false // wait until the device can take more
		case err == unix.EIO:
			// The device is administratively down (tun_get_user refuses
			// frames then): a drop, as on a port whose link is down, not
			// a failure of the writer.
			w.t.txDropped.Add(1)
		case err != nil:
			// EINVAL: the kernel refused the frame or its header
			// (virtio_net_hdr_to_skb).
			w.t.txErrors.Add(1)
			if w.err == nil {
				w.err = err
			}
		default:
			w.sent++
			w.bytes += uint64(len(p))
		}
		w.next++
	}
	return true
}

// SetPersist makes the device outlive this TAP (TUNSETPERSIST), as
// `ip tuntap add` does, or makes it disappear when the last descriptor is
// closed.
func (t *TAP) SetPersist(on bool) error {
	v := 0
	if on {
		v = 1
	}
	var ierr error
	if err := t.rc.Control(func(fd uintptr) {
		ierr = unix.IoctlSetInt(int(fd), unix.TUNSETPERSIST, v)
	}); err != nil {
		return fmt.Errorf("link: tap %s: %w", t.name, err)
	}
	if ierr != nil {
		return fmt.Errorf("link: tap %s: TUNSETPERSIST: %w", t.name, ierr)
	}
	return nil
}

// Close detaches from the device and wakes a blocked Read, which returns
// ErrClosed. A device that is not persistent is removed by the kernel. Close
// is idempotent.
func (t *TAP) Close() error {
	t.closed.Store(true)
	if err := t.file.Close(); err != nil && !errors.Is(err, os.ErrClosed) {
		return fmt.Errorf("link: tap %s: %w", t.name, err)
	}
	return nil
}

// Stats returns the frames and bytes this TAP moved and the syscalls that
// failed. Frames the kernel dropped inside the device are in the kernel's
// own counters (`ip -s link show`).
func (t *TAP) Stats() Stats {
	return t.snapshot()
}

var _ Link = (*TAP)(nil)

// SetReadDeadline makes a blocked or future Read return an error wrapping
// os.ErrDeadlineExceeded at t; the zero time waits forever.
func (t *TAP) SetReadDeadline(d time.Time) error { return t.file.SetReadDeadline(d) }
