package route

import (
	"cmp"
	"maps"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
)

// LoopbackIndex is the ifindex of lo, which Linux always gives index 1 in
// every namespace. Locally generated traffic carries it as its input
// interface (flowi4_iif = LOOPBACK_IFINDEX), so `iif lo` rules match it.
const LoopbackIndex = 1

// Link is an interface as routing sees it.
type Link struct {
	Index int
	Name  string
	// Loopback marks lo: its prefix routes are local, not unicast.
	Loopback bool
	// Addrs are the IPv4 addresses in the kernel's list order (primaries
	// before secondaries).
	Addrs []Addr
}

// Addr is one IPv4 address on a link.
type Addr struct {
	// Prefix is the local address with its prefix length (10.0.0.1/24).
	Prefix    netip.Prefix
	Scope     Scope
	Secondary bool
}

// snapshot is an immutable view of the whole RPDB; readers load it once
// per lookup and never lock.
type snapshot struct {
	rules  []compiledRule
	tables map[TableID]*table
	links  []Link // by index order
	byName map[string]int
	local  *table
	// custom is fib_has_custom_rules: while false the kernel keeps the
	// local table merged into main (fib_unmerge), so results from local
	// routes report table main.
	custom bool
	// fast is the precompiled lookup of the default rules (fast.go).
	fast fastPath
}

func (s *snapshot) link(index int) *Link {
	i, ok := slices.BinarySearchFunc(s.links, index, func(l Link, idx int) int { return cmp.Compare(l.Index, idx) })
	if !ok {
		return nil
	}
	return &s.links[i]
}

func (s *snapshot) linkName(index int) string {
	if l := s.link(index); l != nil {
		return l.Name
	}
	return ""
}

// RPDB is the routing policy database of one network namespace: rules,
// tables and the interfaces routing needs to know. Lookups are lock-free
// and allocation-free; changes are serialised and published atomically.
type RPDB struct {
	mu  sync.Mutex // serialises writers; readers use cur only
	cur atomic.Pointer[snapshot]
}

// New returns an RPDB as a fresh Linux network namespace has it: the rules
// 0 "from all lookup local", 32766 "from all lookup main" and 32767 "from
// all lookup default", empty local and main tables, and no interfaces
// (add lo with AddLink and AddAddr to get its routes).
func New() *RPDB {
	db := &RPDB{}
	rules := []Rule{NewRule(), NewRule(), NewRule()}
	for i, p := range []struct {
		pref uint32
		tbl  TableID
	}{{0, TableLocal}, {32766, TableMain}, {32767, TableDefault}} {
		rules[i].Priority, rules[i].PrioritySet, rules[i].Table = p.pref, true, p.tbl
	}
	tables := map[TableID]*table{TableLocal: newTable(TableLocal), TableMain: newTable(TableMain)}
	db.cur.Store(build(rules, tables, nil))
	return db
}

// build compiles rules against tables and links into a snapshot.
func build(rules []Rule, tables map[TableID]*table, links []Link) *snapshot {
	s := &snapshot{tables: tables, links: links, byName: make(map[string]int, len(links)), local: tables[TableLocal]}
	for _, l := range links {
		s.byName[l.Name] = l.Index
	}
	s.rules = make([]compiledRule, len(rules))
	for i, r := range rules {
		c := compiledRule{Rule: r, iif: s.resolve(r.IIF), oif: s.resolve(r.OIF), tbl: tables[r.Table], target: -1}
		if r.Action == ActionGoto {
			for j := i + 1; j < len(rules); j++ {
				if rules[j].Priority == r.Goto {
					c.target = j
					break
				}
			}
		}
		s.rules[i] = c
	}
	s.custom = s.customRules()
	for i := range s.rules {
		s.rules[i].merged = !s.custom
	}
	s.compileFast()
	return s
}

// resolve maps an interface name to its index: 0 for "", -1 when the
// device does not exist (the kernel keeps such rules "[detached]").
func (s *snapshot) resolve(name string) int {
	if name == "" {
		return 0
	}
	if idx, ok := s.byName[name]; ok {
		return idx
	}
	return -1
}

