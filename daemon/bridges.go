package daemon

import (
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"

	"tapestry/link"
	"tapestry/ofchannel"
	"tapestry/ofproto"
	"tapestry/openflow"
)

// bridgeRT is a running bridge.
type bridgeRT struct {
	name  string
	br    *ofproto.Bridge
	ports map[string]*portRT // configured ports, attached or not
	// localKernel is true when the LOCAL port is a kernel TAP.
	localKernel bool
	// agent speaks OpenFlow for the bridge (see openflow.go); agentConf is
	// the configuration it was built from, passive its open listeners.
	agent     *ofchannel.Agent
	agentConf string
	passive   []string
}

// portRT is the running state of a configured port.
type portRT struct {
	conf     *portConf
	attached bool   // the port is in the bridge
	err      string // why it is not (vsctl show's error:)
}

// PortNumber implements ofctl.PortNamer for flow text: the bridge's
// attached ports and LOCAL port, and also configured ports whose device is
// missing, by the number they will have (flows may name a port before its
// device exists, as with OVS's ofport_request).
func (b *bridgeRT) PortNumber(name string) (uint32, bool) {
	if n, ok := b.br.PortNumber(name); ok {
		return n, true
	}
	if p := b.ports[name]; p != nil && p.conf.OFPort != 0 {
		return p.conf.OFPort, true
	}
	return 0, false
}

// PortName implements ofctl.PortNamer.
func (b *bridgeRT) PortName(no uint32) (string, bool) {
	if n, ok := b.br.PortName(no); ok {
		return n, true
	}
	for name, p := range b.ports {
		if p.conf.OFPort == no {
			return name, true
		}
	}
	return "", false
}

// restore rebuilds every bridge from the store: configuration, ports (with
// their numbers) and flows.
func (d *Daemon) restore() error {
	if err := d.loadConf(); err != nil {
		return err
	}
	if err := d.loadNetns(); err != nil {
		return err
	}
	for _, name := range sortedKeys(d.conf.Bridges) {
		bc := d.conf.Bridges[name]
		rt := d.startBridge(bc)
		if err := d.restoreGroups(rt); err != nil { // before the flows that name them
			return err
		}
		if err := d.restoreFlows(rt); err != nil {
			return err
		}
		d.log.Info("restored bridge", "bridge", name, "ports", len(bc.Ports), "flows", rt.br.FlowCount())
	}
	d.restoreNetns()
	return nil
}

// startBridge creates a running bridge for bc with its LOCAL port and
// every configured port.
func (d *Daemon) startBridge(bc *bridgeConf) *bridgeRT {
	mac := stableMAC(d.uuid + "/" + bc.Name)
	dpid := datapathID(bc)
	if dpid == 0 {
		dpid = macDPID(mac)
	}
	br := ofproto.New(ofproto.Config{
		Name:       bc.Name,
		DatapathID: dpid,
		Now:        d.cfg.Now,
		Logger:     d.log.With("bridge", bc.Name),
	})
	rt := &bridgeRT{name: bc.Name, br: br, ports: make(map[string]*portRT)}
	l, kernel := localLink(d.dev, bc.Name)
	rt.localKernel = kernel
	if kmac, ok := deviceMAC(bc.Name); ok && kernel {
		mac = kmac
	}
	if _, err := br.AddPort(ofproto.PortSpec{Name: bc.Name, Type: "internal", OFPort: openflow.PortLocal, HWAddr: mac, Link: l}); err != nil {
		d.log.Error("adding LOCAL port", "bridge", bc.Name, "err", err)
		l.Close()
	}
	d.bridges[bc.Name] = rt
	for _, pn := range sortedKeys(bc.Ports) {
		p := &portRT{conf: bc.Ports[pn]}
		rt.ports[pn] = p
		d.attach(rt, p)
	}
	// The agent starts once the ports are in, so the first features reply
	// lists them all.
	d.startAgent(rt, bc)
	return rt
}

