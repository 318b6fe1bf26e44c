package cli

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/docker/go-units"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/sablebox/sablebox/pkg/analysis"
	"github.com/sablebox/sablebox/pkg/audit"
	"github.com/sablebox/sablebox/pkg/config"
	"github.com/sablebox/sablebox/pkg/image"
	"github.com/sablebox/sablebox/pkg/runner"
	"github.com/sablebox/sablebox/pkg/sandbox"
	"github.com/sablebox/sablebox/pkg/sandbox/docker"
	"github.com/sablebox/sablebox/pkg/seccomp"
	"github.com/sablebox/sablebox/pkg/termsafe"
)

const imageDefault = image.DefaultTag

func newRunCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "run [flags] TOOL [-- ARGS...] | run [flags] -- CMD [ARGS...]",
		Short: "Run a tool in a fresh sandbox",
		Long: `Run a tool file (Python, sh or bash) or a command in a fresh sandbox.

A tool file's language comes from its #! line, else its extension (.py, .sh,
.bash), or from --lang; Python runs as python3 -I, shell as /bin/sh or
/bin/bash. A command runs as given, looked up on the sandbox's PATH.

Exit code: the tool's own when it finished; 124 on timeout; 137 when killed
(out of memory or a signal); 125 when sablebox or the runtime failed; 126 when
a policy refused the run. With --json, one result object is printed.`,
		Example: `  sablebox run examples/wordcount.py -- --top 3 < examples/data/sample.txt
  sablebox run --workspace examples/data --timeout 10s examples/wordcount.py
  sablebox run examples/lines.sh < examples/data/sample.txt
  sablebox run --json -- python3 -c 'print(1)'`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req, err := runRequest(cmd, args)
			if err != nil {
				return err
			}
			return a.run(cmd, req)
		},
	}
	addRunFlags(cmd)
	addAnalysisFlags(cmd)
	f := cmd.Flags()
	f.String(config.KeyServer, "", "run through a `sablebox serve` service: unix:///path.sock or https://host:port (also "+config.EnvHost+")")
	f.String(config.KeyToken, "", "the service's token (better: SABLEBOX_TOKEN, which no process listing shows)")
	return cmd
}

// addRunFlags adds the flags that shape one run: run's and learn's.
func addRunFlags(cmd *cobra.Command) {
	cmd.Flags().SetInterspersed(false) // everything after TOOL belongs to the tool
	f := cmd.Flags()
	d := sandbox.DefaultLimits()
	f.String(config.KeyTimeout, d.Timeout.String(), "wall-clock limit, positive with a unit (30s, 2m)")
	f.String(config.KeyMemory, units.BytesSize(float64(d.MemoryBytes)), "memory limit, no swap (256m, 1g)")
	f.Float64(config.KeyCPUs, d.CPUs, "CPU share (0.5 = half a core)")
	f.Int64(config.KeyPids, d.Pids, "most processes and threads at once")
	f.String(config.KeyOutputCap, units.BytesSize(float64(d.OutputBytes)), "bytes kept of each of stdout and stderr")
	f.String(config.KeyLang, "", "tool file language: "+strings.Join(sandbox.Langs, ", ")+" (default: its #! line, else its extension)")
	f.String(config.KeyWorkspace, "", "host directory mounted read-only at /workspace")
	f.String(config.KeyOutput, "", "host directory that receives, after the run, the files the tool wrote to /output")
	f.StringArray(config.KeyEnv, nil, "KEY=VALUE for the tool (repeatable)")
	f.String(config.KeySeccomp, seccomp.DefaultName, "syscall filter: default, python, strict, a profile file in Docker's JSON form, or unconfined (needs seccomp-unsafe: true in the config file)")
	f.String(config.KeyMetricsFile, "", "write the run's metrics to this file, in node_exporter's textfile format")
}

// addAnalysisFlags adds the static-analysis gate's flags: run's and serve's.
func addAnalysisFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.String(config.FlagName(config.KeyAnalysisMode), string(analysis.Enforce),
		"static-analysis gate before each run: enforce (refuse a tool with findings at or above --analysis-fail-on, exit 126), warn (run it, and list them), off (run unscanned; the result says so)")
	f.String(config.FlagName(config.KeyAnalysisFailOn), analysis.High.String(), "lowest severity of a finding that refuses a run: low, medium, high, critical")
	f.StringSlice(config.FlagName(config.KeyAnalysisImports), nil,
		"the Python modules a tool may import, replacing the standard library's list (analysis.imports in the config file)")
}

// runnerOptions are the runner's settings from the config.
func (a *app) runnerOptions() (runner.Options, error) {
	c := a.cfg
	profile, err := seccomp.Load(c.Seccomp)
	if err != nil {
		return runner.Options{}, fmt.Errorf("%w: --%s: %w", sandbox.ErrPolicy, config.KeySeccomp, err)
	}
	return runner.Options{
		Runtime: c.Runtime, Image: c.Image, Logger: a.log,
		Settings: c.Settings, Seccomp: profile, SeccompUnsafe: c.SeccompUnsafe, Analysis: c.Analysis,
	}, nil
}

// runRequest splits the arguments into a tool file or a command.
func runRequest(cmd *cobra.Command, args []string) (runner.Request, error) {
	var req runner.Request
	if cmd.ArgsLenAtDash() == 0 {
		req.Command, req.Args = args[:1], args[1:]
		return req, nil
	}
	req.ToolPath, req.Args = args[0], args[1:]
	if len(req.Args) > 0 && req.Args[0] == "--" {
		req.Args = req.Args[1:]
	}
	return req, nil
}

