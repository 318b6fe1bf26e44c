package cli

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sablebox/sablebox/pkg/selftest"
)

func newSelftestCmd(a *app) *cobra.Command {
	var all, asJSON, list, noConfine bool
	var only []string
	cmd := &cobra.Command{
		Use:   "selftest [--runtime R | --all] [--only ID,...] [--json]",
		Short: "Attack the sandbox on this host with a battery of real escapes, and say what held",
		Long: `Run a battery of attacks (resources, file system, network, privilege, the
runner, leaks), each a small payload built into sablebox, through the normal
run path against the backend sablebox would use here (--runtime picks one,
--all takes every usable one, Docker+gVisor too where it is registered), and
judge each from the host wherever the host can see the effect: a file it
tries to write or read on the host, loopback listeners it tries to reach, a
process it tries to leave behind. The static-analysis gate is off for the
battery: it tests the sandbox, which must hold with no gate before it.

As root, the battery runs itself again in a mount namespace and a memory
and pids cgroup of its own (the process sandbox's runs nest in that cgroup),
so that an attack that gets past a weak sandbox can neither cover a host
directory nor exhaust the machine; the report says what it ran in. As
another user it runs with that user's rights only. --no-confine runs it in
this process as it is.

Exit code: 0 when every attack was contained; 1 when one escaped or proved
nothing (ERROR).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if list {
				for _, at := range selftest.Battery {
					fmt.Fprintf(a.streams.Out, "%-22s %-10s %s; contained: %s\n", at.ID, at.Class, at.Tries, at.Contained)
				}
				return nil
			}
			attacks, err := selftest.Select(only)
			if err != nil {
				return err
			}
			confinement := os.Getenv(selftest.ConfinedEnv)
			switch {
			case confinement != "":
			case noConfine:
				confinement = "this process, unconfined (--no-confine)"
			default:
				code, err := selftest.Confine(cmd.Context(), nil, a.streams.Out, a.streams.Err)
				if err == nil {
					if code != 0 {
						return exitError{code}
					}
					return nil
				}
				confinement = "this process, unconfined: " + err.Error()
			}
			opts, err := a.runnerOptions()
			if err != nil {
				return err
			}
			targets, skipped, closeTargets, err := selftest.Targets(cmd.Context(), opts, all)
			if err != nil {
				return err
			}
			defer closeTargets()
			var progress selftest.Progress
			if isTerminal(a.streams.Err) && !asJSON {
				done, total := 0, len(attacks)*len(targets)
				progress = func(o selftest.Outcome) {
					done++
					fmt.Fprintf(a.streams.Err, "\r\x1b[2Kselftest: %d/%d (%s on %s: %s)", done, total, o.Attack, o.Backend, o.Status)
					if done == total {
						fmt.Fprint(a.streams.Err, "\r\x1b[2K")
					}
				}
			}
			outcomes, err := selftest.Run(cmd.Context(), targets, attacks, progress)
			if err != nil {
				return err
			}
			report := selftest.Report{Outcomes: outcomes, Skipped: skipped, Confinement: confinement}
			if asJSON {
				err = report.JSON(a.streams.Out)
			} else {
				err = report.Table(a.streams.Out)
			}
			if err != nil {
				return fmt.Errorf("write the report: %w", err)
			}
			if n := selftest.Escapes(outcomes); n > 0 {
				fmt.Fprintf(a.streams.Err, "sablebox: %d attack(s) not contained: %s\n", n, strings.Join(names(outcomes), ", "))
				return exitError{1}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVar(&all, "all", false, "attack every backend usable here (docker, runsc, podman, process)")
	f.StringSliceVar(&only, "only", nil, "run only these attacks (ids from --list)")
	f.BoolVar(&asJSON, "json", false, "print the outcomes as JSON")
	f.BoolVar(&list, "list", false, "list the attacks and exit")
	f.BoolVar(&noConfine, "no-confine", false, "run the battery in this process, not in a mount namespace and cgroup of its own")
	return cmd
}

// names are the attacks on backends that were not contained.
func names(outcomes []selftest.Outcome) []string {
	var out []string
	for _, o := range outcomes {
		if o.Status == selftest.Escaped || o.Status == selftest.Failed {
			out = append(out, o.Attack+" on "+o.Backend)
		}
	}
	return out
}
