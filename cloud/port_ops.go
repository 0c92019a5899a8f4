package cloud

import (
	"net"
	"net/netip"
	"slices"
	"strings"
)

// PortRequest is a port create or update body.
type PortRequest struct {
	Name                *string           `json:"name"`
	NetworkID           *string           `json:"network_id"`
	MACAddress          *string           `json:"mac_address"`
	FixedIPs            *[]FixedIPRequest `json:"fixed_ips"`
	DeviceOwner         *string           `json:"device_owner"`
	DeviceID            *string           `json:"device_id"`
	AllowedAddressPairs *[]AddressPair    `json:"allowed_address_pairs"`
	SecurityGroups      *[]string         `json:"security_groups"`
	PortSecurityEnabled *bool             `json:"port_security_enabled"`
	AdminStateUp        *bool             `json:"admin_state_up"`
	Description         *string           `json:"description"` // accepted, not stored
	ProjectID           *string           `json:"project_id"`  // accepted, not stored
	TenantID            *string           `json:"tenant_id"`   // accepted, not stored
}

// CreatePort creates a port. Without fixed_ips it gets one address from
// the network's first subnet (none when the network has no subnet).
// Without security_groups an unowned or compute port gets the "default"
// group, which is created on first need; ports Neutron owns (network:*)
// get none.
func (s *State) CreatePort(env Env, req PortRequest) (*Port, error) {
	if req.NetworkID == nil {
		return nil, invalidAttr("network_id", "'None' is not a valid UUID")
	}
	n := s.Networks[*req.NetworkID]
	if n == nil {
		return nil, errNetworkNotFound(*req.NetworkID)
	}
	p := &Port{Name: deref(req.Name, ""), NetworkID: n.ID, DeviceOwner: deref(req.DeviceOwner, ""),
		DeviceID: deref(req.DeviceID, ""), AdminStateUp: deref(req.AdminStateUp, true),
		PortSecurityEnabled: deref(req.PortSecurityEnabled, true), AllowedAddressPairs: []AddressPair{}}
	mac, err := s.portMAC(env, n.ID, req.MACAddress)
	if err != nil {
		return nil, err
	}
	p.MACAddress = mac
	fixed := []FixedIPRequest{}
	if req.FixedIPs != nil {
		fixed = *req.FixedIPs
	} else if len(n.Subnets) > 0 {
		fixed = []FixedIPRequest{{SubnetID: n.Subnets[0]}}
	}
	if p.FixedIPs, err = s.resolveFixedIPs(newAllocator(s), n, fixed, nil, p.DeviceOwner); err != nil {
		return nil, err
	}
	if err := s.setPortSecurity(p, req); err != nil {
		return nil, err
	}
	needDefault := req.SecurityGroups == nil && p.PortSecurityEnabled && !strings.HasPrefix(p.DeviceOwner, "network:")
	p.ID = env.NewID()
	if needDefault {
		p.SecurityGroups = []string{s.defaultSecurityGroup(env)}
	}
	p.Status = portStatus(p)
	s.Ports[p.ID] = p
	return p, nil
}

// portMAC returns the given MAC (checked, lowercased) or a new one, unique
// on the network (MacAddressInUse).
func (s *State) portMAC(env Env, netID string, given *string) (string, error) {
	if given == nil {
		for range 16 {
			mac := env.NewMAC()
			if !s.macUsed(netID, mac) {
				return mac, nil
			}
		}
		return "", conflict("MacAddressGenerationFailure", "Unable to generate unique mac on network %s.", netID)
	}
	hw, err := net.ParseMAC(*given)
	if err != nil || len(hw) != 6 || hw[0]&1 == 1 {
		return "", invalidAttr("mac_address", "'%s' is not a valid MAC address", *given)
	}
	mac := hw.String()
	if s.macUsed(netID, mac) {
		return "", conflict("MacAddressInUse", "Unable to complete operation for network %s. The mac address %s is in use.", netID, mac)
	}
	return mac, nil
}

func (s *State) macUsed(netID, mac string) bool {
	for _, p := range s.Ports {
		if p.NetworkID == netID && p.MACAddress == mac {
			return true
		}
	}
	return false
}

// setPortSecurity applies security_groups, allowed_address_pairs and
// port_security_enabled from a request, validated together as Neutron's
// port-security extension does.
func (s *State) setPortSecurity(p *Port, req PortRequest) error {
	if req.SecurityGroups != nil {
		for _, id := range *req.SecurityGroups {
			if s.SecurityGroups[id] == nil {
				return errSecurityGroupNotFound(id)
			}
		}
		p.SecurityGroups = slices.Compact(slices.Clone(*req.SecurityGroups))
	}
	if req.AllowedAddressPairs != nil {
		for _, ap := range *req.AllowedAddressPairs {
			if err := checkAddressPair(ap); err != nil {
				return err
			}
		}
		p.AllowedAddressPairs = slices.Clone(*req.AllowedAddressPairs)
	}
	if req.PortSecurityEnabled != nil {
		p.PortSecurityEnabled = *req.PortSecurityEnabled
	}
	if !p.PortSecurityEnabled && len(p.SecurityGroups) > 0 {
		return conflict("PortSecurityAndIPRequiredForSecurityGroups", "Port security must be enabled and port must have an IP address in order to use security groups.")
	}
	if !p.PortSecurityEnabled && len(p.AllowedAddressPairs) > 0 {
		return conflict("AddressPairAndPortSecurityRequired", "Port Security must be enabled in order to have allowed address pairs on a port.")
	}
	if p.SecurityGroups == nil {
		p.SecurityGroups = []string{}
	}
	return nil
}

