package netstack

import (
	"encoding/binary"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"time"

	"tapestry/packet"
)

// PingOptions are ping(8)'s options.
type PingOptions struct {
	Dest      netip.Addr
	Count     int           // -c, default 1
	Interval  time.Duration // -i, default 1 s
	Interface string        // -I DEV
	Source    netip.Addr    // -I ADDR: the source address, as bind(2)
	Mark      uint32        // -m
	Size      int           // -s, default 56
	TTL       int           // -t, default net.ipv4.ip_default_ttl
	// Timeout is how long to wait for answers after the last request
	// (-W), default 10 s.
	Timeout time.Duration
	// OnLine, when set, is given each output line as ping prints it, so a
	// caller can stream it; the lines are also collected in the result.
	OnLine func(string)
	// Stop, when set, ends the run as SIGINT ends iputils ping: no more
	// requests and no more waiting for answers; the statistics follow.
	// With Stop set and Count 0, ping sends until Stop is closed.
	Stop <-chan struct{}
	// Deadline is -w: the run ends this long after it started, however
	// many requests went out. As in iputils, with Count set as well ping
	// keeps sending until Count answers came back or the deadline passed,
	// and an ICMP error ends the run. With Count 0 it sends until then.
	Deadline time.Duration
}

// PingResult is what ping printed and counted.
type PingResult struct {
	Transmitted, Received, Errors int
	RTTs                          []time.Duration
	// Lines are iputils' output lines, header and statistics included.
	Lines []string
}

