package main

// `tapestry ip netns exec NS iptables|iptables-save|iptables-restore|
// conntrack ...`: the netfilter tools of a tapestry namespace. The words
// (and iptables-restore's input) go to the daemon, which answers with
// what the real tool prints and its exit status.

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"tapestry/api"
)

// netfilterStdin is where iptables-restore reads its rules (a variable
// for tests).
var netfilterStdin io.Reader = os.Stdin

// netfilterTools are the tools runNetfilterTool handles.
var netfilterTools = map[string]bool{"iptables": true, "iptables-save": true, "iptables-restore": true, "conntrack": true}

// runNetfilterTool runs tool with args in namespace ns and returns its
// exit status. iptables-restore reads its rules from stdin, or from the
// file named by its last non-option argument as the real tool does.
func runNetfilterTool(ns, tool string, args []string, stdout, stderr io.Writer) int {
	if tool == "conntrack" && isConntrackEvents(args) {
		return runConntrackEvents(ns, args, stdout, stderr) // streams (conntrack_events.go)
	}
	req := api.ToolRequest{Tool: tool, Args: args}
	if tool == "iptables-restore" {
		var in io.Reader = netfilterStdin
		req.Args = nil
		for _, a := range args {
			if strings.HasPrefix(a, "-") {
				req.Args = append(req.Args, a)
				continue
			}
			f, err := os.Open(a)
			if err != nil {
				fmt.Fprintf(stderr, "Can't open %s: %v\n", a, unwrapPathError(err))
				return 1
			}
			defer f.Close()
			in = f
		}
		b, err := io.ReadAll(in)
		if err != nil {
			fmt.Fprintf(stderr, "iptables-restore: reading input: %v\n", err)
			return 1
		}
		req.Stdin = string(b)
	}
	res, err := ipClient().Netfilter(context.Background(), ns, req)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 255
	}
	io.WriteString(stdout, res.Stdout)
	io.WriteString(stderr, res.Stderr)
	return res.ExitCode
}

// unwrapPathError returns the errno text of an *os.PathError.
func unwrapPathError(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}
