package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"tapestry/api"
	"tapestry/cloud"
)

// fakeCloud is a canned Neutron/Nova REST service: collections of objects
// (JSON as the cloud package marshals them), the requests it saw, and
// replies a test sets for one method and path.
type fakeCloud struct {
	mu      sync.Mutex
	objs    map[string][]json.RawMessage // collection path -> objects
	reqs    []fakeRequest
	replies map[string]fakeReply // "METHOD /path" (no query) -> reply
}

type fakeRequest struct {
	Method, Path string // Path with query
	Body         string
}

type fakeReply struct {
	status int
	body   string
}

// collections of the fake, by URL path, with their JSON keys.
var fakeCollections = []struct{ path, plural, singular string }{
	{"/v2.0/networks", "networks", "network"},
	{"/v2.0/subnets", "subnets", "subnet"},
	{"/v2.0/ports", "ports", "port"},
	{"/v2.0/routers", "routers", "router"},
	{"/v2.0/floatingips", "floatingips", "floatingip"},
	{"/v2.0/security-groups", "security_groups", "security_group"},
	{"/v2.0/security-group-rules", "security_group_rules", "security_group_rule"},
	{"/v2.1/servers", "servers", "server"},
}

func (f *fakeCloud) add(path string, objs ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, o := range objs {
		b, err := json.Marshal(o)
		if err != nil {
			panic(err)
		}
		f.objs[path] = append(f.objs[path], b)
	}
}

func (f *fakeCloud) reply(method, path string, status int, body string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.replies[method+" "+path] = fakeReply{status, body}
}

// requests returns the requests with a body (the ones that change state)
// and the bodies as decoded JSON.
func (f *fakeCloud) writes() []fakeRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []fakeRequest
	for _, r := range f.reqs {
		if r.Method != http.MethodGet {
			out = append(out, r)
		}
	}
	return out
}

func (f *fakeCloud) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reqs = append(f.reqs, fakeRequest{r.Method, r.URL.RequestURI(), string(body)})
	if rep, ok := f.replies[r.Method+" "+r.URL.Path]; ok {
		w.WriteHeader(rep.status)
		io.WriteString(w, rep.body)
		return
	}
	for _, c := range fakeCollections {
		if !strings.HasPrefix(r.URL.Path, c.path) {
			continue
		}
		rest := strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, c.path), "/")
		switch {
		case r.Method == http.MethodGet && (rest == "" || rest == "detail"):
			f.serveList(w, r, c.path, c.plural)
		case r.Method == http.MethodGet:
			if o := f.find(c.path, rest); o != nil {
				fmt.Fprintf(w, `{%q: %s}`, c.singular, o)
				return
			}
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprintf(w, `{"NeutronError": {"type": "NotFound", "message": "%s %s could not be found.", "detail": ""}}`, c.singular, rest)
		case r.Method == http.MethodDelete:
			w.WriteHeader(http.StatusNoContent)
		case r.Method == http.MethodPost:
			// Echo the object with an id, as a create does.
			var in map[string]map[string]any
			json.Unmarshal(body, &in)
			obj := in[c.singular]
			obj["id"] = "new-" + c.singular
			b, _ := json.Marshal(map[string]any{c.singular: obj})
			w.WriteHeader(http.StatusCreated)
			w.Write(b)
		default:
			w.WriteHeader(http.StatusOK)
			io.WriteString(w, "{}")
		}
		return
	}
	w.WriteHeader(http.StatusNotFound)
	io.WriteString(w, `{"error": "no such path"}`)
}

func (f *fakeCloud) serveList(w http.ResponseWriter, r *http.Request, path, plural string) {
	q := r.URL.Query()
	var items []json.RawMessage
	for _, o := range f.objs[path] {
		var idName struct{ ID, Name string }
		json.Unmarshal(o, &idName)
		if (q.Has("id") && q.Get("id") != idName.ID) || (q.Has("name") && q.Get("name") != idName.Name) {
			continue
		}
		items = append(items, o)
	}
	if items == nil {
		items = []json.RawMessage{}
	}
	b, _ := json.Marshal(map[string]any{plural: items})
	w.Write(b)
}

func (f *fakeCloud) find(path, id string) json.RawMessage {
	for _, o := range f.objs[path] {
		var idName struct{ ID string }
		json.Unmarshal(o, &idName)
		if idName.ID == id {
			return o
		}
	}
	return nil
}

