package neigh

import (
	"cmp"
	"net/netip"
	"slices"
	"syscall"
	"time"

	"tapestry/packet"
)

// UpdateFlags are neigh_update's NEIGH_UPDATE_F_* flags.
type UpdateFlags uint8

// Update flags.
const (
	// Override lets a different lladdr replace a valid one.
	Override UpdateFlags = 1 << iota
	// WeakOverride turns a conflicting lladdr on a connected entry into
	// STALE with the old address instead of ignoring it.
	WeakOverride
	// Admin marks an administrative change (ip neigh): it may touch
	// PERMANENT and NOARP entries.
	Admin
	// IsRouter sets the entry's router flag; with it clear the flag is
	// cleared when Override is set.
	IsRouter
)

// Update is neigh_update: it moves the entry for addr on ifindex to state
// with link-layer address mac (nil keeps the current one), creating the
// entry when create is set. When the entry becomes valid its queued
// packets are sent; when a resolution fails they are reported unreachable.
func (t *Table) Update(ifindex int, addr netip.Addr, mac *packet.MAC, state State, flags UpdateFlags, create bool) error {
	k := Key{ifindex, addr.As4()}
	var w work
	t.mu.Lock()
	now := t.clock.Now()
	e := t.entries[k]
	if e == nil {
		if !create {
			t.mu.Unlock()
			return errno(syscall.ENOENT)
		}
		if e = t.alloc(k, now); e == nil {
			t.mu.Unlock()
			return errno(syscall.ENOBUFS)
		}
	}
	err := t.update(e, mac, state, flags, now, &w)
	t.mu.Unlock()
	t.run(&w)
	return err
}

func (t *Table) update(e *entry, mac *packet.MAC, state State, flags UpdateFlags, now time.Time, w *work) error {
	old := e.state
	if flags&Admin == 0 && old&(StateNoARP|StatePermanent) != 0 {
		return errno(syscall.EPERM)
	}
	if state&Valid == 0 {
		e.timer = time.Time{}
		e.state = state
		e.updated = now
		if old&(StateIncomplete|StateProbe) != 0 && state&StateFailed != 0 {
			t.invalidate(e, w)
		}
		return nil
	}
	var ll packet.MAC
	switch {
	case mac != nil:
		ll = *mac
	case old&Valid != 0:
		ll = e.mac
	default:
		return errno(syscall.EINVAL)
	}
	if old&Valid != 0 {
		if ll != e.mac && flags&Override == 0 {
			if flags&WeakOverride == 0 || old&connected == 0 {
				return nil
			}
			ll, state = e.mac, StateStale
		}
		if ll == e.mac && state == StateStale && flags&Admin == 0 {
			state = old
		}
	}
	if state&connected != 0 {
		e.confirmed = now
	}
	if state != old || ll != e.mac {
		e.updated = now
	}
	if state != old {
		e.timer = time.Time{}
		if state&StateProbe != 0 {
			e.probes = 0
		}
		if state&inTimer != 0 {
			d := time.Duration(0)
			if state&StateReachable != 0 {
				d = t.reachable
			}
			e.timer = now.Add(d)
		}
		e.state = state
	}
	if ll != e.mac {
		e.mac = ll
		if state&connected == 0 {
			e.confirmed = now.Add(-2 * t.params.BaseReachableTime)
		}
	}
	if flags&Override != 0 || flags&IsRouter != 0 {
		e.router = flags&IsRouter != 0
	}
	if old&Valid == 0 {
		for _, f := range e.queue {
			copy(f[0:6], ll[:])
			w.xmit = append(w.xmit, queued{e.IfIndex, f})
		}
		e.queue = nil
	}
	return nil
}

// invalidate is neigh_invalidate: the resolution failed; every queued
// packet is reported unreachable.
func (t *Table) invalidate(e *entry, w *work) {
	t.stats.ResFailed++
	for _, f := range e.queue {
		w.unreach = append(w.unreach, queued{e.IfIndex, f})
	}
	e.queue = nil
}

