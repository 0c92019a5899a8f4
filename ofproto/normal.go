package ofproto

import (
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"tapestry/flow"
	"tapestry/openflow"
)

// NORMAL is Open vSwitch's L2 learning switch (ovs-vswitchd.conf.db(5),
// Port table, vlan_mode): it learns source MAC + VLAN -> port, forwards to
// the learned port, floods what it does not know within the VLAN, and maps
// frames between access ports (untagged, VLAN from the port's tag) and trunk
// ports (tagged with an allowed VID; untagged frames are VLAN 0).

// macTableSize is Open vSwitch's default other_config:mac-table-size.
const macTableSize = 8192

// macAgingTime is Open vSwitch's default other_config:mac-aging-time.
const macAgingTime = 300 * time.Second

type macKey struct {
	mac  [6]byte
	vlan uint16
}

// macEntry is one learned address. port never changes: a move replaces the
// entry, so a cached decision holding the old entry sees it is gone through
// the generation bump that accompanies the replacement.
type macEntry struct {
	port uint32
	used atomic.Int64 // unix nanoseconds; refreshed by the fast path
}

// macTable is the learning table, shared by every port's goroutine. Lookups
// and learning happen only on the slow path, so a mutex is cheap enough; the
// fast path only refreshes macEntry.used.
type macTable struct {
	mu    sync.Mutex
	max   int
	aging int64
	m     map[macKey]*macEntry
}

func (t *macTable) init(max int, aging time.Duration) {
	t.max = max
	t.aging = int64(aging)
	t.m = make(map[macKey]*macEntry)
}

// lookup returns the live entry for mac in vlan, or nil.
func (t *macTable) lookup(mac [6]byte, vlan uint16, now int64) *macEntry {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.m[macKey{mac, vlan}]
	if e == nil || now-e.used.Load() > t.aging {
		return nil
	}
	return e
}

// learn records mac in vlan on port. It returns the entry and whether the
// table changed (a new address or a move), in which case the caller must
// invalidate cached decisions.
func (t *macTable) learn(mac [6]byte, vlan uint16, port uint32, now int64) (*macEntry, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	k := macKey{mac, vlan}
	if e := t.m[k]; e != nil && e.port == port {
		e.used.Store(now)
		return e, false
	}
	if _, ok := t.m[k]; !ok && len(t.m) >= t.max {
		t.evictOldest()
	}
	e := &macEntry{port: port}
	e.used.Store(now)
	t.m[k] = e
	return e, true
}

// evictOldest makes room as Open vSwitch does when the table is full: the
// least recently used entry goes. Called with t.mu held.
func (t *macTable) evictOldest() {
	var (
		oldK  macKey
		oldT  int64
		found bool
	)
	for k, e := range t.m {
		if u := e.used.Load(); !found || u < oldT {
			oldK, oldT, found = k, u, true
		}
	}
	delete(t.m, oldK)
}

// expire removes entries idle longer than the aging time.
func (t *macTable) expire(now int64) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for k, e := range t.m {
		if now-e.used.Load() > t.aging {
			delete(t.m, k)
			n++
		}
	}
	return n
}

// flushPort forgets every address learned on port.
func (t *macTable) flushPort(port uint32) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for k, e := range t.m {
		if e.port == port {
			delete(t.m, k)
		}
	}
}

// FDBEntry is one MAC table entry, as ovs-appctl fdb/show prints it.
type FDBEntry struct {
	Port uint32
	VLAN uint16
	MAC  [6]byte
	Age  time.Duration
}

// FDB returns the MAC learning table, sorted by VLAN and MAC.
func (b *Bridge) FDB() []FDBEntry {
	now := b.now().UnixNano()
	b.macs.mu.Lock()
	out := make([]FDBEntry, 0, len(b.macs.m))
	for k, e := range b.macs.m {
		out = append(out, FDBEntry{Port: e.port, VLAN: k.vlan, MAC: k.mac, Age: time.Duration(now - e.used.Load())})
	}
	b.macs.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].VLAN != out[j].VLAN {
			return out[i].VLAN < out[j].VLAN
		}
		return string(out[i].MAC[:]) < string(out[j].MAC[:])
	})
	return out
}

// FlushFDB forgets every learned address (ovs-appctl fdb/flush).
func (b *Bridge) FlushFDB() {
	b.macs.mu.Lock()
	clear(b.macs.m)
	b.macs.mu.Unlock()
	b.bump()
}

