package link

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Packet is an existing kernel interface (a veth end, a physical NIC)
// reached through an AF_PACKET SOCK_RAW socket bound to its ifindex, in
// promiscuous mode, as a bridge port: every frame the interface receives is
// read here, and frames written here are transmitted on it.
//
// The socket does not see its own transmissions (PACKET_IGNORE_OUTGOING,
// with a pkttype check as a second guard). Offloads are undone in software
// from PACKET_AUXDATA: a VLAN tag the kernel kept beside the frame is put
// back in, and a TCP/UDP checksum left partial by the sender's tx
// checksumming (veth's default) is completed, so TCP works through a veth
// without `ethtool -K tx off`. Segmentation offload is not undone: a peer
// sending TSO/GSO super-frames larger than the read buffer has them
// truncated and counted in RxDropped.
//
// Reads and writes are batched with recvmmsg(2) and sendmmsg(2).
type Packet struct {
	name    string
	ifindex int
	mtu     int
	file    *os.File
	rc      syscall.RawConn
	closed  atomic.Bool

	// Read state, used only by the single reading goroutine.
	rvec   *mmsgVec
	rmax   int // messages set up in rvec for this Read
	rgot   int
	rerr   error
	readFn func(fd uintptr) bool

	writers sync.Pool // *packetWrite

	counters
	rxFixed atomic.Uint64 // checksums completed
}

type packetWrite struct {
	p     *Packet
	vec   *mmsgVec
	n     int // messages in vec
	next  int
	sent  int
	bytes uint64
	err   error
	fn    func(fd uintptr) bool
}

// ethPAll is ETH_P_ALL in network byte order, as socket(2) and bind(2) on
// AF_PACKET want it.
var ethPAll = htons(unix.ETH_P_ALL)

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// OpenPacket opens the existing interface name in the caller's network
// namespace. The interface's up/down state is left to the user, as with
// a TAP. An error for a missing interface wraps fs.ErrNotExist.
func OpenPacket(name string) (*Packet, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	ifindex, err := sysfsInt(name, "ifindex")
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("link: no interface %q: %w", name, os.ErrNotExist)
		}
		return nil, fmt.Errorf("link: %s: %w", name, err)
	}
	mtu, err := sysfsInt(name, "mtu")
	if err != nil {
		mtu = 1500
	}
	// Protocol 0 receives nothing until bind names the interface, so no
	// frame from another interface slips in between socket and bind.
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("link: %s: AF_PACKET socket: %w", name, err)
	}
	if err := setupPacket(fd, ifindex); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("link: %s: %w", name, err)
	}
	p := &Packet{
		name:    name,
		ifindex: ifindex,
		mtu:     mtu,
		file:    os.NewFile(uintptr(fd), "packet:"+name),
		rvec:    newMmsgVec(BatchSize, true),
	}
	p.rc, _ = p.file.SyscallConn()
	p.readFn = p.readBatch
	p.writers.New = func() any {
		w := &packetWrite{p: p, vec: newMmsgVec(BatchSize, false)}
		w.fn = w.writeBatch
		return w
	}
	return p, nil
}

func setupPacket(fd, ifindex int) error {
	// Kernels before 4.20 lack PACKET_IGNORE_OUTGOING; readBatch also drops
	// PACKET_OUTGOING frames by their address, so failure is tolerable.
	_ = unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_IGNORE_OUTGOING, 1)
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_AUXDATA, 1); err != nil {
		return fmt.Errorf("PACKET_AUXDATA: %w", err)
	}
	mreq := unix.PacketMreq{Ifindex: int32(ifindex), Type: unix.PACKET_MR_PROMISC}
	if err := unix.SetsockoptPacketMreq(fd, unix.SOL_PACKET, unix.PACKET_ADD_MEMBERSHIP, &mreq); err != nil {
		return fmt.Errorf("PACKET_MR_PROMISC: %w", err)
	}
	sa := &unix.SockaddrLinklayer{Protocol: ethPAll, Ifindex: ifindex}
	if err := unix.Bind(fd, sa); err != nil {
		return fmt.Errorf("bind to ifindex %d: %w", ifindex, err)
	}
	return nil
}

// Name returns the interface's name.
func (p *Packet) Name() string { return p.name }

