package iptables

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	nf "tapestry/netfilter"
)

// Op is an iptables command.
type Op uint8

// Commands.
const (
	OpNone        Op = iota
	OpAppend         // -A
	OpInsert         // -I
	OpDelete         // -D
	OpReplace        // -R
	OpCheck          // -C
	OpList           // -L
	OpListRules      // -S
	OpFlush          // -F
	OpZero           // -Z
	OpNewChain       // -N
	OpDeleteChain    // -X
	OpPolicy         // -P
	OpRenameChain    // -E
)

// Command is one parsed iptables invocation.
type Command struct {
	Table nf.TableID
	Op    Op
	Chain string
	// Num is a 1-based rule number (-I, -D N, -R, -L/-S CHAIN N); 0 if none.
	Num  int
	Rule *nf.Rule // -A, -I, -D (by spec), -R, -C
	// Arg is -P's policy or -E's new name.
	Arg string
	// Listing flags.
	Numeric, Verbose, Exact, LineNumbers bool
}

var commandFlags = map[string]Op{
	"-A": OpAppend, "--append": OpAppend, "-I": OpInsert, "--insert": OpInsert,
	"-D": OpDelete, "--delete": OpDelete, "-R": OpReplace, "--replace": OpReplace,
	"-C": OpCheck, "--check": OpCheck, "-L": OpList, "--list": OpList,
	"-S": OpListRules, "--list-rules": OpListRules, "-F": OpFlush, "--flush": OpFlush,
	"-Z": OpZero, "--zero": OpZero, "-N": OpNewChain, "--new-chain": OpNewChain, "--new": OpNewChain,
	"-X": OpDeleteChain, "--delete-chain": OpDeleteChain, "-P": OpPolicy, "--policy": OpPolicy,
	"-E": OpRenameChain, "--rename-chain": OpRenameChain,
}

func isNumber(s string) bool {
	_, err := strconv.Atoi(s)
	return err == nil
}

// ParseCommand parses the arguments of one iptables invocation (without
// the program name), e.g. {"-t", "mangle", "-A", "PREROUTING", "-i", "tun0",
// "-j", "MARK", "--set-mark", "1"}.
func ParseCommand(args []string) (*Command, error) {
	c := &Command{Table: nf.TableFilter}
	var rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if op, ok := commandFlags[a]; ok {
			if c.Op != OpNone {
				return nil, fmt.Errorf("iptables: only one command allowed, got %q after another", a)
			}
			c.Op = op
			n, err := c.commandArgs(args[i+1:])
			if err != nil {
				return nil, err
			}
			i += n
			continue
		}
		switch a {
		case "-t", "--table":
			if i+1 >= len(args) {
				return nil, errors.New("iptables: option \"-t\" requires an argument")
			}
			i++
			t, ok := nf.TableByName(args[i])
			if !ok {
				return nil, fmt.Errorf("iptables: can't initialize iptables table %q: Table does not exist", args[i])
			}
			c.Table = t
		case "-n", "--numeric":
			c.Numeric = true
		case "-v", "--verbose":
			c.Verbose = true
		case "-x", "--exact":
			c.Exact = true
		case "--line-numbers":
			c.LineNumbers = true
		case "-w", "--wait":
			if i+1 < len(args) && isNumber(args[i+1]) {
				i++
			}
		case "-nvx", "-vnx", "-nxv", "-xvn", "-vxn", "-xnv":
			c.Numeric, c.Verbose, c.Exact = true, true, true
		case "-nv", "-vn":
			c.Numeric, c.Verbose = true, true
		default:
			rest = append(rest, a)
		}
	}
	if c.Op == OpNone {
		return nil, errors.New("iptables: no command specified")
	}
	switch c.Op {
	case OpAppend, OpInsert, OpReplace, OpCheck, OpDelete:
		if c.Op == OpDelete && c.Num > 0 {
			break
		}
		r, err := ParseRule(rest)
		if err != nil {
			return nil, err
		}
		c.Rule = r
		return c, nil
	}
	if len(rest) > 0 {
		return nil, fmt.Errorf("iptables: bad argument %q", rest[0])
	}
	return c, nil
}

