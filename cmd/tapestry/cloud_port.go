package main

// tapestry cloud port-*: neutronclient's port commands. --fixed-ip takes
// subnet_id=SUBNET,ip_address=IP with either key alone; on port-update it
// replaces the port's whole list, as Neutron does.

import (
	"github.com/spf13/cobra"
)

func portCmds() []cloudSpec {
	return []cloudSpec{
		portCreateCmd(),
		portListCmd(),
		showCmd(resPort, "port-show PORT", true),
		portUpdateCmd(),
		deleteCmd(resPort, "port-delete PORT", true),
	}
}

// portOpts are the options port-create and port-update share.
type portOpts struct {
	name, deviceOwner, deviceID, portSecurity string
	fixedIPs, pairs, secGroups                []string
	noSecGroups, noPairs                      bool
}

func (o *portOpts) flags(c *cobra.Command) {
	f := c.Flags()
	f.StringVar(&o.name, "name", "", "name of the port")
	f.StringArrayVar(&o.fixedIPs, "fixed-ip", nil, "subnet_id=SUBNET,ip_address=IP (repeatable; either key alone)")
	f.StringVar(&o.deviceID, "device-id", "", "device ID of the port")
	f.StringVar(&o.deviceOwner, "device-owner", "", "device owner of the port")
	f.StringArrayVar(&o.secGroups, "security-group", nil, "security group of the port (repeatable)")
	f.BoolVar(&o.noSecGroups, "no-security-groups", false, "no security groups on the port")
	f.StringArrayVar(&o.pairs, "allowed-address-pair", nil, "ip_address=IP|CIDR[,mac_address=MAC] (repeatable)")
	f.BoolVar(&o.noPairs, "no-allowed-address-pairs", false, "no allowed address pairs on the port")
	f.StringVar(&o.portSecurity, "port-security-enabled", "", "True or False")
}

// body adds the given options to body in neutronclient's order.
func (o *portOpts) body(cc *cloudCall, c *cobra.Command, body *jsonObject) error {
	if len(o.secGroups) > 0 && o.noSecGroups {
		return usagef("argument --no-security-groups: not allowed with argument --security-group")
	}
	if len(o.pairs) > 0 && o.noPairs {
		return usagef("argument --no-allowed-address-pairs: not allowed with argument --allowed-address-pair")
	}
	pairs, err := parseKVs("--allowed-address-pair", o.pairs, []string{"ip_address"}, []string{"mac_address"})
	if err != nil {
		return err
	}
	var secure bool
	if o.portSecurity != "" {
		if secure, err = boolWord("--port-security-enabled", o.portSecurity); err != nil {
			return err
		}
	}
	if o.deviceID != "" {
		body.set("device_id", o.deviceID)
	}
	if o.deviceOwner != "" {
		body.set("device_owner", o.deviceOwner)
	}
	if c.Flags().Changed("name") {
		body.set("name", o.name)
	}
	if len(o.fixedIPs) > 0 {
		ips, err := cc.resolveFixedIPs(o.fixedIPs)
		if err != nil {
			return err
		}
		body.set("fixed_ips", ips)
	}
	if len(o.secGroups) > 0 {
		ids := make([]any, len(o.secGroups))
		for i, sg := range o.secGroups {
			id, err := cc.resolve(resSecGroup, sg)
			if err != nil {
				return err
			}
			ids[i] = id
		}
		body.set("security_groups", ids)
	} else if o.noSecGroups {
		body.set("security_groups", []any{})
	}
	if len(pairs) > 0 {
		body.set("allowed_address_pairs", pairs)
	} else if o.noPairs {
		body.set("allowed_address_pairs", []any{})
	}
	if o.portSecurity != "" {
		body.set("port_security_enabled", secure)
	}
	return nil
}

func portCreateCmd() cloudSpec {
	var o portOpts
	var mac string
	var down bool
	return cloudSpec{
		use: "port-create NETWORK [--name NAME] [--fixed-ip subnet_id=SUBNET,ip_address=IP]... [--mac-address MAC] [--device-owner OWNER] [--device-id ID] [--allowed-address-pair ip_address=IP[,mac_address=MAC]]... [--security-group SG]... [--no-security-groups] [--port-security-enabled True|False] [--admin-state-down]", short: "Create a port", args: 1, output: true,
		flags: func(c *cobra.Command) {
			o.flags(c)
			c.Flags().StringVar(&mac, "mac-address", "", "MAC address of the port")
			c.Flags().BoolVar(&down, "admin-state-down", false, "set admin state up to false")
		},
		run: func(cc *cloudCall, c *cobra.Command, args []string) error {
			netID, err := cc.resolve(resNetwork, args[0])
			if err != nil {
				return err
			}
			body := jsonObject{{"admin_state_up", !down}, {"network_id", netID}}
			if err := o.body(cc, c, &body); err != nil {
				return err
			}
			if mac != "" {
				body.set("mac_address", mac)
			}
			obj, err := cc.create(resPort, body)
			if err != nil {
				return err
			}
			cc.printCreated(resPort, obj)
			return nil
		},
	}
}

func portUpdateCmd() cloudSpec {
	var o portOpts
	var adminUp string
	return cloudSpec{
		use: "port-update PORT [--name NAME] [--fixed-ip subnet_id=SUBNET,ip_address=IP]... [--device-owner OWNER] [--device-id ID] [--allowed-address-pair ip_address=IP[,mac_address=MAC]]... [--security-group SG]... [--no-security-groups] [--port-security-enabled True|False] [--admin-state-up True|False]", short: "Update a port's information", args: 1,
		flags: func(c *cobra.Command) {
			o.flags(c)
			c.Flags().StringVar(&adminUp, "admin-state-up", "", "True or False")
		},
		run: func(cc *cloudCall, c *cobra.Command, args []string) error {
			var body jsonObject
			if err := o.body(cc, c, &body); err != nil {
				return err
			}
			if adminUp != "" {
				up, err := boolWord("--admin-state-up", adminUp)
				if err != nil {
					return err
				}
				body.set("admin_state_up", up)
			}
			return cc.updateNamed(resPort, args[0], body)
		},
	}
}

// portListCmd is port-list; --network NET keeps that network's ports.
func portListCmd() cloudSpec {
	var network string
	return cloudSpec{use: "port-list [--network NETWORK]", short: "List ports", output: true,
		flags: func(c *cobra.Command) {
			c.Flags().StringVar(&network, "network", "", "list only the ports of this network (name or id)")
		},
		run: func(cc *cloudCall, _ *cobra.Command, _ []string) error {
			var ports []jsonObject
			var err error
			if network != "" {
				id, err := cc.resolve(resNetwork, network)
				if err != nil {
					return err
				}
				ports, err = cc.listFiltered(resPort, "network_id", id)
				if err != nil {
					return err
				}
			} else if ports, err = cc.list(resPort, nil); err != nil {
				return err
			}
			emitList(cc.stdout, cc.out, []string{"id", "name", "mac_address", "fixed_ips"}, listRecords(ports, map[string]func(any) string{"fixed_ips": jsonLines}))
			return nil
		}}
}
