package api

import (
	"context"
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
	s.streamLines(w, r, "conntrack events", s.b.ConntrackEvents)
}

// ConntrackEvents runs conntrack -E with args in namespace ns, calling
// line for every line as it arrives, until ctx is cancelled (then it
// returns ctx's error) or the stream ends with a status. The reply begins
// with the first event: until then the request waits, and a cancel ends
// the wait.
func (c *Client) ConntrackEvents(ctx context.Context, ns string, args []string, line func(PingLine)) (int, error) {
	return c.streamLines(ctx, netnsPath(ns, "conntrack-events"), "conntrack event", args, line)
}
