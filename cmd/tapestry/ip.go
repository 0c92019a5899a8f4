package main

// tapestry ip: ip(8) for the namespaces inside the daemon.
//
//	tapestry ip [-n NETNS] OBJECT COMMAND...   link, addr, route, rule, neigh
//	tapestry ip netns add|del|list NAME
//	tapestry ip netns exec NETNS ip|ping|sysctl ARGS...
//	tapestry netns add|del|list NAME           the same as ip netns
//
// The words go to the daemon, which parses them with iproute2's syntax and
// answers with iproute2's text; an error is printed as the daemon words it
// ("RTNETLINK answers: File exists") and exits 2, as ip does.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"tapestry/api"
)

// The private first arguments of a ping request (daemon/ping.go): the
// ping's ID, and the request that stops the ping of that ID.
const (
	pingIDFlag   = "--id"
	pingStopFlag = "--stop"
)

// ipInvocation is a parsed ip command line: the namespace of -n and the
// words from the object on.
type ipInvocation struct {
	netns string
	args  []string
}

// parseIP reads ip's global options. Options that only change iproute2's
// output details (-4, -s, -d, -o...) are accepted only where tapestry
// prints the same thing with or without them.
func parseIP(args []string) (ipInvocation, error) {
	var inv ipInvocation
	i := 0
	for ; i < len(args) && len(args[i]) > 1 && args[i][0] == '-'; i++ {
		switch args[i] {
		case "-n", "-netns", "--netns":
			if i+1 >= len(args) {
				//lint:ignore ST1005 iproute2 prints this text
				return inv, fmt.Errorf("Option \"%s\" requires an argument", args[i])
			}
			i++
			inv.netns = args[i]
		case "-4", "-family=inet":
		case "--":
			i++
			return ipInvocation{netns: inv.netns, args: args[i:]}, nil
		default:
			//lint:ignore ST1005 iproute2 prints this text
			return inv, fmt.Errorf("Option \"%s\" is unknown, try \"ip -help\".", args[i])
		}
	}
	inv.args = args[i:]
	if len(inv.args) == 0 {
		//lint:ignore ST1005 iproute2 prints this text
		return inv, errors.New("Usage: ip [ OPTIONS ] OBJECT { COMMAND | help }")
	}
	return inv, nil
}

func ipClient() *api.Client { return api.NewClient(api.SocketPath(api.DefaultRunDir())) }

// runIP runs `tapestry ip ARGS...` and returns ip's exit status.
func runIP(args []string, stdout, stderr io.Writer) int {
	inv, err := parseIP(args)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 255
	}
	return runIPInvocation(inv, stdout, stderr)
}

func runIPInvocation(inv ipInvocation, stdout, stderr io.Writer) int {
	if isNetnsExec(inv.args) {
		return runNetnsExec(inv.args[2:], stdout, stderr)
	}
	res, err := ipClient().IP(context.Background(), api.IPRequest{Netns: inv.netns, Args: inv.args})
	if err != nil {
		fmt.Fprintln(stderr, err)
		var ae *api.Error
		switch {
		case !errors.As(err, &ae):
			return 1 // the daemon is not there
		case isNetnsObject(inv.args[0]):
			return 1 // ip netns add/del fail with 1
		}
		return api.IPExitCode
	}
	io.WriteString(stdout, res.Output)
	return res.ExitCode
}

// isNetnsObject reports whether w abbreviates "netns" (iproute2 matches
// "net" and longer).
func isNetnsObject(w string) bool {
	return len(w) >= 3 && len(w) <= 5 && "netns"[:len(w)] == w
}

func isNetnsExec(args []string) bool {
	return len(args) >= 2 && isNetnsObject(args[0]) && (args[1] == "exec" || args[1] == "e")
}

// runNetnsExec is `ip netns exec NETNS CMD ARGS...` for the tools a tapestry
// namespace runs: ip, ping, sysctl and the netfilter tools (iptables.go).
func runNetnsExec(args []string, stdout, stderr io.Writer) int {
	if len(args) < 1 {
		fmt.Fprintln(stderr, "No netns name specified")
		return 255
	}
	if len(args) < 2 {
		fmt.Fprintln(stderr, "No command specified")
		return 255
	}
	ns, cmd, rest := args[0], args[1], args[2:]
	switch cmd {
	case "ip":
		inv, err := parseIP(rest)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 255
		}
		if inv.netns == "" {
			inv.netns = ns
		}
		return runIPInvocation(inv, stdout, stderr)
	case "ping":
		return runPing(ns, rest, stdout, stderr)
	case "sysctl":
		return runSysctl(ns, rest, stdout, stderr)
	}
	if netfilterTools[cmd] {
		return runNetfilterTool(ns, cmd, rest, stdout, stderr)
	}
	fmt.Fprintf(stderr, "exec of \"%s\" failed: No such file or directory (a tapestry namespace runs ip, ping, sysctl, iptables, iptables-save, iptables-restore and conntrack)\n", cmd)
	return 255
}

// runPing prints ping's lines as the daemon streams them and returns
// ping's status: 0 when a reply came back, 1 when none did, 2 on error.
// SIGINT or SIGTERM ends the ping as it ends iputils ping: the CLI asks
// the daemon to stop this ping (a second request naming the ID this one
// was started with; see daemon/ping.go) and keeps reading the first
// stream for the statistics. A second signal gives up on them.
func runPing(ns string, args []string, stdout, stderr io.Writer) int {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	return pingUntil(ipClient(), ns, args, sigs, stdout, stderr)
}

// pingUntil runs the ping, stopping it when sigs delivers.
func pingUntil(c *api.Client, ns string, args []string, sigs <-chan os.Signal, stdout, stderr io.Writer) int {
	var idb [12]byte
	_, _ = rand.Read(idb[:]) // crypto/rand.Read does not fail
	id := hex.EncodeToString(idb[:])
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-sigs:
		case <-done:
			return
		}
		if _, err := c.Ping(ctx, ns, []string{pingStopFlag, id}, func(api.PingLine) {}); err != nil {
			cancel()
		}
		select {
		case <-sigs:
			cancel()
		case <-done:
		}
	}()
	code, err := c.Ping(ctx, ns, append([]string{pingIDFlag, id}, args...), func(l api.PingLine) {
		w := stdout
		if l.Stderr {
			w = stderr
		}
		fmt.Fprintln(w, l.Line)
	})
	if err != nil {
		if ctx.Err() != nil {
			return 1 // interrupted twice: no statistics
		}
		fmt.Fprintln(stderr, err)
		return 2
	}
	return code
}

// runSysctl runs sysctl(8) in a namespace; procps exits 255 on an unknown
// key or a bad value.
func runSysctl(ns string, args []string, stdout, stderr io.Writer) int {
	res, err := ipClient().Sysctl(context.Background(), ns, args)
	io.WriteString(stdout, res.Output)
	if err != nil {
		fmt.Fprintln(stderr, err)
		var ae *api.Error
		if !errors.As(err, &ae) {
			return 1
		}
		return 255
	}
	return res.ExitCode
}