// commandArgs consumes the command's own arguments and returns how many.
func (c *Command) commandArgs(a []string) (int, error) {
	need := func(n int, what string) error {
		if len(a) < n || strings.HasPrefix(a[n-1], "-") && !isNumber(a[n-1]) {
			return fmt.Errorf("iptables: option requires %s", what)
		}
		return nil
	}
	optChain := func() int {
		if len(a) > 0 && !strings.HasPrefix(a[0], "-") {
			c.Chain = a[0]
			return 1
		}
		return 0
	}
	switch c.Op {
	case OpAppend, OpCheck:
		if err := need(1, "a chain name"); err != nil {
			return 0, err
		}
		c.Chain = a[0]
		return 1, nil
	case OpInsert:
		if err := need(1, "a chain name"); err != nil {
			return 0, err
		}
		c.Chain, c.Num = a[0], 1
		if len(a) > 1 && isNumber(a[1]) {
			c.Num, _ = strconv.Atoi(a[1])
			return 2, nil
		}
		return 1, nil
	case OpDelete:
		if err := need(1, "a chain name"); err != nil {
			return 0, err
		}
		c.Chain = a[0]
		if len(a) > 1 && isNumber(a[1]) {
			c.Num, _ = strconv.Atoi(a[1])
			return 2, nil
		}
		return 1, nil
	case OpReplace:
		if err := need(2, "a chain name and a rule number"); err != nil {
			return 0, err
		}
		n, err := strconv.Atoi(a[1])
		if err != nil {
			return 0, fmt.Errorf("iptables: invalid rule number %q", a[1])
		}
		c.Chain, c.Num = a[0], n
		return 2, nil
	case OpList, OpListRules:
		n := optChain()
		if n == 1 && len(a) > 1 && isNumber(a[1]) {
			c.Num, _ = strconv.Atoi(a[1])
			n++
		}
		return n, nil
	case OpFlush, OpZero, OpDeleteChain:
		return optChain(), nil
	case OpNewChain:
		if err := need(1, "a chain name"); err != nil {
			return 0, err
		}
		c.Chain = a[0]
		return 1, nil
	case OpPolicy, OpRenameChain:
		if err := need(2, "two arguments"); err != nil {
			return 0, err
		}
		c.Chain, c.Arg = a[0], a[1]
		return 2, nil
	}
	return 0, nil
}

// ruleParser holds the state of one rule's parse.
type ruleParser struct {
	r       *nf.Rule
	matches []loaded
	target  nf.Target
	tmod    *targetMod
	seen    map[string]bool
}

type loaded struct {
	mod *matchMod
	m   nf.Match
}

// ParseRule parses a rule specification: everything after "-A CHAIN".
func ParseRule(args []string) (*nf.Rule, error) {
	p := &ruleParser{r: &nf.Rule{}, seen: map[string]bool{}}
	inv := false
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "!" {
			if inv {
				return nil, errors.New("iptables: multiple \"!\" flags not allowed")
			}
			inv = true
			continue
		}
		val := func() (string, error) {
			if i+1 >= len(args) {
				return "", fmt.Errorf("iptables: option %q requires an argument", a)
			}
			i++
			return args[i], nil
		}
		n, err := p.option(a, inv, args[i+1:], val)
		if err != nil {
			return nil, err
		}
		i += n
		inv = false
	}
	if inv {
		return nil, errors.New("iptables: \"!\" not followed by an option")
	}
	return p.finish()
}

