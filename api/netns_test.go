package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func (f *fakeBackend) IP(_ context.Context, req IPRequest) (CommandResult, error) {
	f.gotIP = req
	if req.Netns == "nope" {
		return CommandResult{}, NotFound("Cannot open network namespace \"nope\": No such file or directory")
	}
	return CommandResult{Output: strings.Join(req.Args, " ") + "\n"}, nil
}

func (f *fakeBackend) Sysctl(_ context.Context, ns string, req ExecRequest) (CommandResult, error) {
	return CommandResult{Output: ns + ":" + strings.Join(req.Args, ",") + "\n"}, nil
}

func (f *fakeBackend) Ping(_ context.Context, ns string, req ExecRequest, emit func(PingLine)) error {
	if ns == "nope" {
		return NotFound("Cannot open network namespace \"nope\": No such file or directory")
	}
	for _, a := range req.Args {
		emit(PingLine{Line: a})
	}
	emit(PingLine{Done: true, ExitCode: len(req.Args)})
	return nil
}

func TestNetnsRoundTrips(t *testing.T) {
	fb := &fakeBackend{}
	c := startServer(t, fb)
	ctx := context.Background()

	req := IPRequest{Netns: "r1", Args: []string{"route", "add", "default", "via", "10.0.0.1"}}
	res, err := c.IP(ctx, req)
	if err != nil || res.Output != "route add default via 10.0.0.1\n" {
		t.Errorf("IP = %+v, %v", res, err)
	}
	if diff := cmp.Diff(req, fb.gotIP); diff != "" {
		t.Errorf("IP request (-want +got):\n%s", diff)
	}
	_, err = c.IP(ctx, IPRequest{Netns: "nope", Args: []string{"link"}})
	var ae *Error
	if !errors.As(err, &ae) || ae.Status != 404 || !strings.HasPrefix(err.Error(), "Cannot open network namespace") {
		t.Errorf("IP in a missing netns: err = %v", err)
	}

	res, err = c.Sysctl(ctx, "r 1/x", []string{"-w", "net.ipv4.ip_forward=1"})
	if err != nil || res.Output != "r 1/x:-w,net.ipv4.ip_forward=1\n" {
		t.Errorf("Sysctl = %+v, %v", res, err)
	}

	var lines []string
	code, err := c.Ping(ctx, "h1", []string{"a", "b", "c"}, func(l PingLine) { lines = append(lines, l.Line) })
	if err != nil || code != 3 || !slices.Equal(lines, []string{"a", "b", "c"}) {
		t.Errorf("Ping = %d, %q, %v; want 3, [a b c]", code, lines, err)
	}
	if _, err := c.Ping(ctx, "nope", nil, func(PingLine) {}); StatusOf(err) != 404 {
		t.Errorf("Ping in a missing netns: err = %v, want a 404", err)
	}
}

func (f *fakeBackend) Netfilter(_ context.Context, ns string, req ToolRequest) (ToolResult, error) {
	if ns == "nope" {
		return ToolResult{}, NotFound("Cannot open network namespace \"nope\": No such file or directory")
	}
	return ToolResult{Stdout: req.Tool + ":" + strings.Join(req.Args, ","), Stderr: req.Stdin, ExitCode: len(req.Args)}, nil
}

func TestNetfilterRoundTrip(t *testing.T) {
	c := startServer(t, &fakeBackend{})
	ctx := context.Background()
	res, err := c.Netfilter(ctx, "r 1", ToolRequest{Tool: "iptables-restore", Args: []string{"--noflush"}, Stdin: "*filter\nCOMMIT\n"})
	if err != nil {
		t.Fatal(err)
	}
	want := ToolResult{Stdout: "iptables-restore:--noflush", Stderr: "*filter\nCOMMIT\n", ExitCode: 1}
	if diff := cmp.Diff(want, res); diff != "" {
		t.Errorf("result (-want +got):\n%s", diff)
	}
	if _, err := c.Netfilter(ctx, "nope", ToolRequest{Tool: "conntrack"}); StatusOf(err) != 404 || !strings.Contains(err.Error(), "Cannot open network namespace") {
		t.Errorf("unknown namespace: %v", err)
	}
}

// Cloud answers every /v2.0 and /v2.1 request with its method and path,
// so that a test sees the server hand them over untouched.
func (f *fakeBackend) Cloud() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, "{\"seen\": %q}", r.Method+" "+r.URL.RequestURI())
	})
}

func TestCloudRoutesReachTheBackend(t *testing.T) {
	c := startServer(t, &fakeBackend{})
	for _, tc := range []struct {
		path string
		q    url.Values
		want string
	}{
		{"/v2.0/networks", url.Values{"name": {"private"}}, "GET /v2.0/networks?name=private"},
		{"/v2.1/servers", nil, "GET /v2.1/servers"},
	} {
		var got struct{ Seen string }
		if err := c.getJSON(context.Background(), tc.path, tc.q, &got); err != nil || got.Seen != tc.want {
			t.Errorf("GET %s: seen %q, err %v; want %q", tc.path, got.Seen, err, tc.want)
		}
	}
}
