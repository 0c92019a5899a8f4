package cloud

import (
	"net/netip"
	"strconv"
	"strings"
)

// SecurityGroupRequest is a security group create or update body.
type SecurityGroupRequest struct {
	Name        *string `json:"name"`
	Description *string `json:"description"`
	ProjectID   *string `json:"project_id"` // accepted, not stored
	TenantID    *string `json:"tenant_id"`  // accepted, not stored
}

// SecurityGroupRuleRequest is a security group rule create body.
type SecurityGroupRuleRequest struct {
	SecurityGroupID *string `json:"security_group_id"`
	Direction       *string `json:"direction"`
	Ethertype       *string `json:"ethertype"`
	Protocol        *string `json:"protocol"`
	PortRangeMin    *int    `json:"port_range_min"`
	PortRangeMax    *int    `json:"port_range_max"`
	RemoteIPPrefix  *string `json:"remote_ip_prefix"`
	RemoteGroupID   *string `json:"remote_group_id"`
	Description     *string `json:"description"` // accepted, not stored
	ProjectID       *string `json:"project_id"`  // accepted, not stored
	TenantID        *string `json:"tenant_id"`   // accepted, not stored
}

// defaultSecurityGroup returns the id of the group named "default",
// creating it as Neutron does: egress to anywhere and ingress from members
// of the group itself, for IPv4 and IPv6.
func (s *State) defaultSecurityGroup(env Env) string {
	for _, id := range sortedIDs(s.SecurityGroups) {
		if s.SecurityGroups[id].Name == "default" {
			return id
		}
	}
	g := &SecurityGroup{ID: env.NewID(), Name: "default", Description: "Default security group"}
	for _, et := range []string{"IPv4", "IPv6"} {
		g.Rules = append(g.Rules, SecurityGroupRule{ID: env.NewID(), SecurityGroupID: g.ID, Direction: "egress", Ethertype: et})
	}
	for _, et := range []string{"IPv4", "IPv6"} {
		g.Rules = append(g.Rules, SecurityGroupRule{ID: env.NewID(), SecurityGroupID: g.ID, Direction: "ingress", Ethertype: et, RemoteGroupID: g.ID})
	}
	s.SecurityGroups[g.ID] = g
	return g.ID
}

// CreateSecurityGroup creates a group with Neutron's two egress rules. The
// name "default" is reserved for the group Neutron makes itself.
func (s *State) CreateSecurityGroup(env Env, req SecurityGroupRequest) (*SecurityGroup, error) {
	name := deref(req.Name, "")
	if name == "default" {
		return nil, conflict("SecurityGroupDefaultAlreadyExists", "Default security group already exists.")
	}
	g := &SecurityGroup{ID: env.NewID(), Name: name, Description: deref(req.Description, "")}
	for _, et := range []string{"IPv4", "IPv6"} {
		g.Rules = append(g.Rules, SecurityGroupRule{ID: env.NewID(), SecurityGroupID: g.ID, Direction: "egress", Ethertype: et})
	}
	s.SecurityGroups[g.ID] = g
	return g, nil
}

// UpdateSecurityGroup changes name and description.
func (s *State) UpdateSecurityGroup(id string, req SecurityGroupRequest) (*SecurityGroup, error) {
	g := s.SecurityGroups[id]
	if g == nil {
		return nil, errSecurityGroupNotFound(id)
	}
	if req.Name != nil && *req.Name != g.Name && (g.Name == "default" || *req.Name == "default") {
		return nil, conflict("SecurityGroupCannotUpdateDefault", "Updating default security group not allowed.")
	}
	g.Name = deref(req.Name, g.Name)
	g.Description = deref(req.Description, g.Description)
	return g, nil
}

