package cloud

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

type restClient struct {
	t   *testing.T
	svc *Service
}

// do sends a request and returns the status and decoded body.
func (c restClient) do(method, path, body string) (int, map[string]any) {
	c.t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	w := httptest.NewRecorder()
	c.svc.ServeHTTP(w, req)
	b, _ := io.ReadAll(w.Result().Body)
	var m map[string]any
	if len(b) > 0 {
		if err := json.Unmarshal(b, &m); err != nil {
			c.t.Fatalf("%s %s: reply %q is not a JSON object: %v", method, path, b, err)
		}
	}
	return w.Code, m
}

// id creates an object and returns its id.
func (c restClient) id(path, key, body string) string {
	c.t.Helper()
	code, m := c.do("POST", path, body)
	if code != http.StatusCreated {
		c.t.Fatalf("POST %s %s = %d %v", path, body, code, m)
	}
	return m[key].(map[string]any)["id"].(string)
}

func neutronError(m map[string]any) (string, string) {
	e, _ := m["NeutronError"].(map[string]any)
	typ, _ := e["type"].(string)
	msg, _ := e["message"].(string)
	return typ, msg
}

func newREST(t *testing.T, commit func(*State) error) restClient {
	return restClient{t, NewService(NewState(), testEnv(), commit)}
}