// fillRequest sets what the settings say of a run, and stdin when it is
// piped or redirected.
func (a *app) fillRequest(req *runner.Request) {
	cfg := a.cfg
	req.Env, req.Workspace, req.Output, req.Limits, req.Lang = cfg.Env, cfg.Workspace, cfg.Output, cfg.Limits, cfg.Lang
	if f, ok := a.streams.In.(*os.File); !ok || !term.IsTerminal(int(f.Fd())) {
		req.Stdin = a.streams.In // piped or redirected: pass it on
	}
}

func (a *app) run(cmd *cobra.Command, req runner.Request) error {
	cfg := a.cfg
	a.fillRequest(&req)
	if cfg.Server != "" {
		return a.runRemote(cmd, req)
	}
	opts, err := a.runnerOptions()
	if err != nil {
		return err
	}
	if cfg.AuditFile != "" {
		log, err := audit.Open(cfg.AuditFile)
		if err != nil {
			return err
		}
		defer log.Close()
		opts.Audit = log
	}
	var reg *prometheus.Registry
	if cfg.MetricsFile != "" {
		reg = prometheus.NewRegistry()
		opts.Registry = reg
	}
	r, err := runner.New(opts)
	if err != nil {
		return err
	}
	defer r.Close()

	res, err := r.Run(cmd.Context(), req)
	if reg != nil {
		// Written whole or not at all (a temp file renamed into place),
		// for node_exporter's textfile collector.
		if werr := prometheus.WriteToTextfile(cfg.MetricsFile, reg); werr != nil {
			a.log.WithError(werr).Error("metrics file not written")
		}
	}
	return a.finish(res, err)
}

// report copies the tool's output to ours and adds one line for anything
// the tool did not say itself: truncation, a timeout, an OOM kill, and,
// when stderr is a terminal, where the run ran. On a terminal the tool's
// output is escaped (see termsafe) and sablebox's own lines carry a mark
// that escaped output cannot draw; piped output is passed byte for byte.
func (a *app) report(res *sandbox.Result) {
	outTTY, errTTY := isTerminal(a.streams.Out), isTerminal(a.streams.Err)
	escape := func(b []byte, tty bool) []byte {
		if tty && !a.cfg.RawOutput {
			return termsafe.Escape(b)
		}
		return b
	}
	_, _ = a.streams.Out.Write(escape(res.Stdout.Data, outTTY))
	_, _ = a.streams.Err.Write(escape(res.Stderr.Data, errTTY))
	// A note starts a line of its own, whatever the tool left open.
	last := res.Stderr.Data
	if len(last) == 0 && outTTY && errTTY {
		last = res.Stdout.Data
	}
	open := len(last) > 0 && last[len(last)-1] != '\n'
	mark := "sablebox:"
	if errTTY {
		// Reset whatever a raw tool left set, then a mark in inverse
		// video, which escaped tool output cannot produce.
		mark = "\x1b[0m\x1b[7m sablebox \x1b[0m"
	}
	note := func(format string, args ...any) {
		prefix := ""
		if open {
			prefix = "\n"
		}
		fmt.Fprintf(a.streams.Err, "%s%s %s\n", prefix, mark, fmt.Sprintf(format, args...))
		open = false
	}
	for _, s := range []struct {
		name string
		out  sandbox.Output
	}{{"stdout", res.Stdout}, {"stderr", res.Stderr}} {
		if s.out.Truncated {
			note("%s truncated: kept %s of %s (raise --%s)", s.name,
				units.BytesSize(float64(len(s.out.Data))), units.BytesSize(float64(s.out.Size)), config.KeyOutputCap)
		}
	}
	for _, n := range res.Notes {
		note("%s", n)
	}
	switch res.Status {
	case sandbox.StatusTimeout, sandbox.StatusOOM, sandbox.StatusKilled:
		note("%s: %s", res.Status, res.Reason)
	}
	if an := res.Analysis; an != nil {
		if an.Verdict == sandbox.VerdictBlocked || an.Verdict == sandbox.VerdictWarned {
			for _, f := range an.Findings { // the text is the tool's: escaped like its output
				note("analysis: %d:%d: %s [%s] %s: %s", f.Line, f.Column, f.Severity, f.Rule, f.Message, escape([]byte(f.Text), errTTY))
			}
		}
		if an.Verdict == sandbox.VerdictSkipped && errTTY && !a.cfg.Quiet {
			note("%s", an.Note)
		}
	}
	if errTTY && !a.cfg.Quiet && res.Status != sandbox.StatusBlocked {
		note("%s", where(res, a.cfg.Settings.Get(docker.KeyOCIRuntime)))
	}
}

// where is the line that says which sandbox ran the tool and which
// protections it applied differently, such as "ran in docker (runsc);
// degraded: noexec, pids (see --json)".
func where(res *sandbox.Result, ociRuntime string) string {
	line := "ran in " + res.Backend
	if ociRuntime != "" && res.Backend != "process" {
		line += " (" + ociRuntime + ")"
	}
	if len(res.Degraded) > 0 {
		names := make([]string, len(res.Degraded))
		for i, d := range res.Degraded {
			names[i], _, _ = strings.Cut(d, ":")
		}
		line += "; degraded: " + strings.Join(names, ", ") + " (details: --json)"
	}
	return line
}

// isTerminal reports whether w is a terminal. Test streams say so
// themselves with an IsTerminal method.
func isTerminal(w io.Writer) bool {
	if t, ok := w.(interface{ IsTerminal() bool }); ok {
		return t.IsTerminal()
	}
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
