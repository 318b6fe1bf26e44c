package cli

import (
	"encoding/json"
	"fmt"
	"sort"

	"github.com/spf13/cobra"

	"github.com/sablebox/sablebox/pkg/runner"
)

func newDoctorCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "doctor",
		Short: "Tell which sandbox backends work here and what each protects",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts, err := a.runnerOptions()
			if err != nil {
				return err
			}
			opts.Runtime = "auto" // describe every backend
			r, err := runner.New(opts)
			if err != nil {
				return err
			}
			defer r.Close()
			report := r.Doctor(cmd.Context())
			out := a.streams.Out
			if a.cfg.JSON {
				return json.NewEncoder(out).Encode(report)
			}
			for _, d := range report {
				if !d.Usable {
					fmt.Fprintf(out, "%-8s not usable: %s\n", d.Name, d.Reason)
					continue
				}
				fmt.Fprintf(out, "%-8s usable\n", d.Name)
				keys := make([]string, 0, len(d.Details))
				for k := range d.Details {
					keys = append(keys, k)
				}
				sort.Strings(keys)
				for _, k := range keys {
					fmt.Fprintf(out, "  %-20s %s\n", k+":", d.Details[k])
				}
				for _, p := range d.Protections {
					fmt.Fprintf(out, "  protects: %s\n", p)
				}
			}
			return nil
		},
	}
}
