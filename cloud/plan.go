package cloud

import (
	"fmt"
	"net/netip"
)

// A Plan is how the daemon realizes a State: what Neutron's OVS agent and
// L3 agent would have made of it on one host. It holds only what the cloud
// owns; the daemon compares it with the Plan it applied last and with what
// runs, and changes only the difference (daemon/cloud.go).
//
// Every element carries its Origin, the cloud object that made it, as
// "KIND ID" (e.g. "floatingip 1f3a...", "port 5b1e...", "router 9c0d...",
// or "agent" for the agent's own base flows). Flows show it as their
// cookie (CookieOf), iptables rules as a comment inside the rule.
type Plan struct {
	Bridges    []BridgePlan    `json:"bridges"`    // by name
	Namespaces []NamespacePlan `json:"namespaces"` // by name
}

// Bridge names, as a Neutron host has them.
const (
	IntegrationBridge = "br-int"
	ExternalBridge    = "br-ex"
)

// BridgePlan is one bridge and the ports and flows the cloud puts on it.
type BridgePlan struct {
	Name     string     `json:"name"`
	FailMode string     `json:"fail_mode"` // "secure" (br-int) or "standalone"
	Ports    []PortPlan `json:"ports"`     // by name
	Flows    []FlowPlan `json:"flows"`     // by table, priority (descending), match
}

// PortPlan is one bridge port.
type PortPlan struct {
	Name string `json:"name"` // tap<port id[:11]>, qr-<id[:11]>, qg-<id[:11]>
	Type string `json:"type"` // "internal" (claimed by a namespace) or "tap" (a kernel TAP)
	Tag  int    `json:"tag,omitempty"`
	// MAC is the Neutron port's MAC: of the namespace interface for an
	// internal port, of the kernel device for a TAP.
	MAC string `json:"mac"`
	// ExternalIDs are the Interface external_ids the OVS agent sets:
	// iface-id, attached-mac, iface-status, and vm-uuid for instances.
	ExternalIDs map[string]string `json:"external_ids"`
	Origin      string            `json:"origin"`
}

// FlowPlan is one OpenFlow flow in ovs-ofctl syntax. Match may name ports
// (in_port=tap5b1e3c2a-9f); the bridge resolves them once the ports exist.
type FlowPlan struct {
	Table    int    `json:"table"`
	Priority int    `json:"priority"`
	Cookie   uint64 `json:"cookie"`
	Match    string `json:"match"` // "" matches everything
	Actions  string `json:"actions"`
	Origin   string `json:"origin"`
}

// Text is the flow as `ovs-ofctl add-flow` takes it.
func (f FlowPlan) Text() string {
	s := fmt.Sprintf("table=%d,priority=%d,cookie=%#x", f.Table, f.Priority, f.Cookie)
	if f.Match != "" {
		s += "," + f.Match
	}
	return s + ",actions=" + f.Actions
}

// Namespace roles.
const (
	RoleRouter   = "router"   // qrouter-<router id>: wholly the cloud's
	RoleInstance = "instance" // a userspace server: the cloud owns its NICs' addresses and its default route only
)

// NamespacePlan is one tapestry namespace: a router or a userspace
// instance.
type NamespacePlan struct {
	Name     string      `json:"name"`
	Role     string      `json:"role"`
	Origin   string      `json:"origin"`
	Links    []LinkPlan  `json:"links"`   // in creation order
	Sysctls  []Sysctl    `json:"sysctls"` // in order
	Routes   []RoutePlan `json:"routes"`
	Iptables []ChainPlan `json:"iptables"` // chains in creation order
	// NAT are the floating IPs a router translates. Their connections
	// are deleted from conntrack when one goes away, as the L3 agent does.
	NAT []NATPlan `json:"nat,omitempty"`
}

// NATPlan is one floating IP of a router and the fixed IP it maps to.
type NATPlan struct {
	FloatingIP netip.Addr `json:"floating_ip"`
	FixedIP    netip.Addr `json:"fixed_ip"`
	Origin     string     `json:"origin"`
}

// LinkPlan is an interface of a namespace: the namespace end of internal
// bridge port Port, named Name inside (qr-..., qg-..., eth0).
type LinkPlan struct {
	Name  string         `json:"name"`
	Port  string         `json:"port"`
	MAC   string         `json:"mac"`
	Addrs []netip.Prefix `json:"addrs"` // the address with its subnet's prefix length; floating IPs as /32
	Up    bool           `json:"up"`
}

// Sysctl is one sysctl the namespace needs (net.ipv4.ip_forward=1).
type Sysctl struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// RoutePlan is one route in the main table. Via is zero for a device route.
type RoutePlan struct {
	Dst    netip.Prefix `json:"dst"`
	Via    netip.Addr   `json:"via,omitzero"`
	Dev    string       `json:"dev"`
	Origin string       `json:"origin"`
}

// ChainPlan is one iptables chain the cloud owns in a namespace, with its
// rules in order. Builtin chains (PREROUTING, ...) hold only the jumps to
// the cloud's chains; the cloud never flushes a builtin chain.
type ChainPlan struct {
	Table   string     `json:"table"` // nat, filter, mangle, raw
	Chain   string     `json:"chain"`
	Builtin bool       `json:"builtin"`
	Rules   []RulePlan `json:"rules"`
}

// RulePlan is one rule as `iptables -A CHAIN` takes the rest of the line,
// its origin already inside it as `-m comment --comment "..."`.
type RulePlan struct {
	Spec   string `json:"spec"`
	Origin string `json:"origin"`
}

// AgentCookie marks the agent's own flows (the tables' base flows): the
// bytes of "tapestry".
const AgentCookie uint64 = 0x7461706573747279

// CookieOf is the cookie of the flows an object made: the first 64 bits of
// its UUID, so that `ovs-ofctl dump-flows br-int cookie=0x5b1e3c2a9f044c1d/-1`
// lists them and the dump names the object at a glance.
func CookieOf(id string) uint64 {
	var c uint64
	n := 0
	for i := 0; i < len(id) && n < 16; i++ {
		d := id[i]
		var v byte
		switch {
		case d >= '0' && d <= '9':
			v = d - '0'
		case d >= 'a' && d <= 'f':
			v = d - 'a' + 10
		case d >= 'A' && d <= 'F':
			v = d - 'A' + 10
		default:
			continue
		}
		c = c<<4 | uint64(v)
		n++
	}
	return c
}

// DevName is a Neutron device name: prefix plus the first 11 characters of
// the port id, which fits IFNAMSIZ (tap5b1e3c2a-9f).
func DevName(prefix, portID string) string {
	if len(portID) > 11 {
		portID = portID[:11]
	}
	return prefix + portID
}
