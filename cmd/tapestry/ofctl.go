package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"tapestry/api"
	"tapestry/ofctl"
)

// ofctlInvocation is a parsed ovs-ofctl command line.
type ofctlInvocation struct {
	socket  string
	strict  bool
	noStats bool
	names   int    // -1 unset (names when stdout is a terminal), 0 --no-names, 1 --names
	sort    string // --sort[=FIELD]
	rsort   string // --rsort[=FIELD]
	version uint8  // from -O: ofctl.OpenFlow10 or ofctl.OpenFlow13
	// protocols is -O's list as given ("" without -O): over OpenFlow it
	// limits the versions offered.
	protocols string
	format    string // --format for trace: text or json
	timeout   time.Duration
	help      bool
	showVer   bool
	command   string
	args      []string
}

// ofctlCommand is one ovs-ofctl command: argument counts and handler.
type ofctlCommand struct {
	min, max int
	run      func(c *ofctlCtx) error
}

var ofctlCommands map[string]ofctlCommand

func init() {
	ofctlCommands = map[string]ofctlCommand{
		"show":                {1, 1, ofctlShow},
		"dump-flows":          {1, 2, ofctlDumpFlows},
		"dump-aggregate":      {1, 2, ofctlDumpAggregate},
		"add-flow":            {2, 2, ofctlAddFlow},
		"add-flows":           {2, 2, ofctlAddFlows},
		"mod-flows":           {2, 2, ofctlModFlows},
		"del-flows":           {1, 2, ofctlDelFlows},
		"replace-flows":       {2, 2, ofctlReplaceFlows},
		"diff-flows":          {2, 2, ofctlDiffFlows},
		"dump-ports":          {1, 2, ofctlDumpPorts},
		"dump-ports-desc":     {1, 2, ofctlDumpPortsDesc},
		"dump-tables":         {1, 1, ofctlDumpTables},
		"mod-port":            {3, 3, ofctlModPort},
		"trace":               {2, 2, ofctlTrace},
		"add-group":           {2, 2, ofctlAddGroup},
		"add-groups":          {2, 2, ofctlAddGroups},
		"mod-group":           {2, 2, ofctlModGroup},
		"del-groups":          {1, 2, ofctlDelGroups},
		"dump-groups":         {1, 2, ofctlDumpGroups},
		"dump-group-stats":    {1, 2, ofctlDumpGroupStats},
		"dump-group-features": {1, 1, ofctlDumpGroupFeatures},
		// OpenFlow only: a bridge name reaches <rundir>/<bridge>.mgmt.
		"packet-out": {2, 2, ofctlNeedsWire},
	}
}