// startFakeCloud serves a fakeCloud on the socket the CLI dials.
func startFakeCloud(t *testing.T) *fakeCloud {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("TAPESTRY_RUNDIR", dir)
	ln, err := net.Listen("unix", filepath.Join(dir, api.SocketName))
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeCloud{objs: map[string][]json.RawMessage{}, replies: map[string]fakeReply{}}
	srv := &http.Server{Handler: f}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return f
}

// rootHasCloud reports whether `tapestry` itself has the cloud subcommand
// (main.go adds newCloudCmd); until it does, the tests run the same tree
// through runCloud.
func rootHasCloud() bool {
	c, _, err := newRootCmd(io.Discard, io.Discard).Find([]string{"cloud"})
	return err == nil && c.Name() == "cloud"
}

// cloudCLI runs `tapestry cloud LINE`.
func cloudCLI(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	if rootHasCloud() {
		code = runTapestry(append([]string{"cloud"}, args...), &out, &errb)
	} else {
		code = runCloud(args, &out, &errb)
	}
	return out.String(), errb.String(), code
}

// seedCloud holds the networks and subnets of the seed's `neutron
// net-list`.
func seedCloud(t *testing.T) *fakeCloud {
	f := startFakeCloud(t)
	nets := []struct{ id, name, subnet, cidr string }{
		{"1ced55ea-d30f-4c1d-ba97-6a7bbbd9ecca", "private", "f805a609-da7c-4a79-98a4-1aefb6aca2a2", "10.0.0.0/24"},
		{"467b92e0-540d-4cac-86a6-999354c6b6c8", "1", "216fa519-973f-493f-a8ef-1b5f9e30335f", "10.0.1.0/24"},
		{"65bdc2e1-d3ba-4b20-912c-6f0a29aef5de", "public", "189e9999-4295-45a4-b6b2-438225249654", "172.24.4.224/28"},
		{"73569655-f522-4e3d-b2f3-f1a1fd83cc5e", "2", "c9015487-e913-4a31-bc14-ef3cb549c895", "10.0.2.0/24"},
	}
	for _, n := range nets {
		p := netip.MustParsePrefix(n.cidr)
		gw := p.Addr().Next()
		f.add("/v2.0/networks", cloud.Network{ID: n.id, Name: n.name, AdminStateUp: true, External: n.name == "public",
			NetworkType: "vxlan", SegmentationID: 100, Subnets: []string{n.subnet}, Status: "ACTIVE", MTU: 1450})
		f.add("/v2.0/subnets", cloud.Subnet{ID: n.subnet, Name: n.name + "-subnet", NetworkID: n.id, IPVersion: 4, CIDR: p, GatewayIP: gw,
			AllocationPools: []cloud.Pool{{Start: gw.Next(), End: netip.MustParseAddr("10.0.0.254")}}, DNSNameservers: []netip.Addr{}, HostRoutes: []cloud.HostRoute{}, EnableDHCP: true})
	}
	f.add("/v2.0/ports", cloud.Port{ID: "5e0b5a3c-98b0-4a0c-8d5c-2f2d2a4f3a10", Name: "vm1-port", NetworkID: nets[0].id, MACAddress: "fa:16:3e:11:22:33",
		FixedIPs:    []cloud.FixedIP{{SubnetID: nets[0].subnet, IPAddress: netip.MustParseAddr("10.0.0.3")}, {SubnetID: nets[0].subnet, IPAddress: netip.MustParseAddr("10.0.0.4")}},
		DeviceOwner: cloud.OwnerCompute, SecurityGroups: []string{}, AllowedAddressPairs: []cloud.AddressPair{}, PortSecurityEnabled: true, AdminStateUp: true, Status: "ACTIVE"})
	f.add("/v2.0/routers", cloud.Router{ID: "8f3b1a7e-0000-4000-8000-000000000001", Name: "router1", AdminStateUp: true, Status: "ACTIVE", Routes: []cloud.HostRoute{}})
	rules := []any{
		jsonObject{{"id", "r1"}, {"security_group_id", "sg-1"}, {"direction", "ingress"}, {"ethertype", "IPv4"}, {"protocol", "tcp"}, {"port_range_min", 22}, {"port_range_max", 22}, {"remote_ip_prefix", "0.0.0.0/0"}, {"remote_group_id", nil}},
		jsonObject{{"id", "r2"}, {"security_group_id", "sg-1"}, {"direction", "egress"}, {"ethertype", "IPv4"}, {"protocol", nil}, {"port_range_min", nil}, {"port_range_max", nil}, {"remote_ip_prefix", nil}, {"remote_group_id", "sg-1"}},
		jsonObject{{"id", "r3"}, {"security_group_id", "sg-1"}, {"direction", "ingress"}, {"ethertype", "IPv4"}, {"protocol", "icmp"}, {"port_range_min", 8}, {"port_range_max", nil}, {"remote_ip_prefix", nil}, {"remote_group_id", nil}},
	}
	f.add("/v2.0/security-groups", jsonObject{{"id", "sg-1"}, {"name", "default"}, {"description", "Default security group"}, {"security_group_rules", rules}})
	f.add("/v2.0/security-group-rules", rules...)
	return f
}

