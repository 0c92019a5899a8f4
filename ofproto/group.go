package ofproto

// The group table (OpenFlow 1.3 §5.6): groups are immutable values in a
// copy-on-write table swapped atomically, as flow tables are, so translation
// reads them without a lock. Their counters live in groupCtr values shared by
// every version of a group (a modify keeps them) and are credited from the
// megaflow entries by syncStats, as flow counters are.

import (
	"errors"
	"fmt"
	"slices"
	"sync/atomic"

	"tapestry/classifier"
	"tapestry/flow"
	"tapestry/openflow"
)

// Errors GroupMod wraps (OpenFlow 1.3 §7.4.4, OFPET_GROUP_MOD_FAILED /
// OFPET_BAD_ACTION).
var (
	ErrGroupExists  = errors.New("group already exists")         // OFPGMFC_GROUP_EXISTS
	ErrInvalidGroup = errors.New("invalid group id")             // OFPGMFC_INVALID_GROUP (reserved ids > OFPG_MAX)
	ErrUnknownGroup = errors.New("unknown group")                // OFPGMFC_UNKNOWN_GROUP
	ErrBadGroupType = errors.New("bad group type")               // OFPGMFC_BAD_TYPE
	ErrBadBucket    = errors.New("bad bucket")                   // OFPGMFC_BAD_BUCKET
	ErrBadWatch     = errors.New("bad watch port or group")      // OFPGMFC_BAD_WATCH
	ErrGroupLoop    = errors.New("group chain loops")            // OFPGMFC_LOOP
	ErrBadOutGroup  = errors.New("action names a missing group") // OFPBAC_BAD_OUT_GROUP (a flow mod's group action)
)

// RemovedGroupDelete is the flow-removed reason of a flow deleted because
// a group its actions use was deleted (OpenFlow 1.3 OFPRR_GROUP_DELETE).
const RemovedGroupDelete uint8 = 3

// groupMax is OFPG_MAX, the highest group number a group may have.
const groupMax uint32 = 0xffffff00

// groupCtr counts the packets and bytes of a group or of one bucket.
type groupCtr struct {
	packets atomic.Uint64
	bytes   atomic.Uint64
}

func (c *groupCtr) credit(n, bytes uint64) {
	c.packets.Add(n)
	c.bytes.Add(bytes)
}

// group is one group as installed: immutable but for its counters.
type group struct {
	id      uint32
	typ     uint8
	created int64
	buckets []bucket
	ctr     *groupCtr
}

type bucket struct {
	openflow.Bucket
	ctr *groupCtr
}

// groupTable is an immutable snapshot of every group.
type groupTable struct {
	byID map[uint32]*group
	ids  []uint32 // sorted
}

var emptyGroups = &groupTable{byID: map[uint32]*group{}}

// get returns group id, or nil. Safe on a nil table.
func (t *groupTable) get(id uint32) *group {
	if t == nil {
		return nil
	}
	return t.byID[id]
}

// with returns a copy of t without the groups del names and with the
// groups put holds (replacing any of the same id).
func (t *groupTable) with(put []*group, del []uint32) *groupTable {
	n := &groupTable{byID: make(map[uint32]*group, len(t.byID)+len(put))}
	for id, g := range t.byID {
		n.byID[id] = g
	}
	for _, id := range del {
		delete(n.byID, id)
	}
	for _, g := range put {
		n.byID[g.id] = g
	}
	n.ids = make([]uint32, 0, len(n.byID))
	for id := range n.byID {
		n.ids = append(n.ids, id)
	}
	slices.Sort(n.ids)
	return n
}

// groupTable returns the current group table.
func (b *Bridge) groupTable() *groupTable {
	if t := b.groups.Load(); t != nil {
		return t
	}
	return emptyGroups
}

