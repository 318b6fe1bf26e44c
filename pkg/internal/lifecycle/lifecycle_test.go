package lifecycle

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/sablebox/sablebox/pkg/internal/engine"
	"github.com/sablebox/sablebox/pkg/metrics"
	"github.com/sablebox/sablebox/pkg/sandbox"
)

// The lifecycle's own decisions, on a scripted sandbox: the paths no real
// engine can be made to take on demand (a panic in a writer, a failed
// step, a stale prepared sandbox). The conformance suite runs the same
// lifecycle on every real backend.

type script struct {
	deadline   time.Time
	prepErr    error
	putErr     error
	code       int
	exitIn     time.Duration // the tool "runs" this long
	oom        bool
	verify     error
	startPanic bool
	output     string
	removed    atomic.Int32
	killed     atomic.Bool
	exited     chan struct{}
	exitOnce   sync.Once
}

func (s *script) Name() string            { return "scripted" }
func (s *script) Images() bool            { return false }
func (s *script) Log() logrus.FieldLogger { return sandbox.Logger(nil) }
func (s *script) Metrics() *metrics.Runs  { return nil }
func (s *script) Prepare(_ context.Context, _ *sandbox.Spec, deadline time.Time) (Sandbox, error) {
	s.deadline = deadline
	if s.prepErr != nil {
		return nil, s.prepErr
	}
	s.exited = make(chan struct{})
	return (*scripted)(s), nil
}

type scripted script

