package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
)

func newInstallLinksCmd() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "install-links DIR",
		Short: "Create ovs-vsctl and ovs-ofctl symlinks to this binary in DIR",
		Long: "install-links creates DIR/ovs-vsctl and DIR/ovs-ofctl as symbolic links to the\n" +
			"tapestry binary, which then behaves as those tools. It never replaces an existing\n" +
			"file that is not already such a link unless --force is given.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			self, err := os.Executable()
			if err != nil {
				return err
			}
			if self, err = filepath.EvalSymlinks(self); err != nil {
				return err
			}
			for _, name := range []string{"ovs-vsctl", "ovs-ofctl"} {
				if err := installLink(self, filepath.Join(args[0], name), force); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s -> %s\n", filepath.Join(args[0], name), self)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "replace existing files")
	return cmd
}

// installLink makes link point at target. An existing link to target is
// left alone; anything else is kept unless force.
func installLink(target, link string, force bool) error {
	fi, err := os.Lstat(link)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return err
	case fi.Mode()&fs.ModeSymlink != 0:
		if cur, _ := os.Readlink(link); cur == target {
			return nil
		}
		if !force {
			return fmt.Errorf("%s exists and points elsewhere (use --force to replace it)", link)
		}
		if err := os.Remove(link); err != nil {
			return err
		}
	default:
		if !force {
			return fmt.Errorf("%s exists and is not a link to tapestry (use --force to replace it)", link)
		}
		if err := os.Remove(link); err != nil {
			return err
		}
	}
	return os.Symlink(target, link)
}
