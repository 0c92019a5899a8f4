package main

import (
	"bytes"
	"go/parser"
	"go/token"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"tapestry/api"
	"tapestry/daemon"
	"tapestry/ofctl"
)

func TestParseVsctl(t *testing.T) {
	c := func(name string, args ...string) api.Command { return api.Command{Name: name, Args: args} }
	tests := []struct {
		args    string
		want    []api.Command
		wantErr string
	}{
		{"add-br br-int", []api.Command{c("add-br", "br-int")}, ""},
		{"--may-exist add-br br-int", []api.Command{{Name: "add-br", Args: []string{"br-int"}, MayExist: true}}, ""},
		{"--if-exists del-br x", []api.Command{{Name: "del-br", Args: []string{"x"}, IfExists: true}}, ""},
		{"add-port br-int qr-1 -- set interface qr-1 type=internal", []api.Command{c("add-port", "br-int", "qr-1"),
			{Name: "set", Args: []string{"interface", "qr-1"}, Settings: []api.Setting{{Column: "type", Value: "internal"}}}}, ""},
		{"add-port br0 p1 tag=10 other_config:k=v", []api.Command{{Name: "add-port", Args: []string{"br0", "p1"},
			Settings: []api.Setting{{Column: "tag", Value: "10"}, {Column: "other_config", Key: "k", Value: "v"}}}}, ""},
		{"set bridge br0 other-config:datapath-id=0000000000000abc protocols=OpenFlow10,OpenFlow13", []api.Command{{Name: "set", Args: []string{"bridge", "br0"},
			Settings: []api.Setting{{Column: "other-config", Key: "datapath-id", Value: "0000000000000abc"}, {Column: "protocols", Value: "OpenFlow10,OpenFlow13"}}}}, ""},
		{"get interface p1 ofport error", []api.Command{{Name: "get", Args: []string{"interface", "p1"}, Settings: []api.Setting{{Column: "ofport"}, {Column: "error"}}}}, ""},
		{"--timeout=5 -- list-br -- show", []api.Command{c("list-br"), c("show")}, ""},
		{"list-br -- -- show", []api.Command{c("list-br"), c("show")}, ""},
		{"del-port br0 p1", []api.Command{c("del-port", "br0", "p1")}, ""},
		{"clear port p1 tag trunks", []api.Command{c("clear", "port", "p1", "tag", "trunks")}, ""},
		{"", nil, "missing command name (use --help for help)"},
		{"frob", nil, "unknown command 'frob'; use --help for help"},
		{"add-br", nil, "'add-br' command requires at least 1 arguments"},
		{"list-br extra", nil, "'list-br' command takes at most 0 arguments"},
		{"del-port a b c", nil, "'del-port' command takes at most 2 arguments"},
		{"--if-exists add-br x", nil, "'add-br' command has no '--if-exists' option"},
		{"set port p1", nil, "'set' command requires at least 3 arguments"},
		{"set port p1 tag", nil, `tag: argument does not end in "=" followed by a value.`},
		{"get port p1 tag=1", nil, `tag=1: trailing garbage "=1" in argument`},
		{"--frob list-br", nil, "unrecognized option '--frob'"},
		{"--db=tcp:1.2.3.4:6640 show", nil, "tcp:1.2.3.4:6640: only unix:PATH databases are supported"},
		{"-t", nil, "option '-t' requires an argument"},
	}
	for _, tt := range tests {
		inv, err := parseVsctl(strings.Fields(tt.args))
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("parseVsctl(%q) err = %v, want %q", tt.args, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("parseVsctl(%q): %v", tt.args, err)
			continue
		}
		if diff := cmp.Diff(tt.want, inv.commands); diff != "" {
			t.Errorf("parseVsctl(%q) (-want +got):\n%s", tt.args, diff)
		}
	}
}

