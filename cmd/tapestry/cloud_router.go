package main

// tapestry cloud router-*, floatingip-* and security-group-*:
// neutronclient's L3 and security group commands.

import (
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"
)

func routerCmds() []cloudSpec {
	return []cloudSpec{
		routerCreateCmd(),
		listCmd(resRouter, "router-list", []string{"id", "name", "external_gateway_info"}, map[string]func(any) string{"external_gateway_info": pyDumps}),
		showCmd(resRouter, "router-show ROUTER", true),
		routerUpdateCmd(),
		deleteCmd(resRouter, "router-delete ROUTER", true),
		routerInterfaceCmd("router-interface-add", "add_router_interface", "Add an internal network interface to a router"),
		routerInterfaceCmd("router-interface-remove", "remove_router_interface", "Remove an internal network interface from a router"),
		routerGatewaySetCmd(),
		routerGatewayClearCmd(),
	}
}

func routerCreateCmd() cloudSpec {
	var down bool
	return cloudSpec{use: "router-create NAME [--admin-state-down]", short: "Create a router", args: 1, output: true,
		flags: func(c *cobra.Command) {
			c.Flags().BoolVar(&down, "admin-state-down", false, "set admin state up to false")
		},
		run: func(cc *cloudCall, _ *cobra.Command, args []string) error {
			obj, err := cc.create(resRouter, jsonObject{{"admin_state_up", !down}, {"name", args[0]}})
			if err != nil {
				return err
			}
			cc.printCreated(resRouter, obj)
			return nil
		}}
}

func routerUpdateCmd() cloudSpec {
	var name, adminUp string
	var routes []string
	var noRoutes bool
	return cloudSpec{use: "router-update ROUTER [--name NAME] [--admin-state-up True|False] [--route destination=CIDR,nexthop=IP]... [--no-routes]", short: "Update a router's information", args: 1,
		flags: func(c *cobra.Command) {
			f := c.Flags()
			f.StringVar(&name, "name", "", "new name of the router")
			f.StringVar(&adminUp, "admin-state-up", "", "True or False")
			f.StringArrayVar(&routes, "route", nil, "destination=CIDR,nexthop=IP (repeatable)")
			f.BoolVar(&noRoutes, "no-routes", false, "remove every static route")
		},
		run: func(cc *cloudCall, c *cobra.Command, args []string) error {
			if len(routes) > 0 && noRoutes {
				return usagef("argument --no-routes: not allowed with argument --route")
			}
			rs, err := parseKVs("--route", routes, []string{"destination", "nexthop"}, nil)
			if err != nil {
				return err
			}
			var body jsonObject
			if adminUp != "" {
				up, err := boolWord("--admin-state-up", adminUp)
				if err != nil {
					return err
				}
				body.set("admin_state_up", up)
			}
			if c.Flags().Changed("name") {
				body.set("name", name)
			}
			// neutronclient clears the routes with null, not [].
			if noRoutes {
				body.set("routes", nil)
			} else if len(rs) > 0 {
				body.set("routes", rs)
			}
			return cc.updateNamed(resRouter, args[0], body)
		}}
}

// routerInterfaceCmd is router-interface-add and -remove: INTERFACE is
// SUBNET, subnet=SUBNET or port=PORT, names or ids.
func routerInterfaceCmd(name, action, short string) cloudSpec {
	return cloudSpec{use: name + " ROUTER INTERFACE", short: short + " (INTERFACE: SUBNET, subnet=SUBNET or port=PORT)", args: 2,
		run: func(cc *cloudCall, _ *cobra.Command, args []string) error {
			kind, value := "subnet", args[1]
			if k, v, ok := strings.Cut(args[1], "="); ok {
				if k != "subnet" && k != "port" {
					//lint:ignore ST1005 neutronclient prints this text
					return fmt.Errorf("You must specify either subnet or port for INTERFACE parameter.")
				}
				kind, value = k, v
			}
			routerID, err := cc.resolve(resRouter, args[0])
			if err != nil {
				return err
			}
			r := resSubnet
			if kind == "port" {
				r = resPort
			}
			id, err := cc.resolve(r, value)
			if err != nil {
				return err
			}
			var reply jsonObject
			path := resRouter.item(routerID) + "/" + action
			if err := cc.client.Cloud(cc.ctx, "PUT", path, jsonObject{{kind + "_id", id}}, &reply); err != nil {
				return err
			}
			if action == "add_router_interface" {
				fmt.Fprintf(cc.stdout, "Added interface %s to router %s.\n", reply.str("port_id"), args[0])
			} else {
				fmt.Fprintf(cc.stdout, "Removed interface from router %s.\n", args[0])
			}
			return nil
		}}
}

