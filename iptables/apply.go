package iptables

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	nf "tapestry/netfilter"
)

// Errors with iptables' own wording where users grep for it.
var (
	ErrNoChain    = errors.New("no chain/target/match by that name")
	ErrChainExist = errors.New("chain already exists")
	ErrBadRule    = errors.New("bad rule (does a matching rule exist in that chain?)")
	ErrNotEmpty   = errors.New("directory not empty")
	ErrInUse      = errors.New("too many links")
)

// Apply runs a command against ts, changing it in place (callers that need
// atomicity apply to a Clone), and returns the lines the command prints
// (-L, -S). Rules are checked as the kernel would check them.
func Apply(ts *nf.Tables, c *Command) ([]string, error) {
	if ts[c.Table] == nil {
		ts[c.Table] = nf.NewTable(c.Table)
	}
	t := ts[c.Table]
	out, err := applyTable(t, c)
	if err != nil {
		return nil, fmt.Errorf("iptables: %w", err)
	}
	return out, nil
}

func chainOf(t *nf.Table, name string) (*nf.Chain, error) {
	ch := t.Chain(name)
	if ch == nil {
		var names []string
		for _, c := range t.Chains {
			names = append(names, c.Name)
		}
		return nil, fmt.Errorf("chain %q in table %s: %w%s", name, t.ID, ErrNoChain, suggest(name, names))
	}
	return ch, nil
}

func checkRule(t *nf.Table, ch *nf.Chain, r *nf.Rule) error {
	if j, ok := r.Target.(*nf.JumpTarget); ok {
		tc := t.Chain(j.Chain)
		if tc == nil {
			return fmt.Errorf("couldn't load target %q: %w", j.Chain, ErrNoChain)
		}
		if tc.Builtin {
			return fmt.Errorf("cannot jump to built-in chain %q", j.Chain)
		}
	}
	return nf.CheckRule(t.ID, ch, r)
}

func sameRule(a, b *nf.Rule) bool { return RuleSpec(a) == RuleSpec(b) }

func applyTable(t *nf.Table, c *Command) ([]string, error) {
	switch c.Op {
	case OpList:
		return List(t, c.Chain, ListOptions{Numeric: c.Numeric, Verbose: c.Verbose, Exact: c.Exact, LineNumbers: c.LineNumbers})
	case OpListRules:
		return ListRules(t, c.Chain, c.Verbose)
	case OpFlush, OpZero:
		return nil, flushZero(t, c)
	case OpNewChain:
		return nil, newChain(t, c.Chain)
	case OpDeleteChain:
		return nil, deleteChain(t, c.Chain)
	case OpRenameChain:
		return nil, renameChain(t, c.Chain, c.Arg)
	case OpPolicy:
		ch, err := chainOf(t, c.Chain)
		if err != nil {
			return nil, err
		}
		if !ch.Builtin {
			return nil, fmt.Errorf("cannot set policy of user chain %q", c.Chain)
		}
		switch c.Arg {
		case "ACCEPT":
			ch.Policy = nf.PolicyAccept
		case "DROP":
			ch.Policy = nf.PolicyDrop
		default:
			return nil, fmt.Errorf("bad policy name %q (ACCEPT or DROP)", c.Arg)
		}
		return nil, nil
	}
	ch, err := chainOf(t, c.Chain)
	if err != nil {
		return nil, err
	}
	if c.Rule != nil {
		if err := checkRule(t, ch, c.Rule); err != nil {
			return nil, err
		}
	}
	return nil, editRules(ch, c)
}

func editRules(ch *nf.Chain, c *Command) error {
	switch c.Op {
	case OpAppend:
		ch.Rules = append(ch.Rules, c.Rule)
	case OpInsert:
		if c.Num < 1 || c.Num > len(ch.Rules)+1 {
			return fmt.Errorf("index of insertion too big: %d", c.Num)
		}
		ch.Rules = append(ch.Rules[:c.Num-1], append([]*nf.Rule{c.Rule}, ch.Rules[c.Num-1:]...)...)
	case OpReplace:
		if c.Num < 1 || c.Num > len(ch.Rules) {
			return fmt.Errorf("index of replacement too big: %d", c.Num)
		}
		ch.Rules[c.Num-1] = c.Rule
	case OpDelete:
		n := c.Num
		if c.Rule != nil {
			n = findRule(ch, c.Rule)
			if n == 0 {
				return ErrBadRule
			}
		}
		if n < 1 || n > len(ch.Rules) {
			return fmt.Errorf("index of deletion too big: %d", n)
		}
		ch.Rules = append(ch.Rules[:n-1], ch.Rules[n:]...)
	case OpCheck:
		if findRule(ch, c.Rule) == 0 {
			return ErrBadRule
		}
	}
	return nil
}

