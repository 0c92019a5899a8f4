// Command tapestry is the whole virtual network in one binary: the daemon
// and the command-line personalities that drive it.
//
//	tapestry daemon                 run the switch (store, bridges, API socket)
//	tapestry vsctl ARGS...          ovs-vsctl(8), against the daemon
//	tapestry ofctl ARGS...          ovs-ofctl(8), against the daemon
//	tapestry ip [-n NS] ARGS...     ip(8) for tapestry namespaces (docs/netns.md)
//	tapestry netns add|del|list     ip netns for tapestry namespaces
//	tapestry demo                   the seed ping experiment, without root
//	tapestry install-links DIR      ovs-vsctl, ovs-ofctl -> tapestry symlinks in DIR
//	tapestry version
//
// Invoked through a link named ovs-vsctl or ovs-ofctl, tapestry behaves as
// that tool. The CLI talks to the daemon only through package api.
package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

// personalities maps a program name to the tool it impersonates.
var personalities = map[string]func(args []string, stdout, stderr io.Writer) int{
	"ovs-vsctl": runVsctl,
	"ovs-ofctl": runOfctl,
}

func main() {
	if run, ok := personalities[filepath.Base(os.Args[0])]; ok {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(runTapestry(os.Args[1:], os.Stdout, os.Stderr))
}

// exitError carries a subcommand's exit status through cobra.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// runTapestry runs the top-level command and returns the exit status.
func runTapestry(args []string, stdout, stderr io.Writer) int {
	root := newRootCmd(stdout, stderr)
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return 0
	}
	if e, ok := err.(exitError); ok {
		return e.code
	}
	fmt.Fprintf(stderr, "tapestry: %v\n", err)
	return 1
}

func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "tapestry",
		Short:         "A virtual network in one binary: OpenFlow switches in userspace",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(
		newDaemonCmd(),
		passthroughCmd("vsctl", "Configure bridges and ports, as ovs-vsctl(8)", runVsctl),
		passthroughCmd("ofctl", "Manage flows and ports of a bridge, as ovs-ofctl(8)", runOfctl),
		passthroughCmd("ip", "Configure tapestry namespaces (hosts, routers), as ip(8)", runIP),
		passthroughCmd("netns", "Add, delete and list tapestry namespaces, as ip netns", func(args []string, stdout, stderr io.Writer) int {
			return runIP(append([]string{"netns"}, args...), stdout, stderr)
		}),
		newDemoCmd(),
		newInstallLinksCmd(),
		newVersionCmd(),
		newControllerCmd(),
		newLuaCmd(),
		newCloudCmd(),
	)
	return root
}

// passthroughCmd wraps a personality that parses its own arguments exactly
// as the real tool does.
func passthroughCmd(name, short string, run func([]string, io.Writer, io.Writer) int) *cobra.Command {
	return &cobra.Command{
		Use:                name + " [ARGS...]",
		Short:              short,
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if code := run(args, cmd.OutOrStdout(), cmd.ErrOrStderr()); code != 0 {
				return exitError{code}
			}
			return nil
		},
	}
}