// isReservedMAC reports whether dst is one of IEEE 802.1D's reserved
// 01:80:c2:00:00:0x addresses (STP, LACP, LLDP...), which NORMAL drops.
func isReservedMAC(m [6]byte) bool {
	return m[0] == 0x01 && m[1] == 0x80 && m[2] == 0xc2 && m[3] == 0 && m[4] == 0 && m[5]&0xf0 == 0
}

// normal translates output:NORMAL.
func (x *xlate) normal() {
	k := &x.key
	x.wc.InPort = ^uint32(0)
	x.wc.DlSrc = [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	x.wc.DlDst = [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	x.wc.VlanTCI = 0xffff
	in := x.ports.byNo(k.InPort)
	if in == nil {
		x.note("no input bundle, dropping")
		x.reason(dropNormal)
		return
	}
	if isReservedMAC(k.DlDst) {
		x.note("packet has reserved destination MAC, dropping")
		x.reason(dropNormal)
		return
	}
	vlan, ok := x.inputVLAN(in)
	if !ok {
		x.reason(dropNormal)
		return
	}
	if k.DlSrc[0]&1 == 0 {
		x.learnMAC(k.DlSrc, vlan, in)
	}
	origTCI := k.VlanTCI
	if k.DlDst[0]&1 == 0 {
		if e := x.b.macs.lookup(k.DlDst, vlan, x.now); e != nil {
			out := x.ports.byNo(e.port)
			switch {
			case out == in:
				x.note("learned port is input port, dropping")
				x.reason(dropNormal)
			case out != nil:
				x.note("forwarding to learned port")
				x.normalOutput(out, vlan, origTCI)
			}
			x.restoreVLAN(origTCI)
			return
		}
	}
	x.note("no learned MAC for destination, flooding")
	for _, p := range x.ports.list {
		if p == in || p.cfg()&openflow.PortNoFlood != 0 || !p.vlan.Load().carries(vlan) {
			continue
		}
		x.normalOutput(p, vlan, origTCI)
	}
	x.restoreVLAN(origTCI)
}

// inputVLAN returns the VLAN a frame received on in belongs to, following
// vlan_mode: access ports take untagged (or priority-tagged) frames into
// their tag and drop tagged ones; trunk ports take tagged frames of the VLANs
// they carry and untagged frames as VLAN 0.
func (x *xlate) inputVLAN(in *port) (uint16, bool) {
	v := in.vlan.Load()
	vid := x.key.VlanTCI & flow.VlanVIDMask
	tagged := x.key.Tagged()
	if v.tag != 0 {
		if tagged && vid != 0 {
			x.notef("!dropping VLAN %d tagged packet received on port %s configured as VLAN %d access port", vid, in.spec.Name, v.tag)
			return 0, false
		}
		return v.tag, true
	}
	if !tagged {
		vid = 0
	}
	if !v.carries(vid) {
		x.notef("!dropping VLAN %d packet received on port %s not configured for trunking VLAN %d", vid, in.spec.Name, vid)
		return 0, false
	}
	return vid, true
}

// learnMAC learns src on in. On the fast path the compiled decision keeps the
// entry and refreshes its age; a new address or a move changes the table and
// invalidates every cached decision, as Open vSwitch revalidates on MAC
// learning changes.
func (x *xlate) learnMAC(src [6]byte, vlan uint16, in *port) {
	if !x.mayLearn {
		return // ofproto/trace does not learn
	}
	e, changed := x.b.macs.learn(src, vlan, in.no, x.now)
	if changed {
		x.notef("learned that %s is on port %s in VLAN %d", macString(src), in.spec.Name, vlan)
		x.b.bump()
	}
	x.ops = append(x.ops, op{kind: opLearn, mac: e})
}

// normalOutput sends the frame to out in vlan: untagged on an access port or
// for VLAN 0, tagged (keeping the priority of an incoming tag) otherwise.
func (x *xlate) normalOutput(out *port, vlan, origTCI uint16) {
	var tci uint16
	if out.vlan.Load().tag == 0 && vlan != 0 {
		tci = vlan | origTCI&flow.VlanPCPMask | flow.VlanCFI
	}
	x.setVLAN(tci)
	x.outputPort(out, false)
}

// restoreVLAN puts the frame's VLAN back as it was before NORMAL, so that
// actions after NORMAL see the packet unchanged.
func (x *xlate) restoreVLAN(tci uint16) {
	if x.key.VlanTCI != tci {
		x.setVLAN(tci)
	}
}
