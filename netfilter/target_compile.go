package netfilter

import (
	"errors"
	"fmt"

	"tapestry/conntrack"
)

// hookMask is a set of hooks.
type hookMask uint8

func hooks(hs ...Hook) hookMask {
	var m hookMask
	for _, h := range hs {
		m |= 1 << h
	}
	return m
}

// targetRules are the table and hook restrictions of the targets' kernel
// modules (xt_target.table and .hooks); 0 means unrestricted.
var targetRules = map[string]struct {
	table TableID
	any   bool
	hooks hookMask
}{
	"REJECT":     {any: true, hooks: hooks(HookInput, HookForward, HookOutput)},
	"TOS":        {table: TableMangle},
	"DSCP":       {table: TableMangle},
	"TTL":        {table: TableMangle},
	"DNAT":       {table: TableNAT, hooks: hooks(HookPrerouting, HookOutput)},
	"REDIRECT":   {table: TableNAT, hooks: hooks(HookPrerouting, HookOutput)},
	"SNAT":       {table: TableNAT, hooks: hooks(HookPostrouting, HookInput)},
	"MASQUERADE": {table: TableNAT, hooks: hooks(HookPostrouting)},
	"CT":         {table: TableRaw},
	"NOTRACK":    {table: TableRaw},
	"TRACE":      {table: TableRaw},
}

// checkTarget applies targetRules' table restrictions, and the hook
// restrictions for rules of built-in chains (checkHooks checks every chain
// against the hooks it is reachable from).
func checkTarget(tid TableID, c *Chain, name string) error {
	if name == "DROP" && tid == TableNAT {
		// iptables refuses it; nf_tables' nat chains would accept it.
		return errors.New(`the "nat" table is not intended for filtering, the use of DROP is therefore inhibited`)
	}
	rule, ok := targetRules[name]
	if !ok {
		return nil
	}
	if !rule.any && tid != rule.table {
		return fmt.Errorf("target %s is only valid in the %s table", name, rule.table)
	}
	if h, builtin := HookByName(c.Name); c.Builtin && builtin && rule.hooks != 0 && rule.hooks&(1<<h) == 0 {
		return fmt.Errorf("target %s is not valid in chain %s", name, c.Name)
	}
	return nil
}

func compileTarget(tid TableID, c *Chain, t Target, chains map[string]int32) (ctarget, error) {
	var ct ctarget
	if t == nil {
		return ct, nil
	}
	if err := checkTarget(tid, c, t.Name()); err != nil {
		return ct, err
	}
	switch t := t.(type) {
	case *AcceptTarget:
		ct.kind = tAccept
	case *DropTarget:
		ct.kind = tDrop
	case *ReturnTarget:
		ct.kind = tReturn
	case *JumpTarget:
		i, ok := chains[t.Chain]
		if !ok {
			return ct, fmt.Errorf("jump to unknown chain %q", t.Chain)
		}
		if _, builtin := HookByName(t.Chain); builtin {
			return ct, fmt.Errorf("cannot jump to built-in chain %q", t.Chain)
		}
		ct.kind, ct.jump = tJump, i
		if t.Goto {
			ct.kind = tGoto
		}
	case *RejectTarget:
		ct.kind, ct.reject = tReject, t.With
	case *LogTarget:
		ct.kind, ct.log = tLog, t
	case *MarkTarget:
		ct.kind, ct.a, ct.b = tMark, t.Value, t.Mask
	case *ConnmarkTarget:
		ct.kind, ct.mode, ct.a, ct.b, ct.c = tConnmark, t.Mode, t.CtMark, t.CtMask, t.NfMask
	case *TOSTarget:
		ct.kind, ct.v8, ct.m8 = tTOS, t.Value, t.Mask
	case *DSCPTarget:
		if t.Value > 63 {
			return ct, fmt.Errorf("DSCP %#x out of range", t.Value)
		}
		ct.kind, ct.v8 = tDSCP, t.Value
	case *TTLTarget:
		ct.kind, ct.mode, ct.v8 = tTTL, t.Mode, t.Value
	case *DNATTarget:
		ct.kind, ct.nat = tDNAT, conntrack.NATRange(t.Range)
	case *SNATTarget:
		ct.kind, ct.nat = tSNAT, conntrack.NATRange(t.Range)
	case *MasqueradeTarget:
		ct.kind = tMasquerade
		ct.nat = conntrack.NATRange{MinPort: t.MinPort, MaxPort: t.MaxPort, HasPorts: t.HasPorts}
	case *RedirectTarget:
		ct.kind = tRedirect
		ct.nat = conntrack.NATRange{MinPort: t.MinPort, MaxPort: t.MaxPort, HasPorts: t.HasPorts}
	case *CTTarget:
		ct.kind = tCTZone
		if t.NoTrack {
			ct.kind = tNotrack
		}
		ct.a = uint32(t.Zone)
	case *NotrackTarget:
		ct.kind = tNotrack
	case *TraceTarget:
		ct.kind = tTrace
	default:
		return ct, fmt.Errorf("unsupported target %T", t)
	}
	return ct, nil
}