// option parses one option at a; it returns how many extra arguments it
// consumed beyond those val() took.
func (p *ruleParser) option(a string, inv bool, after []string, val func() (string, error)) (int, error) {
	r := p.r
	once := func(name string) error {
		if p.seen[name] {
			return fmt.Errorf("iptables: multiple %s flags not allowed", name)
		}
		p.seen[name] = true
		return nil
	}
	switch a {
	case "-s", "--source", "--src", "-d", "--destination", "--dst":
		dst := a == "-d" || a == "--destination" || a == "--dst"
		if err := once(map[bool]string{false: "-s", true: "-d"}[dst]); err != nil {
			return 0, err
		}
		v, err := val()
		if err != nil {
			return 0, err
		}
		pfx, err := parseAddr(v)
		if err != nil {
			return 0, fmt.Errorf("iptables: %w", err)
		}
		if dst {
			r.Dst, r.InvDst = pfx, inv
		} else {
			r.Src, r.InvSrc = pfx, inv
		}
	case "-i", "--in-interface", "-o", "--out-interface":
		out := a == "-o" || a == "--out-interface"
		if err := once(map[bool]string{false: "-i", true: "-o"}[out]); err != nil {
			return 0, err
		}
		v, err := val()
		if err != nil {
			return 0, err
		}
		if len(v) > 15 {
			return 0, fmt.Errorf("iptables: interface name %q must be shorter than 16 characters", v)
		}
		if out {
			r.OutIface, r.InvOut = v, inv
		} else {
			r.InIface, r.InvIn = v, inv
		}
	case "-p", "--protocol", "--proto":
		if err := once("-p"); err != nil {
			return 0, err
		}
		v, err := val()
		if err != nil {
			return 0, err
		}
		proto, err := protoByName(v)
		if err != nil {
			return 0, fmt.Errorf("iptables: %w", err)
		}
		if proto == 0 && inv {
			return 0, errors.New("iptables: rule would never match protocol")
		}
		r.Proto, r.InvProto = proto, inv
	case "-f", "--fragment":
		if err := once("-f"); err != nil {
			return 0, err
		}
		r.Frag, r.InvFrag = true, inv
	case "-m", "--match":
		v, err := val()
		if err != nil {
			return 0, err
		}
		if inv {
			return 0, errors.New("iptables: unexpected \"!\" before -m")
		}
		mod, ok := matchMods[v]
		if !ok {
			return 0, fmt.Errorf("iptables: couldn't load match %q: no such match%s", v, suggest(v, modNames()))
		}
		p.matches = append(p.matches, loaded{mod, mod.new()})
	case "-j", "--jump", "-g", "--goto":
		if err := once("-j"); err != nil {
			return 0, err
		}
		v, err := val()
		if err != nil {
			return 0, err
		}
		if inv {
			return 0, errors.New("iptables: cannot invert -j")
		}
		if a == "-g" || a == "--goto" {
			p.target = &nf.JumpTarget{Chain: v, Goto: true}
			return 0, nil
		}
		if mod, ok := targetMods[v]; ok {
			p.tmod, p.target = mod, mod.new()
		} else {
			p.target = &nf.JumpTarget{Chain: v}
		}
	case "-c", "--set-counters":
		if len(after) < 2 {
			return 0, errors.New("iptables: -c requires packet and byte counter")
		}
		pk, err1 := strconv.ParseUint(after[0], 10, 64)
		by, err2 := strconv.ParseUint(after[1], 10, 64)
		if err1 != nil || err2 != nil {
			return 0, fmt.Errorf("iptables: bad counters %q %q", after[0], after[1])
		}
		r.Counters = nf.Counters{Packets: pk, Bytes: by}
		return 2, nil
	default:
		return p.moduleOption(a, inv, after)
	}
	return 0, nil
}

