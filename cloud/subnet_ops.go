package cloud

import (
	"net/netip"
	"slices"
)

// CreateSubnet creates an IPv4 subnet on a network. The gateway defaults
// to the first host address ("gateway_ip": null: none); allocation pools
// default to every host address but the gateway.
func (s *State) CreateSubnet(env Env, req SubnetRequest) (*Subnet, error) {
	if req.NetworkID == nil {
		return nil, invalidAttr("network_id", "'None' is not a valid UUID")
	}
	n := s.Networks[*req.NetworkID]
	if n == nil {
		return nil, errNetworkNotFound(*req.NetworkID)
	}
	if v := deref(req.IPVersion, 4); v != 4 {
		if v == 6 {
			return nil, invalidInput("ip_version 6 is not supported yet: tapestry subnets are IPv4 only")
		}
		return nil, invalidAttr("ip_version", "%d is not in [4, 6]", v)
	}
	if req.CIDR == nil {
		return nil, badRequest("subnets", "a cidr must be specified in the absence of a subnet pool")
	}
	cidr, err := parseSubnetCIDR(*req.CIDR)
	if err != nil {
		return nil, err
	}
	if err := s.checkOverlap(n, cidr, ""); err != nil {
		return nil, err
	}
	sn := &Subnet{Name: deref(req.Name, ""), NetworkID: n.ID, IPVersion: 4, CIDR: cidr,
		DNSNameservers: []netip.Addr{}, HostRoutes: []HostRoute{}, EnableDHCP: deref(req.EnableDHCP, true)}
	if first, _ := hostRange(cidr); !req.GatewayIP.Set {
		sn.GatewayIP = first
	} else if !req.GatewayIP.Null {
		if sn.GatewayIP, err = parseGateway(req.GatewayIP.Value, cidr); err != nil {
			return nil, err
		}
	}
	sn.AllocationPools = defaultPools(cidr, sn.GatewayIP)
	if req.AllocationPools != nil {
		sn.AllocationPools = slices.Clone(*req.AllocationPools)
	}
	if err := validatePools(sn.AllocationPools, cidr, sn.GatewayIP); err != nil {
		return nil, err
	}
	if err := applySubnetLists(sn, req); err != nil {
		return nil, err
	}
	sn.ID = env.NewID()
	s.Subnets[sn.ID] = sn
	n.Subnets = append(n.Subnets, sn.ID)
	return sn, nil
}

// parseSubnetCIDR accepts only a network address, as Neutron's
// validate_subnet does, recommending the masked form.
func parseSubnetCIDR(text string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(text)
	if err != nil {
		if a, aerr := netip.ParseAddr(text); aerr == nil && a.Is4() {
			return netip.Prefix{}, invalidInput("'%s' isn't a recognized IP subnet cidr, '%s/32' is recommended", text, a)
		}
		return netip.Prefix{}, invalidInput("'%s' is not a valid IP subnet", text)
	}
	if !p.Addr().Is4() {
		return netip.Prefix{}, invalidInput("ip_version 6 is not supported yet: tapestry subnets are IPv4 only")
	}
	if p.Masked() != p {
		return netip.Prefix{}, invalidInput("'%s' isn't a recognized IP subnet cidr, '%s' is recommended", text, p.Masked())
	}
	return p, nil
}

func parseGateway(text string, cidr netip.Prefix) (netip.Addr, error) {
	gw, err := parseAddr4("gateway_ip", text)
	if err != nil {
		return gw, err
	}
	if !isHost(cidr, gw) {
		return netip.Addr{}, invalidInput("Gateway is not valid on subnet")
	}
	return gw, nil
}

// checkOverlap refuses a CIDR that overlaps another subnet of the network
// (Neutron's _validate_subnet_cidr; it names the network, not the other
// subnet).
func (s *State) checkOverlap(n *Network, cidr netip.Prefix, self string) error {
	for _, id := range n.Subnets {
		if o := s.Subnets[id]; o != nil && id != self && o.CIDR.Overlaps(cidr) {
			return invalidInput("Requested subnet with cidr: %s for network: %s overlaps with another subnet", cidr, n.ID)
		}
	}
	return nil
}

