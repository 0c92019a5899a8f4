package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"tapestry/api"
)

// vsctlSpec is one ovs-vsctl command's syntax: positional argument counts,
// whether the remaining arguments are column settings (COL[:KEY]=VALUE) or
// column names (COL[:KEY], for get), and which command options it takes.
type vsctlSpec struct {
	min, max int // positional arguments; max -1 = any
	settings settingsKind
	options  string // space-separated allowed options
}

type settingsKind int

const (
	noSettings  settingsKind = iota
	assignments              // COL[:KEY]=VALUE
	columnRefs               // COL[:KEY]
)

var vsctlSpecs = map[string]vsctlSpec{
	"init":           {0, 0, noSettings, ""},
	"show":           {0, 0, noSettings, ""},
	"add-br":         {1, 3, noSettings, "--may-exist"},
	"del-br":         {1, 1, noSettings, "--if-exists"},
	"list-br":        {0, 0, noSettings, ""},
	"br-exists":      {1, 1, noSettings, ""},
	"add-port":       {2, 2, assignments, "--may-exist"},
	"del-port":       {1, 2, noSettings, "--if-exists --with-iface"},
	"list-ports":     {1, 1, noSettings, ""},
	"list-ifaces":    {1, 1, noSettings, ""},
	"port-to-br":     {1, 1, noSettings, ""},
	"iface-to-br":    {1, 1, noSettings, ""},
	"set-fail-mode":  {2, 2, noSettings, ""},
	"get-fail-mode":  {1, 1, noSettings, ""},
	"del-fail-mode":  {1, 1, noSettings, ""},
	"set":            {2, 2, assignments, "--if-exists"},
	"get":            {2, 2, columnRefs, "--if-exists"},
	"clear":          {3, -1, noSettings, "--if-exists"},
	"list":           {1, -1, noSettings, "--if-exists"},
	"set-controller": {2, -1, noSettings, ""},
	"get-controller": {1, 1, noSettings, ""},
	"del-controller": {1, 1, noSettings, ""},
}

// vsctlInvocation is a parsed ovs-vsctl command line.
type vsctlInvocation struct {
	socket   string
	timeout  time.Duration
	dryRun   bool
	oneline  bool
	help     bool
	version  bool
	commands []api.Command
}

// parseVsctl parses ovs-vsctl's command line: global options, then
// commands separated by "--", each with its own options (--may-exist,
// --if-exists) before its name. Options given before the first command
// that are not global belong to the first command, as in ovs-vsctl.
func parseVsctl(args []string) (vsctlInvocation, error) {
	inv := vsctlInvocation{socket: api.SocketPath(api.DefaultRunDir())}
	i := 0
	for ; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			i++
			break
		}
		if !strings.HasPrefix(a, "-") || a == "--may-exist" || a == "--if-exists" || a == "--with-iface" {
			break
		}
		name, val, hasVal := strings.Cut(a, "=")
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
		switch name {
		case "--run-dir":
			v, err := needVal()
			if err != nil {
				return inv, err
			}
			inv.socket = api.SocketPath(v)
		case "--db":
			v, err := needVal()
			if err != nil {
				return inv, err
			}
			path, ok := strings.CutPrefix(v, "unix:")
			if !ok {
				return inv, fmt.Errorf("%s: only unix:PATH databases are supported", v)
			}
			inv.socket = path
		case "-t", "--timeout":
			v, err := needVal()
			if err != nil {
				return inv, err
			}
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return inv, fmt.Errorf("value %s on -t or --timeout is invalid", v)
			}
			inv.timeout = time.Duration(n) * time.Second
		case "--dry-run":
			inv.dryRun = true
		case "--oneline":
			inv.oneline = true
		case "--no-wait", "--wait", "--retry", "--no-syslog", "-v", "--verbose":
			// Accepted for compatibility: tapestry always applies a
			// transaction before it answers.
		case "-h", "--help":
			inv.help = true
			return inv, nil
		case "-V", "--version":
			inv.version = true
			return inv, nil
		default:
			return inv, fmt.Errorf("unrecognized option '%s'", a)
		}
	}
	cmds, err := parseVsctlCommands(args[i:])
	if err != nil {
		return inv, err
	}
	if len(cmds) == 0 {
		return inv, fmt.Errorf("missing command name (use --help for help)")
	}
	inv.commands = cmds
	return inv, nil
}

// parseVsctlCommands splits args at "--" and parses each command.
func parseVsctlCommands(args []string) ([]api.Command, error) {
	var cmds []api.Command
	for len(args) > 0 {
		end := len(args)
		for j, a := range args {
			if a == "--" {
				end = j
				break
			}
		}
		if end > 0 {
			c, err := parseVsctlCommand(args[:end])
			if err != nil {
				return nil, err
			}
			cmds = append(cmds, c)
		}
		if end == len(args) {
			break
		}
		args = args[end+1:]
	}
	return cmds, nil
}

