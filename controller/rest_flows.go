package controller

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"tapestry/ofctl"
	"tapestry/openflow"
)

// FlowSpec is one flow in a POST /switches/{dpid}/flows body: either Flow
// (ovs-ofctl add-flow text) or the structured fields, whose Match and
// Actions are ovs-ofctl text too.
type FlowSpec struct {
	Flow        string          `json:"flow,omitempty"`
	Command     string          `json:"command,omitempty"` // add (default), modify, modify_strict
	Table       *uint8          `json:"table,omitempty"`
	Priority    *uint16         `json:"priority,omitempty"`
	Match       string          `json:"match,omitempty"`
	Actions     string          `json:"actions,omitempty"`
	Cookie      json.RawMessage `json:"cookie,omitempty"` // number or "0x..." string
	IdleTimeout uint16          `json:"idle_timeout,omitempty"`
	HardTimeout uint16          `json:"hard_timeout,omitempty"`
}

// flowBody is the object form of the body: one flow, or "flows": a list.
type flowBody struct {
	FlowSpec
	Flows []json.RawMessage `json:"flows,omitempty"`
}

// DecodeFlowRequest reads a POST /switches/{dpid}/flows body: an object
// {"flow": "..."} or a structured flow, an object {"flows": [...]}, or a
// list; list elements are objects or flow-text strings.
func DecodeFlowRequest(body []byte) ([]openflow.FlowMod, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil, badRequest("empty body: want a JSON object like {\"flow\": \"priority=10,ip,actions=drop\"}")
	}
	var elems []json.RawMessage
	if body[0] == '[' {
		if err := strictJSON(body, &elems); err != nil {
			return nil, err
		}
	} else {
		var b flowBody
		if err := strictJSON(body, &b); err != nil {
			return nil, err
		}
		if b.Flows == nil {
			fm, err := b.FlowSpec.flowMod()
			if err != nil {
				return nil, err
			}
			return []openflow.FlowMod{fm}, nil
		}
		if !b.FlowSpec.empty() {
			return nil, badRequest("give either \"flows\" or one flow, not both")
		}
		elems = b.Flows
	}
	if len(elems) == 0 {
		return nil, badRequest("no flows given")
	}
	out := make([]openflow.FlowMod, 0, len(elems))
	for i, e := range elems {
		var spec FlowSpec
		if t := bytes.TrimSpace(e); len(t) > 0 && t[0] == '"' {
			if err := json.Unmarshal(t, &spec.Flow); err != nil {
				return nil, badRequest("flow %d: %w", i, err)
			}
		} else if err := strictJSON(e, &spec); err != nil {
			return nil, fmt.Errorf("flow %d: %w", i, err)
		}
		fm, err := spec.flowMod()
		if err != nil {
			return nil, fmt.Errorf("flow %d: %w", i, err)
		}
		out = append(out, fm)
	}
	return out, nil
}

func (f *FlowSpec) empty() bool {
	return f.Flow == "" && f.Command == "" && f.Table == nil && f.Priority == nil && f.Match == "" &&
		f.Actions == "" && f.Cookie == nil && f.IdleTimeout == 0 && f.HardTimeout == 0
}

// strictJSON decodes one JSON value, refusing unknown fields and trailing
// data, with errors that say where the problem is.
func strictJSON(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			return badRequest("malformed JSON at byte %d: %v", se.Offset, err)
		case errors.As(err, &te):
			return badRequest("field %q: want %v, got JSON %s", te.Field, te.Type, te.Value)
		case errors.Is(err, io.ErrUnexpectedEOF):
			return badRequest("malformed JSON: unexpected end of input")
		}
		return badRequest("malformed JSON: %v", err)
	}
	if d.More() {
		return badRequest("malformed JSON: data after the value")
	}
	return nil
}

var flowCommands = map[string]openflow.FlowModCommand{
	"": openflow.FlowAdd, "add": openflow.FlowAdd, "modify": openflow.FlowModify, "modify_strict": openflow.FlowModifyStrict,
}

