package daemon

// Applying a cloud Plan by difference. The stages run in the order an
// agent must take them:
//
//  1. namespaces and their claims on internal ports, so that a port the
//     cloud adds for a router or an instance is an in-memory wire into its
//     namespace from the start, never a kernel TAP in the root namespace;
//  2. bridges and ports (vsctl), then the ports the last Plan had and this
//     one has not;
//  3. each namespace's sysctls, links, addresses, routes and iptables
//     chains, then the namespaces the last Plan had and this one has not;
//  4. flows, compared per bridge by (table, priority, match) with what the
//     bridge holds; a flow whose cookie is the cloud's and that the Plan no
//     longer has is deleted.
//
// Each step looks at what runs before it changes anything, so applying the
// same Plan twice, or after a restart, changes nothing, and a flow, rule or
// address someone removed by hand comes back.

import (
	"context"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"

	"tapestry/api"
	"tapestry/cloud"
	"tapestry/route"
	"tapestry/store"
)

type planApply struct {
	d         *Daemon
	ctx       context.Context
	old, next cloud.Plan
	errs      []error
}

func (a *planApply) fail(format string, args ...any) {
	a.errs = append(a.errs, fmt.Errorf(format, args...))
}

func (a *planApply) apply() {
	for i := range a.next.Namespaces {
		a.claim(&a.next.Namespaces[i])
	}
	for i := range a.next.Bridges {
		a.bridge(&a.next.Bridges[i])
	}
	a.removePorts()
	for i := range a.next.Namespaces {
		n := &a.next.Namespaces[i]
		a.configure(n, findNS(a.old.Namespaces, n.Name))
	}
	a.removeNamespaces()
	for i := range a.next.Bridges {
		a.flows(&a.next.Bridges[i])
	}
}

func findNS(ns []cloud.NamespacePlan, name string) *cloud.NamespacePlan {
	for i := range ns {
		if ns[i].Name == name {
			return &ns[i]
		}
	}
	return nil
}

// claim makes namespace n and claims its interfaces' ports, existing or
// not yet added.
func (a *planApply) claim(n *cloud.NamespacePlan) {
	d := a.d
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.netns[n.Name] == nil {
		if err := d.netnsAdd(n.Name); err != nil {
			a.fail("netns %s: %w", n.Name, err)
			return
		}
	}
	for _, l := range n.Links {
		c := d.netns[n.Name]
		if have := c.link(l.Name); have != nil {
			if have.port() != l.Port {
				a.fail("netns %s: interface %s is port %s, not %s", n.Name, l.Name, have.port(), l.Port)
			}
			continue
		}
		if ns, _ := d.claimOf(l.Port); ns != "" {
			a.fail("netns %s: port %s is claimed by netns %s", n.Name, l.Port, ns)
			continue
		}
		rename := ""
		if l.Name != l.Port {
			rename = l.Name
		}
		if d.findPort(l.Port) != nil {
			if _, err := d.moveLink("", l.Port, n.Name, rename); err != nil {
				a.fail("netns %s: claiming %s: %w", n.Name, l.Port, err)
			}
			continue
		}
		// The port comes in the next stage; its attach finds the claim.
		next := *c
		lc := &linkConf{Name: l.Name, Kind: kindInternal}
		if rename != "" {
			lc.Port = l.Port
		}
		next.Links = append(slices.Clone(c.Links), lc)
		if err := d.st.Update(func(tx *store.Tx) error { return putNS(tx, &next) }); err != nil {
			a.fail("netns %s: writing store: %w", n.Name, err)
			continue
		}
		d.netns[n.Name] = &next
	}
}

func (a *planApply) vsctl(cmds ...api.Command) {
	if len(cmds) == 0 {
		return
	}
	if _, err := a.d.Vsctl(a.ctx, api.VsctlRequest{Commands: cmds}); err != nil {
		names := make([]string, len(cmds))
		for i, c := range cmds {
			names[i] = c.Name + " " + strings.Join(c.Args, " ")
		}
		a.fail("vsctl %s: %w", strings.Join(names, " -- "), err)
	}
}