// GroupMod applies one group mod: add, modify (replace type and buckets;
// counters kept), delete (GroupAll deletes every group). As Open vSwitch
// does, deleting a group deletes the flows whose actions use it; they come
// back in FlowChanges.Removed so the caller can persist the removal. Errors
// wrap the values above.
//
// A bucket may chain to another group (group:N), which must exist, as long
// as no loop forms. Deleting a group that another group's bucket chains to
// is allowed: the dangling group action then drops, as a missing group does.
func (b *Bridge) GroupMod(gm openflow.GroupMod) (FlowChanges, error) {
	b.mu.Lock()
	b.syncStats()
	now := b.now().UnixNano()
	var (
		removed []openflow.FlowStats
		err     error
	)
	switch gm.Command {
	case openflow.GroupAdd, openflow.GroupModify:
		err = b.putGroup(&gm, now)
	case openflow.GroupDelete:
		removed, err = b.deleteGroups(gm.ID, now)
	default:
		err = fmt.Errorf("%w %d", ErrBadCommand, gm.Command)
	}
	b.mu.Unlock()
	if err != nil {
		return FlowChanges{}, fmt.Errorf("ofproto: group mod (group_id=%d): %w", gm.ID, err)
	}
	b.notifyRemoved(removed, RemovedGroupDelete)
	return FlowChanges{Removed: removed}, nil
}

// putGroup adds or modifies a group. Called with b.mu held.
func (b *Bridge) putGroup(gm *openflow.GroupMod, now int64) error {
	if gm.ID > groupMax {
		return fmt.Errorf("%w %#x", ErrInvalidGroup, gm.ID)
	}
	t := b.groupTable()
	old := t.get(gm.ID)
	switch {
	case gm.Command == openflow.GroupAdd && old != nil:
		return ErrGroupExists
	case gm.Command == openflow.GroupModify && old == nil:
		return ErrUnknownGroup
	}
	if err := validateGroup(&gm.Group, t); err != nil {
		return err
	}
	g := &group{id: gm.ID, typ: gm.GroupType, created: now, ctr: new(groupCtr),
		buckets: make([]bucket, len(gm.Buckets))}
	if old != nil {
		// A modify keeps the group's counters and, bucket by bucket,
		// the counters of the buckets that remain (OVS keeps a
		// modified group's statistics).
		g.created, g.ctr = old.created, old.ctr
	}
	for i := range gm.Buckets {
		g.buckets[i] = bucket{Bucket: cloneBucket(&gm.Buckets[i]), ctr: new(groupCtr)}
		if old != nil && i < len(old.buckets) {
			g.buckets[i].ctr = old.buckets[i].ctr
		}
	}
	nt := t.with([]*group{g}, nil)
	if loopsFrom(nt, g.id) {
		return fmt.Errorf("%w through group %d", ErrGroupLoop, g.id)
	}
	b.groups.Store(nt)
	b.bump()
	return nil
}

// deleteGroups deletes group id (GroupAll: every group) and the flows that
// use it. Deleting a group that does not exist is no error (OpenFlow 1.3
// §6.5). Called with b.mu held.
func (b *Bridge) deleteGroups(id uint32, now int64) ([]openflow.FlowStats, error) {
	t := b.groupTable()
	var del []uint32
	switch {
	case id == openflow.GroupAll:
		del = slices.Clone(t.ids)
	case id > groupMax:
		return nil, fmt.Errorf("%w %#x", ErrInvalidGroup, id)
	case t.get(id) != nil:
		del = []uint32{id}
	}
	if len(del) == 0 {
		return nil, nil
	}
	var removed []openflow.FlowStats
	for _, gid := range del {
		fm := openflow.FlowMod{Table: openflow.TableAll, OutPort: openflow.PortAny, OutGroup: gid}
		for _, f := range b.selectFlows(&fm, false, true) {
			removed = append(removed, f.stats(now))
			b.unlink(f)
		}
	}
	b.groups.Store(t.with(nil, del))
	b.bump()
	return removed, nil
}

// validateGroup checks a group's type and buckets against the table it
// joins (OpenFlow 1.3 §5.6.1, §7.3.4.2).
func validateGroup(g *openflow.Group, t *groupTable) error {
	if g.GroupType > openflow.GroupTypeFastFailover {
		return fmt.Errorf("%w %d", ErrBadGroupType, g.GroupType)
	}
	if g.GroupType == openflow.GroupTypeIndirect && len(g.Buckets) != 1 {
		return fmt.Errorf("%w: an indirect group has exactly one bucket, not %d", ErrBadBucket, len(g.Buckets))
	}
	for i := range g.Buckets {
		bk := &g.Buckets[i]
		if err := validateWatch(g, bk, t); err != nil {
			return fmt.Errorf("bucket %d: %w", i, err)
		}
		if err := validateActions(bk.Actions, true); err != nil {
			return fmt.Errorf("bucket %d: %w", i, err)
		}
		if err := checkGroups(bk.Actions, t, g.ID); err != nil {
			return fmt.Errorf("bucket %d: %w", i, err)
		}
	}
	return nil
}

