package netfilter

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"

	"tapestry/conntrack"
)

// MaxJumpDepth is how deep jumps may nest. The nf_tables backend that
// Debian's iptables uses rejects rulesets deeper than its jump stack
// (NFT_JUMP_STACK_SIZE 16, -EMLINK "Too many links"); loops are refused as
// iptables-restore refuses them (-ELOOP).
const MaxJumpDepth = 16

// ErrLoop and ErrTooDeep are returned by Compile for bad chain graphs.
var (
	ErrLoop    = errors.New("chain loop")
	ErrTooDeep = errors.New("too many levels of jumps")
)

// Ruleset is a compiled, immutable set of tables. Only its counters and
// limit buckets change. Swap rulesets with an atomic.Pointer.
type Ruleset struct {
	tables [NumTables]*ctable
	env    *Env
}

// ctable is one table laid out as the kernel's blob.
type ctable struct {
	id        TableID
	rules     []crule
	ctr       []counter
	chains    []cchain
	entry     [NumHooks]int32 // first rule of the hook's built-in chain, -1 none
	underflow [NumHooks]int32 // the policy entry
	model     *Table
}

type counter struct {
	pkts, bytes atomic.Uint64
	_           [48]byte // one cache line each: counters of neighbouring rules are hit by different cores
}

// cchain is a chain's span of the rule array: rules [start, end) and the
// underflow (policy or RETURN) entry at end.
type cchain struct {
	name       string
	start, end int32
	index      *chainIndex // nil: scan linearly
}

// crule is a compiled rule. The fields are the kernel's struct ipt_ip
// followed by the match and target data.
type crule struct {
	src, smsk, dst, dmsk uint32
	in, out              iface
	proto                uint8
	flags                uint16
	conds                []cond
	tgt                  ctarget
	chain                int32 // index into ctable.chains
	num                  int32 // 1-based position in the chain; policy: len+1
	model                *Rule
}

// crule.flags bits.
const (
	fInvSrc = 1 << iota
	fInvDst
	fInvIn
	fInvOut
	fInvProto
	fFrag
	fInvFrag
	fPolicy // underflow entry of a built-in chain
	fReturn // implicit RETURN closing a user chain
)

type iface struct {
	name   string
	prefix bool // "eth+": any name starting with "eth"
}

func parseIface(s string) iface {
	if n := len(s); n > 0 && s[n-1] == '+' {
		return iface{name: s[:n-1], prefix: true}
	}
	return iface{name: s}
}

func (i *iface) any() bool { return i.name == "" && !i.prefix || i.prefix && i.name == "" }

func (i *iface) match(s string) bool {
	if i.prefix {
		return len(s) >= len(i.name) && s[:len(i.name)] == i.name
	}
	return s == i.name
}

// Target kinds.
const (
	tNone = iota // no -j: count and continue
	tAccept
	tDrop
	tReturn
	tJump
	tGoto
	tReject
	tLog
	tMark
	tConnmark
	tTOS
	tDSCP
	tTTL
	tDNAT
	tSNAT
	tMasquerade
	tRedirect
	tNotrack
	tCTZone
	tTrace
)

type ctarget struct {
	kind    uint8
	mode    uint8
	v8, m8  uint8
	a, b, c uint32
	jump    int32 // chain index for tJump/tGoto
	nat     conntrack.NATRange
	log     *LogTarget
	reject  RejectWith
}

// Compile builds a ruleset from ts (nil tables are empty) for an
// environment. It checks what the kernel and iptables-restore check:
// jumps to existing user chains, no loops, no jump deeper than
// MaxJumpDepth, and targets only in tables and chains that allow them.
func Compile(ts Tables, env *Env) (*Ruleset, error) {
	if env == nil {
		env = &Env{}
	}
	rs := &Ruleset{env: env}
	for id := range ts {
		t := ts[id]
		if t == nil {
			t = NewTable(TableID(id))
		}
		ct, err := compileTable(t)
		if err != nil {
			return nil, fmt.Errorf("table %s: %w", TableID(id), err)
		}
		rs.tables[id] = ct
	}
	return rs, nil
}

func compileTable(t *Table) (*ctable, error) {
	ct := &ctable{id: t.ID, model: t}
	for h := range ct.entry {
		ct.entry[h], ct.underflow[h] = -1, -1
	}
	byName := map[string]int32{}
	for i, c := range t.Chains {
		if _, dup := byName[c.Name]; dup {
			return nil, fmt.Errorf("chain %q defined twice", c.Name)
		}
		byName[c.Name] = int32(i)
	}
	for _, h := range tableHooks[t.ID] {
		if _, ok := byName[h.String()]; !ok {
			return nil, fmt.Errorf("built-in chain %s missing", h)
		}
	}
	for ci, c := range t.Chains {
		start := int32(len(ct.rules))
		for i, r := range c.Rules {
			cr, err := compileRule(t.ID, c, r, byName)
			if err != nil {
				return nil, fmt.Errorf("chain %s rule %d: %w", c.Name, i+1, err)
			}
			cr.chain, cr.num = int32(ci), int32(i+1)
			ct.rules = append(ct.rules, cr)
		}
		end := int32(len(ct.rules))
		u := crule{chain: int32(ci), num: int32(len(c.Rules) + 1)}
		if c.Builtin {
			h, _ := HookByName(c.Name)
			u.flags = fPolicy
			u.tgt.kind = tAccept
			if c.Policy == PolicyDrop {
				u.tgt.kind = tDrop
			}
			ct.entry[h], ct.underflow[h] = start, end
		} else {
			u.flags = fReturn
			u.tgt.kind = tReturn
		}
		ct.rules = append(ct.rules, u)
		ct.chains = append(ct.chains, cchain{name: c.Name, start: start, end: end})
	}
	ct.ctr = make([]counter, len(ct.rules))
	for i := range ct.rules {
		var c Counters
		if m := ct.rules[i].model; m != nil {
			c = m.Counters
		} else {
			c = t.Chains[ct.rules[i].chain].Counters
		}
		ct.ctr[i].pkts.Store(c.Packets)
		ct.ctr[i].bytes.Store(c.Bytes)
	}
	if err := ct.checkGraph(); err != nil {
		return nil, err
	}
	if err := ct.checkHooks(); err != nil {
		return nil, err
	}
	for i := range ct.chains {
		ct.chains[i].index = buildIndex(ct, &ct.chains[i])
	}
	return ct, nil
}

