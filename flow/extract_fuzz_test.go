package flow

import (
	"testing"

	"tapestry/packet"
)

// seedFrames are well-formed frames of every kind Extract parses.
func seedFrames() [][]byte {
	return [][]byte{
		tcp4, udp4, icmp4, tcp6,
		packet.Tagged(tcp4, 0x2064),
		packet.TaggedTPID(packet.Tagged(udp4, 1), packet.EtherTypeQinQ, 2),
		packet.ARPRequest(macA, ip("10.0.0.1"), ip("10.0.0.2")),
		packet.NeighborSolicitation(macA, ip("fd00::1"), ip("fd00::2")),
		packet.NeighborAdvertisement(macA, macB, ip("fd00::1"), ip("fd00::2")),
		packet.SCTPPacket(macA, macB, ap("10.0.0.1:1"), ap("10.0.0.2:2"), 3, nil),
		v6(packet.ProtoHopOpts, cat(ext(packet.ProtoFragment), fragHdr(ProtoUDP, 0, true), udpHdr(1, 2))),
		v6(packet.ProtoFragment, cat(fragHdr(ProtoUDP, 100, false), udpHdr(1, 2))),
		ipv4Options(),
		packet.EthernetFrame(macA, macB, EthTypeMPLS, []byte{0, 6, 0x40, 0x40, 0, 7, 0x41, 0x40}),
		packet.EthernetFrame(macA, macB, 0x0030, cat([]byte{0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00}, tcp4[14:])),
	}
}

// FuzzExtract feeds arbitrary frames to Extract: it must not panic, and the
// key must be consistent with itself, with the offsets, and with a second
// extraction into a dirty key.
func FuzzExtract(f *testing.F) {
	for _, fr := range seedFrames() {
		f.Add(fr)
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		var k Key
		off := Extract(frame, 3, &k)
		checkKey(t, frame, &k, off)
		var dirty Key
		for i := range dirty.Words() {
			dirty.Words()[i] = 0x5555555555555555
		}
		off2 := Extract(frame, 3, &dirty)
		dirty.Metadata, dirty.TunID, dirty.Regs = 0, 0, [NumRegs]uint32{}
		dirty.PktMark, dirty.CtMark, dirty.CtState, dirty.CtZone = 0, 0, 0, 0
		if dirty != k || off2 != off {
			t.Fatalf("Extract into a reused key differs:\n%+v\n%+v", dirty, k)
		}
	})
}

// checkKey asserts the invariants every extracted key satisfies.
func checkKey(t *testing.T, frame []byte, k *Key, off Offsets) {
	t.Helper()
	ipv4, ipv6 := k.DlType == EthTypeIPv4, k.DlType == EthTypeIPv6
	isARP := k.DlType == EthTypeARP || k.DlType == packet.EtherTypeRARP
	isMPLS := k.DlType == EthTypeMPLS || k.DlType == EthTypeMPLSMcast
	l4proto := map[uint8]bool{ProtoTCP: true, ProtoUDP: true, ProtoSCTP: true, ProtoICMP: true, ProtoICMPv6: true, packet.ProtoIGMP: true}
	switch {
	case k.InPort != 3:
		t.Fatalf("InPort = %d, want 3", k.InPort)
	case len(frame) < 14 && (*k != Key{InPort: 3}):
		t.Fatalf("runt frame gave %+v", k)
	case k.VlanTCI != 0 && k.VlanTCI&VlanCFI == 0:
		t.Fatalf("VlanTCI %#x without CFI", k.VlanTCI)
	case len(frame) >= 14 && k.DlType < 0x600 && k.DlType != EthTypeNone:
		t.Fatalf("DlType %#x is a length", k.DlType)
	case (k.TpSrc != 0 || k.TpDst != 0) && (!(ipv4 || ipv6) || !l4proto[k.NwProto] || k.NwFrag&FragLater != 0):
		t.Fatalf("ports %d/%d with dl_type %#x nw_proto %d frag %d", k.TpSrc, k.TpDst, k.DlType, k.NwProto, k.NwFrag)
	case k.TCPFlags != 0 && (k.NwProto != ProtoTCP || k.TCPFlags > 0xfff):
		t.Fatalf("tcp_flags %#x with nw_proto %d", k.TCPFlags, k.NwProto)
	case (k.NwSrc != [4]byte{} || k.NwDst != [4]byte{}) && !ipv4 && !isARP:
		t.Fatalf("nw_src/dst set with dl_type %#x", k.DlType)
	case (k.IPv6Src != [16]byte{} || k.IPv6Dst != [16]byte{} || k.IPv6Label != 0) && !ipv6:
		t.Fatalf("IPv6 fields set with dl_type %#x", k.DlType)
	case k.IPv6Label > 0xfffff:
		t.Fatalf("ipv6_label %#x wider than 20 bits", k.IPv6Label)
	case (k.ArpSha != [6]byte{} || k.ArpTha != [6]byte{}) && !isARP && !(ipv6 && k.NwProto == ProtoICMPv6):
		t.Fatalf("arp_sha/tha set with dl_type %#x nw_proto %d", k.DlType, k.NwProto)
	case k.MplsLSE != 0 && !isMPLS:
		t.Fatalf("mpls_lse set with dl_type %#x", k.DlType)
	case k.NwFrag != 0 && k.NwFrag != FragAny && k.NwFrag != FragAny|FragLater:
		t.Fatalf("nw_frag %d", k.NwFrag)
	case (k.NwTos != 0 || k.NwTTL != 0 || k.NwFrag != 0) && !ipv4 && !ipv6:
		t.Fatalf("IP fields set with dl_type %#x", k.DlType)
	case off.HasL3() && int(off.L3) > len(frame):
		t.Fatalf("L3 offset %d beyond frame of %d", off.L3, len(frame))
	case off.HasL4() && (!off.HasL3() || off.L4 <= off.L3 || int(off.L4) > len(frame) || !(ipv4 || ipv6)):
		t.Fatalf("L4 offset %d with L3 %d, frame %d, dl_type %#x", off.L4, off.L3, len(frame), k.DlType)
	case off.MPLS != OffsetNone && !isMPLS:
		t.Fatalf("MPLS offset with dl_type %#x", k.DlType)
	}
}
