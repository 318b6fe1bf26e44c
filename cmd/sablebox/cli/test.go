package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/spf13/cobra"

	"github.com/sablebox/sablebox/pkg/runner"
	"github.com/sablebox/sablebox/pkg/sandbox"
	"github.com/sablebox/sablebox/pkg/tooltest"
)

func newTestCmd(a *app) *cobra.Command {
	var jobs int
	var junit, match string
	var asJSON, schema bool
	cmd := &cobra.Command{
		Use:   "test [DIR|FILE...]",
		Short: "Run tools' test cases, each in a fresh sandbox, and report like a test runner",
		Long: `Run the test cases declared in case files (NAME.test.yaml, next to the tool
NAME.py, NAME.sh or NAME.bash), each in a fresh sandbox on the backend
sablebox would use here (--runtime picks one), up to --jobs at once. A
directory is walked for case files; the default is the current one.

A case file:

  tool: wordcount.py            # default: the NAME.py/.sh/.bash beside it
  cases:
    - name: counts words
      args: ["--top", "2"]
      stdin: "a b a\n"          # or stdin_file: input.txt
      files: {data.txt: "x"}    # into /workspace (or workspace: DIR)
      env: {LANG: C.UTF-8}
      limits: {timeout: 10s, memory: 128m, pids: 20, cpus: 0.5, output: 1m}
      expect:
        status: ok              # ok failed timeout oom killed blocked error
        exit: 0
        stdout: "a 2\nb 1\n"    # exact, or {contains: [..], regexp: .., json: ..}
        stderr: {regexp: "^$"}
        files: {report.txt: {contains: [total]}}   # left in /output
        checker: check.py       # sandboxed; gets stdout, stderr, result.json, output/

A case with no status and no exit expects status ok. A tool the static-analysis
gate refuses fails its case (unless it expects blocked), with the findings'
locations. --schema prints the file's JSON Schema. A malformed case file is an
error naming the file, line and field.

Reports: a line per case (PASS, FAIL, SKIP) with what failed, then
"N passed, N failed[, N skipped]"; --json prints every case with its run's
full result; --junit FILE writes JUnit XML. Exit code: 0 when every case
passed, 1 when one failed, 125 on bad input.`,
		Example: `  sablebox test examples/
  sablebox test --junit report.xml --jobs 4 tools/
  sablebox test --run 'counts' examples/wordcount.test.yaml`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if schema {
				_, err := a.streams.Out.Write(tooltest.Schema)
				return err
			}
			if jobs < 0 {
				return fmt.Errorf("%w: --jobs %d: want 0 (one per CPU) or more", sandbox.ErrInvalidSpec, jobs)
			}
			var re *regexp.Regexp
			if match != "" {
				var err error
				if re, err = regexp.Compile(match); err != nil {
					return fmt.Errorf("%w: --run %q: %v", sandbox.ErrInvalidSpec, match, err)
				}
			}
			if len(args) == 0 {
				args = []string{"."}
			}
			paths, err := tooltest.Discover(args)
			if err != nil {
				return err
			}
			var files []*tooltest.File
			for _, p := range paths {
				f, err := tooltest.Load(p)
				if err != nil {
					return err
				}
				files = append(files, f)
			}
			opts, err := a.runnerOptions()
			if err != nil {
				return err
			}
			r, err := runner.New(opts)
			if err != nil {
				return err
			}
			defer r.Close()
			if _, err := r.Ready(cmd.Context()); err != nil {
				return err
			}
			tty := isTerminal(a.streams.Err) && os.Getenv("CI") == "" && !asJSON
			done := 0
			progress := func(res tooltest.CaseResult) {
				done++
				if asJSON {
					return
				}
				if tty {
					fmt.Fprint(a.streams.Err, "\r\x1b[2K")
				}
				fmt.Fprintln(a.streams.Out, tooltest.Line(res))
				if tty {
					fmt.Fprintf(a.streams.Err, "sablebox test: %d done", done)
				}
			}
			start := time.Now()
			results := tooltest.Run(cmd.Context(), r, files, tooltest.Options{Jobs: jobs, Match: re, Limits: a.cfg.Limits, Progress: progress})
			if tty {
				fmt.Fprint(a.streams.Err, "\r\x1b[2K")
			}
			if junit != "" {
				if err := writeJUnit(junit, results, start); err != nil {
					return err
				}
			}
			counts := tooltest.Count(results)
			if asJSON {
				if err := tooltest.WriteJSON(a.streams.Out, results); err != nil {
					return err
				}
			} else {
				fmt.Fprintln(a.streams.Out, counts)
			}
			if len(results) == 0 {
				return fmt.Errorf("%w: no case matched --run %q", sandbox.ErrInvalidSpec, match)
			}
			if counts.Failed > 0 {
				return exitError{1}
			}
			return nil
		},
	}
	addAnalysisFlags(cmd)
	f := cmd.Flags()
	f.IntVar(&jobs, "jobs", 0, "cases run at once (default: one per CPU)")
	f.StringVar(&junit, "junit", "", "write a JUnit XML report to `FILE`")
	f.BoolVar(&asJSON, "json", false, "print every case, with its run's result, as JSON")
	f.StringVar(&match, "run", "", "run only the cases whose name matches this `REGEXP`")
	f.BoolVar(&schema, "schema", false, "print the case file's JSON Schema and exit")
	return cmd
}

// writeJUnit writes the report whole or not at all.
func writeJUnit(path string, results []tooltest.CaseResult, start time.Time) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".junit-*.xml")
	if err != nil {
		return fmt.Errorf("--junit: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tooltest.WriteJUnit(tmp, results, start); err != nil {
		tmp.Close()
		return fmt.Errorf("--junit: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("--junit: %w", err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("--junit: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("--junit: %w", err)
	}
	return nil
}