// MTU returns the interface's MTU when it was opened.
func (p *Packet) MTU() int { return p.mtu }

// SetReadDeadline makes a blocked or future Read return an error wrapping
// os.ErrDeadlineExceeded at t; the zero time waits forever.
func (p *Packet) SetReadDeadline(t time.Time) error { return p.file.SetReadDeadline(t) }

// Read waits for at least one frame received on the interface, then returns
// as many as one recvmmsg call yields, up to len(bufs), with VLAN tags
// restored and partial checksums completed.
func (p *Packet) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	max := min(len(bufs), len(sizes), BatchSize)
	if max == 0 {
		return 0, nil
	}
	p.rmax = max
	for {
		for i := 0; i < max; i++ {
			p.rvec.set(i, bufs[i][offset:])
		}
		p.rgot, p.rerr = 0, nil
		err := p.rc.Read(p.readFn)
		got, rerr := p.rgot, p.rerr
		p.rvec.clear(max)
		if err != nil {
			if p.closed.Load() || errors.Is(err, os.ErrClosed) {
				return 0, ErrClosed
			}
			return 0, fmt.Errorf("link: %s: read: %w", p.name, err)
		}
		if rerr != nil {
			p.rxErrors.Add(1)
			return 0, fmt.Errorf("link: %s: recvmmsg: %w", p.name, rerr)
		}
		if n := p.finish(bufs, sizes, offset, got); n > 0 {
			return n, nil
		}
	}
}

func (p *Packet) readBatch(fd uintptr) bool {
	for {
		n, err := recvmmsg(fd, p.rvec.msgs[:p.rmax])
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return false
		case err != nil:
			p.rerr = err
		}
		p.rgot = n
		return true
	}
}

// finish turns the got received messages into frames at bufs[k][offset:],
// dropping our own transmissions and truncated frames, and returns how
// many frames remain.
func (p *Packet) finish(bufs [][]byte, sizes []int, offset, got int) int {
	k := 0
	var bytes uint64
	for i := 0; i < got; i++ {
		m := &p.rvec.msgs[i]
		if p.rvec.names[i].Pkttype == unix.PACKET_OUTGOING {
			continue
		}
		if m.Hdr.Flags&unix.MSG_TRUNC != 0 {
			p.rxDropped.Add(1) // larger than the buffer: a GSO super-frame
			continue
		}
		if k != i {
			copy(bufs[k][offset:], bufs[i][offset:offset+int(m.Len)])
		}
		n, ok := p.undoOffloads(bufs[k][offset:], int(m.Len), p.rvec.control(i))
		if !ok {
			p.rxDropped.Add(1)
			continue
		}
		sizes[k] = n
		bytes += uint64(n)
		k++
	}
	p.rxPackets.Add(uint64(k))
	p.rxBytes.Add(bytes)
	return k
}

// undoOffloads applies the kernel's auxiliary data to the n-byte frame at
// the start of buf and returns its new length, or false if the VLAN tag
// does not fit.
func (p *Packet) undoOffloads(buf []byte, n int, ctrl []byte) (int, bool) {
	status, tci, tpid, ok := parseAuxdata(ctrl)
	if !ok {
		return n, true
	}
	if status&unix.TP_STATUS_VLAN_VALID != 0 {
		if status&unix.TP_STATUS_VLAN_TPID_VALID == 0 {
			tpid = etherTypeVLAN
		}
		if n, ok = insertVLAN(buf, n, tpid, tci); !ok {
			return n, false
		}
	}
	if status&unix.TP_STATUS_CSUMNOTREADY != 0 && completeChecksum(buf[:n]) {
		p.rxFixed.Add(1)
	}
	return n, true
}

