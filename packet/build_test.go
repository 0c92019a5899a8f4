package packet

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

var (
	macA = MustMAC("02:00:00:00:00:0a")
	macB = MustMAC("02:00:00:00:00:0b")
)

func ip(s string) netip.Addr     { return netip.MustParseAddr(s) }
func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

// decode decodes frame with gopacket, the independent oracle, and fails the
// test on a decoding error or any checksum that does not verify.
func decode(t *testing.T, frame []byte) gopacket.Packet {
	t.Helper()
	p := gopacketNew(frame)
	if el := p.ErrorLayer(); el != nil {
		t.Fatalf("gopacket: %v\n%s", el.Error(), p.Dump())
	}
	bad, err := verifyChecksums(p)
	if err != nil {
		t.Fatalf("gopacket VerifyChecksums: %v", err)
	}
	if len(bad) > 0 {
		t.Fatalf("gopacket: bad checksums %+v\n%s", bad, p.Dump())
	}
	return p
}

func layerTypes(p gopacket.Packet) []string {
	var out []string
	for _, l := range p.Layers() {
		out = append(out, l.LayerType().String())
	}
	return out
}

func TestBuildersDecode(t *testing.T) {
	tests := []struct {
		name  string
		frame []byte
		want  []string
	}{
		{"arp request", ARPRequest(macA, ip("10.0.0.1"), ip("10.0.0.2")), []string{"Ethernet", "ARP"}},
		{"arp reply", ARPReply(macB, ip("10.0.0.2"), macA, ip("10.0.0.1")), []string{"Ethernet", "ARP"}},
		{"icmp echo", ICMPEcho(macA, macB, ip("10.0.0.1"), ip("10.0.0.2"), 7, 1, []byte("ping"), false), []string{"Ethernet", "IPv4", "ICMPv4", "Payload"}},
		{"icmp reply", ICMPEcho(macA, macB, ip("10.0.0.1"), ip("10.0.0.2"), 7, 1, nil, true), []string{"Ethernet", "IPv4", "ICMPv4"}},
		{"icmpv6 echo", ICMPEcho(macA, macB, ip("fd00::1"), ip("fd00::2"), 7, 1, []byte("ping6"), false), []string{"Ethernet", "IPv6", "ICMPv6", "ICMPv6Echo", "Payload"}},
		{"tcp syn", TCPSegment(macA, macB, ap("10.0.0.1:1234"), ap("10.0.0.2:80"), TCPFlagSYN, nil), []string{"Ethernet", "IPv4", "TCP"}},
		{"tcp data", TCPSegment(macA, macB, ap("10.0.0.1:1234"), ap("10.0.0.2:80"), TCPFlagACK|TCPFlagPSH, []byte("GET / HTTP/1.0\r\n\r\n")), []string{"Ethernet", "IPv4", "TCP", "Payload"}},
		{"tcp odd payload", TCPSegment(macA, macB, ap("10.0.0.1:1"), ap("10.0.0.2:2"), TCPFlagACK, []byte("odd")), []string{"Ethernet", "IPv4", "TCP", "Payload"}},
		{"tcp6", TCPSegment(macA, macB, ap("[fd00::1]:1234"), ap("[fd00::2]:443"), TCPFlagSYN|TCPFlagACK, nil), []string{"Ethernet", "IPv6", "TCP"}},
		{"udp", UDPDatagram(macA, macB, ap("10.0.0.1:4000"), ap("10.0.0.2:4001"), []byte("query")), []string{"Ethernet", "IPv4", "UDP", "Payload"}},
		{"udp6", UDPDatagram(macA, macB, ap("[fd00::1]:4000"), ap("[fd00::2]:4001"), []byte("x")), []string{"Ethernet", "IPv6", "UDP", "Payload"}},
		{"vlan tcp", Tagged(TCPSegment(macA, macB, ap("10.0.0.1:1"), ap("10.0.0.2:2"), TCPFlagSYN, nil), 0x2064), []string{"Ethernet", "Dot1Q", "IPv4", "TCP"}},
		{"qinq", TaggedTPID(Tagged(UDPDatagram(macA, macB, ap("10.0.0.1:1"), ap("10.0.0.2:2"), nil), 10), EtherTypeQinQ, 20), []string{"Ethernet", "Dot1Q", "Dot1Q", "IPv4", "UDP"}},
		{"neighbor solicitation", NeighborSolicitation(macA, ip("fd00::1"), ip("fd00::2")), []string{"Ethernet", "IPv6", "ICMPv6", "ICMPv6NeighborSolicitation"}},
		{"neighbor advertisement", NeighborAdvertisement(macB, macA, ip("fd00::2"), ip("fd00::1")), []string{"Ethernet", "IPv6", "ICMPv6", "ICMPv6NeighborAdvertisement"}},
		{"sctp", SCTPPacket(macA, macB, ap("10.0.0.1:5000"), ap("10.0.0.2:5001"), 1, nil), []string{"Ethernet", "IPv4", "SCTP"}},
		{"padded arp", Pad(ARPRequest(macA, ip("10.0.0.1"), ip("10.0.0.2"))), []string{"Ethernet", "ARP", "Payload"}},
	}
	for _, tt := range tests {
		p := decode(t, tt.frame)
		if got := layerTypes(p); !slices.Equal(got, tt.want) {
			t.Errorf("%s: gopacket layers %v, want %v", tt.name, got, tt.want)
		}
		if eth := p.Layer(layers.LayerTypeEthernet).(*layers.Ethernet); MAC(eth.SrcMAC) != Ethernet(tt.frame).Src() {
			t.Errorf("%s: gopacket src MAC %v, want %x", tt.name, eth.SrcMAC, Ethernet(tt.frame).Src())
		}
	}
}