// parseOfctl parses ovs-ofctl's command line. Like getopt_long, options may
// come anywhere ("del-flows br0 --strict in_port=1"); "--" ends them.
func parseOfctl(args []string) (ofctlInvocation, error) {
	inv := ofctlInvocation{socket: api.SocketPath(api.DefaultRunDir()), names: -1, version: ofctl.OpenFlow10, format: "text"}
	var pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			pos = append(pos, a)
			continue
		}
		name, val, hasVal := strings.Cut(a, "=")
		if strings.HasPrefix(a, "-O") && a != "-O" {
			name, val, hasVal = "-O", a[2:], true
		}
		needVal := func() (string, error) {
			if hasVal {
				return val, nil
			}
			if i+1 >= len(args) {
				return "", fmt.Errorf("option '%s' requires an argument", name)
			}
			i++
			return args[i], nil
		}
		var err error
		switch name {
		case "--strict":
			inv.strict = true
		case "--no-stats":
			inv.noStats = true
		case "--names":
			inv.names = 1
		case "--no-names":
			inv.names = 0
		case "--sort":
			inv.sort = sortField(val, hasVal)
		case "--rsort":
			inv.rsort = sortField(val, hasVal)
		case "--run-dir":
			var v string
			v, err = needVal()
			inv.socket = api.SocketPath(v)
		case "-O", "--protocols":
			var v string
			if v, err = needVal(); err == nil {
				inv.version, err = parseProtocols(v)
				inv.protocols = v
			}
		case "--format":
			if inv.format, err = needVal(); err == nil && inv.format != "text" && inv.format != "json" {
				err = fmt.Errorf("--format: unknown format %q (text or json)", inv.format)
			}
		case "-t", "--timeout":
			var v string
			if v, err = needVal(); err == nil {
				n, perr := strconv.Atoi(v)
				if perr != nil || n < 0 {
					err = fmt.Errorf("value %s on -t or --timeout is invalid", v)
				}
				inv.timeout = time.Duration(n) * time.Second
			}
		case "--readd", "--bundle", "-m", "--more", "--timestamp", "--no-readd":
			// Accepted for compatibility; changes are always applied as
			// one atomic batch, which is what --bundle asks for.
		case "-h", "--help":
			inv.help = true
		case "-V", "--version":
			inv.showVer = true
		default:
			err = fmt.Errorf("unrecognized option '%s'", a)
		}
		if err != nil {
			return inv, err
		}
	}
	if inv.help || inv.showVer {
		return inv, nil
	}
	if len(pos) == 0 {
		return inv, errors.New("missing command name; use --help for help")
	}
	inv.command, inv.args = pos[0], pos[1:]
	spec, ok := ofctlCommands[inv.command]
	if !ok {
		return inv, fmt.Errorf("unknown command '%s'; use --help for help", inv.command)
	}
	if len(inv.args) < spec.min {
		return inv, fmt.Errorf("'%s' command requires at least %d arguments", inv.command, spec.min)
	}
	if len(inv.args) > spec.max {
		return inv, fmt.Errorf("'%s' command takes at most %d arguments", inv.command, spec.max)
	}
	return inv, nil
}

// sortField is --sort's field: the one given, or priority for plain --sort.
func sortField(val string, hasVal bool) string {
	if !hasVal || val == "" {
		return "priority"
	}
	return val
}

// parseProtocols reads -O's list; the highest version listed that tapestry
// speaks is used, as ovs-ofctl negotiates the highest common one.
func parseProtocols(v string) (uint8, error) {
	best := uint8(0)
	for _, p := range strings.Split(v, ",") {
		switch strings.TrimSpace(p) {
		case "OpenFlow10":
			best = max(best, ofctl.OpenFlow10)
		case "OpenFlow13":
			best = max(best, ofctl.OpenFlow13)
		case "OpenFlow11", "OpenFlow12", "OpenFlow14", "OpenFlow15":
			// Not spoken; another listed version may still be.
		default:
			return 0, fmt.Errorf("%s: unknown OpenFlow version", p)
		}
	}
	if best == 0 {
		return 0, fmt.Errorf("%s: tapestry speaks OpenFlow10 and OpenFlow13 only", v)
	}
	return best, nil
}

// ofctlCtx is what a command function needs.
type ofctlCtx struct {
	inv    ofctlInvocation
	client *api.Client
	ctx    context.Context
	stdin  io.Reader
	stdout io.Writer
	// exit is set by commands that report through their exit status
	// (diff-flows: 2 when the sources differ).
	exit int
}

func (c *ofctlCtx) arg(i int) string {
	if i < len(c.inv.args) {
		return c.inv.args[i]
	}
	return ""
}

// ofctlStdin is what add-flows - reads; tests replace it.
var ofctlStdin io.Reader = os.Stdin

