package daemon

// conntrack -E, -C and -S in a tapestry namespace.
//
// A conntrack table has one event subscriber (conntrack.Table.Subscribe);
// any number of `conntrack -E` sessions may watch one namespace. So each
// namespace with sessions gets one hub: it holds the table's subscription,
// a pump goroutine reading the table's channel, and the sessions, each
// with a bounded channel of its own. A session that falls behind loses
// events and counts them, as a netlink socket whose receive buffer
// overflows does; its reader then prints conntrack-tools' ENOBUFS warning
// before the next event, as conntrack -E does when recv fails with
// ENOBUFS. The hub follows its namespace through rebuilds
// (rebindConntrackEvents, called by buildNSGroup): the new table gets the
// subscription, the old one loses it. The last session to end releases
// the subscription and stops the pump.
//
// Like an endless ping, -E runs until the client stops it: the CLI
// cancels its request on SIGINT or SIGTERM and prints the summary line
// itself, since it knows how many events it printed.

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"tapestry/api"
	"tapestry/conntrack"
)

// eventMask selects event types for -e: bit 1<<conntrack.EventType.
type eventMask uint8

const allEvents = eventMask(1<<conntrack.EventNew | 1<<conntrack.EventUpdate | 1<<conntrack.EventDestroy)

// eventMaskNames are -e's words (conntrack-tools compares them without
// case).
var eventMaskNames = map[string]eventMask{
	"NEW": 1 << conntrack.EventNew, "UPDATE": 1 << conntrack.EventUpdate,
	"DESTROY": 1 << conntrack.EventDestroy, "ALL": allEvents,
}

// parseEventMask reads -e's comma-separated list.
func parseEventMask(v string) (eventMask, error) {
	var m eventMask
	for _, w := range strings.Split(v, ",") {
		b, ok := eventMaskNames[strings.ToUpper(w)]
		if !ok {
			return 0, toolError("Bad parameter `" + w + "'")
		}
		m |= b
	}
	return m, nil
}

// Buffer sizes. The table's channel feeds only the pump, which never
// blocks, so it absorbs bursts; a session's channel plays the part of a
// netlink socket's receive buffer.
const (
	hubBuffer = 4096
)

// sessionBuffer is a session's channel size (a variable for tests).
var sessionBuffer = 1024

// enobufsWarning is what conntrack -E prints on stderr when netlink
// reports ENOBUFS (conntrack-tools 1.4.7, one message of three lines).
const enobufsWarning = "WARNING: We have hit ENOBUFS! We are losing events.\n" +
	"This message means that the current netlink socket buffer size is too small.\n" +
	"Please, check --buffer-size in conntrack(8) manpage."

// ctSession is one running conntrack -E. Its filter applies before its
// buffer, as conntrack-tools' filter runs in the kernel (a BPF program on
// the netlink socket, and the event mask as multicast groups): events it
// does not want take no room.
type ctSession struct {
	ch     chan conntrack.Event
	events eventMask
	filter *conntrack.Filter
	lost   atomic.Uint64 // events dropped since the reader last looked
}

func (s *ctSession) wants(e conntrack.Event) bool {
	return s.events&(1<<e.Type) != 0 && s.filter.Match(e.Conn)
}

// ctHub fans one table subscription out to a namespace's sessions.
type ctHub struct {
	ch   chan conntrack.Event // the table's subscriber channel
	done chan struct{}        // closed when the last session leaves

	mu       sync.Mutex
	table    *conntrack.Table
	sessions map[*ctSession]struct{}
}

type hubKey struct {
	d  *Daemon
	ns string
}

// ctHubs holds each daemon's hubs by namespace (package state, keyed by
// daemon, so that it stays in this file like runningPings). Hubs are
// created and rebound under d.mu, which orders them with rebuilds.
var ctHubs sync.Map // hubKey -> *ctHub

// pump delivers the table's events to every session without blocking.
func (h *ctHub) pump() {
	for {
		select {
		case e := <-h.ch:
			h.mu.Lock()
			for s := range h.sessions {
				if !s.wants(e) {
					continue
				}
				select {
				case s.ch <- e:
				default:
					s.lost.Add(1)
				}
			}
			h.mu.Unlock()
		case <-h.done:
			return
		}
	}
}

// joinConntrackEvents adds a session to namespace name's hub, creating
// the hub (and the table subscription) for the first session. Called
// with d.mu held, so that no rebuild comes between finding the table and
// subscribing to it.
func (d *Daemon) joinConntrackEvents(name string, t *conntrack.Table, c ctCommand) (*ctHub, *ctSession) {
	s := &ctSession{ch: make(chan conntrack.Event, sessionBuffer), events: c.Events, filter: c.Filter}
	key := hubKey{d, name}
	if v, ok := ctHubs.Load(key); ok {
		h := v.(*ctHub)
		h.mu.Lock()
		h.sessions[s] = struct{}{}
		h.mu.Unlock()
		return h, s
	}
	h := &ctHub{ch: make(chan conntrack.Event, hubBuffer), done: make(chan struct{}), table: t, sessions: map[*ctSession]struct{}{s: {}}}
	ctHubs.Store(key, h)
	t.Subscribe(h.ch)
	go h.pump()
	return h, s
}

