package cloud

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// requestTypes are every body decoder: the wrapper key and a fresh value.
var requestTypes = []struct {
	key string
	new func() any
}{
	{"network", func() any { return new(NetworkRequest) }},
	{"subnet", func() any { return new(SubnetRequest) }},
	{"port", func() any { return new(PortRequest) }},
	{"router", func() any { return new(RouterRequest) }},
	{"floatingip", func() any { return new(FloatingIPRequest) }},
	{"security_group", func() any { return new(SecurityGroupRequest) }},
	{"security_group_rule", func() any { return new(SecurityGroupRuleRequest) }},
	{"server", func() any { return new(ServerRequest) }},
	{"", func() any { return new(RouterInterfaceRequest) }}, // unwrapped
}

func FuzzDecodeRequest(f *testing.F) {
	seeds := []string{
		`{"network": {"name": "n", "router:external": true}}`,
		`{"subnet": {"network_id": "x", "cidr": "10.0.0.0/24", "gateway_ip": null, "allocation_pools": [{"start": "10.0.0.2", "end": "10.0.0.9"}]}}`,
		`{"port": {"fixed_ips": [{"subnet_id": "s", "ip_address": "10.0.0.3"}], "allowed_address_pairs": [{"ip_address": "10.0.0.0/24"}]}}`,
		`{"router": {"external_gateway_info": {"network_id": "n", "enable_snat": false}, "routes": [{"destination": "0.0.0.0/0", "nexthop": "10.0.0.1"}]}}`,
		`{"floatingip": {"port_id": null}}`,
		`{"server": {"name": "a", "networks": [{"uuid": "n", "fixed_ip": "10.0.0.4"}, {"port": "p"}], "tapestry:tap": true}}`,
		`{"subnet_id": "s"}`, `{"x": 1}`, `[`, `null`, `{"network": null}`, `{"network": {"name": 1}}`,
	}
	for i, s := range seeds {
		f.Add(uint8(i), []byte(s))
	}
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		rt := requestTypes[int(which)%len(requestTypes)]
		dst := rt.new()
		var err error
		if rt.key == "" {
			err = decodeAttrs(body, dst)
		} else {
			err = decodeBody(body, rt.key, dst)
		}
		if err == nil {
			return
		}
		e, ok := err.(*Error)
		if !ok || e.Status != http.StatusBadRequest || e.Message == "" || e.Type == "" {
			t.Fatalf("decoding %q as %s: error %#v, want a 400 *Error with a message", body, rt.key, err)
		}
	})
}

// FuzzREST sends random requests to a Service seeded with a small cloud:
// nothing panics and nothing answers 5xx (the commit never fails here).
func FuzzREST(f *testing.F) {
	seeds := []struct{ method, path, body string }{
		{"POST", "/v2.0/networks", `{"network": {"name": "n"}}`},
		{"POST", "/v2.0/subnets", `{"subnet": {"network_id": "00000000-0000-4000-8000-000000000003", "cidr": "10.1.0.0/24"}}`},
		{"POST", "/v2.0/ports", `{"port": {"network_id": "00000000-0000-4000-8000-000000000003"}}`},
		{"PUT", "/v2.0/routers/00000000-0000-4000-8000-000000000005/add_router_interface", `{"subnet_id": "00000000-0000-4000-8000-000000000004"}`},
		{"PUT", "/v2.0/routers/00000000-0000-4000-8000-000000000005/remove_router_interface", `{"port_id": "00000000-0000-4000-8000-000000000007"}`},
		{"PUT", "/v2.0/floatingips/00000000-0000-4000-8000-000000000014", `{"floatingip": {"port_id": null}}`},
		{"DELETE", "/v2.0/networks/00000000-0000-4000-8000-000000000003", ""},
		{"DELETE", "/v2.0/ports/00000000-0000-4000-8000-000000000008", ""},
		{"POST", "/v2.1/servers", `{"server": {"name": "s", "networks": [{"uuid": "00000000-0000-4000-8000-000000000003"}]}}`},
		{"GET", "/v2.0/ports?fields=id&device_owner=compute:nova", ""},
		{"POST", "/v2.0/security-group-rules", `{"security_group_rule": {"security_group_id": "00000000-0000-4000-8000-000000000009", "direction": "ingress", "protocol": "tcp", "port_range_min": 1, "port_range_max": 2}}`},
	}
	for _, s := range seeds {
		f.Add(s.method, s.path, []byte(s.body))
	}
	base := newFix(f).st
	f.Fuzz(func(t *testing.T, method, path string, body []byte) {
		if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " \t\r\n#") {
			return // not a request line a client could send
		}
		svc := NewService(base.Clone(), testEnv(), func(*State) error { return nil })
		for _, m := range []string{method, http.MethodGet} {
			req, err := http.NewRequest(m, "http://cloud"+path, bytes.NewReader(body))
			if err != nil {
				return
			}
			w := httptest.NewRecorder()
			svc.ServeHTTP(w, req)
			if w.Code >= 500 {
				t.Fatalf("%s %s %q: status %d %s", m, path, body, w.Code, w.Body)
			}
		}
	})
}