// runOfctl is the ovs-ofctl personality.
func runOfctl(args []string, stdout, stderr io.Writer) int {
	inv, err := parseOfctl(args)
	if err != nil {
		fmt.Fprintf(stderr, "ovs-ofctl: %v\n", err)
		return 1
	}
	switch {
	case inv.help:
		fmt.Fprint(stdout, ofctlHelp)
		return 0
	case inv.showVer:
		fmt.Fprintf(stdout, "ovs-ofctl (tapestry) %s\nOpenFlow versions 0x1:0x4\n", version)
		return 0
	}
	if inv.names < 0 {
		inv.names = 0
		if isTerminal(stdout) {
			// ovs-ofctl shows port names by default when printing to a
			// terminal.
			inv.names = 1
		}
	}
	ctx := context.Background()
	if inv.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, inv.timeout)
		defer cancel()
	}
	c := &ofctlCtx{inv: inv, client: api.NewClient(inv.socket), ctx: ctx, stdin: ofctlStdin, stdout: stdout}
	run := ofctlCommands[inv.command].run
	if wireTarget(c.arg(0)) {
		run = func(c *ofctlCtx) error {
			if handled, err := runWire(c); handled {
				return err
			}
			return fmt.Errorf("%s: %s is not available over an OpenFlow connection", c.arg(0), c.inv.command)
		}
	}
	if err := run(c); err != nil {
		var raw *rawError
		if errors.As(switchError(err), &raw) {
			fmt.Fprintln(stderr, raw.text)
		} else {
			fmt.Fprintf(stderr, "ovs-ofctl: %v\n", err)
		}
		return 1
	}
	return c.exit
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// ofctlNeedsWire runs an OpenFlow-only command against a bridge name
// through the bridge's management socket, <rundir>/<bridge>.mgmt.
func ofctlNeedsWire(c *ofctlCtx) error {
	c.inv.args[0] = "unix:" + filepath.Join(filepath.Dir(c.inv.socket), c.inv.args[0]+".mgmt")
	if handled, err := runWire(c); handled {
		return err
	}
	return fmt.Errorf("%s: not available", c.inv.command)
}

func ofctlAddFlow(c *ofctlCtx) error {
	_, err := c.client.FlowMods(c.ctx, c.arg(0), api.FlowCmdAdd, "", []byte(c.arg(1)))
	return err
}

// readFlowFile reads a flow file, "-" meaning stdin, with ovs-ofctl's
// message for a file it cannot open.
func (c *ofctlCtx) readFlowFile(name string) ([]byte, error) {
	if name == "-" {
		return io.ReadAll(c.stdin)
	}
	b, err := os.ReadFile(name)
	if err != nil {
		reason := "No such file or directory"
		if !errors.Is(err, os.ErrNotExist) {
			reason = strings.TrimPrefix(err.Error(), "open "+name+": ")
		}
		return nil, fmt.Errorf("%s: open failed (%s)", name, reason)
	}
	return b, nil
}

func ofctlAddFlows(c *ofctlCtx) error {
	body, err := c.readFlowFile(c.arg(1))
	if err != nil {
		return err
	}
	_, err = c.client.FlowMods(c.ctx, c.arg(0), api.FlowCmdAdd, c.arg(1), body)
	return err
}

// flowArg returns the flow argument as a request body: the flow itself,
// or, for "-", the flows on stdin (one per line), as mod-flows and
// del-flows accept them.
func (c *ofctlCtx) flowArg(i int) (body []byte, source string, err error) {
	if c.arg(i) == "-" {
		body, err = io.ReadAll(c.stdin)
		return body, "-", err
	}
	return []byte(c.arg(i)), "", nil
}

func ofctlModFlows(c *ofctlCtx) error {
	cmd := api.FlowCmdModify
	if c.inv.strict {
		cmd = api.FlowCmdModifyStrict
	}
	body, source, err := c.flowArg(1)
	if err != nil {
		return err
	}
	_, err = c.client.FlowMods(c.ctx, c.arg(0), cmd, source, body)
	return err
}