func routerGatewaySetCmd() cloudSpec {
	var enableSNAT, disableSNAT bool
	var fixedIPs []string
	return cloudSpec{use: "router-gateway-set ROUTER EXTERNAL-NETWORK [--enable-snat | --disable-snat] [--fixed-ip subnet_id=SUBNET,ip_address=IP]...", short: "Set the external network gateway for a router", args: 2,
		flags: func(c *cobra.Command) {
			f := c.Flags()
			f.BoolVar(&enableSNAT, "enable-snat", false, "enable source NAT on the router gateway")
			f.BoolVar(&disableSNAT, "disable-snat", false, "disable source NAT on the router gateway")
			f.StringArrayVar(&fixedIPs, "fixed-ip", nil, "subnet_id=SUBNET,ip_address=IP on the external network (repeatable)")
		},
		run: func(cc *cloudCall, _ *cobra.Command, args []string) error {
			routerID, err := cc.resolve(resRouter, args[0])
			if err != nil {
				return err
			}
			netID, err := cc.resolve(resNetwork, args[1])
			if err != nil {
				return err
			}
			gw := jsonObject{{"network_id", netID}}
			if enableSNAT {
				gw.set("enable_snat", true)
			}
			if disableSNAT {
				gw.set("enable_snat", false)
			}
			if len(fixedIPs) > 0 {
				ips, err := cc.resolveFixedIPs(fixedIPs)
				if err != nil {
					return err
				}
				gw.set("external_fixed_ips", ips)
			}
			if err := cc.update(resRouter, routerID, jsonObject{{"external_gateway_info", gw}}); err != nil {
				return err
			}
			fmt.Fprintf(cc.stdout, "Set gateway for router %s\n", args[0])
			return nil
		}}
}

func routerGatewayClearCmd() cloudSpec {
	return cloudSpec{use: "router-gateway-clear ROUTER", short: "Remove an external network gateway from a router", args: 1,
		run: func(cc *cloudCall, _ *cobra.Command, args []string) error {
			routerID, err := cc.resolve(resRouter, args[0])
			if err != nil {
				return err
			}
			if err := cc.update(resRouter, routerID, jsonObject{{"external_gateway_info", jsonObject{}}}); err != nil {
				return err
			}
			fmt.Fprintf(cc.stdout, "Removed gateway from router %s\n", args[0])
			return nil
		}}
}

func floatingIPCmds() []cloudSpec {
	return []cloudSpec{
		floatingIPCreateCmd(),
		floatingIPAssociateCmd(),
		floatingIPDisassociateCmd(),
		listCmd(resFloatingIP, "floatingip-list", []string{"id", "fixed_ip_address", "floating_ip_address", "port_id"}, nil),
		showCmd(resFloatingIP, "floatingip-show FLOATINGIP_ID", false),
		deleteCmd(resFloatingIP, "floatingip-delete FLOATINGIP_ID", false),
	}
}

func floatingIPCreateCmd() cloudSpec {
	var portID, fixedIP, floatingIP string
	return cloudSpec{use: "floatingip-create FLOATING_NETWORK [--port-id PORT] [--fixed-ip-address IP] [--floating-ip-address IP]", short: "Create a floating IP", args: 1, output: true,
		flags: func(c *cobra.Command) {
			f := c.Flags()
			f.StringVar(&portID, "port-id", "", "ID of the port to associate with the floating IP")
			f.StringVar(&fixedIP, "fixed-ip-address", "", "IP address on the port (only required if the port has several)")
			f.StringVar(&floatingIP, "floating-ip-address", "", "IP address of the floating IP")
		},
		run: func(cc *cloudCall, _ *cobra.Command, args []string) error {
			netID, err := cc.resolve(resNetwork, args[0])
			if err != nil {
				return err
			}
			body := jsonObject{{"floating_network_id", netID}}
			if portID != "" {
				body.set("port_id", portID)
			}
			if fixedIP != "" {
				body.set("fixed_ip_address", fixedIP)
			}
			if floatingIP != "" {
				body.set("floating_ip_address", floatingIP)
			}
			obj, err := cc.create(resFloatingIP, body)
			if err != nil {
				return err
			}
			cc.printCreated(resFloatingIP, obj)
			return nil
		}}
}

