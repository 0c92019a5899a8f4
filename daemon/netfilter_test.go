package daemon

import (
	"context"
	"strings"
	"testing"

	"tapestry/api"
)

func tool(tb testing.TB, d *Daemon, ns, name, stdin string, args ...string) api.ToolResult {
	tb.Helper()
	res, err := d.Netfilter(context.Background(), ns, api.ToolRequest{Tool: name, Args: args, Stdin: stdin})
	if err != nil {
		tb.Fatalf("%s %v in %s: %v", name, args, ns, err)
	}
	return res
}

// stripComments drops iptables-save's "# Generated/Completed" lines.
func stripComments(s string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

const seedMangle = "*mangle\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n" +
	"-A PREROUTING -i tun0 -p tcp -m tcp --dport 5222 -j MARK --set-xmark 0x1/0xffffffff\nCOMMIT\n"

func TestIptablesCommands(t *testing.T) {
	dir := t.TempDir()
	d := newTestDaemon(t, dir, &MemDevices{})
	ip(t, d, "", "netns add r")
	tests := []struct {
		args   string
		stdout string
		stderr string
		code   int
	}{
		{"-L -n", "Chain INPUT (policy ACCEPT)\ntarget     prot opt source               destination         \n\nChain FORWARD (policy ACCEPT)\ntarget     prot opt source               destination         \n\nChain OUTPUT (policy ACCEPT)\ntarget     prot opt source               destination         \n", "", 0},
		{"-A FOO -j ACCEPT", "", "iptables: No chain/target/match by that name.\n", 1},
		{"-A INPUT --bogus", "", "iptables v1.8.9 (nf_tables): unknown option \"--bogus\"\nTry `iptables -h' or 'iptables --help' for more information.\n", 2},
		{"-D INPUT -p tcp -j ACCEPT", "", "iptables: Bad rule (does a matching rule exist in that chain?).\n", 1},
		{"-C INPUT -p tcp -j ACCEPT", "", "iptables: Bad rule (does a matching rule exist in that chain?).\n", 1},
		{"-t mangle -A PREROUTING -j MARK --set-mark 1 -i tun0 -p tcp --dport 5222", "", "", 0},
		{"-t mangle -S PREROUTING", "-P PREROUTING ACCEPT\n-A PREROUTING -i tun0 -p tcp -m tcp --dport 5222 -j MARK --set-xmark 0x1/0xffffffff\n", "", 0},
	}
	for _, tc := range tests {
		got := tool(t, d, "r", "iptables", "", strings.Fields(tc.args)...)
		if got.Stdout != tc.stdout || got.Stderr != tc.stderr || got.ExitCode != tc.code {
			t.Errorf("iptables %s = %q %q %d; want %q %q %d", tc.args, got.Stdout, got.Stderr, got.ExitCode, tc.stdout, tc.stderr, tc.code)
		}
	}
	// Listing the filter table did not create it; the mangle rule did.
	if got := stripComments(tool(t, d, "r", "iptables-save", "").Stdout); got != seedMangle {
		t.Errorf("iptables-save =\n%s\nwant\n%s", got, seedMangle)
	}
	// A restart restores the tables from the store.
	d.Close()
	d = newTestDaemon(t, dir, &MemDevices{})
	if got := stripComments(tool(t, d, "r", "iptables-save", "").Stdout); got != seedMangle {
		t.Errorf("after restart, iptables-save =\n%s", got)
	}
}

func TestIptablesRestore(t *testing.T) {
	d := newTestDaemon(t, t.TempDir(), &MemDevices{})
	ip(t, d, "", "netns add r")
	good := "*filter\n:INPUT DROP [3:120]\n[5:300] -A INPUT -p tcp --dport 22 -j ACCEPT\nCOMMIT\n"
	if got := tool(t, d, "r", "iptables-restore", good, "--test"); got.ExitCode != 0 || got.Stderr != "" {
		t.Fatalf("--test: %+v", got)
	}
	if got := tool(t, d, "r", "iptables-save", ""); got.Stdout != "" {
		t.Errorf("--test changed the tables:\n%s", got.Stdout)
	}
	if got := tool(t, d, "r", "iptables-restore", good, "--counters"); got.ExitCode != 0 {
		t.Fatalf("restore: %+v", got)
	}
	want := "*filter\n:INPUT DROP [3:120]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n[5:300] -A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\nCOMMIT\n"
	if got := stripComments(tool(t, d, "r", "iptables-save", "", "-c").Stdout); got != want {
		t.Errorf("iptables-save -c =\n%s\nwant\n%s", got, want)
	}
	bad := "*filter\n-A INPUT -j ACCEPT\n-A INPUT --bogus\nCOMMIT\n"
	got := tool(t, d, "r", "iptables-restore", bad)
	wantErr := "iptables-restore v1.8.9 (nf_tables): unknown option \"--bogus\"\nError occurred at line: 3\nTry `iptables-restore -h' or 'iptables-restore --help' for more information.\n"
	if got.ExitCode != 2 || got.Stderr != wantErr {
		t.Errorf("bad restore = %d %q; want 2 %q", got.ExitCode, got.Stderr, wantErr)
	}
	if got := stripComments(tool(t, d, "r", "iptables-save", "", "-c").Stdout); got != want {
		t.Errorf("a bad restore changed the tables:\n%s", got)
	}
	if got := tool(t, d, "r", "iptables-restore", "*nat\n-A POSTROUTING -o eth1 -j MASQUERADE\nCOMMIT\n", "--noflush"); got.ExitCode != 0 {
		t.Fatalf("--noflush: %+v", got)
	}
	if got := tool(t, d, "r", "iptables-save", "", "-t", "filter").Stdout; !strings.Contains(got, "--dport 22") || strings.Contains(got, "*nat") {
		t.Errorf("iptables-save -t filter after --noflush of nat:\n%s", got)
	}
}

func TestConntrackTool(t *testing.T) {
	d := newTestDaemon(t, t.TempDir(), &MemDevices{})
	ip(t, d, "", "netns add r")
	tests := []struct {
		args   string
		stdout string
		stderr string
		code   int
	}{
		{"-L", "", "conntrack v1.4.7 (conntrack-tools): 0 flow entries have been shown.\n", 0},
		{"-L -p tcp -s 10.0.0.1", "", "conntrack v1.4.7 (conntrack-tools): 0 flow entries have been shown.\n", 0},
		{"-F", "", "conntrack v1.4.7 (conntrack-tools): connection tracking table has been emptied.\n", 0},
		{"-D -p udp", "", "conntrack v1.4.7 (conntrack-tools): 0 flow entries have been deleted.\n", 1},
		{"-L --bogus x", "", "conntrack v1.4.7 (conntrack-tools): unknown option `--bogus'\nTry `conntrack -h' or 'conntrack --help' for more information.\n", 2},
		{"-L -s nothost", "", "conntrack v1.4.7 (conntrack-tools): Bad parameter `nothost'\nTry `conntrack -h' or 'conntrack --help' for more information.\n", 2},
	}
	for _, tc := range tests {
		got := tool(t, d, "r", "conntrack", "", strings.Fields(tc.args)...)
		if got.Stdout != tc.stdout || got.Stderr != tc.stderr || got.ExitCode != tc.code {
			t.Errorf("conntrack %s = %q %q %d; want %q %q %d", tc.args, got.Stdout, got.Stderr, got.ExitCode, tc.stdout, tc.stderr, tc.code)
		}
	}
	if _, err := d.Netfilter(context.Background(), "nope", api.ToolRequest{Tool: "iptables", Args: []string{"-L"}}); err == nil || err.Error() != `Cannot open network namespace "nope": No such file or directory` {
		t.Errorf("unknown namespace: %v", err)
	}
}