// DeleteSecurityGroup deletes a group no port uses (SecurityGroupInUse).
func (s *State) DeleteSecurityGroup(id string) error {
	if s.SecurityGroups[id] == nil {
		return errSecurityGroupNotFound(id)
	}
	for _, p := range s.Ports {
		for _, g := range p.SecurityGroups {
			if g == id {
				return conflict("SecurityGroupInUse", "Security Group %s in use.", id)
			}
		}
	}
	for _, g := range s.SecurityGroups {
		for _, r := range g.Rules {
			if r.RemoteGroupID == id && g.ID != id {
				return conflict("SecurityGroupInUse", "Security Group %s in use.", id)
			}
		}
	}
	delete(s.SecurityGroups, id)
	return nil
}

// CreateSecurityGroupRule validates and adds a rule, with the checks and
// messages of Neutron's securitygroups_db.
func (s *State) CreateSecurityGroupRule(env Env, req SecurityGroupRuleRequest) (*SecurityGroupRule, error) {
	if req.SecurityGroupID == nil {
		return nil, invalidAttr("security_group_id", "'None' is not a valid UUID")
	}
	g := s.SecurityGroups[*req.SecurityGroupID]
	if g == nil {
		return nil, errSecurityGroupNotFound(*req.SecurityGroupID)
	}
	r := SecurityGroupRule{SecurityGroupID: g.ID, Direction: deref(req.Direction, ""), Ethertype: deref(req.Ethertype, "IPv4"),
		Protocol: deref(req.Protocol, ""), RemoteIPPrefix: deref(req.RemoteIPPrefix, ""), RemoteGroupID: deref(req.RemoteGroupID, "")}
	if r.Direction != "ingress" && r.Direction != "egress" {
		return nil, invalidAttr("direction", "'%s' is not in ['ingress', 'egress']", r.Direction)
	}
	if r.Ethertype != "IPv4" && r.Ethertype != "IPv6" {
		return nil, invalidAttr("ethertype", "'%s' is not in ['IPv4', 'IPv6']", r.Ethertype)
	}
	if err := checkRuleProtocol(&r, req); err != nil {
		return nil, err
	}
	if err := s.checkRuleRemote(&r); err != nil {
		return nil, err
	}
	for _, o := range g.Rules {
		if sameRule(o, r) {
			return nil, conflict("SecurityGroupRuleExists", "Security group rule already exists. Rule id is %s.", o.ID)
		}
	}
	r.ID = env.NewID()
	g.Rules = append(g.Rules, r)
	out := cloneRule(r)
	return &out, nil
}

var ruleProtocols = map[string]bool{"": true, "any": true, "tcp": true, "udp": true, "icmp": true, "icmpv6": true, "sctp": true, "gre": true, "esp": true, "ah": true}

// checkRuleProtocol validates protocol and port range. For TCP, UDP and
// SCTP the range is 1..65535 with min <= max; for ICMP min and max are type
// and code, 0..255.
func checkRuleProtocol(r *SecurityGroupRule, req SecurityGroupRuleRequest) error {
	proto := strings.ToLower(r.Protocol)
	if !ruleProtocols[proto] {
		n, err := strconv.Atoi(proto)
		if err != nil || n < 0 || n > 255 {
			return errorf(400, "SecurityGroupRuleInvalidProtocol", "Security group rule protocol %s not supported. Only protocol values [None, 'ah', 'esp', 'gre', 'icmp', 'icmpv6', 'sctp', 'tcp', 'udp'] and their integer representation (0 to 255) are supported.", r.Protocol)
		}
	}
	if proto == "any" {
		proto = ""
	}
	r.Protocol = proto
	min, max := req.PortRangeMin, req.PortRangeMax
	if min == nil && max == nil {
		return nil
	}
	switch proto {
	case "tcp", "udp", "sctp", "6", "17", "132":
		for _, v := range []*int{min, max} {
			if v != nil && (*v < 1 || *v > 65535) {
				return errorf(400, "SecurityGroupInvalidPortValue", "Invalid value for port %d", *v)
			}
		}
		if min == nil || max == nil || *min > *max {
			return errorf(400, "SecurityGroupInvalidPortRange", "For TCP/UDP protocols, port_range_min must be <= port_range_max")
		}
	case "icmp", "icmpv6", "1", "58":
		for _, f := range []struct {
			v         *int
			name, att string
		}{{min, "type", "port_range_min"}, {max, "code", "port_range_max"}} {
			if f.v != nil && (*f.v < 0 || *f.v > 255) {
				return errorf(400, "SecurityGroupInvalidIcmpValue", "Invalid value for ICMP %s (%s) %d. It must be 0 to 255.", f.name, f.att, *f.v)
			}
		}
		if min == nil && max != nil {
			return errorf(400, "SecurityGroupMissingIcmpType", "ICMP code (port-range-max) %d is provided but ICMP type (port-range-min) is missing.", *max)
		}
	case "":
		return errorf(400, "SecurityGroupProtocolRequiredWithPorts", "Must also specify protocol if port range is given.")
	default:
		return errorf(400, "SecurityGroupInvalidProtocolForPort", "Invalid protocol %s for port range, only supported for TCP, UDP, UDPLITE, SCTP and DCCP.", proto)
	}
	r.PortRangeMin, r.PortRangeMax = copyInt(min), copyInt(max)
	return nil
}

