package daemon

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"tapestry/store"
)

// Store layout (bbolt buckets, nested by path):
//
//	switch                      key "uuid": the switch's uuid (vsctl show's first line)
//	bridges/<br>                key "config": bridgeConf as JSON
//	bridges/<br>/ports          key <port>: portConf as JSON
//	bridges/<br>/flows          key flowKey(table, priority, match): FormatFlowMod text
//
// Flows are stored as add-flow text with port numbers, so the store reads
// like a flow file and survives changes to the in-memory model.
var (
	switchPath  = []string{"switch"}
	bridgesPath = []string{"bridges"}
)

func bridgePath(br string) []string { return []string{"bridges", br} }
func portsPath(br string) []string  { return []string{"bridges", br, "ports"} }
func flowsPath(br string) []string  { return []string{"bridges", br, "flows"} }

// switchConf is the desired state that vsctl edits: every bridge and port.
type switchConf struct {
	Bridges map[string]*bridgeConf
}

// bridgeConf is one bridge's configuration (the Bridge table of OVS).
type bridgeConf struct {
	// ID identifies this bridge record (ovsdb's row uuid), so that a bridge
	// deleted and added again in one transaction is a new bridge.
	ID        string   `json:"id,omitempty"`
	Name      string   `json:"name"`
	Protocols []string `json:"protocols,omitempty"`
	FailMode  string   `json:"fail_mode,omitempty"`
	// Controllers are OpenFlow controller targets ("tcp:IP[:PORT]"...),
	// kept for the OpenFlow connection manager.
	Controllers []string             `json:"controllers,omitempty"`
	OtherConfig map[string]string    `json:"other_config,omitempty"`
	ExternalIDs map[string]string    `json:"external_ids,omitempty"`
	Ports       map[string]*portConf `json:"-"`
}

// portConf is one port and its interface (OVS's Port and Interface rows).
type portConf struct {
	Name          string   `json:"name"`
	Type          string   `json:"type,omitempty"`
	Tag           uint16   `json:"tag,omitempty"`
	Trunks        []uint16 `json:"trunks,omitempty"`
	OFPortRequest uint32   `json:"ofport_request,omitempty"`
	// OFPort is the number assigned when the port was added; it is kept so
	// that a restart gives every port the number flows refer to.
	OFPort      uint32            `json:"ofport"`
	OtherConfig map[string]string `json:"other_config,omitempty"`
	ExternalIDs map[string]string `json:"external_ids,omitempty"`
	// MAC is the Interface mac column: the address of an internal port
	// (and, in tapestry, of a TAP the daemon created), "" for the default.
	MAC string `json:"mac,omitempty"`
}

func (c *switchConf) clone() *switchConf {
	n := &switchConf{Bridges: make(map[string]*bridgeConf, len(c.Bridges))}
	for name, b := range c.Bridges {
		n.Bridges[name] = b.clone()
	}
	return n
}

func (b *bridgeConf) clone() *bridgeConf {
	n := *b
	n.Protocols = slices.Clone(b.Protocols)
	n.Controllers = slices.Clone(b.Controllers)
	n.OtherConfig = maps.Clone(b.OtherConfig)
	n.ExternalIDs = maps.Clone(b.ExternalIDs)
	n.Ports = make(map[string]*portConf, len(b.Ports))
	for name, p := range b.Ports {
		n.Ports[name] = p.clone()
	}
	return &n
}

func (p *portConf) clone() *portConf {
	n := *p
	n.Trunks = slices.Clone(p.Trunks)
	n.OtherConfig = maps.Clone(p.OtherConfig)
	n.ExternalIDs = maps.Clone(p.ExternalIDs)
	return &n
}

// equal reports whether two bridge configurations agree, ports aside.
func (b *bridgeConf) equal(o *bridgeConf) bool {
	return b.ID == o.ID && b.Name == o.Name && slices.Equal(b.Protocols, o.Protocols) && b.FailMode == o.FailMode &&
		slices.Equal(b.Controllers, o.Controllers) &&
		maps.Equal(b.OtherConfig, o.OtherConfig) && maps.Equal(b.ExternalIDs, o.ExternalIDs)
}

