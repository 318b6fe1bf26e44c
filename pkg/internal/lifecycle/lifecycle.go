// Package lifecycle owns a run from validation to cleanup, for every
// backend. A backend is a Driver: it prepares a sandbox for a spec and
// drives it (put files in, attach, start, wait, kill, tell an OOM,
// remove). Everything else is here, once: the setup and cleanup timeouts,
// the wall timeout and a cancel, the output caps, the Result, and removal
// on every path (exit, timeout, cancel, error, panic).
package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/sablebox/sablebox/pkg/internal/engine"
	"github.com/sablebox/sablebox/pkg/metrics"
	"github.com/sablebox/sablebox/pkg/sandbox"
)

// Timeouts of the steps around the tool. Cleanup runs on a fresh context
// because the run's own may already be cancelled.
const (
	// SetupTimeout bounds each step before the tool starts (prepare, put,
	// attach, start), so that an engine that hangs fails the run instead
	// of hanging it.
	SetupTimeout = time.Minute
	// CleanupTimeout bounds kill, inspect and remove.
	CleanupTimeout = 30 * time.Second
	// DrainTimeout bounds the wait for the output to end once the tool
	// has exited.
	DrainTimeout = 5 * time.Second
)

// Driver makes the sandboxes of one backend.
type Driver interface {
	// Name is the backend's name, as the Result gives it.
	Name() string
	// Images reports whether the backend runs container images: a spec
	// must then name one, and the Result names it.
	Images() bool
	// Prepare makes a sandbox for spec, with nothing running in it, and
	// labels it so that no sweep removes it before deadline (the latest a
	// run in it may end). It may lower the engine's view of spec.Limits
	// (a copy of the caller's) to what the engine enforces instead, and
	// then says so in the sandbox's Degraded. ctx bounds the preparation
	// only. On an error nothing it made is left.
	Prepare(ctx context.Context, spec *sandbox.Spec, deadline time.Time) (Sandbox, error)
	// Log is where a sandbox left behind is told of.
	Log() logrus.FieldLogger
	// Metrics are the caller's metrics (nil: none).
	Metrics() *metrics.Runs
}

// Sandbox is one prepared sandbox, driven by the lifecycle in this order:
// Put, Attach, Start, Wait (Kill on a timeout or cancel), OOMKilled, and
// Remove on every path. Put, Attach and Start get a context bounded by
// SetupTimeout.
type Sandbox interface {
	// Put puts spec's tool file and workspace files in.
	Put(ctx context.Context, tool *sandbox.ToolFile, files []sandbox.File) error
	// Attach connects the tool's stdin (nil: empty) and its output, which
	// goes to stdout and stderr (writers that never fail) until the tool
	// and everything it started are done.
	Attach(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer) (Streams, error)
	// Start starts the tool.
	Start(ctx context.Context) error
	// Wait blocks until the tool has exited and returns its exit code;
	// ctx ends only once the lifecycle no longer needs the answer.
	Wait(ctx context.Context) (int, error)
	// Kill sends SIGKILL to everything in the sandbox; a sandbox whose
	// tool has exited is not an error.
	Kill(ctx context.Context) error
	// OOMKilled reports whether the kernel's OOM killer struck in it.
	OOMKilled(ctx context.Context) (bool, error)
	// Output collects what the tool left in sandbox.OutputDir, once it
	// has ended; it is asked only of a spec with Output.
	Output(ctx context.Context) (*engine.Collected, error)
	// Degraded lists the protections this sandbox applies differently
	// (Result.Degraded), known once it is prepared.
	Degraded() []string
	// Remove removes everything the sandbox is made of, killing what
	// still runs; a sandbox already gone is not an error.
	Remove() error
}

// Verifier is a Sandbox that has a last word on a run its tool seemed to
// finish: an error there fails the run (the process sandbox's setup died
// before the tool ran).
type Verifier interface {
	Verify(res *sandbox.Result) error
}

// Ender is a Sandbox whose engine may end the tool on its own (a
// cluster's deadline, an eviction): asked once the tool has ended, from
// what the sandbox already knows, it gives the status and reason of that
// end, or "" when the tool ended of itself.
type Ender interface {
	Ended() (sandbox.Status, string)
}

