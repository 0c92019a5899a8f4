package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
)

// Namespaces: the Linux-like hosts and routers inside the daemon. Their
// commands cross the API as the argument words of ip(8), sysctl(8) and
// ping(8); the daemon parses them with the iproute2 syntax of packages
// netstack, route and neigh and answers with the tools' own text, so that
// the CLI stays free of the data plane.
//
//	POST /v1/ip                    IPRequest -> CommandResult
//	POST /v1/netns/{ns}/sysctl     ExecRequest -> CommandResult
//	POST /v1/netns/{ns}/ping       ExecRequest -> PingLine stream (NDJSON)
//	POST /v1/netns/{ns}/netfilter  ToolRequest -> ToolResult

// IPRequest is one ip(8) invocation: the words after the global options,
// e.g. ["addr", "add", "10.0.0.1/24", "dev", "p0"], run in namespace Netns
// ("" is the root namespace, where only `ip link set DEV netns NS` and
// `ip netns ...` mean anything to tapestry).
type IPRequest struct {
	Netns string   `json:"netns,omitempty"`
	Args  []string `json:"args"`
}

// ExecRequest carries the argument words of a tool run in a namespace by
// `ip netns exec NS TOOL ARGS...` (sysctl, ping).
type ExecRequest struct {
	Args []string `json:"args"`
}

// ToolRequest is one run of a netfilter tool in a namespace (iptables,
// iptables-save, iptables-restore, conntrack): its argument words and,
// for iptables-restore, its standard input.
type ToolRequest struct {
	Tool  string   `json:"tool"`
	Args  []string `json:"args"`
	Stdin string   `json:"stdin,omitempty"`
}

// ToolResult is what the tool printed on its standard output and error
// and the status it exits with. Failures of the tool itself (a bad rule,
// an unknown chain) are results, not API errors, because the tools print
// them in their own words with their own statuses.
type ToolResult struct {
	Stdout   string `json:"stdout,omitempty"`
	Stderr   string `json:"stderr,omitempty"`
	ExitCode int    `json:"exit_code,omitempty"`
}

// PingLine is one element of the ping stream: an output line as iputils
// prints it, or, last, Done with the exit status ping would return (0
// when a reply came back, 1 when none did, 2 on an error).
type PingLine struct {
	Line     string `json:"line,omitempty"`
	Stderr   bool   `json:"stderr,omitempty"`
	Done     bool   `json:"done,omitempty"`
	ExitCode int    `json:"exit_code,omitempty"`
}

// IPExitCode is the status iproute2 exits with when the kernel refuses a
// request ("RTNETLINK answers: File exists") or an argument is wrong.
const IPExitCode = 2

func (s *server) postIP(w http.ResponseWriter, r *http.Request) {
	var req IPRequest
	if err := decodeJSONBody(r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	res, err := s.b.IP(r.Context(), req)
	s.reply(w, r, res, err)
}

func (s *server) postSysctl(w http.ResponseWriter, r *http.Request) {
	var req ExecRequest
	if err := decodeJSONBody(r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	res, err := s.b.Sysctl(r.Context(), r.PathValue("ns"), req)
	s.reply(w, r, res, err)
}

func (s *server) postNetfilter(w http.ResponseWriter, r *http.Request) {
	var req ToolRequest
	if err := decodeJSONBody(r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	res, err := s.b.Netfilter(r.Context(), r.PathValue("ns"), req)
	s.reply(w, r, res, err)
}

// postPing streams one JSON PingLine per output line, flushing each so
// that the user sees replies as they arrive, as with ping itself.
func (s *server) postPing(w http.ResponseWriter, r *http.Request) {
	s.streamLines(w, r, "ping", s.b.Ping)
}

// streamLines runs a streaming tool (ping, conntrack -E) of the namespace
// in the path and writes each line it emits as one NDJSON PingLine,
// flushed at once. An error before the first line is an ordinary error
// reply; after it, only the log hears of it.
func (s *server) streamLines(w http.ResponseWriter, r *http.Request, tool string,
	run func(ctx context.Context, ns string, req ExecRequest, emit func(PingLine)) error) {
	var req ExecRequest
	if err := decodeJSONBody(r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	started := false
	enc := json.NewEncoder(w)
	flusher, _ := w.(http.Flusher)
	emit := func(l PingLine) {
		if !started {
			started = true
			w.Header().Set("Content-Type", "application/x-ndjson")
			w.WriteHeader(http.StatusOK)
		}
		// A client gone away is noticed through the request context.
		_ = enc.Encode(l)
		if flusher != nil {
			flusher.Flush()
		}
	}
	if err := run(r.Context(), r.PathValue("ns"), req, emit); err != nil {
		if started {
			s.log.Error(tool+" failed mid-stream", "netns", r.PathValue("ns"), "err", err)
			return
		}
		s.fail(w, r, err)
	}
}

// IP runs one ip(8) command in the daemon.
func (c *Client) IP(ctx context.Context, req IPRequest) (CommandResult, error) {
	var res CommandResult
	err := c.postJSON(ctx, "/v1/ip", req, &res)
	return res, err
}

func netnsPath(ns, what string) string {
	return "/v1/netns/" + url.PathEscape(ns) + "/" + what
}

// Sysctl runs sysctl(8) with args in namespace ns.
func (c *Client) Sysctl(ctx context.Context, ns string, args []string) (CommandResult, error) {
	var res CommandResult
	err := c.postJSON(ctx, netnsPath(ns, "sysctl"), ExecRequest{Args: args}, &res)
	return res, err
}

// Netfilter runs a netfilter tool in namespace ns.
func (c *Client) Netfilter(ctx context.Context, ns string, req ToolRequest) (ToolResult, error) {
	var res ToolResult
	err := c.postJSON(ctx, netnsPath(ns, "netfilter"), req, &res)
	return res, err
}

// Ping runs ping(8) with args in namespace ns, calling line for every
// output line as it arrives, and returns ping's exit status.
func (c *Client) Ping(ctx context.Context, ns string, args []string, line func(PingLine)) (int, error) {
	return c.streamLines(ctx, netnsPath(ns, "ping"), "ping", args, line)
}

// streamLines posts args to a streaming tool's path and calls line for
// each line until the Done line, whose status it returns. Once ctx is
// cancelled it returns ctx's error.
func (c *Client) streamLines(ctx context.Context, path, tool string, args []string, line func(PingLine)) (int, error) {
	b, err := json.Marshal(ExecRequest{Args: args})
	if err != nil {
		return 0, fmt.Errorf("api: %w", err)
	}
	resp, err := c.do(ctx, http.MethodPost, path, nil, bytes.NewReader(b), "application/json")
	if err != nil {
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		return 0, err
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(resp.Body)
	for {
		var l PingLine
		if err := dec.Decode(&l); err != nil {
			if ctx.Err() != nil {
				return 0, ctx.Err()
			}
			if errors.Is(err, io.EOF) {
				return 0, fmt.Errorf("api: %s stream ended without a status", tool)
			}
			return 0, fmt.Errorf("api: reading %s output: %w", tool, err)
		}
		if l.Done {
			return l.ExitCode, nil
		}
		line(l)
	}
}
