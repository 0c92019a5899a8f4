package main

// tapestry cloud: the neutron(1) client of python-neutronclient 6 and the
// few nova(1) words a user needs to boot a server, against the daemon's
// Neutron API v2.0 (/v2.0/...) and Nova-like API v2.1 (/v2.1/servers).
//
//	tapestry cloud net-create NAME [--shared] ...      Created a new network: + table
//	tapestry cloud net-list [-f table|json|value] [-c COL]...
//	tapestry cloud router-interface-add ROUTER SUBNET|subnet=S|port=P
//	tapestry cloud server-create NAME --nic net-id=NET[,v4-fixed-ip=IP]
//
// Every word and every line of output follows neutronclient (cliff and
// prettytable underneath): names or ids wherever neutron resolves them,
// the same success lines, tables with fields sorted. A server error is
// printed as neutronclient prints it, its message alone on stderr, and
// exits 1; a usage error prints a usage line and exits 2, as argparse.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"tapestry/api"
)

// cloudCall is one running cloud subcommand.
type cloudCall struct {
	ctx    context.Context
	client *api.Client
	stdout io.Writer
	out    output
}

// cloudUsageError is a command-line mistake: argparse prints the usage line
// and "PROG: error: MSG" and exits 2.
type cloudUsageError struct{ msg string }

func (e cloudUsageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return cloudUsageError{fmt.Sprintf(format, args...)} }

// cloudSpec describes one subcommand.
type cloudSpec struct {
	use    string // "net-create NAME [--shared] ..."
	short  string
	args   int  // positional arguments, exactly
	output bool // takes -f and -c
	flags  func(*cobra.Command)
	run    func(cc *cloudCall, cmd *cobra.Command, args []string) error
}

// newCloudCmd returns `tapestry cloud` with every subcommand.
func newCloudCmd() *cobra.Command {
	cloud := &cobra.Command{
		Use:   "cloud SUBCOMMAND [ARGS...]",
		Short: "Networks, subnets, ports, routers, floating IPs and servers, as neutron(1) and nova(1)",
		Args:  cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return cmd.Help()
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "Unknown command %s\n", pyRepr(toAnyList(args)))
			return exitError{2}
		},
	}
	// --run-dir names the daemon's directory, as for vsctl; it may come
	// before "cloud" too (tapestry --run-dir=DIR cloud net-list).
	cloud.PersistentFlags().String("run-dir", "", "the daemon's run directory (default $TAPESTRY_RUNDIR, else /run/tapestry for root)")
	for _, group := range [][]cloudSpec{networkCmds(), subnetCmds(), portCmds(), routerCmds(), floatingIPCmds(), securityGroupCmds(), serverCmds()} {
		for _, s := range group {
			cloud.AddCommand(cloudSubcommand(s))
		}
	}
	cloud.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return printUsageError(cmd, err.Error())
	})
	return cloud
}

func toAnyList(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// runCloud runs `tapestry cloud ARGS...` on its own; the same tree hangs
// under `tapestry`.
func runCloud(args []string, stdout, stderr io.Writer) int {
	cmd := newCloudCmd()
	cmd.CompletionOptions.DisableDefaultCmd = true
	cmd.SetArgs(args)
	cmd.SetOut(stdout)
	cmd.SetErr(stderr)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	err := cmd.Execute()
	var ee exitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.code
	}
	fmt.Fprintln(stderr, err)
	return 1
}

// printUsageError prints argparse's two lines and exits 2.
func printUsageError(cmd *cobra.Command, msg string) error {
	path, use := cmd.CommandPath(), strings.TrimSuffix(cmd.UseLine(), " [flags]")
	if !strings.HasPrefix(path, "tapestry ") {
		// Run through runCloud: name the command as users type it.
		path, use = "tapestry "+path, "tapestry "+use
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "usage: %s\n%s: error: %s\n", use, path, msg)
	return exitError{2}
}

func cloudSubcommand(s cloudSpec) *cobra.Command {
	var out output
	cmd := &cobra.Command{
		Use:   s.use,
		Short: s.short,
		RunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case len(args) < s.args:
				return printUsageError(cmd, "too few arguments")
			case len(args) > s.args:
				return printUsageError(cmd, "unrecognized arguments: "+strings.Join(args[s.args:], " "))
			}
			if s.output {
				if err := out.validate(); err != nil {
					return printUsageError(cmd, err.Error())
				}
			}
			cc := &cloudCall{
				ctx:    cmd.Context(),
				client: api.NewClient(api.SocketPath(cloudRunDir(cmd))),
				stdout: cmd.OutOrStdout(),
				out:    out,
			}
			if cc.ctx == nil {
				cc.ctx = context.Background()
			}
			err := s.run(cc, cmd, args)
			var ue cloudUsageError
			switch {
			case err == nil:
				return nil
			case errors.As(err, &ue):
				return printUsageError(cmd, ue.msg)
			}
			fmt.Fprintln(cmd.ErrOrStderr(), err)
			return exitError{1}
		},
	}
	cmd.Flags().SortFlags = false
	if s.output {
		cmd.Flags().StringVarP(&out.format, "format", "f", "table", "the output format: table, json or value")
		cmd.Flags().StringArrayVarP(&out.columns, "column", "c", nil, "show only this column (repeatable)")
	}
	if s.flags != nil {
		s.flags(cmd)
	}
	return cmd
}

