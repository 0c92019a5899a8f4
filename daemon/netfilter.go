package daemon

// The netfilter tools `ip netns exec NS` runs inside a tapestry namespace:
// iptables, iptables-save, iptables-restore (package iptables) and
// conntrack (package conntrack), with the real tools' output, messages
// and exit statuses (iptables 1.8.9 nf_tables, conntrack-tools 1.4.7).
//
// The tables are desired state: every change is compiled into a new
// ruleset, swapped into the running namespace, and stored in the
// namespace's nsConf as iptables-save text without counters, which a
// restarted daemon restores (counters start again from zero, as after a
// reboot). The conntrack table is runtime state and is not stored.

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"

	"tapestry/api"
	"tapestry/conntrack"
	"tapestry/iptables"
	"tapestry/netfilter"
	"tapestry/netstack"
	"tapestry/packet"
)

// Versions the tools print.
const (
	iptablesVersion  = "v1.8.9 (nf_tables)"
	conntrackVersion = "conntrack v1.4.7 (conntrack-tools): "
)

// Netfilter implements api.Backend: one netfilter tool invocation in
// namespace name.
func (d *Daemon) Netfilter(_ context.Context, name string, req api.ToolRequest) (api.ToolResult, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	ns, err := d.nsFor(name)
	if err != nil {
		return api.ToolResult{}, err
	}
	switch req.Tool {
	case "iptables":
		return d.iptablesCmd(name, ns, req.Args), nil
	case "iptables-save":
		return iptablesSave(ns, req.Args), nil
	case "iptables-restore":
		return d.iptablesRestore(name, ns, req.Args, req.Stdin), nil
	case "conntrack":
		return conntrackCmd(ns, req.Args), nil
	}
	return api.ToolResult{}, api.BadRequest("exec of \"%s\" failed: No such file or directory", req.Tool)
}

// usageError is iptables' PARAMETER_PROBLEM exit (2) with its hint line.
func usageError(tool, msg string) api.ToolResult {
	return api.ToolResult{Stderr: fmt.Sprintf("%s %s: %s\nTry `%s -h' or '%s --help' for more information.\n", tool, iptablesVersion, msg, tool, tool), ExitCode: 2}
}

// applyErrors are the kernel errors iptables prints as "iptables: Msg.".
var applyErrors = []struct {
	err error
	msg string
}{
	{iptables.ErrNoChain, "No chain/target/match by that name."},
	{iptables.ErrBadRule, "Bad rule (does a matching rule exist in that chain?)."},
	{iptables.ErrChainExist, "Chain already exists."},
	{iptables.ErrNotEmpty, "Directory not empty."},
	{iptables.ErrInUse, "Too many links."},
}

// iptablesCmd is iptables(8): parse, apply to a copy of the current
// tables (with their counters), compile, swap in and store.
func (d *Daemon) iptablesCmd(name string, ns *netstack.Namespace, args []string) api.ToolResult {
	c, err := iptables.ParseCommand(args)
	if err != nil {
		return usageError("iptables", strings.TrimPrefix(err.Error(), "iptables: "))
	}
	cur := ns.Netfilter()
	next := cur.Clone()
	lines, err := iptables.Apply(&next, c)
	if err != nil {
		for _, e := range applyErrors {
			if errors.Is(err, e.err) {
				return api.ToolResult{Stderr: "iptables: " + e.msg + "\n", ExitCode: 1}
			}
		}
		return api.ToolResult{Stderr: fmt.Sprintf("iptables %s: %s\n", iptablesVersion, strings.TrimPrefix(err.Error(), "iptables: ")), ExitCode: 1}
	}
	out := joinLines(lines)
	switch c.Op {
	case iptables.OpList, iptables.OpListRules, iptables.OpCheck:
		return api.ToolResult{Stdout: out} // reading creates no table
	}
	if err := d.setTables(name, ns, next); err != nil {
		return api.ToolResult{Stdout: out, Stderr: fmt.Sprintf("iptables %s: %v\n", iptablesVersion, err), ExitCode: 4}
	}
	return api.ToolResult{Stdout: out}
}

// setTables makes ts the namespace's ruleset and stores it.
func (d *Daemon) setTables(name string, ns *netstack.Namespace, ts netfilter.Tables) error {
	if err := ns.SetNetfilter(ts); err != nil {
		return err
	}
	return d.commitNS(name)
}

func joinLines(lines []string) string {
	if len(lines) == 0 {
		return ""
	}
	return strings.Join(lines, "\n") + "\n"
}