// flowMod turns a spec into a flow mod through ovs-ofctl syntax, so that
// text and structured flows mean exactly the same.
func (f *FlowSpec) flowMod() (openflow.FlowMod, error) {
	cmd, ok := flowCommands[f.Command]
	if !ok {
		return openflow.FlowMod{}, badRequest("unknown command %q (want add, modify or modify_strict)", f.Command)
	}
	text := f.Flow
	if text == "" {
		if f.Actions == "" {
			return openflow.FlowMod{}, badRequest("flow needs \"flow\" text or \"actions\"")
		}
		var parts []string
		if f.Table != nil {
			parts = append(parts, "table="+strconv.Itoa(int(*f.Table)))
		}
		if f.Priority != nil {
			parts = append(parts, "priority="+strconv.Itoa(int(*f.Priority)))
		}
		if f.Cookie != nil {
			c, err := cookieJSON(f.Cookie)
			if err != nil {
				return openflow.FlowMod{}, err
			}
			parts = append(parts, "cookie="+c)
		}
		if f.IdleTimeout != 0 {
			parts = append(parts, "idle_timeout="+strconv.Itoa(int(f.IdleTimeout)))
		}
		if f.HardTimeout != 0 {
			parts = append(parts, "hard_timeout="+strconv.Itoa(int(f.HardTimeout)))
		}
		if f.Match != "" {
			parts = append(parts, f.Match)
		}
		text = strings.Join(append(parts, "actions="+f.Actions), ",")
	} else if f.Match != "" || f.Actions != "" || f.Table != nil || f.Priority != nil {
		return openflow.FlowMod{}, badRequest("give either \"flow\" text or structured fields, not both")
	}
	fm, err := parseFlowMod(text, cmd)
	if err != nil {
		return fm, badRequest("bad flow %q: %w", text, err)
	}
	return fm, nil
}

func cookieJSON(raw json.RawMessage) (string, error) {
	var n uint64
	if json.Unmarshal(raw, &n) == nil {
		return "0x" + strconv.FormatUint(n, 16), nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if _, err := strconv.ParseUint(s, 0, 64); err == nil {
			return s, nil
		}
	}
	return "", badRequest("bad cookie %s: want a number or a \"0x...\" string", raw)
}

// FlowModsSync sends fms and a barrier, and returns the first error the
// switch answered any of them with. Replies on a connection come in
// order (OpenFlow 1.3 §6.2), so every error precedes the barrier reply.
func (s *Switch) FlowModsSync(ctx context.Context, fms []openflow.FlowMod) error {
	reqs := make([]*request, len(fms))
	xids := make([]uint32, len(fms))
	s.pmu.Lock()
	for i := range fms {
		xids[i] = s.xid.Add(1)
		reqs[i] = &request{done: make(chan error, 1)}
		s.pending[xids[i]] = reqs[i]
	}
	s.pmu.Unlock()
	defer func() {
		s.pmu.Lock()
		for _, x := range xids {
			delete(s.pending, x)
		}
		s.pmu.Unlock()
	}()
	for i := range fms {
		if err := s.sendXID(&fms[i], xids[i]); err != nil {
			return err
		}
	}
	if err := s.Barrier(ctx); err != nil {
		return err
	}
	for i, r := range reqs {
		select {
		case err := <-r.done:
			if err != nil {
				return fmt.Errorf("flow %d: %w", i, err)
			}
		default:
		}
	}
	return nil
}

func postFlows(c *Controller, w http.ResponseWriter, r *http.Request) error {
	s, err := c.pathSwitch(r)
	if err != nil {
		return err
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		return badRequest("reading body: %w", err)
	}
	fms, err := DecodeFlowRequest(body)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(r.Context(), restTimeout)
	defer cancel()
	if err := s.FlowModsSync(ctx, fms); err != nil {
		return &httpError{http.StatusConflict, err}
	}
	writeJSON(w, http.StatusCreated, map[string]int{"flows": len(fms)})
	return nil
}

