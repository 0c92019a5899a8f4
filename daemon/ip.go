package daemon

// ip(8) inside the daemon: `tapestry ip [-n NS] OBJECT COMMAND...` arrives
// as argument words (api.IPRequest); the syntax packages parse them
// (netstack for link and addr, route for route and rule, neigh for neigh)
// and the answer is iproute2's text. Errors carry iproute2's words
// ("RTNETLINK answers: File exists", "Cannot find device ...").

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"tapestry/api"
	"tapestry/neigh"
	"tapestry/netstack"
	"tapestry/packet"
	"tapestry/route"
	"tapestry/store"
)

// ipObjects are iproute2's objects in the order its abbreviation matching
// tries them (ip/ip.c cmds[]): "a" is address, "r" route, "n" neighbor.
var ipObjects = []struct{ name, canon string }{
	{"address", "address"}, {"addrlabel", ""}, {"maddress", ""}, {"route", "route"}, {"rule", "rule"},
	{"neighbor", "neigh"}, {"neighbour", "neigh"}, {"ntable", ""}, {"ntbl", ""}, {"link", "link"},
	{"l2tp", ""}, {"fou", ""}, {"ila", ""}, {"macsec", ""}, {"tunnel", ""}, {"tunl", ""}, {"tuntap", ""},
	{"tap", ""}, {"token", ""}, {"tcpmetrics", ""}, {"tcp_metrics", ""}, {"monitor", ""}, {"xfrm", ""},
	{"mroute", ""}, {"mrule", ""}, {"netns", "netns"}, {"netconf", ""}, {"vrf", ""}, {"sr", ""},
	{"nexthop", ""}, {"mptcp", ""}, {"ioam", ""}, {"stats", ""},
}

// ipObject resolves an abbreviated object name as iproute2 matches it.
func ipObject(w string) (string, error) {
	for _, o := range ipObjects {
		if strings.HasPrefix(o.name, w) {
			if o.canon == "" {
				return "", api.BadRequest("Object \"%s\" is not supported by tapestry ip.", o.name)
			}
			return o.canon, nil
		}
	}
	return "", api.BadRequest("Object \"%s\" is unknown, try \"ip help\".", w)
}

// ipError turns a data-plane error into iproute2's text: the
// "RTNETLINK answers: ..." or "Error: ..." part of a wrapped message.
func ipError(err error) error {
	var ae *api.Error
	if errors.As(err, &ae) {
		return err
	}
	msg := err.Error()
	for _, key := range []string{"RTNETLINK answers: ", "Error: "} {
		if i := strings.Index(msg, key); i >= 0 {
			return api.BadRequest("%s", msg[i:])
		}
	}
	return api.BadRequest("%s", msg)
}

func noNetns(name string) error {
	return api.NotFound("Cannot open network namespace \"%s\": No such file or directory", name)
}

// IP implements api.Backend.
func (d *Daemon) IP(_ context.Context, req api.IPRequest) (api.CommandResult, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return api.CommandResult{}, api.Errorf(http.StatusServiceUnavailable, "daemon is shutting down")
	}
	args := req.Args
	if len(args) == 0 {
		return api.CommandResult{}, api.BadRequest("Usage: ip [ OPTIONS ] OBJECT { COMMAND | help }")
	}
	obj, err := ipObject(args[0])
	if err != nil {
		return api.CommandResult{}, err
	}
	args = args[1:]
	if obj == "netns" {
		return d.ipNetns(args)
	}
	if req.Netns == "" {
		return d.ipRoot(obj, args)
	}
	ns := d.nsrt[req.Netns]
	if ns == nil {
		return api.CommandResult{}, noNetns(req.Netns)
	}
	var res api.CommandResult
	changed := false
	switch obj {
	case "link":
		res, changed, err = d.ipLink(req.Netns, ns, args)
	case "address":
		res, changed, err = ipAddr(ns, args)
	case "route":
		res, changed, err = ipRoute(ns, args)
	case "rule":
		res, changed, err = ipRule(ns, args)
	case "neigh":
		res, changed, err = ipNeigh(ns, args)
	}
	if err != nil {
		return api.CommandResult{}, ipError(err)
	}
	if changed && d.netns[req.Netns] != nil && d.nsrt[req.Netns] == ns {
		if err := d.commitNS(req.Netns); err != nil {
			return api.CommandResult{}, err
		}
	}
	return res, nil
}

