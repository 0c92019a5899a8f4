package cloud

import (
	"net/netip"
	"strings"
)

// FloatingIPRequest is a floating IP create or update body.
type FloatingIPRequest struct {
	FloatingNetworkID *string          `json:"floating_network_id"`
	FloatingIPAddress *string          `json:"floating_ip_address"`
	SubnetID          *string          `json:"subnet_id"`
	PortID            Nullable[string] `json:"port_id"`
	FixedIPAddress    Nullable[string] `json:"fixed_ip_address"`
	Description       *string          `json:"description"`
	ProjectID         *string          `json:"project_id"` // accepted, not stored
	TenantID          *string          `json:"tenant_id"`  // accepted, not stored
}

// CreateFloatingIP allocates an address on an external network, held by a
// port owned by the floating IP, and associates it at once when port_id
// is given.
func (s *State) CreateFloatingIP(env Env, req FloatingIPRequest) (*FloatingIP, error) {
	if req.FloatingNetworkID == nil {
		return nil, invalidAttr("floating_network_id", "'None' is not a valid UUID")
	}
	n := s.Networks[*req.FloatingNetworkID]
	if n == nil {
		return nil, errNetworkNotFound(*req.FloatingNetworkID)
	}
	if !n.External {
		return nil, badRequest("floatingip", "Network %s is not a valid external network", n.ID)
	}
	if len(n.Subnets) == 0 {
		return nil, badRequest("floatingip", "Network %s does not contain any IPv4 subnet", n.ID)
	}
	fixed := FixedIPRequest{SubnetID: deref(req.SubnetID, ""), IPAddress: deref(req.FloatingIPAddress, "")}
	if fixed == (FixedIPRequest{}) {
		fixed.SubnetID = n.Subnets[0]
	}
	f := &FloatingIP{ID: env.NewID(), FloatingNetworkID: n.ID, Description: deref(req.Description, ""), Status: "DOWN"}
	ips, err := s.resolveFixedIPs(newAllocator(s), n, []FixedIPRequest{fixed}, nil, OwnerFloatingIP)
	if err != nil {
		if e, ok := err.(*Error); ok && e.Type == "IpAddressGenerationFailure" {
			return nil, errorf(400, "ExternalIpAddressExhausted", "Unable to find any IP address on external network %s.", n.ID)
		}
		return nil, err
	}
	f.FloatingIPAddress = ips[0].IPAddress
	if err := s.associate(f, req); err != nil {
		return nil, err
	}
	mac, err := s.portMAC(env, n.ID, nil)
	if err != nil {
		return nil, err
	}
	p := &Port{ID: env.NewID(), NetworkID: n.ID, MACAddress: mac, FixedIPs: ips, DeviceOwner: OwnerFloatingIP, DeviceID: f.ID,
		AdminStateUp: true, SecurityGroups: []string{}, AllowedAddressPairs: []AddressPair{}}
	p.Status = portStatus(p)
	s.Ports[p.ID] = p
	s.FloatingIPs[f.ID] = f
	return f, nil
}

// associate applies port_id/fixed_ip_address from a request to f, checked
// as Neutron's l3_db does; f is changed only when all checks pass.
func (s *State) associate(f *FloatingIP, req FloatingIPRequest) error {
	if req.FixedIPAddress.Set && !req.FixedIPAddress.Null && (!req.PortID.Set || req.PortID.Null) && f.PortID == "" {
		return badRequest("floatingip", "fixed_ip_address cannot be specified without a port_id")
	}
	if !req.PortID.Set {
		return nil
	}
	if req.PortID.Null || req.PortID.Value == "" {
		disassociate(f)
		return nil
	}
	port := s.Ports[req.PortID.Value]
	if port == nil {
		return errPortNotFound(req.PortID.Value)
	}
	if strings.HasPrefix(port.DeviceOwner, "network:") {
		return badRequest("floatingip", "Port %s is unable to be assigned a floating IP", port.ID)
	}
	ip, err := fixedIPForFIP(port, req.FixedIPAddress)
	if err != nil {
		return err
	}
	routerID, err := s.routerForFIP(port, ip, f.FloatingNetworkID)
	if err != nil {
		return err
	}
	for _, o := range s.FloatingIPs {
		if o.ID != f.ID && o.PortID == port.ID && o.FixedIPAddress == ip.IPAddress && o.FloatingNetworkID == f.FloatingNetworkID {
			return conflict("FloatingIPPortAlreadyAssociated", "Cannot associate floating IP %s (%s) with port %s using fixed IP %s, as that fixed IP already has a floating IP on external network %s.",
				addrOrNone(f.FloatingIPAddress), f.ID, port.ID, ip.IPAddress, f.FloatingNetworkID)
		}
	}
	f.PortID, f.FixedIPAddress, f.RouterID, f.Status = port.ID, ip.IPAddress, routerID, "ACTIVE"
	return nil
}

