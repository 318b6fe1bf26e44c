package cli

import (
	"github.com/spf13/cobra"
)

// newProfileCmd is the old name of `sablebox seccomp show`.
func newProfileCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "profile", Short: "Old name of `sablebox seccomp`", Hidden: true}
	cmd.AddCommand(newSeccompShowCmd(a))
	return cmd
}
