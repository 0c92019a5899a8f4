package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"tapestry/api"
	"tapestry/daemon"
)

func newDaemonCmd() *cobra.Command {
	var stateDir, runDir, logLevel, logFormat string
	cmd := &cobra.Command{
		Use:   "daemon",
		Short: "Run the tapestry daemon (store, bridges, API socket)",
		Long: "daemon restores every bridge, port and flow from the store under the state dir\n" +
			"and serves the API on <run-dir>/tapestry.sock until SIGTERM or SIGINT.\n\n" +
			"Environment: TAPESTRY_STATEDIR and TAPESTRY_RUNDIR set the defaults of\n" +
			"--state-dir and --run-dir.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := newLogger(logLevel, logFormat)
			if err != nil {
				return err
			}
			return runDaemon(stateDir, runDir, log)
		},
	}
	f := cmd.Flags()
	f.StringVar(&stateDir, "state-dir", daemon.DefaultStateDir(), "directory of the store (desired state)")
	f.StringVar(&runDir, "run-dir", api.DefaultRunDir(), "directory of the API socket")
	f.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	f.StringVar(&logFormat, "log-format", "text", "text or json")
	return cmd
}

func newLogger(level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch strings.ToLower(format) {
	case "text":
		return slog.New(slog.NewTextHandler(os.Stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, opts)), nil
	}
	return nil, fmt.Errorf("--log-format: unknown format %q (text or json)", format)
}

// runDaemon runs until SIGTERM or SIGINT, then shuts down cleanly: the
// socket is removed, links closed, the store closed. The store is already
// up to date at every moment, so a kill -9 loses nothing either.
func runDaemon(stateDir, runDir string, log *slog.Logger) error {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)

	d, err := daemon.New(daemon.Config{StateDir: stateDir, RunDir: runDir, Logger: log, Version: version})
	if err != nil {
		return err
	}
	if err := d.Serve(); err != nil {
		d.Close()
		return err
	}
	sig := <-sigs
	log.Info("shutting down", "signal", sig.String())
	return d.Close()
}

// startInProcessDaemon runs a daemon inside this process with its own
// state and run dirs, every port on an in-memory wire (no kernel device,
// no privileges), logging to logw. tapestry demo uses it; this file is the
// one place the binary may start a daemon.
func startInProcessDaemon(stateDir, runDir string, logw io.Writer) (stop func() error, err error) {
	d, err := daemon.New(daemon.Config{
		StateDir: stateDir,
		RunDir:   runDir,
		Devices:  &daemon.MemDevices{},
		Logger:   slog.New(slog.NewTextHandler(logw, nil)),
		Version:  version,
	})
	if err != nil {
		return nil, err
	}
	if err := d.Serve(); err != nil {
		d.Close()
		return nil, err
	}
	return d.Close, nil
}
