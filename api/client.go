package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"

	"tapestry/openflow"
)

// DefaultRunDir is where the daemon puts its socket when neither --run-dir
// nor TAPESTRY_RUNDIR says otherwise: /run/tapestry for root, as OVS uses
// /run/openvswitch, and $XDG_RUNTIME_DIR/tapestry for everyone else.
func DefaultRunDir() string {
	if d := os.Getenv("TAPESTRY_RUNDIR"); d != "" {
		return d
	}
	if os.Geteuid() == 0 {
		return "/run/tapestry"
	}
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		return filepath.Join(d, "tapestry")
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("tapestry-%d", os.Geteuid()))
}

// SocketPath returns the socket inside runDir.
func SocketPath(runDir string) string { return filepath.Join(runDir, SocketName) }

// Client talks to a daemon over its unix socket.
type Client struct {
	socket string
	http   *http.Client
}

// NewClient returns a client for the daemon listening on socket.
func NewClient(socket string) *Client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
		// Responses of 100,000 flows compress poorly and cost CPU on both
		// ends of a local socket; send them as they are.
		DisableCompression: true,
	}
	return &Client{socket: socket, http: &http.Client{Transport: tr}}
}

// base is the URL prefix of every request; the host is ignored by the
// unix-socket dialer.
const base = "http://tapestry"

func (c *Client) do(ctx context.Context, method, path string, q url.Values, body io.Reader, ctype string) (*http.Response, error) {
	u := base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, fmt.Errorf("api: %w", err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, c.connError(err)
	}
	if resp.StatusCode >= 300 {
		defer resp.Body.Close()
		return nil, decodeError(resp)
	}
	return resp, nil
}

// connError explains a failure to reach the daemon the way ovs-vsctl does
// when ovsdb-server is not running: naming the socket.
func (c *Client) connError(err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		reason := "connection refused"
		if errors.Is(err, os.ErrNotExist) {
			reason = "No such file or directory"
		} else if errors.Is(err, os.ErrPermission) {
			reason = "Permission denied"
		}
		return fmt.Errorf("unix:%s: database connection failed (%s); is the tapestry daemon running?", c.socket, reason)
	}
	return fmt.Errorf("api: %w", err)
}

func decodeError(resp *http.Response) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var eb errorBody
	if json.Unmarshal(body, &eb) == nil && eb.Error != "" {
		return &Error{Status: resp.StatusCode, Message: eb.Error}
	}
	return &Error{Status: resp.StatusCode, Message: fmt.Sprintf("daemon answered %s", resp.Status)}
}

func (c *Client) getJSON(ctx context.Context, path string, q url.Values, out any) error {
	resp, err := c.do(ctx, http.MethodGet, path, q, nil, "")
	if err != nil {
		return err
	}
	return readJSON(resp, out)
}

func (c *Client) postJSON(ctx context.Context, path string, in, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("api: %w", err)
	}
	resp, err := c.do(ctx, http.MethodPost, path, nil, bytes.NewReader(b), "application/json")
	if err != nil {
		return err
	}
	return readJSON(resp, out)
}

func readJSON(resp *http.Response, out any) error {
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("api: decoding reply: %w", err)
	}
	return nil
}

func bridgePath(br, what string) string {
	return "/v1/bridges/" + url.PathEscape(br) + "/" + what
}

// Switch returns every bridge and port with its status.
func (c *Client) Switch(ctx context.Context) (Switch, error) {
	var sw Switch
	err := c.getJSON(ctx, "/v1/switch", nil, &sw)
	return sw, err
}

// Vsctl runs ovs-vsctl commands in one transaction.
func (c *Client) Vsctl(ctx context.Context, req VsctlRequest) (VsctlResponse, error) {
	var resp VsctlResponse
	err := c.postJSON(ctx, "/v1/vsctl", req, &resp)
	return resp, err
}

// FlowMods sends flow lines (add-flows file content: one flow per line) to
// bridge br with command (FlowCmdAdd...). source names the input in error
// messages ("flows.txt:3: ..."); empty for a single command-line flow.
func (c *Client) FlowMods(ctx context.Context, br, command, source string, lines []byte) (FlowModResult, error) {
	q := url.Values{"command": {command}}
	if source != "" {
		q.Set("source", source)
	}
	var res FlowModResult
	resp, err := c.do(ctx, http.MethodPost, bridgePath(br, "flows"), q, bytes.NewReader(lines), "text/plain")
	if err != nil {
		return res, err
	}
	err = readJSON(resp, &res)
	return res, err
}

// DumpFlows copies the bridge's formatted flow lines to w.
func (c *Client) DumpFlows(ctx context.Context, br string, req DumpFlowsRequest, w io.Writer) error {
	q := url.Values{}
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	set("filter", req.Filter)
	set("sort", req.Sort)
	set("rsort", req.RSort)
	set("format", req.Format)
	if req.NoStats {
		q.Set("no_stats", "true")
	}
	if req.Names {
		q.Set("names", "true")
	}
	if req.Reply {
		q.Set("reply", "true")
	}
	if req.Version != 0 {
		q.Set("version", strconv.Itoa(int(req.Version)))
	}
	resp, err := c.do(ctx, http.MethodGet, bridgePath(br, "flows"), q, nil, "")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(w, resp.Body); err != nil {
		return fmt.Errorf("api: reading flows: %w", err)
	}
	return nil
}

// Aggregate returns the packet, byte and flow counts of the flows filter
// selects.
func (c *Client) Aggregate(ctx context.Context, br, filter string) (openflow.AggregateStats, error) {
	var agg openflow.AggregateStats
	err := c.getJSON(ctx, bridgePath(br, "aggregate"), url.Values{"filter": {filter}}, &agg)
	return agg, err
}

// Features returns what ovs-ofctl show prints.
func (c *Client) Features(ctx context.Context, br string) (Features, error) {
	var f Features
	err := c.getJSON(ctx, bridgePath(br, "features"), nil, &f)
	return f, err
}

// PortStats returns the counters of one port (a name or number) or, when
// port is empty, of all ports.
func (c *Client) PortStats(ctx context.Context, br, port string) ([]openflow.PortStats, error) {
	var ps []openflow.PortStats
	var q url.Values
	if port != "" {
		q = url.Values{"port": {port}}
	}
	err := c.getJSON(ctx, bridgePath(br, "port-stats"), q, &ps)
	return ps, err
}

// Tables returns the bridge's table statistics.
func (c *Client) Tables(ctx context.Context, br string) ([]openflow.TableStats, error) {
	var ts []openflow.TableStats
	err := c.getJSON(ctx, bridgePath(br, "tables"), nil, &ts)
	return ts, err
}

// ModPort changes a port's OpenFlow config bits.
func (c *Client) ModPort(ctx context.Context, br string, req ModPortRequest) error {
	var out struct{}
	return c.postJSON(ctx, bridgePath(br, "mod-port"), req, &out)
}

// Trace asks how the bridge handles the packet req describes.
func (c *Client) Trace(ctx context.Context, br string, req TraceRequest) (TraceResponse, error) {
	var tr TraceResponse
	err := c.postJSON(ctx, bridgePath(br, "trace"), req, &tr)
	return tr, err
}
