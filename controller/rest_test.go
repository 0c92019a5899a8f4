package controller_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"

	"tapestry/controller"
	"tapestry/openflow"
)

const token = "s3cret"

func do(t testing.TB, srv *httptest.Server, method, path, tok, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestREST(t *testing.T) {
	c, addr := start(t, controller.Options{Token: token})
	sw := dial(t, addr, 9, 2, openflow.Version13)
	waitSwitch(t, c, 9)
	srv := httptest.NewServer(c.Handler())
	defer srv.Close()
	tests := []struct {
		name, method, path, tok, body string
		code                          int
		contains                      string
	}{
		{"switches", "GET", "/switches", "", "", 200, `"dpid":"0000000000000009"`},
		{"ports", "GET", "/switches/9/ports", "", "", 200, `"name":"p2"`},
		{"port stats", "GET", "/switches/0x9/ports/stats", "", "", 200, `"port_no":1`},
		{"no switch", "GET", "/switches/77/ports", "", "", 404, `no switch with datapath id 000000000000004d`},
		{"bad dpid", "GET", "/switches/zz/ports", "", "", 400, `bad datapath id \"zz\"`},
		{"add no token", "POST", "/switches/9/flows", "", `{"flow":"priority=10,ip,actions=drop"}`, 401, "bearer token"},
		{"add bad token", "POST", "/switches/9/flows", "nope", `{"flow":"priority=10,ip,actions=drop"}`, 401, "bearer token"},
		{"add malformed", "POST", "/switches/9/flows", token, `{"flow": "priority=10,ip,actions=drop"`, 400, "malformed JSON"},
		{"add unknown field", "POST", "/switches/9/flows", token, `{"flw":"x"}`, 400, `unknown field \"flw\"`},
		{"add bad flow", "POST", "/switches/9/flows", token, `{"flow":"priority=10,nw_dts=1.2.3.4,actions=drop"}`, 400, "nw_dts"},
		{"add text", "POST", "/switches/9/flows", token, `{"flow":"priority=10,ip,actions=drop"}`, 201, `"flows":1`},
		{"add list", "POST", "/switches/9/flows", token, `["priority=11,arp,actions=drop",{"flow":"priority=12,tcp,actions=drop"}]`, 201, `"flows":2`},
		{"add structured", "POST", "/switches/9/flows", token, `{"priority":13,"match":"udp","actions":"output:2","cookie":"0x10"}`, 201, `"flows":1`},
		{"dump", "GET", "/switches/9/flows", "", "", 200, "priority=13,udp actions=output:2"},
		{"dump by cookie", "GET", "/switches/9/flows?cookie=0x10/0xff", "", "", 200, `"cookie":"0x10"`},
		{"dump bad table", "GET", "/switches/9/flows?table=300", "", "", 400, `bad table \"300\"`},
		{"delete no token", "DELETE", "/switches/9/flows?match=udp", "", "", 401, "bearer"},
		{"delete by match", "DELETE", "/switches/9/flows?match=tcp", token, "", 200, "deleted"},
		{"apps", "GET", "/apps", "", "", 200, "[]"},
		{"load app no token", "POST", "/apps", "", `{"name":"l2-learning"}`, 401, "bearer"},
		{"load app", "POST", "/apps", token, `{"name":"l2-learning"}`, 201, `"name":"l2-learning"`},
		{"load unknown", "POST", "/apps", token, `{"name":"nope"}`, 422, `unknown app \"nope\"`},
		{"load both", "POST", "/apps", token, `{"name":"a","path":"b"}`, 400, "exactly one"},
		{"unload", "DELETE", "/apps/l2-learning", token, "", 204, ""},
		{"unload missing", "DELETE", "/apps/l2-learning", token, "", 404, `no app \"l2-learning\"`},
		{"links", "GET", "/topology/links", "", "", 200, "[]"},
		{"openapi", "GET", "/openapi.json", "", "", 200, `"openapi"`},
		{"not found", "GET", "/nope", "", "", 404, `"error"`},
	}
	for _, tt := range tests {
		code, body := do(t, srv, tt.method, tt.path, tt.tok, tt.body)
		if code != tt.code || !strings.Contains(body, tt.contains) {
			t.Errorf("%s: %s %s = %d %s, want %d containing %s", tt.name, tt.method, tt.path, code, body, tt.code, tt.contains)
		}
	}
	// l2-learning's table-miss flow (priority 0) goes to the switch after
	// the load's reply: wait for it rather than race it.
	want := []uint16{13, 11, 10, 0}
	prios := func(flows []openflow.FlowMod) []uint16 {
		var p []uint16
		for _, f := range flows {
			p = append(p, f.Priority)
		}
		return p
	}
	if !sw.WaitFor(wait, func(flows []openflow.FlowMod, _ map[uint32][][]byte) bool { return slices.Equal(prios(flows), want) }) {
		t.Errorf("switch flows priorities = %v, want %v", prios(sw.Flows()), want)
	}
}

// TestOpenAPIMatchesRoutes keeps openapi.json and the mux in step: every
// documented operation is routed (not 404/405) and every route is
// documented.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	b, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	var documented []string
	for p, ops := range doc.Paths {
		for m := range ops {
			documented = append(documented, strings.ToUpper(m)+" "+p)
		}
	}
	slices.Sort(documented)
	routed := controller.Routes()
	slices.Sort(routed)
	if !slices.Equal(documented, routed) {
		t.Errorf("openapi.json operations %v\nmux routes %v", documented, routed)
	}
}

func FuzzDecodeFlowRequest(f *testing.F) {
	for _, s := range []string{`{"flow":"priority=10,ip,actions=drop"}`, `["arp,actions=drop"]`, `{"flows":[{"match":"ip","actions":"drop","cookie":1}]}`, `{"priority":1,"actions":"output:1","table":3}`, `[`, `{"cookie":"0xzz"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fms, err := controller.DecodeFlowRequest(b)
		if err == nil && len(fms) == 0 {
			t.Errorf("DecodeFlowRequest(%q): no flows and no error", b)
		}
	})
}

func FuzzFlowFilter(f *testing.F) {
	f.Add("0", "0x1/0xff", "ip,nw_src=10.0.0.1")
	f.Fuzz(func(t *testing.T, table, cookie, match string) {
		_, _ = controller.FlowFilter(table, cookie, match)
		_, _ = controller.DeleteRequest(match, cookie, table, false)
	})
}
