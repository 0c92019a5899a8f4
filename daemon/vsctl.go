package daemon

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"tapestry/api"
	"tapestry/store"
)

// Vsctl implements api.Backend: every command runs, in order, on a copy of
// the configuration; if all succeed the copy is committed to the store in
// one transaction and the bridges are reconciled with it. Any error leaves
// everything as it was, as an ovsdb transaction does.
func (d *Daemon) Vsctl(_ context.Context, req api.VsctlRequest) (api.VsctlResponse, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return api.VsctlResponse{}, api.Errorf(http.StatusServiceUnavailable, "daemon is shutting down")
	}
	t := &vsctlTx{d: d, conf: d.conf.clone()}
	resp := api.VsctlResponse{Results: make([]api.CommandResult, len(req.Commands))}
	for i, c := range req.Commands {
		res, err := t.run(c)
		if err != nil {
			return api.VsctlResponse{}, err
		}
		resp.Results[i] = res
	}
	if !t.changed {
		return resp, nil
	}
	old := d.conf
	released := d.releasedClaims(t.conf)
	err := d.st.Update(func(tx *store.Tx) error {
		for _, c := range released {
			if err := putNS(tx, c); err != nil {
				return err
			}
		}
		return putConf(tx, old, t.conf)
	})
	if err != nil {
		return api.VsctlResponse{}, fmt.Errorf("writing store: %w", err)
	}
	for _, c := range released {
		d.netns[c.Name] = c
		d.rebuild[c.Name] = true
	}
	d.reconcile(t.conf)
	d.rebuildPending()
	// Like ovs-vsctl after a commit, report ports that could not be set up
	// (the command itself succeeded: the port exists, with an error).
	for _, name := range t.added {
		if p := d.findPort(name); p != nil && p.err != "" {
			resp.Warnings = append(resp.Warnings, fmt.Sprintf("Error detected while setting up '%s': %s.  See the tapestry daemon log for details.", name, p.err))
		}
	}
	return resp, nil
}

// findPort returns the running port called name in any bridge.
func (d *Daemon) findPort(name string) *portRT {
	for _, rt := range d.bridges {
		if p := rt.ports[name]; p != nil {
			return p
		}
	}
	return nil
}

// vsctlTx is one vsctl request in progress.
type vsctlTx struct {
	d       *Daemon
	conf    *switchConf
	changed bool
	added   []string // ports added, for the post-commit check
}

// vsctlCommand describes one command: its argument counts and handler.
type vsctlCommand struct {
	min, max int // positional arguments; max -1 = any
	settings bool
	run      func(t *vsctlTx, c api.Command) (api.CommandResult, error)
}

var vsctlCommands map[string]vsctlCommand

func init() {
	vsctlCommands = map[string]vsctlCommand{
		"init":           {0, 0, false, func(*vsctlTx, api.Command) (api.CommandResult, error) { return api.CommandResult{}, nil }},
		"show":           {0, 0, false, (*vsctlTx).show},
		"add-br":         {1, 3, false, (*vsctlTx).addBr},
		"del-br":         {1, 1, false, (*vsctlTx).delBr},
		"list-br":        {0, 0, false, (*vsctlTx).listBr},
		"br-exists":      {1, 1, false, (*vsctlTx).brExists},
		"add-port":       {2, 2, true, (*vsctlTx).addPort},
		"del-port":       {1, 2, false, (*vsctlTx).delPort},
		"list-ports":     {1, 1, false, (*vsctlTx).listPorts},
		"list-ifaces":    {1, 1, false, (*vsctlTx).listPorts},
		"port-to-br":     {1, 1, false, (*vsctlTx).portToBr},
		"iface-to-br":    {1, 1, false, (*vsctlTx).portToBr},
		"set-fail-mode":  {2, 2, false, (*vsctlTx).setFailMode},
		"get-fail-mode":  {1, 1, false, (*vsctlTx).getFailMode},
		"del-fail-mode":  {1, 1, false, (*vsctlTx).delFailMode},
		"set":            {2, 2, true, (*vsctlTx).set},
		"get":            {2, 2, true, (*vsctlTx).get},
		"clear":          {3, -1, false, (*vsctlTx).clear},
		"list":           {1, -1, false, (*vsctlTx).list},
		"set-controller": {2, -1, false, (*vsctlTx).setController},
		"get-controller": {1, 1, false, (*vsctlTx).getController},
		"del-controller": {1, 1, false, (*vsctlTx).delController},
	}
}

// VsctlCommandNames returns the commands the daemon understands.
func VsctlCommandNames() []string { return sortedKeys(vsctlCommands) }