func (p *portConf) equal(o *portConf) bool {
	return p.Name == o.Name && p.Type == o.Type && p.Tag == o.Tag && p.OFPortRequest == o.OFPortRequest && p.MAC == o.MAC &&
		p.OFPort == o.OFPort && slices.Equal(p.Trunks, o.Trunks) &&
		maps.Equal(p.OtherConfig, o.OtherConfig) && maps.Equal(p.ExternalIDs, o.ExternalIDs)
}

// portOwner returns the bridge holding port name, or nil.
func (c *switchConf) portOwner(name string) *bridgeConf {
	for _, b := range c.Bridges {
		if _, ok := b.Ports[name]; ok {
			return b
		}
	}
	return nil
}

// loadConf reads the switch configuration and uuid from the store,
// creating the uuid on first use.
func (d *Daemon) loadConf() error {
	conf := &switchConf{Bridges: make(map[string]*bridgeConf)}
	var uuid string
	err := d.st.View(func(tx *store.Tx) error {
		uuid = string(tx.Get(switchPath, "uuid"))
		for _, name := range tx.Buckets(bridgesPath) {
			b := &bridgeConf{Name: name}
			if raw := tx.Get(bridgePath(name), "config"); raw != nil {
				if err := json.Unmarshal(raw, b); err != nil {
					return fmt.Errorf("bridge %s: %w", name, err)
				}
			}
			b.Ports = make(map[string]*portConf)
			err := tx.ForEach(portsPath(name), func(k string, v []byte) error {
				p := &portConf{}
				if err := json.Unmarshal(v, p); err != nil {
					return fmt.Errorf("bridge %s port %s: %w", name, k, err)
				}
				b.Ports[p.Name] = p
				return nil
			})
			if err != nil {
				return err
			}
			conf.Bridges[name] = b
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("daemon: reading store: %w", err)
	}
	if uuid == "" {
		uuid = newUUID()
		if err := d.st.Update(func(tx *store.Tx) error { return tx.Put(switchPath, "uuid", []byte(uuid)) }); err != nil {
			return fmt.Errorf("daemon: writing store: %w", err)
		}
	}
	d.conf, d.uuid = conf, uuid
	return nil
}

// putConf writes the difference between old and next in tx: removed
// bridges (with their ports and flows) and ports are deleted, changed ones
// rewritten. A new bridge also gets the default flow, as it has on creation.
func putConf(tx *store.Tx, old, next *switchConf) error {
	for name, ob := range old.Bridges {
		if nb, ok := next.Bridges[name]; !ok || nb.ID != ob.ID {
			if err := tx.DeleteBucket(bridgePath(name)); err != nil {
				return err
			}
		}
	}
	for name, nb := range next.Bridges {
		ob := old.Bridges[name]
		if ob != nil && ob.ID != nb.ID {
			ob = nil // recreated: written afresh
		}
		if ob == nil || !ob.equal(nb) {
			raw, err := json.Marshal(nb)
			if err != nil {
				return err
			}
			if err := tx.Put(bridgePath(name), "config", raw); err != nil {
				return err
			}
		}
		if ob == nil {
			if err := tx.Put(flowsPath(name), defaultFlowKey, []byte(defaultFlowText)); err != nil {
				return err
			}
			ob = &bridgeConf{}
		}
		for pn := range ob.Ports {
			if _, ok := nb.Ports[pn]; !ok {
				if err := tx.Delete(portsPath(name), pn); err != nil {
					return err
				}
			}
		}
		for pn, np := range nb.Ports {
			if op := ob.Ports[pn]; op != nil && op.equal(np) {
				continue
			}
			raw, err := json.Marshal(np)
			if err != nil {
				return err
			}
			if err := tx.Put(portsPath(name), pn, raw); err != nil {
				return err
			}
		}
	}
	return nil
}

// newUUID returns a random (version 4) UUID, as ovsdb gives every row.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on Linux
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