func TestRESTFlow(t *testing.T) {
	commits := 0
	c := newREST(t, func(*State) error { commits++; return nil })
	pub := c.id("/v2.0/networks", "network", `{"network": {"name": "public", "router:external": true}}`)
	c.id("/v2.0/subnets", "subnet", `{"subnet": {"network_id": "`+pub+`", "cidr": "203.0.113.0/24", "ip_version": 4}}`)
	priv := c.id("/v2.0/networks", "network", `{"network": {"name": "private"}}`)
	sub := c.id("/v2.0/subnets", "subnet", `{"subnet": {"network_id": "`+priv+`", "cidr": "10.0.0.0/24", "gateway_ip": null}}`)
	code, m := c.do("GET", "/v2.0/subnets/"+sub, "")
	if code != 200 || m["subnet"].(map[string]any)["gateway_ip"] != nil {
		t.Errorf("GET subnet without gateway = %d %v", code, m)
	}
	code, m = c.do("PUT", "/v2.0/subnets/"+sub, `{"subnet": {"gateway_ip": "10.0.0.1", "allocation_pools": [{"start": "10.0.0.2", "end": "10.0.0.254"}]}}`)
	if code != 200 || m["subnet"].(map[string]any)["gateway_ip"] != "10.0.0.1" {
		t.Errorf("PUT subnet gateway = %d %v", code, m)
	}
	r := c.id("/v2.0/routers", "router", `{"router": {"name": "r1", "external_gateway_info": {"network_id": "`+pub+`"}}}`)
	code, m = c.do("PUT", "/v2.0/routers/"+r+"/add_router_interface", `{"subnet_id": "`+sub+`"}`)
	if code != 200 || m["subnet_id"] != sub || m["id"] != r || m["port_id"] == nil {
		t.Errorf("add_router_interface = %d %v", code, m)
	}
	code, m = c.do("POST", "/v2.1/servers", `{"server": {"name": "web", "networks": [{"uuid": "`+priv+`"}]}}`)
	if code != 201 {
		t.Fatalf("POST server = %d %v", code, m)
	}
	srvPort := m["server"].(map[string]any)["tapestry:ports"].([]any)[0].(string)
	fip := c.id("/v2.0/floatingips", "floatingip", `{"floatingip": {"floating_network_id": "`+pub+`"}}`)
	code, m = c.do("GET", "/v2.0/floatingips/"+fip, "")
	if f := m["floatingip"].(map[string]any); code != 200 || f["port_id"] != nil || f["router_id"] != nil || f["fixed_ip_address"] != nil {
		t.Errorf("unassociated floating IP = %d %v", code, m)
	}
	code, m = c.do("PUT", "/v2.0/floatingips/"+fip, `{"floatingip": {"port_id": "`+srvPort+`"}}`)
	if f := m["floatingip"].(map[string]any); code != 200 || f["router_id"] != r || f["fixed_ip_address"] != "10.0.0.2" || f["status"] != "ACTIVE" {
		t.Errorf("associate = %d %v", code, m)
	}
	code, m = c.do("PUT", "/v2.0/routers/"+r+"/remove_router_interface", `{"subnet_id": "`+sub+`"}`)
	if typ, _ := neutronError(m); code != 409 || typ != "RouterInterfaceInUseByFloatingIP" {
		t.Errorf("remove interface in use = %d %v", code, m)
	}
	code, m = c.do("PUT", "/v2.0/floatingips/"+fip, `{"floatingip": {"port_id": null}}`)
	if f := m["floatingip"].(map[string]any); code != 200 || f["port_id"] != nil || f["status"] != "DOWN" {
		t.Errorf("disassociate = %d %v", code, m)
	}
	if code, m = c.do("DELETE", "/v2.0/floatingips/"+fip, ""); code != 204 || m != nil {
		t.Errorf("DELETE floating IP = %d %v", code, m)
	}
	if code, _ = c.do("GET", "/v2.0/floatingips/"+fip, ""); code != 404 {
		t.Errorf("GET deleted floating IP = %d", code)
	}
	// list filters and field selection
	code, m = c.do("GET", "/v2.0/networks?router:external=true&fields=id&fields=name", "")
	want := map[string]any{"networks": []any{map[string]any{"id": pub, "name": "public"}}}
	if d := cmp.Diff(want, m); code != 200 || d != "" {
		t.Errorf("filtered list = %d (-want +got):\n%s", code, d)
	}
	code, m = c.do("GET", "/v2.0/ports?device_owner=network:router_interface&device_owner=network:router_gateway&fields=device_owner", "")
	if code != 200 || len(m["ports"].([]any)) != 2 {
		t.Errorf("ports by two owners = %d %v", code, m)
	}
	code, m = c.do("GET", "/v2.0/ports?fixed_ips=ip_address%3D10.0.0.2&fixed_ips=subnet_id%3D"+sub+"&fields=id", "")
	if code != 200 || len(m["ports"].([]any)) != 1 || m["ports"].([]any)[0].(map[string]any)["id"] != srvPort {
		t.Errorf("ports by fixed IP = %d %v", code, m)
	}
	code, m = c.do("GET", "/v2.0/networks?router:external=False", "")
	if code != 200 || len(m["networks"].([]any)) != 1 {
		t.Errorf("networks router:external=False = %d %v", code, m)
	}
	code, m = c.do("GET", "/v2.0/ports?network_id="+priv+"&device_id=nope", "")
	if code != 200 || len(m["ports"].([]any)) != 0 {
		t.Errorf("no match = %d %v", code, m)
	}
	code, m = c.do("GET", "/v2.0/security-groups?name=default", "")
	if code != 200 || len(m["security_groups"].([]any)) != 1 {
		t.Errorf("security groups = %d %v", code, m)
	}
	code, m = c.do("GET", "/v2.0/security-group-rules", "")
	if code != 200 || len(m["security_group_rules"].([]any)) != 4 {
		t.Errorf("security group rules = %d %v", code, m)
	}
	code, _ = c.do("GET", "/v2.1/servers", "")
	if code != 200 {
		t.Errorf("GET servers = %d", code)
	}
	if commits != 12 {
		t.Errorf("commits = %d, want 12 (one per successful change)", commits)
	}
}

