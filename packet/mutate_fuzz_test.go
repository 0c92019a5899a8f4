package packet

import (
	"bytes"
	"testing"
)

// headers finds the L3 and L4 offsets of frame the simple way (no VLAN tag,
// valid lengths), or -1.
func headers(frame []byte) (l3, l4 int, proto uint8) {
	if len(frame) < EthernetMinimumSize {
		return -1, -1, 0
	}
	switch Ethernet(frame).Type() {
	case EtherTypeIPv4:
		ip, hl := ipv4At(frame, EthernetMinimumSize)
		if ip == nil || int(ip.TotalLen()) > len(ip) || int(ip.TotalLen()) < hl || ip.FragOffset() != 0 {
			return EthernetMinimumSize, -1, 0
		}
		return EthernetMinimumSize, EthernetMinimumSize + hl, ip.Protocol()
	case EtherTypeIPv6:
		ip := ipv6At(frame, EthernetMinimumSize)
		if ip == nil || IPv6MinimumSize+int(ip.PayloadLen()) > len(ip) {
			return EthernetMinimumSize, -1, 0
		}
		u, ok := WalkIPv6(ip[:IPv6MinimumSize+int(ip.PayloadLen())])
		if !ok || u.Frag&IPv6FragLater != 0 {
			return EthernetMinimumSize, -1, 0
		}
		return EthernetMinimumSize, EthernetMinimumSize + u.Off, u.Proto
	}
	return EthernetMinimumSize, -1, 0
}

// FuzzMutators runs every mutator on arbitrary frames, at the offsets a parser
// would give and at arbitrary ones. None may panic or write outside the
// frame; on a frame whose checksums were all correct, they must stay correct.
func FuzzMutators(f *testing.F) {
	for _, fr := range [][]byte{tcp4(), udp4(), icmp4(), tcp6(), udp6(), icmp6(), sctp4(), arp(), Tagged(tcp4(), 5)} {
		f.Add(fr, uint32(0x0a000009), uint16(4242), uint8(7), int16(-1), int16(-1))
	}
	f.Fuzz(func(t *testing.T, frame []byte, v uint32, port uint16, which uint8, rawL3, rawL4 int16) {
		const guard = 32
		buf := make([]byte, guard+len(frame)+guard)
		for i := range buf {
			buf[i] = 0xa5
		}
		copy(buf[guard:], frame)
		fr := buf[guard : guard+len(frame) : guard+len(frame)]
		l3, l4, proto := headers(fr)
		if rawL3 >= 0 {
			l3, l4 = int(rawL3), int(rawL4) // arbitrary offsets must be safe too
		}
		valid := rawL3 < 0 && fitsType(fr, which%16) && checksumsValid(fr)
		mutate(fr, which, l3, l4, proto, v, port)
		for i := range guard {
			if buf[i] != 0xa5 || buf[len(buf)-1-i] != 0xa5 {
				t.Fatalf("mutator %d wrote outside the frame", which%16)
			}
		}
		if valid && !checksumsValid(fr) {
			t.Fatalf("mutator %d broke a checksum:\n% x\n% x", which%16, frame, fr)
		}
		if s := PushVLAN(buf, guard, EtherTypeVLAN, port); s >= 0 {
			PopVLAN(buf[s : guard+len(frame)])
		}
	})
}

// fitsType reports whether mutator which is one a bridge would apply to the
// frame's EtherType (ARP setters on an IPv4 packet corrupt it by design).
func fitsType(frame []byte, which uint8) bool {
	if len(frame) < EthernetMinimumSize {
		return false
	}
	switch Ethernet(frame).Type() {
	case EtherTypeIPv4:
		return which <= 7 || which == 15
	case EtherTypeIPv6:
		return which >= 6 && which <= 10 || which == 15
	}
	return false
}

// checksumsValid reports whether FixChecksums would leave frame unchanged
// (up to the two one's complement zeros).
func checksumsValid(frame []byte) bool {
	c := append([]byte(nil), frame...)
	FixChecksums(c)
	return bytes.Equal(c, frame) || sameUpToZero(c, frame)
}

func mutate(f []byte, which uint8, l3, l4 int, proto uint8, v uint32, port uint16) {
	a4 := [4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}
	var a16 [16]byte
	copy(a16[12:], a4[:])
	switch which % 16 {
	case 0:
		SetIPv4Src(f, l3, a4)
	case 1:
		SetIPv4Dst(f, l3, a4)
	case 2:
		SetIPv4TOS(f, l3, uint8(v))
	case 3:
		SetIPv4ECN(f, l3, uint8(v))
	case 4:
		SetIPv4TTL(f, l3, uint8(v))
	case 5:
		DecTTL(f, l3)
	case 6:
		SetL4Src(f, l3, l4, proto, port)
	case 7:
		SetL4Dst(f, l3, l4, proto, port)
	case 8:
		SetIPv6Src(f, l3, a16)
	case 9:
		SetIPv6Dst(f, l3, a16)
	case 10:
		SetIPv6TOS(f, l3, uint8(v))
		SetIPv6Label(f, l3, v)
		DecHopLimit(f, l3)
	case 11:
		SetARPSpa(f, l3, a4)
		SetARPTpa(f, l3, a4)
		SetARPOp(f, l3, port)
	case 12:
		SetARPSha(f, l3, MAC{1, 2, 3, 4, 5, 6})
		SetARPTha(f, l3, MAC{1, 2, 3, 4, 5, 6})
	case 13:
		SetVLANTCI(f, port)
	case 14:
		PopVLAN(f)
	default:
		SetEthSrc(f, MAC{1, 2, 3, 4, 5, 6})
		SetEthDst(f, MAC{1, 2, 3, 4, 5, 6})
	}
}