func TestCloudNetListGolden(t *testing.T) {
	seedCloud(t)
	want, err := os.ReadFile("testdata/cloud_net_list.txt")
	if err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code := cloudCLI(t, "net-list")
	if diff := cmp.Diff(string(want), stdout); diff != "" || stderr != "" || code != 0 {
		t.Errorf("net-list: exit %d, stderr %q, stdout (-want +got):\n%s", code, stderr, diff)
	}
}

func TestCloudOutputs(t *testing.T) {
	seedCloud(t)
	tests := []struct {
		args   string
		stdout string
	}{
		{"net-list -f value -c id -c name", "1ced55ea-d30f-4c1d-ba97-6a7bbbd9ecca private\n467b92e0-540d-4cac-86a6-999354c6b6c8 1\n65bdc2e1-d3ba-4b20-912c-6f0a29aef5de public\n73569655-f522-4e3d-b2f3-f1a1fd83cc5e 2\n"},
		{"net-list -f value -c name -c id -c nosuch", "private 1ced55ea-d30f-4c1d-ba97-6a7bbbd9ecca\n1 467b92e0-540d-4cac-86a6-999354c6b6c8\npublic 65bdc2e1-d3ba-4b20-912c-6f0a29aef5de\n2 73569655-f522-4e3d-b2f3-f1a1fd83cc5e\n"},
		{"net-show public -f value -c name -c id -c router:external", "65bdc2e1-d3ba-4b20-912c-6f0a29aef5de\npublic\nTrue\n"},
		{"net-show 1 -f json -c subnets -c admin_state_up -c mtu", "{\n  \"admin_state_up\": true,\n  \"mtu\": 1450,\n  \"subnets\": [\n    \"216fa519-973f-493f-a8ef-1b5f9e30335f\"\n  ]\n}\n"},
		{"net-list -f json -c name -c subnets", `[
  {
    "name": "private",
    "subnets": [
      {
        "id": "f805a609-da7c-4a79-98a4-1aefb6aca2a2",
        "cidr": "10.0.0.0/24"
      }
    ]
  },
  {
    "name": "1",
    "subnets": [
      {
        "id": "216fa519-973f-493f-a8ef-1b5f9e30335f",
        "cidr": "10.0.1.0/24"
      }
    ]
  },
  {
    "name": "public",
    "subnets": [
      {
        "id": "189e9999-4295-45a4-b6b2-438225249654",
        "cidr": "172.24.4.224/28"
      }
    ]
  },
  {
    "name": "2",
    "subnets": [
      {
        "id": "c9015487-e913-4a31-bc14-ef3cb549c895",
        "cidr": "10.0.2.0/24"
      }
    ]
  }
]
`},
		{"net-show private", `+--------------------------+--------------------------------------+
| Field                    | Value                                |
+--------------------------+--------------------------------------+
| admin_state_up           | True                                 |
| id                       | 1ced55ea-d30f-4c1d-ba97-6a7bbbd9ecca |
| mtu                      | 1450                                 |
| name                     | private                              |
| provider:network_type    | vxlan                                |
| provider:segmentation_id | 100                                  |
| router:external          | False                                |
| shared                   | False                                |
| status                   | ACTIVE                               |
| subnets                  | f805a609-da7c-4a79-98a4-1aefb6aca2a2 |
+--------------------------+--------------------------------------+
`},
		{"port-list -c id -c fixed_ips", `+--------------------------------------+---------------------------------------------------------------------------------+
| id                                   | fixed_ips                                                                       |
+--------------------------------------+---------------------------------------------------------------------------------+
| 5e0b5a3c-98b0-4a0c-8d5c-2f2d2a4f3a10 | {"subnet_id": "f805a609-da7c-4a79-98a4-1aefb6aca2a2", "ip_address": "10.0.0.3"} |
|                                      | {"subnet_id": "f805a609-da7c-4a79-98a4-1aefb6aca2a2", "ip_address": "10.0.0.4"} |
+--------------------------------------+---------------------------------------------------------------------------------+
`},
		{"subnet-list -c name -c cidr -c allocation_pools -c gateway_ip", `+----------------+-----------------+------------------------------------------------+--------------+
| name           | cidr            | allocation_pools                               | gateway_ip   |
+----------------+-----------------+------------------------------------------------+--------------+
| private-subnet | 10.0.0.0/24     | {"start": "10.0.0.2", "end": "10.0.0.254"}     | 10.0.0.1     |
| 1-subnet       | 10.0.1.0/24     | {"start": "10.0.1.2", "end": "10.0.0.254"}     | 10.0.1.1     |
| public-subnet  | 172.24.4.224/28 | {"start": "172.24.4.226", "end": "10.0.0.254"} | 172.24.4.225 |
| 2-subnet       | 10.0.2.0/24     | {"start": "10.0.2.2", "end": "10.0.0.254"}     | 10.0.2.1     |
+----------------+-----------------+------------------------------------------------+--------------+
`},
		{"port-show vm1-port -c fixed_ips -c security_groups -c name", `+-----------------+---------------------------------------------------------------------------------+
| Field           | Value                                                                           |
+-----------------+---------------------------------------------------------------------------------+
| fixed_ips       | {"subnet_id": "f805a609-da7c-4a79-98a4-1aefb6aca2a2", "ip_address": "10.0.0.3"} |
|                 | {"subnet_id": "f805a609-da7c-4a79-98a4-1aefb6aca2a2", "ip_address": "10.0.0.4"} |
| name            | vm1-port                                                                        |
| security_groups |                                                                                 |
+-----------------+---------------------------------------------------------------------------------+
`},
		{"router-list", `+--------------------------------------+---------+-----------------------+
| id                                   | name    | external_gateway_info |
+--------------------------------------+---------+-----------------------+
| 8f3b1a7e-0000-4000-8000-000000000001 | router1 | null                  |
+--------------------------------------+---------+-----------------------+
`},
		{"floatingip-list", "\n"},
		{"security-group-list", `+------+---------+----------------------------------------------------+
| id   | name    | security_group_rules                               |
+------+---------+----------------------------------------------------+
| sg-1 | default | egress, IPv4, remote_group_id: sg-1                |
|      |         | ingress, IPv4, 22/tcp, remote_ip_prefix: 0.0.0.0/0 |
|      |         | ingress, IPv4, icmp (type:8)                       |
+------+---------+----------------------------------------------------+
`},
		{"security-group-rule-list", `+----+----------------+-----------+-----------+---------------+------------------+
| id | security_group | direction | ethertype | port/protocol | remote           |
+----+----------------+-----------+-----------+---------------+------------------+
| r1 | default        | ingress   | IPv4      | 22/tcp        | 0.0.0.0/0 (CIDR) |
| r2 | default        | egress    | IPv4      | any           | default (group)  |
| r3 | default        | ingress   | IPv4      | icmp (type:8) | any              |
+----+----------------+-----------+-----------+---------------+------------------+
`},
		{"security-group-list -f value -c name -c description", "default Default security group\n"},
		{"net-create x", `Created a new network:
+----------------+-------------+
| Field          | Value       |
+----------------+-------------+
| admin_state_up | True        |
| id             | new-network |
| name           | x           |
+----------------+-------------+
`},
		{"net-create x -f json", "{\n  \"admin_state_up\": true,\n  \"id\": \"new-network\",\n  \"name\": \"x\"\n}\n"},
	}
	for _, tt := range tests {
		stdout, stderr, code := cloudCLI(t, strings.Fields(tt.args)...)
		if code != 0 || stderr != "" {
			t.Errorf("cloud %s: exit %d, stderr %q", tt.args, code, stderr)
		}
		if diff := cmp.Diff(tt.stdout, stdout); diff != "" {
			t.Errorf("cloud %s (-want +got):\n%s", tt.args, diff)
		}
	}
}

