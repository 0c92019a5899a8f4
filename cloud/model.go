// Package cloud is tapestry's Neutron-like cloud model: networks, subnets,
// ports with several fixed IPs, routers, floating IPs, security groups and
// servers (instances), with IPAM and the conflicts a Neutron user knows.
//
// The model is plain data whose JSON is Neutron's API v2.0 (field names,
// "router:external", "provider:network_type", ...), so that `-f json`
// output and request bodies look as they do against OpenStack. A State is
// changed only through its operations (ops.go), which validate everything
// before they change anything; the daemon clones the State, applies one
// operation to the clone, stores it and only then makes it current, so a
// refused request leaves nothing changed.
//
// Realize (realize.go) turns a State into a Plan: the bridges, ports,
// flows, router and instance namespaces and iptables rules that implement
// it the way Neutron's OVS and L3 agents do. The daemon applies a Plan by
// difference (daemon/cloud.go).
package cloud

import "net/netip"

// Network is a Neutron network.
type Network struct {
	ID              string   `json:"id"`
	Name            string   `json:"name"`
	AdminStateUp    bool     `json:"admin_state_up"`
	Shared          bool     `json:"shared"`
	External        bool     `json:"router:external"`
	NetworkType     string   `json:"provider:network_type"`               // flat, vlan, vxlan, local
	PhysicalNetwork string   `json:"provider:physical_network,omitempty"` // flat and vlan: "physnet1" unless given
	SegmentationID  int      `json:"provider:segmentation_id,omitempty"`  // vlan id or vxlan vni
	Subnets         []string `json:"subnets"`                             // subnet ids, creation order
	Status          string   `json:"status"`                              // ACTIVE (DOWN when admin down)
	MTU             int      `json:"mtu"`
	// LocalVLAN is the VLAN that carries the network on br-int, as the OVS
	// agent's local VLAN; 0 for external networks, which live on br-ex.
	LocalVLAN int `json:"tapestry:local_vlan,omitempty"`
}

// Pool is an allocation pool: the addresses IPAM may hand out, inclusive.
type Pool struct {
	Start netip.Addr `json:"start"`
	End   netip.Addr `json:"end"`
}

// HostRoute is a subnet host route or a router static route.
type HostRoute struct {
	Destination netip.Prefix `json:"destination"`
	Nexthop     netip.Addr   `json:"nexthop"`
}

// Subnet is a Neutron IPv4 subnet.
type Subnet struct {
	ID              string       `json:"id"`
	Name            string       `json:"name"`
	NetworkID       string       `json:"network_id"`
	IPVersion       int          `json:"ip_version"` // 4
	CIDR            netip.Prefix `json:"cidr"`
	GatewayIP       netip.Addr   `json:"gateway_ip,omitzero"` // zero: no gateway (--no-gateway)
	AllocationPools []Pool       `json:"allocation_pools"`
	DNSNameservers  []netip.Addr `json:"dns_nameservers"`
	HostRoutes      []HostRoute  `json:"host_routes"`
	EnableDHCP      bool         `json:"enable_dhcp"`
}

// FixedIP is one address of a port on one subnet.
type FixedIP struct {
	SubnetID  string     `json:"subnet_id"`
	IPAddress netip.Addr `json:"ip_address"`
}

// AddressPair is an allowed address pair: traffic from IPAddress (a host
// address or a prefix) with MACAddress ("" means the port's own MAC) passes
// the port's anti-spoofing flows.
type AddressPair struct {
	IPAddress  string `json:"ip_address"`
	MACAddress string `json:"mac_address,omitempty"`
}

// Device owners, as Neutron names them.
const (
	OwnerRouterInterface = "network:router_interface"
	OwnerRouterGateway   = "network:router_gateway"
	OwnerFloatingIP      = "network:floatingip"
	OwnerCompute         = "compute:nova"
)

// Port is a Neutron port.
type Port struct {
	ID                  string        `json:"id"`
	Name                string        `json:"name"`
	NetworkID           string        `json:"network_id"`
	MACAddress          string        `json:"mac_address"` // fa:16:3e:xx:xx:xx
	FixedIPs            []FixedIP     `json:"fixed_ips"`
	DeviceOwner         string        `json:"device_owner"`
	DeviceID            string        `json:"device_id"`
	AllowedAddressPairs []AddressPair `json:"allowed_address_pairs"`
	SecurityGroups      []string      `json:"security_groups"`
	PortSecurityEnabled bool          `json:"port_security_enabled"`
	AdminStateUp        bool          `json:"admin_state_up"`
	Status              string        `json:"status"` // ACTIVE when bound to a device, else DOWN
}

// GatewayInfo is a router's external gateway.
type GatewayInfo struct {
	NetworkID        string    `json:"network_id"`
	EnableSNAT       bool      `json:"enable_snat"`
	ExternalFixedIPs []FixedIP `json:"external_fixed_ips"`
}

// Router is a Neutron (legacy, centralized) router.
type Router struct {
	ID                  string       `json:"id"`
	Name                string       `json:"name"`
	AdminStateUp        bool         `json:"admin_state_up"`
	Status              string       `json:"status"`
	ExternalGatewayInfo *GatewayInfo `json:"external_gateway_info"` // nil: no gateway
	Routes              []HostRoute  `json:"routes"`
}

// FloatingIP is a Neutron floating IP. PortID "" means not associated.
type FloatingIP struct {
	ID                string     `json:"id"`
	FloatingNetworkID string     `json:"floating_network_id"`
	FloatingIPAddress netip.Addr `json:"floating_ip_address"`
	PortID            string     `json:"port_id"`                   // JSON null when ""
	FixedIPAddress    netip.Addr `json:"fixed_ip_address,omitzero"` // JSON null when zero
	RouterID          string     `json:"router_id"`                 // the router that does the NAT
	Status            string     `json:"status"`                    // ACTIVE when associated, else DOWN
	Description       string     `json:"description,omitempty"`
}

// SecurityGroup is a Neutron security group. Its rules are stored; they
// are not enforced yet.
type SecurityGroup struct {
	ID          string              `json:"id"`
	Name        string              `json:"name"`
	Description string              `json:"description"`
	Rules       []SecurityGroupRule `json:"security_group_rules"`
}

// SecurityGroupRule is one rule of a security group.
type SecurityGroupRule struct {
	ID              string `json:"id"`
	SecurityGroupID string `json:"security_group_id"`
	Direction       string `json:"direction"` // ingress, egress
	Ethertype       string `json:"ethertype"` // IPv4, IPv6
	Protocol        string `json:"protocol"`  // "" (any), tcp, udp, icmp or a number
	PortRangeMin    *int   `json:"port_range_min"`
	PortRangeMax    *int   `json:"port_range_max"`
	RemoteIPPrefix  string `json:"remote_ip_prefix"`
	RemoteGroupID   string `json:"remote_group_id"`
}

// Server is an instance: a userspace host (a tapestry namespace named
// after the server, NIC i inside it named eth<i>) or, with TAP, kernel TAP
// devices (one per NIC, named tap<port id[:11]>) that the user moves into
// a namespace or a VM.
type Server struct {
	ID     string   `json:"id"`
	Name   string   `json:"name"`
	Status string   `json:"status"`         // ACTIVE
	Ports  []string `json:"tapestry:ports"` // port ids in NIC order
	TAP    bool     `json:"tapestry:tap"`
	// CreatedPorts are the ports server-create made (--nic net-id=...),
	// which server-delete deletes; ports it was given are released.
	CreatedPorts []string `json:"tapestry:created_ports,omitempty"`
}
