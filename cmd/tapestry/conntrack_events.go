package main

// `tapestry ip netns exec NS conntrack -E ...`: the namespace's conntrack
// events, printed as they happen until SIGINT or SIGTERM. Then, as
// conntrack-tools does, the summary "conntrack v1.4.7 (conntrack-tools):
// N flow events have been shown." goes to stderr and the status is 0.
// The CLI counts the events itself (they are the lines it printed) and
// stops the stream by cancelling its request (daemon/conntrack_events.go).

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"tapestry/api"
)

// isConntrackEvents reports whether conntrack's words ask for -E.
func isConntrackEvents(args []string) bool {
	for _, a := range args {
		if a == "-E" || a == "--event" {
			return true
		}
	}
	return false
}

// runConntrackEvents runs conntrack -E in namespace ns.
func runConntrackEvents(ns string, args []string, stdout, stderr io.Writer) int {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	return conntrackEventsUntil(ipClient(), ns, args, sigs, stdout, stderr)
}

// conntrackEventsUntil prints the events until sigs delivers.
func conntrackEventsUntil(c *api.Client, ns string, args []string, sigs <-chan os.Signal, stdout, stderr io.Writer) int {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-sigs:
			cancel()
		case <-ctx.Done():
		}
	}()
	shown := 0
	code, err := c.ConntrackEvents(ctx, ns, args, func(l api.PingLine) {
		if l.Stderr {
			fmt.Fprintln(stderr, l.Line)
			return
		}
		fmt.Fprintln(stdout, l.Line)
		shown++
	})
	switch {
	case errors.Is(err, context.Canceled) && ctx.Err() != nil, err == nil && code == 0:
		fmt.Fprintf(stderr, "conntrack v1.4.7 (conntrack-tools): %d flow events have been shown.\n", shown)
		return 0
	case err != nil:
		fmt.Fprintln(stderr, err)
		return 1
	}
	return code
}
