package cloud

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"slices"
)

// Nullable is a request attribute that may be absent, null or a value:
// Neutron gives null a meaning of its own ("gateway_ip": null is "no
// gateway", "port_id": null disassociates a floating IP).
type Nullable[T any] struct {
	Set   bool // the attribute was in the body
	Null  bool // ... as null
	Value T
}

// UnmarshalJSON records that the attribute was given.
func (n *Nullable[T]) UnmarshalJSON(b []byte) error {
	n.Set = true
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		n.Null = true
		return nil
	}
	return json.Unmarshal(b, &n.Value)
}

// NetworkRequest is a network create or update body; a nil field was not
// given.
type NetworkRequest struct {
	Name            *string `json:"name"`
	AdminStateUp    *bool   `json:"admin_state_up"`
	Shared          *bool   `json:"shared"`
	External        *bool   `json:"router:external"`
	NetworkType     *string `json:"provider:network_type"`
	PhysicalNetwork *string `json:"provider:physical_network"`
	SegmentationID  *int    `json:"provider:segmentation_id"`
	Description     *string `json:"description"` // accepted, not stored
	ProjectID       *string `json:"project_id"`  // accepted, not stored
	TenantID        *string `json:"tenant_id"`   // accepted, not stored
}

const defaultPhysnet = "physnet1"

// CreateNetwork creates a network. Segmentation follows an ML2 host with
// flat and vlan on physnet1 and vxlan tenant networks: external networks
// default to flat on physnet1, others to vxlan with the lowest free VNI.
func (s *State) CreateNetwork(env Env, req NetworkRequest) (*Network, error) {
	n := &Network{AdminStateUp: deref(req.AdminStateUp, true), Shared: deref(req.Shared, false),
		External: deref(req.External, false), Name: deref(req.Name, ""), Subnets: []string{}}
	if err := s.segment(n, req); err != nil {
		return nil, err
	}
	n.MTU = 1500
	if n.NetworkType == "vxlan" {
		n.MTU = 1450 // 50 bytes of VXLAN over IPv4, as Neutron's ML2 computes
	}
	if !n.External {
		n.LocalVLAN = s.freeLocalVLAN()
		if n.LocalVLAN == 0 {
			return nil, errorf(503, "NoNetworkAvailable", "Unable to create the network. No tenant network is available for allocation.")
		}
	}
	n.ID = env.NewID()
	n.Status = networkStatus(n)
	s.Networks[n.ID] = n
	return n, nil
}

func deref[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}

func networkStatus(n *Network) string {
	if n.AdminStateUp {
		return "ACTIVE"
	}
	return "DOWN"
}

// segment chooses and checks the provider attributes.
func (s *State) segment(n *Network, req NetworkRequest) error {
	n.NetworkType = deref(req.NetworkType, "vxlan")
	if req.NetworkType == nil && n.External {
		n.NetworkType = "flat"
	}
	switch n.NetworkType {
	case "flat", "vlan":
		n.PhysicalNetwork = deref(req.PhysicalNetwork, defaultPhysnet)
	case "vxlan", "local":
		if req.PhysicalNetwork != nil {
			return invalidInput("provider:physical_network specified for %s network", n.NetworkType)
		}
	default:
		return invalidAttr("provider:network_type", "'%s' is not in ['flat', 'vlan', 'vxlan', 'local']", n.NetworkType)
	}
	seg := deref(req.SegmentationID, 0)
	switch n.NetworkType {
	case "flat", "local":
		if req.SegmentationID != nil {
			return invalidInput("provider:segmentation_id specified for %s network", n.NetworkType)
		}
		if n.NetworkType == "flat" && s.segmentUsed("flat", n.PhysicalNetwork, 0) {
			return conflict("FlatNetworkInUse", "Unable to create the flat network. Physical network %s is in use.", n.PhysicalNetwork)
		}
	case "vlan":
		return s.pickSegment(n, req.SegmentationID, seg, 4094, func() *Error {
			return conflict("VlanIdInUse", "Unable to create the network. The VLAN %d on physical network %s is in use.", seg, n.PhysicalNetwork)
		})
	case "vxlan":
		return s.pickSegment(n, req.SegmentationID, seg, 1<<24-1, func() *Error {
			return conflict("TunnelIdInUse", "Unable to create the network. The tunnel ID %d is in use.", seg)
		})
	}
	return nil
}