func checkAddressPair(ap AddressPair) error {
	if _, err := netip.ParsePrefix(ap.IPAddress); err != nil {
		if _, err := netip.ParseAddr(ap.IPAddress); err != nil {
			return invalidAttr("allowed_address_pairs", "'%s' is not a valid IP address", ap.IPAddress)
		}
	}
	if ap.MACAddress != "" {
		if hw, err := net.ParseMAC(ap.MACAddress); err != nil || len(hw) != 6 {
			return invalidAttr("allowed_address_pairs", "'%s' is not a valid MAC address", ap.MACAddress)
		}
	}
	return nil
}

// portStatus: a port is ACTIVE once a device is bound to it; Neutron shows
// floating IP ports as N/A.
func portStatus(p *Port) string {
	switch {
	case p.DeviceOwner == OwnerFloatingIP:
		return "N/A"
	case p.DeviceID != "":
		return "ACTIVE"
	}
	return "DOWN"
}

// UpdatePort changes a port. fixed_ips replaces the list: addresses the
// port already holds and names again are kept, dropped ones are released;
// dropping an address a floating IP is associated with is refused.
func (s *State) UpdatePort(id string, req PortRequest) (*Port, error) {
	old := s.Ports[id]
	if old == nil {
		return nil, errPortNotFound(id)
	}
	if req.NetworkID != nil && *req.NetworkID != old.NetworkID {
		return nil, badRequest("port", "Cannot update read-only attribute network_id")
	}
	p := clonePort(old)
	p.Name = deref(req.Name, p.Name)
	p.AdminStateUp = deref(req.AdminStateUp, p.AdminStateUp)
	p.DeviceOwner = deref(req.DeviceOwner, p.DeviceOwner)
	p.DeviceID = deref(req.DeviceID, p.DeviceID)
	if req.MACAddress != nil && *req.MACAddress != p.MACAddress {
		mac, err := s.portMAC(Env{}, p.NetworkID, req.MACAddress)
		if err != nil {
			return nil, err
		}
		p.MACAddress = mac
	}
	if req.FixedIPs != nil {
		al := newAllocator(s)
		al.ignore[id] = true
		var err error
		if p.FixedIPs, err = s.resolveFixedIPs(al, s.Networks[p.NetworkID], *req.FixedIPs, old.FixedIPs, p.DeviceOwner); err != nil {
			return nil, err
		}
		if err := s.checkDroppedFIPs(old, p.FixedIPs); err != nil {
			return nil, err
		}
	}
	if err := s.setPortSecurity(p, req); err != nil {
		return nil, err
	}
	p.Status = portStatus(p)
	*old = *p
	return old, nil
}

// checkDroppedFIPs refuses to release a fixed IP a floating IP maps to.
func (s *State) checkDroppedFIPs(old *Port, kept []FixedIP) error {
	for _, fid := range sortedIDs(s.FloatingIPs) {
		f := s.FloatingIPs[fid]
		if f.PortID != old.ID {
			continue
		}
		if !slices.ContainsFunc(kept, func(ip FixedIP) bool { return ip.IPAddress == f.FixedIPAddress }) {
			// Neutron's l3_db prevent_internal_ip_change_for_fip.
			return badRequest("port", "Cannot update the fixed_ips of the port %s, because its original fixed_ip has been associated to a floating ip", old.ID)
		}
	}
	return nil
}

// DeletePort deletes a port. Ports of routers and floating IPs go with
// their owner (L3PortInUse). Floating IPs on the port are disassociated; a
// server loses the NIC.
func (s *State) DeletePort(id string) error {
	p := s.Ports[id]
	if p == nil {
		return errPortNotFound(id)
	}
	switch p.DeviceOwner {
	case OwnerRouterInterface, OwnerRouterGateway, OwnerFloatingIP, "network:router_interface_distributed", "network:ha_router_replicated_interface":
		return conflict("L3PortInUse", "Port %s has owner %s and therefore cannot be deleted directly via the port API.", id, p.DeviceOwner)
	}
	s.removePort(id)
	return nil
}

// removePort deletes a port and everything that pointed at it.
func (s *State) removePort(id string) {
	for _, f := range s.FloatingIPs {
		if f.PortID == id {
			disassociate(f)
		}
	}
	for _, sv := range s.Servers {
		sv.Ports = slices.DeleteFunc(sv.Ports, func(x string) bool { return x == id })
	}
	delete(s.Ports, id)
}
