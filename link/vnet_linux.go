package link

import (
	"fmt"

	"golang.org/x/sys/unix"

	"tapestry/packet"
)

// A TAP is always opened with IFF_VNET_HDR: every frame read or written is
// preceded by a virtio_net_hdr. Offloads stay off until SetOffload(true),
// and with them off the kernel completes every frame before handing it
// over (the device lacks NETIF_F_HW_CSUM and NETIF_F_TSO, so
// validate_xmit_skb checksums and segments), and the header is all zeros
// but for DATA_VALID. With them on (TUNSETOFFLOAD TUN_F_CSUM|TUN_F_TSO4|
// TUN_F_TSO6|TUN_F_TSO_ECN, as QEMU and OVS's userspace-tso-enable ask), the
// kernel hands over TCP super-frames of up to 64 KB with a partial checksum,
// and takes them back the same way (tun_get_user -> virtio_net_hdr_to_skb),
// so a bridge between two such TAPs moves 64 KB per read and per write.

// Offload flags for TUNSETOFFLOAD (include/uapi/linux/if_tun.h).
const (
	tunFCSUM    = 0x01
	tunFTSO4    = 0x02
	tunFTSO6    = 0x04
	tunFTSOECN  = 0x08
	tapOffloads = tunFCSUM | tunFTSO4 | tunFTSO6 | tunFTSOECN
)

// setVnet fixes the header's size and byte order on a fresh descriptor:
// 10 bytes (struct virtio_net_hdr, no num_buffers) and little-endian, which
// is the host order here and what packet.DecodeVnetHdr reads. Both are the
// kernel's defaults on a little-endian host; TUNSETVNETLE fails harmlessly
// where it is not built in.
func setVnet(fd int) {
	_ = unix.IoctlSetPointerInt(fd, unix.TUNSETVNETHDRSZ, packet.VnetHdrLen)
	_ = unix.IoctlSetPointerInt(fd, unix.TUNSETVNETLE, 1)
	_ = unix.IoctlSetInt(fd, unix.TUNSETOFFLOAD, 0)
}

// SetOffload turns checksum offload and TSO on or off for the device.
// Turned off, frames the kernel has queued with offloads are still
// completed by Read; a bridge decides at port creation, so turn it on
// before adding the port.
func (t *TAP) SetOffload(on bool) error {
	v := 0
	if on {
		v = tapOffloads
	}
	var ierr error
	if err := t.rc.Control(func(fd uintptr) {
		ierr = unix.IoctlSetInt(int(fd), unix.TUNSETOFFLOAD, v)
	}); err != nil {
		return fmt.Errorf("link: tap %s: %w", t.name, err)
	}
	if ierr != nil {
		return fmt.Errorf("link: tap %s: TUNSETOFFLOAD %#x: %w", t.name, v, ierr)
	}
	t.offload.Store(on)
	return nil
}

// Offload reports whether SetOffload turned offloads on (VnetLink).
func (t *TAP) Offload() bool { return t.offload.Load() }

// ReadVnet implements VnetLink: Read without completing frames, with each
// frame's header in hdrs. Buffers must hold VnetFrameSize bytes from
// offset when offloads are on, or the kernel truncates super-frames.
func (t *TAP) ReadVnet(bufs [][]byte, sizes []int, hdrs []packet.VnetHdr, offset int) (int, error) {
	if t.pend.left() > 0 {
		// Segments of a super-frame an earlier Read began: deliver them as
		// the complete frames they are.
		n := t.pend.drain(bufs, sizes, offset)
		clear(hdrs[:n])
		t.countRx(sizes[:n])
		return n, nil
	}
	if len(hdrs) == 0 {
		return 0, fmt.Errorf("link: tap %s: ReadVnet without header slots", t.name)
	}
	return t.read(tapRead{bufs: bufs, sizes: sizes, hdrs: hdrs, off: offset})
}

// WriteVnet implements VnetLink. A super-frame counts as one packet of its
// full length in the TAP's counters, as Open vSwitch counts it.
func (t *TAP) WriteVnet(pkts [][]byte, hdrs []packet.VnetHdr) (int, error) {
	if len(hdrs) < len(pkts) {
		return 0, fmt.Errorf("link: tap %s: %d frames, %d headers", t.name, len(pkts), len(hdrs))
	}
	return t.write(pkts, hdrs)
}

var _ VnetLink = (*TAP)(nil)

func (t *TAP) countRx(sizes []int) {
	var bytes uint64
	for _, s := range sizes {
		bytes += uint64(s)
	}
	t.rxPackets.Add(uint64(len(sizes)))
	t.rxBytes.Add(bytes)
}

// complete finishes a frame Read staged (offloads on), since Read promises
// wire frames, and moves it into dst, the batch's next buffer. A partial
// checksum is filled in. A super-frame is segmented into t.pend and as many
// segments as fit are moved into the batch; complete then reports true: the
// batch ends there so that the rest is returned first by the next Read. A
// frame whose header is malformed, or that does not fit dst, is dropped and
// counted in RxErrors.
func (t *TAP) complete(h *packet.VnetHdr, frame, dst []byte) bool {
	r := &t.rd
	if h.IsGSO() {
		if err := t.pend.fill(h, frame); err != nil {
			t.rxErrors.Add(1)
			return false
		}
		r.n += t.pend.drain(r.bufs[r.n:], r.sizes[r.n:], r.off)
		return true
	}
	if err := packet.CompleteChecksum(h, frame); err != nil || len(frame) > len(dst) {
		t.rxErrors.Add(1)
		return false
	}
	r.sizes[r.n] = copy(dst, frame)
	r.n++
	return false
}

// pending is the segments of one super-frame, with buffers kept for the
// next; they are allocated on first use, so a TAP whose owner reads with
// ReadVnet (a bridge) never has them.
type pending struct {
	dst  []byte
	segs [][]byte
	n    int
	next int
}

func (p *pending) left() int { return p.n - p.next }

func (p *pending) fill(h *packet.VnetHdr, frame []byte) error {
	n, total, err := packet.GSOSegments(h, frame)
	if err != nil {
		return err
	}
	if len(p.dst) < total {
		p.dst = make([]byte, max(total, VnetFrameSize+64*64))
	}
	if len(p.segs) < n {
		p.segs = make([][]byte, max(n, 64))
	}
	if _, err := packet.Segment(h, frame, p.dst, p.segs); err != nil {
		return err
	}
	p.n, p.next = n, 0
	return nil
}

// drain copies pending segments into bufs[i][off:] and returns how many.
func (p *pending) drain(bufs [][]byte, sizes []int, off int) int {
	i := 0
	for ; i < len(bufs) && i < len(sizes) && p.next < p.n; i++ {
		sizes[i] = copy(bufs[i][off:], p.segs[p.next])
		p.next++
	}
	return i
}