func addrOrNone(a netip.Addr) string {
	if !a.IsValid() {
		return "None"
	}
	return a.String()
}

// fixedIPForFIP picks the port's address a floating IP maps to: the one
// given, else its only IPv4 address.
func fixedIPForFIP(port *Port, given Nullable[string]) (FixedIP, error) {
	if given.Set && !given.Null {
		a, err := netip.ParseAddr(given.Value)
		if err != nil || !a.Is4() {
			return FixedIP{}, badRequest("floatingip", "Cannot process floating IP association with %s, since that is not an IPv4 address", given.Value)
		}
		for _, ip := range port.FixedIPs {
			if ip.IPAddress == a {
				return ip, nil
			}
		}
		return FixedIP{}, badRequest("floatingip", "Port %s does not have fixed ip %s", port.ID, a)
	}
	switch len(port.FixedIPs) {
	case 0:
		return FixedIP{}, badRequest("floatingip", "Cannot add floating IP to port %s that has no fixed IPv4 addresses", port.ID)
	case 1:
		return port.FixedIPs[0], nil
	}
	return FixedIP{}, badRequest("floatingip", "Port %s has multiple fixed IPv4 addresses.  Must provide a specific IPv4 address when assigning a floating IP", port.ID)
}

// routerForFIP finds the router that connects the fixed IP's subnet to the
// floating network: an interface on the subnet and a gateway on the
// network (the lowest router id when several do).
func (s *State) routerForFIP(port *Port, ip FixedIP, extNet string) (string, error) {
	for _, rid := range sortedIDs(s.Routers) {
		r := s.Routers[rid]
		if r.ExternalGatewayInfo == nil || r.ExternalGatewayInfo.NetworkID != extNet {
			continue
		}
		for _, rp := range s.routerPorts(rid) {
			for _, rip := range rp.FixedIPs {
				if rip.SubnetID == ip.SubnetID {
					return rid, nil
				}
			}
		}
	}
	return "", notFound("ExternalGatewayForFloatingIPNotFound", "External network %s is not reachable from subnet %s.  Therefore, cannot associate Port %s with a Floating IP.", extNet, ip.SubnetID, port.ID)
}

func disassociate(f *FloatingIP) {
	f.PortID, f.FixedIPAddress, f.RouterID, f.Status = "", netip.Addr{}, "", "DOWN"
}

// UpdateFloatingIP associates (port_id, fixed_ip_address), disassociates
// ("port_id": null) or changes the description.
func (s *State) UpdateFloatingIP(id string, req FloatingIPRequest) (*FloatingIP, error) {
	old := s.FloatingIPs[id]
	if old == nil {
		return nil, errFloatingIPNotFound(id)
	}
	if req.FloatingNetworkID != nil || req.FloatingIPAddress != nil || req.SubnetID != nil {
		return nil, badRequest("floatingip", "Cannot update read-only attribute floating_network_id, floating_ip_address or subnet_id")
	}
	f := *old
	if req.FixedIPAddress.Set && !req.PortID.Set && f.PortID != "" {
		req.PortID = Nullable[string]{Set: true, Value: f.PortID}
	}
	if err := s.associate(&f, req); err != nil {
		return nil, err
	}
	f.Description = deref(req.Description, f.Description)
	*old = f
	return old, nil
}

// DeleteFloatingIP deletes a floating IP and its port, freeing the address.
func (s *State) DeleteFloatingIP(id string) error {
	if s.FloatingIPs[id] == nil {
		return errFloatingIPNotFound(id)
	}
	for _, pid := range sortedIDs(s.Ports) {
		if p := s.Ports[pid]; p.DeviceOwner == OwnerFloatingIP && p.DeviceID == id {
			delete(s.Ports, pid)
		}
	}
	delete(s.FloatingIPs, id)
	return nil
}