func TestParseVsctlSocket(t *testing.T) {
	for _, tt := range []struct{ args, socket string }{
		{"--run-dir=/x show", "/x/tapestry.sock"},
		{"--run-dir /y show", "/y/tapestry.sock"},
		{"--db=unix:/z.sock show", "/z.sock"},
	} {
		inv, err := parseVsctl(strings.Fields(tt.args))
		if err != nil || inv.socket != tt.socket {
			t.Errorf("parseVsctl(%q) socket = %q, %v; want %q", tt.args, inv.socket, err, tt.socket)
		}
	}
	t.Setenv("TAPESTRY_RUNDIR", "/env")
	if inv, _ := parseVsctl([]string{"show"}); inv.socket != "/env/tapestry.sock" {
		t.Errorf("TAPESTRY_RUNDIR ignored: socket %q", inv.socket)
	}
}

func TestParseOfctl(t *testing.T) {
	type want struct {
		command string
		args    []string
		strict  bool
		noStats bool
		names   int
		sort    string
		rsort   string
		version uint8
	}
	tests := []struct {
		args    string
		want    want
		wantErr string
	}{
		{"dump-flows br0", want{"dump-flows", []string{"br0"}, false, false, -1, "", "", ofctl.OpenFlow10}, ""},
		{"--no-stats --names dump-flows br0 in_port=1", want{"dump-flows", []string{"br0", "in_port=1"}, false, true, 1, "", "", ofctl.OpenFlow10}, ""},
		{"del-flows br0 --strict in_port=1", want{"del-flows", []string{"br0", "in_port=1"}, true, false, -1, "", "", ofctl.OpenFlow10}, ""},
		{"--sort dump-flows br0", want{"dump-flows", []string{"br0"}, false, false, -1, "priority", "", ofctl.OpenFlow10}, ""},
		{"--rsort=in_port --no-names dump-flows br0", want{"dump-flows", []string{"br0"}, false, false, 0, "", "in_port", ofctl.OpenFlow10}, ""},
		{"-O OpenFlow13 show br0", want{"show", []string{"br0"}, false, false, -1, "", "", ofctl.OpenFlow13}, ""},
		{"-OOpenFlow13 show br0", want{"show", []string{"br0"}, false, false, -1, "", "", ofctl.OpenFlow13}, ""},
		{"--protocols=OpenFlow10,OpenFlow13 dump-tables br0", want{"dump-tables", []string{"br0"}, false, false, -1, "", "", ofctl.OpenFlow13}, ""},
		{"add-flow br0 -- -in_port=1", want{"add-flow", []string{"br0", "-in_port=1"}, false, false, -1, "", "", ofctl.OpenFlow10}, ""},
		{"mod-port br0 tap0 down", want{"mod-port", []string{"br0", "tap0", "down"}, false, false, -1, "", "", ofctl.OpenFlow10}, ""},
		{"", want{}, "missing command name; use --help for help"},
		{"frob br0", want{}, "unknown command 'frob'; use --help for help"},
		{"dump-flows", want{}, "'dump-flows' command requires at least 1 arguments"},
		{"add-flow br0", want{}, "'add-flow' command requires at least 2 arguments"},
		{"show br0 extra", want{}, "'show' command takes at most 1 arguments"},
		{"-O OpenFlow99 show br0", want{}, "OpenFlow99: unknown OpenFlow version"},
		{"-O OpenFlow14 show br0", want{}, "OpenFlow14: tapestry speaks OpenFlow10 and OpenFlow13 only"},
		{"--frob show br0", want{}, "unrecognized option '--frob'"},
		{"--format=xml trace br0 in_port=1", want{}, `--format: unknown format "xml" (text or json)`},
		{"-t x show br0", want{}, "value x on -t or --timeout is invalid"},
		{"--timeout=5 show br0", want{"show", []string{"br0"}, false, false, -1, "", "", ofctl.OpenFlow10}, ""},
	}
	for _, tt := range tests {
		inv, err := parseOfctl(strings.Fields(tt.args))
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("parseOfctl(%q) err = %v, want %q", tt.args, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("parseOfctl(%q): %v", tt.args, err)
			continue
		}
		got := want{inv.command, inv.args, inv.strict, inv.noStats, inv.names, inv.sort, inv.rsort, inv.version}
		if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(want{})); diff != "" {
			t.Errorf("parseOfctl(%q) (-want +got):\n%s", tt.args, diff)
		}
	}
}

