package cloud

// State is the whole cloud: every object by id. It is the desired state
// the daemon stores (as JSON) and realizes.
type State struct {
	Networks       map[string]*Network       `json:"networks"`
	Subnets        map[string]*Subnet        `json:"subnets"`
	Ports          map[string]*Port          `json:"ports"`
	Routers        map[string]*Router        `json:"routers"`
	FloatingIPs    map[string]*FloatingIP    `json:"floatingips"`
	SecurityGroups map[string]*SecurityGroup `json:"security_groups"`
	Servers        map[string]*Server        `json:"servers"`
}