// Ping sends ICMP echo requests from ns like iputils ping and collects
// its output. In a namespace on a *VirtualClock it advances the clock
// instead of sleeping, so a run takes no wall time. Count 0 means one
// request, unless Stop or Deadline bound the run.
func Ping(ns *Namespace, o PingOptions) (PingResult, error) {
	if o.Count <= 0 && o.Stop == nil && o.Deadline <= 0 {
		o.Count = 1
	}
	o.Count = max(o.Count, 0)
	if o.Interval <= 0 {
		o.Interval = time.Second
	}
	if o.Size <= 0 {
		o.Size = 56
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	id, ch := ns.sockets.openPing()
	defer ns.sockets.closePing(id)
	header := fmt.Sprintf("PING %v (%v) %d(%d) bytes of data.", o.Dest, o.Dest, o.Size, o.Size+28)
	r := PingResult{Lines: []string{header}}
	st := pingState{ns: ns, ch: ch, o: o, r: &r, sent: map[uint16]time.Time{}, done: map[uint16]bool{}}
	start := ns.clock.Now()
	if o.Deadline > 0 {
		st.deadline = start.Add(o.Deadline)
	}
	if err := st.run(id, header); err != nil {
		return r, err
	}
	elapsed := ns.clock.Now().Sub(start)
	switch {
	case st.over():
		// iputils prints the time of its last send or receive (cur_time),
		// not of the interrupt or the deadline.
		last := st.lastSend
		if st.lastEvent.After(last) {
			last = st.lastEvent
		}
		elapsed = last.Sub(start)
	case st.lastEvent.After(start):
		elapsed = st.lastEvent.Sub(start)
	}
	st.line("")
	for _, l := range st.statistics(elapsed) {
		st.line(l)
	}
	return r, nil
}

// run sends the requests and waits for the answers, following iputils'
// main loop: without a deadline, Count requests one Interval apart and
// then up to Timeout for the last answers; with one, requests until the
// deadline or until Count answers (or an error) came back.
func (s *pingState) run(id uint16, header string) error {
	o := s.o
	for seq := 1; !s.over() && !s.enough(); seq++ {
		if err := s.send(id, uint16(seq)); err != nil {
			if seq == 1 {
				return fmt.Errorf("ping: connect: %w", err)
			}
			s.line("ping: sendmsg: " + err.Error())
		} else if seq == 1 && o.OnLine != nil {
			// iputils prints the header only once the first send worked.
			o.OnLine(header)
		}
		s.drain()
		if o.Count > 0 && seq >= o.Count && o.Deadline <= 0 {
			break
		}
		s.wait(o.Interval, false)
	}
	if !s.over() && !s.enough() {
		s.wait(o.Timeout, true)
	}
	return nil
}

// over reports whether the run must end now: Stop closed, the deadline
// passed, or (with a deadline) an ICMP error came back.
func (s *pingState) over() bool {
	if s.o.Stop != nil {
		select {
		case <-s.o.Stop:
			return true
		default:
		}
	}
	return !s.deadline.IsZero() && (!s.ns.clock.Now().Before(s.deadline) || s.r.Errors > 0)
}

// enough reports whether Count requests were answered (iputils counts
// errors as answers here).
func (s *pingState) enough() bool {
	return s.o.Count > 0 && s.r.Received+s.r.Errors >= s.o.Count
}

// line records an output line and hands it to OnLine.
func (s *pingState) line(l string) {
	s.r.Lines = append(s.r.Lines, l)
	if s.o.OnLine != nil {
		s.o.OnLine(l)
	}
}

type pingState struct {
	ns        *Namespace
	ch        chan PingEvent
	o         PingOptions
	r         *PingResult
	sent      map[uint16]time.Time
	done      map[uint16]bool
	lastEvent time.Time
	lastSend  time.Time
	deadline  time.Time // -w; zero for none
}

func (s *pingState) send(id, seq uint16) error {
	l4 := make([]byte, 8+s.o.Size)
	m := packet.ICMPv4(l4)
	m.SetType(packet.ICMPv4Echo)
	m.SetID(id)
	m.SetSeq(seq)
	now := s.ns.clock.Now()
	if s.o.Size >= 16 {
		binary.LittleEndian.PutUint64(l4[8:], uint64(now.Unix()))
		binary.LittleEndian.PutUint64(l4[16:], uint64(now.Nanosecond()/1000))
	}
	for i := 24; i < len(l4); i++ {
		l4[i] = byte(i - 8)
	}
	m.SetChecksum(packet.Checksum(l4))
	s.sent[seq] = now
	s.lastSend = now
	s.r.Transmitted++
	_, err := s.ns.Send(SendOptions{Src: s.o.Source, Dst: s.o.Dest, Proto: packet.ProtoICMP, TTL: uint8(s.o.TTL), Mark: s.o.Mark, Interface: s.o.Interface}, l4)
	if err != nil {
		s.r.Transmitted--
		delete(s.sent, seq)
	}
	return err
}

// wait lets d pass (virtually or really) while collecting answers. It
// returns early when the run is over or has enough answers, and with
// untilDone once every request is answered.
func (s *pingState) wait(d time.Duration, untilDone bool) {
	if !s.deadline.IsZero() {
		d = min(d, s.deadline.Sub(s.ns.clock.Now()))
	}
	finished := func() bool { return s.over() || s.enough() || untilDone && s.allDone() }
	if vc, ok := s.ns.clock.(*VirtualClock); ok {
		for d > 0 && !finished() {
			step := min(d, 10*time.Millisecond)
			vc.Advance(step)
			d -= step
			s.drain()
		}
		return
	}
	if d <= 0 {
		return
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	for !finished() {
		select {
		case ev := <-s.ch:
			s.handle(ev)
		case <-s.o.Stop: // a nil Stop blocks forever
			return
		case <-timer.C:
			return
		}
	}
}

func (s *pingState) allDone() bool { return len(s.done) >= len(s.sent) }

func (s *pingState) drain() {
	for {
		select {
		case ev := <-s.ch:
			s.handle(ev)
		default:
			return
		}
	}
}

func (s *pingState) handle(ev PingEvent) {
	at, ok := s.sent[ev.Seq]
	if !ok || s.done[ev.Seq] {
		return
	}
	s.done[ev.Seq] = true
	s.lastEvent = ev.At
	if ev.Type == packet.ICMPv4EchoReply {
		rtt := ev.At.Sub(at)
		s.r.Received++
		s.r.RTTs = append(s.r.RTTs, rtt)
		s.line(fmt.Sprintf("%d bytes from %v: icmp_seq=%d ttl=%d time=%s ms", ev.Size, ev.From, ev.Seq, ev.TTL, rttString(rtt)))
		return
	}
	s.r.Errors++
	s.line(fmt.Sprintf("From %v icmp_seq=%d %s", ev.From, ev.Seq, icmpText(ev.Type, ev.Code)))
}

// rttString formats like iputils: three decimals below 1 ms, two below
// 10 ms, one below 100 ms, none above.
func rttString(d time.Duration) string {
	us := d.Microseconds()
	switch {
	case us >= 100000-50:
		return strconv.FormatInt((us+500)/1000, 10)
	case us >= 10000-5:
		return fmt.Sprintf("%.1f", float64(us)/1000)
	case us >= 1000:
		return fmt.Sprintf("%.2f", float64(us)/1000)
	}
	return fmt.Sprintf("%.3f", float64(us)/1000)
}

// icmpText is iputils' pr_icmph text for an error.
func icmpText(typ, code uint8) string {
	switch typ {
	case packet.ICMPv4Unreachable:
		switch code {
		case icmpNetUnreach:
			return "Destination Net Unreachable"
		case icmpHostUnreach:
			return "Destination Host Unreachable"
		case icmpProtUnreach:
			return "Destination Protocol Unreachable"
		case icmpPortUnreach:
			return "Destination Port Unreachable"
		case icmpFragNeeded:
			return "Frag needed and DF set"
		case icmpPktFiltered:
			return "Packet filtered"
		}
		return fmt.Sprintf("Dest Unreachable, Bad Code: %d", code)
	case packet.ICMPv4TimeExceed:
		if code == 0 {
			return "Time to live exceeded"
		}
		return "Frag reassembly time exceeded"
	}
	return fmt.Sprintf("Bad ICMP type: %d", typ)
}

func (s *pingState) statistics(elapsed time.Duration) []string {
	r := s.r
	lines := []string{fmt.Sprintf("--- %v ping statistics ---", s.o.Dest)}
	loss := 0.0
	if r.Transmitted > 0 {
		loss = float64(r.Transmitted-r.Received) * 100 / float64(r.Transmitted)
	}
	errs := ""
	if r.Errors > 0 {
		errs = fmt.Sprintf(", +%d errors", r.Errors)
	}
	lines = append(lines, fmt.Sprintf("%d packets transmitted, %d received%s, %s%% packet loss, time %dms",
		r.Transmitted, r.Received, errs, strconv.FormatFloat(loss, 'g', 6, 64), elapsed.Milliseconds()))
	if r.Received > 0 {
		var sum, sum2 float64
		mn, mx := math.Inf(1), 0.0
		for _, d := range r.RTTs {
			ms := float64(d.Microseconds()) / 1000
			sum += ms
			sum2 += ms * ms
			mn, mx = min(mn, ms), max(mx, ms)
		}
		n := float64(len(r.RTTs))
		avg := sum / n
		mdev := math.Sqrt(max(sum2/n-avg*avg, 0))
		lines = append(lines, fmt.Sprintf("rtt min/avg/max/mdev = %.3f/%.3f/%.3f/%.3f ms", mn, avg, mx, mdev))
	}
	return lines
}