// Tx is one batch of changes. It sees its own changes; nothing is visible
// to readers until Update returns successfully.
type Tx struct {
	rules   []Rule
	tables  map[TableID]*table
	private map[*table]bool // tables created by this Tx, safe to mutate
	links   []Link
	byName  map[string]int
	snap    *snapshot // the state the Tx started from
	created []TableID // tables this Tx created
	writes  map[TableID]int
	// changed lists the prefixes whose leaf changed, per table, for the
	// fib update at commit (compileFibs).
	changed map[TableID][]netip.Prefix
}

// Update runs fn as one transaction and publishes the result atomically
// if fn returns nil.
func (db *RPDB) Update(fn func(tx *Tx) error) error {
	db.mu.Lock()
	defer db.mu.Unlock()
	old := db.cur.Load()
	tx := &Tx{
		rules:   slices.Clone(ruleList(old.rules)),
		tables:  make(map[TableID]*table, len(old.tables)),
		private: map[*table]bool{},
		writes:  map[TableID]int{},
		changed: map[TableID][]netip.Prefix{},
		links:   old.links,
		snap:    old,
	}
	for id, t := range old.tables {
		tx.tables[id] = t
	}
	tx.byName = old.byName
	if err := fn(tx); err != nil {
		// Like the kernel, a failed route add keeps the (empty) table
		// it created; nothing else of the transaction survives.
		if len(tx.created) > 0 {
			tables := maps.Clone(old.tables)
			for _, id := range tx.created {
				tables[id] = newTable(id)
			}
			db.cur.Store(build(ruleList(old.rules), tables, old.links))
		}
		return err
	}
	tx.compileFibs()
	db.cur.Store(build(tx.rules, tx.tables, tx.links))
	return nil
}

// compileFibs gives every table the transaction changed a fib (when it
// has fibMinPrefixes prefixes or more): the previous fib updated
// copy-on-write for the changed prefixes when there are few, else one
// built from the trie. During the transaction those tables answer lookups
// from the trie. Tables the transaction did not change are published
// already and keep theirs.
func (tx *Tx) compileFibs() {
	for id, t := range tx.tables {
		old := tx.snap.tables[id]
		if t == old {
			continue
		}
		ch := tx.changed[id]
		switch {
		case t.trie.Size4() < fibMinPrefixes:
			t.fib = nil
		case old != nil && old.fib != nil && len(ch) <= fibIncremental:
			t.fib = old.fib.update(t.trie, ch)
		default:
			t.fib = buildFib(t.trie)
		}
	}
}

// touch records that pfx's leaf in table id changed.
func (tx *Tx) touch(id TableID, pfx netip.Prefix) {
	if len(tx.changed[id]) <= fibIncremental {
		tx.changed[id] = append(tx.changed[id], pfx)
	}
}

func ruleList(cs []compiledRule) []Rule {
	rs := make([]Rule, len(cs))
	for i := range cs {
		rs[i] = cs[i].Rule
	}
	return rs
}

// view returns a snapshot of the transaction's current state, for the
// validation lookups route changes need (gateway, prefsrc).
func (tx *Tx) view() *snapshot {
	return build(tx.rules, tx.tables, tx.links)
}

// AddLink adds or replaces an interface (without addresses' routes; use
// AddAddr for those).
func (tx *Tx) AddLink(l Link) {
	links := slices.Clone(tx.links)
	i, found := slices.BinarySearchFunc(links, l.Index, func(x Link, idx int) int { return cmp.Compare(x.Index, idx) })
	if found {
		links[i] = l
	} else {
		links = slices.Insert(links, i, l)
	}
	tx.links = links
	tx.byName = make(map[string]int, len(links))
	for _, x := range links {
		tx.byName[x.Name] = x.Index
	}
}

func (tx *Tx) linkByIndex(index int) (Link, bool) {
	i, found := slices.BinarySearchFunc(tx.links, index, func(x Link, idx int) int { return cmp.Compare(x.Index, idx) })
	if !found {
		return Link{}, false
	}
	return tx.links[i], true
}

// LinkIndex returns the index of the named interface.
func (tx *Tx) LinkIndex(name string) (int, bool) {
	i, ok := tx.byName[name]
	return i, ok
}