func (s *State) pickSegment(n *Network, given *int, seg, max int, inUse func() *Error) error {
	if given != nil {
		if seg < 1 || seg > max {
			return invalidInput("provider:segmentation_id out of range (1 through %d)", max)
		}
		if s.segmentUsed(n.NetworkType, n.PhysicalNetwork, seg) {
			return inUse()
		}
		n.SegmentationID = seg
		return nil
	}
	for id := 1; id <= max; id++ {
		if !s.segmentUsed(n.NetworkType, n.PhysicalNetwork, id) {
			n.SegmentationID = id
			return nil
		}
	}
	return errorf(503, "NoNetworkAvailable", "Unable to create the network. No tenant network is available for allocation.")
}

func (s *State) segmentUsed(typ, physnet string, seg int) bool {
	for _, o := range s.Networks {
		if o.NetworkType == typ && o.PhysicalNetwork == physnet && o.SegmentationID == seg {
			return true
		}
	}
	return false
}

// freeLocalVLAN is the lowest VLAN (1..4094) no network uses on br-int;
// 0 when all are taken.
func (s *State) freeLocalVLAN() int {
	used := make([]bool, 4095)
	for _, o := range s.Networks {
		if o.LocalVLAN > 0 && o.LocalVLAN < 4095 {
			used[o.LocalVLAN] = true
		}
	}
	for v := 1; v < 4095; v++ {
		if !used[v] {
			return v
		}
	}
	return 0
}

// UpdateNetwork changes name, admin_state_up, shared and router:external.
// Provider attributes cannot change, as with ML2. Making a network
// external while ports use it inside, or internal while routers use it as
// gateway, is refused as Neutron's ExternalNetworkInUse does.
func (s *State) UpdateNetwork(id string, req NetworkRequest) (*Network, error) {
	n := s.Networks[id]
	if n == nil {
		return nil, errNetworkNotFound(id)
	}
	if req.NetworkType != nil || req.PhysicalNetwork != nil || req.SegmentationID != nil {
		return nil, invalidInput("Plugin does not support updating provider attributes")
	}
	if req.External != nil && *req.External != n.External {
		if n.External && s.hasPortOwned(id, OwnerRouterGateway, OwnerFloatingIP) {
			return nil, conflict("ExternalNetworkInUse", "External network %s cannot be updated to be made non-external, since it has existing gateway ports.", id)
		}
		if !n.External && s.hasPortOwned(id, "") {
			return nil, invalidInput("Network %s has ports; router:external cannot change while it does", id)
		}
	}
	n.Name = deref(req.Name, n.Name)
	n.AdminStateUp = deref(req.AdminStateUp, n.AdminStateUp)
	n.Shared = deref(req.Shared, n.Shared)
	if req.External != nil && *req.External != n.External {
		n.External = *req.External
		n.LocalVLAN = 0
		if !n.External {
			n.LocalVLAN = s.freeLocalVLAN()
		}
	}
	n.Status = networkStatus(n)
	return n, nil
}

// hasPortOwned reports whether the network has a port with one of the
// owners ("" matches any port).
func (s *State) hasPortOwned(netID string, owners ...string) bool {
	for _, p := range s.Ports {
		if p.NetworkID == netID && (slices.Contains(owners, "") || slices.Contains(owners, p.DeviceOwner)) {
			return true
		}
	}
	return false
}

// DeleteNetwork deletes a network and its subnets. Any port on it blocks
// the deletion (NetworkInUse) except DHCP ports, which Neutron deletes
// with the network.
func (s *State) DeleteNetwork(id string) error {
	n := s.Networks[id]
	if n == nil {
		return errNetworkNotFound(id)
	}
	for _, p := range s.Ports {
		if p.NetworkID == id && p.DeviceOwner != "network:dhcp" {
			return conflict("NetworkInUse", "Unable to complete operation on network %s. There are one or more ports still in use on the network.", id)
		}
	}
	for _, pid := range sortedIDs(s.Ports) {
		if s.Ports[pid].NetworkID == id {
			delete(s.Ports, pid)
		}
	}
	for _, sid := range n.Subnets {
		delete(s.Subnets, sid)
	}
	delete(s.Networks, id)
	return nil
}

// SubnetRequest is a subnet create or update body.
type SubnetRequest struct {
	Name            *string          `json:"name"`
	NetworkID       *string          `json:"network_id"`
	IPVersion       *int             `json:"ip_version"`
	CIDR            *string          `json:"cidr"`
	GatewayIP       Nullable[string] `json:"gateway_ip"`
	AllocationPools *[]Pool          `json:"allocation_pools"`
	DNSNameservers  *[]netip.Addr    `json:"dns_nameservers"`
	HostRoutes      *[]HostRoute     `json:"host_routes"`
	EnableDHCP      *bool            `json:"enable_dhcp"`
	Description     *string          `json:"description"` // accepted, not stored
	ProjectID       *string          `json:"project_id"`  // accepted, not stored
	TenantID        *string          `json:"tenant_id"`   // accepted, not stored
}
