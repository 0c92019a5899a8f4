package cloud

import (
	"fmt"
	"slices"
)

// ServerNetwork is one NIC of a server request: a network (and
// optionally the address to take on it) or an existing port.
type ServerNetwork struct {
	UUID    string `json:"uuid,omitempty"`
	FixedIP string `json:"fixed_ip,omitempty"`
	Port    string `json:"port,omitempty"`
}

// ServerRequest is a Nova-like server create body.
type ServerRequest struct {
	Name     *string         `json:"name"`
	Networks []ServerNetwork `json:"networks"`
	TAP      *bool           `json:"tapestry:tap"`
}

// createdPortName names the ports a server creates for itself, so that
// deleting the server deletes them and only releases ports it was given
// (Nova keeps that in its own database as preserve_on_delete; the Server
// model has no field for it).
func createdPortName(server string, nic int) string { return fmt.Sprintf("%s-eth%d", server, nic) }

// validServerName: tapestry names the instance's namespace after the
// server, so the name must be a namespace name.
func validServerName(name string) bool {
	if name == "" || len(name) > 64 || name == "." || name == ".." {
		return false
	}
	for _, c := range name {
		ok := c == '_' || c == '.' || c == '-' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
		if !ok {
			return false
		}
	}
	return true
}

// CreateServer creates an instance with one port per NIC: a new port
// (device_owner compute:nova, device_id the server) on a network, or an
// existing unbound port it takes over.
func (s *State) CreateServer(env Env, req ServerRequest) (*Server, error) {
	name := deref(req.Name, "")
	if !validServerName(name) {
		return nil, errorf(400, "BadRequest", "Invalid server name '%s': tapestry uses it as the instance's namespace name, which must be 1 to 64 characters of [A-Za-z0-9_.-] and not '.' or '..'.", name)
	}
	for _, o := range s.Servers {
		if o.Name == name {
			return nil, conflict("Conflict", "A server named '%s' already exists: tapestry uses the name as the instance's namespace name, so it must be unique.", name)
		}
	}
	sv := &Server{ID: env.NewID(), Name: name, Status: "ACTIVE", TAP: deref(req.TAP, false), Ports: []string{}}
	// Validate every NIC on a scratch copy of the ports so that NICs on
	// one network do not get the same address, and nothing shows on error.
	t := &State{Networks: s.Networks, Subnets: s.Subnets, Ports: map[string]*Port{}, SecurityGroups: map[string]*SecurityGroup{}}
	for id, p := range s.Ports {
		t.Ports[id] = p
	}
	for id, g := range s.SecurityGroups {
		t.SecurityGroups[id] = g
	}
	taken := map[string]bool{}
	for i, nic := range req.Networks {
		id, err := t.serverNIC(env, sv, i, nic, taken)
		if err != nil {
			return nil, err
		}
		sv.Ports = append(sv.Ports, id)
		if nic.Port == "" {
			sv.CreatedPorts = append(sv.CreatedPorts, id)
		}
	}
	for id, p := range t.Ports {
		if s.Ports[id] != p {
			s.Ports[id] = p
		}
	}
	for id, g := range t.SecurityGroups {
		s.SecurityGroups[id] = g
	}
	s.Servers[sv.ID] = sv
	return sv, nil
}

// serverNIC makes or takes the port of one NIC in t, a scratch state
// whose port map is private: taken ports are replaced by bound copies.
func (t *State) serverNIC(env Env, sv *Server, i int, nic ServerNetwork, taken map[string]bool) (string, error) {
	switch {
	case nic.Port != "" && (nic.UUID != "" || nic.FixedIP != ""):
		return "", errorf(400, "BadRequest", "Invalid networks[%d]: give either a port or a network uuid (with fixed_ip), not both.", i)
	case nic.Port != "":
		p := t.Ports[nic.Port]
		if p == nil {
			return "", errPortNotFound(nic.Port)
		}
		if p.DeviceID != "" || p.DeviceOwner != "" || taken[p.ID] {
			return "", errPortInUse(p)
		}
		taken[p.ID] = true
		c := clonePort(p)
		c.DeviceOwner, c.DeviceID = OwnerCompute, sv.ID
		c.Status = portStatus(c)
		t.Ports[c.ID] = c
		return c.ID, nil
	case nic.UUID == "":
		return "", errorf(400, "BadRequest", "Invalid networks[%d]: a network uuid or a port is required.", i)
	}
	req := PortRequest{NetworkID: &nic.UUID, Name: ptr(createdPortName(sv.Name, i)), DeviceOwner: ptr(OwnerCompute), DeviceID: &sv.ID}
	if nic.FixedIP != "" {
		req.FixedIPs = &[]FixedIPRequest{{IPAddress: nic.FixedIP}}
	}
	p, err := t.CreatePort(env, req)
	if err != nil {
		return "", err
	}
	return p.ID, nil
}

func ptr[T any](v T) *T { return &v }

// DeleteServer deletes an instance: the ports it created go (their
// floating IPs are disassociated), the ports it was given are released.
func (s *State) DeleteServer(id string) error {
	sv := s.Servers[id]
	if sv == nil {
		return errServerNotFound(id)
	}
	for _, pid := range slices.Clone(sv.Ports) {
		p := s.Ports[pid]
		if p == nil {
			continue
		}
		if slices.Contains(sv.CreatedPorts, pid) && p.DeviceOwner == OwnerCompute && p.DeviceID == id {
			s.removePort(pid)
			continue
		}
		p.DeviceOwner, p.DeviceID = "", ""
		p.Status = portStatus(p)
	}
	delete(s.Servers, id)
	return nil
}