// ipRoot serves the root namespace, which is the kernel's: tapestry only
// moves internal ports from it into its own namespaces.
func (d *Daemon) ipRoot(obj string, args []string) (api.CommandResult, error) {
	if obj == "link" && len(args) > 0 && args[0] == "set" {
		dev, target, rest := splitNetns(args[1:])
		if target != "" && len(rest) == 0 {
			return d.moveLink("", dev, target, "")
		}
	}
	return api.CommandResult{}, api.BadRequest("tapestry ip: the root namespace is the kernel's; use -n NETNS for a tapestry namespace (only \"ip link set DEV netns NETNS\" moves a bridge's internal port into one)")
}

// splitNetns takes "netns NS" out of `ip link set` arguments, returning
// the device (first non-keyword word or the word after "dev"), the target
// namespace and the other words.
func splitNetns(args []string) (dev, target string, rest []string) {
	for i := 0; i < len(args); i++ {
		switch {
		case args[i] == "netns" && i+1 < len(args):
			target = args[i+1]
			i++
		case args[i] == "dev" && i+1 < len(args):
			dev = args[i+1]
			i++
		case dev == "" && !slices.Contains([]string{"up", "down", "mtu", "address", "name"}, args[i]):
			dev = args[i]
		default:
			rest = append(rest, args[i])
		}
	}
	return dev, target, rest
}

// moveLink is `ip [-n FROM] link set DEV netns TO` for an internal port,
// a veth end or a kernel TAP. As in Linux, the interface arrives down and
// without addresses, keeping its MAC and MTU. A non-empty rename gives it
// that name in TO (the cloud's instances name the port tap5b1e3c2a-9f
// eth0 inside).
func (d *Daemon) moveLink(from, dev, to, rename string) (api.CommandResult, error) {
	if dev == "" {
		return api.CommandResult{}, api.BadRequest("Not enough information: \"dev\" argument is required.")
	}
	toConf := d.netns[to]
	if toConf == nil {
		return api.CommandResult{}, api.NotFound("Invalid \"netns\" value \"%s\"", to)
	}
	if from == to {
		return api.CommandResult{}, nil
	}
	var fromConf *nsConf
	port := dev
	if from != "" {
		fromConf = d.netns[from]
		if fromConf.link(dev) == nil {
			return api.CommandResult{}, api.NotFound("Cannot find device \"%s\"", dev)
		}
		if k := fromConf.link(dev).Kind; k == kindVeth || k == kindTAP {
			return d.moveOwnLink(from, dev, to, rename)
		} else if k != kindInternal {
			return api.CommandResult{}, api.BadRequest("RTNETLINK answers: Invalid argument")
		}
		port = fromConf.link(dev).port()
	} else {
		p := d.findPort(dev)
		if p == nil {
			return d.moveTAP(dev, to)
		}
		if p.conf.Type != kindInternal {
			return api.CommandResult{}, api.BadRequest("tapestry ip: %s is not an internal port: only internal ports (type=internal) move into tapestry namespaces", dev)
		}
		if ns, _ := d.claimOf(dev); ns != "" {
			return api.CommandResult{}, api.NotFound("Cannot find device \"%s\"", dev)
		}
	}
	name := dev
	if rename != "" {
		name = rename
	}
	if toConf.link(name) != nil {
		return api.CommandResult{}, api.Conflict("RTNETLINK answers: File exists")
	}
	lc := &linkConf{Name: name, Kind: kindInternal}
	if name != port {
		lc.Port = port
	}
	if fromConf != nil {
		old := fromConf.link(dev)
		lc.MAC, lc.MTU = old.MAC, old.MTU
	}
	nextTo := *toConf
	nextTo.Links = append(slices.Clone(toConf.Links), lc)
	var nextFrom *nsConf
	if fromConf != nil {
		nextFrom = withoutLinks(d.snapshotNS(fromConf, d.nsrt[from]), []string{dev})
	}
	err := d.st.Update(func(tx *store.Tx) error {
		if nextFrom != nil {
			if err := putNS(tx, nextFrom); err != nil {
				return err
			}
		}
		return putNS(tx, &nextTo)
	})
	if err != nil {
		return api.CommandResult{}, fmt.Errorf("writing store: %w", err)
	}
	d.netns[to] = &nextTo
	if nextFrom != nil {
		d.netns[from] = nextFrom
		d.rebuildNS(from) // the interface leaves; its wire is remade below
	}
	d.reattachPort(port)
	d.rebuildPending()
	return api.CommandResult{}, nil
}

