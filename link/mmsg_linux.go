package link

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// This file holds the only unsafe code of the package: recvmmsg(2) and
// sendmmsg(2), which golang.org/x/sys/unix does not wrap, over message
// vectors allocated once per socket, and ioctls on a raw struct ifreq.

// ioctlIfreq runs ioctl req on fd with req's buffer as the struct ifreq.
func ioctlIfreq(fd int, req uint, ifr []byte) error {
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(req), uintptr(unsafe.Pointer(&ifr[0]))); e != 0 {
		return e
	}
	return nil
}

// auxSpace is the control buffer size for one PACKET_AUXDATA message:
// CMSG_SPACE(sizeof(struct tpacket_auxdata)).
var auxSpace = unix.CmsgSpace(sizeofTpacketAuxdata)

// sizeofTpacketAuxdata is sizeof(struct tpacket_auxdata): three u32 and
// four u16 fields.
const sizeofTpacketAuxdata = 20

// mmsgVec is a reusable vector of messages for recvmmsg/sendmmsg, one iovec
// per message, with room for the sender's address and the auxiliary data
// of each received frame.
type mmsgVec struct {
	msgs  []unix.Mmsghdr
	iovs  []unix.Iovec
	names []unix.RawSockaddrLinklayer
	ctrl  []byte
}

func newMmsgVec(n int, recv bool) *mmsgVec {
	v := &mmsgVec{msgs: make([]unix.Mmsghdr, n), iovs: make([]unix.Iovec, n)}
	if recv {
		v.names = make([]unix.RawSockaddrLinklayer, n)
		v.ctrl = make([]byte, n*auxSpace)
	}
	for i := range v.msgs {
		h := &v.msgs[i].Hdr
		h.Iov = &v.iovs[i]
		h.Iovlen = 1
	}
	return v
}

// set points message i at buf, resetting what the kernel wrote last time.
func (v *mmsgVec) set(i int, buf []byte) {
	iov := &v.iovs[i]
	iov.Base = nil
	if len(buf) > 0 {
		iov.Base = &buf[0]
	}
	iov.SetLen(len(buf))
	m := &v.msgs[i]
	m.Len = 0
	m.Hdr.Flags = 0
	if v.names != nil {
		m.Hdr.Name = (*byte)(unsafe.Pointer(&v.names[i]))
		m.Hdr.Namelen = unix.SizeofSockaddrLinklayer
		m.Hdr.Control = &v.ctrl[i*auxSpace]
		m.Hdr.SetControllen(auxSpace)
	}
}

// control returns the control bytes the kernel wrote for message i.
func (v *mmsgVec) control(i int) []byte {
	return v.ctrl[i*auxSpace : i*auxSpace+int(v.msgs[i].Hdr.Controllen)]
}

// clear drops the references to the caller's buffers so they are not kept
// alive by the vector between calls.
func (v *mmsgVec) clear(n int) {
	for i := 0; i < n; i++ {
		v.iovs[i].Base = nil
	}
}

// recvmmsg receives up to len(msgs) messages without blocking.
func recvmmsg(fd uintptr, msgs []unix.Mmsghdr) (int, error) {
	n, _, errno := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&msgs[0])), uintptr(len(msgs)), unix.MSG_DONTWAIT, 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

// sendmmsg sends up to len(msgs) messages without blocking. Like the
// kernel, it reports an error only when the first message fails.
func sendmmsg(fd uintptr, msgs []unix.Mmsghdr) (int, error) {
	n, _, errno := unix.Syscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&msgs[0])), uintptr(len(msgs)), unix.MSG_DONTWAIT, 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

// readv2 reads one datagram into a then b with readv(2).
func readv2(fd int, a, b []byte) (int, error) { return iov2(unix.SYS_READV, fd, a, b) }

// writev2 writes a then b as one datagram with writev(2).
func writev2(fd int, a, b []byte) (int, error) { return iov2(unix.SYS_WRITEV, fd, a, b) }

// iov2 is readv or writev (trap) over a and, if not empty, b.
func iov2(trap uintptr, fd int, a, b []byte) (int, error) {
	var iov [2]unix.Iovec
	iov[0].Base = &a[0]
	iov[0].SetLen(len(a))
	cnt := uintptr(1)
	if len(b) > 0 {
		iov[1].Base = &b[0]
		iov[1].SetLen(len(b))
		cnt = 2
	}
	n, _, errno := unix.Syscall(trap, uintptr(fd), uintptr(unsafe.Pointer(&iov[0])), cnt)
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}
