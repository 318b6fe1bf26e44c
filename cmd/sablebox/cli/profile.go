package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sablebox/sablebox/pkg/seccomp"
)

func newProfileCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "profile",
		Short: "Show the seccomp profiles sablebox applies",
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "show [default]",
		Short: "Print a seccomp profile in Docker's JSON format",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			if len(args) == 1 && args[0] != seccomp.DefaultName {
				return fmt.Errorf("unknown profile %q: the built-in profile is %q", args[0], seccomp.DefaultName)
			}
			data, err := seccomp.Default().Marshal()
			if err != nil {
				return err
			}
			_, err = a.streams.Out.Write(data)
			return err
		},
	})
	return cmd
}
