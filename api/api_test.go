package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"tapestry/openflow"
)

// fakeBackend records what it was asked and answers from canned values.
type fakeBackend struct {
	gotVsctl  VsctlRequest
	gotFlows  FlowModRequest
	gotSource string
	gotBridge string
	gotDump   DumpFlowsRequest
	gotModP   ModPortRequest
	flowLines string
	gotIP     IPRequest
}

func (f *fakeBackend) Switch(context.Context) (Switch, error) {
	return Switch{UUID: "u", Bridges: []Bridge{{Name: "br0", DatapathID: "0000000000000001",
		Ports: []Port{{Name: "br0", Type: "internal", OFPort: 65534}}}}}, nil
}

func (f *fakeBackend) Vsctl(_ context.Context, req VsctlRequest) (VsctlResponse, error) {
	f.gotVsctl = req
	if req.Commands[0].Name == "add-br" && req.Commands[0].Args[0] == "dup" {
		return VsctlResponse{}, Conflict("cannot create a bridge named dup because a bridge named dup already exists")
	}
	if req.Commands[0].Name == "crash" {
		return VsctlResponse{}, errors.New("internal trouble")
	}
	res := make([]CommandResult, len(req.Commands))
	for i := range res {
		res[i].Output = req.Commands[i].Name + "\n"
	}
	return VsctlResponse{Results: res}, nil
}

func (f *fakeBackend) FlowMods(_ context.Context, br, source string, req FlowModRequest) (FlowModResult, error) {
	if br != "br0" {
		return FlowModResult{}, NotFound("%s is not a bridge or a socket", br)
	}
	f.gotBridge, f.gotSource, f.gotFlows = br, source, req
	return FlowModResult{Added: len(req.Lines)}, nil
}

func (f *fakeBackend) DumpFlows(_ context.Context, br string, req DumpFlowsRequest, w io.Writer) error {
	if br != "br0" {
		return NotFound("%s is not a bridge or a socket", br)
	}
	f.gotDump = req
	_, err := io.WriteString(w, f.flowLines)
	return err
}

func (f *fakeBackend) Aggregate(_ context.Context, br, filter string) (openflow.AggregateStats, error) {
	return openflow.AggregateStats{Packets: 3, Bytes: 294, Flows: uint32(len(filter))}, nil
}

func (f *fakeBackend) Features(context.Context, string) (Features, error) {
	return Features{DatapathID: 0xabc, NTables: 254, Ports: []openflow.PortDesc{{No: 1, Name: "tap0"}}}, nil
}

func (f *fakeBackend) PortStats(_ context.Context, _, port string) ([]openflow.PortStats, error) {
	if port == "nope" {
		return nil, NotFound("br0: couldn't find port `nope'")
	}
	return []openflow.PortStats{{No: 1, RxPackets: 7}}, nil
}

func (f *fakeBackend) Tables(context.Context, string) ([]openflow.TableStats, error) {
	return []openflow.TableStats{{Table: 0, ActiveCount: 1}}, nil
}

func (f *fakeBackend) ModPort(_ context.Context, _ string, req ModPortRequest) error {
	f.gotModP = req
	return nil
}

func (f *fakeBackend) Trace(_ context.Context, _ string, req TraceRequest) (TraceResponse, error) {
	return TraceResponse{Text: "Flow: " + req.Flow + "\n", JSON: []byte(`{"a":1}`)}, nil
}

