package daemon

import (
	"strings"
	"testing"
)

// FuzzParseConntrack: conntrack's words never panic the parser, and a
// parsed command is one of -L, -D, -F.
func FuzzParseConntrack(f *testing.F) {
	for _, s := range []string{"-L", "-D -p tcp -s 10.0.0.1 --dport 80", "-F", "-L -m 0x10 --zone 3", "-L -p 300", "--dump --sport x", "-E -e NEW,destroy -p icmp", "-C", "-S -p tcp"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := parseConntrack(strings.Fields(s))
		if err != nil {
			return
		}
		if ctCommands[c.Cmd] != c.Cmd || c.Filter == nil || c.Events == 0 {
			t.Errorf("parseConntrack(%q) = %+v", s, c)
		}
	})
}
