package main

// tapestry cloud server-*: nova(1)'s boot, list, show and delete against
// the daemon's Nova-like API (/v2.1/servers). Errors are printed as
// novaclient prints them: "ERROR (CommandError): ..." for what the client
// finds wrong, "ERROR (NotFound): MESSAGE (HTTP 404)" for the server's.

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/spf13/cobra"

	"tapestry/api"
)

const serversPath = "/v2.1/servers"

// novaError words err as novaclient does.
func novaError(err error) error {
	var ce *api.CloudError
	var ue cloudUsageError
	switch {
	case err == nil, errors.As(err, &ue):
		return err
	case errors.As(err, &ce):
		return fmt.Errorf("ERROR (%s): %s (HTTP %d)", novaClass(ce.Status), ce.Message, ce.Status)
	}
	return err
}

// novaClass is the novaclient exception class of an HTTP status.
func novaClass(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "BadRequest"
	case http.StatusUnauthorized:
		return "Unauthorized"
	case http.StatusForbidden:
		return "Forbidden"
	case http.StatusNotFound:
		return "NotFound"
	case http.StatusMethodNotAllowed:
		return "MethodNotAllowed"
	case http.StatusConflict:
		return "Conflict"
	case http.StatusRequestEntityTooLarge:
		return "OverLimit"
	case http.StatusNotImplemented:
		return "HTTPNotImplemented"
	}
	return "ClientException"
}

func commandError(format string, args ...any) error {
	return fmt.Errorf("ERROR (CommandError): "+format, args...)
}

func serverCmds() []cloudSpec {
	return []cloudSpec{serverCreateCmd(), serverListCmd(), serverShowCmd(), serverDeleteCmd()}
}

// parseNIC parses nova's --nic net-id=NET[,v4-fixed-ip=IP] or
// port-id=PORT (net-name=NAME is accepted too) into a networks entry.
func (cc *cloudCall) parseNIC(s string) (jsonObject, error) {
	bad := commandError("Invalid nic argument '%s'. NIC arguments must be of the form --nic <net-id=net-uuid,net-name=network-name,v4-fixed-ip=ip-addr,port-id=port-uuid>, with only one of net-id, net-name or port-id specified.", s)
	var netRef, fixedIP, portRef string
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || v == "" {
			return nil, bad
		}
		switch k {
		case "net-id", "net-name":
			if netRef != "" {
				return nil, bad
			}
			netRef = v
		case "v4-fixed-ip":
			fixedIP = v
		case "port-id":
			portRef = v
		default:
			return nil, bad
		}
	}
	if (netRef == "") == (portRef == "") || (portRef != "" && fixedIP != "") {
		return nil, bad
	}
	if portRef != "" {
		id, err := cc.resolve(resPort, portRef)
		if err != nil {
			return nil, commandError("%v", err)
		}
		return jsonObject{{"port", id}}, nil
	}
	id, err := cc.resolve(resNetwork, netRef)
	if err != nil {
		return nil, commandError("%v", err)
	}
	nic := jsonObject{{"uuid", id}}
	if fixedIP != "" {
		nic.set("fixed_ip", fixedIP)
	}
	return nic, nil
}

func serverCreateCmd() cloudSpec {
	var nics []string
	var tap bool
	return cloudSpec{use: "server-create NAME --nic net-id=NET[,v4-fixed-ip=IP] | --nic port-id=PORT ... [--tap]", short: "Boot a server (a namespace, or TAP devices with --tap), as nova boot", args: 1, output: true,
		flags: func(c *cobra.Command) {
			c.Flags().StringArrayVar(&nics, "nic", nil, "net-id=NET[,v4-fixed-ip=IP] or port-id=PORT (repeatable; names allowed)")
			c.Flags().BoolVar(&tap, "tap", false, "give the server kernel TAP devices instead of a tapestry namespace")
		},
		run: func(cc *cloudCall, _ *cobra.Command, args []string) error {
			networks := make([]any, 0, len(nics))
			for _, s := range nics {
				nic, err := cc.parseNIC(s)
				if err != nil {
					return err
				}
				networks = append(networks, nic)
			}
			body := jsonObject{{"name", args[0]}, {"networks", networks}}
			if tap {
				body.set("tapestry:tap", true)
			}
			var reply jsonObject
			if err := cc.client.Cloud(cc.ctx, "POST", serversPath, jsonObject{{"server", body}}, &reply); err != nil {
				return novaError(err)
			}
			srv, err := single(resource{name: "server"}, reply)
			if err != nil {
				return err
			}
			return cc.printServer(srv)
		}}
}

// resolveServer finds a server by id, else by exact name, as novaclient's
// find_resource.
func (cc *cloudCall) resolveServer(nameOrID string) (jsonObject, error) {
	var reply jsonObject
	err := cc.client.Cloud(cc.ctx, "GET", serversPath+"/"+url.PathEscape(nameOrID), nil, &reply)
	var ce *api.CloudError
	switch {
	case err == nil:
		return single(resource{name: "server"}, reply)
	case !errors.As(err, &ce) || ce.Status != http.StatusNotFound:
		return nil, novaError(err)
	}
	servers, err := cc.servers(url.Values{"name": {nameOrID}})
	if err != nil {
		return nil, err
	}
	var found []jsonObject
	for _, s := range servers {
		if s.str("name") == nameOrID {
			found = append(found, s)
		}
	}
	switch len(found) {
	case 0:
		return nil, commandError("No server with a name or ID of '%s' exists.", nameOrID)
	case 1:
		return found[0], nil
	}
	return nil, commandError("Multiple server matches found for '%s', use an ID to be more specific.", nameOrID)
}

