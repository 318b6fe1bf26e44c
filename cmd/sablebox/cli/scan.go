package cli

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sablebox/sablebox/pkg/analysis"
	"github.com/sablebox/sablebox/pkg/analysis/report"
	"github.com/sablebox/sablebox/pkg/config"
	"github.com/sablebox/sablebox/pkg/sandbox"
	"github.com/sablebox/sablebox/pkg/version"
)

// Exit codes of `sablebox scan`.
const (
	scanFindings = 1 // findings at or above --fail-on
	scanFailed   = 2 // a file that could not be read or scanned, or bad usage
)

func newScanCmd(a *app) *cobra.Command {
	var format, failOn string
	cmd := &cobra.Command{
		Use:   "scan FILE|DIR...",
		Short: "Scan tool files with the static-analysis gate that runs before each run",
		Long: `Scan Python and shell tool files with the rules of the static-analysis gate
that ` + "`sablebox run`" + ` applies before a tool starts. A directory is walked for
.py, .sh and .bash files and for files whose #! line names python, sh or bash
(hidden directories, __pycache__ and node_modules are skipped).

Output: one line per finding (text), --format json, or --format sarif, a SARIF
2.1.0 log for code-scanning pages.

Exit code: 0 when no finding is at or above --fail-on; 1 when one is; 2 when a
file could not be read or parsed (named on the output, with why).

The gate is a first filter: code can build at run time what no scan sees. The
sandbox, not the gate, is the boundary.`,
		Example: `  sablebox scan examples/
  sablebox scan --format sarif --fail-on medium tools/ > sablebox.sarif`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			severity := a.cfg.Analysis.FailOn
			if cmd.Flags().Changed("fail-on") {
				s, err := analysis.ParseSeverity(failOn)
				if err != nil {
					fmt.Fprintf(a.streams.Err, "sablebox: --fail-on: %v\n", err)
					return exitError{scanFailed}
				}
				severity = s
			}
			if !slices.Contains(report.Formats, strings.ToLower(format)) {
				fmt.Fprintf(a.streams.Err, "sablebox: --format %q: want %s\n", format, strings.Join(report.Formats, ", "))
				return exitError{scanFailed}
			}
			files := report.Collect(cmd.Context(), args, a.cfg.Lang, a.cfg.Analysis.Options())
			if err := report.Write(a.streams.Out, format, files, severity, version.Version); err != nil {
				return fmt.Errorf("write the report: %w", err)
			}
			worst, failed := report.Worst(files)
			switch {
			case failed:
				return exitError{scanFailed}
			case worst >= severity:
				return exitError{scanFindings}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&format, "format", "text", "output: "+strings.Join(report.Formats, ", "))
	f.StringVar(&failOn, "fail-on", analysis.High.String(), "lowest severity that makes the exit code 1: low, medium, high, critical (default: analysis.fail-on of the config)")
	f.String(config.KeyLang, "", "scan every file as this language: "+strings.Join(sandbox.Langs, ", ")+" (default: its #! line, else its extension)")
	f.StringSlice(config.FlagName(config.KeyAnalysisImports), nil,
		"the Python modules a tool may import, replacing the standard library's list (analysis.imports in the config file)")
	return cmd
}