func modNames() []string {
	var n []string
	for k := range matchMods {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

// moduleOption hands a --option to the target, a loaded match, or the
// protocol match iptables loads implicitly (-p tcp --dport 80).
func (p *ruleParser) moduleOption(a string, inv bool, after []string) (int, error) {
	if !strings.HasPrefix(a, "--") || len(a) < 3 {
		return 0, fmt.Errorf("iptables: bad argument %q", a)
	}
	name, inline, hasInline := strings.Cut(a[2:], "=")
	run := func(o *opt, into any) (int, error) {
		args := after
		consumed := o.nargs
		if hasInline {
			args = append([]string{inline}, after...)
			consumed--
		}
		if len(args) < o.nargs {
			return 0, fmt.Errorf("iptables: option \"--%s\" requires an argument", name)
		}
		if err := o.set(into, args[:o.nargs], inv); err != nil {
			return 0, fmt.Errorf("iptables: --%s: %w", name, err)
		}
		return max(consumed, 0), nil
	}
	if p.tmod != nil {
		if o := p.tmod.opt(name); o != nil {
			n, err := run(o, p.target)
			// Like iptables, a NAT port range is checked against the -p
			// given so far: "-j DNAT --to-destination A:80 -p tcp" fails.
			if err == nil && natPorts(p.target) && !portProto(p.r.Proto) {
				return 0, errors.New("iptables: need TCP, UDP, SCTP or DCCP with port specification")
			}
			return n, err
		}
	}
	for i := len(p.matches) - 1; i >= 0; i-- {
		if o := p.matches[i].mod.opt(name); o != nil {
			return run(o, p.matches[i].m)
		}
	}
	if mod := protoMod(p.r.Proto); mod != nil && !p.hasMatch(mod.name) {
		if o := mod.opt(name); o != nil {
			p.matches = append(p.matches, loaded{mod, mod.new()})
			return run(o, p.matches[len(p.matches)-1].m)
		}
	}
	return 0, fmt.Errorf("iptables: unknown option %q%s", a, suggest(a, p.knownOptions()))
}

func (p *ruleParser) hasMatch(name string) bool {
	for _, l := range p.matches {
		if l.mod.name == name {
			return true
		}
	}
	return false
}

func protoMod(proto uint8) *matchMod {
	switch proto {
	case 6:
		return &tcpMod
	case 17:
		return &udpMod
	case 1:
		return &icmpMod
	}
	return nil
}

// knownOptions lists the options that would have been valid here (for the
// "did you mean" hint), including those of unloaded protocol matches.
func (p *ruleParser) knownOptions() []string {
	var out []string
	add := func(os []opt) {
		for _, o := range os {
			out = append(out, "--"+o.name)
		}
	}
	if p.tmod != nil {
		add(p.tmod.opts)
	}
	for _, l := range p.matches {
		add(l.mod.opts)
	}
	add(tcpMod.opts)
	add(udpMod.opts)
	add(icmpMod.opts)
	return out
}

func (p *ruleParser) finish() (*nf.Rule, error) {
	r := p.r
	for _, l := range p.matches {
		if l.mod.final != nil {
			if err := l.mod.final(l.m); err != nil {
				return nil, fmt.Errorf("iptables: %w", err)
			}
		}
		if want := protoNeeded(l.mod.name); want != 0 && (r.Proto != want || r.InvProto) {
			return nil, fmt.Errorf("iptables: -m %s needs \"-p %s\"", l.mod.name, protoString(want))
		}
		if l.mod.name == "multiport" {
			switch r.Proto {
			case 6, 17, 33, 132, 136:
			default:
				return nil, errors.New("iptables: multiport needs \"-p tcp\", \"-p udp\", \"-p udplite\", \"-p sctp\" or \"-p dccp\"")
			}
		}
		r.Matches = append(r.Matches, l.m)
	}
	if p.tmod != nil && p.tmod.final != nil {
		if err := p.tmod.final(p.target); err != nil {
			return nil, fmt.Errorf("iptables: %w", err)
		}
	}
	if p.target != nil {
		r.Target = finishTarget(p.target)
		if natPorts(r.Target) && !portProto(r.Proto) {
			return nil, errors.New("iptables: need TCP, UDP, SCTP or DCCP with port specification")
		}
	}
	return r, nil
}

func portProto(p uint8) bool { return p == 6 || p == 17 || p == 33 || p == 132 }

// natPorts reports a NAT target with a port range, which only makes sense
// for protocols with ports.
func natPorts(t nf.Target) bool {
	switch t := t.(type) {
	case *nf.DNATTarget:
		return t.Range.HasPorts
	case *nf.SNATTarget:
		return t.Range.HasPorts
	case *nf.MasqueradeTarget:
		return t.HasPorts
	case *nf.RedirectTarget:
		return t.HasPorts
	}
	return false
}

func protoNeeded(mod string) uint8 {
	switch mod {
	case "tcp":
		return 6
	case "udp":
		return 17
	case "icmp":
		return 1
	}
	return 0
}

// SplitLine splits a command or iptables-restore line into words as
// iptables-restore does: whitespace separates, double or single quotes
// group (and are removed), and a backslash escapes the next character.
func SplitLine(line string) ([]string, error) {
	var out []string
	var cur strings.Builder
	inWord := false
	var quote byte
	for i := 0; i < len(line); i++ {
		ch := line[i]
		switch {
		case ch == '\\' && i+1 < len(line):
			i++
			cur.WriteByte(line[i])
			inWord = true
		case quote != 0:
			if ch == quote {
				quote = 0
			} else {
				cur.WriteByte(ch)
			}
		case ch == '"' || ch == '\'':
			quote = ch
			inWord = true
		case ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r':
			if inWord {
				out = append(out, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteByte(ch)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated quote %q", string(quote))
	}
	if inWord {
		out = append(out, cur.String())
	}
	return out, nil
}
