package main

import (
	"bytes"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// lineWriter collects written text and reports each write on a channel.
type lineWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	wrote chan struct{}
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	select {
	case w.wrote <- struct{}{}:
	default:
	}
	return w.buf.Write(p)
}

func (w *lineWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// TestConntrackEventsCLI runs conntrack -E as a user would, with a ping
// through the router, stops it as Ctrl-C does, and checks the lines and
// the summary conntrack-tools prints.
func TestConntrackEventsCLI(t *testing.T) {
	newNSDaemon(t)
	buildRoutedTopology(t)
	must(t, "ip netns exec r iptables -A FORWARD -p icmp -j ACCEPT")
	stdout := &lineWriter{wrote: make(chan struct{}, 1)}
	var stderr bytes.Buffer
	sigs := make(chan os.Signal, 1)
	code := make(chan int)
	go func() {
		code <- conntrackEventsUntil(ipClient(), "r", []string{"-E", "-p", "icmp"}, sigs, stdout, &stderr)
	}()
	// The stream starts at some point after the request: connections made
	// until then are not seen. Make connections until one is.
	for seen := false; !seen; {
		must(t, "ip netns exec h1 ping -c 1 -W 1 10.2.0.2", "ip netns exec r conntrack -F")
		select {
		case <-stdout.wrote:
			seen = true
		default:
		}
	}
	sigs <- os.Interrupt
	if c := <-code; c != 0 {
		t.Errorf("conntrack -E after SIGINT: exit %d, want 0", c)
	}
	lines := strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n")
	event := regexp.MustCompile(`^( {4}\[NEW\]| \[UPDATE\]|\[DESTROY\]) icmp     1 (\d+ )?src=10\.1\.0\.2 dst=10\.2\.0\.2 type=8 code=0 id=\d+ (\[UNREPLIED\] )?src=10\.2\.0\.2 dst=10\.1\.0\.2 type=0 code=0 id=\d+$`)
	for _, l := range lines {
		if !event.MatchString(l) {
			t.Errorf("event line %q, want %s", l, event)
		}
	}
	if want := "conntrack v1.4.7 (conntrack-tools): " + strconv.Itoa(len(lines)) + " flow events have been shown.\n"; stderr.String() != want {
		t.Errorf("stderr = %q, want %q", stderr.String(), want)
	}
	if out, errOut, c := tap("ip netns exec r conntrack -E -e FOO"); c != 2 || out != "" || !strings.HasPrefix(errOut, "conntrack v1.4.7 (conntrack-tools): Bad parameter `FOO'\n") {
		t.Errorf("conntrack -E -e FOO: exit %d, %q, %q", c, out, errOut)
	}
	if out, _, c := tap("ip netns exec r conntrack -C"); c != 0 || out != "0\n" {
		t.Errorf("conntrack -C: exit %d, %q", c, out)
	}
}