// ipLink is `ip link show|set`.
func (d *Daemon) ipLink(nsName string, ns *netstack.Namespace, args []string) (api.CommandResult, bool, error) {
	if len(args) == 0 {
		args = []string{"show"}
	}
	switch args[0] {
	case "show", "list", "lst", "ls", "sh", "l":
		ifcs, err := selectIfaces(ns, args[1:])
		if err != nil {
			return api.CommandResult{}, false, err
		}
		var lines []string
		for _, ifc := range ifcs {
			lines = append(lines, netstack.FormatLink(ifc))
		}
		return out(lines...), false, nil
	case "add", "a":
		return api.CommandResult{}, false, d.linkAdd(nsName, args[1:])
	case "delete", "del", "d":
		return api.CommandResult{}, false, d.linkDel(nsName, args[1:])
	case "set", "s":
		dev, target, rest := splitNetns(args[1:])
		if target != "" {
			if len(rest) > 0 {
				return api.CommandResult{}, false, api.BadRequest("tapestry ip: give \"netns\" in a command of its own")
			}
			res, err := d.moveLink(nsName, dev, target, "")
			return res, false, err
		}
		c, err := netstack.ParseLinkSet(args[1:])
		if err != nil {
			return api.CommandResult{}, false, err
		}
		if err := c.Apply(ns); err != nil {
			return api.CommandResult{}, false, err
		}
		if lc := d.netns[nsName].link(c.Dev); c.MAC != nil && lc != nil && lc.MAC == nil {
			// An internal port's address is the port's until set here;
			// the snapshot records it from now on.
			m := packet.MAC(c.MAC)
			lc.MAC = &m
		}
		return api.CommandResult{}, true, nil
	}
	return api.CommandResult{}, false, api.BadRequest("Command \"%s\" is unknown, try \"ip link help\".", args[0])
}

// selectIfaces picks the interfaces of `ip link|addr show [dev] DEV`.
func selectIfaces(ns *netstack.Namespace, args []string) ([]*netstack.Interface, error) {
	dev := ""
	for i := 0; i < len(args); i++ {
		switch w := args[i]; {
		case w == "dev" && i+1 < len(args):
			dev = args[i+1]
			i++
		case w == "up":
		case dev == "":
			dev = w
		default:
			return nil, api.BadRequest("Error: either \"dev\" is duplicate, or \"%s\" is a garbage.", w)
		}
	}
	if dev == "" {
		var up []*netstack.Interface
		for _, ifc := range ns.Interfaces() {
			if !slices.Contains(args, "up") || ifc.Up() {
				up = append(up, ifc)
			}
		}
		return up, nil
	}
	ifc, ok := ns.Interface(dev)
	if !ok {
		return nil, api.NotFound("Device \"%s\" does not exist.", dev)
	}
	return []*netstack.Interface{ifc}, nil
}

// ipAddr is `ip addr show|add|del|flush`.
func ipAddr(ns *netstack.Namespace, args []string) (api.CommandResult, bool, error) {
	if len(args) == 0 || slices.Contains([]string{"show", "list", "lst", "ls", "sh", "s"}, args[0]) {
		if len(args) > 0 {
			args = args[1:]
		}
		ifcs, err := selectIfaces(ns, args)
		if err != nil {
			return api.CommandResult{}, false, err
		}
		var lines []string
		for _, ifc := range ifcs {
			lines = append(lines, netstack.FormatAddr(ifc))
		}
		return out(lines...), false, nil
	}
	c, err := netstack.ParseAddrCommand(args)
	if err != nil {
		return api.CommandResult{}, false, err
	}
	if _, ok := ns.Interface(c.Dev); !ok {
		return api.CommandResult{}, false, api.NotFound("Cannot find device \"%s\"", c.Dev)
	}
	return api.CommandResult{}, true, c.Apply(ns)
}