func floatingIPAssociateCmd() cloudSpec {
	var fixedIP string
	return cloudSpec{use: "floatingip-associate FLOATINGIP_ID PORT [--fixed-ip-address IP]", short: "Associate a floating IP with a port's fixed IP", args: 2,
		flags: func(c *cobra.Command) {
			c.Flags().StringVar(&fixedIP, "fixed-ip-address", "", "IP address on the port (only required if the port has several)")
		},
		run: func(cc *cloudCall, _ *cobra.Command, args []string) error {
			portID, err := cc.resolve(resPort, args[1])
			if err != nil {
				return err
			}
			body := jsonObject{{"port_id", portID}}
			if fixedIP != "" {
				body.set("fixed_ip_address", fixedIP)
			}
			if err := cc.update(resFloatingIP, args[0], body); err != nil {
				return err
			}
			fmt.Fprintf(cc.stdout, "Associated floating IP %s\n", args[0])
			return nil
		}}
}

func floatingIPDisassociateCmd() cloudSpec {
	return cloudSpec{use: "floatingip-disassociate FLOATINGIP_ID", short: "Remove the association of a floating IP", args: 1,
		run: func(cc *cloudCall, _ *cobra.Command, args []string) error {
			if err := cc.update(resFloatingIP, args[0], jsonObject{{"port_id", nil}}); err != nil {
				return err
			}
			fmt.Fprintf(cc.stdout, "Disassociated floating IP %s\n", args[0])
			return nil
		}}
}

func securityGroupCmds() []cloudSpec {
	return []cloudSpec{
		securityGroupCreateCmd(),
		listCmd(resSecGroup, "security-group-list", []string{"id", "name", "security_group_rules"}, map[string]func(any) string{"security_group_rules": formatSGRules}),
		showCmd(resSecGroup, "security-group-show SECURITY_GROUP", true),
		deleteCmd(resSecGroup, "security-group-delete SECURITY_GROUP", true),
		securityGroupRuleCreateCmd(),
		securityGroupRuleListCmd(),
		showCmd(resSecGroupRul, "security-group-rule-show SECURITY_GROUP_RULE", false),
		deleteCmd(resSecGroupRul, "security-group-rule-delete SECURITY_GROUP_RULE", false),
	}
}

func securityGroupCreateCmd() cloudSpec {
	var description string
	return cloudSpec{use: "security-group-create NAME [--description TEXT]", short: "Create a security group", args: 1, output: true,
		flags: func(c *cobra.Command) {
			c.Flags().StringVar(&description, "description", "", "description of the security group")
		},
		run: func(cc *cloudCall, c *cobra.Command, args []string) error {
			body := jsonObject{{"name", args[0]}}
			if c.Flags().Changed("description") {
				body.set("description", description)
			}
			obj, err := cc.create(resSecGroup, body)
			if err != nil {
				return err
			}
			cc.printCreated(resSecGroup, obj)
			return nil
		}}
}

func securityGroupRuleCreateCmd() cloudSpec {
	var direction, ethertype, protocol, remoteIP, remoteGroup string
	var portMin, portMax int
	return cloudSpec{use: "security-group-rule-create SECURITY_GROUP [--direction ingress|egress] [--ethertype IPv4] [--protocol P] [--port-range-min N] [--port-range-max N] [--remote-ip-prefix CIDR] [--remote-group-id SG]", short: "Create a security group rule", args: 1, output: true,
		flags: func(c *cobra.Command) {
			f := c.Flags()
			f.StringVar(&direction, "direction", "ingress", "ingress or egress")
			f.StringVar(&ethertype, "ethertype", "", "IPv4 or IPv6")
			f.StringVar(&protocol, "protocol", "", "icmp, tcp, udp or a number 0-255")
			f.IntVar(&portMin, "port-range-min", 0, "first port (ICMP: type)")
			f.IntVar(&portMax, "port-range-max", 0, "last port (ICMP: code)")
			f.StringVar(&remoteIP, "remote-ip-prefix", "", "CIDR to match on")
			f.StringVar(&remoteGroup, "remote-group-id", "", "remote security group (name or id)")
		},
		run: func(cc *cloudCall, c *cobra.Command, args []string) error {
			direction = strings.ToLower(direction)
			if direction != "ingress" && direction != "egress" {
				return usagef("argument --direction: invalid choice: '%s' (choose from 'ingress', 'egress')", direction)
			}
			sgID, err := cc.resolve(resSecGroup, args[0])
			if err != nil {
				return err
			}
			protocol = strings.ToLower(protocol)
			if ethertype == "" {
				ethertype = "IPv4"
				if protocol == "icmpv6" {
					ethertype = "IPv6"
				}
			}
			body := jsonObject{{"security_group_id", sgID}, {"direction", direction}, {"ethertype", ethertype}}
			if protocol != "" {
				body.set("protocol", protocol)
			}
			if c.Flags().Changed("port-range-min") {
				body.set("port_range_min", portMin)
			}
			if c.Flags().Changed("port-range-max") {
				body.set("port_range_max", portMax)
			}
			if remoteIP != "" {
				body.set("remote_ip_prefix", remoteIP)
			}
			if remoteGroup != "" {
				id, err := cc.resolve(resSecGroup, remoteGroup)
				if err != nil {
					return err
				}
				body.set("remote_group_id", id)
			}
			obj, err := cc.create(resSecGroupRul, body)
			if err != nil {
				return err
			}
			cc.printCreated(resSecGroupRul, obj)
			return nil
		}}
}