func TestRESTErrors(t *testing.T) {
	c := newREST(t, nil)
	net := c.id("/v2.0/networks", "network", `{"network": {"name": "n"}}`)
	cases := []struct {
		method, path, body string
		code               int
		typ, msg           string
	}{
		{"GET", "/v2.0/nothing", "", 404, "HTTPNotFound", "The resource could not be found."},
		{"GET", "/v2.0/networks/a/b/c", "", 404, "HTTPNotFound", "The resource could not be found."},
		{"GET", "/v2.0/networks/nope", "", 404, "NetworkNotFound", "Network nope could not be found."},
		{"PATCH", "/v2.0/networks/" + net, "", 405, "HTTPMethodNotAllowed", "The method PATCH is not allowed for this resource."},
		{"POST", "/v2.0/networks", `{"network": {"name": "x", "foo": 1, "bar": 2}}`, 400, "HTTPBadRequest", "Unrecognized attribute(s) 'bar, foo'"},
		{"POST", "/v2.0/networks", `{"network": {"name": "x"}, "extra": {}}`, 400, "HTTPBadRequest", "Unrecognized attribute(s) 'extra'"},
		{"POST", "/v2.0/networks", `{"net": {}}`, 400, "HTTPBadRequest", "Unable to find 'network' in request body"},
		{"POST", "/v2.0/networks", `{"network": {"name": 5}}`, 400, "HTTPBadRequest", "Invalid input for name. Reason: a JSON number is not a valid string."},
		{"POST", "/v2.0/networks", `{"network": {"name": "x"`, 400, "HTTPBadRequest", "Malformed request body: unexpected end of JSON input (at byte offset 24)"},
		{"POST", "/v2.0/networks", `{"network": {"name": "x"}} x`, 400, "HTTPBadRequest", "Malformed request body: invalid character 'x' after top-level value (at byte offset 28)"},
		{"POST", "/v2.0/networks", `[]`, 400, "HTTPBadRequest", "Malformed request body: expected a JSON object, got a JSON array"},
		{"POST", "/v2.0/subnets", `{"subnet": {"network_id": "` + net + `", "cidr": "10.0.0.1/24"}}`, 400, "InvalidInput", "Invalid input for operation: '10.0.0.1/24' isn't a recognized IP subnet cidr, '10.0.0.0/24' is recommended."},
		{"POST", "/v2.0/subnets", `{"subnet": {"network_id": "` + net + `", "cidr": "10.0.0.0/24", "allocation_pools": [{"start": "10.0.0.x", "end": "10.0.0.9"}]}}`, 400, "InvalidInput", `Invalid input for operation: ParseAddr("10.0.0.x"): unexpected character (at "x").`},
		{"PUT", "/v2.0/routers/nope/add_router_interface", `{"subnet_id": "s"}`, 404, "RouterNotFound", "Router nope could not be found"},
		{"DELETE", "/v2.1/servers/nope", "", 404, "InstanceNotFound", "Instance nope could not be found."},
		{"POST", "/v2.0/routers", `{"router": {"routes": []}}`, 400, "HTTPBadRequest", "Attribute 'routes' not allowed in POST"},
		{"PUT", "/v2.0/networks/" + net, `{"network": {"provider:segmentation_id": 7}}`, 400, "InvalidInput", "Invalid input for operation: Plugin does not support updating provider attributes."},
		{"GET", "/v2.0/networks?colour=red", "", 400, "HTTPBadRequest", "[colour] is invalid attribute for filtering"},
	}
	for _, tc := range cases {
		before := c.svc.State()
		code, m := c.do(tc.method, tc.path, tc.body)
		typ, msg := neutronError(m)
		if code != tc.code || typ != tc.typ || msg != tc.msg {
			t.Errorf("%s %s %s:\n got %d %s %q\nwant %d %s %q", tc.method, tc.path, tc.body, code, typ, msg, tc.code, tc.typ, tc.msg)
		}
		if d := cmp.Diff(before, c.svc.State(), cmpAddr); d != "" {
			t.Errorf("%s %s changed the state:\n%s", tc.method, tc.path, d)
		}
	}
}

func TestRESTCommitFailure(t *testing.T) {
	var fail error
	c := newREST(t, func(*State) error { return fail })
	net := c.id("/v2.0/networks", "network", `{"network": {"name": "n"}}`)
	cases := []struct {
		err      error
		code     int
		typ, msg string
	}{
		{errors.New("disk full"), 500, "InternalError", "Request Failed: internal server error while processing your request: disk full"},
		{&Error{Status: 409, Type: "Conflict", Message: "busy"}, 409, "Conflict", "busy"},
	}
	for _, tc := range cases {
		fail = tc.err
		before := c.svc.State()
		code, m := c.do("PUT", "/v2.0/networks/"+net, `{"network": {"name": "renamed"}}`)
		typ, msg := neutronError(m)
		if code != tc.code || typ != tc.typ || msg != tc.msg {
			t.Errorf("commit error %v: got %d %s %q", tc.err, code, typ, msg)
		}
		if d := cmp.Diff(before, c.svc.State(), cmpAddr); d != "" {
			t.Errorf("failed commit changed the state:\n%s", d)
		}
	}
	fail = nil
	if code, m := c.do("PUT", "/v2.0/networks/"+net, `{"network": {"name": "renamed"}}`); code != 200 || c.svc.State().Networks[net].Name != "renamed" {
		t.Errorf("commit ok: %d %v", code, m)
	}
}