func TestCloudErrors(t *testing.T) {
	f := seedCloud(t)
	f.add("/v2.0/networks", cloud.Network{ID: "aaaaaaaa-0000-4000-8000-000000000001", Name: "dup"}, cloud.Network{ID: "aaaaaaaa-0000-4000-8000-000000000002", Name: "dup"})
	f.reply("POST", "/v2.0/ports", http.StatusConflict, `{"NeutronError": {"type": "IpAddressAlreadyAllocated", "message": "IP address 10.0.0.3 already allocated in subnet f805a609-da7c-4a79-98a4-1aefb6aca2a2", "detail": ""}}`)
	f.reply("DELETE", "/v2.1/servers/bad", http.StatusConflict, `{"conflictingRequest": {"code": 409, "message": "Cannot delete"}}`)
	f.add("/v2.1/servers", jsonObject{{"id", "bad"}, {"name", "bad"}})
	f.reply("GET", "/v2.0/security-group-rules", http.StatusInternalServerError, "boom\n")
	f.reply("GET", "/v2.0/routers", http.StatusServiceUnavailable, `{"error": "the cloud service is not running"}`)
	tests := []struct {
		args   string
		stderr string // exact, or a prefix when it ends in "..."
		code   int
	}{
		{"net-show nosuch", "Unable to find network with name or id 'nosuch'\n", 1},
		{"net-delete dup", "Multiple network matches found for name 'dup', use an ID to be more specific.\n", 1},
		{"port-create private --fixed-ip ip_address=10.0.0.3", "IP address 10.0.0.3 already allocated in subnet f805a609-da7c-4a79-98a4-1aefb6aca2a2\n", 1},
		{"floatingip-show 0000", "floatingip 0000 could not be found.\n", 1},
		{"port-create private --fixed-ip subnet_id=nosub", "Unable to find subnet with name or id 'nosub'\n", 1},
		{"security-group-rule-create nosg", "Unable to find security_group with name or id 'nosg'\n", 1},
		{"net-update private", "Must specify new values to update network\n", 1},
		{"server-show ghost", "ERROR (CommandError): No server with a name or ID of 'ghost' exists.\n", 1},
		{"server-delete bad", "ERROR (Conflict): Cannot delete (HTTP 409)\n", 1},
		{"server-create vm --nic net-id=private,port-id=x", "ERROR (CommandError): Invalid nic argument 'net-id=private,port-id=x'...", 1},
		{"security-group-rule-list", "boom\n", 1},
		{"router-list", "the cloud service is not running\n", 1},
		{"net-create", "usage: tapestry cloud net-create NAME...", 2},
		{"net-create a b", "usage: tapestry cloud net-create NAME...", 2},
		{"net-list --frob", "usage: tapestry cloud net-list...", 2},
		{"net-list -f xml", "usage: tapestry cloud net-list...", 2},
		{"port-create private --fixed-ip foo=1", "usage: tapestry cloud port-create...", 2},
		{"frob", "Unknown command ['frob']\n", 2},
	}
	for _, tt := range tests {
		stdout, stderr, code := cloudCLI(t, strings.Fields(tt.args)...)
		ok := stderr == tt.stderr
		if p, cut := strings.CutSuffix(tt.stderr, "..."); cut {
			ok = strings.HasPrefix(stderr, p) || strings.Contains(stderr, strings.TrimPrefix(p, "usage: "))
		}
		if !ok || code != tt.code || stdout != "" {
			t.Errorf("cloud %s: exit %d (want %d), stdout %q\nstderr %q\nwant   %q", tt.args, code, tt.code, stdout, stderr, tt.stderr)
		}
	}
	// argparse's message names the option and the bad key.
	_, stderr, _ := cloudCLI(t, "port-create", "private", "--fixed-ip", "foo=1")
	if want := "tapestry cloud port-create: error: argument --fixed-ip: Invalid key(s) 'foo' specified. Valid key(s): 'ip_address, subnet_id'.\n"; !strings.HasSuffix(stderr, want) {
		t.Errorf("port-create --fixed-ip foo=1: stderr %q, want suffix %q", stderr, want)
	}
}

