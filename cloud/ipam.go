package cloud

import (
	"net/netip"
)

// IPAM: the addresses in use are the fixed IPs of the ports; there is no
// separate allocation table to drift from them. An allocator adds the
// addresses one request has already picked (a request may create several
// ports) and hands out the lowest free address of a subnet's pools, in pool
// order. Neutron's default IPAM driver picks an arbitrary free address; the
// lowest one makes tapestry's addresses predictable.

// defaultPools is Neutron's default allocation: every host address of the
// CIDR except the gateway (network and broadcast addresses are not hosts
// for prefixes up to /30; /31 and /32 have no such addresses, RFC 3021).
// A gateway inside the range splits it in two pools.
func defaultPools(cidr netip.Prefix, gw netip.Addr) []Pool {
	first, last := hostRange(cidr)
	if !first.IsValid() {
		return []Pool{}
	}
	if !gw.IsValid() || gw.Less(first) || last.Less(gw) {
		return []Pool{{first, last}}
	}
	pools := []Pool{}
	if first.Less(gw) {
		pools = append(pools, Pool{first, gw.Prev()})
	}
	if gw.Less(last) {
		pools = append(pools, Pool{gw.Next(), last})
	}
	return pools
}

// hostRange is the first and last host address of an IPv4 prefix.
func hostRange(cidr netip.Prefix) (first, last netip.Addr) {
	cidr = cidr.Masked()
	first = cidr.Addr()
	last = broadcast(cidr)
	if cidr.Bits() <= 30 {
		first, last = first.Next(), last.Prev()
	}
	return first, last
}

