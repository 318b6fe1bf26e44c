package lifecycle

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sablebox/sablebox/pkg/sandbox"
)

// warmScript is the scripted driver as a WarmDriver: its sandbox is
// bound to the spec it runs and can be made stale.
type warmScript struct {
	script
	bound *sandbox.Spec
	stale error
}

func (w *warmScript) Warm(ctx context.Context, shape *sandbox.Spec, deadline time.Time) (WarmSandbox, error) {
	sb, err := w.Prepare(ctx, shape, deadline)
	if err != nil {
		return nil, err
	}
	return warmScripted{sb.(*scripted), w}, nil
}

type warmScripted struct {
	*scripted
	w *warmScript
}

func (s warmScripted) Bind(spec *sandbox.Spec) { s.w.bound = spec }
func (s warmScripted) Alive() error            { return s.w.stale }

func shapeOf(spec *sandbox.Spec) *sandbox.Spec {
	shape := sandbox.Shape(spec)
	shape.Image = "img"
	return shape
}

func TestAWarmSandboxTakesOneFittingRun(t *testing.T) {
	d := &warmScript{script: script{code: 0, output: "warm"}}
	spec := testSpec()
	spec.Image = "img"
	shape := shapeOf(spec)
	shape.Limits.Timeout = 200 * time.Millisecond
	before := time.Now()
	w, err := Warm(context.Background(), d, shape, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if got := d.deadline.Sub(before); got < time.Minute+shape.Limits.Timeout {
		t.Errorf("labelled to live %v: a sweep would take it while it waits", got)
	}
	other := testSpec()
	other.Image = "other"
	if _, err := w.Run(context.Background(), other); !errors.Is(err, sandbox.ErrInvalidSpec) {
		t.Fatalf("a spec of another image: want ErrInvalidSpec, got %v", err)
	}
	if err := w.Alive(); err != nil {
		t.Fatalf("a refused spec used the sandbox up: %v", err)
	}
	time.Sleep(2 * shape.Limits.Timeout) // waiting does not eat into the timeout
	spec.Limits.Timeout = shape.Limits.Timeout
	res, err := w.Run(context.Background(), spec)
	if err != nil || res.Status != sandbox.StatusOK || res.Stdout.String() != "warm" || d.bound == nil || d.bound.RunID != spec.RunID {
		t.Fatalf("result %+v, %v; bound %+v", res, err, d.bound)
	}
	<-w.Removed()
	if d.removals() != 1 {
		t.Fatalf("removed %d times", d.removals())
	}
	if _, err := w.Run(context.Background(), spec); !errors.Is(err, ErrConsumed) {
		t.Fatalf("a second run: want ErrConsumed, got %v", err)
	}
	if err := w.Remove(); err != nil || d.removals() != 1 {
		t.Fatalf("remove after the run: %v, removed %d times", err, d.removals())
	}
}

func TestAStaleWarmSandboxIsRemovedAndSaysSo(t *testing.T) {
	d := &warmScript{stale: errors.New("its container stopped")}
	spec := testSpec()
	spec.Image = "img"
	w, err := Warm(context.Background(), d, shapeOf(spec), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Run(context.Background(), spec); !errors.Is(err, sandbox.ErrWarmStale) {
		t.Fatalf("want ErrWarmStale, got %v", err)
	}
	<-w.Removed()
	if d.removals() != 1 {
		t.Fatalf("removed %d times", d.removals())
	}
}

func TestWarmRefusesAWaitBeyondPreparedWait(t *testing.T) {
	spec := testSpec()
	spec.Image = "img"
	for _, wait := range []time.Duration{0, sandbox.PreparedWait + time.Second} {
		if _, err := Warm(context.Background(), &warmScript{}, shapeOf(spec), wait); !errors.Is(err, sandbox.ErrInvalidSpec) {
			t.Errorf("wait %v: want ErrInvalidSpec, got %v", wait, err)
		}
	}
}
