package api

import (
	"context"
	"errors"
	"slices"
	"testing"
)

// fakeEventsEnded receives once per conntrack-events stream the fake
// ended because its request's context did.
var fakeEventsEnded = make(chan struct{}, 4)

func (f *fakeBackend) ConntrackEvents(ctx context.Context, ns string, req ExecRequest, emit func(PingLine)) error {
	switch {
	case ns == "nope":
		return NotFound("Cannot open network namespace \"nope\": No such file or directory")
	case len(req.Args) == 1 && req.Args[0] == "bad":
		emit(PingLine{Line: "usage", Stderr: true})
		emit(PingLine{Done: true, ExitCode: 2})
		return nil
	}
	for _, a := range req.Args {
		emit(PingLine{Line: a})
	}
	<-ctx.Done()
	fakeEventsEnded <- struct{}{}
	return nil
}

func TestConntrackEventsStream(t *testing.T) {
	c := startServer(t, &fakeBackend{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var lines []string
	code, err := c.ConntrackEvents(ctx, "r 1", []string{"a", "b", "c"}, func(l PingLine) {
		lines = append(lines, l.Line)
		if len(lines) == 3 {
			cancel() // the CLI's Ctrl-C
		}
	})
	if !errors.Is(err, context.Canceled) || code != 0 || !slices.Equal(lines, []string{"a", "b", "c"}) {
		t.Errorf("ConntrackEvents = %d, %q, %v; want 0, [a b c], context.Canceled", code, lines, err)
	}
	<-fakeEventsEnded // the server saw the cancel: the backend returned

	lines = nil
	code, err = c.ConntrackEvents(context.Background(), "r", []string{"bad"}, func(l PingLine) {
		if l.Stderr {
			lines = append(lines, l.Line)
		}
	})
	if err != nil || code != 2 || !slices.Equal(lines, []string{"usage"}) {
		t.Errorf("ConntrackEvents(bad) = %d, %q, %v; want 2, [usage]", code, lines, err)
	}
	if _, err := c.ConntrackEvents(context.Background(), "nope", nil, func(PingLine) {}); StatusOf(err) != 404 {
		t.Errorf("ConntrackEvents in a missing netns: err = %v, want a 404", err)
	}
}
