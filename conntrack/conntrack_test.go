package conntrack

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"tapestry/flow"
	"tapestry/packet"
)

var (
	macA = packet.MustMAC("02:00:00:00:00:0a")
	macB = packet.MustMAC("02:00:00:00:00:0b")
)

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }
func ip(s string) netip.Addr     { return netip.MustParseAddr(s) }

// pkt is a frame with its key and offsets.
type pkt struct {
	frame []byte
	key   flow.Key
	off   flow.Offsets
}

func parse(frame []byte) *pkt {
	p := &pkt{frame: frame}
	p.off = flow.Extract(frame, 0, &p.key)
	return p
}

func (p *pkt) l4() []byte { return p.frame[p.off.L4:] }

func tcp(src, dst string, flags uint16) *pkt {
	return parse(packet.TCPSegment(macA, macB, ap(src), ap(dst), flags, nil))
}

func udp(src, dst string) *pkt {
	return parse(packet.UDPDatagram(macA, macB, ap(src), ap(dst), []byte("x")))
}

func echo(src, dst string, id uint16, reply bool) *pkt {
	return parse(packet.ICMPEcho(macA, macB, ip(src), ip(dst), id, 1, nil, reply))
}

// icmpErr builds an ICMP error of type/code from src to dst quoting orig.
func icmpErr(src, dst string, typ, code uint8, orig *pkt) *pkt {
	quoted := orig.frame[orig.off.L3:]
	body := make([]byte, 8+len(quoted))
	body[0], body[1] = typ, code
	copy(body[8:], quoted)
	ipb := packet.IPv4Datagram(ip(src), ip(dst), packet.ProtoICMP, body)
	return parse(packet.IPFrame(macA, macB, ipb))
}

const sec = int64(time.Second)

func track(t *testing.T, tb *Table, p *pkt, now int64) (*Conn, Info) {
	t.Helper()
	c, info := tb.Track(&p.key, p.l4(), 0, now)
	if c != nil && info == InfoNew {
		tb.Confirm(c, now)
	}
	return c, info
}

func TestTCPHandshakeAndClose(t *testing.T) {
	tb := New(0)
	steps := []struct {
		p     *pkt
		info  Info
		state TCPState
	}{
		{tcp("10.0.0.1:40000", "10.0.0.2:80", packet.TCPFlagSYN), InfoNew, TCPSynSent},
		{tcp("10.0.0.2:80", "10.0.0.1:40000", packet.TCPFlagSYN|packet.TCPFlagACK), InfoEstablishedReply, TCPSynRecv},
		{tcp("10.0.0.1:40000", "10.0.0.2:80", packet.TCPFlagACK), InfoEstablished, TCPEstablished},
		{tcp("10.0.0.1:40000", "10.0.0.2:80", packet.TCPFlagACK|packet.TCPFlagPSH), InfoEstablished, TCPEstablished},
		{tcp("10.0.0.1:40000", "10.0.0.2:80", packet.TCPFlagFIN|packet.TCPFlagACK), InfoEstablished, TCPFinWait},
		{tcp("10.0.0.2:80", "10.0.0.1:40000", packet.TCPFlagACK), InfoEstablishedReply, TCPCloseWait},
		{tcp("10.0.0.2:80", "10.0.0.1:40000", packet.TCPFlagFIN|packet.TCPFlagACK), InfoEstablishedReply, TCPLastAck},
		{tcp("10.0.0.1:40000", "10.0.0.2:80", packet.TCPFlagACK), InfoEstablished, TCPTimeWait},
	}
	var c *Conn
	for i, s := range steps {
		var info Info
		c, info = track(t, tb, s.p, sec)
		if info != s.info || c == nil || c.TCPState() != s.state {
			t.Fatalf("step %d: info %d state %v, want %d %v", i, info, c.TCPState(), s.info, s.state)
		}
	}
	if c.Status()&StatusAssured == 0 {
		t.Errorf("connection not ASSURED after the handshake")
	}
	if got := c.Expires() - sec; got != int64(TimeoutTCP[TCPTimeWait]) {
		t.Errorf("TIME_WAIT timeout %v, want %v", time.Duration(got), TimeoutTCP[TCPTimeWait])
	}
}

