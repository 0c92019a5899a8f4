package flow

import (
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"tapestry/packet"
)

// randomFrame builds a well-formed frame of a random kind with random fields.
func randomFrame(r *rand.Rand) []byte {
	mac := func() packet.MAC {
		var m packet.MAC
		for i := range m {
			m[i] = byte(r.UintN(256))
		}
		return m
	}
	v4 := func() netip.Addr {
		return netip.AddrFrom4([4]byte{byte(r.UintN(256)), byte(r.UintN(256)), byte(r.UintN(256)), byte(r.UintN(256))})
	}
	v6 := func() netip.Addr {
		var a [16]byte
		for i := range a {
			a[i] = byte(r.UintN(256))
		}
		a[0] = 0xfd // keep gopacket from reading it as IPv4-mapped
		return netip.AddrFrom16(a)
	}
	port := func() uint16 { return uint16(r.UintN(65536)) }
	payload := make([]byte, r.UintN(40))
	src, dst := mac(), mac()
	var f []byte
	switch r.UintN(9) {
	case 0:
		f = packet.ARPFrame(uint16(1+r.UintN(2)), src, v4(), mac(), v4(), dst)
	case 1:
		f = packet.TCPSegment(src, dst, netip.AddrPortFrom(v4(), port()), netip.AddrPortFrom(v4(), port()), uint16(r.UintN(0x1000)), payload)
	case 2:
		f = packet.UDPDatagram(src, dst, netip.AddrPortFrom(v4(), 1024+port()%60000), netip.AddrPortFrom(v4(), 1024+port()%60000), payload)
	case 3:
		f = packet.ICMPEcho(src, dst, v4(), v4(), port(), port(), payload, r.UintN(2) == 0)
	case 4:
		f = packet.SCTPPacket(src, dst, netip.AddrPortFrom(v4(), port()), netip.AddrPortFrom(v4(), port()), r.Uint32(), nil)
	case 5:
		f = packet.TCPSegment(src, dst, netip.AddrPortFrom(v6(), port()), netip.AddrPortFrom(v6(), port()), uint16(r.UintN(0x1000)), payload)
	case 6:
		f = packet.UDPDatagram(src, dst, netip.AddrPortFrom(v6(), 1024+port()%60000), netip.AddrPortFrom(v6(), 1024+port()%60000), payload)
	case 7:
		f = packet.ICMPEcho(src, dst, v6(), v6(), port(), port(), payload, r.UintN(2) == 0)
	default:
		f = packet.IPFrame(src, dst, packet.IPv4Datagram(v4(), v4(), 253, payload))
	}
	switch packet.Ethernet(f).Type() {
	case packet.EtherTypeIPv4:
		ip := packet.IPv4(f[14:])
		ip.SetTOS(uint8(r.UintN(256)))
		ip.SetTTL(uint8(r.UintN(256)))
		if r.UintN(4) == 0 {
			ip.SetFlagsFrag(uint16(r.UintN(2))*packet.IPv4FlagMF | uint16(r.UintN(3)))
		}
	case packet.EtherTypeIPv6:
		ip := packet.IPv6(f[14:])
		ip.SetTrafficClass(uint8(r.UintN(256)))
		ip.SetFlowLabel(r.Uint32())
		ip.SetHopLimit(uint8(r.UintN(256)))
	}
	packet.FixChecksums(f)
	if r.UintN(3) == 0 {
		f = packet.Tagged(f, uint16(r.UintN(65536)))
	}
	return f
}

// gopacketKey computes the key Extract should produce from gopacket's
// independent decoding of frame.
func gopacketKey(t *testing.T, frame []byte) Key {
	p := gopacket.NewPacket(frame, layers.LayerTypeEthernet, gopacket.Default)
	// Payloads of unknown protocols do not decode; a transport layer that
	// failed to decode would show up below as missing ports.
	if el := p.ErrorLayer(); el != nil && p.NetworkLayer() == nil {
		t.Fatalf("gopacket: %v\n%s", el.Error(), p.Dump())
	}
	k := Key{InPort: 9}
	fillKey(&k, p.Layers())
	return k
}

// fillKey sets the fields of k that the gopacket layers ls carry.
func fillKey(k *Key, ls []gopacket.Layer) {
	for _, l := range ls {
		switch l := l.(type) {
		case *layers.Ethernet:
			k.DlSrc, k.DlDst, k.DlType = packet.MAC(l.SrcMAC), packet.MAC(l.DstMAC), uint16(l.EthernetType)
		case *layers.Dot1Q:
			k.VlanTCI = uint16(l.Priority)<<13 | VlanCFI | l.VLANIdentifier
			k.DlType = uint16(l.Type)
		case *layers.ARP:
			k.NwProto = uint8(l.Operation)
			k.NwSrc, k.NwDst = [4]byte(l.SourceProtAddress), [4]byte(l.DstProtAddress)
			k.ArpSha, k.ArpTha = packet.MAC(l.SourceHwAddress), packet.MAC(l.DstHwAddress)
		case *layers.IPv4:
			k.NwSrc, k.NwDst = [4]byte(l.SrcIP.To4()), [4]byte(l.DstIP.To4())
			k.NwTos, k.NwTTL, k.NwProto = l.TOS, l.TTL, uint8(l.Protocol)
			if l.Flags&layers.IPv4MoreFragments != 0 || l.FragOffset != 0 {
				k.NwFrag = FragAny
			}
			if l.FragOffset != 0 {
				k.NwFrag |= FragLater
			} else if k.NwFrag != 0 {
				// gopacket leaves a first fragment's transport header
				// undecoded; OVS and Extract parse it.
				fillKey(k, gopacket.NewPacket(l.Payload, l.Protocol.LayerType(), gopacket.Default).Layers())
			}
		case *layers.IPv6:
			k.IPv6Src, k.IPv6Dst = [16]byte(l.SrcIP.To16()), [16]byte(l.DstIP.To16())
			k.NwTos, k.IPv6Label, k.NwTTL, k.NwProto = l.TrafficClass, l.FlowLabel, l.HopLimit, uint8(l.NextHeader)
		case *layers.TCP:
			k.TpSrc, k.TpDst = uint16(l.SrcPort), uint16(l.DstPort)
			for i, set := range []bool{l.FIN, l.SYN, l.RST, l.PSH, l.ACK, l.URG, l.ECE, l.CWR, l.NS} {
				if set {
					k.TCPFlags |= 1 << i
				}
			}
			k.TCPFlags |= uint16(l.Contents[12]&0x0e) << 8 // reserved bits
		case *layers.UDP:
			k.TpSrc, k.TpDst = uint16(l.SrcPort), uint16(l.DstPort)
		case *layers.SCTP:
			k.TpSrc, k.TpDst = uint16(l.SrcPort), uint16(l.DstPort)
		case *layers.ICMPv4:
			k.TpSrc, k.TpDst = uint16(l.TypeCode.Type()), uint16(l.TypeCode.Code())
		case *layers.ICMPv6:
			k.TpSrc, k.TpDst = uint16(l.TypeCode.Type()), uint16(l.TypeCode.Code())
		}
	}
}

// TestExtractMatchesGopacket compares Extract with gopacket on random frames.
func TestExtractMatchesGopacket(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for i := range 3000 {
		f := randomFrame(r)
		want := gopacketKey(t, f)
		var got Key
		Extract(f, 9, &got)
		if want == got {
			continue
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("frame %d % x: Extract vs gopacket (-gopacket +Extract):\n%s", i, f, diff)
		}
	}
}
