package conntrack

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"time"

	"tapestry/packet"
)

// EventType is the kind of a conntrack event (conntrack -E).
type EventType uint8

// Event types as conntrack -E labels them.
const (
	EventNew EventType = iota
	EventUpdate
	EventDestroy
)

var eventNames = [...]string{"[NEW]", "[UPDATE]", "[DESTROY]"}

// Event is one change to the table.
type Event struct {
	Type EventType
	Conn *Conn
	// Line is the conntrack -E line, formatted when the event happened.
	Line string
}

// Subscribe sends every future event to ch without blocking: when ch is
// full the event is counted as lost, as netlink drops events under load.
// Pass nil to stop.
func (t *Table) Subscribe(ch chan Event) {
	if ch == nil {
		t.events.Store(nil)
		return
	}
	t.events.Store(&ch)
}

func (t *Table) emit(typ EventType, c *Conn, now int64) {
	p := t.events.Load()
	if p == nil {
		return
	}
	e := Event{Type: typ, Conn: c, Line: EventLine(typ, c, now)}
	select {
	case *p <- e:
	default:
		t.evDrops.Add(1)
	}
}

// EventLine formats an event as conntrack -E does: the type right-aligned
// in 9 columns, then the entry as -L prints it; DESTROY lines carry no
// timeout. now is the clock time for the remaining timeout.
func EventLine(typ EventType, c *Conn, now int64) string {
	return fmt.Sprintf("%9s %s", eventNames[typ], c.format(now, typ != EventDestroy))
}

// protoNames are conntrack-tools' protocol names.
var protoNames = map[uint8]string{packet.ProtoTCP: "tcp", packet.ProtoUDP: "udp", packet.ProtoICMP: "icmp", packet.ProtoSCTP: "sctp", protoUDPLite: "udplite", protoDCCP: "dccp", 47: "gre"}

// Line formats c as one line of conntrack -L at time now, e.g.
//
//	tcp      6 431999 ESTABLISHED src=10.0.0.1 dst=10.0.0.2 sport=40000 dport=80 src=10.0.0.2 dst=10.0.0.1 sport=80 dport=40000 [ASSURED] mark=0 use=1
func (c *Conn) Line(now int64) string { return c.format(now, true) }

func (c *Conn) format(now int64, timeout bool) string {
	var b strings.Builder
	name, ok := protoNames[c.orig.Proto]
	if !ok {
		name = "unknown"
	}
	fmt.Fprintf(&b, "%-8s %d ", name, c.orig.Proto)
	if timeout {
		left := (c.expires.Load() - now) / int64(time.Second)
		if left < 0 {
			left = 0
		}
		fmt.Fprintf(&b, "%d ", left)
	}
	st := c.status.Load()
	if c.orig.Proto == packet.ProtoTCP {
		b.WriteString(c.TCPState().String())
		b.WriteByte(' ')
	}
	b.Write(c.orig.appendTo(nil))
	if st&StatusSeenReply == 0 {
		b.WriteString(" [UNREPLIED]")
	}
	b.WriteByte(' ')
	b.Write(c.reply.appendTo(nil))
	if st&StatusAssured != 0 {
		b.WriteString(" [ASSURED]")
	}
	fmt.Fprintf(&b, " mark=%d", c.mark.Load())
	if c.zone != 0 {
		fmt.Fprintf(&b, " zone=%d", c.zone)
	}
	b.WriteString(" use=1")
	return b.String()
}

// Filter selects connections for List and Delete (conntrack -L/-D options:
// -p, -s, -d, --sport, --dport, --mark, --zone, --state). Zero fields match
// anything.
type Filter struct {
	Proto            uint8
	Src, Dst         netip.Addr // original direction
	SrcPort, DstPort uint16
	Mark             *uint32
	Zone             *uint16
	State            TCPState // TCPNone: any
}

// Match reports whether c passes the filter.
func (f *Filter) Match(c *Conn) bool {
	o := c.orig
	switch {
	case f.Proto != 0 && o.Proto != f.Proto,
		f.Src.IsValid() && f.Src != netip.AddrFrom4(o.Src),
		f.Dst.IsValid() && f.Dst != netip.AddrFrom4(o.Dst),
		f.SrcPort != 0 && (!hasPorts(o.Proto) || o.SrcPort != f.SrcPort),
		f.DstPort != 0 && (!hasPorts(o.Proto) || o.DstPort != f.DstPort),
		f.Mark != nil && c.mark.Load() != *f.Mark,
		f.Zone != nil && c.zone != *f.Zone,
		f.State != TCPNone && c.TCPState() != f.State:
		return false
	}
	return true
}

// List returns the live connections passing f (nil: all), in a stable
// order (by protocol, then original tuple).
func (t *Table) List(f *Filter, now int64) []*Conn {
	var out []*Conn
	t.each(func(c *Conn) {
		if c.expires.Load() > now && (f == nil || f.Match(c)) {
			out = append(out, c)
		}
	})
	sort.Slice(out, func(i, j int) bool { return tupleLess(out[i].orig, out[j].orig) })
	return out
}

func tupleLess(a, b Tuple) bool {
	switch {
	case a.Proto != b.Proto:
		return a.Proto > b.Proto // highest protocol number first; the kernel dumps in hash order
	case a.Src != b.Src:
		return string(a.Src[:]) < string(b.Src[:])
	case a.Dst != b.Dst:
		return string(a.Dst[:]) < string(b.Dst[:])
	case a.SrcPort != b.SrcPort:
		return a.SrcPort < b.SrcPort
	}
	return a.DstPort < b.DstPort
}

// Dump formats conntrack -L: one line per connection and the summary line
// conntrack-tools prints on stderr ("conntrack v1.4.7 (conntrack-tools): N
// flow entries have been shown.") is returned separately.
func (t *Table) Dump(f *Filter, now int64) (lines []string, summary string) {
	for _, c := range t.List(f, now) {
		lines = append(lines, c.Line(now))
	}
	return lines, fmt.Sprintf("conntrack v1.4.7 (conntrack-tools): %d flow entries have been shown.", len(lines))
}

// Delete removes the connections passing f (conntrack -D) and returns how
// many; Flush (conntrack -F) is Delete(nil).
func (t *Table) Delete(f *Filter, now int64) int {
	n := 0
	for _, c := range t.List(f, now) {
		if t.remove(c) {
			n++
		}
	}
	return n
}
