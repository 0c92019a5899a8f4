package iptables

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	nf "tapestry/netfilter"
)

// RestoreOptions are iptables-restore's flags.
type RestoreOptions struct {
	NoFlush  bool // --noflush: add to the tables instead of replacing them
	Counters bool // --counters: take "[pkts:bytes]" and chain counters
	Test     bool // --test: parse and check only; Restore returns cur unchanged
}

// Restore applies iptables-restore input to cur and returns the new
// tables. It is atomic: on any error it returns the error (naming the line
// and what is wrong) and cur is not modified. Each "*table" ... "COMMIT"
// block replaces that table (or, with NoFlush, edits it); tables the input
// does not mention are kept.
func Restore(cur nf.Tables, input string, o RestoreOptions) (nf.Tables, error) {
	next := cur.Clone()
	var t *nf.Table
	tableLine := 0
	lines := strings.Split(input, "\n")
	for i, line := range lines {
		n := i + 1
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		fail := func(err error) (nf.Tables, error) {
			return cur, fmt.Errorf("iptables-restore: line %d failed: %w", n, err)
		}
		switch {
		case line[0] == '*':
			if t != nil {
				return fail(fmt.Errorf("table %q started before COMMIT of table %q (line %d)", line[1:], t.ID, tableLine))
			}
			id, ok := nf.TableByName(line[1:])
			if !ok {
				return fail(fmt.Errorf("unknown table %q", line[1:]))
			}
			if o.NoFlush && next[id] != nil {
				t = next[id].Clone()
			} else {
				t = nf.NewTable(id)
			}
			tableLine = n
		case line == "COMMIT":
			if t == nil {
				return fail(errors.New("COMMIT without a table"))
			}
			probe := nf.Tables{}
			probe[t.ID] = t
			if _, err := nf.Compile(probe, nil); err != nil {
				return fail(err)
			}
			next[t.ID] = t
			t = nil
		case t == nil:
			return fail(fmt.Errorf("%q outside a table (no *table line before it)", truncate(line)))
		case line[0] == ':':
			if err := chainLine(t, line[1:], o); err != nil {
				return fail(err)
			}
		default:
			if err := ruleLine(t, line, o); err != nil {
				return fail(err)
			}
		}
	}
	if t != nil {
		return cur, fmt.Errorf("iptables-restore: COMMIT expected at line %d (table %s opened at line %d)", len(lines)+1, t.ID, tableLine)
	}
	if o.Test {
		return cur, nil
	}
	return next, nil
}

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// chainLine handles ":NAME POLICY [pkts:bytes]".
func chainLine(t *nf.Table, s string, o RestoreOptions) error {
	f := strings.Fields(s)
	if len(f) < 2 {
		return fmt.Errorf("bad chain line %q: want \":NAME POLICY [pkts:bytes]\"", ":"+s)
	}
	name, pol := f[0], f[1]
	var ctr nf.Counters
	if len(f) > 2 {
		c, err := parseCounters(f[2])
		if err != nil {
			return err
		}
		ctr = c
	}
	ch := t.Chain(name)
	if _, builtin := nf.HookByName(name); builtin && ch != nil && ch.Builtin {
		switch pol {
		case "ACCEPT":
			ch.Policy = nf.PolicyAccept
		case "DROP":
			ch.Policy = nf.PolicyDrop
		default:
			return fmt.Errorf("bad policy %q for built-in chain %s (ACCEPT or DROP)", pol, name)
		}
		if o.Counters {
			ch.Counters = ctr
		}
		return nil
	}
	if pol != "-" {
		return fmt.Errorf("user chain %q cannot have policy %q (use \"-\")", name, pol)
	}
	if ch != nil {
		ch.Rules = nil // an existing chain is flushed (--noflush)
		return nil
	}
	return newChain(t, name)
}

func parseCounters(s string) (nf.Counters, error) {
	if len(s) < 5 || s[0] != '[' || s[len(s)-1] != ']' {
		return nf.Counters{}, fmt.Errorf("bad counters %q: want [pkts:bytes]", s)
	}
	ps, bs, ok := strings.Cut(s[1:len(s)-1], ":")
	p, err1 := strconv.ParseUint(ps, 10, 64)
	b, err2 := strconv.ParseUint(bs, 10, 64)
	if !ok || err1 != nil || err2 != nil {
		return nf.Counters{}, fmt.Errorf("bad counters %q: want [pkts:bytes]", s)
	}
	return nf.Counters{Packets: p, Bytes: b}, nil
}

// ruleLine handles "[pkts:bytes] -A CHAIN ..." and the other commands
// iptables-restore accepts inside a table.
func ruleLine(t *nf.Table, line string, o RestoreOptions) error {
	var ctr *nf.Counters
	if line[0] == '[' {
		end := strings.IndexByte(line, ']')
		if end < 0 {
			return fmt.Errorf("bad counters in %q", truncate(line))
		}
		c, err := parseCounters(line[:end+1])
		if err != nil {
			return err
		}
		ctr = &c
		line = strings.TrimSpace(line[end+1:])
	}
	args, err := SplitLine(line)
	if err != nil {
		return err
	}
	for _, a := range args {
		if a == "-t" || a == "--table" {
			return errors.New("\"-t\" is not allowed in iptables-restore input (the table comes from the *table line)")
		}
	}
	c, err := ParseCommand(args)
	if err != nil {
		return err
	}
	switch c.Op {
	case OpList, OpListRules, OpCheck:
		return fmt.Errorf("command %q is not allowed in iptables-restore input", args[0])
	}
	c.Table = t.ID
	if c.Rule != nil {
		if o.Counters && ctr != nil {
			c.Rule.Counters = *ctr
		} else if !o.Counters {
			c.Rule.Counters = nf.Counters{}
		}
	}
	ts := nf.Tables{}
	ts[t.ID] = t
	_, err = Apply(&ts, c)
	return err
}
