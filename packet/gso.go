package packet

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Offloaded frames: the virtio_net_hdr (virtio 1.2 section 5.1.6,
// include/uapi/linux/virtio_net.h) a TAP opened with IFF_VNET_HDR puts in
// front of every frame, and the software fallback for the work it defers.
//
// A frame whose header has NEEDS_CSUM carries a partial transport checksum:
// the field at CsumStart+CsumOffset holds only the folded pseudo-header sum,
// and the checksum over the bytes from CsumStart on is still to be added. A
// frame whose GSOType is TCPV4 or TCPV6 is a TCP "super-frame": one header
// and up to 64 KB of payload that must leave as GSOSize-byte segments. A
// port that cannot carry either (AF_PACKET, in-memory wires, a controller)
// gets the frame completed here first: CompleteChecksum, or Segment, which
// does what the kernel's tcp_gso_segment and inet_gso_segment do.

// VnetHdrLen is the size of struct virtio_net_hdr, the prefix TUNSETVNETHDRSZ
// selects by default.
const VnetHdrLen = 10

// virtio_net_hdr flags.
const (
	VnetNeedsCsum = 1 // VIRTIO_NET_HDR_F_NEEDS_CSUM: checksum is partial
	VnetDataValid = 2 // VIRTIO_NET_HDR_F_DATA_VALID: checksum already checked
)

// virtio_net_hdr gso_type values.
const (
	GSONone  = 0
	GSOTCPv4 = 1
	GSOUDP   = 3
	GSOTCPv6 = 4
	GSOUDPL4 = 5
	GSOECN   = 0x80 // the TCP stream uses ECN: CWR stays on the first segment only
)

// VnetHdr is a decoded virtio_net_hdr. The zero value describes a complete
// frame.
type VnetHdr struct {
	Flags      uint8
	GSOType    uint8
	HdrLen     uint16 // length of the headers (a hint; the kernel may include payload)
	GSOSize    uint16 // payload bytes per segment
	CsumStart  uint16 // offset from the frame start where checksumming starts
	CsumOffset uint16 // offset from CsumStart of the checksum field
}

// DecodeVnetHdr reads a virtio_net_hdr from the first VnetHdrLen bytes of b.
// Its 16-bit fields are little-endian: the kernel uses the host's order for
// a modern virtio header, and tapestry sets TUNSETVNETLE where it matters.
func DecodeVnetHdr(b []byte) VnetHdr {
	_ = b[VnetHdrLen-1]
	return VnetHdr{
		Flags: b[0], GSOType: b[1],
		HdrLen:     binary.LittleEndian.Uint16(b[2:]),
		GSOSize:    binary.LittleEndian.Uint16(b[4:]),
		CsumStart:  binary.LittleEndian.Uint16(b[6:]),
		CsumOffset: binary.LittleEndian.Uint16(b[8:]),
	}
}

// Encode writes h into the first VnetHdrLen bytes of b.
func (h *VnetHdr) Encode(b []byte) {
	_ = b[VnetHdrLen-1]
	b[0], b[1] = h.Flags, h.GSOType
	binary.LittleEndian.PutUint16(b[2:], h.HdrLen)
	binary.LittleEndian.PutUint16(b[4:], h.GSOSize)
	binary.LittleEndian.PutUint16(b[6:], h.CsumStart)
	binary.LittleEndian.PutUint16(b[8:], h.CsumOffset)
}

// IsGSO reports whether the frame is a super-frame to be segmented.
func (h *VnetHdr) IsGSO() bool { return h.GSOType&^GSOECN != GSONone }

// Offloaded reports whether the frame is not ready for a wire: a
// super-frame or a partial checksum.
func (h *VnetHdr) Offloaded() bool { return h.Flags&VnetNeedsCsum != 0 || h.IsGSO() }

// Shift moves the header's frame offsets by d bytes, as pushing (d = 4) or
// popping (d = -4) a VLAN tag in front of the L3 header does.
func (h *VnetHdr) Shift(d int) {
	if h.Flags&VnetNeedsCsum != 0 {
		h.CsumStart = uint16(int(h.CsumStart) + d)
	}
	if h.HdrLen != 0 {
		h.HdrLen = uint16(int(h.HdrLen) + d)
	}
}

// Errors for malformed offload metadata; each wrapped error names the field.
var (
	ErrVnetHdr = errors.New("packet: bad virtio_net_hdr")
	ErrGSO     = errors.New("packet: cannot segment")
)

// CompleteChecksum finishes a NEEDS_CSUM frame in place: it adds the sum of
// frame[CsumStart:] (which already includes the pseudo-header sum stored in
// the checksum field) and stores its complement, as skb_checksum_help does.
// A header without NEEDS_CSUM leaves the frame alone.
func CompleteChecksum(h *VnetHdr, frame []byte) error {
	if h.Flags&VnetNeedsCsum == 0 {
		return nil
	}
	start, at := int(h.CsumStart), int(h.CsumStart)+int(h.CsumOffset)
	if start >= len(frame) {
		return fmt.Errorf("%w: csum_start %d beyond the %d-byte frame", ErrVnetHdr, start, len(frame))
	}
	if at+2 > len(frame) || h.CsumOffset&1 != 0 {
		return fmt.Errorf("%w: csum_offset %d (csum_start %d, frame %d bytes)", ErrVnetHdr, h.CsumOffset, start, len(frame))
	}
	c := ^Sum(frame[start:], 0)
	if c == 0 && h.CsumOffset == 6 {
		// UDP (csum_offset 6): zero means "no checksum" (RFC 768).
		c = 0xffff
	}
	binary.BigEndian.PutUint16(frame[at:], c)
	return nil
}

// gsoLayout is where a super-frame's headers are.
type gsoLayout struct {
	l3, l4, hdr int // offsets of IP, TCP and the payload
	v6          bool
	segs        int
}

// gsoParse checks a TCP super-frame against its header and finds its
// layout. It accepts Ethernet with up to two VLAN tags, IPv4 (not a
// fragment) or IPv6 without extension headers, and TCP, which is what the
// kernel hands a TAP that advertised TUN_F_TSO4|TUN_F_TSO6.
func gsoParse(h *VnetHdr, frame []byte) (gsoLayout, error) {
	var lo gsoLayout
	switch h.GSOType &^ GSOECN {
	case GSOTCPv4, GSOTCPv6:
	default:
		return lo, fmt.Errorf("%w: gso_type %#x", ErrGSO, h.GSOType)
	}
	if h.GSOSize == 0 {
		return lo, fmt.Errorf("%w: gso_size 0", ErrVnetHdr)
	}
	typ, l3, ok := SkipVLANs(frame, 2)
	if !ok {
		return lo, fmt.Errorf("%w: no IP header in the %d-byte frame", ErrGSO, len(frame))
	}
	var err error
	lo.l3 = l3
	switch {
	case typ == EtherTypeIPv4 && h.GSOType&^GSOECN == GSOTCPv4:
		lo.l4, err = gsoIPv4(frame, l3)
	case typ == EtherTypeIPv6 && h.GSOType&^GSOECN == GSOTCPv6:
		lo.l4, err = gsoIPv6(frame, l3)
		lo.v6 = true
	default:
		return lo, fmt.Errorf("%w: gso_type %#x on ethertype %#04x", ErrVnetHdr, h.GSOType, typ)
	}
	if err != nil {
		return lo, err
	}
	if len(frame) < lo.l4+TCPMinimumSize {
		return lo, fmt.Errorf("%w: truncated TCP header", ErrGSO)
	}
	doff := TCP(frame[lo.l4:]).HeaderLen()
	if doff < TCPMinimumSize || lo.l4+doff > len(frame) {
		return lo, fmt.Errorf("%w: TCP data offset %d", ErrGSO, doff)
	}
	if h.Flags&VnetNeedsCsum != 0 && (int(h.CsumStart) != lo.l4 || h.CsumOffset != tcpChecksum) {
		return lo, fmt.Errorf("%w: csum_start %d csum_offset %d for a TCP header at %d", ErrVnetHdr, h.CsumStart, h.CsumOffset, lo.l4)
	}
	lo.hdr = lo.l4 + doff
	payload := len(frame) - lo.hdr
	lo.segs = max(1, (payload+int(h.GSOSize)-1)/int(h.GSOSize))
	return lo, nil
}

func gsoIPv4(frame []byte, l3 int) (int, error) {
	if len(frame) < l3+IPv4MinimumSize {
		return 0, fmt.Errorf("%w: truncated IPv4 header", ErrGSO)
	}
	ip := IPv4(frame[l3:])
	ihl := ip.HeaderLen()
	switch {
	case ip.Version() != 4 || ihl < IPv4MinimumSize || l3+ihl > len(frame):
		return 0, fmt.Errorf("%w: IPv4 version/ihl byte %#02x", ErrGSO, frame[l3])
	case ip.Protocol() != ProtoTCP:
		return 0, fmt.Errorf("%w: IPv4 protocol %d for TCP GSO", ErrGSO, ip.Protocol())
	case ip.IsFragment():
		return 0, fmt.Errorf("%w: IPv4 fragment", ErrGSO)
	}
	return l3 + ihl, nil
}

func gsoIPv6(frame []byte, l3 int) (int, error) {
	if len(frame) < l3+IPv6MinimumSize {
		return 0, fmt.Errorf("%w: truncated IPv6 header", ErrGSO)
	}
	if frame[l3]>>4 != 6 {
		return 0, fmt.Errorf("%w: IPv6 version %d", ErrGSO, frame[l3]>>4)
	}
	if nh := frame[l3+6]; nh != ProtoTCP {
		return 0, fmt.Errorf("%w: IPv6 next header %d for TCP GSO", ErrGSO, nh)
	}
	return l3 + IPv6MinimumSize, nil
}

// GSOSegments returns how many segments Segment makes of the super-frame
// and how many bytes they take in all.
func GSOSegments(h *VnetHdr, frame []byte) (segs, bytes int, err error) {
	lo, err := gsoParse(h, frame)
	if err != nil {
		return 0, 0, err
	}
	return lo.segs, lo.segs*lo.hdr + len(frame) - lo.hdr, nil
}

// Segment cuts the TCP super-frame into wire frames of at most GSOSize
// payload bytes each, written one after another into dst; segs[i] is set
// to the i-th. It returns the number of segments. dst and segs must be
// large enough (GSOSegments says how large). Every segment gets the
// super-frame's headers with, as tcp_gso_segment and inet_gso_segment do:
// the IPv4 total length (IPv6 payload length) of the segment, the IPv4 ID
// incremented per segment and the header checksum recomputed, the sequence
// number advanced by the payload before it, FIN and PSH only on the last
// segment, CWR only on the first, and a complete TCP checksum. Segment
// allocates nothing.
func Segment(h *VnetHdr, frame []byte, dst []byte, segs [][]byte) (int, error) {
	lo, err := gsoParse(h, frame)
	if err != nil {
		return 0, err
	}
	if len(segs) < lo.segs || len(dst) < lo.segs*lo.hdr+len(frame)-lo.hdr {
		return 0, fmt.Errorf("%w: %d segments need more room than given", ErrGSO, lo.segs)
	}
	hdr, payload := frame[:lo.hdr], frame[lo.hdr:]
	mss := int(h.GSOSize)
	seq := TCP(frame[lo.l4:]).Seq()
	flags := TCP(frame[lo.l4:]).Flags()
	var id uint16
	if !lo.v6 {
		id = IPv4(frame[lo.l3:]).ID()
	}
	used := 0
	for i := 0; i < lo.segs; i++ {
		n := min(mss, len(payload))
		s := dst[used : used+lo.hdr+n : used+lo.hdr+n]
		used += len(s)
		copy(s, hdr)
		copy(s[lo.hdr:], payload[:n])
		payload = payload[n:]
		f := flags
		if i != lo.segs-1 {
			f &^= TCPFlagFIN | TCPFlagPSH
		}
		if i != 0 {
			f &^= TCPFlagCWR
		}
		segFix(s, lo, seq+uint32(i*mss), id+uint16(i), f)
		segs[i] = s
	}
	return lo.segs, nil
}

// segFix writes one segment's per-segment header fields and checksums.
func segFix(s []byte, lo gsoLayout, seq uint32, id, flags uint16) {
	tcp := TCP(s[lo.l4:])
	tlen := len(s) - lo.l4
	tcp.SetSeq(seq)
	tcp.SetHeaderLenFlags(tcp.HeaderLen(), flags)
	tcp.SetChecksum(0)
	var ph uint16
	if lo.v6 {
		binary.BigEndian.PutUint16(s[lo.l3+4:], uint16(tlen))
		ph = PseudoHeaderSum(ProtoTCP, s[lo.l3+8:lo.l3+24], s[lo.l3+24:lo.l3+40], uint32(tlen))
	} else {
		ip := IPv4(s[lo.l3:])
		ip.SetTotalLen(uint16(len(s) - lo.l3))
		ip.SetID(id)
		ip.SetChecksum(0)
		ip.SetChecksum(ip.ComputeChecksum())
		ph = PseudoHeaderSum(ProtoTCP, s[lo.l3+12:lo.l3+16], s[lo.l3+16:lo.l3+20], uint32(tlen))
	}
	tcp.SetChecksum(^Sum(s[lo.l4:], ph))
}
