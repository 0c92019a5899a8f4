package netstack

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func pingPair(t *testing.T) (*Namespace, *Namespace) {
	t.Helper()
	clk := NewVirtualClock(time.Unix(1_700_000_000, 0))
	h1, h2 := NewNamespace("h1", clk), NewNamespace("h2", clk)
	e1, e2, _ := AddVethPair(h1, "eth0", h2, "eth0")
	addAddr(t, h1, e1, "10.0.0.1/24")
	addAddr(t, h2, e2, "10.0.0.2/24")
	must(t, h1.SetUp(e1))
	must(t, h2.SetUp(e2))
	return h1, h2
}

func replies(n int) []string {
	var out []string
	for i := 1; i <= n; i++ {
		out = append(out, "64 bytes from 10.0.0.2: icmp_seq="+string(rune('0'+i))+" ttl=64 time=0.000 ms")
	}
	return out
}

// TestPingBounded runs ping with Stop and Deadline (-w) in virtual time;
// the statistics follow iputils 20221126 (run against 127.0.0.1: -w 3
// sends 3, -c 2 -w 5 stops at 2 answers, SIGINT after 2.5 s reports 3).
func TestPingBounded(t *testing.T) {
	const stats = "rtt min/avg/max/mdev = 0.000/0.000/0.000/0.000 ms"
	tests := []struct {
		name    string
		o       PingOptions
		stopAt  int // close Stop after this many replies; 0 never
		dest    string
		want    []string
		wantRcv int
	}{
		{"stop after 3", PingOptions{}, 3, "10.0.0.2", append(replies(3), "", "--- 10.0.0.2 ping statistics ---", "3 packets transmitted, 3 received, 0% packet loss, time 2000ms", stats), 3},
		{"stop after 1 with count", PingOptions{Count: 5}, 1, "10.0.0.2", append(replies(1), "", "--- 10.0.0.2 ping statistics ---", "1 packets transmitted, 1 received, 0% packet loss, time 0ms", stats), 1},
		{"deadline 3s", PingOptions{Deadline: 3 * time.Second}, 0, "10.0.0.2", append(replies(3), "", "--- 10.0.0.2 ping statistics ---", "3 packets transmitted, 3 received, 0% packet loss, time 2000ms", stats), 3},
		{"deadline with count", PingOptions{Count: 2, Deadline: 5 * time.Second}, 0, "10.0.0.2", append(replies(2), "", "--- 10.0.0.2 ping statistics ---", "2 packets transmitted, 2 received, 0% packet loss, time 1000ms", stats), 2},
		{"deadline no answer", PingOptions{Deadline: 2500 * time.Millisecond}, 0, "10.0.0.9", []string{"", "--- 10.0.0.9 ping statistics ---", "3 packets transmitted, 0 received, 100% packet loss, time 2000ms"}, 0}, // ARP gives up only after 3 s
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h1, _ := pingPair(t)
			stop := make(chan struct{})
			o := tt.o
			o.Dest = ip(tt.dest)
			if tt.stopAt > 0 {
				o.Stop = stop
				n := 0
				o.OnLine = func(l string) {
					if strings.HasPrefix(l, "64 bytes") {
						if n++; n == tt.stopAt {
							close(stop)
						}
					}
				}
			}
			r, err := Ping(h1, o)
			if err != nil {
				t.Fatalf("Ping: %v", err)
			}
			want := append([]string{"PING " + tt.dest + " (" + tt.dest + ") 56(84) bytes of data."}, tt.want...)
			if d := cmp.Diff(want, r.Lines); d != "" {
				t.Errorf("Ping lines (-want +got):\n%s", d)
			}
			if r.Received != tt.wantRcv {
				t.Errorf("Received = %d, want %d", r.Received, tt.wantRcv)
			}
		})
	}
}

// TestPingStopRealClock stops a ping on the system clock from another
// goroutine while it waits between requests.
func TestPingStopRealClock(t *testing.T) {
	h1, h2 := NewNamespace("h1", nil), NewNamespace("h2", nil)
	defer h1.Close()
	defer h2.Close()
	e1, e2, _ := AddVethPair(h1, "eth0", h2, "eth0")
	addAddr(t, h1, e1, "10.0.0.1/24")
	addAddr(t, h2, e2, "10.0.0.2/24")
	must(t, h1.SetUp(e1))
	must(t, h2.SetUp(e2))
	stop := make(chan struct{})
	got := make(chan string, 64)
	o := PingOptions{Dest: ip("10.0.0.2"), Interval: time.Hour, Stop: stop, OnLine: func(l string) { got <- l }}
	done := make(chan PingResult)
	go func() {
		r, err := Ping(h1, o)
		if err != nil {
			t.Errorf("Ping: %v", err)
		}
		done <- r
	}()
	for l := range got {
		if strings.HasPrefix(l, "64 bytes") {
			break
		}
	}
	close(stop) // the ping now waits an hour for its next request
	r := <-done
	if r.Transmitted != 1 || r.Received != 1 || !strings.HasPrefix(r.Lines[len(r.Lines)-2], "1 packets transmitted, 1 received, 0% packet loss") {
		t.Errorf("stopped ping: %+v", r)
	}
}