func parseVsctlCommand(args []string) (api.Command, error) {
	var c api.Command
	var opts []string
	for len(args) > 0 && strings.HasPrefix(args[0], "--") {
		opts = append(opts, args[0])
		args = args[1:]
	}
	if len(args) == 0 {
		return c, fmt.Errorf("missing command name (use --help for help)")
	}
	c.Name = args[0]
	spec, ok := vsctlSpecs[c.Name]
	if !ok {
		return c, fmt.Errorf("unknown command '%s'; use --help for help", c.Name)
	}
	for _, o := range opts {
		if !strings.Contains(" "+spec.options+" ", " "+o+" ") {
			return c, fmt.Errorf("'%s' command has no '%s' option", c.Name, o)
		}
		switch o {
		case "--may-exist":
			c.MayExist = true
		case "--if-exists":
			c.IfExists = true
		}
	}
	rest := args[1:]
	if len(rest) < spec.min {
		return c, fmt.Errorf("'%s' command requires at least %d arguments", c.Name, spec.min)
	}
	n := len(rest)
	if spec.settings != noSettings {
		n = min(len(rest), spec.max)
	}
	if spec.max >= 0 && n > spec.max {
		return c, fmt.Errorf("'%s' command takes at most %d arguments", c.Name, spec.max)
	}
	if n > 0 {
		c.Args = rest[:n]
	}
	for _, s := range rest[n:] {
		set, err := parseSetting(s, spec.settings == assignments)
		if err != nil {
			return c, err
		}
		c.Settings = append(c.Settings, set)
	}
	if (c.Name == "set" || c.Name == "get") && len(c.Settings) == 0 {
		return c, fmt.Errorf("'%s' command requires at least 3 arguments", c.Name)
	}
	return c, nil
}

// usageError is a command-line error worded exactly as ovs-vsctl words it.
type usageError string

func (e usageError) Error() string { return string(e) }

// parseSetting parses COLUMN[:KEY]=VALUE (assign) or COLUMN[:KEY].
func parseSetting(s string, assign bool) (api.Setting, error) {
	lhs, val, hasVal := strings.Cut(s, "=")
	if assign && !hasVal {
		// ovs-vsctl's words, final period included.
		return api.Setting{}, usageError(s + `: argument does not end in "=" followed by a value.`)
	}
	if !assign && hasVal {
		return api.Setting{}, fmt.Errorf("%s: trailing garbage \"=%s\" in argument", s, val)
	}
	col, key, _ := strings.Cut(lhs, ":")
	if col == "" {
		return api.Setting{}, fmt.Errorf("%s: missing column name", s)
	}
	return api.Setting{Column: col, Key: strings.Trim(key, `"`), Value: val}, nil
}

// runVsctl is the ovs-vsctl personality: parse, send the whole transaction
// to the daemon, print each command's output.
func runVsctl(args []string, stdout, stderr io.Writer) int {
	inv, err := parseVsctl(args)
	if err != nil {
		fmt.Fprintf(stderr, "ovs-vsctl: %v\n", err)
		return 1
	}
	switch {
	case inv.help:
		fmt.Fprint(stdout, vsctlHelp)
		return 0
	case inv.version:
		fmt.Fprintf(stdout, "ovs-vsctl (tapestry) %s\n", version)
		return 0
	}
	if inv.dryRun {
		return 0
	}
	ctx := context.Background()
	if inv.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, inv.timeout)
		defer cancel()
	}
	resp, err := api.NewClient(inv.socket).Vsctl(ctx, api.VsctlRequest{Commands: inv.commands})
	if err != nil {
		fmt.Fprintf(stderr, "ovs-vsctl: %v\n", err)
		return 1
	}
	code := 0
	for _, r := range resp.Results {
		o := r.Output
		if inv.oneline {
			o = strings.ReplaceAll(strings.TrimSuffix(o, "\n"), "\n", `\n`) + "\n"
		}
		io.WriteString(stdout, o)
		if r.ExitCode != 0 && code == 0 {
			code = r.ExitCode
		}
	}
	for _, w := range resp.Warnings {
		fmt.Fprintf(stderr, "ovs-vsctl: %s\n", w)
	}
	return code
}

const vsctlHelp = `ovs-vsctl: tapestry's ovs-vsctl, configures the tapestry daemon
usage: ovs-vsctl [OPTIONS] COMMAND [ARG...] [-- [OPTIONS] COMMAND [ARG...]]...

Open vSwitch commands:
  init                        initialize database, if not yet initialized
  show                        print overview of database contents

Bridge commands:
  add-br BRIDGE               create a new bridge named BRIDGE
  del-br BRIDGE               delete BRIDGE and all of its ports
  list-br                     print the names of all the bridges
  br-exists BRIDGE            exit 2 if BRIDGE does not exist
  set-fail-mode BRIDGE MODE   set the fail-mode for BRIDGE to MODE (standalone or secure)
  get-fail-mode BRIDGE        print the fail-mode for BRIDGE
  del-fail-mode BRIDGE        delete the fail-mode for BRIDGE

Controller commands:
  get-controller BRIDGE       print the controllers for BRIDGE
  del-controller BRIDGE       delete the controllers for BRIDGE
  set-controller BRIDGE TARGET...  set the controllers for BRIDGE

Port commands:
  list-ports BRIDGE           print the names of all the ports on BRIDGE
  add-port BRIDGE PORT [COLUMN[:KEY]=VALUE]...  add network device PORT to BRIDGE
  del-port [BRIDGE] PORT      delete PORT (which may be bonded) from BRIDGE
  port-to-br PORT             print name of bridge that contains PORT

Interface commands:
  list-ifaces BRIDGE          print the names of all interfaces on BRIDGE
  iface-to-br IFACE           print name of bridge that contains IFACE

Database commands (tables Bridge, Port, Interface):
  get TBL REC COL[:KEY]       print values of COLumns in RECord in TBL
  set TBL REC COL[:KEY]=VALUE set COLumn values in RECord in TBL
  clear TBL REC COL           clear values from COLumn in RECord in TBL
  list TBL [REC]              list RECord (or all records) in TBL

Options:
  --run-dir=DIR               daemon run directory (default $TAPESTRY_RUNDIR or /run/tapestry)
  --db=unix:PATH              daemon socket
  -t, --timeout=SECS          wait at most SECS seconds for the daemon
  --dry-run                   do not commit changes to database
  --oneline                   print exactly one line of output per command
  --may-exist, --if-exists    command options: no error if the object exists / is missing
`