// validateWatch checks watch_port and watch_group. Fast failover needs one
// of them per bucket; select honours them for liveness (OVS's
// select_liveness); all and indirect groups ignore them.
func validateWatch(g *openflow.Group, bk *openflow.Bucket, t *groupTable) error {
	switch g.GroupType {
	case openflow.GroupTypeAll, openflow.GroupTypeIndirect:
		return nil
	case openflow.GroupTypeFastFailover:
		if bk.WatchPort == openflow.PortAny && bk.WatchGroup == openflow.GroupAny {
			return fmt.Errorf("%w: a fast_failover bucket needs watch_port or watch_group", ErrBadWatch)
		}
	}
	if p := bk.WatchPort; p != openflow.PortAny && (p == 0 || p >= openflow.PortMax && p != openflow.PortLocal) {
		return fmt.Errorf("%w: watch_port %#x", ErrBadWatch, p)
	}
	if w := bk.WatchGroup; w != openflow.GroupAny && w != g.ID && t.get(w) == nil {
		return fmt.Errorf("%w: watch_group %d does not exist", ErrBadWatch, w)
	}
	return nil
}

// checkGroups reports a group action in acts (write_actions and clone
// included, as Open vSwitch checks a flow's actions flattened: a flow
// "actions=clone(group:5)" without group 5 fails with OFPBAC_BAD_OUT_GROUP)
// that names a group missing from t; self, the group being defined, counts
// as present (the loop check catches it).
func checkGroups(acts []openflow.Action, t *groupTable, self uint32) error {
	for i := range acts {
		a := &acts[i]
		switch a.Type {
		case openflow.ActGroup:
			if t.get(a.Group) == nil && (a.Group != self || self > groupMax) {
				return fmt.Errorf("%w: group:%d", ErrBadOutGroup, a.Group)
			}
		case openflow.ActWriteActions, openflow.ActClone:
			if err := checkGroups(a.Nested, t, self); err != nil {
				return err
			}
		}
	}
	return nil
}

// loopsFrom reports whether following group actions and watch groups from
// group id can come back to a group already on the path.
func loopsFrom(t *groupTable, id uint32) bool {
	const (
		onPath = 1
		done   = 2
	)
	state := map[uint32]uint8{}
	var visit func(id uint32) bool
	visit = func(id uint32) bool {
		switch state[id] {
		case onPath:
			return true
		case done:
			return false
		}
		g := t.get(id)
		if g == nil {
			return false
		}
		state[id] = onPath
		for i := range g.buckets {
			bk := &g.buckets[i]
			if bk.WatchGroup != openflow.GroupAny && g.typ != openflow.GroupTypeAll &&
				g.typ != openflow.GroupTypeIndirect && visit(bk.WatchGroup) {
				return true
			}
			if anyGroup(bk.Actions, visit) {
				return true
			}
		}
		state[id] = done
		return false
	}
	return visit(id)
}

// anyGroup reports whether fn returns true for a group that acts (clone
// and write_actions included) sends to: a loop through a clone is a loop.
func anyGroup(acts []openflow.Action, fn func(id uint32) bool) bool {
	for i := range acts {
		switch a := &acts[i]; a.Type {
		case openflow.ActGroup:
			if fn(a.Group) {
				return true
			}
		case openflow.ActWriteActions, openflow.ActClone:
			if anyGroup(a.Nested, fn) {
				return true
			}
		}
	}
	return false
}

func cloneBucket(bk *openflow.Bucket) openflow.Bucket {
	c := *bk
	c.Actions = cloneActions(bk.Actions)
	return c
}

// cloneActions deep-copies an action list (notes and nested lists too).
func cloneActions(acts []openflow.Action) []openflow.Action {
	if acts == nil {
		return nil
	}
	out := slices.Clone(acts)
	for i := range out {
		out[i].Note = slices.Clone(out[i].Note)
		out[i].Nested = cloneActions(out[i].Nested)
	}
	return out
}

