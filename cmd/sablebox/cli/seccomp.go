package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/spf13/cobra"

	"github.com/sablebox/sablebox/pkg/runner"
	"github.com/sablebox/sablebox/pkg/sandbox"
	"github.com/sablebox/sablebox/pkg/seccomp"
)

func newSeccompCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "seccomp",
		Short: "Show, check, compare and learn seccomp profiles",
		Long: `sablebox applies one seccomp profile to every run, the same on every backend:
default (an allow-list with argument filters), python (what CPython needs for
real tools), strict (tools that only compute), a file in Docker's JSON form,
or unconfined (only with seccomp-unsafe: true in the config file). Choose it
with --seccomp or the seccomp setting.`,
	}
	cmd.AddCommand(newSeccompShowCmd(a), newSeccompCheckCmd(a), newSeccompDiffCmd(a), newSeccompLearnCmd(a))
	return cmd
}

func newSeccompShowCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "show [default|python|strict]",
		Short: "Print a built-in seccomp profile in Docker's JSON form",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			name := seccomp.DefaultName
			if len(args) == 1 {
				name = args[0]
			}
			p := seccomp.Builtin(name)
			if p == nil {
				return fmt.Errorf("unknown profile %q: the built-in profiles are %s", name, strings.Join(seccomp.Builtins, ", "))
			}
			data, err := p.Marshal()
			if err != nil {
				return err
			}
			_, err = a.streams.Out.Write(data)
			return err
		},
	}
}

// loadProfile reads a built-in profile or a file for check and diff.
func loadProfile(ref string) (*seccomp.Profile, error) {
	if p := seccomp.Builtin(ref); p != nil {
		return p, nil
	}
	sp, err := seccomp.Load(ref)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", sandbox.ErrPolicy, err)
	}
	if sp.Unconfined {
		return nil, fmt.Errorf("%w: unconfined is no profile: there is nothing to check", sandbox.ErrPolicy)
	}
	return seccomp.Parse(sp.JSON)
}

