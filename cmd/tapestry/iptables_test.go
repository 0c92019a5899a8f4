package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestIptablesThroughDaemon runs the netfilter tools as a user would:
// iptables-restore from stdin and from a file, iptables, iptables-save,
// conntrack, with the real tools' exit statuses, and a restart that keeps
// the tables.
func TestIptablesThroughDaemon(t *testing.T) {
	nd := newNSDaemon(t)
	buildRoutedTopology(t)
	rules := "*filter\n:FORWARD DROP [0:0]\n-A FORWARD -p icmp -j ACCEPT\nCOMMIT\n"
	netfilterStdin = strings.NewReader(rules)
	t.Cleanup(func() { netfilterStdin = os.Stdin })
	must(t, "ip netns exec r iptables-restore")
	out, _, code := tap("ip netns exec h1 ping -c 1 -W 1 10.2.0.2")
	if code != 0 {
		t.Fatalf("ping through FORWARD ACCEPT icmp: exit %d\n%s", code, out)
	}
	tests := []struct {
		line   string
		stdout string // substring
		stderr string // substring
		code   int
	}{
		{"ip netns exec r iptables -L FORWARD -n -v -x", "       2      168 ACCEPT     1    --  *      *       0.0.0.0/0            0.0.0.0/0", "", 0},
		{"ip netns exec r iptables -A NOPE -j ACCEPT", "", "iptables: No chain/target/match by that name.\n", 1},
		{"ip netns exec r iptables -A FORWARD --nope", "", "Try `iptables -h' or 'iptables --help' for more information.", 2},
		{"ip netns exec r conntrack -L -p icmp", "icmp     1 ", "1 flow entries have been shown.", 0},
		{"ip netns exec r conntrack -D -s 10.1.0.2", "src=10.1.0.2 dst=10.2.0.2", "1 flow entries have been deleted.", 0},
		{"ip netns exec r conntrack -D -s 10.1.0.2", "", "0 flow entries have been deleted.", 1},
		{"ip netns exec nope iptables -L", "", `Cannot open network namespace "nope": No such file or directory`, 255},
	}
	for _, tc := range tests {
		out, errOut, code := tap(tc.line)
		if code != tc.code || !strings.Contains(out, tc.stdout) || !strings.Contains(errOut, tc.stderr) {
			t.Errorf("%s: exit %d\nstdout: %q\nstderr: %q\nwant exit %d, %q, %q", tc.line, code, out, errOut, tc.code, tc.stdout, tc.stderr)
		}
	}
	// A bad file changes nothing and names the line.
	bad := filepath.Join(t.TempDir(), "bad.rules")
	if err := os.WriteFile(bad, []byte("*filter\n-F\n-A FORWARD -j NOPE\nCOMMIT\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := tap("ip netns exec r iptables-restore " + bad); code != 2 || !strings.Contains(errOut, "Error occurred at line: 3\n") {
		t.Errorf("bad restore: exit %d\n%s", code, errOut)
	}
	nd.stop()
	nd.start()
	out, _, _ = tap("ip netns exec r iptables-save")
	if !strings.Contains(out, ":FORWARD DROP [0:0]\n") || !strings.Contains(out, "\n-A FORWARD -p icmp -j ACCEPT\nCOMMIT\n") {
		t.Errorf("after restart, iptables-save:\n%s", out)
	}
}
