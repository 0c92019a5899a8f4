package main

// tapestry cloud net-* and subnet-*: neutronclient's network and subnet
// commands.

import (
	"errors"
	"net/url"
	"strings"

	"github.com/spf13/cobra"
)

func networkCmds() []cloudSpec {
	return []cloudSpec{
		netCreateCmd(),
		netListCmd(),
		showCmd(resNetwork, "net-show NETWORK", true),
		netUpdateCmd(),
		deleteCmd(resNetwork, "net-delete NETWORK", true),
	}
}

func netCreateCmd() cloudSpec {
	var shared, external, down bool
	var netType, physnet string
	var segID int
	return cloudSpec{
		use: "net-create NAME [--shared] [--router:external] [--provider:network_type T] [--provider:physical_network P] [--provider:segmentation_id N] [--admin-state-down]", short: "Create a network", args: 1, output: true,
		flags: func(c *cobra.Command) {
			f := c.Flags()
			f.BoolVar(&shared, "shared", false, "set the network as shared")
			f.BoolVar(&external, "router:external", false, "an external network, for router gateways and floating IPs")
			f.StringVar(&netType, "provider:network_type", "", "flat, vlan, vxlan or local")
			f.StringVar(&physnet, "provider:physical_network", "", "the physical network of a flat or vlan network")
			f.IntVar(&segID, "provider:segmentation_id", 0, "VLAN id or VXLAN VNI")
			f.BoolVar(&down, "admin-state-down", false, "set admin state up to false")
		},
		run: func(cc *cloudCall, c *cobra.Command, args []string) error {
			// Neutronclient's body order: admin_state_up, name, shared,
			// then the extra --key value words in command-line order.
			body := jsonObject{{"admin_state_up", !down}, {"name", args[0]}}
			if shared {
				body.set("shared", true)
			}
			if external {
				body.set("router:external", true)
			}
			if netType != "" {
				body.set("provider:network_type", netType)
			}
			if physnet != "" {
				body.set("provider:physical_network", physnet)
			}
			if c.Flags().Changed("provider:segmentation_id") {
				body.set("provider:segmentation_id", segID)
			}
			obj, err := cc.create(resNetwork, body)
			if err != nil {
				return err
			}
			cc.printCreated(resNetwork, obj)
			return nil
		},
	}
}

// netListCmd is net-list: each network's subnets as "ID CIDR" lines, as
// neutronclient's extend_list looks the CIDRs up.
func netListCmd() cloudSpec {
	return cloudSpec{use: "net-list", short: "List networks", output: true,
		run: func(cc *cloudCall, _ *cobra.Command, _ []string) error {
			nets, err := cc.list(resNetwork, nil)
			if err != nil {
				return err
			}
			subnets, err := cc.list(resSubnet, nil)
			if err != nil {
				return err
			}
			cidr := map[string]any{}
			for _, s := range subnets {
				cidr[s.str("id")], _ = s.get("cidr")
			}
			for _, n := range nets {
				v, _ := n.get("subnets")
				ids, _ := v.([]any)
				ext := make([]any, len(ids))
				for i, id := range ids {
					s := jsonObject{{"id", id}}
					if c, ok := cidr[pyStr(id)]; ok {
						s.set("cidr", c)
					}
					ext[i] = s
				}
				n.set("subnets", ext)
			}
			emitList(cc.stdout, cc.out, []string{"id", "name", "subnets"}, listRecords(nets, map[string]func(any) string{"subnets": formatNetSubnets}))
			return nil
		}}
}

func formatNetSubnets(v any) string {
	list, _ := v.([]any)
	lines := make([]string, len(list))
	for i, e := range list {
		s, _ := e.(jsonObject)
		c, _ := s.get("cidr")
		if c == nil {
			c = ""
		}
		lines[i] = s.str("id") + " " + pyStr(c)
	}
	return strings.Join(lines, "\n")
}

func netUpdateCmd() cloudSpec {
	var name, adminUp string
	var shared, noShared bool
	return cloudSpec{use: "net-update NETWORK [--name NAME] [--shared | --no-shared] [--admin-state-up True|False]", short: "Update a network's information", args: 1,
		flags: func(c *cobra.Command) {
			f := c.Flags()
			f.StringVar(&name, "name", "", "new name of the network")
			f.BoolVar(&shared, "shared", false, "share the network")
			f.BoolVar(&noShared, "no-shared", false, "stop sharing the network")
			f.StringVar(&adminUp, "admin-state-up", "", "True or False")
		},
		run: func(cc *cloudCall, c *cobra.Command, args []string) error {
			var body jsonObject
			if c.Flags().Changed("name") {
				body.set("name", name)
			}
			if shared && noShared {
				return usagef("argument --no-shared: not allowed with argument --shared")
			}
			if shared || noShared {
				body.set("shared", shared)
			}
			if adminUp != "" {
				up, err := boolWord("--admin-state-up", adminUp)
				if err != nil {
					return err
				}
				body.set("admin_state_up", up)
			}
			return cc.updateNamed(resNetwork, args[0], body)
		}}
}

// updateNamed resolves and updates an object, printing neutron's line.
func (cc *cloudCall) updateNamed(r resource, nameOrID string, body jsonObject) error {
	if len(body) == 0 {
		return errors.New("Must specify new values to update " + r.name)
	}
	id, err := cc.resolve(r, nameOrID)
	if err != nil {
		return err
	}
	if err := cc.update(r, id, body); err != nil {
		return err
	}
	cc.updated(r, nameOrID)
	return nil
}

