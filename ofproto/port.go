package ofproto

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync/atomic"
	"time"

	"tapestry/link"
	"tapestry/openflow"
)

// PortSpec describes a port to add.
type PortSpec struct {
	Name string
	// Type is informational ("tap", "system", "internal", "patch", ""): the
	// caller already chose the link.
	Type string
	// OFPort is the requested OpenFlow port number (ofport_request); 0 picks
	// the lowest free number from 1; openflow.PortLocal is the bridge's
	// internal port.
	OFPort uint32
	// Tag is the access VLAN for NORMAL; 0 means none.
	Tag uint16
	// Trunks lists the VLANs a trunk port carries; empty means all.
	Trunks []uint16
	HWAddr [6]byte
	Link   link.Link
}

// PortInfo describes a port as it is now.
type PortInfo struct {
	Name   string
	Type   string
	OFPort uint32
	Tag    uint16
	Trunks []uint16
	HWAddr [6]byte
	Desc   openflow.PortDesc
	Stats  openflow.PortStats
}

// Errors of port operations.
var (
	ErrPortExists  = errors.New("port already exists")
	ErrPortInUse   = errors.New("OpenFlow port number in use")
	ErrNoPort      = errors.New("no such port")
	ErrBadPortNo   = errors.New("invalid OpenFlow port number")
	ErrBridgeClose = errors.New("bridge closed")
	ErrBadVLAN     = errors.New("invalid VLAN")
)

// portVLAN is a port's VLAN configuration for NORMAL, replaced as a whole.
type portVLAN struct {
	tag    uint16
	trunks []uint16   // sorted; empty = all
	allow  [64]uint64 // bitmap of VLANs a trunk carries
}

func newPortVLAN(tag uint16, trunks []uint16) *portVLAN {
	v := &portVLAN{tag: tag, trunks: slices.Clone(trunks)}
	slices.Sort(v.trunks)
	v.trunks = slices.Compact(v.trunks)
	for _, t := range v.trunks {
		v.allow[t/64] |= 1 << (t % 64)
	}
	return v
}

// carries reports whether a port with this configuration belongs to vlan
// (ovs-vswitchd.conf.db(5) vlan_mode: an access port carries only its tag; a
// trunk port carries its trunks, or every VLAN when trunks is empty).
func (v *portVLAN) carries(vlan uint16) bool {
	if v.tag != 0 {
		return vlan == v.tag
	}
	if len(v.trunks) == 0 {
		return true
	}
	return v.allow[vlan/64]&(1<<(vlan%64)) != 0
}

// port is a bridge port. Its counters are atomic; spec is immutable.
type port struct {
	spec    PortSpec
	no      uint32
	created int64
	vlan    atomic.Pointer[portVLAN]
	config  atomic.Uint32 // openflow.PortConfig

	// vnet is the port's link when it carries offloaded frames (a TAP
	// with checksum offload and TSO on): frames are read with their
	// virtio_net_hdr and super-frames are written to it unsegmented.
	vnet link.VnetLink
	// Offload counters (OffloadStats).
	rxSuper, txSuper, softGSO, softCsum atomic.Uint64

	rxPackets, rxBytes, rxDropped, rxErrors atomic.Uint64
	txPackets, txBytes, txDropped, txErrors atomic.Uint64

	stopping atomic.Bool
	done     chan struct{}
}

func (p *port) cfg() openflow.PortConfig { return openflow.PortConfig(p.config.Load()) }

// stop closes the port's link, which ends its receive goroutine, and waits.
func (p *port) stop() {
	p.stopping.Store(true)
	if p.spec.Link != nil {
		_ = p.spec.Link.Close()
	}
	<-p.done
}

// portSet is an immutable snapshot of the ports, swapped on change.
type portSet struct {
	list   []*port // sorted by number
	byName map[string]*port
	byNum  map[uint32]*port
}

func (s *portSet) byNo(no uint32) *port { return s.byNum[no] }

func (s *portSet) with(p *port) *portSet {
	n := &portSet{
		list:   append(slices.Clone(s.list), p),
		byName: make(map[string]*port, len(s.list)+1),
		byNum:  make(map[uint32]*port, len(s.list)+1),
	}
	sort.Slice(n.list, func(i, j int) bool { return n.list[i].no < n.list[j].no })
	for _, q := range n.list {
		n.byName[q.spec.Name] = q
		n.byNum[q.no] = q
	}
	return n
}

func (s *portSet) without(p *port) *portSet {
	n := &portSet{byName: map[string]*port{}, byNum: map[uint32]*port{}}
	for _, q := range s.list {
		if q != p {
			n.list = append(n.list, q)
			n.byName[q.spec.Name] = q
			n.byNum[q.no] = q
		}
	}
	return n
}

