package daemon

import (
	"regexp"
	"slices"
	"strconv"
	"strings"

	"tapestry/api"
	"tapestry/cloud"
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
	for _, c := range n.Iptables {
		if !c.Builtin && a.iptablesTool(n.Name, "-t", c.Table, "-S", c.Chain).ExitCode != 0 {
			a.iptablesRun(n.Name, "-t", c.Table, "-N", c.Chain)
		}
	}
	for _, c := range n.Iptables {
		a.chain(n.Name, c.Table, c.Chain, c.Builtin, ruleSpecs(c.Rules), oldChain(c.Table, c.Chain))
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
			a.chain(n.Name, c.Table, c.Chain, true, nil, ruleSpecs(c.Rules))
		}
	}
	for _, c := range old.Iptables {
		if !c.Builtin && !kept(c) {
			a.iptablesRun(n.Name, "-t", c.Table, "-F", c.Chain)
			a.iptablesRun(n.Name, "-t", c.Table, "-X", c.Chain)
		}
	}
}

// dnatRule reads a floating IP's DNAT rule: -d FIP/32 ... --to-destination FIXED.
var dnatRule = regexp.MustCompile(`^-d ([0-9.]+)/32 .*-j DNAT --to-destination ([0-9.]+)$`)

// forgetNAT deletes the connections of floating IPs whose DNAT rule went
// away, as the L3 agent does when it removes a floating IP: the NAT of an
// existing connection is bound when it starts, so without this a ping
// already under way to a disassociated address would still be answered.
func (a *planApply) forgetNAT(n, old *cloud.NamespacePlan) {
	kept := map[string]bool{}
	for _, c := range n.Iptables {
		for _, r := range c.Rules {
			kept[r.Spec] = true
		}
	}
	done := map[string]bool{}
	for _, c := range old.Iptables {
		for _, r := range c.Rules {
			m := dnatRule.FindStringSubmatch(r.Spec)
			if m == nil || kept[r.Spec] || done[m[1]] {
				continue
			}
			done[m[1]] = true
			for _, f := range [][]string{{"-D", "-d", m[1]}, {"-D", "-s", m[2]}} {
				// Exit status 1 (nothing to delete) is not a failure.
				if _, err := a.d.Netfilter(a.ctx, n.Name, api.ToolRequest{Tool: "conntrack", Args: f}); err != nil {
					a.fail("netns %s: conntrack %s: %w", n.Name, strings.Join(f, " "), err)
				}
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

func (a *planApply) iptablesRun(ns string, args ...string) {
	if res := a.iptablesTool(ns, args...); res.ExitCode != 0 {
		a.fail("netns %s: iptables %s: %s", ns, strings.Join(args, " "), strings.TrimSpace(res.Stderr))
	}
}

// chain makes the rules of chain (which exists) want, in order: rules not wanted go (all of
// them in the cloud's chains, in a builtin chain only those in was), then
// each wanted rule is put at its place unless it is there already.
func (a *planApply) chain(ns, table, chain string, builtin bool, want, was []string) {
	res := a.iptablesTool(ns, "-t", table, "-S", chain)
	if res.ExitCode != 0 {
		return // a chain that could not be made; reported already
	}
	var have []string
	prefix := "-A " + chain + " "
	for _, line := range strings.Split(res.Stdout, "\n") {
		if spec, ok := strings.CutPrefix(line, prefix); ok {
			have = append(have, spec)
		}
	}
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
		words, err := splitWords(spec)
		if err != nil {
			a.fail("netns %s: rule %q: %w", ns, spec, err)
			continue
		}
		a.iptablesRun(ns, append([]string{"-t", table, "-I", chain, strconv.Itoa(i + 1)}, words...)...)
		have = slices.Insert(have, min(i, len(have)), spec)
	}
}

// splitWords splits a rule as iptables -S prints it into its words:
// blanks separate, double quotes group, and a backslash inside quotes
// escapes the next character.
func splitWords(s string) ([]string, error) {
	var out []string
	var w strings.Builder
	inWord, quoted := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quoted && c == '\\' && i+1 < len(s):
			i++
			w.WriteByte(s[i])
		case c == '"':
			quoted, inWord = !quoted, true
		case !quoted && (c == ' ' || c == '\t'):
			if inWord {
				out = append(out, w.String())
				w.Reset()
				inWord = false
			}
		default:
			w.WriteByte(c)
			inWord = true
		}
	}
	if quoted {
		return nil, errUnterminatedQuote
	}
	if inWord {
		out = append(out, w.String())
	}
	return out, nil
}

var errUnterminatedQuote = api.BadRequest("unterminated quote")

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
