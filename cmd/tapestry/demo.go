package main

// tapestry demo: the seed's ping experiment (scripts/seed-ping.sh) without
// root. Instead of kernel TAP devices and kernel namespaces it uses two
// internal ports of br-int moved into two tapestry namespaces, and a
// daemon started inside this process with a temporary state dir (or, with
// --running, the daemon already listening on the default socket).

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"tapestry/api"
)

func newDemoCmd() *cobra.Command {
	var running bool
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the seed ping experiment in tapestry namespaces (no root needed)",
		Long: "demo builds br-int with two internal ports moved into the tapestry namespaces\n" +
			"ns0 (10.0.0.1/24) and ns1 (10.0.0.2/24), then shows that NORMAL switches, that\n" +
			"in_port flows forward, that no flows means no forwarding and that NORMAL\n" +
			"restores it, printing every command and its output. It exits non-zero when a\n" +
			"check fails.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if code := runDemo(cmd.OutOrStdout(), running); code != 0 {
				return exitError{code}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&running, "running", false, "use the running daemon instead of starting one in-process")
	return cmd
}

// demo prints each step as the seed script does: the command after "$ ",
// its output indented by two spaces, and a verdict line for checks.
type demo struct {
	w          io.Writer
	bold       bool
	pass, fail int
}

func (d *demo) step(args ...string) int {
	cmd := "tapestry " + strings.Join(args, " ")
	if d.bold {
		fmt.Fprintf(d.w, "\n\033[1m$ %s\033[0m\n", cmd)
	} else {
		fmt.Fprintf(d.w, "\n$ %s\n", cmd)
	}
	var buf bytes.Buffer
	code := runTapestry(args, &buf, &buf)
	for _, l := range strings.SplitAfter(buf.String(), "\n") {
		if l != "" {
			fmt.Fprint(d.w, "  "+l)
		}
	}
	if buf.Len() > 0 && !bytes.HasSuffix(buf.Bytes(), []byte("\n")) {
		fmt.Fprintln(d.w)
	}
	return code
}

func (d *demo) expect(ok bool, what string, args ...string) {
	got := d.step(args...) == 0
	word := func(b bool) string {
		if b {
			return "ok"
		}
		return "fail"
	}
	if got == ok {
		d.pass++
		fmt.Fprintf(d.w, "  => %s: %s, as expected\n", what, word(got))
		return
	}
	d.fail++
	fmt.Fprintf(d.w, "  => %s: %s, expected %s  <-- FAIL\n", what, word(got), word(ok))
}

// runDemo runs the experiment and returns the exit status.
func runDemo(w io.Writer, running bool) int {
	d := &demo{w: w}
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			d.bold = true
		}
	}
	if !running {
		work, err := os.MkdirTemp("", "tapestry-demo.")
		if err != nil {
			fmt.Fprintf(w, "demo: %v\n", err)
			return 1
		}
		defer os.RemoveAll(work)
		state, run := work+"/state", work+"/run"
		restore := setenv(map[string]string{"TAPESTRY_STATEDIR": state, "TAPESTRY_RUNDIR": run})
		defer restore()
		logf, err := os.Create(work + "/daemon.log")
		if err != nil {
			fmt.Fprintf(w, "demo: %v\n", err)
			return 1
		}
		defer logf.Close()
		fmt.Fprintf(w, "$ tapestry daemon &   (in this process; state in %s)\n", work)
		stop, err := startInProcessDaemon(state, run, logf)
		if err != nil {
			fmt.Fprintf(w, "demo: starting the daemon: %v\n", err)
			return 1
		}
		defer stop()
	} else {
		fmt.Fprintf(w, "(using the daemon on %s)\n", api.SocketPath(api.DefaultRunDir()))
	}
	d.run()
	fmt.Fprintf(w, "\n%d passed, %d failed\n", d.pass, d.fail)
	if d.fail > 0 {
		return 1
	}
	return 0
}

func (d *demo) run() {
	d.step("vsctl", "add-br", "br-int")
	for i := range 2 {
		p := fmt.Sprintf("p%d", i)
		d.step("vsctl", "add-port", "br-int", p, "--", "set", "interface", p, "type=internal")
	}
	for i := range 2 {
		p, ns := fmt.Sprintf("p%d", i), fmt.Sprintf("ns%d", i)
		d.step("ip", "netns", "add", ns)
		d.step("ip", "link", "set", p, "netns", ns)
		d.step("ip", "-n", ns, "addr", "add", fmt.Sprintf("10.0.0.%d/24", i+1), "dev", p)
		d.step("ip", "-n", ns, "link", "set", p, "up")
	}
	d.step("vsctl", "show")
	d.step("ofctl", "dump-flows", "br-int")
	ping := func(n string) []string {
		return []string{"ip", "netns", "exec", "ns0", "ping", "-c" + n, "-i0.2", "-W1", "10.0.0.2"}
	}
	d.expect(true, "a new bridge switches with NORMAL", ping("3")...)
	d.step("ofctl", "del-flows", "br-int")
	d.step("ofctl", "add-flow", "br-int", "in_port=1,actions=output:2")
	d.step("ofctl", "add-flow", "br-int", "in_port=2,actions=output:1")
	d.expect(true, "in_port flows forward", ping("3")...)
	d.step("ofctl", "dump-flows", "br-int")
	d.step("ofctl", "del-flows", "br-int")
	d.step("ip", "-n", "ns0", "neigh", "flush", "all")
	d.expect(false, "no flows, no forwarding", ping("2")...)
	d.step("ofctl", "add-flow", "br-int", "actions=NORMAL")
	d.expect(true, "NORMAL learns MACs and forwards", ping("3")...)
	d.step("ofctl", "dump-flows", "br-int")
	d.step("ofctl", "trace", "br-int", "in_port=1,icmp,nw_src=10.0.0.1,nw_dst=10.0.0.2")
	d.step("ofctl", "dump-ports", "br-int")
	d.step("ip", "-n", "ns0", "neigh", "show")
}

// setenv sets environment variables and returns a function that puts the
// old values back.
func setenv(vars map[string]string) func() {
	old := map[string]*string{}
	for k, v := range vars {
		if o, ok := os.LookupEnv(k); ok {
			old[k] = &o
		} else {
			old[k] = nil
		}
		os.Setenv(k, v)
	}
	return func() {
		for k, v := range old {
			if v == nil {
				os.Unsetenv(k)
			} else {
				os.Setenv(k, *v)
			}
		}
	}
}
