package lifecycle

import (
	"context"
	"fmt"
	"time"

	"github.com/sablebox/sablebox/pkg/sandbox"
)

// WarmDriver is a Driver that can start a sandbox ahead of its spec.
type WarmDriver interface {
	Driver
	// Warm makes a sandbox for runs of shape's image, limits, seccomp
	// profile and output directory, and starts it running a bootstrap
	// that waits for one run; it is labelled to live until deadline. Its
	// Attach and Start then hand the run over (Bind comes first). ctx
	// bounds the start only. On an error nothing it made is left.
	Warm(ctx context.Context, shape *sandbox.Spec, deadline time.Time) (WarmSandbox, error)
}

// WarmSandbox is a sandbox whose bootstrap already runs.
type WarmSandbox interface {
	Sandbox
	// Bind gives the sandbox its run, before Put: the driver adjusts spec
	// (the lifecycle's copy) as its Prepare would, and Start hands spec's
	// command, arguments and environment to the bootstrap.
	Bind(spec *sandbox.Spec)
	// Alive is nil while the bootstrap waits for its run.
	Alive() error
}

// Warmed is a warm sandbox waiting for its one run; see sandbox.Warm.
type Warmed struct {
	p     *Prepared
	sb    WarmSandbox
	shape *sandbox.Spec
}

var _ sandbox.Warm = (*Warmed)(nil)

// warmCommand stands in for the command when the shape is validated.
var warmCommand = []string{"true"}

// Warm validates shape and starts its sandbox with d; it waits up to wait
// for its run, and a sweep leaves it alone until then. The sandbox is
// named by shape.RunID when it is set (a test that warms one sandbox per
// run), by a run ID of its own otherwise.
func Warm(ctx context.Context, d WarmDriver, shape *sandbox.Spec, wait time.Duration) (*Warmed, error) {
	own := sandbox.Shape(shape)
	own.Command = warmCommand
	if own.RunID == "" {
		own.RunID = sandbox.NewRunID()
	}
	if err := own.Validate(); err != nil {
		return nil, err
	}
	if own.Image == "" {
		return nil, fmt.Errorf("%w: no image", sandbox.ErrInvalidSpec)
	}
	if wait <= 0 || wait > sandbox.PreparedWait {
		return nil, fmt.Errorf("%w: a warm sandbox may wait more than 0 and at most %v, not %v", sandbox.ErrInvalidSpec, sandbox.PreparedWait, wait)
	}
	own.Command = nil
	now := time.Now()
	setupCtx, cancel := context.WithTimeout(ctx, SetupTimeout)
	defer cancel()
	sb, err := d.Warm(setupCtx, own, now.Add(wait+own.Limits.Timeout))
	if err != nil {
		return nil, err
	}
	d.Metrics().Prepared(d.Name(), time.Since(now))
	p := &Prepared{d: d, sb: sb, spec: own, ready: time.Now(), wait: wait, background: true, removed: make(chan struct{})}
	return &Warmed{p: p, sb: sb, shape: sandbox.Shape(shape)}, nil
}

// Run runs spec in the warm sandbox: the same steps, timeout, caps and
// Result as a cold run, whose timeout starts now. The sandbox is removed
// in the background once the Result is made.
func (w *Warmed) Run(ctx context.Context, spec *sandbox.Spec) (*sandbox.Result, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	if why := sandbox.Mismatch(w.shape, spec); why != "" {
		return nil, fmt.Errorf("%w: the spec does not fit the warm sandbox: %s", sandbox.ErrInvalidSpec, why)
	}
	if w.p.consumed.Swap(true) {
		return nil, ErrConsumed
	}
	own := copySpec(spec)
	w.sb.Bind(own)
	w.p.spec = own
	if err := w.ready(); err != nil {
		go w.p.remove()
		return nil, fmt.Errorf("%w: %w: %v", sandbox.ErrUnavailable, sandbox.ErrWarmStale, err)
	}
	return w.p.runOnce(ctx)
}

// Alive is nil while the sandbox waits for its run, has not waited longer
// than it may, and its bootstrap runs.
func (w *Warmed) Alive() error {
	if w.p.consumed.Load() {
		return ErrConsumed
	}
	return w.ready()
}

// ready is nil while the sandbox may still take its run.
func (w *Warmed) ready() error {
	if waited := time.Since(w.p.ready); waited > w.p.wait {
		return fmt.Errorf("it waited %v, longer than its %v", waited.Round(time.Second), w.p.wait)
	}
	return w.sb.Alive()
}

// Remove removes a sandbox that will not run, or waits for the removal
// after its run.
func (w *Warmed) Remove() error {
	if w.p.consumed.Swap(true) {
		<-w.p.removed
		return w.p.removeErr
	}
	return w.p.remove()
}

// Removed closes once the sandbox is gone.
func (w *Warmed) Removed() <-chan struct{} { return w.p.removed }
