package tooltest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"sync"
	"time"

	"github.com/sablebox/sablebox/pkg/runner"
	"github.com/sablebox/sablebox/pkg/sandbox"
)

// Verdict is how a case ended.
type Verdict string

// The verdicts of a case.
const (
	Passed  Verdict = "passed"
	Failed  Verdict = "failed"
	Skipped Verdict = "skipped"
)

// Location is a place in a tool that a finding of the static-analysis
// gate points at, as SARIF gives it.
type Location struct {
	File    string `json:"file"`
	Line    int    `json:"line"`
	Column  int    `json:"column"`
	Rule    string `json:"rule"`
	Level   string `json:"level"`
	Message string `json:"message"`
}

// CaseResult is one case's outcome, with the run's full result.
type CaseResult struct {
	// File is the case file; Line the case's line in it.
	File string `json:"file"`
	Line int    `json:"line"`
	// Tool is the tool file the case ran.
	Tool    string  `json:"tool"`
	Case    string  `json:"case"`
	Verdict Verdict `json:"verdict"`
	// Failures say what did not hold; Skip why the case was skipped.
	Failures []string `json:"failures,omitempty"`
	Skip     string   `json:"skip,omitempty"`
	// Locations are the gate's findings when it refused the tool.
	Locations []Location `json:"locations,omitempty"`
	// Duration is the case's wall time, its checker's included.
	Duration time.Duration `json:"-"`
	// Result is the run's result object, as `sablebox run --json` prints.
	Result *sandbox.Result `json:"result,omitempty"`
}

// Options shape a test run.
type Options struct {
	// Jobs is how many cases run at once; the number of CPUs when 0.
	Jobs int
	// Match, when set, runs only the cases whose name it matches.
	Match *regexp.Regexp
	// Limits are the cases' limits where a case sets none.
	Limits sandbox.Limits
	// Progress is told each case as it ends (from one goroutine at a
	// time).
	Progress func(CaseResult)
}

