package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"tapestry/openflow"
)

// Backend is what the server serves; package daemon implements it. Errors
// of type *Error choose the HTTP status; any other error is a 500.
type Backend interface {
	Switch(ctx context.Context) (Switch, error)
	Vsctl(ctx context.Context, req VsctlRequest) (VsctlResponse, error)
	// FlowMods applies req to bridge br atomically. source names where
	// the lines came from (a file name, "-" for stdin) for error messages.
	FlowMods(ctx context.Context, br, source string, req FlowModRequest) (FlowModResult, error)
	// DumpFlows writes the selected flows, one line each, to w. It must
	// return errors (unknown bridge, bad filter) before writing anything.
	DumpFlows(ctx context.Context, br string, req DumpFlowsRequest, w io.Writer) error
	Aggregate(ctx context.Context, br, filter string) (openflow.AggregateStats, error)
	Features(ctx context.Context, br string) (Features, error)
	PortStats(ctx context.Context, br, port string) ([]openflow.PortStats, error)
	Tables(ctx context.Context, br string) ([]openflow.TableStats, error)
	ModPort(ctx context.Context, br string, req ModPortRequest) error
	Trace(ctx context.Context, br string, req TraceRequest) (TraceResponse, error)
	// Groups adds, modifies, deletes (atomically per request), dumps or
	// reports the statistics or features of bridge br's groups (groups.go).
	Groups(ctx context.Context, br string, req GroupRequest) (GroupResult, error)
	// IP runs one ip(8) command in a namespace (see netns.go).
	IP(ctx context.Context, req IPRequest) (CommandResult, error)
	// Sysctl runs sysctl(8) in namespace ns.
	Sysctl(ctx context.Context, ns string, req ExecRequest) (CommandResult, error)
	// Ping runs ping(8) in namespace ns, calling emit for each output line
	// as it is printed. An error returned before the first emit is an
	// ordinary error reply; the final status comes as a Done line.
	Ping(ctx context.Context, ns string, req ExecRequest, emit func(PingLine)) error
	// Netfilter runs iptables, iptables-save, iptables-restore or
	// conntrack in namespace ns.
	Netfilter(ctx context.Context, ns string, req ToolRequest) (ToolResult, error)
	// ConntrackEvents runs conntrack -E in namespace ns, calling emit for
	// each event line until ctx ends (see conntrack.go).
	ConntrackEvents(ctx context.Context, ns string, req ExecRequest, emit func(PingLine)) error
	// Cloud serves Neutron's API v2.0 (/v2.0/...) and the servers API
	// (/v2.1/servers); package cloud has the handler.
	Cloud() http.Handler
}

// MaxBodyBytes bounds a request body: 1 GiB holds several million flow
// lines, far more than any table, and stops a runaway client.
const MaxBodyBytes = 1 << 30

// maxJSONBody bounds JSON request bodies, which are small.
const maxJSONBody = 16 << 20

// Handler returns the HTTP handler serving b.
func Handler(b Backend, log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.Default()
	}
	s := &server{b: b, log: log}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/switch", s.getSwitch)
	mux.HandleFunc("POST /v1/vsctl", s.postVsctl)
	mux.HandleFunc("POST /v1/bridges/{br}/flows", s.postFlows)
	mux.HandleFunc("GET /v1/bridges/{br}/flows", s.getFlows)
	mux.HandleFunc("GET /v1/bridges/{br}/aggregate", s.getAggregate)
	mux.HandleFunc("GET /v1/bridges/{br}/features", s.getFeatures)
	mux.HandleFunc("GET /v1/bridges/{br}/port-stats", s.getPortStats)
	mux.HandleFunc("GET /v1/bridges/{br}/tables", s.getTables)
	mux.HandleFunc("POST /v1/bridges/{br}/mod-port", s.postModPort)
	mux.HandleFunc("POST /v1/bridges/{br}/trace", s.postTrace)
	mux.HandleFunc("POST /v1/bridges/{br}/groups", s.postGroups)
	mux.HandleFunc("GET /v1/bridges/{br}/groups", s.getGroups)
	mux.HandleFunc("GET /v1/bridges/{br}/group-stats", s.getGroupStats)
	mux.HandleFunc("GET /v1/bridges/{br}/group-features", s.getGroupFeatures)
	mux.HandleFunc("POST /v1/ip", s.postIP)
	mux.HandleFunc("POST /v1/netns/{ns}/sysctl", s.postSysctl)
	mux.HandleFunc("POST /v1/netns/{ns}/ping", s.postPing)
	mux.HandleFunc("POST /v1/netns/{ns}/netfilter", s.postNetfilter)
	mux.HandleFunc("POST /v1/netns/{ns}/conntrack-events", s.postConntrackEvents)
	if h := b.Cloud(); h != nil {
		mux.Handle("/v2.0/", h)
		mux.Handle("/v2.1/", h)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, r, NotFound("no route for %s %s", r.Method, r.URL.Path))
	})
	return mux
}

type server struct {
	b   Backend
	log *slog.Logger
}