func (t *vsctlTx) run(c api.Command) (api.CommandResult, error) {
	spec, ok := vsctlCommands[c.Name]
	if !ok {
		return api.CommandResult{}, api.BadRequest("unknown command '%s'; use --help for help", c.Name)
	}
	if len(c.Args) < spec.min {
		return api.CommandResult{}, api.BadRequest("'%s' command requires at least %d arguments", c.Name, spec.min)
	}
	if spec.max >= 0 && len(c.Args) > spec.max {
		return api.CommandResult{}, api.BadRequest("'%s' command takes at most %d arguments", c.Name, spec.max)
	}
	if !spec.settings && len(c.Settings) > 0 {
		return api.CommandResult{}, api.BadRequest("'%s' command takes no column arguments", c.Name)
	}
	for _, a := range c.Args {
		if a == "" {
			return api.CommandResult{}, api.BadRequest("'%s': empty argument", c.Name)
		}
	}
	return spec.run(t, c)
}

func out(lines ...string) api.CommandResult {
	if len(lines) == 0 {
		return api.CommandResult{}
	}
	return api.CommandResult{Output: strings.Join(lines, "\n") + "\n"}
}

func (t *vsctlTx) bridge(name string) (*bridgeConf, error) {
	b := t.conf.Bridges[name]
	if b == nil {
		return nil, api.NotFound("no bridge named %s", name)
	}
	return b, nil
}

// checkName rejects names the kernel could not give a device; OVS's
// ports become kernel devices too (internal ports, TAPs).
func checkName(what, name string) error {
	if len(name) > 15 || strings.ContainsAny(name, "/ \t\n:") || name == "." || name == ".." {
		return api.BadRequest("%s name %q is not a valid network device name", what, name)
	}
	return nil
}

func (t *vsctlTx) addBr(c api.Command) (api.CommandResult, error) {
	name := c.Args[0]
	if len(c.Args) > 1 {
		return api.CommandResult{}, api.BadRequest("fake bridges (add-br %s PARENT VLAN) are not supported", name)
	}
	if t.conf.Bridges[name] != nil {
		if c.MayExist {
			return api.CommandResult{}, nil
		}
		return api.CommandResult{}, api.Conflict("cannot create a bridge named %s because a bridge named %s already exists", name, name)
	}
	if owner := t.conf.portOwner(name); owner != nil {
		return api.CommandResult{}, api.Conflict("cannot create a bridge named %s because a port named %s already exists on bridge %s", name, name, owner.Name)
	}
	if err := checkName("bridge", name); err != nil {
		return api.CommandResult{}, err
	}
	t.conf.Bridges[name] = &bridgeConf{ID: newUUID(), Name: name, Ports: make(map[string]*portConf)}
	t.changed = true
	return api.CommandResult{}, nil
}

func (t *vsctlTx) delBr(c api.Command) (api.CommandResult, error) {
	name := c.Args[0]
	if t.conf.Bridges[name] == nil {
		if c.IfExists {
			return api.CommandResult{}, nil
		}
		return api.CommandResult{}, api.NotFound("no bridge named %s", name)
	}
	delete(t.conf.Bridges, name)
	t.changed = true
	return api.CommandResult{}, nil
}

func (t *vsctlTx) listBr(api.Command) (api.CommandResult, error) {
	return out(sortedKeys(t.conf.Bridges)...), nil
}

func (t *vsctlTx) brExists(c api.Command) (api.CommandResult, error) {
	if t.conf.Bridges[c.Args[0]] == nil {
		// ovs-vsctl br-exists: exit status 2 and no message.
		return api.CommandResult{ExitCode: 2}, nil
	}
	return api.CommandResult{}, nil
}

func (t *vsctlTx) addPort(c api.Command) (api.CommandResult, error) {
	brName, name := c.Args[0], c.Args[1]
	b, err := t.bridge(brName)
	if err != nil {
		return api.CommandResult{}, err
	}
	if owner := t.conf.portOwner(name); owner != nil {
		if c.MayExist && owner == b {
			return api.CommandResult{}, nil
		}
		if c.MayExist {
			return api.CommandResult{}, api.Conflict("\"--may-exist add-port %s %s\" but %s is actually attached to bridge %s", brName, name, name, owner.Name)
		}
		return api.CommandResult{}, api.Conflict("cannot create a port named %s because a port named %s already exists on bridge %s", name, name, owner.Name)
	}
	if t.conf.Bridges[name] != nil {
		return api.CommandResult{}, api.Conflict("cannot create a port named %s because a bridge named %s already exists", name, name)
	}
	if err := checkName("port", name); err != nil {
		return api.CommandResult{}, err
	}
	p := &portConf{Name: name, OFPort: freePort(b, 0)}
	b.Ports[name] = p
	for _, s := range c.Settings {
		if err := t.setColumn(tablePort, b, p, s); err != nil {
			return api.CommandResult{}, err
		}
	}
	t.added = append(t.added, name)
	t.changed = true
	return api.CommandResult{}, nil
}