func TestInvalid(t *testing.T) {
	tb := New(0)
	tests := []struct {
		name string
		p    *pkt
	}{
		{"SYN/ACK without SYN", tcp("10.0.0.2:80", "10.0.0.1:40000", packet.TCPFlagSYN|packet.TCPFlagACK)},
		{"RST without connection", tcp("10.0.0.2:80", "10.0.0.1:40000", packet.TCPFlagRST)},
		{"echo reply without request", echo("10.0.0.2", "10.0.0.1", 7, true)},
		{"ICMP error about nothing", icmpErr("10.0.0.9", "10.0.0.1", 3, 3, udp("10.0.0.1:1", "10.0.0.2:2"))},
	}
	for _, tt := range tests {
		if c, info := tb.Track(&tt.p.key, tt.p.l4(), 0, sec); info != InfoInvalid || c != nil {
			t.Errorf("%s: info %d, want INVALID", tt.name, info)
		}
	}
	// A second SYN/ACK from the wrong side is invalid for SYN_SENT.
	track(t, tb, tcp("10.0.0.1:1", "10.0.0.2:2", packet.TCPFlagSYN), sec)
	p := tcp("10.0.0.1:1", "10.0.0.2:2", packet.TCPFlagSYN|packet.TCPFlagACK)
	if _, info := tb.Track(&p.key, p.l4(), 0, sec); info != InfoInvalid {
		t.Errorf("SYN/ACK in the original direction: info %d, want INVALID", info)
	}
}

func TestUDPAndICMP(t *testing.T) {
	tb := New(0)
	c, info := track(t, tb, udp("10.0.0.1:5000", "10.0.0.2:53"), sec)
	if info != InfoNew || c.Expires() != sec+int64(TimeoutUDP) {
		t.Fatalf("udp first: info %d expires %d", info, c.Expires())
	}
	if _, info = track(t, tb, udp("10.0.0.1:5000", "10.0.0.2:53"), sec); info != InfoNew {
		t.Errorf("udp second packet before reply: info %d, want NEW", info)
	}
	if _, info = track(t, tb, udp("10.0.0.2:53", "10.0.0.1:5000"), 2*sec); info != InfoEstablishedReply {
		t.Errorf("udp reply: info %d", info)
	}
	if _, info = track(t, tb, udp("10.0.0.1:5000", "10.0.0.2:53"), 3*sec); info != InfoEstablished || c.Expires() != 3*sec+int64(TimeoutUDPStream) {
		t.Errorf("udp after reply: info %d expires %d", info, c.Expires())
	}
	// ICMP: the echo id is the flow's "port"; errors are RELATED.
	req := echo("10.0.0.1", "10.0.0.2", 77, false)
	ic, info := track(t, tb, req, sec)
	if info != InfoNew {
		t.Fatalf("echo request: %d", info)
	}
	if c2, info := track(t, tb, echo("10.0.0.2", "10.0.0.1", 77, true), sec); info != InfoEstablishedReply || c2 != ic {
		t.Errorf("echo reply: %d", info)
	}
	if _, info := track(t, tb, echo("10.0.0.2", "10.0.0.1", 78, true), sec); info != InfoInvalid {
		t.Errorf("echo reply with another id: %d", info)
	}
	// A port unreachable from the server about the UDP flow is RELATED
	// in the reply direction; one from a router on the way likewise.
	orig := udp("10.0.0.1:5000", "10.0.0.2:53")
	for _, from := range []string{"10.0.0.2", "192.0.2.1"} {
		e := icmpErr(from, "10.0.0.1", 3, 3, orig)
		if got, info := track(t, tb, e, sec); info != InfoRelatedReply || got != c {
			t.Errorf("ICMP error from %s: info %d", from, info)
		}
	}
}

func TestExpireAndFull(t *testing.T) {
	tb := New(2)
	track(t, tb, udp("10.0.0.1:1", "10.0.0.2:2"), sec)
	track(t, tb, udp("10.0.0.1:3", "10.0.0.2:4"), sec)
	p := udp("10.0.0.1:5", "10.0.0.2:6")
	if _, info := tb.Track(&p.key, p.l4(), 0, sec); info != InfoFull {
		t.Fatalf("third connection in a table of 2: info %d, want InfoFull", info)
	}
	if tb.Drops()[ReasonTableFull] != 1 {
		t.Errorf("full drop not counted: %v", tb.Drops())
	}
	if n := tb.Expire(sec + int64(TimeoutUDP) - 1); n != 0 {
		t.Errorf("expired %d before the timeout", n)
	}
	if n := tb.Expire(sec + int64(TimeoutUDP)); n != 2 || tb.Count() != 0 {
		t.Errorf("expired %d, count %d; want 2, 0", n, tb.Count())
	}
}