// attach opens p's device and adds it to the bridge; a failure is recorded
// in p.err and retried later.
//
// An internal port a tapestry namespace claims is an in-memory wire whose
// far end becomes the namespace's interface (see netns.go).
func (d *Daemon) attach(rt *bridgeRT, p *portRT) {
	var l link.Link
	var far *link.Mem
	var err error
	ns, ifname := "", ""
	if p.conf.Type == kindInternal {
		ns, ifname = d.claimOf(p.conf.Name)
	}
	if ns != "" {
		l, far = internalWire(p.conf.Name)
	} else {
		l, err = d.dev.Open(p.conf.Name, p.conf.Type)
	}
	if err != nil {
		if p.err != err.Error() {
			d.log.Warn("port not attached", "bridge", rt.name, "port", p.conf.Name, "err", err)
		}
		p.err = err.Error()
		return
	}
	if err := d.addToBridge(rt, p, l, ns != ""); err != nil {
		l.Close()
		if far != nil {
			far.Close()
		}
		p.err = err.Error()
		d.log.Warn("port not attached", "bridge", rt.name, "port", p.conf.Name, "err", err)
		return
	}
	p.attached, p.err = true, ""
	if far != nil {
		d.handOver(ns, p.conf.Name, ifname, far, d.portMAC(rt, p.conf, true))
	}
	if rt.agent != nil {
		rt.agent.PortsChanged()
	}
	d.log.Info("port attached", "bridge", rt.name, "port", p.conf.Name, "ofport", p.conf.OFPort, "link", fmt.Sprintf("%T", l))
}

// portMAC is a port's address: its kernel device's when it has one (and
// is not a claimed internal port, whose device is the namespace's), else
// one derived from the switch, bridge and port names so that it survives
// restarts. The namespace end of a claimed internal port has the same
// address, as an OVS internal device does.
//
// A port with an Interface mac has that address; a kernel device is given
// it first, as ovs-vswitchd sets an internal device's address.
func (d *Daemon) portMAC(rt *bridgeRT, pc *portConf, claimed bool) [6]byte {
	name := pc.Name
	if pc.MAC != "" {
		hw, _ := net.ParseMAC(pc.MAC) // checked by vsctl
		var mac [6]byte
		copy(mac[:], hw)
		if !claimed {
			if cur, ok := deviceMAC(name); ok && cur != mac {
				if err := link.SetHWAddr(name, mac); err != nil {
					d.log.Warn("setting port address", "port", name, "err", err)
				}
			}
		}
		return mac
	}
	if !claimed {
		if mac, ok := deviceMAC(name); ok {
			return mac
		}
	}
	return stableMAC(d.uuid + "/" + rt.name + "/" + name)
}

func (d *Daemon) addToBridge(rt *bridgeRT, p *portRT, l link.Link, claimed bool) error {
	mac := d.portMAC(rt, p.conf, claimed)
	if t, ok := l.(offloader); ok && offloadWanted(p.conf) {
		// Before AddPort: the bridge reads offloaded frames only from a
		// port whose link had offloads on when it was added.
		if err := t.SetOffload(true); err != nil {
			d.log.Warn("port offloads not enabled", "bridge", rt.name, "port", p.conf.Name, "err", err)
		}
	}
	_, err := rt.br.AddPort(ofproto.PortSpec{
		HWAddr: mac,
		Name:   p.conf.Name,
		Type:   p.conf.Type,
		OFPort: p.conf.OFPort,
		Tag:    p.conf.Tag,
		Trunks: p.conf.Trunks,
		Link:   l,
	})
	return err
}

// detach removes p from the bridge (closing its link).
func (d *Daemon) detach(rt *bridgeRT, p *portRT) {
	if !p.attached {
		return
	}
	if err := rt.br.DelPort(p.conf.Name); err != nil {
		d.log.Error("removing port", "bridge", rt.name, "port", p.conf.Name, "err", err)
	}
	p.attached = false
	if rt.agent != nil {
		rt.agent.PortsChanged()
	}
}

// retryPorts tries again to attach every port whose device was missing.
func (d *Daemon) retryPorts() {
	for _, rt := range d.bridges {
		for _, p := range rt.ports {
			if !p.attached {
				d.attach(rt, p)
			}
		}
	}
}

