package neigh

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"tapestry/packet"
)

func TestFormat(t *testing.T) {
	a := netip.MustParseAddr("10.0.0.2")
	m := packet.MAC{0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff}
	tests := []struct {
		e    Entry
		dev  string
		want string
	}{
		{Entry{Addr: a, MAC: m, State: StateReachable}, "eth0", "10.0.0.2 dev eth0 lladdr aa:bb:cc:dd:ee:ff REACHABLE"},
		{Entry{Addr: a, MAC: m, State: StateStale}, "eth0", "10.0.0.2 dev eth0 lladdr aa:bb:cc:dd:ee:ff STALE"},
		{Entry{Addr: a, MAC: m, State: StatePermanent}, "eth0", "10.0.0.2 dev eth0 lladdr aa:bb:cc:dd:ee:ff PERMANENT"},
		{Entry{Addr: a, MAC: m, State: StateReachable, Router: true}, "eth0", "10.0.0.2 dev eth0 lladdr aa:bb:cc:dd:ee:ff router REACHABLE"},
		{Entry{Addr: a, State: StateFailed}, "eth0", "10.0.0.2 dev eth0  FAILED"},
		{Entry{Addr: a, State: StateIncomplete}, "eth0", "10.0.0.2 dev eth0  INCOMPLETE"},
		{Entry{Addr: a, MAC: m, State: StateDelay}, "", "10.0.0.2 lladdr aa:bb:cc:dd:ee:ff DELAY"},
	}
	for _, tt := range tests {
		if got := Format(tt.e, tt.dev); got != tt.want {
			t.Errorf("Format(%v) = %q, want %q", tt.e.State, got, tt.want)
		}
	}
}

func TestParseCommand(t *testing.T) {
	m := packet.MAC{0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff}
	a := netip.MustParseAddr("10.0.0.2")
	tests := []struct {
		in   string
		want Command
	}{
		{"add 10.0.0.2 lladdr aa:bb:cc:dd:ee:ff dev eth0", Command{Op: "add", Addr: a, MAC: &m, State: StatePermanent, Dev: "eth0"}},
		{"replace 10.0.0.2 lladdr aa:bb:cc:dd:ee:ff nud reachable dev eth0 router", Command{Op: "replace", Addr: a, MAC: &m, State: StateReachable, Dev: "eth0", Router: true}},
		{"del to 10.0.0.2 dev eth0", Command{Op: "del", Addr: a, State: StatePermanent, Dev: "eth0"}},
		{"change 10.0.0.2 dev eth0 nud stale", Command{Op: "change", Addr: a, State: StateStale, Dev: "eth0"}},
		{"show", Command{Op: "show", Filter: Filter{States: 0xff &^ StateNoARP}}},
		{"show dev eth0 nud reachable nud stale", Command{Op: "show", Dev: "eth0", Filter: Filter{States: StateReachable | StateStale}}},
		{"flush dev eth0", Command{Op: "flush", Dev: "eth0", Filter: Filter{States: ^(StatePermanent | StateNoARP)}}},
		{"flush to 10.0.0.0/24 nud all", Command{Op: "flush", Filter: Filter{Prefix: netip.MustParsePrefix("10.0.0.0/24"), States: ^StateNone, NoneToo: true}}},
	}
	for _, tt := range tests {
		got, err := ParseCommand(strings.Fields(tt.in))
		if err != nil {
			t.Errorf("ParseCommand(%q): %v", tt.in, err)
			continue
		}
		if d := cmp.Diff(tt.want, got, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }), cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); d != "" {
			t.Errorf("ParseCommand(%q) (-want +got):\n%s", tt.in, d)
		}
	}
}

func TestParseCommandErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"add 10.0.0.2", "neigh: device and destination are required arguments"},
		{"add 10.0.0.2 lladdr zz dev eth0", `neigh: "zz" is invalid lladdr`},
		{"add 10.0.0.2 nud bogus dev eth0", `neigh: argument "bogus" is wrong: nud state is bad`},
		{"add 10.0.0.2 dev", `neigh: command line is not complete after "dev"`},
		{"add 10.0.0.x dev eth0", `neigh: invalid address "10.0.0.x"`},
		{"frob", `neigh: command "frob" is unknown, try "ip neigh help"`},
		{"show to 10.0.0.0/33", `neigh: invalid prefix "10.0.0.0/33"`},
	}
	for _, tt := range tests {
		_, err := ParseCommand(strings.Fields(tt.in))
		if err == nil || err.Error() != tt.want {
			t.Errorf("ParseCommand(%q) error = %v, want %q", tt.in, err, tt.want)
		}
	}
}

func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{"add 10.0.0.2 lladdr aa:bb:cc:dd:ee:ff dev eth0", "flush dev eth0 nud all", "show to 10.0.0.0/8", "del 1.2.3.4 dev x router"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCommand(strings.Fields(s))
		if err != nil {
			return
		}
		if c.Op == "" {
			t.Fatalf("ParseCommand(%q) accepted with empty op", s)
		}
		if (c.Op == "add" || c.Op == "del") && (c.Dev == "" || !c.Addr.Is4()) {
			t.Fatalf("ParseCommand(%q) accepted %+v without dev/address", s, c)
		}
	})
}