// checkGraph refuses loops and over-deep jump chains (mark_source_chains
// in x_tables, nft_chain_validate in nf_tables).
func (ct *ctable) checkGraph() error {
	depth := make([]int, len(ct.chains)) // 0 unknown, -1 in progress, else 1+max callee depth
	var visit func(c int32) (int, error)
	visit = func(c int32) (int, error) {
		switch depth[c] {
		case -1:
			return 0, fmt.Errorf("%w through chain %q", ErrLoop, ct.chains[c].name)
		case 0:
		default:
			return depth[c], nil
		}
		depth[c] = -1
		d := 1
		ch := ct.chains[c]
		for i := ch.start; i < ch.end; i++ {
			tg := ct.rules[i].tgt
			if tg.kind != tJump && tg.kind != tGoto {
				continue
			}
			sub, err := visit(tg.jump)
			if err != nil {
				return 0, err
			}
			d = max(d, sub+1)
		}
		depth[c] = d
		return d, nil
	}
	for i := range ct.chains {
		d, err := visit(int32(i))
		if err != nil {
			return err
		}
		if d > MaxJumpDepth+1 {
			return fmt.Errorf("%w below chain %q (%d > %d)", ErrTooDeep, ct.chains[i].name, d-1, MaxJumpDepth)
		}
	}
	return nil
}

func prefixBits(p netip.Prefix) (addr, mask uint32) {
	if !p.IsValid() || p.Bits() == 0 {
		return 0, 0
	}
	a := p.Masked().Addr().As4()
	return binary.BigEndian.Uint32(a[:]), ^uint32(0) << (32 - p.Bits())
}

func compileRule(tid TableID, c *Chain, r *Rule, chains map[string]int32) (crule, error) {
	cr := crule{model: r, proto: r.Proto}
	cr.src, cr.smsk = prefixBits(r.Src)
	cr.dst, cr.dmsk = prefixBits(r.Dst)
	cr.in, cr.out = parseIface(r.InIface), parseIface(r.OutIface)
	set := func(b bool, f uint16) {
		if b {
			cr.flags |= f
		}
	}
	set(r.InvSrc, fInvSrc)
	set(r.InvDst, fInvDst)
	set(r.InvIn, fInvIn)
	set(r.InvOut, fInvOut)
	set(r.InvProto, fInvProto)
	set(r.Frag, fFrag)
	set(r.InvFrag, fInvFrag)
	for _, m := range r.Matches {
		conds, err := compileMatch(m, r)
		if err != nil {
			return cr, fmt.Errorf("-m %s: %w", m.Name(), err)
		}
		cr.conds = append(cr.conds, conds...)
	}
	tg, err := compileTarget(tid, c, r.Target, chains)
	if err != nil {
		return cr, err
	}
	cr.tgt = tg
	return cr, nil
}

// limitBucket is xt_limit's token bucket in clock nanoseconds.
type limitBucket struct {
	mu     sync.Mutex
	prev   int64 // last refill time
	credit int64 // in ns of "time owed"
	cost   int64 // ns per packet
	cap    int64 // burst*cost
	primed bool
}

func (b *limitBucket) take(now int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.primed {
		b.primed, b.prev, b.credit = true, now, b.cap
	}
	if now > b.prev {
		b.credit = min(b.cap, b.credit+now-b.prev)
		b.prev = now
	}
	if b.credit >= b.cost {
		b.credit -= b.cost
		return true
	}
	return false
}

// Export returns a copy of the ruleset's tables with the current counters
// (what iptables-save -c prints, and the base for the next change).
func (rs *Ruleset) Export() Tables {
	var ts Tables
	for id, ct := range rs.tables {
		t := ct.model.Clone()
		for i := range ct.rules {
			r := &ct.rules[i]
			c := Counters{Packets: ct.ctr[i].pkts.Load(), Bytes: ct.ctr[i].bytes.Load()}
			ch := t.Chains[r.chain]
			switch {
			case r.flags&fPolicy != 0:
				ch.Counters = c
			case r.flags&fReturn != 0:
			default:
				ch.Rules[r.num-1].Counters = c
			}
		}
		ts[id] = t
	}
	return ts
}

// Env returns the environment the ruleset was compiled for.
func (rs *Ruleset) Env() *Env { return rs.env }
