package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"tapestry/lua"
)

// newLuaCmd seals and opens Lua apps: the source is encrypted so that it
// can ship without being read, and decrypted only in the controller's
// memory right before it is compiled.
func newLuaCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "lua", Short: "Seal, open and make keys for Lua controller apps"}
	cmd.AddCommand(newLuaSealCmd(), newLuaOpenCmd(), newLuaKeygenCmd())
	return cmd
}

func newLuaSealCmd() *cobra.Command {
	var keyFile, signFile, out string
	cmd := &cobra.Command{
		Use:   "seal --key-file K APP.lua -o APP.tlua",
		Short: "Encrypt (and optionally sign) a Lua app; its name is the output file's base name",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return fmt.Errorf("lua seal: -o OUTPUT.tlua is required (the app's name comes from it)")
			}
			key, err := lua.LoadKey(keyFile)
			if err != nil {
				return err
			}
			var signer ed25519.PrivateKey
			if signFile != "" {
				b, err := os.ReadFile(signFile)
				if err != nil {
					return err
				}
				seed, err := lua.ParseKey(b)
				if err != nil || len(seed) != ed25519.SeedSize {
					return fmt.Errorf("%s: not an Ed25519 private key (32-byte seed, hex or base64)", signFile)
				}
				signer = ed25519.NewKeyFromSeed(seed)
			}
			src, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			sealed, err := lua.Seal(src, lua.AppName(out), key, signer)
			if err != nil {
				return err
			}
			return os.WriteFile(out, sealed, 0o644)
		},
	}
	cmd.Flags().StringVar(&keyFile, "key-file", "", "32-byte key, raw, hex or base64 (default: $TAPESTRY_LUA_KEY)")
	cmd.Flags().StringVar(&signFile, "sign-key", "", "Ed25519 private key seed to sign with")
	cmd.Flags().StringVarP(&out, "output", "o", "", "sealed file to write")
	return cmd
}

func newLuaOpenCmd() *cobra.Command {
	var keyFile string
	var trusted []string
	cmd := &cobra.Command{
		Use:   "open --key-file K APP.tlua",
		Short: "Decrypt a sealed app to standard output (checking its signature with --trust)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := luaConfig(keyFile, trusted)
			if err != nil {
				return err
			}
			if cfg.Key == nil {
				return fmt.Errorf("lua open: no key: give --key-file or set TAPESTRY_LUA_KEY")
			}
			b, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			src, err := lua.Open(b, lua.AppName(args[0]), cfg.Key, cfg.Trusted)
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			_, err = cmd.OutOrStdout().Write(src)
			return err
		},
	}
	cmd.Flags().StringVar(&keyFile, "key-file", "", "32-byte key (default: $TAPESTRY_LUA_KEY)")
	cmd.Flags().StringArrayVar(&trusted, "trust", nil, "Ed25519 public key file the app must be signed by")
	return cmd
}

func newLuaKeygenCmd() *cobra.Command {
	var sign bool
	cmd := &cobra.Command{
		Use:   "keygen [--ed25519]",
		Short: "Print a new random sealing key, or with --ed25519 a signing key pair, in hex",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			w := cmd.OutOrStdout()
			if !sign {
				var k [32]byte
				if _, err := rand.Read(k[:]); err != nil {
					return err
				}
				_, err := fmt.Fprintln(w, hex.EncodeToString(k[:]))
				return err
			}
			pub, priv, err := ed25519.GenerateKey(rand.Reader)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(w, "private %s\npublic  %s\n", hex.EncodeToString(priv.Seed()), hex.EncodeToString(pub))
			return err
		},
	}
	cmd.Flags().BoolVar(&sign, "ed25519", false, "make an Ed25519 signing key pair")
	return cmd
}
