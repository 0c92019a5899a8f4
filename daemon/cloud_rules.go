package daemon

import (
	"slices"
	"strconv"
	"strings"

	"tapestry/api"
	"tapestry/cloud"
	"tapestry/iptables"
	"tapestry/ofctl"
	"tapestry/openflow"
)

// iptables brings namespace n's cloud chains to the Plan. The cloud's own
// chains hold only its rules; in a builtin chain it touches only the rules
// it made (this Plan's and the last one's), so a user's rules there stay.
func (a *planApply) iptables(n, old *cloud.NamespacePlan) {
	oldChain := func(table, chain string) []string {
		if old == nil {
			return nil
		}
		for _, c := range old.Iptables {
			if c.Table == table && c.Chain == chain {
				return ruleSpecs(c.Rules)
			}
		}
		return nil
	}
	// Every chain first, so that a jump never names a chain not made yet.
	have := make([][]string, len(n.Iptables))
	ok := make([]bool, len(n.Iptables))
	for i, c := range n.Iptables {
		have[i], ok[i] = a.chainRules(n.Name, c.Table, c.Chain)
		if !ok[i] && !c.Builtin {
			ok[i] = a.iptablesRun(n.Name, "-t", c.Table, "-N", c.Chain)
		}
	}
	for i, c := range n.Iptables {
		if ok[i] {
			a.chain(n.Name, c.Table, c.Chain, c.Builtin, have[i], ruleSpecs(c.Rules), oldChain(c.Table, c.Chain))
		}
	}
	if old == nil {
		return
	}
	a.forgetNAT(n, old)
	kept := func(c cloud.ChainPlan) bool {
		return slices.ContainsFunc(n.Iptables, func(x cloud.ChainPlan) bool { return x.Table == c.Table && x.Chain == c.Chain })
	}
	// Jumps first, then the chains they jumped to.
	for _, c := range old.Iptables {
		if c.Builtin && !kept(c) {
			if have, ok := a.chainRules(n.Name, c.Table, c.Chain); ok {
				a.chain(n.Name, c.Table, c.Chain, true, have, nil, ruleSpecs(c.Rules))
			}
		}
	}
	for _, c := range old.Iptables {
		if !c.Builtin && !kept(c) {
			a.iptablesRun(n.Name, "-t", c.Table, "-F", c.Chain)
			a.iptablesRun(n.Name, "-t", c.Table, "-X", c.Chain)
		}
	}
}

// forgetNAT deletes the connections of the floating IPs the router no
// longer translates, as the L3 agent does when it removes a floating IP:
// the NAT of a connection is bound when it starts, so without this a ping
// already under way to a disassociated address would still be answered.
func (a *planApply) forgetNAT(n, old *cloud.NamespacePlan) {
	for _, f := range old.NAT {
		if slices.Contains(n.NAT, f) {
			continue
		}
		for _, args := range [][]string{{"-D", "-d", f.FloatingIP.String()}, {"-D", "-s", f.FixedIP.String()}} {
			// Exit status 1 (nothing to delete) is not a failure.
			if _, err := a.d.Netfilter(a.ctx, n.Name, api.ToolRequest{Tool: "conntrack", Args: args}); err != nil {
				a.fail("netns %s: conntrack %s: %w", n.Name, strings.Join(args, " "), err)
			}
		}
	}
}

func ruleSpecs(rs []cloud.RulePlan) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Spec
	}
	return out
}

func (a *planApply) iptablesTool(ns string, args ...string) api.ToolResult {
	res, err := a.d.Netfilter(a.ctx, ns, api.ToolRequest{Tool: "iptables", Args: args})
	if err != nil {
		return api.ToolResult{Stderr: err.Error(), ExitCode: 1}
	}
	return res
}

func (a *planApply) iptablesRun(ns string, args ...string) bool {
	if res := a.iptablesTool(ns, args...); res.ExitCode != 0 {
		a.fail("netns %s: iptables %s: %s", ns, strings.Join(args, " "), strings.TrimSpace(res.Stderr))
		return false
	}
	return true
}