// bridge makes bridge b and its ports as the Plan has them.
func (a *planApply) bridge(b *cloud.BridgePlan) {
	a.vsctl(api.Command{Name: "add-br", Args: []string{b.Name}, MayExist: true})
	sw, err := a.d.Switch(a.ctx)
	if err != nil {
		a.fail("bridge %s: %w", b.Name, err)
		return
	}
	var cur *api.Bridge
	where := map[string]string{}
	for i := range sw.Bridges {
		if sw.Bridges[i].Name == b.Name {
			cur = &sw.Bridges[i]
		}
		for _, p := range sw.Bridges[i].Ports {
			where[p.Name] = sw.Bridges[i].Name
		}
	}
	if cur == nil {
		return
	}
	if cur.FailMode != b.FailMode {
		a.vsctl(api.Command{Name: "set-fail-mode", Args: []string{b.Name, b.FailMode}})
	}
	ports := map[string]*api.Port{}
	for i := range cur.Ports {
		ports[cur.Ports[i].Name] = &cur.Ports[i]
	}
	for _, p := range b.Ports {
		have := ports[p.Name]
		if have == nil && where[p.Name] != "" {
			a.vsctl(api.Command{Name: "del-port", Args: []string{where[p.Name], p.Name}})
		}
		var cmds []api.Command
		if have == nil {
			cmds = append(cmds, api.Command{Name: "add-port", Args: []string{b.Name, p.Name}})
		}
		if have == nil || have.Type != p.Type || have.MAC != p.MAC {
			cmds = append(cmds, api.Command{Name: "set", Args: []string{"interface", p.Name},
				Settings: []api.Setting{{Column: "type", Value: p.Type}, {Column: "mac", Value: p.MAC}}})
		}
		if have == nil || int(have.Tag) != p.Tag {
			if p.Tag != 0 {
				cmds = append(cmds, api.Command{Name: "set", Args: []string{"port", p.Name}, Settings: []api.Setting{{Column: "tag", Value: fmt.Sprint(p.Tag)}}})
			} else if have != nil {
				cmds = append(cmds, api.Command{Name: "clear", Args: []string{"port", p.Name, "tag"}})
			}
		}
		if have == nil || !maps.Equal(have.ExternalIDs, p.ExternalIDs) {
			var s []api.Setting
			for _, k := range sortedKeys(p.ExternalIDs) {
				s = append(s, api.Setting{Column: "external_ids", Key: k, Value: p.ExternalIDs[k]})
			}
			if have != nil {
				cmds = append(cmds, api.Command{Name: "clear", Args: []string{"interface", p.Name, "external_ids"}})
			}
			if len(s) > 0 {
				cmds = append(cmds, api.Command{Name: "set", Args: []string{"interface", p.Name}, Settings: s})
			}
		}
		a.vsctl(cmds...)
	}
}

// removePorts deletes the ports the last Plan had and this one has not.
func (a *planApply) removePorts() {
	keep := map[string]bool{}
	for _, b := range a.next.Bridges {
		for _, p := range b.Ports {
			keep[p.Name] = true
		}
	}
	var cmds []api.Command
	for _, b := range a.old.Bridges {
		for _, p := range b.Ports {
			if !keep[p.Name] {
				cmds = append(cmds, api.Command{Name: "del-port", Args: []string{p.Name}, IfExists: true})
			}
		}
	}
	a.vsctl(cmds...)
}

// removeNamespaces deletes the namespaces the last Plan had and this one
// has not (their ports are gone already).
func (a *planApply) removeNamespaces() {
	for _, n := range a.old.Namespaces {
		if findNS(a.next.Namespaces, n.Name) != nil {
			continue
		}
		if err := a.ip("", "netns", "del", n.Name); err != nil {
			a.fail("netns del %s: %w", n.Name, err)
		}
	}
}

func (a *planApply) ip(ns string, args ...string) error {
	_, err := a.d.IP(a.ctx, api.IPRequest{Netns: ns, Args: args})
	return err
}

// linkState is what runs of one interface: up, and its addresses.
type linkState struct {
	exists bool
	up     bool
	addrs  []netip.Prefix
}