// parseAuxdata finds struct tpacket_auxdata in a control message buffer
// (include/uapi/linux/if_packet.h): tp_status, tp_len, tp_snaplen (u32),
// tp_mac, tp_net, tp_vlan_tci, tp_vlan_tpid (u16), in host byte order.
func parseAuxdata(b []byte) (status uint32, tci, tpid uint16, ok bool) {
	const hdr = unix.SizeofCmsghdr
	for len(b) >= hdr {
		// struct cmsghdr: a size_t length, then int level and type.
		var l int
		if hdr == 16 {
			l = int(binary.NativeEndian.Uint64(b))
		} else {
			l = int(binary.NativeEndian.Uint32(b))
		}
		level := int32(binary.NativeEndian.Uint32(b[hdr-8:]))
		typ := int32(binary.NativeEndian.Uint32(b[hdr-4:]))
		if l < hdr || l > len(b) {
			return 0, 0, 0, false
		}
		if level == unix.SOL_PACKET && typ == unix.PACKET_AUXDATA && l >= hdr+sizeofTpacketAuxdata {
			d := b[hdr:]
			return binary.NativeEndian.Uint32(d), binary.NativeEndian.Uint16(d[16:]), binary.NativeEndian.Uint16(d[18:]), true
		}
		b = b[min(len(b), unix.CmsgSpace(l-hdr)):]
	}
	return 0, 0, 0, false
}

// Write transmits pkts on the interface with sendmmsg. Frames the kernel
// has no room for (ENOBUFS, EAGAIN from a full queue) or cannot send on a
// down interface (ENETDOWN) are counted in TxDropped; frames it refuses
// (EMSGSIZE for one larger than the MTU, EINVAL) in TxErrors, and the first
// such refusal is returned with the count of frames sent. Write is safe for
// concurrent use.
func (p *Packet) Write(pkts [][]byte) (int, error) {
	sent := 0
	for len(pkts) > 0 && !p.closed.Load() {
		chunk := pkts[:min(len(pkts), BatchSize)]
		pkts = pkts[len(chunk):]
		n, err := p.writeChunk(chunk)
		sent += n
		if err != nil {
			return sent, err
		}
	}
	if p.closed.Load() {
		return sent, ErrClosed
	}
	return sent, nil
}

func (p *Packet) writeChunk(pkts [][]byte) (int, error) {
	w := p.writers.Get().(*packetWrite)
	for i, pkt := range pkts {
		w.vec.set(i, pkt)
	}
	w.n = len(pkts)
	err := p.rc.Write(w.fn)
	sent, bytes, werr := w.sent, w.bytes, w.err
	w.vec.clear(w.n)
	*w = packetWrite{p: p, vec: w.vec, fn: w.fn}
	p.writers.Put(w)
	p.txPackets.Add(uint64(sent))
	p.txBytes.Add(bytes)
	if err != nil {
		if p.closed.Load() || errors.Is(err, os.ErrClosed) {
			return sent, ErrClosed
		}
		return sent, fmt.Errorf("link: %s: write: %w", p.name, err)
	}
	if werr != nil {
		return sent, fmt.Errorf("link: %s: sendmmsg: %w", p.name, werr)
	}
	return sent, nil
}

func (w *packetWrite) writeBatch(fd uintptr) bool {
	for w.next < w.n {
		n, err := sendmmsg(fd, w.vec.msgs[w.next:w.n])
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN || err == unix.ENOBUFS || err == unix.ENETDOWN || err == unix.ENXIO:
			// No room in the device's queue, or no carrier: a drop, as the
			// kernel counts one when a qdisc overflows.
			w.p.txDropped.Add(1)
			w.next++
		case err != nil:
			w.p.txErrors.Add(1)
			if w.err == nil {
				w.err = fmt.Errorf("frame %d (%d bytes): %w", w.next, w.vec.iovs[w.next].Len, err)
			}
			w.next++
		default:
			for i := w.next; i < w.next+n; i++ {
				w.bytes += w.vec.iovs[i].Len
			}
			w.sent += n
			w.next += n
		}
	}
	return true
}

// Close closes the socket, leaving promiscuous mode, and wakes a blocked
// Read, which returns ErrClosed. Close is idempotent.
func (p *Packet) Close() error {
	p.closed.Store(true)
	if err := p.file.Close(); err != nil && !errors.Is(err, os.ErrClosed) {
		return fmt.Errorf("link: %s: %w", p.name, err)
	}
	return nil
}

// Stats returns the frames and bytes this socket moved, the frames dropped
// (truncated super-frames, full transmit queues) and the failed syscalls.
func (p *Packet) Stats() Stats {
	return p.snapshot()
}

// ChecksumsCompleted returns how many received frames had a partial TCP or
// UDP checksum that Read completed in software.
func (p *Packet) ChecksumsCompleted() uint64 { return p.rxFixed.Load() }

var _ Link = (*Packet)(nil)
