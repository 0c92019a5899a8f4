package daemon

import (
	"context"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"tapestry/api"
)

// eventSession runs conntrack -E in a goroutine, sending its lines to a
// channel; cancel stops it and done closes when it has returned.
type eventSession struct {
	lines  chan string
	cancel context.CancelFunc
	done   chan struct{}
}

func startEvents(t *testing.T, d *Daemon, ns, args string) *eventSession {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &eventSession{lines: make(chan string, 64), cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		err := d.ConntrackEvents(ctx, ns, api.ExecRequest{Args: strings.Fields(args)}, func(l api.PingLine) { s.lines <- l.Line })
		if err != nil {
			t.Errorf("conntrack %s: %v", args, err)
		}
	}()
	return s
}

// next returns the session's next line.
func (s *eventSession) next() string { return <-s.lines }

// waitSessions yields until namespace ns has n -E sessions.
func waitSessions(d *Daemon, ns string, n int) {
	for d.conntrackEventSessions(ns) != n {
		runtime.Gosched()
	}
}

// waitLost yields until a session on namespace ns has lost an event.
func waitLost(d *Daemon, ns string) {
	v, _ := ctHubs.Load(hubKey{d, ns})
	h := v.(*ctHub)
	for {
		h.mu.Lock()
		for s := range h.sessions {
			if s.lost.Load() > 0 {
				h.mu.Unlock()
				return
			}
		}
		h.mu.Unlock()
		runtime.Gosched()
	}
}

// The lines conntrack -E prints for one ping from 10.9.0.1 to 10.9.0.2.
var (
	newICMP     = regexp.MustCompile(`^    \[NEW\] icmp     1 30 src=10\.9\.0\.1 dst=10\.9\.0\.2 type=8 code=0 id=\d+ \[UNREPLIED\] src=10\.9\.0\.2 dst=10\.9\.0\.1 type=0 code=0 id=\d+$`)
	updateICMP  = regexp.MustCompile(`^ \[UPDATE\] icmp     1 30 src=10\.9\.0\.1 dst=10\.9\.0\.2 type=8 code=0 id=\d+ src=10\.9\.0\.2 dst=10\.9\.0\.1 type=0 code=0 id=\d+$`)
	destroyICMP = regexp.MustCompile(`^\[DESTROY\] icmp     1 src=10\.9\.0\.1 dst=10\.9\.0\.2 type=8 code=0 id=\d+ src=10\.9\.0\.2 dst=10\.9\.0\.1 type=0 code=0 id=\d+$`)
)

func wantLine(t *testing.T, who string, got string, re *regexp.Regexp) {
	t.Helper()
	if !re.MatchString(got) {
		t.Errorf("%s: got %q, want %s", who, got, re)
	}
}

// TestConntrackEvents runs two -E sessions at once on n2, which tracks
// the pings n1 sends it, through a connection's life and a rebuild of
// the namespace.
func TestConntrackEvents(t *testing.T) {
	d := newTestDaemon(t, t.TempDir(), &MemDevices{})
	ip(t, d, "", "netns add n1")
	ip(t, d, "", "netns add n2")
	ip(t, d, "n1", "link add xe type veth peer name xf netns n2")
	ip(t, d, "n1", "addr add 10.9.0.1/24 dev xe")
	ip(t, d, "n1", "link set xe up")
	ip(t, d, "n2", "addr add 10.9.0.2/24 dev xf")
	ip(t, d, "n2", "link set xf up")
	if r := tool(t, d, "n2", "iptables", "", "-A", "INPUT", "-p", "icmp", "-j", "ACCEPT"); r.ExitCode != 0 {
		t.Fatalf("iptables: %+v", r)
	}

	all := startEvents(t, d, "n2", "-E")
	some := startEvents(t, d, "n2", "-E -e NEW,destroy -p icmp -s 10.9.0.1")
	waitSessions(d, "n2", 2)
	if code := pingCode(t, d, "n1", "-c 1 10.9.0.2"); code != 0 {
		t.Fatalf("ping: exit %d", code)
	}
	if r := tool(t, d, "n2", "conntrack", "", "-C"); r.Stdout != "1\n" {
		t.Errorf("conntrack -C = %+v, want 1", r)
	}
	if r := tool(t, d, "n2", "conntrack", "", "-D", "-p", "icmp"); r.ExitCode != 0 {
		t.Errorf("conntrack -D: %+v", r)
	}
	wantLine(t, "-E", all.next(), newICMP)
	wantLine(t, "-E", all.next(), updateICMP)
	wantLine(t, "-E", all.next(), destroyICMP)
	wantLine(t, "-E -e NEW,destroy", some.next(), newICMP)
	wantLine(t, "-E -e NEW,destroy", some.next(), destroyICMP) // no UPDATE

	// Moving an interface into n2 rebuilds it (and n1, its veth peer):
	// the sessions follow the new table.
	ip(t, d, "n1", "link add xa type veth peer name xb")
	ip(t, d, "n1", "link set xb netns n2")
	if code := pingCode(t, d, "n1", "-c 1 10.9.0.2"); code != 0 {
		t.Fatalf("ping after the rebuild: exit %d", code)
	}
	wantLine(t, "-E after rebuild", all.next(), newICMP)
	wantLine(t, "-E -e NEW,destroy after rebuild", some.next(), newICMP)

	// A stopped session returns; the last one releases the table.
	all.cancel()
	<-all.done
	if n := d.conntrackEventSessions("n2"); n != 1 {
		t.Errorf("after one stop: %d sessions, want 1", n)
	}
	some.cancel()
	<-some.done
	if n := d.conntrackEventSessions("n2"); n != 0 {
		t.Errorf("after both stopped: %d sessions, want 0", n)
	}
	if _, ok := ctHubs.Load(hubKey{d, "n2"}); ok {
		t.Error("the hub outlived its last session")
	}
}