// TestCloudRequests checks the JSON each command sends.
func TestCloudRequests(t *testing.T) {
	f := seedCloud(t)
	f.reply("POST", "/v2.0/ports", http.StatusCreated, `{"port": {"id": "p1", "name": "", "fixed_ips": []}}`)
	f.reply("POST", "/v2.1/servers", http.StatusAccepted, `{"server": {"id": "s1", "name": "vm1", "status": "ACTIVE", "tapestry:ports": ["5e0b5a3c-98b0-4a0c-8d5c-2f2d2a4f3a10"]}}`)
	f.reply("PUT", "/v2.0/routers/8f3b1a7e-0000-4000-8000-000000000001/add_router_interface", http.StatusOK, `{"subnet_id": "f805a609-da7c-4a79-98a4-1aefb6aca2a2", "port_id": "qr-port-id"}`)
	const priv, privSub, pub = "1ced55ea-d30f-4c1d-ba97-6a7bbbd9ecca", "f805a609-da7c-4a79-98a4-1aefb6aca2a2", "65bdc2e1-d3ba-4b20-912c-6f0a29aef5de"
	const port, router = "5e0b5a3c-98b0-4a0c-8d5c-2f2d2a4f3a10", "8f3b1a7e-0000-4000-8000-000000000001"
	tests := []struct {
		args   []string
		stdout string // prefix
		method string
		path   string
		body   string
	}{
		{[]string{"port-create", "private", "--fixed-ip", "subnet_id=private-subnet,ip_address=10.0.0.5", "--fixed-ip", "ip_address=10.0.0.6", "--name", "p1", "--allowed-address-pair", "ip_address=10.0.0.0/24"},
			"Created a new port:\n", "POST", "/v2.0/ports",
			`{"port": {"admin_state_up": true, "network_id": "` + priv + `", "name": "p1", "fixed_ips": [{"subnet_id": "` + privSub + `", "ip_address": "10.0.0.5"}, {"ip_address": "10.0.0.6"}], "allowed_address_pairs": [{"ip_address": "10.0.0.0/24"}]}}`},
		{[]string{"server-create", "vm1", "--nic", "net-id=private,v4-fixed-ip=10.0.0.9", "--nic", "port-id=vm1-port", "--tap"},
			"+---", "POST", "/v2.1/servers",
			`{"server": {"name": "vm1", "networks": [{"uuid": "` + priv + `", "fixed_ip": "10.0.0.9"}, {"port": "` + port + `"}], "tapestry:tap": true}}`},
		{[]string{"floatingip-associate", "fip-1", "vm1-port", "--fixed-ip-address", "10.0.0.4"},
			"Associated floating IP fip-1\n", "PUT", "/v2.0/floatingips/fip-1",
			`{"floatingip": {"port_id": "` + port + `", "fixed_ip_address": "10.0.0.4"}}`},
		{[]string{"floatingip-disassociate", "fip-1"}, "Disassociated floating IP fip-1\n", "PUT", "/v2.0/floatingips/fip-1", `{"floatingip": {"port_id": null}}`},
		{[]string{"router-gateway-set", "router1", "public", "--disable-snat"},
			"Set gateway for router router1\n", "PUT", "/v2.0/routers/" + router,
			`{"router": {"external_gateway_info": {"network_id": "` + pub + `", "enable_snat": false}}}`},
		{[]string{"router-gateway-clear", "router1"}, "Removed gateway from router router1\n", "PUT", "/v2.0/routers/" + router, `{"router": {"external_gateway_info": {}}}`},
		{[]string{"router-interface-add", "router1", "private-subnet"}, "Added interface qr-port-id to router router1.\n", "PUT", "/v2.0/routers/" + router + "/add_router_interface", `{"subnet_id": "` + privSub + `"}`},
		{[]string{"router-interface-remove", "router1", "port=vm1-port"}, "Removed interface from router router1.\n", "PUT", "/v2.0/routers/" + router + "/remove_router_interface", `{"port_id": "` + port + `"}`},
		{[]string{"router-update", "router1", "--route", "destination=10.9.0.0/16,nexthop=10.0.0.7"}, "Updated router: router1\n", "PUT", "/v2.0/routers/" + router, `{"router": {"routes": [{"destination": "10.9.0.0/16", "nexthop": "10.0.0.7"}]}}`},
		{[]string{"router-update", "router1", "--no-routes"}, "Updated router: router1\n", "PUT", "/v2.0/routers/" + router, `{"router": {"routes": null}}`},
		{[]string{"port-update", "vm1-port", "--fixed-ip", "ip_address=10.0.0.8", "--no-security-groups"}, "Updated port: vm1-port\n", "PUT", "/v2.0/ports/" + port, `{"port": {"fixed_ips": [{"ip_address": "10.0.0.8"}], "security_groups": []}}`},
		{[]string{"net-create", "ext", "--router:external", "--provider:network_type", "flat", "--provider:physical_network", "physnet1", "--shared"}, "", "POST", "/v2.0/networks",
			`{"network": {"admin_state_up": true, "name": "ext", "shared": true, "router:external": true, "provider:network_type": "flat", "provider:physical_network": "physnet1"}}`},
		{[]string{"subnet-create", "public", "172.24.4.0/24", "--name", "ext-sub", "--no-gateway", "--allocation-pool", "start=172.24.4.10,end=172.24.4.20", "--dns-nameserver", "8.8.8.8", "--host-route", "destination=10.0.0.0/8,nexthop=172.24.4.1", "--disable-dhcp"}, "", "POST", "/v2.0/subnets",
			`{"subnet": {"network_id": "` + pub + `", "ip_version": 4, "cidr": "172.24.4.0/24", "name": "ext-sub", "gateway_ip": null, "allocation_pools": [{"start": "172.24.4.10", "end": "172.24.4.20"}], "host_routes": [{"destination": "10.0.0.0/8", "nexthop": "172.24.4.1"}], "dns_nameservers": ["8.8.8.8"], "enable_dhcp": false}}`},
		{[]string{"floatingip-create", "public", "--port-id", port, "--floating-ip-address", "172.24.4.230"}, "", "POST", "/v2.0/floatingips",
			`{"floatingip": {"floating_network_id": "` + pub + `", "port_id": "` + port + `", "floating_ip_address": "172.24.4.230"}}`},
		{[]string{"security-group-rule-create", "default", "--protocol", "TCP", "--port-range-min", "22", "--port-range-max", "22", "--remote-ip-prefix", "0.0.0.0/0"}, "Created a new security_group_rule:\n", "POST", "/v2.0/security-group-rules",
			`{"security_group_rule": {"security_group_id": "sg-1", "direction": "ingress", "ethertype": "IPv4", "protocol": "tcp", "port_range_min": 22, "port_range_max": 22, "remote_ip_prefix": "0.0.0.0/0"}}`},
		{[]string{"port-create", "1", "--security-group", "default", "--port-security-enabled", "False", "--mac-address", "fa:16:3e:00:00:01"}, "Created a new port:\n", "POST", "/v2.0/ports",
			`{"port": {"admin_state_up": true, "network_id": "467b92e0-540d-4cac-86a6-999354c6b6c8", "security_groups": ["sg-1"], "port_security_enabled": false, "mac_address": "fa:16:3e:00:00:01"}}`},
		{[]string{"net-delete", "1"}, "Deleted network: 1\n", "DELETE", "/v2.0/networks/467b92e0-540d-4cac-86a6-999354c6b6c8", ""},
	}
	for _, tt := range tests {
		before := len(f.writes())
		stdout, stderr, code := cloudCLI(t, tt.args...)
		if code != 0 || stderr != "" || !strings.HasPrefix(stdout, tt.stdout) {
			t.Errorf("cloud %s: exit %d, stderr %q, stdout %q (want prefix %q)", strings.Join(tt.args, " "), code, stderr, stdout, tt.stdout)
			continue
		}
		w := f.writes()
		if len(w) != before+1 {
			t.Errorf("cloud %s: %d writes, want 1: %v", strings.Join(tt.args, " "), len(w)-before, w[before:])
			continue
		}
		got := w[before]
		if got.Method != tt.method || got.Path != tt.path {
			t.Errorf("cloud %s: sent %s %s, want %s %s", strings.Join(tt.args, " "), got.Method, got.Path, tt.method, tt.path)
		}
		if diff := cmp.Diff(decodeAny(t, tt.body), decodeAny(t, got.Body)); diff != "" {
			t.Errorf("cloud %s: body (-want +got):\n%s", strings.Join(tt.args, " "), diff)
		}
		// The key order of a dict is the user's, as neutronclient keeps it.
		if tt.body != "" && compactJSON(t, tt.body) != got.Body {
			t.Errorf("cloud %s: body order\n got %s\nwant %s", strings.Join(tt.args, " "), got.Body, compactJSON(t, tt.body))
		}
	}
}