func TestBuilderFields(t *testing.T) {
	f := TCPSegment(macA, macB, ap("10.1.2.3:1234"), ap("10.4.5.6:80"), TCPFlagSYN|TCPFlagECE, []byte("hi"))
	p := decode(t, f)
	ip4 := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
	tcp := p.Layer(layers.LayerTypeTCP).(*layers.TCP)
	if ip4.SrcIP.String() != "10.1.2.3" || ip4.DstIP.String() != "10.4.5.6" || ip4.TTL != 64 || ip4.Length != 42 {
		t.Errorf("TCPSegment IPv4 = src %v dst %v ttl %d len %d, want 10.1.2.3 10.4.5.6 64 42", ip4.SrcIP, ip4.DstIP, ip4.TTL, ip4.Length)
	}
	if tcp.SrcPort != 1234 || tcp.DstPort != 80 || !tcp.SYN || !tcp.ECE || tcp.ACK || string(tcp.Payload) != "hi" {
		t.Errorf("TCPSegment TCP = %d->%d syn %v ece %v ack %v payload %q", tcp.SrcPort, tcp.DstPort, tcp.SYN, tcp.ECE, tcp.ACK, tcp.Payload)
	}
	a := decode(t, ARPRequest(macA, ip("10.0.0.1"), ip("10.0.0.2"))).Layer(layers.LayerTypeARP).(*layers.ARP)
	if a.Operation != 1 || netip.AddrFrom4([4]byte(a.SourceProtAddress)) != ip("10.0.0.1") || netip.AddrFrom4([4]byte(a.DstProtAddress)) != ip("10.0.0.2") || MAC(a.SourceHwAddress) != macA {
		t.Errorf("ARPRequest = op %d %v %v %v", a.Operation, a.SourceHwAddress, a.SourceProtAddress, a.DstProtAddress)
	}
	ns := decode(t, NeighborSolicitation(macA, ip("fd00::1"), ip("fd00::1:2")))
	if v6 := ns.Layer(layers.LayerTypeIPv6).(*layers.IPv6); v6.DstIP.String() != "ff02::1:ff01:2" || v6.HopLimit != 255 {
		t.Errorf("NeighborSolicitation IPv6 dst %v hop limit %d, want ff02::1:ff01:2 255", v6.DstIP, v6.HopLimit)
	}
}

func gopacketNew(frame []byte) gopacket.Packet {
	return gopacket.NewPacket(frame, layers.LayerTypeEthernet, gopacket.Default)
}

// verifyChecksums tells gopacket's transport layers their network layer, which
// their pseudo-header checksums need, and verifies every checksum.
func verifyChecksums(p gopacket.Packet) ([]gopacket.ChecksumMismatch, error) {
	type pseudo interface {
		SetNetworkLayerForChecksum(gopacket.NetworkLayer) error
	}
	for _, l := range p.Layers() {
		if c, ok := l.(pseudo); ok && p.NetworkLayer() != nil {
			if err := c.SetNetworkLayerForChecksum(p.NetworkLayer()); err != nil {
				return nil, err
			}
		}
	}
	err, bad := p.VerifyChecksums()
	return bad, err
}
