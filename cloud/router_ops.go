package cloud

import (
	"fmt"
	"slices"
	"strings"
)

// GatewayRequest is a router's external_gateway_info in a request.
type GatewayRequest struct {
	NetworkID        string           `json:"network_id"`
	EnableSNAT       *bool            `json:"enable_snat"`
	ExternalFixedIPs []FixedIPRequest `json:"external_fixed_ips"`
}

// RouterRequest is a router create or update body.
type RouterRequest struct {
	Name                *string                  `json:"name"`
	AdminStateUp        *bool                    `json:"admin_state_up"`
	Routes              *[]HostRoute             `json:"routes"`
	ExternalGatewayInfo Nullable[GatewayRequest] `json:"external_gateway_info"`
	Description         *string                  `json:"description"` // accepted, not stored
	ProjectID           *string                  `json:"project_id"`  // accepted, not stored
	TenantID            *string                  `json:"tenant_id"`   // accepted, not stored
}

// RouterInterfaceRequest is the body of add_router_interface and
// remove_router_interface: a subnet or a port.
type RouterInterfaceRequest struct {
	SubnetID string `json:"subnet_id,omitempty"`
	PortID   string `json:"port_id,omitempty"`
}

// RouterInterfaceInfo is Neutron's reply to add/remove_router_interface.
type RouterInterfaceInfo struct {
	ID        string   `json:"id"` // the router
	NetworkID string   `json:"network_id"`
	PortID    string   `json:"port_id"`
	SubnetID  string   `json:"subnet_id"`
	SubnetIDs []string `json:"subnet_ids"`
}

// CreateRouter creates a router, with its gateway when given.
func (s *State) CreateRouter(env Env, req RouterRequest) (*Router, error) {
	r := &Router{ID: env.NewID(), Name: deref(req.Name, ""), AdminStateUp: deref(req.AdminStateUp, true), Status: "ACTIVE", Routes: []HostRoute{}}
	if req.Routes != nil {
		// extraroute's routes are allow_post False: a new router has no
		// interfaces a nexthop could be on.
		return nil, errorf(400, "HTTPBadRequest", "Attribute 'routes' not allowed in POST")
	}
	if req.ExternalGatewayInfo.Set && !req.ExternalGatewayInfo.Null && req.ExternalGatewayInfo.Value.NetworkID != "" {
		gw, port, err := s.planGateway(env, r, req.ExternalGatewayInfo.Value)
		if err != nil {
			return nil, err
		}
		r.ExternalGatewayInfo = gw
		s.Ports[port.ID] = port
	}
	s.Routers[r.ID] = r
	return r, nil
}

// planGateway checks a gateway request and makes its port (not stored).
func (s *State) planGateway(env Env, r *Router, g GatewayRequest) (*GatewayInfo, *Port, error) {
	n := s.Networks[g.NetworkID]
	if n == nil {
		return nil, nil, errNetworkNotFound(g.NetworkID)
	}
	if !n.External {
		return nil, nil, badRequest("router", "Network %s is not an external network", n.ID)
	}
	if len(n.Subnets) == 0 {
		return nil, nil, badRequest("router", "No IPs available for external network %s", n.ID)
	}
	fixed := g.ExternalFixedIPs
	if len(fixed) == 0 {
		fixed = []FixedIPRequest{{SubnetID: n.Subnets[0]}}
	}
	ips, err := s.resolveFixedIPs(newAllocator(s), n, fixed, nil, OwnerRouterGateway)
	if err != nil {
		return nil, nil, err
	}
	mac, err := s.portMAC(env, n.ID, nil)
	if err != nil {
		return nil, nil, err
	}
	p := &Port{ID: env.NewID(), NetworkID: n.ID, MACAddress: mac, FixedIPs: ips, DeviceOwner: OwnerRouterGateway,
		DeviceID: r.ID, AdminStateUp: true, PortSecurityEnabled: false, SecurityGroups: []string{}, AllowedAddressPairs: []AddressPair{}}
	p.Status = portStatus(p)
	gw := &GatewayInfo{NetworkID: n.ID, EnableSNAT: deref(g.EnableSNAT, true), ExternalFixedIPs: slices.Clone(ips)}
	return gw, p, nil
}

