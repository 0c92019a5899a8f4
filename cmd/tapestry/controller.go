package main

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"tapestry/controller"
	"tapestry/lua"
)

// newControllerCmd runs tapestry's SDN controller in the foreground: the
// controller is its own process, like ryu-manager or osken-manager, not a
// part of the daemon.
func newControllerCmd() *cobra.Command {
	var opts controller.Options
	var keyFile string
	var trusted []string
	cmd := &cobra.Command{
		Use:   "controller [--listen tcp:IP:PORT] [--api IP:PORT] [--app NAME|FILE ...]",
		Short: "Run the OpenFlow controller with its REST API and apps",
		Long: `Run the OpenFlow controller. Built-in apps: l2-learning, static (--static FILE),
topology. Lua apps are files (.lua, or .tlua sealed with 'tapestry lua seal'); sealed apps
need --key-file or TAPESTRY_LUA_KEY, and with --trust only apps signed by a trusted key load.
State-changing REST calls need the bearer token (--token, TAPESTRY_TOKEN, or a generated one
written to the log).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.Token == "" {
				opts.Token = os.Getenv("TAPESTRY_TOKEN")
			}
			cfg, err := luaConfig(keyFile, trusted)
			if err != nil {
				return err
			}
			opts.LoadFile = lua.Loader(cfg)
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			return controller.Run(ctx, opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Listen, "listen", "tcp:127.0.0.1:6653", "OpenFlow listener")
	f.StringVar(&opts.REST, "api", "127.0.0.1:8080", "REST listener (empty for none)")
	f.StringVar(&opts.Token, "token", "", "bearer token for REST calls that change state")
	f.StringArrayVar(&opts.Apps, "app", nil, "app to run: a built-in name or a .lua/.tlua file (repeatable)")
	f.StringVar(&opts.StaticFile, "static", "", "YAML flows for the static app")
	f.StringVar(&keyFile, "key-file", "", "key for sealed .tlua apps (default: $TAPESTRY_LUA_KEY)")
	f.StringArrayVar(&trusted, "trust", nil, "Ed25519 public key file; sealed apps must be signed by one of these (repeatable)")
	return cmd
}

// luaConfig loads the sealing key (from the file, or TAPESTRY_LUA_KEY when
// the path is empty) and the trusted signing keys. A missing key is not an
// error here: only sealed apps need one, and they say so when they load.
func luaConfig(keyFile string, trusted []string) (lua.Config, error) {
	var cfg lua.Config
	if keyFile != "" || os.Getenv("TAPESTRY_LUA_KEY") != "" {
		k, err := lua.LoadKey(keyFile)
		if err != nil {
			return cfg, err
		}
		cfg.Key = k
	}
	for _, path := range trusted {
		b, err := os.ReadFile(path)
		if err != nil {
			return cfg, err
		}
		k, err := lua.ParseKey(b)
		if err != nil || len(k) != ed25519.PublicKeySize {
			return cfg, fmt.Errorf("%s: not an Ed25519 public key (32 bytes, hex or base64)", path)
		}
		cfg.Trusted = append(cfg.Trusted, ed25519.PublicKey(k))
	}
	return cfg, nil
}