// Received handles a neighbour learnt from an ARP packet, as arp_process
// does. forUs is set for a request targeting one of our addresses (or a
// proxied one): the sender is then created or refreshed as STALE
// (neigh_event_ns). Otherwise only an existing entry is updated. reply is
// set for an ARP reply addressed to our MAC, which confirms the entry
// (REACHABLE); anything else leaves it STALE. A different lladdr wins
// only after locktime, or always for a gratuitous ARP.
func (t *Table) Received(ifindex int, addr netip.Addr, mac packet.MAC, forUs, reply, gratuitous bool) {
	k := Key{ifindex, addr.As4()}
	var w work
	t.mu.Lock()
	now := t.clock.Now()
	e := t.entries[k]
	if forUs && !reply {
		if e == nil {
			e = t.alloc(k, now)
		}
		if e != nil {
			_ = t.update(e, &mac, StateStale, Override, now, &w)
		}
		t.mu.Unlock()
		t.run(&w)
		return
	}
	if e == nil {
		t.mu.Unlock()
		return
	}
	state := StateStale
	if reply {
		state = StateReachable
	}
	var flags UpdateFlags
	if gratuitous || now.After(e.updated.Add(t.params.LockTime)) {
		flags = Override
	}
	_ = t.update(e, &mac, state, flags, now, &w)
	t.mu.Unlock()
	t.run(&w)
}

// NextTimer returns when the next timer or collection is due.
func (t *Table) NextTimer() time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	next := t.nextGC
	for _, e := range t.entries {
		if !e.timer.IsZero() && e.timer.Before(next) {
			next = e.timer
		}
	}
	return next
}

// Tick runs every timer that is due (neigh_timer_handler) and the
// periodic collector (neigh_periodic_work) when its interval has passed.
func (t *Table) Tick() {
	var w work
	t.mu.Lock()
	now := t.clock.Now()
	for _, e := range t.entries {
		if !e.timer.IsZero() && !now.Before(e.timer) {
			t.expire(e, now, &w)
		}
	}
	if !now.Before(t.nextGC) {
		t.periodicGC(now)
		t.nextGC = now.Add(t.params.GCInterval)
	}
	t.mu.Unlock()
	t.run(&w)
}

// expire is neigh_timer_handler for one entry whose timer is due.
func (t *Table) expire(e *entry, now time.Time, w *work) {
	e.timer = time.Time{}
	next := now.Add(t.params.RetransTime)
	switch {
	case e.state&StateReachable != 0:
		switch {
		case !now.After(e.confirmed.Add(t.reachable)):
			next = e.confirmed.Add(t.reachable)
		case !now.After(e.used.Add(t.params.DelayFirstProbeTime)):
			e.state, e.updated = StateDelay, now
			next = now.Add(t.params.DelayFirstProbeTime)
		default:
			e.state, e.updated = StateStale, now
		}
	case e.state&StateDelay != 0:
		if !now.After(e.confirmed.Add(t.params.DelayFirstProbeTime)) {
			e.state, e.updated = StateReachable, now
			next = e.confirmed.Add(t.reachable)
		} else {
			e.state, e.updated, e.probes = StateProbe, now, 0
		}
	}
	if e.state&(StateIncomplete|StateProbe) != 0 && e.probes >= t.maxProbes(e) {
		e.state, e.updated = StateFailed, now
		t.invalidate(e, w)
	}
	if e.state&inTimer != 0 {
		e.timer = next
	}
	if e.state&(StateIncomplete|StateProbe) != 0 {
		t.probe(e, w)
	}
}

// periodicGC is neigh_periodic_work: re-randomize reachable_time every
// 300 s and, above gc_thresh1, drop unused entries that are FAILED or
// unused for gc_stale_time.
func (t *Table) periodicGC(now time.Time) {
	t.stats.PeriodicGC++
	if now.Sub(t.randAt) >= 300*time.Second {
		t.reachable, t.randAt = t.randReachable(), now
	}
	if len(t.entries) < t.params.GCThresh1 {
		return
	}
	for k, e := range t.entries {
		if e.state&(StatePermanent|inTimer) != 0 {
			continue
		}
		if e.used.Before(e.confirmed) && !e.confirmed.After(now) {
			e.used = e.confirmed
		}
		if e.state == StateFailed || now.After(e.used.Add(t.params.GCStaleTime)) {
			delete(t.entries, k)
			t.stats.Destroys++
		}
	}
}

