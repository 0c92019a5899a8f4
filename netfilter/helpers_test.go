package netfilter_test

import (
	"net/netip"
	"testing"

	"tapestry/conntrack"
	"tapestry/flow"
	"tapestry/iptables"
	nf "tapestry/netfilter"
	"tapestry/packet"
)

var (
	macA = packet.MustMAC("02:00:00:00:00:0a")
	macB = packet.MustMAC("02:00:00:00:00:0b")
)

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }
func ip(s string) netip.Addr     { return netip.MustParseAddr(s) }

// tables builds a model from iptables command lines.
func tables(t testing.TB, cmds ...string) nf.Tables {
	t.Helper()
	ts := nf.NewTables()
	for _, c := range cmds {
		args, err := iptables.SplitLine(c)
		if err != nil {
			t.Fatalf("SplitLine(%q): %v", c, err)
		}
		cmd, err := iptables.ParseCommand(args)
		if err != nil {
			t.Fatalf("ParseCommand(%q): %v", c, err)
		}
		if _, err := iptables.Apply(&ts, cmd); err != nil {
			t.Fatalf("Apply(%q): %v", c, err)
		}
	}
	return ts
}

// fakeAddrs is a hand-written AddrProvider.
type fakeAddrs struct {
	primary map[string]netip.Addr
	local   map[netip.Addr]bool
}

func (f *fakeAddrs) PrimaryAddr(dev string) (netip.Addr, bool) {
	a, ok := f.primary[dev]
	return a, ok
}

func (f *fakeAddrs) AddrType(a netip.Addr, dev string) nf.AddrType {
	switch {
	case f.local[a]:
		return nf.AddrLocal
	case a.IsMulticast():
		return nf.AddrMulticast
	case a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return nf.AddrBroadcast
	}
	return nf.AddrUnicast
}

func newEnv() *nf.Env {
	return &nf.Env{
		Conntrack: conntrack.New(1000),
		Addrs: &fakeAddrs{
			primary: map[string]netip.Addr{"eth0": ip("10.0.0.1"), "eth1": ip("192.0.2.1")},
			local:   map[netip.Addr]bool{ip("10.0.0.1"): true, ip("192.0.2.1"): true},
		},
	}
}

func compile(t testing.TB, env *nf.Env, cmds ...string) *nf.Ruleset {
	t.Helper()
	rs, err := nf.Compile(tables(t, cmds...), env)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return rs
}

// pkt wraps a frame in a Packet with in/out interfaces.
func pkt(frame []byte, in, out string) *nf.Packet {
	p := &nf.Packet{Frame: frame, In: in, Out: out}
	p.Off = flow.Extract(frame, 0, &p.Key)
	return p
}

func tcp(src, dst string, flags uint16) []byte {
	return packet.TCPSegment(macA, macB, ap(src), ap(dst), flags, nil)
}

func udp(src, dst string) []byte {
	return packet.UDPDatagram(macA, macB, ap(src), ap(dst), []byte("hello"))
}

func icmpEcho(src, dst string, id uint16) []byte {
	return packet.ICMPEcho(macA, macB, ip(src), ip(dst), id, 1, []byte("ping"), false)
}

const (
	syn    = packet.TCPFlagSYN
	synack = packet.TCPFlagSYN | packet.TCPFlagACK
	ack    = packet.TCPFlagACK
)

func extract(frame []byte, p *nf.Packet) flow.Offsets { return flow.Extract(frame, 0, &p.Key) }
