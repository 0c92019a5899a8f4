package link

import (
	"encoding/binary"
	"errors"
	"io/fs"
	"net/netip"
	"strings"
	"testing"
)

// vethNS makes a veth pair: root in this namespace (up), peer moved into a
// new namespace ns with address addr/24, up.
func vethNS(t *testing.T, root, peer, ns, addr string) {
	t.Helper()
	netns(t, ns)
	delLink(t, root, "")
	run(t, "ip", "link", "add", root, "type", "veth", "peer", "name", peer)
	run(t, "ip", "link", "set", peer, "netns", ns)
	run(t, "ip", "-n", ns, "addr", "add", addr+"/24", "dev", peer)
	run(t, "ip", "-n", ns, "link", "set", peer, "up")
	run(t, "ip", "link", "set", root, "up")
}

func TestPacketVeth(t *testing.T) {
	needRoot(t)
	vethNS(t, "tpd-v0", "tpd-v0p", "tpd-ns1", "10.201.1.1")
	p, err := OpenPacket("tpd-v0")
	if err != nil {
		t.Fatalf("OpenPacket(tpd-v0): %v", err)
	}
	defer p.Close()
	if p.Name() != "tpd-v0" || p.MTU() != 1500 {
		t.Errorf("Name, MTU = %q, %d; want tpd-v0, 1500", p.Name(), p.MTU())
	}
	pingThrough(t, p, netip.MustParseAddr("10.201.1.1"), netip.MustParseAddr("10.201.1.2"))
	st := p.Stats()
	// Our own two transmissions must not come back as received frames:
	// the only frames read are the kernel's replies (and perhaps its own
	// ARP probes), never a frame with our source MAC.
	if st.TxPackets < 2 || st.RxPackets < 2 || st.TxErrors != 0 {
		t.Errorf("Stats() = %+v, want >= 2 tx, >= 2 rx, no errors", st)
	}
	// PACKET_MR_PROMISC raises the promiscuity count, not IFF_PROMISC.
	if out := run(t, "ip", "-d", "link", "show", "tpd-v0"); !strings.Contains(out, "promiscuity 1") {
		t.Errorf("tpd-v0 not promiscuous while open:\n%s", out)
	}
}

// TestPacketIgnoresOutgoing checks that frames transmitted on the
// interface by someone else (here a second socket; in life the host's own
// stack) are not read as if received. The kernel never loops a frame back
// to the socket that sent it, so a second socket is needed to see the
// difference.
func TestPacketIgnoresOutgoing(t *testing.T) {
	needRoot(t)
	vethNS(t, "tpd-v1", "tpd-v1p", "tpd-ns2", "10.201.2.1")
	p, err := OpenPacket("tpd-v1")
	if err != nil {
		t.Fatalf("OpenPacket: %v", err)
	}
	defer p.Close()
	other, err := OpenPacket("tpd-v1")
	if err != nil {
		t.Fatalf("second OpenPacket: %v", err)
	}
	defer other.Close()
	// Wait until the veth carries frames at all.
	self, addr := netip.MustParseAddr("10.201.2.2"), netip.MustParseAddr("10.201.2.1")
	pingThrough(t, p, addr, self)
	// An ARP request for an address nobody has: the kernel never answers,
	// so anything read with our source MAC is an outgoing frame.
	req := arpRequest(testMAC, netip.MustParseAddr("10.201.2.2"), netip.MustParseAddr("10.201.2.77"))
	if _, err := other.Write([][]byte{req, req, req}); err != nil {
		t.Fatalf("Write: %v", err)
	}
	// Then one the kernel does answer; every frame read until its reply
	// must come from the kernel, not be one of ours.
	if _, err := p.Write([][]byte{arpRequest(testMAC, self, addr)}); err != nil {
		t.Fatalf("Write: %v", err)
	}
	await(t, p, "ARP reply", func(f []byte) bool {
		if len(f) >= 12 && [6]byte(f[6:12]) == testMAC {
			t.Errorf("read our own frame back: % x", f)
		}
		_, ok := isARPReply(f, addr, testMAC)
		return ok
	})
}