// ofctlDelFlows deletes the flows FLOW selects, or all flows: an empty
// delete body is a match-all delete.
func ofctlDelFlows(c *ofctlCtx) error {
	cmd := api.FlowCmdDelete
	if c.inv.strict {
		cmd = api.FlowCmdDeleteStrict
	}
	body, source, err := c.flowArg(1)
	if err != nil {
		return err
	}
	_, err = c.client.FlowMods(c.ctx, c.arg(0), cmd, source, body)
	return err
}

func ofctlReplaceFlows(c *ofctlCtx) error {
	body, err := c.readFlowFile(c.arg(1))
	if err != nil {
		return err
	}
	_, err = c.client.FlowMods(c.ctx, c.arg(0), api.FlowCmdReplace, c.arg(1), body)
	return err
}

func (c *ofctlCtx) dumpRequest(filter string) api.DumpFlowsRequest {
	return api.DumpFlowsRequest{
		Filter:  filter,
		NoStats: c.inv.noStats,
		Names:   c.inv.names == 1,
		Sort:    c.inv.sort,
		RSort:   c.inv.rsort,
		Version: c.inv.version,
		Reply:   c.replyStyle(),
	}
}

// replyStyle reports whether ovs-ofctl would print the whole flow-stats
// reply (a header line, idle_age in OpenFlow 1.0) rather than flow by
// flow, which it does with --names, --no-stats or sorting.
func (c *ofctlCtx) replyStyle() bool {
	return c.inv.names != 1 && !c.inv.noStats && c.inv.sort == "" && c.inv.rsort == ""
}

func ofctlDumpFlows(c *ofctlCtx) error {
	req := c.dumpRequest(c.arg(1))
	if req.Reply {
		// The header goes out only once the daemon has accepted the
		// request, so errors are not preceded by it.
		hw := &headerWriter{w: c.stdout, header: replyHeader("FLOW", c.inv.version, c.arg(1) != "")}
		if err := c.client.DumpFlows(c.ctx, c.arg(0), req, hw); err != nil {
			return err
		}
		return hw.flush()
	}
	return c.client.DumpFlows(c.ctx, c.arg(0), req, c.stdout)
}

// headerWriter writes header before the first byte (or at flush).
type headerWriter struct {
	w       io.Writer
	header  string
	written bool
}

func (h *headerWriter) Write(p []byte) (int, error) {
	if err := h.flush(); err != nil {
		return 0, err
	}
	return h.w.Write(p)
}

func (h *headerWriter) flush() error {
	if h.written {
		return nil
	}
	h.written = true
	_, err := io.WriteString(h.w, h.header)
	return err
}

func ofctlDumpAggregate(c *ofctlCtx) error {
	agg, err := c.client.Aggregate(c.ctx, c.arg(0), c.arg(1))
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "%s packet_count=%d byte_count=%d flow_count=%d\n",
		strings.TrimSuffix(replyHeader("AGGREGATE", c.inv.version, c.arg(1) != ""), "\n"), agg.Packets, agg.Bytes, agg.Flows)
	return nil
}

func ofctlShow(c *ofctlCtx) error {
	f, err := c.client.Features(c.ctx, c.arg(0))
	if err != nil {
		return err
	}
	io.WriteString(c.stdout, formatShow(f, c.inv.version))
	return nil
}

func ofctlDumpPortsDesc(c *ofctlCtx) error {
	f, err := c.client.Features(c.ctx, c.arg(0))
	if err != nil {
		return err
	}
	if p := c.arg(1); p != "" {
		f.Ports, err = selectPortDesc(f.Ports, c.arg(0), p)
		if err != nil {
			return err
		}
	}
	io.WriteString(c.stdout, formatPortDescReply(f.Ports, c.inv.version))
	return nil
}

func ofctlDumpPorts(c *ofctlCtx) error {
	ps, err := c.client.PortStats(c.ctx, c.arg(0), c.arg(1))
	if err != nil {
		return err
	}
	_, numeric := strconv.ParseUint(c.arg(1), 10, 32)
	byName := c.arg(1) != "" && numeric != nil && !strings.EqualFold(c.arg(1), "LOCAL")
	io.WriteString(c.stdout, formatPortStats(ps, c.inv.version, byName))
	return nil
}