func (s *State) checkRuleRemote(r *SecurityGroupRule) error {
	if r.RemoteIPPrefix != "" && r.RemoteGroupID != "" {
		return errorf(400, "SecurityGroupRemoteGroupAndRemoteIpPrefix", "Only remote_ip_prefix or remote_group_id may be provided.")
	}
	if r.RemoteGroupID != "" && s.SecurityGroups[r.RemoteGroupID] == nil {
		return errSecurityGroupNotFound(r.RemoteGroupID)
	}
	if r.RemoteIPPrefix == "" {
		return nil
	}
	p, err := netip.ParsePrefix(r.RemoteIPPrefix)
	if err != nil {
		a, aerr := netip.ParseAddr(r.RemoteIPPrefix)
		if aerr != nil {
			return invalidAttr("remote_ip_prefix", "'%s' is not a valid IP subnet", r.RemoteIPPrefix)
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	if p.Addr().Is4() != (r.Ethertype == "IPv4") {
		return errorf(400, "SecurityGroupRuleParameterConflict", "Conflicting value ethertype %s for CIDR %s", r.Ethertype, r.RemoteIPPrefix)
	}
	r.RemoteIPPrefix = p.Masked().String() // Neutron stores the network address
	return nil
}

func copyInt(p *int) *int {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

func sameRule(a, b SecurityGroupRule) bool {
	eq := func(x, y *int) bool { return (x == nil && y == nil) || (x != nil && y != nil && *x == *y) }
	return a.Direction == b.Direction && a.Ethertype == b.Ethertype && a.Protocol == b.Protocol &&
		eq(a.PortRangeMin, b.PortRangeMin) && eq(a.PortRangeMax, b.PortRangeMax) &&
		a.RemoteIPPrefix == b.RemoteIPPrefix && a.RemoteGroupID == b.RemoteGroupID
}

// DeleteSecurityGroupRule deletes a rule by id.
func (s *State) DeleteSecurityGroupRule(id string) error {
	for _, g := range s.SecurityGroups {
		for i, r := range g.Rules {
			if r.ID == id {
				g.Rules = append(g.Rules[:i:i], g.Rules[i+1:]...)
				return nil
			}
		}
	}
	return notFound("SecurityGroupRuleNotFound", "Security group rule %s does not exist", id)
}

// securityGroupRule finds a rule by id.
func (s *State) securityGroupRule(id string) *SecurityGroupRule {
	for _, g := range s.SecurityGroups {
		for i := range g.Rules {
			if g.Rules[i].ID == id {
				return &g.Rules[i]
			}
		}
	}
	return nil
}