// iptablesSave is iptables-save [-c] [-t TABLE].
func iptablesSave(ns *netstack.Namespace, args []string) api.ToolResult {
	o := iptables.SaveOptions{Time: time.Now(), Version: iptablesVersion}
	only := netfilter.TableID(255)
	for i := 0; i < len(args); i++ {
		switch a := args[i]; a {
		case "-c", "--counters":
			o.Counters = true
		case "-t", "--table":
			if i+1 >= len(args) {
				return usageError("iptables-save", "option \""+a+"\" requires an argument")
			}
			i++
			id, ok := netfilter.TableByName(args[i])
			if !ok {
				return api.ToolResult{Stderr: fmt.Sprintf("iptables-save %s: table '%s' does not exist\n", iptablesVersion, args[i]), ExitCode: 1}
			}
			only = id
		default:
			return usageError("iptables-save", fmt.Sprintf("unknown option \"%s\"", a))
		}
	}
	ts := ns.Netfilter()
	if only != 255 {
		for i := range ts {
			if netfilter.TableID(i) != only {
				ts[i] = nil
			}
		}
	}
	return api.ToolResult{Stdout: iptables.Save(ts, o)}
}

// restoreLine finds the line number in iptables.Restore's error.
var restoreLine = regexp.MustCompile(`^iptables-restore: line (\d+) failed: (?:iptables: )?(.*)$`)

// iptablesRestore is iptables-restore [--noflush] [--counters] [--test]
// with the rules on standard input. All or nothing: on an error nothing
// changes and the line is named as iptables-restore names it.
func (d *Daemon) iptablesRestore(name string, ns *netstack.Namespace, args []string, stdin string) api.ToolResult {
	var o iptables.RestoreOptions
	for _, a := range args {
		switch a {
		case "-n", "--noflush":
			o.NoFlush = true
		case "-c", "--counters":
			o.Counters = true
		case "-t", "--test":
			o.Test = true
		default:
			return usageError("iptables-restore", fmt.Sprintf("unknown option \"%s\"", a))
		}
	}
	cur := ns.Netfilter()
	next, err := iptables.Restore(cur, stdin, o)
	if err == nil && !o.Test {
		err = d.setTables(name, ns, next)
	}
	if err == nil {
		return api.ToolResult{}
	}
	msg, line := err.Error(), ""
	if m := restoreLine.FindStringSubmatch(msg); m != nil {
		msg, line = m[2], m[1]
	}
	r := fmt.Sprintf("iptables-restore %s: %s\n", iptablesVersion, msg)
	if line != "" {
		r += "Error occurred at line: " + line + "\n"
	}
	r += "Try `iptables-restore -h' or 'iptables-restore --help' for more information.\n"
	return api.ToolResult{Stderr: r, ExitCode: 2}
}

// restoreTables rebuilds a namespace's tables from its stored text.
func restoreTables(ns *netstack.Namespace, text string) error {
	if text == "" {
		return nil
	}
	ts, err := iptables.Restore(netfilter.Tables{}, text, iptables.RestoreOptions{})
	if err != nil {
		return err
	}
	return ns.SetNetfilter(ts)
}

// savedTables is the stored form of a namespace's tables.
func savedTables(ns *netstack.Namespace) string {
	return iptables.Save(ns.Netfilter(), iptables.SaveOptions{})
}

// conntrackCmd is conntrack(8): -L, -D, -F, -C and -S with the
// original-direction filters -s, -d, -p, --sport, --dport, -m and --zone.
// -E streams and has its own request (conntrack_events.go).
func conntrackCmd(ns *netstack.Namespace, args []string) api.ToolResult {
	c, err := parseConntrack(args)
	if err == nil && c.Cmd == "-E" {
		err = toolError("-E streams events: run it through the conntrack-events request")
	}
	if err != nil {
		return conntrackUsage(err)
	}
	t, f := ns.Conntrack(), c.Filter
	now := time.Now().UnixNano()
	if c := ns.Clock(); c != nil {
		now = c.Now().UnixNano()
	}
	switch c.Cmd {
	case "-F":
		t.Flush()
		return api.ToolResult{Stderr: conntrackVersion + "connection tracking table has been emptied.\n"}
	case "-D":
		lines, _ := t.Dump(f, now)
		n := t.Delete(f, now)
		r := api.ToolResult{Stdout: joinLines(lines), Stderr: fmt.Sprintf("%s%d flow entries have been deleted.\n", conntrackVersion, n)}
		if n == 0 {
			r.ExitCode = 1
		}
		return r
	case "-C":
		return api.ToolResult{Stdout: conntrackCount(t)}
	case "-S":
		return api.ToolResult{Stdout: conntrackStats(t)}
	}
	lines, summary := t.Dump(f, now)
	return api.ToolResult{Stdout: joinLines(lines), Stderr: summary + "\n"}
}

// conntrackUsage is conntrack's exit 2 for a bad command line.
func conntrackUsage(err error) api.ToolResult {
	return api.ToolResult{Stderr: conntrackVersion + err.Error() + "\nTry `conntrack -h' or 'conntrack --help' for more information.\n", ExitCode: 2}
}

