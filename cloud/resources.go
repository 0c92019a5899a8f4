package cloud

// resource binds one REST collection to the State's operations.
type resource struct {
	plural, singular string
	zero             any // a zero object: its JSON keys are the filterable attributes
	list             func(st *State) []any
	get              func(st *State, id string) (any, bool)
	notFound         func(id string) *Error
	create           func(st *State, env Env, body []byte) (any, error)
	update           func(st *State, env Env, id string, body []byte) (any, error)
	del              func(st *State, id string) error
	action           func(st *State, env Env, id, action string, body []byte) (any, error)
}

// listOf returns a map's objects in id order.
func listOf[V any](m map[string]V) []any {
	out := make([]any, 0, len(m))
	for _, id := range sortedIDs(m) {
		out = append(out, m[id])
	}
	return out
}

func getIn[V any](m map[string]*V) func(id string) (any, bool) {
	return func(id string) (any, bool) {
		v, ok := m[id]
		return v, ok
	}
}

// createWith decodes a wrapped body into a request and runs op.
func createWith[R any, O any](key string, op func(*State, Env, R) (O, error)) func(*State, Env, []byte) (any, error) {
	return func(st *State, env Env, body []byte) (any, error) {
		var req R
		if err := decodeBody(body, key, &req); err != nil {
			return nil, err
		}
		return op(st, env, req)
	}
}

func updateWith[R any, O any](key string, op func(*State, Env, string, R) (O, error)) func(*State, Env, string, []byte) (any, error) {
	return func(st *State, env Env, id string, body []byte) (any, error) {
		var req R
		if err := decodeBody(body, key, &req); err != nil {
			return nil, err
		}
		return op(st, env, id, req)
	}
}

var resources = []*resource{
	{plural: "networks", singular: "network", zero: Network{}, notFound: errNetworkNotFound,
		list:   func(st *State) []any { return listOf(st.Networks) },
		get:    func(st *State, id string) (any, bool) { return getIn(st.Networks)(id) },
		create: createWith("network", (*State).CreateNetwork),
		update: updateWith("network", func(st *State, _ Env, id string, r NetworkRequest) (*Network, error) { return st.UpdateNetwork(id, r) }),
		del:    (*State).DeleteNetwork},
	{plural: "subnets", singular: "subnet", zero: Subnet{}, notFound: errSubnetNotFound,
		list:   func(st *State) []any { return listOf(st.Subnets) },
		get:    func(st *State, id string) (any, bool) { return getIn(st.Subnets)(id) },
		create: createWith("subnet", (*State).CreateSubnet),
		update: updateWith("subnet", func(st *State, _ Env, id string, r SubnetRequest) (*Subnet, error) { return st.UpdateSubnet(id, r) }),
		del:    (*State).DeleteSubnet},
	{plural: "ports", singular: "port", zero: Port{}, notFound: errPortNotFound,
		list:   func(st *State) []any { return listOf(st.Ports) },
		get:    func(st *State, id string) (any, bool) { return getIn(st.Ports)(id) },
		create: createWith("port", (*State).CreatePort),
		update: updateWith("port", func(st *State, _ Env, id string, r PortRequest) (*Port, error) { return st.UpdatePort(id, r) }),
		del:    (*State).DeletePort},
	{plural: "routers", singular: "router", zero: Router{}, notFound: errRouterNotFound,
		list:   func(st *State) []any { return listOf(st.Routers) },
		get:    func(st *State, id string) (any, bool) { return getIn(st.Routers)(id) },
		create: createWith("router", (*State).CreateRouter),
		update: updateWith("router", (*State).UpdateRouter),
		del:    (*State).DeleteRouter,
		action: routerAction},
	{plural: "floatingips", singular: "floatingip", zero: FloatingIP{}, notFound: errFloatingIPNotFound,
		list:   func(st *State) []any { return listOf(st.FloatingIPs) },
		get:    func(st *State, id string) (any, bool) { return getIn(st.FloatingIPs)(id) },
		create: createWith("floatingip", (*State).CreateFloatingIP),
		update: updateWith("floatingip", func(st *State, _ Env, id string, r FloatingIPRequest) (*FloatingIP, error) {
			return st.UpdateFloatingIP(id, r)
		}),
		del: (*State).DeleteFloatingIP},
	{plural: "security-groups", singular: "security_group", zero: SecurityGroup{}, notFound: errSecurityGroupNotFound,
		list:   func(st *State) []any { return listOf(st.SecurityGroups) },
		get:    func(st *State, id string) (any, bool) { return getIn(st.SecurityGroups)(id) },
		create: createWith("security_group", (*State).CreateSecurityGroup),
		update: updateWith("security_group", func(st *State, _ Env, id string, r SecurityGroupRequest) (*SecurityGroup, error) {
			return st.UpdateSecurityGroup(id, r)
		}),
		del: (*State).DeleteSecurityGroup},
	{plural: "security-group-rules", singular: "security_group_rule", zero: SecurityGroupRule{}, notFound: errRuleNotFound,
		list: func(st *State) []any {
			var out []any
			for _, g := range listOf(st.SecurityGroups) {
				for _, r := range g.(*SecurityGroup).Rules {
					out = append(out, r)
				}
			}
			return out
		},
		get: func(st *State, id string) (any, bool) {
			r := st.securityGroupRule(id)
			return r, r != nil
		},
		create: createWith("security_group_rule", (*State).CreateSecurityGroupRule),
		del:    (*State).DeleteSecurityGroupRule},
}

var serversResource = &resource{plural: "servers", singular: "server", zero: Server{}, notFound: errServerNotFound,
	list:   func(st *State) []any { return listOf(st.Servers) },
	get:    func(st *State, id string) (any, bool) { return getIn(st.Servers)(id) },
	create: createWith("server", (*State).CreateServer),
	del:    (*State).DeleteServer}

func errRuleNotFound(id string) *Error {
	return notFound("SecurityGroupRuleNotFound", "Security group rule %s does not exist", id)
}

func resourceByPlural(plural string) *resource {
	for _, r := range resources {
		if r.plural == plural {
			return r
		}
	}
	return nil
}

// routerAction serves PUT /v2.0/routers/{id}/add_router_interface and
// remove_router_interface, whose bodies are not wrapped.
func routerAction(st *State, env Env, id, action string, body []byte) (any, error) {
	var req RouterInterfaceRequest
	switch action {
	case "add_router_interface", "remove_router_interface":
	default:
		return nil, notFound("HTTPNotFound", "The resource could not be found.")
	}
	if err := decodeAttrs(body, &req); err != nil {
		return nil, err
	}
	if action == "add_router_interface" {
		return st.AddRouterInterface(env, id, req)
	}
	return st.RemoveRouterInterface(id, req)
}