// cloudRunDir is --run-dir, else the default.
func cloudRunDir(cmd *cobra.Command) string {
	if d, _ := cmd.Flags().GetString("run-dir"); d != "" {
		return d
	}
	return api.DefaultRunDir()
}

// resource is a Neutron collection.
type resource struct {
	name   string // "network", as neutronclient names it in messages
	plural string // the collection key of a list reply
	path   string // its URL
}

var (
	resNetwork     = resource{"network", "networks", "/v2.0/networks"}
	resSubnet      = resource{"subnet", "subnets", "/v2.0/subnets"}
	resPort        = resource{"port", "ports", "/v2.0/ports"}
	resRouter      = resource{"router", "routers", "/v2.0/routers"}
	resFloatingIP  = resource{"floatingip", "floatingips", "/v2.0/floatingips"}
	resSecGroup    = resource{"security_group", "security_groups", "/v2.0/security-groups"}
	resSecGroupRul = resource{"security_group_rule", "security_group_rules", "/v2.0/security-group-rules"}
)

func (r resource) item(id string) string { return r.path + "/" + url.PathEscape(id) }

// list returns the collection, filtered by q when the daemon supports the
// filter (callers that depend on a filter check it again).
func (cc *cloudCall) list(r resource, q url.Values) ([]jsonObject, error) {
	path := r.path
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var reply jsonObject
	if err := cc.client.Cloud(cc.ctx, "GET", path, nil, &reply); err != nil {
		return nil, err
	}
	v, _ := reply.get(r.plural)
	items, _ := v.([]any)
	objs := make([]jsonObject, 0, len(items))
	for _, it := range items {
		if o, ok := it.(jsonObject); ok {
			objs = append(objs, o)
		}
	}
	return objs, nil
}

// single unwraps {"network": {...}}.
func single(r resource, reply jsonObject) (jsonObject, error) {
	v, _ := reply.get(r.name)
	o, ok := v.(jsonObject)
	if !ok {
		return nil, fmt.Errorf("the daemon's reply has no %q object", r.name)
	}
	return o, nil
}

func (cc *cloudCall) show(r resource, id string) (jsonObject, error) {
	var reply jsonObject
	if err := cc.client.Cloud(cc.ctx, "GET", r.item(id), nil, &reply); err != nil {
		return nil, err
	}
	return single(r, reply)
}

func (cc *cloudCall) create(r resource, body jsonObject) (jsonObject, error) {
	var reply jsonObject
	if err := cc.client.Cloud(cc.ctx, "POST", r.path, jsonObject{{r.name, body}}, &reply); err != nil {
		return nil, err
	}
	return single(r, reply)
}

func (cc *cloudCall) update(r resource, id string, body jsonObject) error {
	var reply jsonObject
	return cc.client.Cloud(cc.ctx, "PUT", r.item(id), jsonObject{{r.name, body}}, &reply)
}

func (cc *cloudCall) remove(r resource, id string) error {
	return cc.client.Cloud(cc.ctx, "DELETE", r.item(id), nil, nil)
}

// resolve turns a name or id into an id as neutronclient's find_resource
// does: an object with that id, else the one object with that name.
func (cc *cloudCall) resolve(r resource, nameOrID string) (string, error) {
	byID, err := cc.list(r, url.Values{"id": {nameOrID}})
	if err != nil {
		return "", err
	}
	for _, o := range byID {
		if o.str("id") == nameOrID {
			return nameOrID, nil
		}
	}
	byName, err := cc.list(r, url.Values{"name": {nameOrID}})
	if err != nil {
		return "", err
	}
	var ids []string
	for _, o := range byName {
		if o.str("name") == nameOrID {
			ids = append(ids, o.str("id"))
		}
	}
	switch len(ids) {
	case 0:
		//lint:ignore ST1005 neutronclient prints this text
		return "", fmt.Errorf("Unable to find %s with name or id '%s'", r.name, nameOrID)
	case 1:
		return ids[0], nil
	}
	//lint:ignore ST1005 neutronclient prints this text
	return "", fmt.Errorf("Multiple %s matches found for name '%s', use an ID to be more specific.", r.name, nameOrID)
}