func (s *scripted) Put(context.Context, *sandbox.ToolFile, []sandbox.File) error { return s.putErr }
func (s *scripted) Attach(_ context.Context, _ io.Reader, stdout, _ io.Writer) (Streams, error) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		<-s.exited
		_, _ = io.WriteString(stdout, s.output)
	}()
	return Streams{Drained: done}, nil
}
func (s *scripted) Start(context.Context) error {
	if s.startPanic {
		panic("driver bug")
	}
	time.AfterFunc(s.exitIn, s.exit)
	return nil
}
func (s *scripted) Wait(ctx context.Context) (int, error) {
	select {
	case <-s.exited:
		if s.killed.Load() {
			return sandbox.ExitKilled, nil
		}
		return s.code, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}
func (s *scripted) Kill(context.Context) error {
	s.killed.Store(true)
	s.exit()
	return nil
}
func (s *scripted) exit() { s.exitOnce.Do(func() { close(s.exited) }) }

func (s *scripted) OOMKilled(context.Context) (bool, error) { return s.oom, nil }
func (s *scripted) Output(context.Context) (*engine.Collected, error) {
	return &engine.Collected{Files: []sandbox.File{{Path: "out.txt", Content: []byte("o")}}}, nil
}
func (s *scripted) Degraded() []string           { return []string{"seccomp: none here"} }
func (s *scripted) Remove() error                { s.removed.Add(1); return nil }
func (s *scripted) Verify(*sandbox.Result) error { return s.verify }
func (s *script) removals() int32                { return s.removed.Load() }
func testSpec() *sandbox.Spec {
	return &sandbox.Spec{RunID: "r1", Command: []string{"true"}, Limits: sandbox.DefaultLimits(),
		Seccomp: &sandbox.SeccompProfile{Name: "p", JSON: []byte("{}")}, PassedOver: []string{"docker: down"}}
}

func TestAResultIsAssembledOnce(t *testing.T) {
	d := &script{code: 3, output: "hi"}
	res, err := Run(context.Background(), d, testSpec())
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != sandbox.StatusFailed || res.ExitCode != 3 || res.Stdout.String() != "hi" ||
		res.Backend != "scripted" || len(res.Degraded) != 1 || len(res.PassedOver) != 1 || res.Seccomp.Name != "p" {
		t.Fatalf("result %+v", res)
	}
	if d.removals() != 1 {
		t.Fatalf("removed %d times", d.removals())
	}
}

func TestTimeoutKillsAndCountsFromTheStart(t *testing.T) {
	d := &script{exitIn: time.Hour}
	spec := testSpec()
	spec.Limits.Timeout = 100 * time.Millisecond
	before := time.Now()
	p, err := Prepare(context.Background(), d, spec, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if got := d.deadline.Sub(before); got < time.Minute+spec.Limits.Timeout {
		t.Errorf("labelled to live %v: a sweep would remove it while it waits", got)
	}
	time.Sleep(2 * spec.Limits.Timeout) // waiting does not eat into the timeout
	res, err := p.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != sandbox.StatusTimeout || res.ExitCode != sandbox.ExitTimeout || !d.killed.Load() {
		t.Fatalf("status %s exit %d killed %v", res.Status, res.ExitCode, d.killed.Load())
	}
	if res.Duration < spec.Limits.Timeout || res.Duration > time.Second {
		t.Errorf("duration %v: the timeout counts from the start", res.Duration)
	}
}

func TestOOMAndVerify(t *testing.T) {
	res, err := Run(context.Background(), &script{code: sandbox.ExitKilled, oom: true}, testSpec())
	if err != nil || res.Status != sandbox.StatusOOM || res.ExitCode != sandbox.ExitKilled {
		t.Fatalf("oom: %+v, %v", res, err)
	}
	d := &script{verify: errors.New("setup died")}
	if _, err := Run(context.Background(), d, testSpec()); err == nil || d.removals() != 1 {
		t.Fatalf("verify: %v, removed %d", err, d.removals())
	}
}

func TestEveryPathRemoves(t *testing.T) {
	// A failed step.
	d := &script{putErr: errors.New("disk full")}
	spec := testSpec()
	spec.Command, spec.Tool = nil, &sandbox.ToolFile{Name: "t.py"}
	if _, err := Run(context.Background(), d, spec); err == nil || !strings.Contains(err.Error(), "put the files in: disk full") {
		t.Fatalf("got %v", err)
	}
	if d.removals() != 1 {
		t.Fatalf("failed put: removed %d times", d.removals())
	}
	// A panic on the run's goroutine (a driver's bug) that the caller
	// recovers.
	d = &script{startPanic: true}
	func() {
		defer func() { _ = recover() }()
		_, _ = Run(context.Background(), d, testSpec())
	}()
	if d.removals() != 1 {
		t.Fatalf("panic: removed %d times", d.removals())
	}
	// A caller's writer that panics ends the streaming, not the run.
	d = &script{output: "kept"}
	spec = testSpec()
	spec.Stdout = panicWriter{}
	if res, err := Run(context.Background(), d, spec); err != nil || res.Stdout.String() != "kept" || d.removals() != 1 {
		t.Fatalf("panicking writer: %+v, %v", res, err)
	}
	// A cancel: a killed Result, removed.
	d = &script{exitIn: time.Hour}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	res, err := Run(ctx, d, testSpec())
	if err != nil || res.Status != sandbox.StatusKilled || d.removals() != 1 {
		t.Fatalf("cancel: %+v, %v, removed %d", res, err, d.removals())
	}
	// A failed prepare leaves nothing to remove, and a cancelled one is a
	// killed run.
	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	res, err = Run(ctx, &script{prepErr: context.Canceled}, testSpec())
	if err != nil || res.Status != sandbox.StatusKilled {
		t.Fatalf("cancelled prepare: %+v, %v", res, err)
	}
}

type panicWriter struct{}

func (panicWriter) Write([]byte) (int, error) { panic("caller's writer") }

func TestAPreparedSandboxRunsOnceAndGoesStale(t *testing.T) {
	d := &script{}
	p, err := Prepare(context.Background(), d, testSpec(), time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond)
	if _, err := p.Run(context.Background()); !errors.Is(err, sandbox.ErrUnavailable) || d.removals() != 1 {
		t.Fatalf("stale: %v, removed %d", err, d.removals())
	}
	if _, err := p.Run(context.Background()); !errors.Is(err, ErrConsumed) {
		t.Fatalf("second run: %v", err)
	}
	if err := p.Remove(); err != nil || d.removals() != 1 {
		t.Fatalf("remove after run: %v, removed %d", err, d.removals())
	}
	if _, err := Prepare(context.Background(), d, &sandbox.Spec{}, 0); !errors.Is(err, sandbox.ErrInvalidSpec) {
		t.Fatalf("invalid spec: %v", err)
	}
}
