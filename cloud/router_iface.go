package cloud

import "net/netip"

// AddRouterInterface attaches a router to a subnet, by a new port holding
// the subnet's gateway address, or by taking over an unbound port.
func (s *State) AddRouterInterface(env Env, routerID string, req RouterInterfaceRequest) (*RouterInterfaceInfo, error) {
	r := s.Routers[routerID]
	if r == nil {
		return nil, errRouterNotFound(routerID)
	}
	switch {
	case req.SubnetID != "" && req.PortID != "":
		return nil, badRequest("router", "Cannot specify both subnet-id and port-id")
	case req.SubnetID == "" && req.PortID == "":
		return nil, badRequest("router", "Either subnet_id or port_id must be specified")
	case req.PortID != "":
		return s.addInterfacePort(routerID, req.PortID)
	}
	sn := s.Subnets[req.SubnetID]
	if sn == nil {
		return nil, errSubnetNotFound(req.SubnetID)
	}
	if !sn.GatewayIP.IsValid() {
		return nil, badRequest("router", "Subnet for router interface must have a gateway IP")
	}
	if err := s.checkInterfaceSubnet(routerID, sn); err != nil {
		return nil, err
	}
	n := s.Networks[sn.NetworkID]
	al := newAllocator(s)
	if err := al.take(sn, sn.GatewayIP); err != nil {
		return nil, err
	}
	mac, err := s.portMAC(env, n.ID, nil)
	if err != nil {
		return nil, err
	}
	p := &Port{ID: env.NewID(), NetworkID: n.ID, MACAddress: mac, FixedIPs: []FixedIP{{SubnetID: sn.ID, IPAddress: sn.GatewayIP}},
		DeviceOwner: OwnerRouterInterface, DeviceID: routerID, AdminStateUp: true, PortSecurityEnabled: true,
		SecurityGroups: []string{}, AllowedAddressPairs: []AddressPair{}}
	p.Status = portStatus(p)
	s.Ports[p.ID] = p
	return interfaceInfo(routerID, p), nil
}

func (s *State) addInterfacePort(routerID, portID string) (*RouterInterfaceInfo, error) {
	p := s.Ports[portID]
	if p == nil {
		return nil, errPortNotFound(portID)
	}
	if p.DeviceID != "" || p.DeviceOwner != "" {
		return nil, errPortInUse(p)
	}
	if len(p.FixedIPs) == 0 {
		return nil, badRequest("router", "Router port must have at least one fixed IP")
	}
	if len(p.FixedIPs) > 1 {
		return nil, badRequest("router", "Cannot have multiple IPv4 subnets on router port")
	}
	sn := s.Subnets[p.FixedIPs[0].SubnetID]
	if err := s.checkInterfaceSubnet(routerID, sn); err != nil {
		return nil, err
	}
	p.DeviceOwner, p.DeviceID = OwnerRouterInterface, routerID
	p.SecurityGroups = []string{}
	p.Status = portStatus(p)
	return interfaceInfo(routerID, p), nil
}

// checkInterfaceSubnet refuses a second port on one subnet and subnets
// that overlap others of the router (Neutron's _check_for_dup_router_subnets).
func (s *State) checkInterfaceSubnet(routerID string, sn *Subnet) error {
	for _, p := range s.routerPorts(routerID) {
		for _, ip := range p.FixedIPs {
			if ip.SubnetID == sn.ID {
				return badRequest("router", "Router already has a port on subnet %s", sn.ID)
			}
			if o := s.Subnets[ip.SubnetID]; o != nil && o.CIDR.Overlaps(sn.CIDR) {
				return badRequest("router", "Cidr %s of subnet %s overlaps with cidr %s of subnet %s", sn.CIDR, sn.ID, o.CIDR, o.ID)
			}
		}
	}
	return nil
}

