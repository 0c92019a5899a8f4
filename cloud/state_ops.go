package cloud

import (
	"encoding/json"
	"maps"
	"net/netip"
	"slices"
)

// NewState returns an empty cloud whose maps are all non-nil.
func NewState() *State {
	return &State{
		Networks:       map[string]*Network{},
		Subnets:        map[string]*Subnet{},
		Ports:          map[string]*Port{},
		Routers:        map[string]*Router{},
		FloatingIPs:    map[string]*FloatingIP{},
		SecurityGroups: map[string]*SecurityGroup{},
		Servers:        map[string]*Server{},
	}
}

// Clone returns a deep copy of s: no map, slice or pointer is shared, so
// an operation applied to the clone never shows through s.
func (s *State) Clone() *State {
	c := NewState()
	for id, n := range s.Networks {
		v := *n
		v.Subnets = slices.Clone(n.Subnets)
		c.Networks[id] = &v
	}
	for id, sn := range s.Subnets {
		c.Subnets[id] = cloneSubnet(sn)
	}
	for id, p := range s.Ports {
		c.Ports[id] = clonePort(p)
	}
	for id, r := range s.Routers {
		v := *r
		v.Routes = slices.Clone(r.Routes)
		if r.ExternalGatewayInfo != nil {
			g := *r.ExternalGatewayInfo
			g.ExternalFixedIPs = slices.Clone(g.ExternalFixedIPs)
			v.ExternalGatewayInfo = &g
		}
		c.Routers[id] = &v
	}
	for id, f := range s.FloatingIPs {
		v := *f
		c.FloatingIPs[id] = &v
	}
	for id, g := range s.SecurityGroups {
		c.SecurityGroups[id] = cloneSecurityGroup(g)
	}
	for id, sv := range s.Servers {
		v := *sv
		v.Ports = slices.Clone(sv.Ports)
		v.CreatedPorts = slices.Clone(sv.CreatedPorts)
		c.Servers[id] = &v
	}
	return c
}

func cloneSubnet(sn *Subnet) *Subnet {
	v := *sn
	v.AllocationPools = slices.Clone(sn.AllocationPools)
	v.DNSNameservers = slices.Clone(sn.DNSNameservers)
	v.HostRoutes = slices.Clone(sn.HostRoutes)
	return &v
}

func clonePort(p *Port) *Port {
	v := *p
	v.FixedIPs = slices.Clone(p.FixedIPs)
	v.AllowedAddressPairs = slices.Clone(p.AllowedAddressPairs)
	v.SecurityGroups = slices.Clone(p.SecurityGroups)
	return &v
}

func cloneSecurityGroup(g *SecurityGroup) *SecurityGroup {
	v := *g
	v.Rules = make([]SecurityGroupRule, len(g.Rules))
	for i, r := range g.Rules {
		v.Rules[i] = cloneRule(r)
	}
	if g.Rules == nil {
		v.Rules = nil
	}
	return &v
}

func cloneRule(r SecurityGroupRule) SecurityGroupRule {
	if r.PortRangeMin != nil {
		m := *r.PortRangeMin
		r.PortRangeMin = &m
	}
	if r.PortRangeMax != nil {
		m := *r.PortRangeMax
		r.PortRangeMax = &m
	}
	return r
}

// UnmarshalJSON decodes a stored State and makes every map non-nil, so
// that a State read from an old or hand-written file is usable at once.
func (s *State) UnmarshalJSON(b []byte) error {
	type plain State
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	*s = State(p)
	e := NewState()
	if s.Networks == nil {
		s.Networks = e.Networks
	}
	if s.Subnets == nil {
		s.Subnets = e.Subnets
	}
	if s.Ports == nil {
		s.Ports = e.Ports
	}
	if s.Routers == nil {
		s.Routers = e.Routers
	}
	if s.FloatingIPs == nil {
		s.FloatingIPs = e.FloatingIPs
	}
	if s.SecurityGroups == nil {
		s.SecurityGroups = e.SecurityGroups
	}
	if s.Servers == nil {
		s.Servers = e.Servers
	}
	return nil
}

// MarshalJSON writes a floating IP as Neutron does: port_id,
// fixed_ip_address and router_id are null while it is not associated.
func (f FloatingIP) MarshalJSON() ([]byte, error) {
	type plain FloatingIP
	return json.Marshal(struct {
		plain
		PortID         *string     `json:"port_id"`
		FixedIPAddress *netip.Addr `json:"fixed_ip_address"`
		RouterID       *string     `json:"router_id"`
	}{plain(f), nonEmpty(f.PortID), validAddr(f.FixedIPAddress), nonEmpty(f.RouterID)})
}

// MarshalJSON writes a subnet as Neutron does: gateway_ip is null when
// the subnet has no gateway.
func (sn Subnet) MarshalJSON() ([]byte, error) {
	type plain Subnet
	return json.Marshal(struct {
		plain
		GatewayIP *netip.Addr `json:"gateway_ip"`
	}{plain(sn), validAddr(sn.GatewayIP)})
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func validAddr(a netip.Addr) *netip.Addr {
	if !a.IsValid() {
		return nil
	}
	return &a
}

// sortedIDs returns a map's keys in order, so that every walk over the
// state (allocation, lookups that may match several objects) is
// deterministic.
func sortedIDs[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

// MarshalJSON writes a rule as Neutron does: protocol, remote_ip_prefix
// and remote_group_id are null when not set.
func (r SecurityGroupRule) MarshalJSON() ([]byte, error) {
	type plain SecurityGroupRule
	return json.Marshal(struct {
		plain
		Protocol       *string `json:"protocol"`
		RemoteIPPrefix *string `json:"remote_ip_prefix"`
		RemoteGroupID  *string `json:"remote_group_id"`
	}{plain(r), nonEmpty(r.Protocol), nonEmpty(r.RemoteIPPrefix), nonEmpty(r.RemoteGroupID)})
}