// AddAddr adds an IPv4 address to a link and the routes the kernel adds
// for it (fib_add_ifaddr): "local ADDR" in table local with src set to the
// subnet's primary address; for a primary address also the prefix route
// in main (proto kernel scope link src ADDR; type local on loopback) and,
// below /31, the subnet broadcast route in table local.
func (tx *Tx) AddAddr(index int, pfx netip.Prefix, scope Scope) error {
	l, ok := tx.linkByIndex(index)
	if !ok {
		return ErrNoDevice
	}
	a := Addr{Prefix: pfx, Scope: scope}
	prim := pfx.Addr()
	for _, o := range l.Addrs {
		if o.Prefix.Bits() == pfx.Bits() && o.Prefix.Masked() == pfx.Masked() {
			if o.Prefix.Addr() == pfx.Addr() {
				return ErrExist
			}
			if !o.Secondary {
				a.Secondary, prim = true, o.Prefix.Addr()
			}
		}
	}
	if a.Secondary {
		l.Addrs = append(slices.Clone(l.Addrs), a)
	} else {
		n := 0
		for n < len(l.Addrs) && !l.Addrs[n].Secondary {
			n++
		}
		l.Addrs = slices.Insert(slices.Clone(l.Addrs), n, a)
	}
	tx.AddLink(l)
	kr := Route{Table: TableLocal, Type: TypeLocal, Dev: l.Name, DevIndex: index, PrefSrc: prim, Protocol: ProtoKernel, Scope: ScopeHost}
	kr.Dst = netip.PrefixFrom(pfx.Addr(), 32)
	if err := tx.insert(kr, opAppend); err != nil {
		return err
	}
	if a.Secondary || pfx.Masked().Addr() == pfx.Addr() && pfx.Bits() == 32 {
		return nil
	}
	pr := Route{Table: TableMain, Dst: pfx.Masked(), Type: TypeUnicast, Dev: l.Name, DevIndex: index, PrefSrc: prim, Protocol: ProtoKernel, Scope: ScopeLink}
	if l.Loopback {
		pr.Table, pr.Type, pr.Scope = TableLocal, TypeLocal, ScopeHost
	}
	if err := tx.insert(pr, opAppend); err != nil {
		return err
	}
	if pfx.Bits() < 31 {
		br := Route{Table: TableLocal, Dst: netip.PrefixFrom(lastAddr(pfx), 32), Type: TypeBroadcast, Dev: l.Name, DevIndex: index, PrefSrc: prim, Protocol: ProtoKernel, Scope: ScopeLink}
		return tx.insert(br, opAppend)
	}
	return nil
}

// lastAddr is the broadcast address of an IPv4 prefix.
func lastAddr(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3]) | host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// tableFor returns the table with id, creating it (privately) if needed.
func (tx *Tx) tableFor(id TableID) *table {
	if t, ok := tx.tables[id]; ok {
		return t
	}
	t := newTable(id)
	tx.tables[id] = t
	tx.private[t] = true
	tx.created = append(tx.created, id)
	return t
}

// bulkWrites is the number of copy-on-write changes to one published
// table after which a transaction clones the table once and then changes
// its private copy in place: bulk loads cost O(n), not O(n) garbage tries.
const bulkWrites = 64

// writable returns the table with id for a change, cloning it into a
// private copy once a transaction has changed it often enough.
func (tx *Tx) writable(id TableID) *table {
	t := tx.tableFor(id)
	if tx.private[t] {
		return t
	}
	tx.writes[id]++
	if tx.writes[id] < bulkWrites {
		return t
	}
	c := &table{id: t.id, n: t.n, trie: t.trie.Clone(), octets: t.octets, wide: t.wide}
	tx.tables[id] = c
	tx.private[c] = true
	return c
}

// insert places an already validated route.
func (tx *Tx) insert(r Route, op insertOp) error {
	t := tx.writable(r.Table)
	old := t.get(r.Dst)
	nl, err := old.insert(r, op)
	if err != nil {
		return err
	}
	if nl == old {
		return nil
	}
	delta := 1
	if old != nil && len(nl.routes) == len(old.routes) {
		delta = 0
	}
	tx.tables[r.Table] = t.with(r.Dst, nl, delta, tx.private[t])
	tx.private[tx.tables[r.Table]] = tx.private[t]
	tx.touch(r.Table, r.Dst)
	return nil
}

// errno shortcut for extack errors of route validation.
func invalid(msg string) error { return extack(syscall.EINVAL, msg) }