// UpdateRouter changes name, admin_state_up, routes and the gateway.
// Changing or clearing the gateway is refused while floating IPs are
// associated through the router.
func (s *State) UpdateRouter(env Env, id string, req RouterRequest) (*Router, error) {
	r := s.Routers[id]
	if r == nil {
		return nil, errRouterNotFound(id)
	}
	if req.Routes != nil {
		if err := s.checkRoutes(r, *req.Routes); err != nil {
			return nil, err
		}
	}
	var newGW *GatewayInfo
	var newPort *Port
	gwChange := false
	if gi := req.ExternalGatewayInfo; gi.Set {
		want := ""
		if !gi.Null {
			want = gi.Value.NetworkID
		}
		cur := ""
		if r.ExternalGatewayInfo != nil {
			cur = r.ExternalGatewayInfo.NetworkID
		}
		switch {
		case want == cur && want != "" && len(gi.Value.ExternalFixedIPs) == 0:
			newGW = &GatewayInfo{NetworkID: cur, EnableSNAT: deref(gi.Value.EnableSNAT, r.ExternalGatewayInfo.EnableSNAT),
				ExternalFixedIPs: slices.Clone(r.ExternalGatewayInfo.ExternalFixedIPs)}
		default:
			if cur != "" && s.routerHasFIPs(id) {
				return nil, conflict("RouterExternalGatewayInUseByFloatingIp", "Gateway cannot be updated for router %s, since a gateway to external network %s is required by one or more floating IPs.", id, cur)
			}
			gwChange = true
			if want != "" {
				var err error
				if newGW, newPort, err = s.planGatewayReplacing(env, r, gi.Value); err != nil {
					return nil, err
				}
			}
		}
	}
	r.Name = deref(req.Name, r.Name)
	r.AdminStateUp = deref(req.AdminStateUp, r.AdminStateUp)
	if req.Routes != nil {
		r.Routes = slices.Clone(*req.Routes)
	}
	if gwChange {
		s.deleteGatewayPort(id)
		if newPort != nil {
			s.Ports[newPort.ID] = newPort
		}
	}
	if req.ExternalGatewayInfo.Set {
		r.ExternalGatewayInfo = newGW
	}
	return r, nil
}

// planGatewayReplacing plans a new gateway port as if the router's current
// one were gone, so that it may take the same address again.
func (s *State) planGatewayReplacing(env Env, r *Router, g GatewayRequest) (*GatewayInfo, *Port, error) {
	t := &State{Networks: s.Networks, Subnets: s.Subnets, Ports: map[string]*Port{}}
	for id, p := range s.Ports {
		if !(p.DeviceOwner == OwnerRouterGateway && p.DeviceID == r.ID) {
			t.Ports[id] = p
		}
	}
	return t.planGateway(env, r, g)
}

func (s *State) deleteGatewayPort(routerID string) {
	for _, id := range sortedIDs(s.Ports) {
		if p := s.Ports[id]; p.DeviceOwner == OwnerRouterGateway && p.DeviceID == routerID {
			delete(s.Ports, id)
		}
	}
}

func (s *State) routerHasFIPs(routerID string) bool {
	for _, f := range s.FloatingIPs {
		if f.RouterID == routerID {
			return true
		}
	}
	return false
}

// routerPorts is the router's interface ports (not its gateway), by id.
func (s *State) routerPorts(routerID string) []*Port {
	var out []*Port
	for _, id := range sortedIDs(s.Ports) {
		if p := s.Ports[id]; p.DeviceID == routerID && p.DeviceOwner == OwnerRouterInterface {
			out = append(out, p)
		}
	}
	return out
}

// checkRoutes validates static routes as Neutron's extraroute does: the
// nexthop must be on a subnet the router is connected to and must not be
// one of the router's own addresses.
func (s *State) checkRoutes(r *Router, routes []HostRoute) error {
	var ports []*Port
	ports = append(ports, s.routerPorts(r.ID)...)
	for _, id := range sortedIDs(s.Ports) {
		if p := s.Ports[id]; p.DeviceID == r.ID && p.DeviceOwner == OwnerRouterGateway {
			ports = append(ports, p)
		}
	}
	for _, rt := range routes {
		if !rt.Destination.IsValid() || !rt.Nexthop.Is4() {
			return invalidAttr("routes", "'%v' is not a valid route", rt)
		}
		connected := false
		for _, p := range ports {
			for _, ip := range p.FixedIPs {
				if ip.IPAddress == rt.Nexthop {
					return invalidRoutes(routes, "the nexthop is used by router")
				}
				if sn := s.Subnets[ip.SubnetID]; sn != nil && sn.CIDR.Contains(rt.Nexthop) {
					connected = true
				}
			}
		}
		if !connected {
			return invalidRoutes(routes, "the nexthop is not connected with router")
		}
	}
	return nil
}

func invalidRoutes(routes []HostRoute, reason string) *Error {
	parts := make([]string, len(routes))
	for i, rt := range routes {
		parts[i] = fmt.Sprintf("{'destination': '%s', 'nexthop': '%s'}", rt.Destination, rt.Nexthop)
	}
	return errorf(400, "InvalidRoutes", "Invalid format for routes: [%s], %s.", strings.Join(parts, ", "), reason)
}

// DeleteRouter deletes a router without interfaces (RouterInUse) and its
// gateway port.
func (s *State) DeleteRouter(id string) error {
	if s.Routers[id] == nil {
		return errRouterNotFound(id)
	}
	if len(s.routerPorts(id)) > 0 {
		return conflict("RouterInUse", "Router %s still has ports", id)
	}
	if s.routerHasFIPs(id) {
		return conflict("RouterInUse", "Router %s still has floating IPs", id)
	}
	s.deleteGatewayPort(id)
	delete(s.Routers, id)
	return nil
}