// CPUReporter is a Sandbox that can tell the CPU time its tool used,
// asked once the tool has ended.
type CPUReporter interface {
	CPUTime() (time.Duration, bool)
}

// Streams tell how the tool's output ends.
type Streams struct {
	// Drained closes when the output has ended.
	Drained <-chan struct{}
	// Abort ends the output if it outlives the tool (a stream an engine
	// holds open); nil when it cannot.
	Abort func()
}

// Run validates spec, prepares a sandbox with d and runs spec in it: what
// sandbox.Backend.Run does for every backend.
func Run(ctx context.Context, d Driver, spec *sandbox.Spec) (*sandbox.Result, error) {
	p, err := Prepare(ctx, d, spec, 0)
	if err != nil {
		if ctx.Err() != nil && !errors.Is(err, sandbox.ErrInvalidSpec) && !errors.Is(err, sandbox.ErrPolicy) {
			return cancelled(ctx, spec, d), nil
		}
		return nil, err
	}
	return p.Run(ctx)
}

// Prepared is a sandbox made for one spec, waiting for its run. It is
// labelled to live for wait and then the spec's timeout; Run refuses it
// once wait has passed. Either Run or Remove must be called.
type Prepared struct {
	d        Driver
	sb       Sandbox
	spec     *sandbox.Spec // the lifecycle's copy; a warm sandbox's is set by its run
	ready    time.Time
	wait     time.Duration
	consumed atomic.Bool
	// background: the sandbox is removed after its run in the background
	// (a warm sandbox, whose caller wants the Result first).
	background bool
	removed    chan struct{} // closes once the sandbox is gone
	removeOnce sync.Once
	removeErr  error
}

var _ sandbox.Prepared = (*Prepared)(nil)

// Prepare validates spec and makes its sandbox with d; nothing runs yet.
// The sandbox may wait up to wait for its run (0: it is run at once); a
// sweep leaves it alone until then, and its timeout starts with Run.
func Prepare(ctx context.Context, d Driver, spec *sandbox.Spec, wait time.Duration) (*Prepared, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	if d.Images() && spec.Image == "" {
		return nil, fmt.Errorf("%w: no image", sandbox.ErrInvalidSpec)
	}
	own := copySpec(spec)
	now := time.Now()
	setupCtx, cancel := context.WithTimeout(ctx, SetupTimeout)
	defer cancel()
	sb, err := d.Prepare(setupCtx, own, now.Add(wait+own.Limits.Timeout))
	if err != nil {
		return nil, err
	}
	d.Metrics().Prepared(d.Name(), time.Since(now))
	return &Prepared{d: d, sb: sb, spec: own, ready: time.Now(), wait: wait, removed: make(chan struct{})}, nil
}

// copySpec is the lifecycle's own copy of spec, which a driver may adjust.
func copySpec(spec *sandbox.Spec) *sandbox.Spec {
	own := *spec
	own.Args, own.Env, own.Files = append([]string(nil), spec.Args...), append([]string(nil), spec.Env...), append([]sandbox.File(nil), spec.Files...)
	return &own
}

// ErrConsumed is the error of a second Run, or of Run after Remove.
var ErrConsumed = errors.New("this prepared sandbox was already run or removed")

// Run runs the spec the sandbox was prepared for, and removes the sandbox
// on every path. Its Result and error are as sandbox.Backend.Run's.
func (p *Prepared) Run(ctx context.Context) (res *sandbox.Result, err error) {
	if p.consumed.Swap(true) {
		return nil, ErrConsumed
	}
	return p.runOnce(ctx)
}

// runOnce is Run once the sandbox is claimed.
func (p *Prepared) runOnce(ctx context.Context) (res *sandbox.Result, err error) {
	defer func() {
		if p.background {
			go p.remove()
		} else {
			_ = p.remove()
		}
	}()
	if p.wait > 0 && time.Since(p.ready) > p.wait {
		return nil, fmt.Errorf("%w: the prepared sandbox waited %v, longer than its %v: prepare a new one",
			sandbox.ErrUnavailable, time.Since(p.ready).Round(time.Second), p.wait)
	}
	res, err = p.run(ctx)
	if err != nil && ctx.Err() != nil {
		return cancelled(ctx, p.spec, p.d), nil
	}
	return res, err
}