func findRule(ch *nf.Chain, r *nf.Rule) int {
	for i, x := range ch.Rules {
		if sameRule(x, r) {
			return i + 1
		}
	}
	return 0
}

func flushZero(t *nf.Table, c *Command) error {
	chains := t.Chains
	if c.Chain != "" {
		ch, err := chainOf(t, c.Chain)
		if err != nil {
			return err
		}
		chains = []*nf.Chain{ch}
	}
	for _, ch := range chains {
		if c.Op == OpFlush {
			ch.Rules = nil
			continue
		}
		ch.Counters = nf.Counters{}
		for i, r := range ch.Rules {
			rr := *r
			rr.Counters = nf.Counters{}
			ch.Rules[i] = &rr
		}
	}
	return nil
}

// validChainName applies iptables' rules: at most 28 characters, not
// starting with '-' or '!', no whitespace, not a target's name.
func validChainName(name string) error {
	switch {
	case name == "":
		return errors.New("empty chain name")
	case len(name) > 28:
		return fmt.Errorf("chain name %q too long (must be under 29 chars)", name)
	case name[0] == '-' || name[0] == '!':
		return fmt.Errorf("invalid chain name %q", name)
	case strings.ContainsAny(name, " \t\n"):
		return fmt.Errorf("invalid chain name %q", name)
	}
	if _, ok := targetMods[name]; ok {
		return fmt.Errorf("chain name %q is a target name", name)
	}
	return nil
}

func newChain(t *nf.Table, name string) error {
	if err := validChainName(name); err != nil {
		return err
	}
	if t.Chain(name) != nil {
		return fmt.Errorf("chain %q: %w", name, ErrChainExist)
	}
	t.Chains = append(t.Chains, &nf.Chain{Name: name})
	sortChains(t)
	return nil
}

// sortChains keeps built-in chains first and user chains in name order,
// the order iptables lists and saves them in.
func sortChains(t *nf.Table) {
	sort.SliceStable(t.Chains, func(i, j int) bool {
		a, b := t.Chains[i], t.Chains[j]
		if a.Builtin != b.Builtin {
			return a.Builtin
		}
		return !a.Builtin && a.Name < b.Name
	})
}

func references(t *nf.Table, name string) int {
	n := 0
	for _, c := range t.Chains {
		for _, r := range c.Rules {
			if j, ok := r.Target.(*nf.JumpTarget); ok && j.Chain == name {
				n++
			}
		}
	}
	return n
}

func deleteChain(t *nf.Table, name string) error {
	if name == "" {
		// -X without a chain deletes every user chain; references
		// between user chains go with them.
		var keep []*nf.Chain
		for _, c := range t.Chains {
			if c.Builtin {
				keep = append(keep, c)
				for _, r := range c.Rules {
					if _, ok := r.Target.(*nf.JumpTarget); ok {
						return fmt.Errorf("chain %s: %w", c.Name, ErrInUse)
					}
				}
			}
		}
		t.Chains = keep
		return nil
	}
	ch, err := chainOf(t, name)
	if err != nil {
		return err
	}
	switch {
	case ch.Builtin:
		return fmt.Errorf("cannot delete built-in chain %q", name)
	case references(t, name) > 0:
		return fmt.Errorf("chain %q is referenced: %w", name, ErrInUse)
	case len(ch.Rules) > 0:
		return fmt.Errorf("chain %q: %w", name, ErrNotEmpty)
	}
	for i, c := range t.Chains {
		if c == ch {
			t.Chains = append(t.Chains[:i], t.Chains[i+1:]...)
			break
		}
	}
	return nil
}

func renameChain(t *nf.Table, from, to string) error {
	ch, err := chainOf(t, from)
	if err != nil {
		return err
	}
	if ch.Builtin {
		return fmt.Errorf("cannot rename built-in chain %q", from)
	}
	if err := validChainName(to); err != nil {
		return err
	}
	if t.Chain(to) != nil {
		return fmt.Errorf("chain %q: %w", to, ErrChainExist)
	}
	ch.Name = to
	defer sortChains(t)
	for _, c := range t.Chains {
		for i, r := range c.Rules {
			if j, ok := r.Target.(*nf.JumpTarget); ok && j.Chain == from {
				rr := *r
				rr.Target = &nf.JumpTarget{Chain: to, Goto: j.Goto}
				c.Rules[i] = &rr
			}
		}
	}
	return nil
}
