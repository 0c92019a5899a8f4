package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// conntrack -E: the events of a namespace's connection tracking table,
// streamed as they happen.
//
//	POST /v1/netns/{ns}/conntrack-events  ExecRequest -> PingLine stream (NDJSON)
//
// The request carries conntrack's words (-E and its filters). Each event
// comes as a PingLine with the line conntrack -E prints; warnings (lost
// events) come with Stderr set. The stream runs until the client cancels
// the request: conntrack -E ends only on a signal, and its summary line
// counts what the client printed, so the client writes it. A Done line
// comes only when the words are wrong (status 2, the message first on
// Stderr) or the daemon shuts down (status 0). The other conntrack
// commands (-L, -D, -F, -C, -S) go through the netfilter request.

func (s *server) postConntrackEvents(w http.ResponseWriter, r *http.Request) {
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
		_ = enc.Encode(l) // a client gone away is noticed through the request context
		if flusher != nil {
			flusher.Flush()
		}
	}
	if err := s.b.ConntrackEvents(r.Context(), r.PathValue("ns"), req, emit); err != nil {
		if started {
			s.log.Error("conntrack events failed mid-stream", "netns", r.PathValue("ns"), "err", err)
			return
		}
		s.fail(w, r, err)
	}
}

// ConntrackEvents runs conntrack -E with args in namespace ns, calling
// line for every line as it arrives, until ctx is cancelled (then it
// returns ctx's error) or the stream ends with a status.
func (c *Client) ConntrackEvents(ctx context.Context, ns string, args []string, line func(PingLine)) (int, error) {
	b, err := json.Marshal(ExecRequest{Args: args})
	if err != nil {
		return 0, fmt.Errorf("api: %w", err)
	}
	// The reply begins with the first event: until then the request
	// waits here, and a cancel ends the wait.
	resp, err := c.do(ctx, http.MethodPost, netnsPath(ns, "conntrack-events"), nil, bytes.NewReader(b), "application/json")
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
				return 0, fmt.Errorf("api: conntrack event stream ended without a status")
			}
			return 0, fmt.Errorf("api: reading conntrack events: %w", err)
		}
		if l.Done {
			return l.ExitCode, nil
		}
		line(l)
	}
}