func (s *server) fail(w http.ResponseWriter, r *http.Request, err error) {
	status := StatusOf(err)
	if status >= 500 {
		s.log.Error("api request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	writeJSON(w, status, errorBody{Error: err.Error()})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	// The only failure is a client gone away; nothing to tell it.
	_ = json.NewEncoder(w).Encode(v)
}

func (s *server) reply(w http.ResponseWriter, r *http.Request, v any, err error) {
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *server) getSwitch(w http.ResponseWriter, r *http.Request) {
	sw, err := s.b.Switch(r.Context())
	s.reply(w, r, sw, err)
}

func (s *server) postVsctl(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxJSONBody))
	if err != nil {
		s.fail(w, r, BadRequest("reading request: %v", err))
		return
	}
	req, err := DecodeVsctlRequest(body)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	resp, err := s.b.Vsctl(r.Context(), req)
	s.reply(w, r, resp, err)
}

func (s *server) postFlows(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(r, MaxBodyBytes)
	if err != nil {
		s.fail(w, r, BadRequest("reading request: %v", err))
		return
	}
	q := r.URL.Query()
	// The body is this handler's alone: the lines may point into it.
	req, err := decodeFlowModText(q.Get("command"), ownedString(body))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	res, err := s.b.FlowMods(r.Context(), r.PathValue("br"), q.Get("source"), req)
	s.reply(w, r, res, err)
}

func (s *server) getFlows(w http.ResponseWriter, r *http.Request) {
	req, err := DecodeDumpFlowsRequest(r.URL.Query())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	lw := &lazyWriter{w: w}
	if err := s.b.DumpFlows(r.Context(), r.PathValue("br"), req, lw); err != nil {
		if lw.started {
			// Too late for a status; the client sees a short body.
			s.log.Error("dump-flows failed mid-stream", "bridge", r.PathValue("br"), "err", err)
			return
		}
		s.fail(w, r, err)
		return
	}
	if !lw.started {
		lw.start()
	}
}

// lazyWriter sends the 200 header only when the first byte is written, so
// that a backend error found before any output still gets its own status.
type lazyWriter struct {
	w       http.ResponseWriter
	started bool
}

func (l *lazyWriter) start() {
	l.started = true
	l.w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	l.w.WriteHeader(http.StatusOK)
}

func (l *lazyWriter) Write(p []byte) (int, error) {
	if !l.started {
		l.start()
	}
	return l.w.Write(p)
}

func (s *server) getAggregate(w http.ResponseWriter, r *http.Request) {
	agg, err := s.b.Aggregate(r.Context(), r.PathValue("br"), r.URL.Query().Get("filter"))
	s.reply(w, r, agg, err)
}

func (s *server) getFeatures(w http.ResponseWriter, r *http.Request) {
	f, err := s.b.Features(r.Context(), r.PathValue("br"))
	s.reply(w, r, f, err)
}

func (s *server) getPortStats(w http.ResponseWriter, r *http.Request) {
	ps, err := s.b.PortStats(r.Context(), r.PathValue("br"), r.URL.Query().Get("port"))
	s.reply(w, r, ps, err)
}

func (s *server) getTables(w http.ResponseWriter, r *http.Request) {
	ts, err := s.b.Tables(r.Context(), r.PathValue("br"))
	s.reply(w, r, ts, err)
}

func (s *server) postModPort(w http.ResponseWriter, r *http.Request) {
	var req ModPortRequest
	if err := decodeJSONBody(r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	s.reply(w, r, struct{}{}, s.b.ModPort(r.Context(), r.PathValue("br"), req))
}

func (s *server) postTrace(w http.ResponseWriter, r *http.Request) {
	var req TraceRequest
	if err := decodeJSONBody(r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	tr, err := s.b.Trace(r.Context(), r.PathValue("br"), req)
	s.reply(w, r, tr, err)
}

func decodeJSONBody(r *http.Request, v any) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxJSONBody))
	if err != nil {
		return BadRequest("reading request: %v", err)
	}
	return decodeJSON(body, v)
}

// decodeJSON decodes one JSON value, rejecting unknown fields and trailing
// data so that a misspelt field is an error rather than silently ignored.
func decodeJSON(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return BadRequest("invalid request body: %v", err)
	}
	if dec.More() {
		return BadRequest("invalid request body: trailing data")
	}
	return nil
}

// readBody reads a request body of at most limit bytes. With a
// Content-Length (the CLI always sends one) the body is read into one
// allocation of its size: io.ReadAll grows its buffer by copying, which
// for a 100,000-line add-flows allocates twice the body.
func readBody(r *http.Request, limit int64) ([]byte, error) {
	n := r.ContentLength
	if n < 0 || n > limit {
		return io.ReadAll(io.LimitReader(r.Body, limit))
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r.Body, body); err != nil {
		return nil, err
	}
	return body, nil
}