// AddPort adds a port and starts its receive goroutine. It returns the
// OpenFlow port number.
func (b *Bridge) AddPort(ps PortSpec) (uint32, error) {
	if ps.Tag > 4095 {
		return 0, fmt.Errorf("ofproto: port %q: %w tag %d", ps.Name, ErrBadVLAN, ps.Tag)
	}
	for _, t := range ps.Trunks {
		if t > 4095 {
			return 0, fmt.Errorf("ofproto: port %q: %w trunk %d", ps.Name, ErrBadVLAN, t)
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return 0, fmt.Errorf("ofproto: add port %q: %w", ps.Name, ErrBridgeClose)
	}
	set := b.ports.Load()
	if _, dup := set.byName[ps.Name]; dup {
		return 0, fmt.Errorf("ofproto: add port %q: %w", ps.Name, ErrPortExists)
	}
	no := ps.OFPort
	switch {
	case no == 0:
		for no = 1; set.byNum[no] != nil; no++ {
		}
	case no >= openflow.PortMax && no != openflow.PortLocal:
		return 0, fmt.Errorf("ofproto: add port %q: %w %d", ps.Name, ErrBadPortNo, no)
	case set.byNum[no] != nil:
		return 0, fmt.Errorf("ofproto: add port %q: %w: %d", ps.Name, ErrPortInUse, no)
	}
	p := &port{spec: ps, no: no, created: b.now().UnixNano(), done: make(chan struct{})}
	p.spec.OFPort = no
	p.spec.Trunks = slices.Clone(ps.Trunks)
	if vl, ok := ps.Link.(link.VnetLink); ok && vl.Offload() {
		p.vnet = vl
	}
	p.vlan.Store(newPortVLAN(ps.Tag, ps.Trunks))
	b.ports.Store(set.with(p))
	if no == openflow.PortLocal && b.dpidAuto.Load() {
		b.dpid.Store(b.localDPID())
	}
	b.bump()
	if ps.Link != nil {
		b.wg.Add(1)
		go b.receive(p)
	} else {
		close(p.done)
	}
	return no, nil
}

// DelPort removes a port: its receive goroutine stops and its link is
// closed. As in Open vSwitch, flows that mention the port stay; MAC table
// entries learned on it are flushed.
func (b *Bridge) DelPort(name string) error {
	b.mu.Lock()
	set := b.ports.Load()
	p := set.byName[name]
	if p == nil {
		b.mu.Unlock()
		return fmt.Errorf("ofproto: del port %q: %w", name, ErrNoPort)
	}
	b.ports.Store(set.without(p))
	b.macs.flushPort(p.no)
	if p.no == openflow.PortLocal && b.dpidAuto.Load() {
		b.dpid.Store(0)
	}
	b.bump()
	b.mu.Unlock()
	p.stop()
	return nil
}

// SetPortVLAN changes a port's access tag and trunks (NORMAL's VLAN modes).
func (b *Bridge) SetPortVLAN(name string, tag uint16, trunks []uint16) error {
	if tag > 4095 {
		return fmt.Errorf("ofproto: port %q: %w tag %d", name, ErrBadVLAN, tag)
	}
	for _, t := range trunks {
		if t > 4095 {
			return fmt.Errorf("ofproto: port %q: %w trunk %d", name, ErrBadVLAN, t)
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	p := b.ports.Load().byName[name]
	if p == nil {
		return fmt.Errorf("ofproto: port %q: %w", name, ErrNoPort)
	}
	p.vlan.Store(newPortVLAN(tag, trunks))
	b.macs.flushPort(p.no)
	b.bump()
	return nil
}

// ModPort changes the config bits selected by mask (ovs-ofctl mod-port:
// up/down, flood/no-flood, receive/no-receive, forward/no-forward,
// packet-in/no-packet-in).
func (b *Bridge) ModPort(no uint32, config, mask openflow.PortConfig) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	p := b.ports.Load().byNo(no)
	if p == nil {
		return fmt.Errorf("ofproto: mod-port %d: %w", no, ErrNoPort)
	}
	old := p.cfg()
	p.config.Store(uint32(old&^mask | config&mask))
	b.bump()
	return nil
}

// PortNumber returns the OpenFlow number of the named port (ofctl.PortNamer).
func (b *Bridge) PortNumber(name string) (uint32, bool) {
	p := b.ports.Load().byName[name]
	if p == nil {
		return 0, false
	}
	return p.no, true
}

// PortName returns the name of port no (ofctl.PortNamer).
func (b *Bridge) PortName(no uint32) (string, bool) {
	p := b.ports.Load().byNum[no]
	if p == nil {
		return "", false
	}
	return p.spec.Name, true
}

// Ports describes every port, sorted by number.
func (b *Bridge) Ports() []PortInfo {
	set := b.ports.Load()
	now := b.now().UnixNano()
	out := make([]PortInfo, 0, len(set.list))
	for _, p := range set.list {
		v := p.vlan.Load()
		cfg := p.cfg()
		state := openflow.PortLive
		if cfg&openflow.PortDown != 0 {
			state = openflow.PortLinkDown
		}
		out = append(out, PortInfo{
			Name: p.spec.Name, Type: p.spec.Type, OFPort: p.no,
			Tag: v.tag, Trunks: slices.Clone(v.trunks), HWAddr: p.spec.HWAddr,
			Desc: openflow.PortDesc{
				No: p.no, HWAddr: p.spec.HWAddr, Name: p.spec.Name,
				Config: cfg, State: state,
				// 10 Gb/s full duplex, copper, as OVS reports for a TAP.
				Curr: portFeatures, Supported: 0, CurrSpeed: 10000000, MaxSpeed: 0,
			},
			Stats: openflow.PortStats{
				No:        p.no,
				RxPackets: p.rxPackets.Load(), TxPackets: p.txPackets.Load(),
				RxBytes: p.rxBytes.Load(), TxBytes: p.txBytes.Load(),
				RxDropped: p.rxDropped.Load(), TxDropped: p.txDropped.Load(),
				RxErrors: p.rxErrors.Load(), TxErrors: p.txErrors.Load(),
				Duration: time.Duration(now - p.created),
			},
		})
	}
	return out
}

// portFeatures is OFPPF_10GB_FD | OFPPF_COPPER (OpenFlow 1.3 §7.2.1).
const portFeatures = 1<<6 | 1<<11