func decodeAny(t *testing.T, s string) any {
	t.Helper()
	if s == "" {
		return nil
	}
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("bad JSON %q: %v", s, err)
	}
	return v
}

func compactJSON(t *testing.T, s string) string {
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(s)); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestCloudServerList(t *testing.T) {
	f := seedCloud(t)
	f.add("/v2.0/floatingips", cloud.FloatingIP{ID: "fip-2", FloatingIPAddress: netip.MustParseAddr("172.24.4.229")})
	f.add("/v2.0/floatingips", cloud.FloatingIP{ID: "fip-1", FloatingIPAddress: netip.MustParseAddr("172.24.4.228"), PortID: "5e0b5a3c-98b0-4a0c-8d5c-2f2d2a4f3a10", FixedIPAddress: netip.MustParseAddr("10.0.0.3")})
	f.add("/v2.1/servers", cloud.Server{ID: "0b4c7f5e-1111-4000-8000-000000000001", Name: "vm1", Status: "ACTIVE", Ports: []string{"5e0b5a3c-98b0-4a0c-8d5c-2f2d2a4f3a10"}})
	want := `+--------------------------------------+------+--------+------------------------------------------+
| ID                                   | Name | Status | Networks                                 |
+--------------------------------------+------+--------+------------------------------------------+
| 0b4c7f5e-1111-4000-8000-000000000001 | vm1  | ACTIVE | private=10.0.0.3, 10.0.0.4, 172.24.4.228 |
+--------------------------------------+------+--------+------------------------------------------+
`
	stdout, stderr, code := cloudCLI(t, "server-list")
	if diff := cmp.Diff(want, stdout); diff != "" || code != 0 || stderr != "" {
		t.Errorf("server-list: exit %d, stderr %q (-want +got):\n%s", code, stderr, diff)
	}
	// A service without /v2.1/servers/detail: nova's plain list.
	f.reply("GET", "/v2.1/servers/detail", http.StatusNotFound, `{"itemNotFound": {"code": 404, "message": "Instance detail could not be found."}}`)
	stdout, stderr, code = cloudCLI(t, "server-list")
	if diff := cmp.Diff(want, stdout); diff != "" || code != 0 || stderr != "" {
		t.Errorf("server-list: exit %d, stderr %q (-want +got):\n%s", code, stderr, diff)
	}
	stdout, _, code = cloudCLI(t, "server-show", "vm1", "-f", "value", "-c", "private network", "-c", "name")
	if want := "vm1\n10.0.0.3, 10.0.0.4, 172.24.4.228\n"; stdout != want || code != 0 {
		t.Errorf("server-show vm1: exit %d, stdout %q, want %q", code, stdout, want)
	}
	stdout, _, code = cloudCLI(t, "floatingip-list", "-f", "value")
	if want := "fip-2  172.24.4.229 \nfip-1 10.0.0.3 172.24.4.228 5e0b5a3c-98b0-4a0c-8d5c-2f2d2a4f3a10\n"; stdout != want || code != 0 {
		t.Errorf("floatingip-list -f value: exit %d, stdout %q, want %q", code, stdout, want)
	}
}