// toolError is a message in the tool's own words (capitalised as the
// tool prints it).
type toolError string

func (e toolError) Error() string { return string(e) }

// ctCommand is one parsed conntrack command line.
type ctCommand struct {
	Cmd    string // -L, -D, -F, -C, -S or -E
	Filter *conntrack.Filter
	Events eventMask // -E only; every type unless -e narrows it
}

// ctCommands maps conntrack's command options to their short forms.
var ctCommands = map[string]string{
	"-L": "-L", "--dump": "-L", "-F": "-F", "--flush": "-F", "-D": "-D", "--delete": "-D",
	"-E": "-E", "--event": "-E", "-C": "-C", "--count": "-C", "-S": "-S", "--stats": "-S",
}

// parseConntrack reads conntrack's command and filter options. -C and -S
// take no option, as conntrack-tools names it: "Illegal option `--src'
// with this command".
func parseConntrack(args []string) (ctCommand, error) {
	c := ctCommand{Filter: &conntrack.Filter{}, Events: allEvents}
	var opts []string // the options given, by conntrack-tools' long name
	for i := 0; i < len(args); i++ {
		a := args[i]
		if cmd, ok := ctCommands[a]; ok {
			if c.Cmd != "" {
				return ctCommand{}, toolError("Invalid commands combination")
			}
			c.Cmd = cmd
			continue
		}
		switch a {
		case "-n", "--src-nat", "-g", "--dst-nat", "-o", "--output":
			// Output formats other than the default are not produced.
			return ctCommand{}, fmt.Errorf("option `%s' is not supported by tapestry", a)
		}
		if !strings.HasPrefix(a, "-") {
			return ctCommand{}, fmt.Errorf("unknown option `%s'", a)
		}
		if i+1 >= len(args) {
			return ctCommand{}, fmt.Errorf("option `%s' requires an argument", a)
		}
		i++
		opts = append(opts, ctOptionName(a))
		var err error
		if a == "-e" || a == "--event-mask" {
			c.Events, err = parseEventMask(args[i])
		} else {
			err = conntrackFilter(c.Filter, a, args[i])
		}
		if err != nil {
			return ctCommand{}, err
		}
	}
	if c.Cmd == "" {
		c.Cmd = "-L"
	}
	for _, o := range opts {
		if c.Cmd == "-C" || c.Cmd == "-S" || o == "event-mask" && c.Cmd != "-E" {
			return ctCommand{}, toolError("Illegal option `--" + o + "' with this command")
		}
	}
	return c, nil
}

// ctOptionName is the long name conntrack-tools gives an option in its
// messages.
func ctOptionName(opt string) string {
	switch opt {
	case "-s", "--src", "--orig-src":
		return "src"
	case "-d", "--dst", "--orig-dst":
		return "dst"
	case "-p", "--proto", "--protonum":
		return "protonum"
	case "-m", "--mark":
		return "mark"
	case "-w", "--zone":
		return "zone"
	case "-e", "--event-mask":
		return "event-mask"
	}
	return strings.TrimLeft(opt, "-")
}

func conntrackFilter(f *conntrack.Filter, opt, v string) error {
	bad := func() error { return toolError("Bad parameter `" + v + "'") }
	switch opt {
	case "-s", "--src", "--orig-src", "-d", "--dst", "--orig-dst":
		a, err := netip.ParseAddr(v)
		if err != nil || !a.Is4() {
			return bad()
		}
		if opt == "-s" || opt == "--src" || opt == "--orig-src" {
			f.Src = a
		} else {
			f.Dst = a
		}
	case "-p", "--proto", "--protonum":
		switch strings.ToLower(v) {
		case "tcp":
			f.Proto = packet.ProtoTCP
		case "udp":
			f.Proto = packet.ProtoUDP
		case "icmp":
			f.Proto = packet.ProtoICMP
		default:
			n, err := strconv.ParseUint(v, 10, 8)
			if err != nil {
				return fmt.Errorf("`%s' unsupported protocol", v)
			}
			f.Proto = uint8(n)
		}
	case "--sport", "--orig-port-src", "--dport", "--orig-port-dst":
		n, err := strconv.ParseUint(v, 10, 16)
		if err != nil {
			return bad()
		}
		if opt == "--sport" || opt == "--orig-port-src" {
			f.SrcPort = uint16(n)
		} else {
			f.DstPort = uint16(n)
		}
	case "-m", "--mark":
		n, err := strconv.ParseUint(v, 0, 32)
		if err != nil {
			return bad()
		}
		m := uint32(n)
		f.Mark = &m
	case "-w", "--zone":
		n, err := strconv.ParseUint(v, 0, 16)
		if err != nil {
			return bad()
		}
		z := uint16(n)
		f.Zone = &z
	default:
		return fmt.Errorf("unknown option `%s'", opt)
	}
	return nil
}