func (d *Daemon) stopBridge(rt *bridgeRT) {
	d.stopAgent(rt)
	for _, p := range rt.ports {
		d.detach(rt, p)
	}
	rt.br.Close()
	delete(d.bridges, rt.name)
}

func (d *Daemon) closeBridges() {
	for _, rt := range d.bridges {
		d.stopBridge(rt)
	}
}

// reconcile makes the running bridges match next, the configuration just
// committed (d.conf is the previous one).
func (d *Daemon) reconcile(next *switchConf) {
	for name, rt := range d.bridges {
		if nb, ok := next.Bridges[name]; !ok || nb.ID != d.conf.Bridges[name].ID {
			d.stopBridge(rt)
		}
	}
	for _, name := range sortedKeys(next.Bridges) {
		nb := next.Bridges[name]
		rt := d.bridges[name]
		if rt == nil {
			d.startBridge(nb)
			continue
		}
		if ob := d.conf.Bridges[name]; ob != nil && datapathID(ob) != datapathID(nb) {
			dpid := datapathID(nb)
			if dpid == 0 {
				dpid = macDPID(stableMAC(d.uuid + "/" + name))
			}
			rt.br.SetDatapathID(dpid)
		}
		d.reconcilePorts(rt, nb)
		d.reconfigureAgent(rt, nb)
	}
	d.conf = next
}

func (d *Daemon) reconcilePorts(rt *bridgeRT, nb *bridgeConf) {
	for pn, p := range rt.ports {
		if _, ok := nb.Ports[pn]; !ok {
			d.detach(rt, p)
			delete(rt.ports, pn)
		}
	}
	for _, pn := range sortedKeys(nb.Ports) {
		np := nb.Ports[pn]
		p := rt.ports[pn]
		switch {
		case p == nil:
			p = &portRT{conf: np}
			rt.ports[pn] = p
			d.attach(rt, p)
		case p.conf.Type != np.Type || p.conf.OFPort != np.OFPort || p.conf.MAC != np.MAC ||
			offloadWanted(p.conf) != offloadWanted(np):
			// A new device, number or address: attach afresh, as vswitchd does.
			d.detach(rt, p)
			p.conf, p.err = np, ""
			d.attach(rt, p)
		default:
			vlanChanged := p.conf.Tag != np.Tag || !slices.Equal(p.conf.Trunks, np.Trunks)
			p.conf = np
			if vlanChanged && p.attached {
				if err := rt.br.SetPortVLAN(pn, np.Tag, np.Trunks); err != nil {
					d.log.Error("setting port VLAN", "bridge", rt.name, "port", pn, "err", err)
				}
			}
		}
	}
}

// datapathID is other-config:datapath-id when it is 16 valid hex digits,
// else 0 (derive from the LOCAL port's MAC). Like ovs-vswitchd, an invalid
// value is ignored rather than refused.
func datapathID(bc *bridgeConf) uint64 {
	s, ok := bc.OtherConfig["datapath-id"]
	if !ok {
		return 0
	}
	s = strings.TrimPrefix(s, "0x")
	if len(s) != 16 {
		return 0
	}
	v, err := strconv.ParseUint(s, 16, 64)
	if err != nil {
		return 0
	}
	return v
}

// macDPID is the datapath id OVS derives from a bridge MAC: the 48 bits
// zero-extended.
func macDPID(mac [6]byte) uint64 {
	var id uint64
	for _, b := range mac {
		id = id<<8 | uint64(b)
	}
	return id
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// offloader is a link whose checksum offload and TSO can be turned on: a
// TAP (link.TAP.SetOffload).
type offloader interface {
	SetOffload(on bool) error
}

// offloadWanted reports whether a TAP port should carry offloaded frames
// (TCP super-frames and partial checksums) between the kernel and the
// bridge. It is on unless the Interface's other_config has
// userspace-tso-enable=false: Open vSwitch's key for the same feature (a
// global one there, off by default; per interface and on by default here,
// since every tapestry output completes what cannot take it).
func offloadWanted(pc *portConf) bool {
	return pc.OtherConfig["userspace-tso-enable"] != "false"
}