// startServer serves fb on a real unix socket in a temp dir.
func startServer(t testing.TB, fb *fakeBackend) *Client {
	t.Helper()
	sock := filepath.Join(t.TempDir(), SocketName)
	srv, err := Listen(sock, Handler(fb, nil), nil)
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve() }()
	t.Cleanup(func() {
		if err := srv.Shutdown(context.Background()); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return NewClient(sock)
}

func TestRoundTrips(t *testing.T) {
	fb := &fakeBackend{flowLines: " cookie=0x0, duration=1.000s, table=0, n_packets=0, n_bytes=0, priority=0 actions=NORMAL\n"}
	c := startServer(t, fb)
	ctx := context.Background()

	sw, err := c.Switch(ctx)
	if err != nil || sw.Bridges[0].Ports[0].OFPort != 65534 {
		t.Fatalf("Switch = %+v, %v", sw, err)
	}

	req := VsctlRequest{Commands: []Command{
		{Name: "add-port", Args: []string{"br0", "p1"}, MayExist: true},
		{Name: "set", Args: []string{"interface", "p1"}, Settings: []Setting{{Column: "type", Value: "internal"}}},
	}}
	resp, err := c.Vsctl(ctx, req)
	if err != nil {
		t.Fatalf("Vsctl: %v", err)
	}
	if diff := cmp.Diff(req, fb.gotVsctl); diff != "" {
		t.Errorf("Vsctl request (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]CommandResult{{Output: "add-port\n"}, {Output: "set\n"}}, resp.Results); diff != "" {
		t.Errorf("Vsctl results (-want +got):\n%s", diff)
	}

	res, err := c.FlowMods(ctx, "br0", FlowCmdAdd, "f.txt", []byte("in_port=1,actions=output:2\n\n# x\r\n  in_port=2,actions=output:1\r\n"))
	if err != nil || res.Added != 2 {
		t.Fatalf("FlowMods = %+v, %v", res, err)
	}
	wantLines := []FlowLine{{No: 1, Text: "in_port=1,actions=output:2"}, {No: 4, Text: "in_port=2,actions=output:1"}}
	if diff := cmp.Diff(wantLines, fb.gotFlows.Lines); diff != "" || fb.gotSource != "f.txt" {
		t.Errorf("FlowMods lines (-want +got):\n%s source %q", diff, fb.gotSource)
	}

	var out bytes.Buffer
	dreq := DumpFlowsRequest{Filter: "in_port=1", NoStats: true, Names: true, RSort: "priority", Format: DumpText}
	if err := c.DumpFlows(ctx, "br0", dreq, &out); err != nil {
		t.Fatalf("DumpFlows: %v", err)
	}
	if out.String() != fb.flowLines {
		t.Errorf("DumpFlows = %q, want %q", out.String(), fb.flowLines)
	}
	if diff := cmp.Diff(dreq, fb.gotDump); diff != "" {
		t.Errorf("DumpFlows request (-want +got):\n%s", diff)
	}

	agg, err := c.Aggregate(ctx, "br0", "ip")
	if err != nil || agg != (openflow.AggregateStats{Packets: 3, Bytes: 294, Flows: 2}) {
		t.Errorf("Aggregate = %+v, %v", agg, err)
	}
	f, err := c.Features(ctx, "br0")
	if err != nil || f.DatapathID != 0xabc || f.Ports[0].Name != "tap0" {
		t.Errorf("Features = %+v, %v", f, err)
	}
	ps, err := c.PortStats(ctx, "br0", "")
	if err != nil || ps[0].RxPackets != 7 {
		t.Errorf("PortStats = %+v, %v", ps, err)
	}
	ts, err := c.Tables(ctx, "br0")
	if err != nil || ts[0].ActiveCount != 1 {
		t.Errorf("Tables = %+v, %v", ts, err)
	}
	if err := c.ModPort(ctx, "br0", ModPortRequest{Port: "tap0", Action: "down"}); err != nil || fb.gotModP.Action != "down" {
		t.Errorf("ModPort: %v, got %+v", err, fb.gotModP)
	}
	tr, err := c.Trace(ctx, "br0", TraceRequest{Flow: "in_port=1"})
	if err != nil || tr.Text != "Flow: in_port=1\n" || string(tr.JSON) != `{"a":1}` {
		t.Errorf("Trace = %+v, %v", tr, err)
	}
}

func TestErrors(t *testing.T) {
	c := startServer(t, &fakeBackend{})
	ctx := context.Background()
	tests := []struct {
		name   string
		call   func() error
		status int
		msg    string
	}{
		{"conflict", func() error {
			_, err := c.Vsctl(ctx, VsctlRequest{Commands: []Command{{Name: "add-br", Args: []string{"dup"}}}})
			return err
		}, 409, "cannot create a bridge named dup because a bridge named dup already exists"},
		{"internal", func() error {
			_, err := c.Vsctl(ctx, VsctlRequest{Commands: []Command{{Name: "crash"}}})
			return err
		}, 500, "internal trouble"},
		{"no commands", func() error { _, err := c.Vsctl(ctx, VsctlRequest{}); return err }, 400, "no commands"},
		{"bad flow command", func() error { _, err := c.FlowMods(ctx, "br0", "frob", "", nil); return err }, 400, `unknown flow command "frob"`},
		{"unknown bridge", func() error { _, err := c.FlowMods(ctx, "nobr", FlowCmdAdd, "", nil); return err }, 404, "nobr is not a bridge or a socket"},
		{"dump unknown bridge", func() error { return c.DumpFlows(ctx, "nobr", DumpFlowsRequest{}, io.Discard) }, 404, "nobr is not a bridge or a socket"},
		{"dump bad format", func() error { return c.DumpFlows(ctx, "br0", DumpFlowsRequest{Format: "xml"}, io.Discard) }, 400, `unknown dump format "xml"`},
		{"port", func() error { _, err := c.PortStats(ctx, "br0", "nope"); return err }, 404, "br0: couldn't find port `nope'"},
	}
	for _, tt := range tests {
		err := tt.call()
		var ae *Error
		if !errors.As(err, &ae) || ae.Status != tt.status || err.Error() != tt.msg {
			t.Errorf("%s: err = %v (%#v), want %d %q", tt.name, err, ae, tt.status, tt.msg)
		}
	}
}

func TestNoDaemon(t *testing.T) {
	sock := filepath.Join(t.TempDir(), SocketName)
	_, err := NewClient(sock).Switch(context.Background())
	want := fmt.Sprintf("unix:%s: database connection failed (No such file or directory); is the tapestry daemon running?", sock)
	if err == nil || err.Error() != want {
		t.Errorf("Switch without daemon: %v, want %q", err, want)
	}
}

func TestListenTwice(t *testing.T) {
	sock := filepath.Join(t.TempDir(), SocketName)
	srv, err := Listen(sock, Handler(&fakeBackend{}, nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve()
	defer srv.Shutdown(context.Background())
	if _, err := Listen(sock, Handler(&fakeBackend{}, nil), nil); err == nil || !strings.Contains(err.Error(), "already listening") {
		t.Errorf("second Listen = %v, want already listening", err)
	}
}

func TestDecodeFlowModRequest(t *testing.T) {
	tests := []struct {
		body string
		want []FlowLine
	}{
		{"", []FlowLine{}},
		{"a", []FlowLine{{1, "a"}}},
		{"a\n", []FlowLine{{1, "a"}}},
		{"\n\na\n#b\n c \n", []FlowLine{{3, "a"}, {5, "c"}}},
		{"a\r\nb\r\n", []FlowLine{{1, "a"}, {2, "b"}}},
		{"  # indented comment\nx", []FlowLine{{2, "x"}}},
	}
	for _, tt := range tests {
		got, err := DecodeFlowModRequest(FlowCmdAdd, []byte(tt.body))
		if err != nil {
			t.Errorf("DecodeFlowModRequest(%q): %v", tt.body, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got.Lines); diff != "" {
			t.Errorf("DecodeFlowModRequest(%q) (-want +got):\n%s", tt.body, diff)
		}
	}
}

func TestDecodeDumpFlowsRequest(t *testing.T) {
	tests := []struct {
		query   string
		want    DumpFlowsRequest
		wantErr string
	}{
		{"", DumpFlowsRequest{Format: DumpText}, ""},
		{"no_stats=true&names=1&sort=priority", DumpFlowsRequest{NoStats: true, Names: true, Sort: "priority", Format: DumpText}, ""},
		{"filter=in_port%3D1&format=flowmod", DumpFlowsRequest{Filter: "in_port=1", Format: DumpFlowMod}, ""},
		{"no_stats=maybe", DumpFlowsRequest{}, `no_stats: invalid boolean "maybe"`},
		{"sort=a&rsort=b", DumpFlowsRequest{}, "sort and rsort are exclusive"},
	}
	for _, tt := range tests {
		q, _ := url.ParseQuery(tt.query)
		got, err := DecodeDumpFlowsRequest(q)
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("DecodeDumpFlowsRequest(%q) err = %v, want %q", tt.query, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("DecodeDumpFlowsRequest(%q) = %+v, %v; want %+v", tt.query, got, err, tt.want)
		}
	}
}

func TestDecodeVsctlRequestStrict(t *testing.T) {
	for _, body := range []string{`{"commands":[{"name":"x","bogus":1}]}`, `{"commands":[{"name":"x"}]} {}`, `{"commands":[{}]}`, `[]`, ``} {
		if _, err := DecodeVsctlRequest([]byte(body)); err == nil || StatusOf(err) != 400 {
			t.Errorf("DecodeVsctlRequest(%q) = %v, want a 400 error", body, err)
		}
	}
}

// FuzzHandler drives every route with arbitrary methods, paths, queries and
// bodies: the server must never panic and must always answer with a
// status and, for errors, a JSON error body.
func FuzzHandler(f *testing.F) {
	f.Add("POST", "/v1/vsctl", "", []byte(`{"commands":[{"name":"add-br","args":["br0"]}]}`))
	f.Add("POST", "/v1/bridges/br0/flows", "command=add", []byte("in_port=1,actions=drop\n"))
	f.Add("GET", "/v1/bridges/br0/flows", "names=true&sort=priority", []byte(nil))
	f.Add("POST", "/v1/bridges/br0/mod-port", "", []byte(`{"port":"1","action":"down"}`))
	f.Add("POST", "/v1/bridges/br0/trace", "", []byte(`{"flow":"in_port=1"}`))
	f.Add("GET", "/v1/bridges/br0/port-stats", "port=1", []byte(nil))
	f.Fuzz(func(t *testing.T, method, path, query string, body []byte) {
		if !strings.HasPrefix(path, "/") || strings.ContainsAny(path+query, " \r\n#") {
			return
		}
		u, err := url.Parse(path + "?" + query)
		if err != nil {
			return
		}
		req := httptest.NewRequest(http.MethodGet, "/", bytes.NewReader(body))
		req.Method, req.URL = method, u
		rec := httptest.NewRecorder()
		Handler(&fakeBackend{}, nil).ServeHTTP(rec, req)
		if rec.Code >= 400 && !strings.Contains(rec.Body.String(), `"error"`) {
			t.Errorf("%s %s: status %d without an error body: %q", method, u, rec.Code, rec.Body.String())
		}
	})
}

// FuzzDecodeFlowModRequest checks the line splitter: never panics, every
// line is trimmed, non-empty, not a comment, and line numbers increase.
func FuzzDecodeFlowModRequest(f *testing.F) {
	f.Add([]byte("in_port=1,actions=drop\n#c\n\n ip actions=NORMAL \r\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := DecodeFlowModRequest(FlowCmdAdd, body)
		if err != nil {
			t.Fatalf("DecodeFlowModRequest: %v", err)
		}
		last := 0
		for _, l := range req.Lines {
			if l.No <= last || l.Text == "" || l.Text[0] == '#' || strings.TrimSpace(l.Text) != l.Text || strings.Contains(l.Text, "\n") {
				t.Fatalf("bad line %+v after %d", l, last)
			}
			last = l.No
		}
	})
}

// FuzzDecodeVsctlRequest: arbitrary JSON never panics; anything accepted
// has named commands.
func FuzzDecodeVsctlRequest(f *testing.F) {
	f.Add([]byte(`{"commands":[{"name":"add-br","args":["br0"],"may_exist":true}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := DecodeVsctlRequest(body)
		if err != nil {
			return
		}
		for _, c := range req.Commands {
			if c.Name == "" {
				t.Fatalf("accepted a command without a name: %s", body)
			}
		}
	})
}

// FuzzDecodeDumpFlowsRequest: any query decodes or fails cleanly, and what
// decodes is consistent (one sort direction, a known format and version).
func FuzzDecodeDumpFlowsRequest(f *testing.F) {
	f.Add("filter=in_port%3D1&no_stats=true&names=1&sort=priority&version=4&reply=true")
	f.Add("rsort=in_port&format=flowmod")
	f.Fuzz(func(t *testing.T, query string) {
		q, err := url.ParseQuery(query)
		if err != nil {
			return
		}
		req, err := DecodeDumpFlowsRequest(q)
		if err != nil {
			if StatusOf(err) != http.StatusBadRequest {
				t.Fatalf("%q: error %v is not a 400", query, err)
			}
			return
		}
		if req.Sort != "" && req.RSort != "" || req.Format != DumpText && req.Format != DumpFlowMod || req.Version != 0 && req.Version != 1 && req.Version != 4 {
			t.Fatalf("%q decoded to an inconsistent request %+v", query, req)
		}
	})
}