// Groups returns every group, sorted by id, as deep copies.
func (b *Bridge) Groups() []openflow.Group {
	t := b.groupTable()
	out := make([]openflow.Group, 0, len(t.ids))
	for _, id := range t.ids {
		g := t.byID[id]
		og := openflow.Group{GroupType: g.typ, ID: g.id, Buckets: make([]openflow.Bucket, len(g.buckets))}
		for i := range g.buckets {
			og.Buckets[i] = cloneBucket(&g.buckets[i].Bucket)
		}
		out = append(out, og)
	}
	return out
}

// GroupStats returns the counters of every group (or of one, id !=
// openflow.GroupAll), sorted by id. RefCount is the number of flows and
// groups whose actions name the group (OpenFlow 1.3 §7.3.5.9).
func (b *Bridge) GroupStats(id uint32) []openflow.GroupStats {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.syncStats()
	t := b.groupTable()
	now := b.now().UnixNano()
	refs := b.groupRefs(t)
	var out []openflow.GroupStats
	for _, gid := range t.ids {
		if id != openflow.GroupAll && gid != id {
			continue
		}
		g := t.byID[gid]
		d := now - g.created
		gs := openflow.GroupStats{
			ID: gid, RefCount: refs[gid],
			Packets: g.ctr.packets.Load(), Bytes: g.ctr.bytes.Load(),
			Duration: uint64(d/1e9)<<32 | uint64(d%1e9),
			Buckets:  make([][2]uint64, len(g.buckets)),
		}
		for i := range g.buckets {
			gs.Buckets[i] = [2]uint64{g.buckets[i].ctr.packets.Load(), g.buckets[i].ctr.bytes.Load()}
		}
		out = append(out, gs)
	}
	return out
}

// groupRefs counts, per group, the flows and groups that name it. Called
// with b.mu held.
func (b *Bridge) groupRefs(t *groupTable) map[uint32]uint32 {
	refs := map[uint32]uint32{}
	if len(t.ids) == 0 {
		return refs
	}
	count := func(acts []openflow.Action) {
		seen := map[uint32]bool{}
		countGroupRefs(acts, seen)
		for id := range seen {
			refs[id]++
		}
	}
	var all flow.Match
	b.forEachTable(openflow.TableAll, func(_ *table, c *classifier.Classifier[*Flow]) bool {
		c.ForEachLoose(&all, func(r *classifier.Rule[*Flow]) bool {
			count(r.Value.actions())
			return true
		})
		return true
	})
	for _, g := range t.byID {
		for i := range g.buckets {
			count(g.buckets[i].Actions)
		}
	}
	return refs
}

func countGroupRefs(acts []openflow.Action, seen map[uint32]bool) {
	for i := range acts {
		switch acts[i].Type {
		case openflow.ActGroup:
			seen[acts[i].Group] = true
		case openflow.ActWriteActions, openflow.ActClone:
			// Open vSwitch counts a flow whose clone names the group.
			countGroupRefs(acts[i].Nested, seen)
		}
	}
}

// OpenFlow 1.3 group capabilities (OFPGFC_*) and action bits (1 << OFPAT_*).
const (
	groupCapSelectWeight   = 1 << 0
	groupCapSelectLiveness = 1 << 1
	groupCapChaining       = 1 << 2

	groupActions = 1<<0 | // OUTPUT
		1<<17 | 1<<18 | // PUSH_VLAN, POP_VLAN
		1<<21 | 1<<22 | // SET_QUEUE, GROUP
		1<<23 | 1<<24 | // SET_NW_TTL, DEC_NW_TTL
		1<<25 // SET_FIELD
)

// GroupFeatures is what the bridge supports (all four types, max groups,
// actions). As Open vSwitch, it reports OFPG_MAX groups of every type and
// the select-weight, select-liveness and chaining capabilities; the actions
// are those tapestry executes (no MPLS, no TTL copies).
func (b *Bridge) GroupFeatures() openflow.GroupFeatures {
	f := openflow.GroupFeatures{
		Types:        1<<openflow.GroupTypeAll | 1<<openflow.GroupTypeSelect | 1<<openflow.GroupTypeIndirect | 1<<openflow.GroupTypeFastFailover,
		Capabilities: groupCapSelectWeight | groupCapSelectLiveness | groupCapChaining,
	}
	for i := range f.MaxGroups {
		f.MaxGroups[i] = groupMax
		f.Actions[i] = groupActions
	}
	return f
}