func interfaceInfo(routerID string, p *Port) *RouterInterfaceInfo {
	info := &RouterInterfaceInfo{ID: routerID, NetworkID: p.NetworkID, PortID: p.ID, SubnetIDs: []string{}}
	for _, ip := range p.FixedIPs {
		info.SubnetIDs = append(info.SubnetIDs, ip.SubnetID)
	}
	if len(info.SubnetIDs) > 0 {
		info.SubnetID = info.SubnetIDs[0]
	}
	return info
}

// RemoveRouterInterface detaches a router from a subnet (or by its port)
// and deletes the interface port. It is refused while a floating IP
// associated through the router needs the subnet, or a static route's
// nexthop is only reachable through it.
func (s *State) RemoveRouterInterface(routerID string, req RouterInterfaceRequest) (*RouterInterfaceInfo, error) {
	if s.Routers[routerID] == nil {
		return nil, errRouterNotFound(routerID)
	}
	p, err := s.findInterface(routerID, req)
	if err != nil {
		return nil, err
	}
	for _, ip := range p.FixedIPs {
		if err := s.checkInterfaceUnused(routerID, p, ip.SubnetID); err != nil {
			return nil, err
		}
	}
	info := interfaceInfo(routerID, p)
	delete(s.Ports, p.ID)
	return info, nil
}

func (s *State) findInterface(routerID string, req RouterInterfaceRequest) (*Port, error) {
	if req.PortID != "" {
		p := s.Ports[req.PortID]
		if p == nil || p.DeviceID != routerID || p.DeviceOwner != OwnerRouterInterface {
			return nil, notFound("RouterInterfaceNotFound", "Router %s does not have an interface with id %s", routerID, req.PortID)
		}
		if req.SubnetID != "" && !(len(p.FixedIPs) > 0 && p.FixedIPs[0].SubnetID == req.SubnetID) {
			return nil, errorf(400, "SubnetMismatchForPort", "Subnet on port %s does not match the requested subnet %s.", p.ID, req.SubnetID)
		}
		return p, nil
	}
	if req.SubnetID == "" {
		return nil, badRequest("router", "Either subnet_id or port_id must be specified")
	}
	if s.Subnets[req.SubnetID] == nil {
		return nil, errSubnetNotFound(req.SubnetID)
	}
	for _, p := range s.routerPorts(routerID) {
		for _, ip := range p.FixedIPs {
			if ip.SubnetID == req.SubnetID {
				return p, nil
			}
		}
	}
	return nil, notFound("RouterInterfaceNotFoundForSubnet", "Router %s has no interface on subnet %s", routerID, req.SubnetID)
}

func (s *State) checkInterfaceUnused(routerID string, p *Port, subnetID string) error {
	sn := s.Subnets[subnetID]
	for _, fid := range sortedIDs(s.FloatingIPs) {
		f := s.FloatingIPs[fid]
		if f.RouterID == routerID && sn != nil && sn.CIDR.Contains(f.FixedIPAddress) {
			return conflict("RouterInterfaceInUseByFloatingIP", "Router interface for subnet %s on router %s cannot be deleted, as it is required by one or more floating IPs.", subnetID, routerID)
		}
	}
	r := s.Routers[routerID]
	for _, rt := range r.Routes {
		if sn != nil && sn.CIDR.Contains(rt.Nexthop) && !s.reachableElsewhere(routerID, p.ID, rt.Nexthop) {
			return conflict("RouterInterfaceInUseByRoute", "Router interface for subnet %s on router %s cannot be deleted, as it is required by one or more routes.", subnetID, routerID)
		}
	}
	return nil
}

// reachableElsewhere reports whether another port of the router (gateway
// included) is on a subnet holding a.
func (s *State) reachableElsewhere(routerID, skip string, a netip.Addr) bool {
	for _, p := range s.Ports {
		if p.ID == skip || p.DeviceID != routerID {
			continue
		}
		for _, ip := range p.FixedIPs {
			if sn := s.Subnets[ip.SubnetID]; sn != nil && sn.CIDR.Contains(a) {
				return true
			}
		}
	}
	return false
}