// TestConntrackEventsLost: a session that does not keep up loses events
// and says so before the next one, in conntrack-tools' words.
func TestConntrackEventsLost(t *testing.T) {
	defer func(n int) { sessionBuffer = n }(sessionBuffer)
	sessionBuffer = 1
	d := newTestDaemon(t, t.TempDir(), &MemDevices{})
	ip(t, d, "", "netns add n1")
	ip(t, d, "", "netns add n2")
	ip(t, d, "n1", "link add xe type veth peer name xf netns n2")
	ip(t, d, "n1", "addr add 10.9.0.1/24 dev xe")
	ip(t, d, "n1", "link set xe up")
	ip(t, d, "n2", "addr add 10.9.0.2/24 dev xf")
	ip(t, d, "n2", "link set xf up")
	tool(t, d, "n2", "iptables", "", "-A", "INPUT", "-p", "icmp", "-j", "ACCEPT")

	ctx, cancel := context.WithCancel(context.Background())
	stalled, release := make(chan struct{}), make(chan struct{})
	lines := make(chan api.PingLine, 16)
	done := make(chan struct{})
	go func() {
		defer close(done)
		first := true
		_ = d.ConntrackEvents(ctx, "n2", api.ExecRequest{Args: []string{"-E", "-e", "NEW"}}, func(l api.PingLine) {
			if first {
				first = false
				close(stalled)
				<-release // the reader stalls on its first line
			}
			lines <- l
		})
	}()
	waitSessions(d, "n2", 1)
	newConn := func() {
		pingCode(t, d, "n1", "-c 1 10.9.0.2")
		tool(t, d, "n2", "conntrack", "", "-F")
	}
	newConn() // the reader holds this NEW,
	<-stalled
	newConn()         // the buffer this one,
	newConn()         // and this one is lost,
	waitLost(d, "n2") // once the pump gets to it.
	close(release)
	want := []func(api.PingLine) bool{
		func(l api.PingLine) bool { return !l.Stderr && newICMP.MatchString(l.Line) },
		func(l api.PingLine) bool { return l.Stderr && l.Line == enobufsWarning },
		func(l api.PingLine) bool { return !l.Stderr && newICMP.MatchString(l.Line) },
	}
	for i, ok := range want {
		if l := <-lines; !ok(l) {
			t.Errorf("line %d after the overrun = %+v", i, l)
		}
	}
	cancel()
	<-done
}