// securityGroupRuleListCmd is security-group-rule-list: group ids shown as
// names, and the port/protocol and remote columns neutronclient derives.
func securityGroupRuleListCmd() cloudSpec {
	return cloudSpec{use: "security-group-rule-list", short: "List security group rules", output: true,
		run: func(cc *cloudCall, _ *cobra.Command, _ []string) error {
			rules, err := cc.list(resSecGroupRul, nil)
			if err != nil {
				return err
			}
			groups, err := cc.list(resSecGroup, nil)
			if err != nil {
				return err
			}
			names := map[string]string{}
			for _, g := range groups {
				if n := g.str("name"); n != "" {
					names[g.str("id")] = n
				}
			}
			for i, r := range rules {
				out := jsonObject{}
				for _, m := range r {
					switch m.Key {
					case "security_group_id", "remote_group_id":
						if n, ok := names[pyStr(m.Value)]; ok {
							m.Value = n
						}
						m.Key = strings.TrimSuffix(m.Key, "_id")
					}
					out = append(out, m)
				}
				// neutronclient derives "remote" after the group id became
				// a name: "default (group)".
				named := append(jsonObject(nil), r...)
				if n, ok := names[named.str("remote_group_id")]; ok {
					named.set("remote_group_id", n)
				}
				out.set("port/protocol", orAny(sgProtocolPort(r)))
				out.set("remote", orAny(sgRemote(named)))
				rules[i] = out
			}
			emitList(cc.stdout, cc.out, []string{"id", "security_group", "direction", "ethertype", "port/protocol", "remote"}, listRecords(rules, nil))
			return nil
		}}
}

func orAny(s string) string {
	if s == "" {
		return "any"
	}
	return s
}

// sgProtocolPort is the port/protocol column: "22/tcp", "1000-2000/udp",
// "icmp (type:8, code:0)", the protocol alone, or "" for any.
func sgProtocolPort(r jsonObject) string {
	proto := pyStr(orNil(r, "protocol"))
	lo, hi := orNil(r, "port_range_min"), orNil(r, "port_range_max")
	switch proto {
	case "tcp", "udp":
		switch {
		case lo != nil && pyStr(lo) != "0" && pyStr(lo) == pyStr(hi):
			return pyStr(lo) + "/" + proto
		case lo != nil && pyStr(lo) != "0":
			return pyStr(lo) + "-" + pyStr(hi) + "/" + proto
		}
		return proto
	case "icmp":
		var opts []string
		if lo != nil {
			opts = append(opts, "type:"+pyStr(lo))
		}
		if hi != nil {
			opts = append(opts, "code:"+pyStr(hi))
		}
		if len(opts) > 0 {
			return "icmp (" + strings.Join(opts, ", ") + ")"
		}
		return "icmp"
	case "None", "":
		return ""
	}
	return proto
}

func sgRemote(r jsonObject) string {
	if p := r.str("remote_ip_prefix"); p != "" {
		return p + " (CIDR)"
	}
	if g := r.str("remote_group_id"); g != "" {
		return g + " (group)"
	}
	return ""
}

func orNil(o jsonObject, key string) any {
	v, _ := o.get(key)
	return v
}

// formatSGRules is the security_group_rules cell of security-group-list:
// one line per rule, sorted.
func formatSGRules(v any) string {
	list, _ := v.([]any)
	lines := make([]string, 0, len(list))
	for _, e := range list {
		r, _ := e.(jsonObject)
		var parts []string
		for _, p := range []string{r.str("direction"), r.str("ethertype"), sgProtocolPort(r)} {
			if p != "" {
				parts = append(parts, p)
			}
		}
		if p := r.str("remote_ip_prefix"); p != "" {
			parts = append(parts, "remote_ip_prefix: "+p)
		}
		if g := r.str("remote_group_id"); g != "" {
			parts = append(parts, "remote_group_id: "+g)
		}
		lines = append(lines, strings.Join(parts, ", "))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}