// TestPacketPartialChecksum has the namespace's kernel send a UDP datagram
// through the veth with tx checksumming on (veth's default), so it arrives
// CHECKSUM_PARTIAL; Read must hand out a frame with a correct checksum.
func TestPacketPartialChecksum(t *testing.T) {
	needRoot(t)
	const ns = "tpd-ns3"
	vethNS(t, "tpd-v3", "tpd-v3p", ns, "10.201.3.1")
	p, err := OpenPacket("tpd-v3")
	if err != nil {
		t.Fatalf("OpenPacket: %v", err)
	}
	defer p.Close()
	// Wait until the veth carries frames at all.
	pingThrough(t, p, netip.MustParseAddr("10.201.3.1"), netip.MustParseAddr("10.201.3.2"))
	run(t, "ip", "-n", ns, "neigh", "add", "10.201.3.9", "lladdr", "02:00:00:7d:00:01", "dev", "tpd-v3p")
	run(t, "ip", "netns", "exec", ns, "python3", "-c",
		`import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.sendto(b"tapestry partial checksum test", ("10.201.3.9", 9999))`)
	f := await(t, p, "UDP datagram to 10.201.3.9:9999", func(f []byte) bool {
		return len(f) > 42 && binary.BigEndian.Uint16(f[12:]) == 0x0800 && f[23] == ipProtoUDP && binary.BigEndian.Uint16(f[36:]) == 9999
	})
	if !udpChecksumOK(f[14:]) {
		t.Errorf("UDP checksum of received frame is wrong: % x", f)
	}
	if p.ChecksumsCompleted() == 0 {
		t.Errorf("ChecksumsCompleted() = 0; the veth should have sent a partial checksum")
	}
}

// udpChecksumOK verifies an IPv4 UDP datagram's checksum with its
// pseudo-header (RFC 768).
func udpChecksumOK(ip []byte) bool {
	ihl := int(ip[0]&0xf) * 4
	total := int(binary.BigEndian.Uint16(ip[2:]))
	udp := ip[ihl:total]
	pseudo := make([]byte, 0, 12+len(udp))
	pseudo = append(pseudo, ip[12:20]...)
	pseudo = append(pseudo, 0, ipProtoUDP)
	pseudo = binary.BigEndian.AppendUint16(pseudo, uint16(len(udp)))
	return csum(append(pseudo, udp...)) == 0
}

func TestPacketCloseUnblocksRead(t *testing.T) {
	needRoot(t)
	vethNS(t, "tpd-v4", "tpd-v4p", "tpd-ns4", "10.201.4.1")
	p, err := OpenPacket("tpd-v4")
	if err != nil {
		t.Fatalf("OpenPacket: %v", err)
	}
	// Silence the namespace so no frame arrives to end the Read early.
	run(t, "ip", "-n", "tpd-ns4", "link", "set", "tpd-v4p", "down")
	errc := make(chan error)
	go func() {
		bufs, sizes := readBufs(4)
		for {
			_, err := p.Read(bufs, sizes, 0)
			if err != nil {
				errc <- err
				return
			}
		}
	}()
	p.Close()
	if err := <-errc; !errors.Is(err, ErrClosed) {
		t.Errorf("Read after Close = %v, want ErrClosed", err)
	}
	if _, err := p.Write([][]byte{make([]byte, 60)}); !errors.Is(err, ErrClosed) {
		t.Errorf("Write after Close = %v, want ErrClosed", err)
	}
}

func TestPacketErrors(t *testing.T) {
	needRoot(t)
	tests := []struct {
		name string
		want string
		is   error
	}{
		{"tpd-missing", `no interface "tpd-missing"`, fs.ErrNotExist},
		{"tpd-name-too-long", "longer than the kernel's limit", nil},
		{"a/b", "invalid interface name", nil},
	}
	for _, tc := range tests {
		p, err := OpenPacket(tc.name)
		if err == nil {
			p.Close()
			t.Errorf("OpenPacket(%q) succeeded, want error containing %q", tc.name, tc.want)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) || (tc.is != nil && !errors.Is(err, tc.is)) {
			t.Errorf("OpenPacket(%q) = %v, want error containing %q", tc.name, err, tc.want)
		}
	}
}

func TestPacketWriteErrors(t *testing.T) {
	needRoot(t)
	vethNS(t, "tpd-v5", "tpd-v5p", "tpd-ns5", "10.201.5.1")
	p, err := OpenPacket("tpd-v5")
	if err != nil {
		t.Fatalf("OpenPacket: %v", err)
	}
	defer p.Close()
	ok := arpRequest(testMAC, netip.MustParseAddr("10.201.5.2"), netip.MustParseAddr("10.201.5.1"))
	huge := make([]byte, 4000)
	copy(huge, ok)
	n, err := p.Write([][]byte{ok, huge, ok})
	if n != 2 || err == nil || !strings.Contains(err.Error(), "4000 bytes") {
		t.Errorf("Write(ok, 4000-byte frame, ok) = %d, %v; want 2 and an error naming the 4000-byte frame", n, err)
	}
	if st := p.Stats(); st.TxErrors != 1 || st.TxPackets != 2 {
		t.Errorf("Stats() = %+v, want 1 tx error, 2 tx", st)
	}
}