// broadcast is the last address of an IPv4 prefix.
func broadcast(cidr netip.Prefix) netip.Addr {
	a := cidr.Masked().Addr().As4()
	host := uint32(1)<<(32-cidr.Bits()) - 1
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	v |= host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// isHost reports whether a may be given to a port on the subnet: inside
// the CIDR and not its network or broadcast address (Neutron's
// ipam_utils.check_subnet_ip).
func isHost(cidr netip.Prefix, a netip.Addr) bool {
	if !cidr.Contains(a) {
		return false
	}
	first, last := hostRange(cidr)
	return !a.Less(first) && !last.Less(a)
}

func inPool(p Pool, a netip.Addr) bool { return !a.Less(p.Start) && !p.End.Less(a) }

func poolString(p Pool) string { return p.Start.String() + "-" + p.End.String() }

// allocator tracks, for one request, the addresses it has taken and the
// ports whose current addresses it may reuse (an updated port keeps what
// it already holds).
type allocator struct {
	s      *State
	taken  map[netip.Addr]string // address -> subnet id, this request
	ignore map[string]bool       // ports whose addresses count as free
	used   map[string]map[netip.Addr]string
}

func newAllocator(s *State) *allocator {
	return &allocator{s: s, taken: map[netip.Addr]string{}, ignore: map[string]bool{}}
}

// usedOn is the subnet's addresses held by ports, address -> port id.
func (al *allocator) usedOn(subnetID string) map[netip.Addr]string {
	if al.used == nil {
		al.used = map[string]map[netip.Addr]string{}
		for id, p := range al.s.Ports { // an address has one holder: order is irrelevant
			for _, ip := range p.FixedIPs {
				m := al.used[ip.SubnetID]
				if m == nil {
					m = map[netip.Addr]string{}
					al.used[ip.SubnetID] = m
				}
				m[ip.IPAddress] = id
			}
		}
	}
	return al.used[subnetID]
}

func (al *allocator) inUse(subnetID string, a netip.Addr) bool {
	if sid, ok := al.taken[a]; ok && sid == subnetID {
		return true
	}
	holder, ok := al.usedOn(subnetID)[a]
	return ok && !al.ignore[holder]
}

// take claims a specific address: IpAddressAlreadyAllocated when a port
// (or this request) has it.
func (al *allocator) take(sn *Subnet, a netip.Addr) error {
	if al.inUse(sn.ID, a) {
		return errIPAllocated(a, sn.ID)
	}
	al.taken[a] = sn.ID
	return nil
}

// next claims the lowest free address of the subnet's pools.
func (al *allocator) next(sn *Subnet) (netip.Addr, bool) {
	for _, p := range sn.AllocationPools {
		for a := p.Start; a.IsValid() && !p.End.Less(a); a = a.Next() {
			if !al.inUse(sn.ID, a) {
				al.taken[a] = sn.ID
				return a, true
			}
		}
	}
	return netip.Addr{}, false
}

// subnetOf finds the network's subnet whose CIDR holds a.
func (s *State) subnetOf(net *Network, a netip.Addr) *Subnet {
	for _, id := range net.Subnets {
		if sn := s.Subnets[id]; sn != nil && sn.CIDR.Contains(a) {
			return sn
		}
	}
	return nil
}

// FixedIPRequest is one entry of a port's fixed_ips in a request: a
// subnet, an address, or both.
type FixedIPRequest struct {
	SubnetID  string `json:"subnet_id,omitempty"`
	IPAddress string `json:"ip_address,omitempty"`
}

// resolveFixedIPs turns a request's fixed_ips into addresses, as Neutron's
// IPAM does: an address alone finds its subnet on the network, a subnet
// alone gets the next free address, both must agree. held are the port's
// current addresses (on update): a subnet-only entry keeps one it holds.
func (s *State) resolveFixedIPs(al *allocator, net *Network, reqs []FixedIPRequest, held []FixedIP, owner string) ([]FixedIP, error) {
	out := []FixedIP{}
	keep := map[int]bool{}
	for _, r := range reqs {
		var sn *Subnet
		if r.SubnetID != "" {
			sn = s.Subnets[r.SubnetID]
			if sn == nil {
				return nil, errSubnetNotFound(r.SubnetID)
			}
			if sn.NetworkID != net.ID {
				return nil, invalidInput("Failed to create port on network %s, because fixed_ips included invalid subnet %s", net.ID, sn.ID)
			}
		}
		if r.IPAddress == "" {
			ip, err := s.pickOnSubnet(al, net, sn, held, keep)
			if err != nil {
				return nil, err
			}
			out = append(out, ip)
			continue
		}
		a, err := netip.ParseAddr(r.IPAddress)
		if err != nil || !a.Is4() {
			return nil, invalidAttr("fixed_ips", "'%s' is not a valid IP address", r.IPAddress)
		}
		if sn == nil {
			if sn = s.subnetOf(net, a); sn == nil {
				return nil, errorf(400, "InvalidIpForNetwork", "IP address %s is not a valid IP for any of the subnets on the specified network.", a)
			}
		}
		if !isHost(sn.CIDR, a) {
			return nil, errorf(400, "InvalidIpForSubnet", "IP address %s is not a valid IP for the specified subnet.", a)
		}
		if a == sn.GatewayIP && owner != OwnerRouterInterface && owner != OwnerRouterGateway {
			// Neutron keeps a subnet's gateway address for the router.
			return nil, conflict("IpAddressInUse", "Unable to complete operation for network %s. The IP address %s is in use.", net.ID, a)
		}
		if err := al.take(sn, a); err != nil {
			return nil, err
		}
		out = append(out, FixedIP{SubnetID: sn.ID, IPAddress: a})
	}
	return out, nil
}

// pickOnSubnet serves a subnet-only (or empty) fixed IP entry: an address
// the port already holds on it, else the next free one.
func (s *State) pickOnSubnet(al *allocator, net *Network, sn *Subnet, held []FixedIP, keep map[int]bool) (FixedIP, error) {
	if sn == nil {
		return FixedIP{}, invalidAttr("fixed_ips", "a fixed IP needs a subnet_id or an ip_address")
	}
	for i, h := range held {
		if h.SubnetID == sn.ID && !keep[i] {
			if _, ok := al.taken[h.IPAddress]; !ok {
				keep[i] = true
				al.taken[h.IPAddress] = sn.ID
				return h, nil
			}
		}
	}
	a, ok := al.next(sn)
	if !ok {
		return FixedIP{}, errIPGeneration(net.ID)
	}
	return FixedIP{SubnetID: sn.ID, IPAddress: a}, nil
}

// validatePools checks given allocation pools against the CIDR and the
// gateway with Neutron's messages and returns them in address order.
func validatePools(pools []Pool, cidr netip.Prefix, gw netip.Addr) error {
	for i, p := range pools {
		if !p.Start.Is4() || !p.End.Is4() || p.End.Less(p.Start) {
			return errorf(400, "InvalidAllocationPool", "The allocation pool %s is not valid.", poolString(p))
		}
		if !isHost(cidr, p.Start) || !isHost(cidr, p.End) {
			return errorf(400, "OutOfBoundsAllocationPool", "The allocation pool %s spans beyond the subnet cidr %s.", poolString(p), cidr)
		}
		for _, q := range pools[:i] {
			if !p.End.Less(q.Start) && !q.End.Less(p.Start) {
				return conflict("OverlappingAllocationPools", "Found overlapping allocation pools: %s %s for subnet %s.", poolString(q), poolString(p), cidr)
			}
		}
		if gw.IsValid() && inPool(p, gw) {
			return conflict("GatewayConflictWithAllocationPools", "Gateway ip %s conflicts with allocation pool %s.", gw, poolString(p))
		}
	}
	return nil
}

func parseAddr4(attr, s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		return netip.Addr{}, invalidAttr(attr, "'%s' is not a valid IP address", s)
	}
	return a, nil
}
