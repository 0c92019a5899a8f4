package link

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// Test kit for the kernel-backed links: a few hand-built frames and helpers
// that make namespaces and devices and remove them again. The packet
// package has the real builders; link does not depend on it.

var testMAC = [6]byte{0x02, 0x00, 0x00, 0x7d, 0x00, 0x01} // locally administered

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
}

// run runs a command and fails the test on error, showing its output.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// netns creates a network namespace and removes it when the test ends.
func netns(t *testing.T, name string) {
	t.Helper()
	exec.Command("ip", "netns", "del", name).Run() // left over from a killed run
	run(t, "ip", "netns", "add", name)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
	run(t, "ip", "-n", name, "link", "set", "lo", "up")
	// No IPv6 chatter (router solicitations, MLD) to sift through.
	run(t, "ip", "netns", "exec", name, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
}

// delLink removes a device by name when the test ends, wherever it is.
func delLink(t *testing.T, name string, ns string) {
	t.Helper()
	exec.Command("ip", "link", "del", name).Run()
	t.Cleanup(func() {
		exec.Command("ip", "link", "del", name).Run()
		if ns != "" {
			exec.Command("ip", "-n", ns, "link", "del", name).Run()
		}
	})
}

func csum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	return ^uint16(s)
}

func ethHeader(dst, src [6]byte, typ uint16) []byte {
	b := make([]byte, 14, 98)
	copy(b, dst[:])
	copy(b[6:], src[:])
	binary.BigEndian.PutUint16(b[12:], typ)
	return b
}

// arpRequest is a broadcast who-has tip from (src, sip), RFC 826.
func arpRequest(src [6]byte, sip, tip netip.Addr) []byte {
	b := ethHeader([6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, src, 0x0806)
	b = binary.BigEndian.AppendUint16(b, 1)      // htype Ethernet
	b = binary.BigEndian.AppendUint16(b, 0x0800) // ptype IPv4
	b = append(b, 6, 4)
	b = binary.BigEndian.AppendUint16(b, 1) // request
	b = append(b, src[:]...)
	b = append(b, sip.AsSlice()...)
	b = append(b, make([]byte, 6)...)
	return append(b, tip.AsSlice()...)
}

// isARPReply reports whether f is an ARP reply telling tha that sip is at
// some MAC, and returns that MAC.
func isARPReply(f []byte, sip netip.Addr, tha [6]byte) ([6]byte, bool) {
	var mac [6]byte
	if len(f) < 42 || binary.BigEndian.Uint16(f[12:]) != 0x0806 || binary.BigEndian.Uint16(f[20:]) != 2 {
		return mac, false
	}
	if !bytes.Equal(f[28:32], sip.AsSlice()) || !bytes.Equal(f[32:38], tha[:]) {
		return mac, false
	}
	copy(mac[:], f[22:28])
	return mac, true
}

// icmpEcho is an ICMP echo request with identifier id and sequence 1.
func icmpEcho(dst, src [6]byte, sip, dip netip.Addr, id uint16) []byte {
	b := ethHeader(dst, src, 0x0800)
	ip := []byte{0x45, 0, 0, 84, 0, 0, 0x40, 0, 64, 1, 0, 0}
	binary.BigEndian.PutUint16(ip[4:], id)
	ip = append(ip, sip.AsSlice()...)
	ip = append(ip, dip.AsSlice()...)
	binary.BigEndian.PutUint16(ip[10:], csum(ip))
	icmp := make([]byte, 64)
	icmp[0] = 8
	binary.BigEndian.PutUint16(icmp[4:], id)
	binary.BigEndian.PutUint16(icmp[6:], 1)
	copy(icmp[8:], "tapestry link test payload")
	binary.BigEndian.PutUint16(icmp[2:], csum(icmp))
	return append(append(b, ip...), icmp...)
}

// isEchoReply reports whether f is an IPv4 ICMP echo reply from sip with
// identifier id and correct checksums.
func isEchoReply(f []byte, sip netip.Addr, id uint16) bool {
	if len(f) < 14+20+8 || binary.BigEndian.Uint16(f[12:]) != 0x0800 {
		return false
	}
	ip := f[14:]
	ihl := int(ip[0]&0xf) * 4
	if ip[9] != 1 || !bytes.Equal(ip[12:16], sip.AsSlice()) || csum(ip[:ihl]) != 0 {
		return false
	}
	icmp := ip[ihl:binary.BigEndian.Uint16(ip[2:])]
	return icmp[0] == 0 && binary.BigEndian.Uint16(icmp[4:]) == id && csum(icmp) == 0
}

// deadliner is a link whose Read can time out, so a broken test fails
// instead of hanging.
type deadliner interface {
	Link
	SetReadDeadline(time.Time) error
}

// await reads from l until match accepts a frame, giving up after a few
// seconds.
func await(t *testing.T, l deadliner, what string, match func([]byte) bool) []byte {
	t.Helper()
	f, err := tryAwait(l, 5*time.Second, match)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("%s: no %s within 5s", l.Name(), what)
	}
	if err != nil {
		t.Fatalf("%s: Read: %v", l.Name(), err)
	}
	return f
}

func tryAwait(l deadliner, d time.Duration, match func([]byte) bool) ([]byte, error) {
	l.SetReadDeadline(time.Now().Add(d))
	defer l.SetReadDeadline(time.Time{})
	bufs, sizes := readBufs(BatchSize)
	for {
		n, err := l.Read(bufs, sizes, Headroom)
		if err != nil {
			return nil, err
		}
		for i := 0; i < n; i++ {
			if f := bufs[i][Headroom : Headroom+sizes[i]]; match(f) {
				return append([]byte(nil), f...), nil
			}
		}
	}
}

// pingThrough checks that l reaches the kernel stack behind it: the
// kernel answers an ARP request for addr and then an ICMP echo request.
func pingThrough(t *testing.T, l deadliner, addr, self netip.Addr) {
	t.Helper()
	// A veth just set up drops frames until the kernel's linkwatch has
	// seen its carrier and attached a qdisc, which under load takes a
	// while: ask again until answered.
	var kmac [6]byte
	for try := 0; ; try++ {
		if _, err := l.Write([][]byte{arpRequest(testMAC, self, addr)}); err != nil {
			t.Fatalf("%s: Write ARP request: %v", l.Name(), err)
		}
		_, err := tryAwait(l, 500*time.Millisecond, func(f []byte) bool {
			mac, ok := isARPReply(f, addr, testMAC)
			kmac = mac
			return ok
		})
		if err == nil {
			break
		}
		if !errors.Is(err, os.ErrDeadlineExceeded) || try == 10 {
			t.Fatalf("%s: no ARP reply for %s: %v", l.Name(), addr, err)
		}
	}
	const id = 0x7d01
	if _, err := l.Write([][]byte{icmpEcho(kmac, testMAC, self, addr, id)}); err != nil {
		t.Fatalf("%s: Write echo request: %v", l.Name(), err)
	}
	await(t, l, "echo reply from "+addr.String(), func(f []byte) bool { return isEchoReply(f, addr, id) })
}
