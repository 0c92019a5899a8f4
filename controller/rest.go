package controller

import (
	"context"
	"crypto/subtle"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"tapestry/ofctl"
	"tapestry/openflow"
)

// The REST northbound API. Every route is listed in routes (which the
// mux is built from) and in openapi.json (served at /openapi.json); a test
// keeps the two equal. Reads are open; anything that changes state needs
// "Authorization: Bearer <token>" (RFC 6750 §2.1), 401 otherwise. Errors
// are JSON objects {"error": "..."}.

//go:embed openapi.json
var openAPI []byte

// restTimeout bounds a request that waits on a switch.
const restTimeout = 5 * time.Second

// maxBody bounds request bodies.
const maxBody = 1 << 20

type route struct {
	method, pattern string
	mutating        bool
	h               func(c *Controller, w http.ResponseWriter, r *http.Request) error
}

var routes = []route{
	{"GET", "/openapi.json", false, getOpenAPI},
	{"GET", "/switches", false, getSwitches},
	{"GET", "/switches/{dpid}/ports", false, getPorts},
	{"GET", "/switches/{dpid}/ports/stats", false, getPortStats},
	{"GET", "/switches/{dpid}/flows", false, getFlows},
	{"POST", "/switches/{dpid}/flows", true, postFlows},
	{"DELETE", "/switches/{dpid}/flows", true, deleteFlows},
	{"GET", "/topology/links", false, getLinks},
	{"GET", "/apps", false, getApps},
	{"POST", "/apps", true, postApps},
	{"DELETE", "/apps/{name}", true, deleteApp},
	{"GET", "/events", false, getEvents},
}

// httpError is an error with a status code.
type httpError struct {
	code int
	err  error
}

func (e *httpError) Error() string { return e.err.Error() }
func (e *httpError) Unwrap() error { return e.err }

func badRequest(format string, args ...any) error {
	return &httpError{http.StatusBadRequest, fmt.Errorf(format, args...)}
}

// Handler returns the REST API.
func (c *Controller) Handler() http.Handler {
	mux := http.NewServeMux()
	for _, rt := range routes {
		mux.HandleFunc(rt.method+" "+rt.pattern, func(w http.ResponseWriter, r *http.Request) {
			if rt.mutating && !c.authorized(r) {
				w.Header().Set("WWW-Authenticate", `Bearer realm="tapestry"`)
				writeError(w, http.StatusUnauthorized, errors.New("missing or wrong bearer token"))
				return
			}
			if err := rt.h(c, w, r); err != nil {
				code := http.StatusInternalServerError
				var he *httpError
				if errors.As(err, &he) {
					code = he.code
				}
				writeError(w, code, err)
			}
		})
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Errorf("no route %s %s", r.Method, r.URL.Path))
	})
	return mux
}

func (c *Controller) authorized(r *http.Request) bool {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && c.opts.Token != "" && subtle.ConstantTimeCompare([]byte(tok), []byte(c.opts.Token)) == 1
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, code int, err error) {
	writeJSON(w, code, map[string]string{"error": err.Error()})
}

func getOpenAPI(_ *Controller, w http.ResponseWriter, _ *http.Request) error {
	w.Header().Set("Content-Type", "application/json")
	_, err := w.Write(openAPI)
	return err
}

// SwitchInfo is a switch in GET /switches.
type SwitchInfo struct {
	DPID      string    `json:"dpid"`
	Version   string    `json:"version"`
	Address   string    `json:"address"`
	Ports     int       `json:"ports"`
	Tables    uint8     `json:"tables"`
	Connected time.Time `json:"connected"`
}

