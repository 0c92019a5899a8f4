package route

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }
func ip(s string) netip.Addr    { return netip.MustParseAddr(s) }

// testDB is a namespace with lo, eth0 10.1.0.1/24 and eth1 10.2.0.1/16.
func testDB(t testing.TB, lines ...string) *RPDB {
	t.Helper()
	db := New()
	err := db.Update(func(tx *Tx) error {
		tx.AddLink(Link{Index: 1, Name: "lo", Loopback: true})
		tx.AddLink(Link{Index: 2, Name: "eth0"})
		tx.AddLink(Link{Index: 3, Name: "eth1"})
		for _, a := range []struct {
			idx   int
			p     string
			scope Scope
		}{{1, "127.0.0.1/8", ScopeHost}, {2, "10.1.0.1/24", 0}, {3, "10.2.0.1/16", 0}} {
			if err := tx.AddAddr(a.idx, pfx(a.p), a.scope); err != nil {
				return err
			}
		}
		for _, l := range lines {
			if err := Exec(tx, l); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("testDB: %v", err)
	}
	return db
}

func TestLookup(t *testing.T) {
	db := testDB(t,
		"rule add pref 100 fwmark 1 lookup 100",
		"rule add pref 110 fwmark 2 lookup 100 suppress_prefixlength 0",
		"rule add pref 120 fwmark 3 goto 200",
		"rule add pref 130 fwmark 3 prohibit",
		"rule add pref 200 fwmark 3 lookup 101",
		"route add default via 10.1.0.254 table 100",
		"route add 10.9.0.0/16 via 10.2.0.9 table 100 metric 10",
		"route add 10.9.0.0/16 via 10.2.0.8 table 100 metric 5",
		"route add 10.9.1.0/24 tos 0x10 dev eth1 table 100",
		"route add throw 10.8.0.0/16 table 100",
		"route add unreachable 10.7.0.0/16 table 100",
		"route add blackhole 10.6.0.0/16 table 101",
	)
	tests := []struct {
		name  string
		q     Query
		table TableID
		gw    string
		dev   string
		err   error
	}{
		{"main connected", Query{Dst: ip("10.1.0.7")}, TableMain, "", "eth0", nil},
		{"local", Query{Dst: ip("10.1.0.1")}, TableLocal, "", "eth0", nil},
		{"no route", Query{Dst: ip("8.8.8.8")}, 0, "", "", ErrNetUnreachable},
		{"fwmark default", Query{Dst: ip("8.8.8.8"), Mark: 1}, 100, "10.1.0.254", "eth0", nil},
		{"lowest metric wins", Query{Dst: ip("10.9.2.1"), Mark: 1}, 100, "10.2.0.8", "eth1", nil},
		{"tos route", Query{Dst: ip("10.9.1.1"), Mark: 1, TOS: 0x10}, 100, "", "eth1", nil},
		{"tos mismatch backtracks", Query{Dst: ip("10.9.1.1"), Mark: 1, TOS: 0x08}, 100, "10.2.0.8", "eth1", nil},
		{"ecn bits ignored", Query{Dst: ip("10.9.1.1"), Mark: 1, TOS: 0x13}, 100, "", "eth1", nil},
		{"throw continues", Query{Dst: ip("10.8.0.1"), Mark: 1}, 0, "", "", ErrNetUnreachable},
		{"unreachable route", Query{Dst: ip("10.7.0.1"), Mark: 1}, 0, "", "", ErrHostUnreachable},
		{"suppressed default", Query{Dst: ip("8.8.8.8"), Mark: 2}, 0, "", "", ErrNetUnreachable},
		{"not suppressed /16", Query{Dst: ip("10.9.0.1"), Mark: 2}, 100, "10.2.0.8", "eth1", nil},
		{"goto skips prohibit", Query{Dst: ip("10.6.0.1"), Mark: 3}, 0, "", "", ErrInvalid},
		{"oif filters routes", Query{Dst: ip("10.9.2.1"), Mark: 1, OIF: 2}, 100, "10.1.0.254", "eth0", nil},
	}
	for _, tt := range tests {
		res, err := db.Lookup(tt.q)
		if tt.err != nil {
			if !errors.Is(err, tt.err) {
				t.Errorf("%s: Lookup = %v, want %v", tt.name, err, tt.err)
			}
			continue
		}
		gw := ""
		if res.Gateway.IsValid() {
			gw = res.Gateway.String()
		}
		if err != nil || res.Table != tt.table || gw != tt.gw || res.Dev != tt.dev {
			t.Errorf("%s: Lookup = table %v via %q dev %q err %v, want table %v via %q dev %q", tt.name, res.Table, gw, res.Dev, err, tt.table, tt.gw, tt.dev)
		}
	}
	allocs := testing.AllocsPerRun(100, func() {
		for _, tt := range tests {
			_, _ = db.Lookup(tt.q)
		}
	})
	if allocs != 0 {
		t.Errorf("Lookup allocates %v times per run, want 0", allocs)
	}
}

func TestRuleDefaults(t *testing.T) {
	db := testDB(t, "rule add fwmark 1 table 100", "rule add fwmark 2 table 101", "rule add pref 5 goto 7",
		"rule add pref 6 lookup 0")
	want := []string{
		"0:\tfrom all lookup local",
		"5:\tfrom all goto 7 [unresolved]",
		"6:\tfrom all lookup 1",
		"32764:\tfrom all fwmark 0x2 lookup 101",
		"32765:\tfrom all fwmark 0x1 lookup 100",
		"32766:\tfrom all lookup main",
		"32767:\tfrom all lookup default",
	}
	if got := db.ShowRules(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("ShowRules:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestRouteErrors(t *testing.T) {
	tests := []struct{ line, want string }{
		{"route add 10.9.0.0/16 via 10.1.0.254", ""},
		{"route add 10.9.0.0/16 via 10.1.0.253", "RTNETLINK answers: File exists"},
		{"route add 10.9.0.1/16 dev eth0", "Error: Invalid prefix for given prefix length."},
		{"route add 10.8.0.0/16 via 10.9.0.1", "Error: Nexthop has invalid gateway."},
		{"route add blackhole 10.8.0.0/16 dev eth0", "Error: Gateway, device and multipath can not be specified for this route type."},
		{"route add 10.8.0.0/16 dev eth0 src 10.3.0.9", "Error: Invalid prefsrc address."},
		{"route add 10.8.0.0/16", "RTNETLINK answers: No such device"},
		{"route add local 10.8.0.0/16 dev eth0 scope global", "Error: Invalid scope."},
		{"route add 10.8.0.0/16 via 10.1.0.9 scope host", "Error: Route with host scope can not have a gateway."},
		{"route del 10.8.0.0/16", "RTNETLINK answers: No such process"},
		{"route del 10.8.0.0/16 table 77", "Error: FIB table does not exist."},
		{"rule add pref 100 goto 50", "Error: Backward goto not supported."},
		{"rule del pref 300", "RTNETLINK answers: No such file or directory"},
		{"route add 10.8.0.0/16 dev eth0 tos 0x11", "Error: Invalid dsfield (tos): ECN bits must be 0."},
	}
	db := testDB(t)
	for _, tt := range tests {
		err := db.Update(func(tx *Tx) error { return Exec(tx, tt.line) })
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.line, got, tt.want)
		}
	}
}

func TestShowRoutes(t *testing.T) {
	db := testDB(t, "route add 10.9.0.0/16 via 10.1.0.254 table 100 metric 5",
		"route add 10.9.0.0/16 tos 0x10 dev eth1 table 100", "route add prohibit 10.6.0.0/16 table 100",
		"route add 10.4.0.0/24 dev eth0 proto 99 metric 10")
	want := []string{
		"prohibit 10.6.0.0/16 table 100 ",
		"10.9.0.0/16 tos 0x10 dev eth1 table 100 scope link ",
		"10.9.0.0/16 via 10.1.0.254 dev eth0 table 100 metric 5 ",
		"10.1.0.0/24 dev eth0 proto kernel scope link src 10.1.0.1 ",
		"10.2.0.0/16 dev eth1 proto kernel scope link src 10.2.0.1 ",
		"10.4.0.0/24 dev eth0 proto openr scope link metric 10 ",
		"local 10.1.0.1 dev eth0 table local proto kernel scope host src 10.1.0.1 ",
		"broadcast 10.1.0.255 dev eth0 table local proto kernel scope link src 10.1.0.1 ",
		"local 10.2.0.1 dev eth1 table local proto kernel scope host src 10.2.0.1 ",
		"broadcast 10.2.255.255 dev eth1 table local proto kernel scope link src 10.2.0.1 ",
		"local 127.0.0.0/8 dev lo table local proto kernel scope host src 127.0.0.1 ",
		"local 127.0.0.1 dev lo table local proto kernel scope host src 127.0.0.1 ",
		"broadcast 127.255.255.255 dev lo table local proto kernel scope link src 127.0.0.1 ",
	}
	if got := db.ShowRoutes(TableUnspec); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("ShowRoutes(all):\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestFormatGet(t *testing.T) {
	db := testDB(t, "rule add pref 10 fwmark 1 lookup 100", "route add 10.9.0.0/16 via 10.1.0.254 table 100")
	q := Query{Dst: ip("10.9.1.1"), Mark: 1}
	res, err := db.Output(q)
	if err != nil {
		t.Fatal(err)
	}
	want := "10.9.1.1 via 10.1.0.254 dev eth0 table 100 src 10.1.0.1 mark 1 uid 0 \n    cache "
	if got := db.FormatGet(q, res); got != want {
		t.Errorf("FormatGet = %q, want %q", got, want)
	}
}

type stepLog []Step

func (l *stepLog) Record(s Step) { *l = append(*l, s) }

func TestLookupTrace(t *testing.T) {
	db := testDB(t, "rule add pref 10 fwmark 1 lookup 100", "route add throw 10.9.0.0/16 table 100")
	var log stepLog
	res, err := db.LookupTrace(Query{Dst: ip("10.1.0.9"), Mark: 1}, &log)
	if err != nil || res.Rule != 32766 {
		t.Fatalf("LookupTrace = rule %d, %v; want rule 32766", res.Rule, err)
	}
	// local (matched, no route), 10 (matched, table 100 empty for dst), main.
	if len(log) != 3 || !log[1].Matched || log[1].Err != ErrThrow || log[2].Route == nil {
		t.Errorf("trace = %+v", log)
	}
}