// freePort returns the lowest OpenFlow port number from 1 that no other
// port of b holds, as ovs-vswitchd allocates them.
func freePort(b *bridgeConf, except uint32) uint32 {
	used := make(map[uint32]bool, len(b.Ports))
	for _, p := range b.Ports {
		if p.OFPort != except {
			used[p.OFPort] = true
		}
	}
	for n := uint32(1); ; n++ {
		if !used[n] {
			return n
		}
	}
}

func (t *vsctlTx) delPort(c api.Command) (api.CommandResult, error) {
	name := c.Args[len(c.Args)-1]
	var b *bridgeConf
	if len(c.Args) == 2 {
		var err error
		if b, err = t.bridge(c.Args[0]); err != nil {
			return api.CommandResult{}, err
		}
		if name == b.Name {
			return api.CommandResult{}, api.BadRequest("cannot delete port %s because it is the local port for bridge %s (deleting this port requires deleting the entire bridge)", name, b.Name)
		}
	}
	owner := t.conf.portOwner(name)
	switch {
	case owner == nil && c.IfExists:
		return api.CommandResult{}, nil
	case owner == nil:
		return api.CommandResult{}, api.NotFound("no port named %s", name)
	case b != nil && owner != b:
		return api.CommandResult{}, api.BadRequest("bridge %s does not have a port %s", b.Name, name)
	}
	delete(owner.Ports, name)
	t.changed = true
	return api.CommandResult{}, nil
}

func (t *vsctlTx) listPorts(c api.Command) (api.CommandResult, error) {
	b, err := t.bridge(c.Args[0])
	if err != nil {
		return api.CommandResult{}, err
	}
	return out(sortedKeys(b.Ports)...), nil
}

func (t *vsctlTx) portToBr(c api.Command) (api.CommandResult, error) {
	name := c.Args[0]
	if t.conf.Bridges[name] != nil {
		return out(name), nil // a bridge's local port belongs to it
	}
	owner := t.conf.portOwner(name)
	if owner == nil {
		what := "port"
		if c.Name == "iface-to-br" {
			what = "interface"
		}
		return api.CommandResult{}, api.NotFound("no %s named %s", what, name)
	}
	return out(owner.Name), nil
}

func (t *vsctlTx) setFailMode(c api.Command) (api.CommandResult, error) {
	b, err := t.bridge(c.Args[0])
	if err != nil {
		return api.CommandResult{}, err
	}
	mode := c.Args[1]
	if mode != "standalone" && mode != "secure" {
		return api.CommandResult{}, api.BadRequest("fail-mode must be \"standalone\" or \"secure\"")
	}
	b.FailMode = mode
	t.changed = true
	return api.CommandResult{}, nil
}

func (t *vsctlTx) getFailMode(c api.Command) (api.CommandResult, error) {
	b, err := t.bridge(c.Args[0])
	if err != nil {
		return api.CommandResult{}, err
	}
	if b.FailMode == "" {
		return api.CommandResult{}, nil
	}
	return out(b.FailMode), nil
}

func (t *vsctlTx) delFailMode(c api.Command) (api.CommandResult, error) {
	b, err := t.bridge(c.Args[0])
	if err != nil {
		return api.CommandResult{}, err
	}
	b.FailMode = ""
	t.changed = true
	return api.CommandResult{}, nil
}

// controllerTarget checks an OpenFlow connection target as ovs-vsctl
// set-controller takes them (ovs-vswitchd.conf.db(5), Controller target).
func controllerTarget(s string) error {
	for _, p := range []string{"tcp:", "ssl:", "unix:", "ptcp:", "pssl:", "punix:"} {
		if strings.HasPrefix(s, p) {
			return nil
		}
	}
	return api.BadRequest("%s: not a valid controller target (tcp:IP[:PORT], ssl:IP[:PORT], unix:FILE, ptcp:[PORT][:IP], pssl:[PORT][:IP] or punix:FILE)", s)
}

func (t *vsctlTx) setController(c api.Command) (api.CommandResult, error) {
	b, err := t.bridge(c.Args[0])
	if err != nil {
		return api.CommandResult{}, err
	}
	targets := slices.Clone(c.Args[1:])
	for _, tg := range targets {
		if err := controllerTarget(tg); err != nil {
			return api.CommandResult{}, err
		}
	}
	slices.Sort(targets)
	b.Controllers = slices.Compact(targets)
	t.changed = true
	return api.CommandResult{}, nil
}