func deleteFlows(c *Controller, w http.ResponseWriter, r *http.Request) error {
	s, err := c.pathSwitch(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	fm, err := DeleteRequest(q.Get("match"), q.Get("cookie"), q.Get("table"), q.Get("strict") == "true")
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(r.Context(), restTimeout)
	defer cancel()
	if err := s.FlowModsSync(ctx, []openflow.FlowMod{fm}); err != nil {
		return &httpError{http.StatusConflict, err}
	}
	writeJSON(w, http.StatusOK, map[string]string{"deleted": ofctl.FormatFlowMod(&fm, nil)})
	return nil
}

// DeleteRequest builds the flow mod of DELETE /switches/{dpid}/flows:
// match is ovs-ofctl del-flows text ("" for every flow), cookie V/MASK
// selects by cookie, table limits to one table.
func DeleteRequest(match, cookie, table string, strict bool) (openflow.FlowMod, error) {
	cmd := openflow.FlowDelete
	if strict {
		cmd = openflow.FlowDeleteStrict
	}
	fm, err := parseFlowMod(match, cmd)
	if err != nil {
		return fm, badRequest("bad match %q: %w", match, err)
	}
	if cookie != "" {
		if fm.Cookie, fm.CookieMask, err = parseCookie(cookie); err != nil {
			return fm, err
		}
	}
	if table != "" {
		t, err := strconv.ParseUint(table, 0, 8)
		if err != nil {
			return fm, badRequest("bad table %q: want 0-255", table)
		}
		fm.Table = uint8(t)
	}
	return fm, nil
}

func getLinks(c *Controller, w http.ResponseWriter, _ *http.Request) error {
	links := []Link{}
	if a, ok := c.App("topology"); ok {
		if t, ok := a.(*Topology); ok {
			links = t.Links()
		}
	}
	writeJSON(w, http.StatusOK, links)
	return nil
}

func getApps(c *Controller, w http.ResponseWriter, _ *http.Request) error {
	writeJSON(w, http.StatusOK, c.Apps())
	return nil
}

// AppRequest is the body of POST /apps.
type AppRequest struct {
	Name string `json:"name,omitempty"`
	Path string `json:"path,omitempty"`
}

func postApps(c *Controller, w http.ResponseWriter, r *http.Request) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		return badRequest("reading body: %w", err)
	}
	var req AppRequest
	if err := strictJSON(body, &req); err != nil {
		return err
	}
	if (req.Name == "") == (req.Path == "") {
		return badRequest("give exactly one of \"name\" (built-in app) or \"path\" (app file)")
	}
	name, err := c.LoadApp(req.Name + req.Path)
	if err != nil {
		return &httpError{http.StatusUnprocessableEntity, err}
	}
	writeJSON(w, http.StatusCreated, map[string]string{"name": name})
	return nil
}

func deleteApp(c *Controller, w http.ResponseWriter, r *http.Request) error {
	if err := c.UnloadApp(r.PathValue("name")); err != nil {
		return &httpError{http.StatusNotFound, err}
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// getEvents streams notices as server-sent events (WHATWG HTML §9.2):
// switch up/down, port status, app disabled, and once a second the number
// of packet-ins since the last summary.
func getEvents(c *Controller, w http.ResponseWriter, r *http.Request) error {
	fl, ok := w.(http.Flusher)
	if !ok {
		return errors.New("streaming not supported")
	}
	ch := c.events.subscribe()
	defer c.events.unsubscribe(ch)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	fl.Flush()
	tk := time.NewTicker(time.Second)
	defer tk.Stop()
	last := c.events.packetIns.Load()
	for {
		var n Notice
		select {
		case <-r.Context().Done():
			return nil
		case n = <-ch:
		case <-tk.C:
			cur := c.events.packetIns.Load()
			if cur == last {
				continue
			}
			n = Notice{Kind: "packet_in", PacketIns: cur - last, Time: time.Now().UTC().Format(time.RFC3339Nano)}
			last = cur
		}
		b, _ := json.Marshal(n)
		if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", n.Kind, b); err != nil {
			return nil
		}
		fl.Flush()
	}
}