// DecodeVsctlRequest decodes and checks the body of POST /v1/vsctl.
func DecodeVsctlRequest(body []byte) (VsctlRequest, error) {
	var req VsctlRequest
	if err := decodeJSON(body, &req); err != nil {
		return VsctlRequest{}, err
	}
	if len(req.Commands) == 0 {
		return VsctlRequest{}, BadRequest("no commands")
	}
	for i, c := range req.Commands {
		if c.Name == "" {
			return VsctlRequest{}, BadRequest("command %d has no name", i+1)
		}
	}
	return req, nil
}

// DecodeFlowModRequest splits the body of POST /v1/bridges/{br}/flows into
// lines as ovs-ofctl add-flows reads a file: one flow per line, blank lines
// and lines starting with '#' ignored, a trailing '\r' dropped. The lines
// share body's memory (one conversion, no per-line copies).
func DecodeFlowModRequest(command string, body []byte) (FlowModRequest, error) {
	return decodeFlowModText(command, string(body))
}

// decodeFlowModText is DecodeFlowModRequest of a body already in a string.
func decodeFlowModText(command, text string) (FlowModRequest, error) {
	switch command {
	case FlowCmdAdd, FlowCmdModify, FlowCmdModifyStrict, FlowCmdDelete, FlowCmdDeleteStrict, FlowCmdReplace:
	case "":
		return FlowModRequest{}, BadRequest("missing flow command")
	default:
		return FlowModRequest{}, BadRequest("unknown flow command %q", command)
	}
	body := text
	req := FlowModRequest{Command: command, Lines: make([]FlowLine, 0, strings.Count(text, "\n")+1)}
	for no := 1; text != ""; no++ {
		line := text
		if i := strings.IndexByte(text, '\n'); i >= 0 {
			line, text = text[:i], text[i+1:]
		} else {
			text = ""
		}
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		req.Lines = append(req.Lines, FlowLine{No: no, Text: line})
	}
	// "del-flows BR" with no flow selects every flow: an empty delete body
	// is one flow mod with an empty match.
	if len(req.Lines) == 0 && len(strings.TrimSpace(body)) == 0 &&
		(command == FlowCmdDelete || command == FlowCmdDeleteStrict) {
		req.Lines = append(req.Lines, FlowLine{No: 1})
	}
	return req, nil
}

// DecodeDumpFlowsRequest decodes the query of GET /v1/bridges/{br}/flows.
func DecodeDumpFlowsRequest(q map[string][]string) (DumpFlowsRequest, error) {
	get := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	var req DumpFlowsRequest
	var err error
	req.Filter = get("filter")
	req.Sort, req.RSort = get("sort"), get("rsort")
	if req.NoStats, err = parseBool("no_stats", get("no_stats")); err != nil {
		return DumpFlowsRequest{}, err
	}
	if req.Names, err = parseBool("names", get("names")); err != nil {
		return DumpFlowsRequest{}, err
	}
	if req.Reply, err = parseBool("reply", get("reply")); err != nil {
		return DumpFlowsRequest{}, err
	}
	switch f := get("format"); f {
	case "", DumpText:
		req.Format = DumpText
	case DumpFlowMod:
		req.Format = f
	default:
		return DumpFlowsRequest{}, BadRequest("unknown dump format %q", f)
	}
	if v := get("version"); v != "" {
		n, err := strconv.ParseUint(v, 0, 8)
		if err != nil || (n != 1 && n != 4) {
			return DumpFlowsRequest{}, BadRequest("unsupported OpenFlow version %q", v)
		}
		req.Version = uint8(n)
	}
	if req.Sort != "" && req.RSort != "" {
		return DumpFlowsRequest{}, BadRequest("sort and rsort are exclusive")
	}
	return req, nil
}

func parseBool(name, v string) (bool, error) {
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, BadRequest("%s: invalid boolean %q", name, v)
	}
	return b, nil
}

// Server serves the API on a unix socket.
type Server struct {
	http *http.Server
	ln   net.Listener
	path string
}

// Listen creates the unix socket at path (removing a stale one left by a
// daemon that died; a live daemon still answering there is an error) and
// returns a server ready to Serve.
func Listen(path string, h http.Handler, log *slog.Logger) (*Server, error) {
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return nil, fmt.Errorf("api: a daemon is already listening on %s", path)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("api: removing stale socket: %w", err)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("api: %w", err)
	}
	// Only root (or the owner) may drive the switch, as with OVS's db.sock.
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("api: %w", err)
	}
	if log == nil {
		log = slog.Default()
	}
	hs := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	return &Server{http: hs, ln: ln, path: path}, nil
}

// Serve answers requests until Shutdown; it returns nil after a clean
// shutdown.
func (s *Server) Serve() error {
	if err := s.http.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("api: %w", err)
	}
	return nil
}

// Shutdown stops accepting requests, waits for those in flight (up to
// ctx's deadline) and removes the socket.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.http.Shutdown(ctx)
	if rerr := os.Remove(s.path); rerr != nil && !errors.Is(rerr, os.ErrNotExist) && err == nil {
		err = rerr
	}
	return err
}

// Path returns the socket path.
func (s *Server) Path() string { return s.path }