func TestZones(t *testing.T) {
	tb := New(0)
	p := udp("10.0.0.1:1", "10.0.0.2:2")
	c1, _ := tb.Track(&p.key, p.l4(), 1, sec)
	tb.Confirm(c1, sec)
	c2, info := tb.Track(&p.key, p.l4(), 2, sec)
	if info != InfoNew || c2 == c1 {
		t.Errorf("same tuple in another zone is not a new connection")
	}
}

func TestListFormat(t *testing.T) {
	tb := New(0)
	track(t, tb, tcp("10.0.0.1:40000", "10.0.0.2:80", packet.TCPFlagSYN), 0)
	track(t, tb, tcp("10.0.0.2:80", "10.0.0.1:40000", packet.TCPFlagSYN|packet.TCPFlagACK), 0)
	c, _ := track(t, tb, tcp("10.0.0.1:40000", "10.0.0.2:80", packet.TCPFlagACK), 0)
	c.SetMark(0)
	track(t, tb, udp("10.0.0.1:5000", "10.0.0.3:53"), 0)
	track(t, tb, echo("10.0.0.1", "10.0.0.4", 9, false), 0)
	lines, summary := tb.Dump(nil, sec)
	want := []string{
		"udp      17 29 src=10.0.0.1 dst=10.0.0.3 sport=5000 dport=53 [UNREPLIED] src=10.0.0.3 dst=10.0.0.1 sport=53 dport=5000 mark=0 use=1",
		"tcp      6 431999 ESTABLISHED src=10.0.0.1 dst=10.0.0.2 sport=40000 dport=80 src=10.0.0.2 dst=10.0.0.1 sport=80 dport=40000 [ASSURED] mark=0 use=1",
		"icmp     1 29 src=10.0.0.1 dst=10.0.0.4 type=8 code=0 id=9 [UNREPLIED] src=10.0.0.4 dst=10.0.0.1 type=0 code=0 id=9 mark=0 use=1",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("conntrack -L:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	if summary != "conntrack v1.4.7 (conntrack-tools): 3 flow entries have been shown." {
		t.Errorf("summary %q", summary)
	}
	if n := tb.Delete(&Filter{Proto: packet.ProtoUDP}, sec); n != 1 || tb.Count() != 2 {
		t.Errorf("-D -p udp deleted %d, %d left", n, tb.Count())
	}
	if n := tb.Flush(); n != 2 || tb.Count() != 0 {
		t.Errorf("-F flushed %d", n)
	}
}

func TestEvents(t *testing.T) {
	tb := New(0)
	ch := make(chan Event, 8)
	tb.Subscribe(ch)
	track(t, tb, tcp("10.0.0.1:40000", "10.0.0.2:80", packet.TCPFlagSYN), 0)
	track(t, tb, tcp("10.0.0.2:80", "10.0.0.1:40000", packet.TCPFlagSYN|packet.TCPFlagACK), 0)
	tb.Flush()
	want := []string{
		"    [NEW] tcp      6 120 SYN_SENT src=10.0.0.1 dst=10.0.0.2 sport=40000 dport=80 [UNREPLIED] src=10.0.0.2 dst=10.0.0.1 sport=80 dport=40000 mark=0 use=1",
		" [UPDATE] tcp      6 60 SYN_RECV src=10.0.0.1 dst=10.0.0.2 sport=40000 dport=80 src=10.0.0.2 dst=10.0.0.1 sport=80 dport=40000 mark=0 use=1",
		"[DESTROY] tcp      6 SYN_RECV src=10.0.0.1 dst=10.0.0.2 sport=40000 dport=80 src=10.0.0.2 dst=10.0.0.1 sport=80 dport=40000 mark=0 use=1",
	}
	for i, w := range want {
		select {
		case e := <-ch:
			if e.Line != w {
				t.Errorf("event %d:\n got %q\nwant %q", i, e.Line, w)
			}
		default:
			t.Fatalf("event %d missing", i)
		}
	}
}