func TestCloudEmptyServerList(t *testing.T) {
	startFakeCloud(t)
	want := "+----+------+--------+----------+\n| ID | Name | Status | Networks |\n+----+------+--------+----------+\n+----+------+--------+----------+\n"
	stdout, stderr, code := cloudCLI(t, "server-list")
	if stdout != want || stderr != "" || code != 0 {
		t.Errorf("server-list of nothing: exit %d, stderr %q, stdout\n%s\nwant\n%s", code, stderr, stdout, want)
	}
}

func TestCloudHelp(t *testing.T) {
	stdout, _, code := cloudCLI(t, "--help")
	if code != 0 {
		t.Errorf("cloud --help: exit %d", code)
	}
	for _, sub := range []string{"net-create", "net-list", "subnet-create", "port-create", "port-update", "router-interface-add", "router-gateway-set",
		"floatingip-associate", "security-group-rule-create", "server-create", "server-list", "server-delete"} {
		if !strings.Contains(stdout, "  "+sub+" ") {
			t.Errorf("cloud --help does not list %s:\n%s", sub, stdout)
		}
	}
}

func TestCloudRunDir(t *testing.T) {
	startFakeCloud(t) // sets TAPESTRY_RUNDIR
	_, stderr, code := cloudCLI(t, "--run-dir=/nonexistent", "net-list")
	if code != 1 || !strings.Contains(stderr, "unix:/nonexistent/tapestry.sock: ") {
		t.Errorf("net-list --run-dir=/nonexistent: exit %d, stderr %q", code, stderr)
	}
}