// ipRoute is `ip route show|get|flush|add|del|replace|...`.
func ipRoute(ns *netstack.Namespace, args []string) (api.CommandResult, bool, error) {
	db := ns.Routes()
	if len(args) == 0 {
		args = []string{"show"}
	}
	switch args[0] {
	case "show", "list", "lst", "ls", "sh":
		id, err := tableArg(args[1:])
		if err != nil {
			return api.CommandResult{}, false, err
		}
		return routeLines(db.ShowRoutes(id)), false, nil
	case "get", "g":
		g, err := route.ParseGetCommand(args[1:])
		if err != nil {
			return api.CommandResult{}, false, err
		}
		q, err := db.Resolve(g)
		if err != nil {
			return api.CommandResult{}, false, err
		}
		res, err := db.Get(q)
		if err != nil {
			return api.CommandResult{}, false, err
		}
		return api.CommandResult{Output: db.FormatGet(q, res) + "\n"}, false, nil
	case "flush", "f":
		id, err := tableArg(args[1:])
		if err != nil {
			return api.CommandResult{}, false, err
		}
		return api.CommandResult{}, true, db.Update(func(tx *route.Tx) error {
			for _, r := range db.Routes(id) {
				if _, err := tx.DelRoute(r); err != nil {
					return err
				}
			}
			return nil
		})
	}
	c, err := route.ParseRouteCommand(args)
	if err != nil {
		return api.CommandResult{}, false, err
	}
	return api.CommandResult{}, true, db.Update(c.Apply)
}

// tableArg reads "[table T]" of show and flush; main by default.
func tableArg(args []string) (route.TableID, error) {
	id := route.TableMain
	for i := 0; i < len(args); i++ {
		if args[i] != "table" || i+1 >= len(args) {
			return 0, api.BadRequest("Error: either \"to\" is duplicate, or \"%s\" is a garbage.", args[i])
		}
		if args[i+1] == "all" {
			id = route.TableUnspec
		} else {
			t, err := route.ParseTableID(args[i+1])
			if err != nil {
				return 0, api.BadRequest("Error: argument \"%s\" is wrong: table id value is invalid", args[i+1])
			}
			id = t
		}
		i++
	}
	return id, nil
}

func routeLines(lines []string) api.CommandResult {
	if len(lines) == 0 {
		return api.CommandResult{}
	}
	return api.CommandResult{Output: strings.Join(lines, "\n") + "\n"}
}

// ipRule is `ip rule show|add|del`.
func ipRule(ns *netstack.Namespace, args []string) (api.CommandResult, bool, error) {
	db := ns.Routes()
	if len(args) == 0 || slices.Contains([]string{"show", "list", "lst", "ls", "sh"}, args[0]) {
		return routeLines(db.ShowRules()), false, nil
	}
	c, err := route.ParseRuleCommand(args)
	if err != nil {
		return api.CommandResult{}, false, err
	}
	return api.CommandResult{}, true, db.Update(c.Apply)
}

// ipNeigh is `ip neigh show|flush|add|del|change|replace`.
func ipNeigh(ns *netstack.Namespace, args []string) (api.CommandResult, bool, error) {
	c, err := neigh.ParseCommand(args)
	if err != nil {
		return api.CommandResult{}, false, err
	}
	t := ns.Neigh()
	var ifc *netstack.Interface
	if c.Dev != "" {
		var ok bool
		if ifc, ok = ns.Interface(c.Dev); !ok {
			return api.CommandResult{}, false, api.NotFound("Cannot find device \"%s\"", c.Dev)
		}
	}
	switch c.Op {
	case "show", "flush":
		f := c.Filter
		if ifc != nil {
			f.IfIndex = ifc.Index()
		}
		if c.Op == "flush" {
			t.Flush(f)
			return api.CommandResult{}, true, nil
		}
		var lines []string
		for _, e := range t.Entries(f) {
			dev := ""
			if ifc == nil {
				if i := ifaceByIndex(ns, e.IfIndex); i != nil {
					dev = i.Name()
				}
			}
			lines = append(lines, neigh.Format(e, dev))
		}
		return out(lines...), false, nil
	case "add":
		err = t.Add(ifc.Index(), c.Addr, c.MAC, c.State, c.Router)
	case "del":
		err = t.Delete(ifc.Index(), c.Addr)
	case "change":
		err = t.Change(ifc.Index(), c.Addr, c.MAC, c.State, c.Router)
	case "replace":
		err = t.Replace(ifc.Index(), c.Addr, c.MAC, c.State, c.Router)
	}
	return api.CommandResult{}, true, err
}

func ifaceByIndex(ns *netstack.Namespace, index int) *netstack.Interface {
	for _, ifc := range ns.Interfaces() {
		if ifc.Index() == index {
			return ifc
		}
	}
	return nil
}