func TestConntrackCountStats(t *testing.T) {
	d := newTestDaemon(t, t.TempDir(), &MemDevices{})
	ip(t, d, "", "netns add r")
	tests := []struct {
		args   string
		stdout string
		stderr string
		code   int
	}{
		{"-C", "0\n", "", 0},
		{"--count", "0\n", "", 0},
		{"-S", "cpu=0   \tfound=0 invalid=0 insert=0 insert_failed=0 drop=0 early_drop=0 error=0 search_restart=0 clash_resolve=0 chaintoolong=0 \n", "", 0},
		{"-C -p tcp", "", "conntrack v1.4.7 (conntrack-tools): Illegal option `--protonum' with this command\nTry `conntrack -h' or 'conntrack --help' for more information.\n", 2},
		{"-S -s 10.0.0.1", "", "conntrack v1.4.7 (conntrack-tools): Illegal option `--src' with this command\nTry `conntrack -h' or 'conntrack --help' for more information.\n", 2},
		{"-C -S", "", "conntrack v1.4.7 (conntrack-tools): Invalid commands combination\nTry `conntrack -h' or 'conntrack --help' for more information.\n", 2},
		{"-L -e NEW", "", "conntrack v1.4.7 (conntrack-tools): Illegal option `--event-mask' with this command\nTry `conntrack -h' or 'conntrack --help' for more information.\n", 2},
		{"-L -p foo", "", "conntrack v1.4.7 (conntrack-tools): `foo' unsupported protocol\nTry `conntrack -h' or 'conntrack --help' for more information.\n", 2},
	}
	for _, tc := range tests {
		got := tool(t, d, "r", "conntrack", "", strings.Fields(tc.args)...)
		if got.Stdout != tc.stdout || got.Stderr != tc.stderr || got.ExitCode != tc.code {
			t.Errorf("conntrack %s = %q %q %d; want %q %q %d", tc.args, got.Stdout, got.Stderr, got.ExitCode, tc.stdout, tc.stderr, tc.code)
		}
	}
}

func TestConntrackEventsBadArgs(t *testing.T) {
	d := newTestDaemon(t, t.TempDir(), &MemDevices{})
	ip(t, d, "", "netns add r")
	tests := []struct {
		args string
		msg  string
	}{
		{"-E -e NEW,FOO", "Bad parameter `FOO'"},
		{"-E -L", "Invalid commands combination"},
		{"-L", "Invalid commands combination"},
		{"-E -p foo", "`foo' unsupported protocol"},
	}
	for _, tc := range tests {
		var got []api.PingLine
		err := d.ConntrackEvents(context.Background(), "r", api.ExecRequest{Args: strings.Fields(tc.args)}, func(l api.PingLine) { got = append(got, l) })
		want := "conntrack v1.4.7 (conntrack-tools): " + tc.msg + "\nTry `conntrack -h' or 'conntrack --help' for more information."
		if err != nil || len(got) != 2 || got[0].Line != want || !got[0].Stderr || !got[1].Done || got[1].ExitCode != 2 {
			t.Errorf("conntrack %s = %+v, %v; want %q and status 2", tc.args, got, err, want)
		}
	}
	if err := d.ConntrackEvents(context.Background(), "nope", api.ExecRequest{Args: []string{"-E"}}, func(api.PingLine) {}); err == nil {
		t.Error("conntrack -E in a missing namespace: no error")
	}
}

func TestEventLine(t *testing.T) {
	tests := []struct{ in, want string }{
		{"    [NEW] udp      17 30 src=1.1.1.1 dst=2.2.2.2 sport=1 dport=2 [UNREPLIED] src=2.2.2.2 dst=1.1.1.1 sport=2 dport=1 mark=0 use=1", "    [NEW] udp      17 30 src=1.1.1.1 dst=2.2.2.2 sport=1 dport=2 [UNREPLIED] src=2.2.2.2 dst=1.1.1.1 sport=2 dport=1"},
		{"[DESTROY] udp      17 src=1.1.1.1 dst=2.2.2.2 sport=1 dport=2 src=2.2.2.2 dst=1.1.1.1 sport=2 dport=1 mark=7 use=1", "[DESTROY] udp      17 src=1.1.1.1 dst=2.2.2.2 sport=1 dport=2 src=2.2.2.2 dst=1.1.1.1 sport=2 dport=1 mark=7"},
		{" [UPDATE] icmp     1 30 src=1.1.1.1 dst=2.2.2.2 type=8 code=0 id=1 src=2.2.2.2 dst=1.1.1.1 type=0 code=0 id=1 mark=0 zone=3 use=1", " [UPDATE] icmp     1 30 src=1.1.1.1 dst=2.2.2.2 type=8 code=0 id=1 src=2.2.2.2 dst=1.1.1.1 type=0 code=0 id=1 zone=3"},
		{" [UPDATE] tcp      6 30 ESTABLISHED src=1.1.1.1 mark=01 use=1", " [UPDATE] tcp      6 30 ESTABLISHED src=1.1.1.1 mark=01"},
	}
	for _, tc := range tests {
		if got := eventLine(tc.in); got != tc.want {
			t.Errorf("eventLine(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