// Run runs every case of files through r, up to opts.Jobs at once, each
// in a fresh sandbox, and returns their results in the files' order.
func Run(ctx context.Context, r *runner.Runner, files []*File, opts Options) []CaseResult {
	jobs := opts.Jobs
	if jobs <= 0 {
		jobs = runtime.NumCPU()
	}
	type job struct {
		f *File
		c *Case
		i int
	}
	var todo []job
	for _, f := range files {
		for _, c := range f.Cases {
			if opts.Match == nil || opts.Match.MatchString(c.Name) {
				todo = append(todo, job{f, c, len(todo)})
			}
		}
	}
	results := make([]CaseResult, len(todo))
	sem := make(chan struct{}, jobs)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, j := range todo {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			res := runCase(ctx, r, j.f, j.c, opts.Limits)
			results[j.i] = res
			if opts.Progress != nil {
				mu.Lock()
				opts.Progress(res)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return results
}

// runCase runs one case and judges it.
func runCase(ctx context.Context, r *runner.Runner, f *File, c *Case, base sandbox.Limits) CaseResult {
	t0 := time.Now()
	out := CaseResult{File: f.Path, Line: c.Line, Tool: filepath.Join(f.Dir(), f.Tool), Case: c.Name}
	if c.Skip != "" {
		out.Verdict, out.Skip = Skipped, c.Skip
		return out
	}
	fail := func(format string, args ...any) CaseResult {
		out.Verdict = Failed
		out.Failures = append(out.Failures, fmt.Sprintf(format, args...))
		out.Duration = time.Since(t0)
		return out
	}
	req, err := request(f, c, base)
	if err != nil {
		return fail("%v", err)
	}
	res, err := r.Run(ctx, req)
	out.Result = res
	if res != nil && res.Analysis != nil && res.Analysis.Verdict == sandbox.VerdictBlocked {
		for _, fd := range res.Analysis.Findings {
			out.Locations = append(out.Locations, Location{File: out.Tool, Line: fd.Line, Column: fd.Column,
				Rule: fd.Rule, Level: sarifLevel(fd.Severity), Message: fd.Message})
		}
	}
	if res == nil {
		return fail("the run gave no result: %v", err)
	}
	out.Failures = check(c, res, out.Locations)
	if c.Expect.Checker != "" && len(out.Failures) == 0 {
		out.Failures = append(out.Failures, runChecker(ctx, r, f, c, res)...)
	}
	out.Verdict = Passed
	if len(out.Failures) > 0 {
		out.Verdict = Failed
	}
	out.Duration = time.Since(t0)
	return out
}

// request is the run a case asks for.
func request(f *File, c *Case, base sandbox.Limits) (runner.Request, error) {
	req := runner.Request{Tool: f.tool, Args: c.Args, Limits: limits(base, c.Limits),
		KeepOutput: len(c.Expect.Files) > 0 || c.Expect.Checker != ""}
	for _, k := range sortedKeys(c.Env) {
		req.Env = append(req.Env, k+"="+c.Env[k])
	}
	for _, p := range sortedKeys(c.Files) {
		req.Files = append(req.Files, sandbox.File{Path: p, Content: []byte(c.Files[p])})
	}
	if c.Workspace != "" {
		req.Workspace = filepath.Join(f.Dir(), c.Workspace)
	}
	switch {
	case c.Stdin != nil:
		req.Stdin = bytes.NewReader([]byte(*c.Stdin))
	case c.StdinFile != "":
		data, err := os.ReadFile(filepath.Join(f.Dir(), c.StdinFile))
		if err != nil {
			return runner.Request{}, fmt.Errorf("stdin_file: %w", err)
		}
		req.Stdin = bytes.NewReader(data)
	}
	return req, nil
}

// limits are base with what the case sets.
func limits(base sandbox.Limits, l Limits) sandbox.Limits {
	if l.Timeout > 0 {
		base.Timeout = time.Duration(l.Timeout)
	}
	if l.Memory > 0 {
		base.MemoryBytes = int64(l.Memory)
	}
	if l.CPUs > 0 {
		base.CPUs = l.CPUs
	}
	if l.Pids > 0 {
		base.Pids = l.Pids
	}
	if l.Output > 0 {
		base.OutputBytes = int64(l.Output)
	}
	return base
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// sarifLevel is SARIF's level for a finding's severity, as `sablebox
// scan --format sarif` gives it.
func sarifLevel(severity string) string {
	switch severity {
	case "critical", "high":
		return "error"
	case "medium":
		return "warning"
	}
	return "note"
}

// runChecker runs the case's checker, sandboxed, on what the run gave:
// /workspace holds stdout, stderr, result.json and output/.
func runChecker(ctx context.Context, r *runner.Runner, f *File, c *Case, res *sandbox.Result) []string {
	path := filepath.Join(f.Dir(), c.Expect.Checker)
	tool, err := runner.ReadTool(path, "")
	if err != nil {
		return []string{fmt.Sprintf("checker: %v", err)}
	}
	resultJSON, err := res.MarshalJSON()
	if err != nil {
		return []string{fmt.Sprintf("checker: the result: %v", err)}
	}
	files := []sandbox.File{
		{Path: "stdout", Content: res.Stdout.Data},
		{Path: "stderr", Content: res.Stderr.Data},
		{Path: "result.json", Content: resultJSON},
	}
	for _, o := range res.Files {
		files = append(files, sandbox.File{Path: "output/" + o.Path, Content: o.Content})
	}
	cres, err := r.Run(ctx, runner.Request{Tool: tool, Files: files})
	if err != nil && cres == nil {
		return []string{fmt.Sprintf("checker %s: %v", c.Expect.Checker, err)}
	}
	if cres.Status != sandbox.StatusOK {
		why := cres.Reason
		if why == "" {
			why = sandbox.LastLine(append(append([]byte{}, cres.Stdout.Data...), cres.Stderr.Data...))
		}
		return []string{fmt.Sprintf("checker %s: %s (exit %d): %s", c.Expect.Checker, cres.Status, cres.ExitCode, why)}
	}
	return nil
}