func getSwitches(c *Controller, w http.ResponseWriter, _ *http.Request) error {
	out := []SwitchInfo{}
	for _, s := range c.Switches() {
		v := "OpenFlow13"
		if s.Version == openflow.Version10 {
			v = "OpenFlow10"
		}
		out = append(out, SwitchInfo{DPID: s.String(), Version: v, Address: s.Addr, Ports: len(s.Ports()), Tables: s.Tables, Connected: s.Connected})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (c *Controller) pathSwitch(r *http.Request) (*Switch, error) {
	dpid, err := ParseDPID(r.PathValue("dpid"))
	if err != nil {
		return nil, badRequest("%w", err)
	}
	s, ok := c.Switch(dpid)
	if !ok {
		return nil, &httpError{http.StatusNotFound, fmt.Errorf("no switch with datapath id %s", FormatDPID(dpid))}
	}
	return s, nil
}

// PortInfo is a port in GET /switches/{dpid}/ports.
type PortInfo struct {
	No     uint32 `json:"port_no"`
	Name   string `json:"name"`
	HWAddr string `json:"hw_addr"`
	Config uint32 `json:"config"`
	State  uint32 `json:"state"`
	Speed  uint32 `json:"curr_speed"`
}

func getPorts(c *Controller, w http.ResponseWriter, r *http.Request) error {
	s, err := c.pathSwitch(r)
	if err != nil {
		return err
	}
	out := []PortInfo{}
	for _, p := range s.Ports() {
		h := p.HWAddr
		out = append(out, PortInfo{No: p.No, Name: p.Name, Config: uint32(p.Config), State: uint32(p.State), Speed: p.CurrSpeed,
			HWAddr: fmt.Sprintf("%02x:%02x:%02x:%02x:%02x:%02x", h[0], h[1], h[2], h[3], h[4], h[5])})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func getPortStats(c *Controller, w http.ResponseWriter, r *http.Request) error {
	s, err := c.pathSwitch(r)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(r.Context(), restTimeout)
	defer cancel()
	st, err := s.PortStats(ctx)
	if err != nil {
		return &httpError{http.StatusBadGateway, err}
	}
	type portStats struct {
		No                   uint32 `json:"port_no"`
		RxPackets, TxPackets uint64
		RxBytes, TxBytes     uint64
		RxDropped, TxDropped uint64
		RxErrors, TxErrors   uint64
	}
	out := make([]portStats, 0, len(st))
	for _, p := range st {
		out = append(out, portStats{p.No, p.RxPackets, p.TxPackets, p.RxBytes, p.TxBytes, p.RxDropped, p.TxDropped, p.RxErrors, p.TxErrors})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// FlowInfo is a flow in GET /switches/{dpid}/flows: the dump-flows line
// and the numbers.
type FlowInfo struct {
	Flow     string `json:"flow"`
	Table    uint8  `json:"table"`
	Priority uint16 `json:"priority"`
	Cookie   string `json:"cookie"`
	Packets  uint64 `json:"n_packets"`
	Bytes    uint64 `json:"n_bytes"`
}

func getFlows(c *Controller, w http.ResponseWriter, r *http.Request) error {
	s, err := c.pathSwitch(r)
	if err != nil {
		return err
	}
	req, err := FlowFilter(r.URL.Query().Get("table"), r.URL.Query().Get("cookie"), r.URL.Query().Get("match"))
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(r.Context(), restTimeout)
	defer cancel()
	flows, err := s.FlowStats(ctx, req)
	if err != nil {
		return &httpError{http.StatusBadGateway, err}
	}
	out := make([]FlowInfo, 0, len(flows))
	for i := range flows {
		f := &flows[i]
		out = append(out, FlowInfo{Flow: ofctl.FormatFlowStats(f, ofctl.FormatOptions{}), Table: f.Table, Priority: f.Priority,
			Cookie: "0x" + strconv.FormatUint(f.Cookie, 16), Packets: f.Packets, Bytes: f.Bytes})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// FlowFilter builds a flow-stats request from the query parameters
// table (number), cookie (V or V/MASK) and match (ovs-ofctl match text).
func FlowFilter(table, cookie, match string) (openflow.FlowStatsRequest, error) {
	req := AllFlows()
	if table != "" {
		t, err := strconv.ParseUint(table, 0, 8)
		if err != nil {
			return req, badRequest("bad table %q: want 0-255", table)
		}
		req.Table = uint8(t)
	}
	if cookie != "" {
		v, m, err := parseCookie(cookie)
		if err != nil {
			return req, err
		}
		req.Cookie, req.CookieMask = v, m
	}
	if match != "" {
		fm, err := parseFlowMod(match, openflow.FlowDelete)
		if err != nil {
			return req, badRequest("bad match: %w", err)
		}
		req.Match = fm.Match
	}
	return req, nil
}

func parseCookie(s string) (v, mask uint64, err error) {
	vs, ms, hasMask := strings.Cut(s, "/")
	if v, err = strconv.ParseUint(vs, 0, 64); err != nil {
		return 0, 0, badRequest("bad cookie %q", vs)
	}
	mask = ^uint64(0)
	if hasMask {
		if mask, err = strconv.ParseUint(ms, 0, 64); err != nil {
			return 0, 0, badRequest("bad cookie mask %q", ms)
		}
	}
	return v & mask, mask, nil
}

// Routes lists the REST operations as "METHOD /pattern".
func Routes() []string {
	out := make([]string, len(routes))
	for i, r := range routes {
		out[i] = r.method + " " + r.pattern
	}
	return out
}