// CheckRule validates one rule for chain c of table tid as the kernel's
// checkentry would, without resolving jumps (the table is checked as a
// whole by Compile).
func CheckRule(tid TableID, c *Chain, r *Rule) error {
	for _, m := range r.Matches {
		if _, err := compileMatch(m, r); err != nil {
			return fmt.Errorf("-m %s: %w", m.Name(), err)
		}
	}
	if _, ok := r.Target.(*JumpTarget); ok {
		return nil
	}
	_, err := compileTarget(tid, c, r.Target, nil)
	return err
}

// matchHooks are the hooks where matches that need per-hook data work
// (xt_match.hooks).
var matchHooks = map[string]hookMask{
	"mac":   hooks(HookPrerouting, HookInput, HookForward),
	"owner": hooks(HookOutput, HookPostrouting),
}

var hookNamesAll = hookNames

// reach returns, per chain, the hooks from whose built-in chain it can be
// reached through jumps and gotos.
func (ct *ctable) reach() []hookMask {
	r := make([]hookMask, len(ct.chains))
	var walk func(c int32, h Hook)
	walk = func(c int32, h Hook) {
		if r[c]&(1<<h) != 0 {
			return
		}
		r[c] |= 1 << h
		ch := ct.chains[c]
		for i := ch.start; i < ch.end; i++ {
			if tg := ct.rules[i].tgt; tg.kind == tJump || tg.kind == tGoto {
				walk(tg.jump, h)
			}
		}
	}
	for h, e := range ct.entry {
		if e >= 0 {
			walk(ct.rules[e].chain, Hook(h))
		}
	}
	return r
}

// checkHooks refuses rules that cannot work at a hook their chain is
// reached from, as the kernel does when it validates a table (hook-bound
// matches and targets), and -i in OUTPUT/POSTROUTING and -o in
// PREROUTING/INPUT as iptables does (built-in chains only).
func (ct *ctable) checkHooks() error {
	reach := ct.reach()
	for i := range ct.rules {
		r := &ct.rules[i]
		if r.model == nil {
			continue
		}
		at := reach[r.chain]
		// -i and -o are refused only in the built-in chains themselves
		// (iptables' own check; the kernel accepts them in user chains
		// reached from any hook, where they simply never match).
		direct := hookMask(0)
		for h, e := range ct.entry {
			if e >= 0 && ct.rules[e].chain == r.chain {
				direct |= 1 << h
			}
		}
		bad := func(what string, ok hookMask) error {
			for h := range NumHooks {
				if at&(1<<h) != 0 && ok&(1<<h) == 0 {
					return fmt.Errorf("chain %s rule %d: %s is not valid at %s (the chain is reached from it)", ct.chains[r.chain].name, r.num, what, hookNamesAll[h])
				}
			}
			return nil
		}
		if r.model.InIface != "" && direct&hooks(HookOutput, HookPostrouting) != 0 {
			return fmt.Errorf("chain %s rule %d: can't use -i with %s", ct.chains[r.chain].name, r.num, ct.chains[r.chain].name)
		}
		if r.model.OutIface != "" && direct&hooks(HookPrerouting, HookInput) != 0 {
			return fmt.Errorf("chain %s rule %d: can't use -o with %s", ct.chains[r.chain].name, r.num, ct.chains[r.chain].name)
		}
		for _, m := range r.model.Matches {
			if ok, limited := matchHooks[m.Name()]; limited {
				if err := bad("-m "+m.Name(), ok); err != nil {
					return err
				}
			}
		}
		if t := r.model.Target; t != nil {
			if rule, limited := targetRules[t.Name()]; limited && rule.hooks != 0 {
				if err := bad("-j "+t.Name(), rule.hooks); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