// startDaemon runs a daemon with in-memory ports in temp dirs and returns
// its run dir.
func startDaemon(t *testing.T) string {
	t.Helper()
	run := t.TempDir()
	d, err := daemon.New(daemon.Config{StateDir: t.TempDir(), RunDir: run, Devices: &daemon.MemDevices{},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Serve(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return run
}

// cli runs one command line of a personality against the daemon in run.
func cli(t *testing.T, run string, tool func([]string, io.Writer, io.Writer) int, line string) (string, string, int) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := tool(append([]string{"--run-dir=" + run}, strings.Fields(line)...), &stdout, &stderr)
	return stdout.String(), stderr.String(), code
}

func TestCLIEndToEnd(t *testing.T) {
	run := startDaemon(t)
	flows := filepath.Join(t.TempDir(), "flows.txt")
	os.WriteFile(flows, []byte("in_port=1,actions=output:2\n# comment\nin_port=2,actions=output:1\n"), 0o644)
	bad := filepath.Join(t.TempDir(), "bad.txt")
	os.WriteFile(bad, []byte("in_port=1,actions=drop\n\nin_port=3,nw_dts=1,actions=drop\n"), 0o644)

	steps := []struct {
		tool   func([]string, io.Writer, io.Writer) int
		line   string
		stdout string
		stderr string // prefix
		code   int
	}{
		{runVsctl, "add-br br-int", "", "", 0},
		{runVsctl, "add-br br-int", "", "ovs-vsctl: cannot create a bridge named br-int because a bridge named br-int already exists\n", 1},
		{runVsctl, "--may-exist add-br br-int", "", "", 0},
		{runVsctl, "add-port br-int tap0 -- add-port br-int tap1", "", "", 0},
		{runVsctl, "add-port br-int qr-1 -- set interface qr-1 type=internal", "", "", 0},
		{runVsctl, "list-ports br-int", "qr-1\ntap0\ntap1\n", "", 0},
		{runVsctl, "br-exists nobr", "", "", 2},
		{runVsctl, "port-to-br tap1", "br-int\n", "", 0},
		{runOfctl, "del-flows br-int", "", "", 0},
		{runOfctl, "add-flows br-int " + flows, "", "", 0},
		{runOfctl, "--no-stats dump-flows br-int", " in_port=1 actions=output:2\n in_port=2 actions=output:1\n", "", 0},
		{runOfctl, "--no-stats --names --sort=in_port dump-flows br-int", " in_port=tap0 actions=output:tap1\n in_port=tap1 actions=output:tap0\n", "", 0},
		{runOfctl, "add-flows br-int " + bad, "", "ovs-ofctl: " + bad + ":3: ", 1},
		{runOfctl, "add-flow br-int in_port=1", "", "ovs-ofctl: ", 1},
		{runOfctl, "dump-flows nobr", "", "ovs-ofctl: nobr is not a bridge or a socket\n", 1},
		{runOfctl, "add-flows br-int /nonexistent", "", "ovs-ofctl: /nonexistent: open failed (No such file or directory)\n", 1},
		{runOfctl, "--strict del-flows br-int in_port=2", "", "", 0},
		{runOfctl, "diff-flows br-int " + flows, "+in_port=2 actions=output:1\n", "", 2},
		{runOfctl, "replace-flows br-int " + flows, "", "", 0},
		{runOfctl, "diff-flows br-int " + flows, "", "", 0},
		{runOfctl, "dump-aggregate br-int", "NXST_AGGREGATE reply (xid=0x4): packet_count=0 byte_count=0 flow_count=2\n", "", 0},
		{runOfctl, "mod-port br-int tap0 down", "", "", 0},
		{runOfctl, "mod-port br-int tap0 frob", "", "ovs-ofctl: unknown mod-port command 'frob'\n", 1},
		{runOfctl, "mod-port br-int nope up", "", "ovs-ofctl: br-int: couldn't find port `nope'\n", 1},
		{runOfctl, "dump-ports br-int nope", "", "ovs-ofctl: br-int: couldn't find port `nope'\n", 1},
		{runOfctl, "del-flows br-int -", "", "", 0}, // stdin: in_port=2 (set below)
		{runOfctl, "--no-stats dump-flows br-int", " in_port=1 actions=output:2\n", "", 0},
		{runVsctl, "del-br br-int", "", "", 0},
		{runVsctl, "list-br", "", "", 0},
	}
	old := ofctlStdin
	ofctlStdin = strings.NewReader("# from stdin\nin_port=2\n")
	t.Cleanup(func() { ofctlStdin = old })
	for _, s := range steps {
		stdout, stderr, code := cli(t, run, s.tool, s.line)
		if stdout != s.stdout || !strings.HasPrefix(stderr, s.stderr) || (s.stderr == "" && stderr != "") || code != s.code {
			t.Errorf("%q:\n stdout %q, want %q\n stderr %q, want prefix %q\n exit %d, want %d", s.line, stdout, s.stdout, stderr, s.stderr, code, s.code)
		}
	}
}

func TestCLIShowAndDumps(t *testing.T) {
	run := startDaemon(t)
	cli(t, run, runVsctl, "add-br br0 -- add-port br0 p1 -- set bridge br0 other-config:datapath-id=00000000000000ab")
	out, _, code := cli(t, run, runOfctl, "show br0")
	if code != 0 || !strings.HasPrefix(out, "OFPT_FEATURES_REPLY (xid=0x2): dpid:00000000000000ab\nn_tables:254, n_buffers:0\n") ||
		!strings.Contains(out, " 1(p1): addr:") || !strings.Contains(out, " LOCAL(br0): addr:") {
		t.Errorf("show br0 = %q (exit %d)", out, code)
	}
	out, _, code = cli(t, run, runOfctl, "dump-flows br0")
	if code != 0 || !strings.HasPrefix(out, "NXST_FLOW reply (xid=0x4):\n cookie=0x0, duration=") || !strings.Contains(out, "idle_age=") ||
		!strings.HasSuffix(out, "priority=0 actions=NORMAL\n") {
		t.Errorf("dump-flows br0 = %q (exit %d)", out, code)
	}
	out, _, _ = cli(t, run, runOfctl, "--names dump-flows br0")
	if strings.Contains(out, "idle_age") || strings.Contains(out, "NXST_FLOW") {
		t.Errorf("dump-flows --names prints ages or a header: %q", out)
	}
	out, _, _ = cli(t, run, runOfctl, "-O OpenFlow13 dump-flows br0")
	if !strings.HasPrefix(out, "OFPST_FLOW reply (OF1.3) (xid=0x2):\n") {
		t.Errorf("-O OpenFlow13 dump-flows = %q", out)
	}
	out, _, _ = cli(t, run, runOfctl, "dump-tables br0")
	if !strings.HasPrefix(out, "OFPST_TABLE reply (xid=0x2):\n  table 0:\n    active=1,") || !strings.HasSuffix(out, "  tables 2...253: ditto\n") {
		t.Errorf("dump-tables = %q", out)
	}
	out, _, _ = cli(t, run, runOfctl, "dump-ports br0 1")
	if !strings.HasPrefix(out, "OFPST_PORT reply (xid=0x2): 1 ports\n  port  1: rx pkts=0,") {
		t.Errorf("dump-ports br0 1 = %q", out)
	}
	out, _, _ = cli(t, run, runVsctl, "show")
	if lines := strings.Split(out, "\n"); len(lines) < 2 || len(lines[0]) != 36 || lines[1] != "    Bridge br0" {
		t.Errorf("vsctl show = %q", out)
	}
	out, _, code = cli(t, run, runOfctl, "trace br0 in_port=1,icmp")
	if code != 0 || out == "" {
		t.Errorf("trace = %q (exit %d)", out, code)
	}
	out, _, code = cli(t, run, runOfctl, "--format=json trace br0 in_port=1,icmp")
	if code != 0 || !strings.HasPrefix(out, "{") {
		t.Errorf("trace --format=json = %q (exit %d)", out, code)
	}
}

func TestNoDaemonMessage(t *testing.T) {
	run := t.TempDir()
	_, stderr, code := cli(t, run, runVsctl, "show")
	want := "ovs-vsctl: unix:" + filepath.Join(run, "tapestry.sock") + ": database connection failed (No such file or directory); is the tapestry daemon running?\n"
	if code != 1 || stderr != want {
		t.Errorf("vsctl without daemon: exit %d, stderr %q, want %q", code, stderr, want)
	}
}

func TestPersonalityAndVersion(t *testing.T) {
	for name, run := range personalities {
		var out bytes.Buffer
		if code := run([]string{"--version"}, &out, io.Discard); code != 0 || !strings.Contains(out.String(), name) {
			t.Errorf("%s --version: exit %d, %q", name, code, out.String())
		}
	}
	var out bytes.Buffer
	if code := runTapestry([]string{"version"}, &out, io.Discard); code != 0 || out.String() != "tapestry "+version+"\n" {
		t.Errorf("tapestry version: exit %d, %q", code, out.String())
	}
	var errb bytes.Buffer
	if code := runTapestry([]string{"vsctl", "--run-dir=" + t.TempDir(), "frob"}, io.Discard, &errb); code != 1 || errb.String() != "ovs-vsctl: unknown command 'frob'; use --help for help\n" {
		t.Errorf("tapestry vsctl frob: exit %d, %q", code, errb.String())
	}
}

func TestInstallLinks(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	if code := runTapestry([]string{"install-links", dir}, &out, io.Discard); code != 0 {
		t.Fatalf("install-links: exit %d", code)
	}
	self, _ := os.Executable()
	self, _ = filepath.EvalSymlinks(self)
	for _, n := range []string{"ovs-vsctl", "ovs-ofctl"} {
		if target, err := os.Readlink(filepath.Join(dir, n)); err != nil || target != self {
			t.Errorf("%s -> %q, %v; want %q", n, target, err, self)
		}
	}
	// Idempotent, and never replaces a real file without --force.
	if code := runTapestry([]string{"install-links", dir}, io.Discard, io.Discard); code != 0 {
		t.Errorf("second install-links: exit %d", code)
	}
	os.Remove(filepath.Join(dir, "ovs-ofctl"))
	os.WriteFile(filepath.Join(dir, "ovs-ofctl"), []byte("real tool"), 0o755)
	if code := runTapestry([]string{"install-links", dir}, io.Discard, io.Discard); code != 1 {
		t.Errorf("install-links over a real file: exit %d, want 1", code)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "ovs-ofctl")); string(b) != "real tool" {
		t.Errorf("install-links replaced a real file")
	}
}

// TestImports enforces the layering rule: the CLI personalities talk to
// the daemon only through package api and use syntax packages; only the
// daemon subcommand may import package daemon, and nothing here imports
// the data plane or the store directly.
func TestImports(t *testing.T) {
	forbidden := []string{"tapestry/ofproto", "tapestry/link", "tapestry/store", "tapestry/classifier", "tapestry/packet"}
	fset := token.NewFileSet()
	files, _ := filepath.Glob("*.go")
	for _, f := range files {
		af, err := parser.ParseFile(fset, f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range af.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			for _, bad := range forbidden {
				if path == bad || strings.HasPrefix(path, bad+"/") {
					t.Errorf("%s imports %s", f, path)
				}
			}
			if path == "tapestry/daemon" && f != "daemon.go" && !strings.HasSuffix(f, "_test.go") {
				t.Errorf("%s imports tapestry/daemon; only the daemon subcommand may", f)
			}
		}
	}
}