func (t *vsctlTx) getController(c api.Command) (api.CommandResult, error) {
	b, err := t.bridge(c.Args[0])
	if err != nil {
		return api.CommandResult{}, err
	}
	return out(b.Controllers...), nil
}

func (t *vsctlTx) delController(c api.Command) (api.CommandResult, error) {
	b, err := t.bridge(c.Args[0])
	if err != nil {
		return api.CommandResult{}, err
	}
	b.Controllers = nil
	t.changed = true
	return api.CommandResult{}, nil
}

// show prints ovs-vsctl show's tree: the switch uuid, then each bridge
// with fail_mode and its ports (tag, trunks) and interfaces (type,
// error). Bridges and ports are sorted by name (OVS prints them in hash
// order).
func (t *vsctlTx) show(api.Command) (api.CommandResult, error) {
	return api.CommandResult{Output: FormatShow(t.d.switchView(t.conf))}, nil
}

// FormatShow prints sw as ovs-vsctl show does.
func FormatShow(sw api.Switch) string {
	var sb strings.Builder
	sb.WriteString(sw.UUID + "\n")
	for _, b := range sw.Bridges {
		fmt.Fprintf(&sb, "    Bridge %s\n", b.Name)
		for _, c := range b.Controllers {
			fmt.Fprintf(&sb, "        Controller %s\n", strconv.Quote(c))
		}
		if b.FailMode != "" {
			fmt.Fprintf(&sb, "        fail_mode: %s\n", b.FailMode)
		}
		for _, p := range b.Ports {
			fmt.Fprintf(&sb, "        Port %s\n", p.Name)
			if p.Tag != 0 {
				fmt.Fprintf(&sb, "            tag: %d\n", p.Tag)
			}
			if len(p.Trunks) > 0 {
				fmt.Fprintf(&sb, "            trunks: %s\n", formatIntSet(p.Trunks))
			}
			fmt.Fprintf(&sb, "            Interface %s\n", p.Name)
			if p.Type != "" {
				fmt.Fprintf(&sb, "                type: %s\n", p.Type)
			}
			if p.Error != "" {
				fmt.Fprintf(&sb, "                error: %s\n", quoteString(p.Error))
			}
		}
	}
	if sw.Version != "" {
		fmt.Fprintf(&sb, "    ovs_version: %s\n", quoteString(sw.Version))
	}
	return sb.String()
}

// switchView combines configuration and running state into the API's view.
func (d *Daemon) switchView(conf *switchConf) api.Switch {
	sw := api.Switch{UUID: d.uuid, Bridges: []api.Bridge{}}
	for _, name := range sortedKeys(conf.Bridges) {
		bc := conf.Bridges[name]
		rt := d.bridges[name]
		b := api.Bridge{
			Name:        name,
			DatapathID:  fmt.Sprintf("%016x", datapathID(bc)),
			Protocols:   slices.Clone(bc.Protocols),
			FailMode:    bc.FailMode,
			Controllers: slices.Clone(bc.Controllers),
			OtherConfig: bc.OtherConfig,
			ExternalIDs: bc.ExternalIDs,
		}
		if rt != nil {
			b.DatapathID = fmt.Sprintf("%016x", rt.br.DatapathID())
		}
		local := api.Port{Name: name, Type: "internal", OFPort: 65534}
		ports := []api.Port{local}
		for _, pn := range sortedKeys(bc.Ports) {
			ports = append(ports, d.portView(rt, bc.Ports[pn]))
		}
		slices.SortFunc(ports, func(a, b api.Port) int { return strings.Compare(a.Name, b.Name) })
		b.Ports = ports
		sw.Bridges = append(sw.Bridges, b)
	}
	return sw
}

func (d *Daemon) portView(rt *bridgeRT, pc *portConf) api.Port {
	p := api.Port{
		Name:          pc.Name,
		Type:          pc.Type,
		Tag:           pc.Tag,
		Trunks:        slices.Clone(pc.Trunks),
		OFPortRequest: pc.OFPortRequest,
		OFPort:        -1,
		OtherConfig:   pc.OtherConfig,
		ExternalIDs:   pc.ExternalIDs,
		MAC:           pc.MAC,
	}
	if rt == nil {
		return p
	}
	prt := rt.ports[pc.Name]
	switch {
	case prt == nil:
		// Added in this transaction: not attached yet.
		p.OFPort = 0
	case prt.attached:
		p.OFPort = int64(prt.conf.OFPort)
	default:
		p.Error = prt.err
	}
	return p
}

// Switch implements api.Backend.
func (d *Daemon) Switch(context.Context) (api.Switch, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	sw := d.switchView(d.conf)
	sw.Version = d.cfg.Version
	return sw, nil
}