// Add is `ip neigh add`: like the kernel under NLM_F_EXCL it fails with
// "File exists" when any entry for the address exists.
func (t *Table) Add(ifindex int, addr netip.Addr, mac *packet.MAC, state State, router bool) error {
	t.mu.Lock()
	_, ok := t.entries[Key{ifindex, addr.As4()}]
	t.mu.Unlock()
	if ok {
		return errno(syscall.EEXIST)
	}
	return t.Replace(ifindex, addr, mac, state, router)
}

// Replace is `ip neigh replace`: create or override.
func (t *Table) Replace(ifindex int, addr netip.Addr, mac *packet.MAC, state State, router bool) error {
	f := Admin | Override
	if router {
		f |= IsRouter
	}
	return t.Update(ifindex, addr, mac, state, f, true)
}

// Change is `ip neigh change`: the entry must exist.
func (t *Table) Change(ifindex int, addr netip.Addr, mac *packet.MAC, state State, router bool) error {
	f := Admin | Override
	if router {
		f |= IsRouter
	}
	return t.Update(ifindex, addr, mac, state, f, false)
}

// Delete is `ip neigh del` (neigh_delete): the entry fails and is removed.
func (t *Table) Delete(ifindex int, addr netip.Addr) error {
	k := Key{ifindex, addr.As4()}
	var w work
	t.mu.Lock()
	e := t.entries[k]
	if e == nil {
		t.mu.Unlock()
		return errno(syscall.ENOENT)
	}
	_ = t.update(e, nil, StateFailed, Admin|Override, t.clock.Now(), &w)
	delete(t.entries, k)
	t.stats.Destroys++
	t.mu.Unlock()
	t.run(&w)
	return nil
}

// Filter selects entries for Entries and Flush, as `ip neigh show/flush`
// arguments do. A zero IfIndex or invalid Prefix matches all; States is a
// mask of NUD bits (0 means the command's default).
type Filter struct {
	IfIndex int
	Prefix  netip.Prefix
	States  State
	// NoneToo includes entries in state NONE ("nud none" or "nud all").
	NoneToo bool
}

func (f *Filter) match(e *entry) bool {
	if f.IfIndex != 0 && e.IfIndex != f.IfIndex {
		return false
	}
	if f.Prefix.IsValid() && !f.Prefix.Contains(netip.AddrFrom4(e.Addr)) {
		return false
	}
	if e.state == StateNone {
		return f.NoneToo
	}
	return e.state&f.States != 0
}

// Entries returns the entries matching f (States 0 means all but NONE,
// as `ip neigh show` hides NONE entries), ordered by interface index and
// address (the kernel dumps in hash order, which is not reproducible).
func (t *Table) Entries(f Filter) []Entry {
	if f.States == 0 {
		f.States = ^StateNone
	}
	t.mu.Lock()
	var out []Entry
	for _, e := range t.entries {
		if f.match(e) {
			out = append(out, e.snapshot())
		}
	}
	t.mu.Unlock()
	slices.SortFunc(out, func(a, b Entry) int {
		if c := cmp.Compare(a.IfIndex, b.IfIndex); c != 0 {
			return c
		}
		return a.Addr.Compare(b.Addr)
	})
	return out
}

// Flush is `ip neigh flush`: it deletes the matching entries (States 0
// means iproute2's default: everything but PERMANENT and NOARP) and
// returns how many.
func (t *Table) Flush(f Filter) int {
	if f.States == 0 {
		f.States = ^(StatePermanent | StateNoARP)
	}
	var w work
	t.mu.Lock()
	n := 0
	for k, e := range t.entries {
		if f.match(e) {
			if e.state&(StateIncomplete|StateProbe) != 0 {
				t.invalidate(e, &w)
			}
			delete(t.entries, k)
			t.stats.Destroys++
			n++
		}
	}
	t.mu.Unlock()
	t.run(&w)
	return n
}

// IfDown is neigh_ifdown for a link that went down or away: every entry
// on ifindex is removed (PERMANENT ones too when gone is set, as on
// unregister; on carrier/admin down the kernel keeps them).
func (t *Table) IfDown(ifindex int, gone bool) {
	t.mu.Lock()
	for k, e := range t.entries {
		if k.IfIndex == ifindex && (gone || e.state&StatePermanent == 0) {
			delete(t.entries, k)
			t.stats.Destroys++
		}
	}
	t.mu.Unlock()
}