func applySubnetLists(sn *Subnet, req SubnetRequest) error {
	if req.DNSNameservers != nil {
		for _, a := range *req.DNSNameservers {
			if !a.Is4() {
				return invalidAttr("dns_nameservers", "'%s' is not a valid nameserver", a)
			}
		}
		sn.DNSNameservers = slices.Clone(*req.DNSNameservers)
	}
	if req.HostRoutes != nil {
		for _, r := range *req.HostRoutes {
			if !r.Destination.Addr().Is4() || !r.Nexthop.Is4() {
				return invalidAttr("host_routes", "'%v' is not a valid host route", r)
			}
		}
		sn.HostRoutes = slices.Clone(*req.HostRoutes)
	}
	return nil
}

// UpdateSubnet changes name, gateway_ip, allocation_pools, dns_nameservers,
// host_routes and enable_dhcp. network_id, cidr and ip_version are fixed.
func (s *State) UpdateSubnet(id string, req SubnetRequest) (*Subnet, error) {
	old := s.Subnets[id]
	if old == nil {
		return nil, errSubnetNotFound(id)
	}
	for _, ro := range []struct {
		attr  string
		given bool
	}{{"network_id", req.NetworkID != nil}, {"ip_version", req.IPVersion != nil}, {"cidr", req.CIDR != nil}} {
		if ro.given {
			return nil, errorf(400, "HTTPBadRequest", "Cannot update read-only attribute %s", ro.attr)
		}
	}
	sn := cloneSubnet(old)
	sn.Name = deref(req.Name, sn.Name)
	sn.EnableDHCP = deref(req.EnableDHCP, sn.EnableDHCP)
	if req.GatewayIP.Set {
		gw := netip.Addr{}
		if !req.GatewayIP.Null {
			var err error
			if gw, err = parseGateway(req.GatewayIP.Value, sn.CIDR); err != nil {
				return nil, err
			}
		}
		if err := s.checkGatewayChange(old, gw); err != nil {
			return nil, err
		}
		sn.GatewayIP = gw
	}
	if req.AllocationPools != nil {
		sn.AllocationPools = slices.Clone(*req.AllocationPools)
	}
	if err := validatePools(sn.AllocationPools, sn.CIDR, sn.GatewayIP); err != nil {
		return nil, err
	}
	if err := applySubnetLists(sn, req); err != nil {
		return nil, err
	}
	*old = *sn
	return old, nil
}

// checkGatewayChange refuses to move a gateway a router interface holds,
// or onto an address a port holds (Neutron's GatewayIpInUse).
func (s *State) checkGatewayChange(sn *Subnet, gw netip.Addr) error {
	if gw == sn.GatewayIP {
		return nil
	}
	for _, id := range sortedIDs(s.Ports) {
		p := s.Ports[id]
		for _, ip := range p.FixedIPs {
			if ip.SubnetID != sn.ID {
				continue
			}
			if ip.IPAddress == sn.GatewayIP && p.DeviceOwner == OwnerRouterInterface {
				return conflict("SubnetInUse", "Unable to complete operation on subnet %s: gateway %s is used by router interface %s.", sn.ID, sn.GatewayIP, p.ID)
			}
			if ip.IPAddress == gw {
				return conflict("GatewayIpInUse", "Current gateway ip %s already in use by port %s. Unable to update.", gw, p.ID)
			}
		}
	}
	return nil
}

// DeleteSubnet deletes a subnet no port has an address on (SubnetInUse
// otherwise, router interfaces included, as in Neutron; DHCP ports would
// be cleaned up).
func (s *State) DeleteSubnet(id string) error {
	sn := s.Subnets[id]
	if sn == nil {
		return errSubnetNotFound(id)
	}
	for _, p := range s.Ports {
		for _, ip := range p.FixedIPs {
			if ip.SubnetID == id && p.DeviceOwner != "network:dhcp" {
				return conflict("SubnetInUse", "Unable to complete operation on subnet %s: One or more ports have an IP allocation from this subnet.", id)
			}
		}
	}
	for _, p := range s.Ports {
		p.FixedIPs = slices.DeleteFunc(p.FixedIPs, func(ip FixedIP) bool { return ip.SubnetID == id })
	}
	if n := s.Networks[sn.NetworkID]; n != nil {
		n.Subnets = slices.DeleteFunc(n.Subnets, func(x string) bool { return x == id })
	}
	delete(s.Subnets, id)
	return nil
}