// chainRules returns the rules of chain as `iptables -S CHAIN` prints them
// after "-A CHAIN ", and false when the chain does not exist.
func (a *planApply) chainRules(ns, table, chain string) ([]string, bool) {
	res := a.iptablesTool(ns, "-t", table, "-S", chain)
	if res.ExitCode != 0 {
		return nil, false
	}
	var rules []string
	prefix := "-A " + chain + " "
	for _, line := range strings.Split(res.Stdout, "\n") {
		if spec, ok := strings.CutPrefix(line, prefix); ok {
			rules = append(rules, spec)
		}
	}
	return rules, true
}

// chain makes the rules of chain, which are have now, want, in order:
// rules not wanted go (all of them in the cloud's chains, in a builtin
// chain only those in was), then each wanted rule is put at its place
// unless it is there already.
func (a *planApply) chain(ns, table, chain string, builtin bool, have, want, was []string) {
	for i := len(have) - 1; i >= 0; i-- {
		if !slices.Contains(want, have[i]) && (!builtin || slices.Contains(was, have[i])) {
			a.iptablesRun(ns, "-t", table, "-D", chain, strconv.Itoa(i+1))
			have = slices.Delete(have, i, i+1)
		}
	}
	for i, spec := range want {
		if i < len(have) && have[i] == spec {
			continue
		}
		if j := slices.Index(have, spec); j >= 0 {
			a.iptablesRun(ns, "-t", table, "-D", chain, strconv.Itoa(j+1))
			have = slices.Delete(have, j, j+1)
		}
		words, err := iptables.SplitLine(spec)
		if err != nil {
			a.fail("netns %s: rule %q: %w", ns, spec, err)
			continue
		}
		a.iptablesRun(ns, append([]string{"-t", table, "-I", chain, strconv.Itoa(i + 1)}, words...)...)
		have = slices.Insert(have, min(i, len(have)), spec)
	}
}

// flows makes bridge b's flows with the cloud's cookies exactly b.Flows.
func (a *planApply) flows(b *cloud.BridgePlan) {
	d := a.d
	d.mu.Lock()
	rt := d.bridges[b.Name]
	if rt == nil {
		d.mu.Unlock()
		a.fail("bridge %s is missing", b.Name)
		return
	}
	names := rt.names()
	have := rt.br.DumpFlows(matchAll(openflow.FlowDelete))
	d.mu.Unlock()

	ours := map[uint64]bool{cloud.AgentCookie: true}
	for _, ob := range a.old.Bridges {
		if ob.Name == b.Name {
			for _, f := range ob.Flows {
				ours[f.Cookie] = true
			}
		}
	}
	var adds []openflow.FlowMod
	for _, f := range b.Flows {
		ours[f.Cookie] = true
		fm, err := ofctl.ParseFlowMod(f.Text(), openflow.FlowAdd, names)
		if err != nil {
			a.fail("bridge %s: flow %q: %w", b.Name, f.Text(), err)
			continue
		}
		adds = append(adds, fm)
	}
	mods := diffFlows(have, adds, func(fs *openflow.FlowStats) bool { return ours[fs.Cookie] })
	if len(mods) > 0 {
		a.applyFlows(b.Name, mods)
	}
}

// applyFlows applies mods to bridge br and stores the result, as the
// flow API does.
func (a *planApply) applyFlows(br string, mods []openflow.FlowMod) {
	d := a.d
	d.mu.Lock()
	defer d.mu.Unlock()
	rt, err := d.bridge(br)
	if err != nil {
		a.fail("bridge %s: %w", br, err)
		return
	}
	if err := d.flushExpired(); err != nil {
		a.fail("bridge %s: %w", br, err)
		return
	}
	d.flowMu.Lock()
	defer d.flowMu.Unlock()
	d.drainFlowLog()
	ch, err := rt.br.FlowMods(mods)
	if err != nil {
		a.fail("bridge %s: flows: %w", br, err)
		return
	}
	if err := d.persistFlows(br, ch); err != nil {
		a.fail("bridge %s: writing store: %w", br, err)
		if rerr := d.restoreFlows(rt); rerr != nil {
			d.log.Error("reloading flows", "bridge", br, "err", rerr)
		}
	}
}