// Remove removes a sandbox that will not run. After Run it does nothing.
func (p *Prepared) Remove() error {
	if p.consumed.Swap(true) {
		return nil
	}
	return p.remove()
}

// remove removes the sandbox, once; a failure is logged and counted, for
// the next sweep to finish.
func (p *Prepared) remove() error {
	p.removeOnce.Do(func() {
		defer close(p.removed)
		if p.removeErr = p.sb.Remove(); p.removeErr != nil {
			p.d.Metrics().CleanupFailed(p.d.Name())
			p.d.Log().WithField("run", p.spec.RunID).WithError(p.removeErr).Error("sandbox left behind; the next run's sweep removes it")
		}
	})
	return p.removeErr
}

// run drives the sandbox from putting files in to the tool's end.
func (p *Prepared) run(ctx context.Context) (*sandbox.Result, error) {
	spec, sb := p.spec, p.sb
	setup := func(step string, do func(context.Context) error) error {
		stepCtx, cancel := context.WithTimeout(ctx, SetupTimeout)
		defer cancel()
		if err := do(stepCtx); err != nil {
			return fmt.Errorf("%s: %w", step, err)
		}
		return nil
	}
	if spec.Tool != nil || len(spec.Files) > 0 {
		if err := setup("put the files in", func(ctx context.Context) error { return sb.Put(ctx, spec.Tool, spec.Files) }); err != nil {
			return nil, err
		}
	}
	stdout, stderr := spec.Captures()
	var streams Streams
	if err := setup("attach", func(ctx context.Context) (err error) {
		streams, err = sb.Attach(ctx, spec.Stdin, stdout, stderr)
		return err
	}); err != nil {
		return nil, err
	}
	if err := setup("start the sandbox", sb.Start); err != nil {
		return nil, err
	}
	res := p.newResult()
	code, err := supervise(ctx, spec, sb, res)
	if err != nil {
		return nil, err
	}
	drain(streams)
	res.Stdout, res.Stderr = stdout.Output(), stderr.Output()
	if e, ok := sb.(Ender); ok && res.Status == "" {
		res.Status, res.Reason = e.Ended()
	}
	if res.Status == "" {
		oom, err := oomKilled(sb, code)
		if err != nil {
			return nil, fmt.Errorf("ask about an OOM kill: %w", err)
		}
		if oom {
			res.Status = sandbox.StatusOOM
			res.Reason = fmt.Sprintf("out of memory: the limit is %d MiB", spec.Limits.MemoryBytes>>20)
		}
	}
	res.Finish(code)
	if c, ok := sb.(CPUReporter); ok {
		if cpu, known := c.CPUTime(); known {
			res.CPUTime = cpu
		}
	}
	if v, ok := sb.(Verifier); ok && (res.Status == sandbox.StatusOK || res.Status == sandbox.StatusFailed) {
		if err := v.Verify(res); err != nil {
			return nil, err
		}
	}
	if spec.Output {
		collectOutput(sb, res)
	}
	return res, nil
}

// collectOutput puts what the tool left in its output directory into
// res. A failure to collect it is a note: the run, and what the tool
// printed, still stand.
func collectOutput(sb Sandbox, res *sandbox.Result) {
	ctx, cancel := context.WithTimeout(context.Background(), CleanupTimeout)
	defer cancel()
	col, err := sb.Output(ctx)
	if col != nil {
		res.Files = col.Files
		res.Notes = append(res.Notes, col.Notes()...)
	}
	if err != nil {
		res.Notes = append(res.Notes, "output: not everything could be collected: "+err.Error())
	}
}

