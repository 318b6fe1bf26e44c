package selftest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/sablebox/sablebox/pkg/runner"
	"github.com/sablebox/sablebox/pkg/sandbox"
	"github.com/sablebox/sablebox/pkg/termsafe"
)

// Target is a sandbox the battery attacks: a backend behind the normal
// runner path.
type Target interface {
	// Name names the backend, as the table's column does.
	Name() string
	// Run runs one request to its end.
	Run(ctx context.Context, req runner.Request) (*sandbox.Result, error)
}

// Terminal is a target that shows a terminal a tool's output its own way;
// any other shows it as `sablebox run` does (see termsafe).
type Terminal interface {
	Terminal(output []byte) []byte
}

// RunnerTarget attacks a Runner.
type RunnerTarget struct {
	Label  string
	Runner *runner.Runner
}

// Name is the target's label.
func (t RunnerTarget) Name() string { return t.Label }

// Run runs req on the runner.
func (t RunnerTarget) Run(ctx context.Context, req runner.Request) (*sandbox.Result, error) {
	return t.Runner.Run(ctx, req)
}

// Select returns the attacks named in only (all when only is empty), or
// an error naming the unknown ones.
func Select(only []string) ([]*Attack, error) {
	if len(only) == 0 {
		return Battery, nil
	}
	var out []*Attack
	var unknown []string
	for _, id := range only {
		i := slices.IndexFunc(Battery, func(a *Attack) bool { return a.ID == id })
		if i < 0 {
			unknown = append(unknown, id)
			continue
		}
		out = append(out, Battery[i])
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("%w: unknown attacks %s (see `sablebox selftest --list`)", sandbox.ErrInvalidSpec, strings.Join(unknown, ", "))
	}
	return out, nil
}

// Progress is told each outcome as it is judged.
type Progress func(Outcome)

// Run runs attacks against every target, each target's attacks one
// after another (resource attacks would disturb each other) and the
// targets side by side, and returns the outcomes, target by target in
// the battery's order.
func Run(ctx context.Context, targets []Target, attacks []*Attack, progress Progress) ([]Outcome, error) {
	results := make([][]Outcome, len(targets))
	errs := make([]error, len(targets))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			host, err := NewHost()
			if err != nil {
				errs[i] = err
				return
			}
			defer host.Close()
			for _, a := range attacks {
				if ctx.Err() != nil {
					errs[i] = ctx.Err()
					return
				}
				o := Attempt(ctx, t, host, a)
				results[i] = append(results[i], o)
				if progress != nil {
					mu.Lock()
					progress(o)
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	var out []Outcome
	for _, r := range results {
		out = append(out, r...)
	}
	for _, err := range errs {
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// Attempt runs one attack against t and judges it.
func Attempt(ctx context.Context, t Target, host *Host, a *Attack) Outcome {
	out := Outcome{Attack: a.ID, Class: a.Class, Backend: t.Name()}
	if len(a.Backends) > 0 && !slices.Contains(a.Backends, t.Name()) {
		out.Status, out.Detail = NotApplicable, a.NotOn
		return out
	}
	src, lang, err := a.source()
	if err != nil {
		out.Status, out.Detail = Failed, err.Error()
		return out
	}
	runToken := randomToken()
	name := strings.ReplaceAll(a.ID, ".", "-") + ".py"
	if lang == sandbox.LangSh {
		name = strings.ReplaceAll(a.ID, ".", "-") + ".sh"
	}
	req := runner.Request{
		Tool:   &sandbox.ToolFile{Name: name, Lang: lang, Content: src},
		Args:   a.Args,
		Env:    append(host.Env(runToken), limitsEnv(a.Limits.WithDefaults())...),
		Limits: a.Limits,
		Files:  []sandbox.File{{Path: "data.txt", Content: []byte("workspace data\n")}},
		Stdin:  strings.NewReader("stdin data\n"),
	}
	o := &Observation{Attack: a, Backend: t.Name(), Host: host, terminal: termsafe.Escape}
	if term, ok := t.(Terminal); ok {
		o.terminal = term.Terminal
	}
	if a.Output {
		o.OutDir = filepath.Join(host.Dir, "out-"+runToken)
		req.Output = o.OutDir
		defer os.RemoveAll(o.OutDir)
	}
	stop := make(chan struct{})
	probed := make(chan struct{})
	go func() {
		host.probe(stop)
		close(probed)
	}()
	o.Result, o.Err = t.Run(ctx, req)
	close(stop)
	<-probed
	o.Seen = host.observe(runToken)
	if o.Err == nil && o.Result == nil {
		o.Err = fmt.Errorf("no result")
	}
	judge := a.Judge
	if judge == nil {
		judge = judgeReport
	}
	out.Status, out.Detail = judge(o)
	return out
}

// limitsEnv tells a payload the run's limits, which the resource attacks
// go past by a bounded amount.
func limitsEnv(l sandbox.Limits) []string {
	return []string{
		"SELFTEST_PIDS=" + strconv.FormatInt(l.Pids, 10),
		"SELFTEST_MEMORY=" + strconv.FormatInt(l.MemoryBytes, 10),
		"SELFTEST_NOFILE=" + strconv.FormatUint(l.NoFile, 10),
		"SELFTEST_TMP=" + strconv.FormatInt(l.TmpBytes, 10),
		"SELFTEST_OUTPUT=" + strconv.FormatInt(sandbox.MaxFileBytes, 10),
	}
}