func TestCloudNoDaemon(t *testing.T) {
	t.Setenv("TAPESTRY_RUNDIR", t.TempDir())
	_, stderr, code := cloudCLI(t, "net-list")
	if code != 1 || !strings.Contains(stderr, "is the tapestry daemon running?") {
		t.Errorf("net-list without a daemon: exit %d, stderr %q", code, stderr)
	}
}

func TestCloudClientError(t *testing.T) {
	f := startFakeCloud(t)
	f.reply("GET", "/v2.0/networks/x", http.StatusNotFound, `{"NeutronError": {"type": "NetworkNotFound", "message": "Network x could not be found.", "detail": ""}}`)
	c := api.NewClient(api.SocketPath(api.DefaultRunDir()))
	var out jsonObject
	err := c.Cloud(t.Context(), "GET", "/v2.0/networks/x", nil, &out)
	var ce *api.CloudError
	if !errors.As(err, &ce) {
		t.Fatalf("Cloud GET /v2.0/networks/x: err %v, want *api.CloudError", err)
	}
	want := api.CloudError{Status: 404, Type: "NetworkNotFound", Message: "Network x could not be found."}
	if diff := cmp.Diff(want, *ce); diff != "" {
		t.Errorf("Cloud error (-want +got):\n%s", diff)
	}
	if err := c.Cloud(t.Context(), "DELETE", "/v2.0/networks/y", nil, &out); err != nil {
		t.Errorf("Cloud DELETE (204): %v", err)
	}
}