// printCreated prints a create reply: "Created a new network:" and the
// table, or the object alone in json and value output.
func (cc *cloudCall) printCreated(r resource, obj jsonObject) {
	if cc.out.format == "table" {
		fmt.Fprintf(cc.stdout, "Created a new %s:\n", r.name)
	}
	emitOne(cc.stdout, cc.out, "Field", showRecord(obj))
}

// showCmd is X-show: by name or id (byName) or by id only.
func showCmd(r resource, use string, byName bool) cloudSpec {
	return cloudSpec{use: use, short: "Show information of a given " + strings.ReplaceAll(r.name, "_", " "), args: 1, output: true,
		run: func(cc *cloudCall, _ *cobra.Command, args []string) error {
			id := args[0]
			if byName {
				var err error
				if id, err = cc.resolve(r, id); err != nil {
					return err
				}
			}
			obj, err := cc.show(r, id)
			if err != nil {
				return err
			}
			emitOne(cc.stdout, cc.out, "Field", showRecord(obj))
			return nil
		}}
}

// deleteCmd is X-delete.
func deleteCmd(r resource, use string, byName bool) cloudSpec {
	return cloudSpec{use: use, short: "Delete a given " + strings.ReplaceAll(r.name, "_", " "), args: 1,
		run: func(cc *cloudCall, _ *cobra.Command, args []string) error {
			id := args[0]
			if byName {
				var err error
				if id, err = cc.resolve(r, id); err != nil {
					return err
				}
			}
			if err := cc.remove(r, id); err != nil {
				return err
			}
			fmt.Fprintf(cc.stdout, "Deleted %s: %s\n", r.name, args[0])
			return nil
		}}
}

// listCmd is X-list with the resource's default columns and table cell
// formatters.
func listCmd(r resource, use string, columns []string, formatters map[string]func(any) string) cloudSpec {
	return cloudSpec{use: use, short: "List " + strings.ReplaceAll(r.plural, "_", " "), output: true,
		run: func(cc *cloudCall, _ *cobra.Command, _ []string) error {
			objs, err := cc.list(r, nil)
			if err != nil {
				return err
			}
			emitList(cc.stdout, cc.out, columns, listRecords(objs, formatters))
			return nil
		}}
}

func listRecords(objs []jsonObject, formatters map[string]func(any) string) []record {
	recs := make([]record, len(objs))
	for i, o := range objs {
		recs[i] = listRecord(o, formatters)
	}
	return recs
}

// updated prints an update's line, naming the object as the user did.
func (cc *cloudCall) updated(r resource, name string) {
	fmt.Fprintf(cc.stdout, "Updated %s: %s\n", r.name, name)
}

// parseKV parses neutron's key=value,key=value option values (str2dict):
// keys must be among valid, required ones must be there; the user's key
// order is kept.
func parseKV(opt, s string, required, optional []string) (jsonObject, error) {
	var obj jsonObject
	if s != "" {
		for _, kv := range strings.Split(s, ",") {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				return nil, usagef("argument %s: invalid key-value '%s', expected format: key=value", opt, kv)
			}
			obj.set(k, v)
		}
	}
	valid := append(append([]string(nil), required...), optional...)
	sort.Strings(valid)
	var bad []string
	for _, k := range obj.keys() {
		if !contains(valid, k) {
			bad = append(bad, k)
		}
	}
	if len(bad) > 0 {
		sort.Strings(bad)
		return nil, usagef("argument %s: Invalid key(s) '%s' specified. Valid key(s): '%s'.", opt, strings.Join(bad, ", "), strings.Join(valid, ", "))
	}
	var missing []string
	for _, k := range required {
		if _, ok := obj.get(k); !ok {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return nil, usagef("argument %s: Required key(s) '%s' not specified.", opt, strings.Join(missing, ", "))
	}
	return obj, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// parseKVs parses a repeated key=value option.
func parseKVs(opt string, values []string, required, optional []string) ([]any, error) {
	var out []any
	for _, v := range values {
		obj, err := parseKV(opt, v, required, optional)
		if err != nil {
			return nil, err
		}
		out = append(out, obj)
	}
	return out, nil
}

// resolveFixedIPs turns --fixed-ip values into fixed_ips, subnet names
// resolved to ids.
func (cc *cloudCall) resolveFixedIPs(values []string) ([]any, error) {
	ips, err := parseKVs("--fixed-ip", values, nil, []string{"subnet_id", "ip_address"})
	if err != nil {
		return nil, err
	}
	for _, ip := range ips {
		obj := ip.(jsonObject)
		if s := obj.str("subnet_id"); s != "" {
			id, err := cc.resolve(resSubnet, s)
			if err != nil {
				return nil, err
			}
			obj.set("subnet_id", id)
		}
	}
	return ips, nil
}

// boolWord parses neutronclient's True/False option values.
func boolWord(opt, s string) (bool, error) {
	switch strings.ToLower(s) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, usagef("argument %s: invalid choice: '%s' (choose from 'True', 'False')", opt, s)
}
