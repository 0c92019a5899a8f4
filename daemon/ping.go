package daemon

// ping(8) in a tapestry namespace, streamed line by line.
//
// ping without -c runs until interrupted. The CLI cannot simply drop the
// request on Ctrl-C: ping's statistics come after the interrupt and must
// still reach it. So the CLI names each ping it starts with a private
// first argument pair, "--id ID" (a random token), and on SIGINT or
// SIGTERM sends a second ping request whose arguments are "--stop ID".
// The running ping then ends as iputils does on SIGINT and streams its
// statistics and exit status on the first request, which the CLI is
// still reading. The request's context still counts: a client that goes
// away (killed, or a second Ctrl-C) stops its ping too, and so does the
// daemon's shutdown. iputils has no --id or --stop option, so the words
// cannot be a user's.

import (
	"context"
	"strings"
	"sync"
	"time"

	"tapestry/api"
	"tapestry/netstack"
)

// Private first arguments of a ping request (see the file comment).
const (
	PingIDFlag   = "--id"
	PingStopFlag = "--stop"
)

type pingKey struct {
	d  *Daemon
	id string
}

// runningPings maps a daemon's running pings, by the ID the client gave,
// to the function that stops them. It is package state rather than a
// Daemon field so that it stays in this file; keys carry the daemon.
var runningPings sync.Map // pingKey -> func()

// Ping implements api.Backend. The namespace is looked up under d.mu but
// the ping itself runs without it, so that a long ping does not hold up
// other requests.
func (d *Daemon) Ping(ctx context.Context, name string, req api.ExecRequest, emit func(api.PingLine)) error {
	args := req.Args
	if len(args) == 2 && args[0] == PingStopFlag {
		code := 0
		if stop, ok := runningPings.Load(pingKey{d, args[1]}); ok {
			stop.(func())()
		} else {
			code = 1 // it ended meanwhile
		}
		emit(api.PingLine{Done: true, ExitCode: code})
		return nil
	}
	id := ""
	if len(args) >= 2 && args[0] == PingIDFlag {
		id, args = args[1], args[2:]
	}
	o, err := ParsePing(args)
	if err != nil {
		return api.BadRequest("%s", err.Error())
	}
	d.mu.Lock()
	ns, err := d.nsFor(name)
	d.mu.Unlock()
	if err != nil {
		return err
	}
	if o.Timeout == 0 {
		o.Timeout = 10 * time.Second
	}
	stopCh := make(chan struct{})
	stop := sync.OnceFunc(func() { close(stopCh) })
	o.Stop = stopCh
	if id != "" {
		key := pingKey{d, id}
		runningPings.Store(key, stop)
		defer runningPings.Delete(key)
	}
	finished := make(chan struct{})
	defer close(finished)
	go func() {
		select {
		case <-ctx.Done():
		case <-d.stop:
		case <-finished:
			return
		}
		stop()
	}()
	// Each line goes out as ping prints it (the API flushes every line).
	o.OnLine = func(l string) { emit(api.PingLine{Line: l}) }
	res, err := netstack.Ping(ns, o)
	if err != nil {
		// iputils exits 2 when it cannot send at all.
		emit(api.PingLine{Line: pingErrText(err), Stderr: true})
		emit(api.PingLine{Done: true, ExitCode: 2})
		return nil
	}
	emit(api.PingLine{Done: true, ExitCode: pingExitCode(o, res)})
	return nil
}

// pingExitCode is iputils' status: 1 when no reply came back, or when a
// deadline passed before Count replies did; 0 otherwise.
func pingExitCode(o netstack.PingOptions, r netstack.PingResult) int {
	if r.Received == 0 || o.Deadline > 0 && o.Count > 0 && r.Received < o.Count {
		return 1
	}
	return 0
}

// pingErrText is iputils' "ping: connect: Network is unreachable": the
// errno text after the kernel's words.
func pingErrText(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, "RTNETLINK answers: "); i >= 0 {
		msg = msg[:i] + msg[i+len("RTNETLINK answers: "):]
	}
	return msg
}