// servers lists servers with details.
func (cc *cloudCall) servers(q url.Values) ([]jsonObject, error) {
	path := serversPath + "/detail"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var reply jsonObject
	err := cc.client.Cloud(cc.ctx, "GET", path, nil, &reply)
	var ce *api.CloudError
	if errors.As(err, &ce) && ce.Status == http.StatusNotFound {
		// A service without Nova's detailed list: its plain list.
		path = strings.Replace(path, "/detail", "", 1)
		err = cc.client.Cloud(cc.ctx, "GET", path, nil, &reply)
	}
	if err != nil {
		return nil, novaError(err)
	}
	v, _ := reply.get("servers")
	items, _ := v.([]any)
	out := make([]jsonObject, 0, len(items))
	for _, it := range items {
		if o, ok := it.(jsonObject); ok {
			out = append(out, o)
		}
	}
	return out, nil
}

// addressBook maps a server to its addresses by network, from the ports
// the server owns: fixed IPs, then floating IPs, as Nova lists them.
type addressBook struct {
	ports    map[string]jsonObject
	netNames map[string]string
	floating map[string][]string // port id -> floating IPs
}

func (cc *cloudCall) addressBook() (*addressBook, error) {
	ab := &addressBook{ports: map[string]jsonObject{}, netNames: map[string]string{}, floating: map[string][]string{}}
	ports, err := cc.list(resPort, nil)
	if err != nil {
		return nil, err
	}
	for _, p := range ports {
		ab.ports[p.str("id")] = p
	}
	nets, err := cc.list(resNetwork, nil)
	if err != nil {
		return nil, err
	}
	for _, n := range nets {
		ab.netNames[n.str("id")] = n.str("name")
	}
	fips, err := cc.list(resFloatingIP, nil)
	if err != nil {
		return nil, err
	}
	for _, f := range fips {
		if p := f.str("port_id"); p != "" {
			ab.floating[p] = append(ab.floating[p], f.str("floating_ip_address"))
		}
	}
	return ab, nil
}

// networks returns (label, addresses) pairs in NIC order, one per network.
func (ab *addressBook) networks(srv jsonObject) (labels []string, addrs map[string][]string) {
	addrs = map[string][]string{}
	v, _ := srv.get("tapestry:ports")
	ids, _ := v.([]any)
	for _, id := range ids {
		p, ok := ab.ports[pyStr(id)]
		if !ok {
			continue
		}
		label := ab.netNames[p.str("network_id")]
		if label == "" {
			label = p.str("network_id")
		}
		if _, seen := addrs[label]; !seen {
			labels = append(labels, label)
			addrs[label] = nil
		}
		fv, _ := p.get("fixed_ips")
		fixed, _ := fv.([]any)
		for _, f := range fixed {
			if fo, ok := f.(jsonObject); ok {
				addrs[label] = append(addrs[label], fo.str("ip_address"))
			}
		}
		addrs[label] = append(addrs[label], ab.floating[p.str("id")]...)
	}
	return labels, addrs
}

// networksCell is nova list's Networks column: "net=ip, ip; net2=ip".
func (ab *addressBook) networksCell(srv jsonObject) string {
	labels, addrs := ab.networks(srv)
	parts := make([]string, len(labels))
	for i, l := range labels {
		parts[i] = l + "=" + strings.Join(addrs[l], ", ")
	}
	return strings.Join(parts, "; ")
}

func serverListCmd() cloudSpec {
	return cloudSpec{use: "server-list", short: "List servers, as nova list", output: true,
		run: func(cc *cloudCall, _ *cobra.Command, _ []string) error {
			servers, err := cc.servers(nil)
			if err != nil {
				return err
			}
			ab, err := cc.addressBook()
			if err != nil {
				return err
			}
			recs := make([]record, len(servers))
			for i, s := range servers {
				row := jsonObject{{"ID", s.str("id")}, {"Name", s.str("name")}, {"Status", s.str("status")}, {"Networks", ab.networksCell(s)}}
				recs[i] = listRecord(row, nil)
			}
			if len(recs) == 0 && cc.out.format == "table" {
				// nova prints the header of an empty list.
				writeTable(cc.stdout, []string{"ID", "Name", "Status", "Networks"}, nil)
				return nil
			}
			emitList(cc.stdout, cc.out, []string{"ID", "Name", "Status", "Networks"}, recs)
			return nil
		}}
}

// printServer prints a server as nova show: a Property/Value table with a
// "NET network" row per network.
func (cc *cloudCall) printServer(srv jsonObject) error {
	ab, err := cc.addressBook()
	if err != nil {
		return err
	}
	labels, addrs := ab.networks(srv)
	shown := append(jsonObject(nil), srv...)
	for _, l := range labels {
		shown.set(l+" network", strings.Join(addrs[l], ", "))
	}
	emitOne(cc.stdout, cc.out, "Property", showRecord(shown))
	return nil
}

func serverShowCmd() cloudSpec {
	return cloudSpec{use: "server-show SERVER", short: "Show a server, as nova show", args: 1, output: true,
		run: func(cc *cloudCall, _ *cobra.Command, args []string) error {
			srv, err := cc.resolveServer(args[0])
			if err != nil {
				return err
			}
			return cc.printServer(srv)
		}}
}

func serverDeleteCmd() cloudSpec {
	return cloudSpec{use: "server-delete SERVER", short: "Delete a server, as nova delete", args: 1,
		run: func(cc *cloudCall, _ *cobra.Command, args []string) error {
			srv, err := cc.resolveServer(args[0])
			if err != nil {
				return err
			}
			if err := cc.client.Cloud(cc.ctx, "DELETE", serversPath+"/"+url.PathEscape(srv.str("id")), nil, nil); err != nil {
				return novaError(err)
			}
			fmt.Fprintf(cc.stdout, "Request to delete server %s has been accepted.\n", args[0])
			return nil
		}}
}