func ofctlDumpTables(c *ofctlCtx) error {
	ts, err := c.client.Tables(c.ctx, c.arg(0))
	if err != nil {
		return err
	}
	io.WriteString(c.stdout, formatTableStats(ts, c.inv.version))
	return nil
}

func ofctlModPort(c *ofctlCtx) error {
	return c.client.ModPort(c.ctx, c.arg(0), api.ModPortRequest{Port: c.arg(1), Action: c.arg(2)})
}

func ofctlTrace(c *ofctlCtx) error {
	tr, err := c.client.Trace(c.ctx, c.arg(0), api.TraceRequest{Flow: c.arg(1)})
	if err != nil {
		return err
	}
	if c.inv.format == "json" {
		var v any
		if err := json.Unmarshal(tr.JSON, &v); err != nil {
			return fmt.Errorf("trace: %w", err)
		}
		enc := json.NewEncoder(c.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	io.WriteString(c.stdout, tr.Text)
	return nil
}

const ofctlHelp = `ovs-ofctl: tapestry's ovs-ofctl, manages the tapestry daemon's bridges
usage: ovs-ofctl [OPTIONS] COMMAND [ARG...]

For OpenFlow switches:
  show SWITCH                 show OpenFlow information
  dump-ports-desc SWITCH [PORT]  print port descriptions
  dump-tables SWITCH          print table stats
  mod-port SWITCH IFACE ACT   modify port behavior
  dump-ports SWITCH [PORT]    print port statistics
  dump-flows SWITCH           print all flow entries
  dump-flows SWITCH FLOW      print matching FLOWs
  dump-aggregate SWITCH       print aggregate flow statistics
  dump-aggregate SWITCH FLOW  print aggregate stats for FLOWs
  add-flow SWITCH FLOW        add flow described by FLOW
  add-flows SWITCH FILE       add flows from FILE (- for stdin); a line may start
                              with add, modify, modify_strict, delete, delete_strict
  mod-flows SWITCH FLOW|-     modify actions of matching FLOWs (- reads them from stdin)
  del-flows SWITCH [FLOW|-]   delete matching FLOWs (- reads them from stdin)
  replace-flows SWITCH FILE   replace flows with those in FILE
  diff-flows SOURCE1 SOURCE2  compare flows from two sources
  trace SWITCH FLOW           show how SWITCH handles a packet (ofproto/trace)
  packet-out SWITCH "in_port=P packet=HEX actions=A"  send a packet through actions
  add-group SWITCH GROUP      add a group
  add-groups SWITCH FILE      add groups from FILE
  mod-group SWITCH GROUP      modify a group
  del-groups SWITCH [GROUP]   delete GROUP, or every group
  dump-groups SWITCH [GROUP]  print group descriptions
  dump-group-stats SWITCH [GROUP]  print group statistics
  dump-group-features SWITCH  print the group table's features

SWITCH is a bridge name (the daemon's API), or unix:PATH or tcp:IP[:PORT]
(default port 6653) to speak OpenFlow to any switch as ovs-ofctl does.
Without -O, OpenFlow 1.0 and 1.3 are offered and the highest common
version is used (ovs-ofctl offers only 1.0).

Options:
  --strict                    use strict match for flow commands
  --sort[=FIELD], --rsort[=FIELD]  sort dump-flows output
  --no-stats                  do not print flow statistics
  --names, --no-names         show port names / numbers in output
  -O, --protocols=VERSION     OpenFlow10 (bridge default) or OpenFlow13
  --format=text|json          output format of trace
  -t, --timeout=SECS          give up after SECS seconds
  --run-dir=DIR               daemon run directory (default $TAPESTRY_RUNDIR or /run/tapestry)
`
