package route

import (
	"strings"
	"testing"
)

func FuzzParseRouteCommand(f *testing.F) {
	for _, s := range []string{"add 10.0.0.0/8 via 10.1.0.1 dev eth0 table 100 metric 5 tos 0x10",
		"del blackhole default table main", "replace local 10.0.0.1 dev lo proto kernel scope host src 10.0.0.1",
		"add to 1.2.3.0/24 dev x", "get 1.2.3.4 from 5.6.7.8 iif eth0 mark 0x10 tos 0x08"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		w := strings.Fields(s)
		c, err := ParseRouteCommand(w)
		if err == nil && !c.Route.Dst.IsValid() {
			t.Fatalf("%q parsed without a destination", s)
		}
		if len(w) > 0 {
			_, _ = ParseGetCommand(w[1:])
		}
		db := testDB(t)
		_ = db.Update(func(tx *Tx) error { return Exec(tx, "route "+s) })
	})
}

func FuzzParseRuleCommand(f *testing.F) {
	for _, s := range []string{"add pref 10 not from 10.0.0.0/8 to 1.2.3.4 fwmark 0x10/0xf0 iif eth0 oif eth1 ipproto tcp sport 1-5 dport 80 lookup 100 suppress_prefixlength 0",
		"del table 100", "add goto 200 pref 100", "add type blackhole", "add tos 0x10 nop"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseRuleCommand(strings.Fields(s))
		if err != nil {
			return
		}
		db := testDB(t)
		if err := db.Update(func(tx *Tx) error { return c.Apply(tx) }); err == nil && c.Verb == "add" {
			for _, line := range db.ShowRules() {
				if !strings.Contains(line, ":\t") {
					t.Fatalf("bad rule line %q", line)
				}
			}
		}
	})
}