func newSeccompCheckCmd(a *app) *cobra.Command {
	var arch string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "check PROFILE",
		Short: "Validate a profile and list the dangerous syscalls it allows",
		Long: `check validates a profile (a built-in name or a file): its JSON shape, the
syscall names against libseccomp's table for each architecture it names, the
actions and the argument comparisons. It then lists what the profile allows
and the dangerous syscalls among them, with why each is dangerous. It exits 0
when sablebox would run with the profile, 126 when it would refuse it (a
malformed profile, or a high-risk syscall allowed without argument filters).`,
		Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			p, err := loadProfile(args[0])
			if err != nil {
				return err
			}
			r := p.Check(specs.Arch(arch))
			if asJSON {
				enc := json.NewEncoder(a.streams.Out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(struct {
					Profile string `json:"profile"`
					seccomp.Report
					Count int  `json:"count"`
					Fails bool `json:"fails"`
				}{args[0], r, r.Count(), r.Fails()}); err != nil {
					return err
				}
			} else {
				printReport(a.streams.Out, args[0], r)
			}
			if r.Fails() {
				if asJSON {
					return exitError{sandbox.ExitBlocked}
				}
				return fmt.Errorf("%w: %s allows %s without argument filters", sandbox.ErrPolicy, args[0], strings.Join(r.HighRisk(), ", "))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&arch, "arch", "", "architecture to report on (default: the profile's first)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
}

func printReport(w io.Writer, name string, r seccomp.Report) {
	fmt.Fprintf(w, "%s: valid; on %s it allows %d syscalls (%d only with argument filters)\n", name, r.Arch, r.Count(), len(r.Narrowed))
	if len(r.Narrowed) > 0 {
		fmt.Fprintf(w, "  narrowed by arguments: %s\n", strings.Join(r.Narrowed, ", "))
	}
	if len(r.Refused) > 0 {
		fmt.Fprintf(w, "  refused by a rule of their own: %s\n", strings.Join(r.Refused, ", "))
	}
	if len(r.NotOnArch) > 0 {
		fmt.Fprintf(w, "  named but not on %s: %s\n", r.Arch, strings.Join(r.NotOnArch, ", "))
	}
	if len(r.Dangerous) == 0 {
		fmt.Fprintln(w, "  dangerous syscalls allowed: none")
		return
	}
	fmt.Fprintln(w, "  dangerous syscalls allowed, and why each is dangerous:")
	for _, f := range r.Dangerous {
		how, why := "ALLOWED", f.Why
		if f.Narrowed {
			how, why = "narrowed", "its argument filters keep it to safe values; "+f.Why
		}
		fmt.Fprintf(w, "    %-18s %-6s %-8s %s\n", f.Name, f.Risk, how, why)
	}
}

func newSeccompDiffCmd(a *app) *cobra.Command {
	var arch string
	cmd := &cobra.Command{
		Use:   "diff A B",
		Short: "Show what one profile allows that the other does not",
		Args:  cobra.ExactArgs(2),
		RunE: func(_ *cobra.Command, args []string) error {
			pa, err := loadProfile(args[0])
			if err != nil {
				return err
			}
			pb, err := loadProfile(args[1])
			if err != nil {
				return err
			}
			if arch == "" {
				arch = string(specs.ArchX86_64)
			}
			d := seccomp.Compare(pa, pb, specs.Arch(arch))
			out := a.streams.Out
			fmt.Fprintf(out, "on %s:\n", d.Arch)
			list := func(label string, names []string) {
				shown := strings.Join(names, " ")
				if len(names) == 0 {
					shown = "(none)"
				}
				fmt.Fprintf(out, "  %s (%d): %s\n", label, len(names), shown)
			}
			list("only "+args[0]+" allows", d.OnlyA)
			list("only "+args[1]+" allows", d.OnlyB)
			if len(d.Filters) > 0 {
				list("both allow, with different argument filters", d.Filters)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&arch, "arch", "", "architecture to compare on (default SCMP_ARCH_X86_64)")
	return cmd
}

func newSeccompLearnCmd(a *app) *cobra.Command {
	var outFile string
	cmd := &cobra.Command{
		Use:   "learn [run flags] TOOL [-- ARGS...] | learn [run flags] -- CMD [ARGS...]",
		Short: "Run a tool under a tracer and print a profile of exactly the syscalls it made",
		Long: `learn runs the tool once in the process sandbox, under the profile --seccomp
names (default: default) and a ptrace tracer that follows every process and
thread of the tool, then prints a profile in Docker's JSON form that allows
exactly the syscalls the tool made, with that profile's argument filters, and
the calls the sandbox's own processes need around a tool on every backend (the
engines' init, the warm bootstrap and /bin/sh). Calls the profile refused stay
refused. The tool's output goes to stderr; the profile to stdout, or -o FILE.

Use the profile with: sablebox run --seccomp FILE TOOL. Learning needs the
process sandbox and ptrace (root, or kernel.yama.ptrace_scope 0 or 1).`,
		Example: `  sablebox seccomp learn -o wc.json examples/wordcount.py < examples/data/sample.txt
  sablebox run --seccomp wc.json examples/wordcount.py < examples/data/sample.txt`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req, err := runRequest(cmd, args)
			if err != nil {
				return err
			}
			a.fillRequest(&req)
			opts, err := a.runnerOptions()
			if err != nil {
				return err
			}
			r, err := runner.New(opts)
			if err != nil {
				return err
			}
			defer r.Close()
			res, made, err := r.Learn(cmd.Context(), req)
			if res != nil {
				_, _ = a.streams.Err.Write(res.Stdout.Data)
				_, _ = a.streams.Err.Write(res.Stderr.Data)
			}
			if err != nil {
				return err
			}
			from, err := seccomp.Parse(opts.Seccomp.JSON) // Learn refused unconfined; New checked it parses
			if err != nil {
				return err
			}
			learned, l := seccomp.Learned(from, seccomp.NativeArch(), made)
			data, err := learned.Marshal()
			if err != nil {
				return err
			}
			if outFile != "" {
				if err := os.WriteFile(outFile, data, 0o644); err != nil {
					return fmt.Errorf("write the profile: %w", err)
				}
			} else if _, err := a.streams.Out.Write(data); err != nil {
				return err
			}
			fmt.Fprintf(a.streams.Err, "sablebox: learned %d syscalls the tool made, and %d for the sandbox's own processes (%d in all)\n",
				len(l.Made), len(l.Plumbing), learned.Check("").Count())
			if len(l.Refused) > 0 {
				fmt.Fprintf(a.streams.Err, "sablebox: the tool also tried %s, which %s refuses: left out\n", strings.Join(l.Refused, ", "), opts.Seccomp.Name)
			}
			if res.Status != sandbox.StatusOK || res.ExitCode != 0 {
				fmt.Fprintf(a.streams.Err, "sablebox: the tool ended %s (exit %d): the profile holds what that run did\n", res.Status, res.ExitCode)
			}
			return nil
		},
	}
	addRunFlags(cmd)
	cmd.Flags().StringVarP(&outFile, "out", "o", "", "write the profile to this file instead of stdout")
	return cmd
}