// newResult starts the Result of the run, filled with everything known
// before the tool starts.
func (p *Prepared) newResult() *sandbox.Result {
	res := resultOf(p.spec, p.d)
	res.Degraded = append(res.Degraded, p.sb.Degraded()...)
	if p.spec.Seccomp != nil && p.spec.Seccomp.Unconfined {
		res.Degraded = append(res.Degraded, sandbox.UnconfinedNote)
	}
	return res
}

// resultOf is the Result every run of spec on d starts from: the image is
// named only where the backend runs one.
func resultOf(spec *sandbox.Spec, d Driver) *sandbox.Result {
	res := sandbox.NewResult(spec, d.Name())
	if !d.Images() {
		res.Image = ""
	}
	return res
}

// cancelled is the Result of a run whose context ended before its tool
// could start: the same outcome as a cancel after the start.
func cancelled(ctx context.Context, spec *sandbox.Spec, d Driver) *sandbox.Result {
	res := resultOf(spec, d)
	res.Status, res.Reason = sandbox.StatusKilled, cancelReason(ctx)
	res.Finish(0)
	return res
}

func cancelReason(ctx context.Context) string {
	return "cancelled: " + context.Cause(ctx).Error()
}

type exit struct {
	code int
	err  error
}

// supervise sees the started tool to its end: its exit, the wall timeout
// (StatusTimeout) or a cancel of ctx (StatusKilled), which kill it. It
// returns the tool's exit code with the sandbox stopped.
func supervise(ctx context.Context, spec *sandbox.Spec, sb Sandbox, res *sandbox.Result) (int, error) {
	started := time.Now()
	// Wait on a context of our own: after a cancel we still need the exit.
	waitCtx, stopWait := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWait()
	exited := make(chan exit, 1)
	go func() {
		code, err := sb.Wait(waitCtx)
		exited <- exit{code, err}
	}()
	timer := time.NewTimer(spec.Limits.Timeout)
	defer timer.Stop()
	var e exit
	select {
	case e = <-exited:
	case <-timer.C:
		res.Status, res.Reason = sandbox.StatusTimeout, fmt.Sprintf("killed after the %v timeout", spec.Limits.Timeout)
		e = kill(sb, exited)
	case <-ctx.Done():
		res.Status, res.Reason = sandbox.StatusKilled, cancelReason(ctx)
		e = kill(sb, exited)
	}
	res.Duration = time.Since(started)
	return e.code, e.err
}

// kill kills the sandbox and waits for the tool's exit, within
// CleanupTimeout.
func kill(sb Sandbox, exited <-chan exit) exit {
	ctx, cancel := context.WithTimeout(context.Background(), CleanupTimeout)
	defer cancel()
	if err := sb.Kill(ctx); err != nil {
		return exit{err: fmt.Errorf("kill the sandbox: %w", err)}
	}
	select {
	case e := <-exited:
		return e
	case <-ctx.Done():
		return exit{err: fmt.Errorf("the killed sandbox did not stop within %v", CleanupTimeout)}
	}
}

// drain waits for the output to end, and ends it after DrainTimeout.
func drain(s Streams) {
	if s.Drained == nil {
		return
	}
	select {
	case <-s.Drained:
	case <-time.After(DrainTimeout):
		if s.Abort != nil {
			s.Abort()
		}
		<-s.Drained
	}
}

// oomKilled asks whether the OOM killer struck. An engine may report the
// exit before it has recorded the OOM event, so when the tool died of
// SIGKILL (code 137 from the init) it asks again for a short while.
func oomKilled(sb Sandbox, code int) (bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), CleanupTimeout)
	defer cancel()
	for try := 0; ; try++ {
		oom, err := sb.OOMKilled(ctx)
		if err != nil || oom || code != sandbox.ExitKilled || try == oomRetries {
			return oom, err
		}
		time.Sleep(oomRetryDelay)
	}
}

// How long oomKilled keeps asking after a SIGKILL: 40 × 50 ms. Under
// load, Docker with runsc was seen to record the OOM more than 0.5 s after
// the exit; a tool killed by SIGKILL for another reason pays this wait.
const (
	oomRetries    = 40
	oomRetryDelay = 50 * time.Millisecond
)