func subnetCmds() []cloudSpec {
	return []cloudSpec{
		subnetCreateCmd(),
		listCmd(resSubnet, "subnet-list", []string{"id", "name", "cidr", "allocation_pools"}, map[string]func(any) string{"allocation_pools": jsonLines}),
		showCmd(resSubnet, "subnet-show SUBNET", true),
		subnetUpdateCmd(),
		deleteCmd(resSubnet, "subnet-delete SUBNET", true),
	}
}

// subnetOpts are the options subnet-create and subnet-update share.
type subnetOpts struct {
	name, gateway                 string
	noGateway                     bool
	pools, dns, routes            []string
	disableDHCP, enableDHCP       bool
	noDNS, noHostRoutes, isUpdate bool
}

func (o *subnetOpts) flags(c *cobra.Command) {
	f := c.Flags()
	f.StringVar(&o.name, "name", "", "name of the subnet")
	f.StringVar(&o.gateway, "gateway", "", "gateway IP of the subnet")
	f.BoolVar(&o.noGateway, "no-gateway", false, "no gateway for the subnet")
	f.StringArrayVar(&o.pools, "allocation-pool", nil, "start=IP,end=IP (repeatable)")
	f.StringArrayVar(&o.dns, "dns-nameserver", nil, "DNS name server (repeatable)")
	f.StringArrayVar(&o.routes, "host-route", nil, "destination=CIDR,nexthop=IP (repeatable)")
	f.BoolVar(&o.disableDHCP, "disable-dhcp", false, "disable DHCP for the subnet")
	f.BoolVar(&o.enableDHCP, "enable-dhcp", false, "enable DHCP for the subnet")
	if o.isUpdate {
		f.BoolVar(&o.noDNS, "no-dns-nameservers", false, "remove every DNS name server")
		f.BoolVar(&o.noHostRoutes, "no-host-routes", false, "remove every host route")
	}
}

// body adds the options that were given to body, as neutronclient's
// updatable_args2body.
func (o *subnetOpts) body(c *cobra.Command, body *jsonObject) error {
	if o.gateway != "" && o.noGateway {
		return usagef("argument --no-gateway: not allowed with argument --gateway")
	}
	if o.disableDHCP && o.enableDHCP {
		return usagef("argument --enable-dhcp: not allowed with argument --disable-dhcp")
	}
	if c.Flags().Changed("name") {
		body.set("name", o.name)
	}
	if o.gateway != "" {
		body.set("gateway_ip", o.gateway)
	} else if o.noGateway {
		body.set("gateway_ip", nil)
	}
	if len(o.pools) > 0 {
		pools, err := parseKVs("--allocation-pool", o.pools, []string{"start", "end"}, nil)
		if err != nil {
			return err
		}
		body.set("allocation_pools", pools)
	}
	if len(o.routes) > 0 {
		routes, err := parseKVs("--host-route", o.routes, []string{"destination", "nexthop"}, nil)
		if err != nil {
			return err
		}
		body.set("host_routes", routes)
	} else if o.noHostRoutes {
		body.set("host_routes", []any{})
	}
	if len(o.dns) > 0 {
		body.set("dns_nameservers", toAnyList(o.dns))
	} else if o.noDNS {
		body.set("dns_nameservers", []any{})
	}
	if o.disableDHCP {
		body.set("enable_dhcp", false)
	} else if o.enableDHCP {
		body.set("enable_dhcp", true)
	}
	return nil
}

func subnetCreateCmd() cloudSpec {
	var o subnetOpts
	var ipVersion int
	return cloudSpec{
		use: "subnet-create NETWORK CIDR [--name NAME] [--gateway IP | --no-gateway] [--allocation-pool start=IP,end=IP]... [--dns-nameserver IP]... [--host-route destination=CIDR,nexthop=IP]... [--disable-dhcp] [--ip-version 4]", short: "Create a subnet", args: 2, output: true,
		flags: func(c *cobra.Command) {
			o.flags(c)
			c.Flags().IntVar(&ipVersion, "ip-version", 4, "IP version: 4")
		},
		run: func(cc *cloudCall, c *cobra.Command, args []string) error {
			if ipVersion != 4 && ipVersion != 6 {
				return usagef("argument --ip-version: invalid choice: %d (choose from 4, 6)", ipVersion)
			}
			netID, err := cc.resolve(resNetwork, args[0])
			if err != nil {
				return err
			}
			body := jsonObject{{"network_id", netID}, {"ip_version", ipVersion}, {"cidr", args[1]}}
			if err := o.body(c, &body); err != nil {
				return err
			}
			obj, err := cc.create(resSubnet, body)
			if err != nil {
				return err
			}
			cc.printCreated(resSubnet, obj)
			return nil
		},
	}
}

func subnetUpdateCmd() cloudSpec {
	o := subnetOpts{isUpdate: true}
	return cloudSpec{use: "subnet-update SUBNET [--name NAME] [--gateway IP | --no-gateway] [--allocation-pool start=IP,end=IP]... [--dns-nameserver IP]... [--host-route destination=CIDR,nexthop=IP]... [--enable-dhcp | --disable-dhcp]", short: "Update a subnet's information", args: 1,
		flags: o.flags,
		run: func(cc *cloudCall, c *cobra.Command, args []string) error {
			var body jsonObject
			if err := o.body(c, &body); err != nil {
				return err
			}
			return cc.updateNamed(resSubnet, args[0], body)
		}}
}

// listFiltered lists r and keeps the objects whose key equals value (the
// daemon is asked to filter too).
func (cc *cloudCall) listFiltered(r resource, key, value string) ([]jsonObject, error) {
	objs, err := cc.list(r, url.Values{key: {value}})
	if err != nil {
		return nil, err
	}
	kept := objs[:0]
	for _, o := range objs {
		if o.str(key) == value {
			kept = append(kept, o)
		}
	}
	return kept, nil
}