// state reads namespace ns as it runs: its interfaces and main-table
// routes.
func (a *planApply) state(ns string) (map[string]linkState, []route.Route) {
	d := a.d
	d.mu.Lock()
	defer d.mu.Unlock()
	rt := d.nsrt[ns]
	if rt == nil {
		return nil, nil
	}
	links := map[string]linkState{}
	for _, ifc := range rt.Interfaces() {
		s := linkState{exists: true, up: ifc.Up()}
		for _, ad := range ifc.Addrs() {
			s.addrs = append(s.addrs, ad.Prefix)
		}
		links[ifc.Name()] = s
	}
	return links, rt.Routes().Routes(route.TableMain)
}

// configure brings namespace n's sysctls, interfaces, routes and iptables
// chains to the Plan; old is the namespace in the last Plan, or nil.
func (a *planApply) configure(n, old *cloud.NamespacePlan) {
	for _, s := range n.Sysctls {
		res, err := a.d.Sysctl(a.ctx, n.Name, api.ExecRequest{Args: []string{"-n", s.Name}})
		if err == nil && strings.TrimSpace(res.Output) == s.Value {
			continue
		}
		if _, err := a.d.Sysctl(a.ctx, n.Name, api.ExecRequest{Args: []string{"-w", s.Name + "=" + s.Value}}); err != nil {
			a.fail("netns %s: sysctl %s: %w", n.Name, s.Name, err)
		}
	}
	links, routes := a.state(n.Name)
	if lo := links["lo"]; lo.exists && !lo.up {
		a.run(n.Name, "link", "set", "lo", "up")
	}
	for _, l := range n.Links {
		have := links[l.Name]
		if !have.exists {
			a.fail("netns %s: interface %s (port %s) is missing", n.Name, l.Name, l.Port)
			continue
		}
		var was []netip.Prefix
		if old != nil {
			for _, ol := range old.Links {
				if ol.Name == l.Name {
					was = ol.Addrs
				}
			}
		}
		for _, p := range was {
			if !slices.Contains(l.Addrs, p) && slices.Contains(have.addrs, p) {
				a.run(n.Name, "addr", "del", p.String(), "dev", l.Name)
			}
		}
		for _, p := range l.Addrs {
			if !slices.Contains(have.addrs, p) {
				a.run(n.Name, "addr", "add", p.String(), "dev", l.Name)
			}
		}
		switch {
		case l.Up && !have.up:
			a.run(n.Name, "link", "set", l.Name, "up")
		case !l.Up && have.up:
			a.run(n.Name, "link", "set", l.Name, "down")
		}
	}
	a.routes(n, old, routes)
	a.iptables(n, old)
}

func (a *planApply) run(ns string, args ...string) {
	if err := a.ip(ns, args...); err != nil {
		a.fail("ip -n %s %s: %w", ns, strings.Join(args, " "), err)
	}
}

func routeArgs(r cloud.RoutePlan) []string {
	args := []string{r.Dst.String()}
	if r.Via.IsValid() {
		args = append(args, "via", r.Via.String())
	}
	return append(args, "dev", r.Dev)
}

func hasRoute(routes []route.Route, r cloud.RoutePlan) bool {
	for _, h := range routes {
		if h.Dst == r.Dst && h.Gateway == r.Via && h.Dev == r.Dev {
			return true
		}
	}
	return false
}

func (a *planApply) routes(n, old *cloud.NamespacePlan, have []route.Route) {
	if old != nil {
		for _, r := range old.Routes {
			if !slices.ContainsFunc(n.Routes, func(x cloud.RoutePlan) bool { return sameRoute(x, r) }) && hasRoute(have, r) {
				a.run(n.Name, append([]string{"route", "del"}, routeArgs(r)...)...)
			}
		}
	}
	for _, r := range n.Routes {
		if !hasRoute(have, r) {
			a.run(n.Name, append([]string{"route", "replace"}, routeArgs(r)...)...)
		}
	}
}

func sameRoute(x, y cloud.RoutePlan) bool { return x.Dst == y.Dst && x.Via == y.Via && x.Dev == y.Dev }