// leaveConntrackEvents removes s; the last session releases the table's
// subscription.
func (d *Daemon) leaveConntrackEvents(name string, h *ctHub, s *ctSession) {
	d.mu.Lock()
	defer d.mu.Unlock()
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.sessions, s)
	if len(h.sessions) > 0 {
		return
	}
	h.table.Subscribe(nil)
	close(h.done)
	ctHubs.Delete(hubKey{d, name})
}

// rebindConntrackEvents moves namespace name's hub, if any, to the table
// of its rebuilt namespace. Called with d.mu held.
func (d *Daemon) rebindConntrackEvents(name string, t *conntrack.Table) {
	v, ok := ctHubs.Load(hubKey{d, name})
	if !ok {
		return
	}
	h := v.(*ctHub)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.table == t {
		return
	}
	h.table.Subscribe(nil)
	h.table = t
	t.Subscribe(h.ch)
}

// conntrackEventSessions reports how many -E sessions watch namespace
// name (0 when it has no hub), for tests.
func (d *Daemon) conntrackEventSessions(name string) int {
	v, ok := ctHubs.Load(hubKey{d, name})
	if !ok {
		return 0
	}
	h := v.(*ctHub)
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.sessions)
}

// ConntrackEvents implements api.Backend: conntrack -E with its filters,
// streaming one line per event until ctx ends (the client stopped) or the
// daemon shuts down. A bad command line is answered as conntrack answers
// it: its message on stderr and a Done line with status 2.
func (d *Daemon) ConntrackEvents(ctx context.Context, name string, req api.ExecRequest, emit func(api.PingLine)) error {
	c, err := parseConntrack(req.Args)
	if err == nil && c.Cmd != "-E" {
		err = toolError("Invalid commands combination")
	}
	if err != nil {
		r := conntrackUsage(err)
		emit(api.PingLine{Line: strings.TrimSuffix(r.Stderr, "\n"), Stderr: true})
		emit(api.PingLine{Done: true, ExitCode: r.ExitCode})
		return nil
	}
	d.mu.Lock()
	ns, err := d.nsFor(name)
	if err != nil {
		d.mu.Unlock()
		return err
	}
	h, s := d.joinConntrackEvents(name, ns.Conntrack(), c)
	d.mu.Unlock()
	defer d.leaveConntrackEvents(name, h, s)
	for {
		select {
		case e := <-s.ch:
			if n := s.lost.Swap(0); n > 0 {
				emit(api.PingLine{Line: enobufsWarning, Stderr: true})
			}
			emit(api.PingLine{Line: eventLine(e.Line)})
		case <-ctx.Done():
			return nil
		case <-d.stop:
			emit(api.PingLine{Done: true})
			return nil
		}
	}
}

// eventLine turns conntrack.EventLine's text into what conntrack -E
// prints: event messages carry no use count (ctnetlink puts CTA_USE only
// in dumps) and a mark only when it is set (ctnetlink_conntrack_event
// adds CTA_MARK for a nonzero mark or a mark change).
func eventLine(l string) string {
	l = strings.TrimSuffix(l, " use=1")
	if i := strings.Index(l, " mark=0"); i >= 0 && (len(l) == i+7 || l[i+7] == ' ') {
		l = l[:i] + l[i+7:]
	}
	return l
}

// conntrackCount is conntrack -C: the number of entries, as
// /proc/sys/net/netfilter/nf_conntrack_count holds it.
func conntrackCount(t *conntrack.Table) string {
	return fmt.Sprintf("%d\n", t.Count())
}

// conntrackStats is conntrack -S: one line per CPU with the kernel's
// counters (Linux 6.x has these ten). tapestry's table is one CPU's worth:
// invalid counts packets the trackers refused, insert_failed the clashes
// at confirmation, drop those and the packets refused for a full table.
// found, insert and search_restart stay 0 as on current kernels, which no
// longer count them; early_drop, error, clash_resolve and chaintoolong
// are not modelled.
func conntrackStats(t *conntrack.Table) string {
	dr := t.Drops()
	clash := dr[conntrack.ReasonClash]
	return fmt.Sprintf("cpu=0   \tfound=0 invalid=%d insert=0 insert_failed=%d drop=%d early_drop=0 error=0 search_restart=0 clash_resolve=0 chaintoolong=0 \n",
		dr[conntrack.ReasonInvalid], clash, clash+dr[conntrack.ReasonTableFull])
}
