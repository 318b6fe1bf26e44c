package sandbox

import (
	"bytes"
	"context"
	"errors"
	"time"
)

// ErrWarmStale is the error of a warm sandbox's Run when the sandbox
// could no longer take a run (Alive failed): nothing of the run started,
// so the caller may run it elsewhere.
var ErrWarmStale = errors.New("the warm sandbox cannot take the run")

// Warmer is a Backend that can start a sandbox before it knows the run it
// is for, for a warm pool: the sandbox gets every protection and limit of
// a cold run of its shape, runs a bootstrap that waits for exactly one
// run, and is removed after it.
type Warmer interface {
	Backend
	// Warm starts a sandbox for runs that fit shape (see Mismatch). Only
	// shape's image, limits, seccomp profile and Output matter (and its
	// RunID, which names the sandbox when set). It may wait up to wait
	// (at most PreparedWait) for its run, and is labelled to live no
	// longer than that and shape's timeout: a sweep by another sablebox,
	// which cannot tell whether its owner lives, removes it after that.
	// ctx bounds the start only.
	Warm(ctx context.Context, shape *Spec, wait time.Duration) (Warm, error)
}

// Warm is a started sandbox waiting for its one run. Exactly one of Run
// and Remove must be called; both are safe from any goroutine, and Alive
// may be called at any time.
type Warm interface {
	// Run runs spec, which must fit the sandbox's shape, with the same
	// timeout, output caps, statuses and Result as a cold run of spec:
	// the time the sandbox waited does not count. The Result is returned
	// as soon as the tool has ended; the sandbox is then removed in the
	// background (Removed closes when it is gone). A spec it refuses
	// (ErrInvalidSpec: invalid, or not of its shape) leaves the sandbox
	// waiting, still to be run or removed.
	Run(ctx context.Context, spec *Spec) (*Result, error)
	// Alive is nil while the sandbox waits, ready for its run; otherwise
	// it says why it cannot take one (its container stopped, the
	// engine's connection broke).
	Alive() error
	// Remove removes a sandbox that will not run and waits until it is
	// gone; after Run it waits for the background removal.
	Remove() error
	// Removed closes once the sandbox is gone.
	Removed() <-chan struct{}
}

// Reasons a spec does not fit a warm sandbox's shape (Mismatch); the
// Result's Pool field gives them after "miss: ".
const (
	MismatchImage     = "image differs"
	MismatchLimits    = "limits differ"
	MismatchSeccomp   = "seccomp profile differs"
	MismatchOutput    = "output directory differs"
	MismatchWorkspace = "workspace is a host directory"
)

// Mismatch says why spec cannot run in a sandbox warmed for shape, or ""
// when it can. Limits the engine enforces must be equal; the timeout may
// be shorter than the shape's (the lifecycle enforces it, and the
// sandbox's labels cover the shape's); the output caps may differ (the
// lifecycle enforces them). A host workspace is a bind mount, fixed when
// the container is made.
func Mismatch(shape, spec *Spec) string {
	switch {
	case spec.Image != shape.Image:
		return MismatchImage
	case spec.Seccomp == nil || shape.Seccomp == nil || !bytes.Equal(spec.Seccomp.JSON, shape.Seccomp.JSON) || spec.Seccomp.Unconfined != shape.Seccomp.Unconfined:
		return MismatchSeccomp
	case spec.Output != shape.Output:
		return MismatchOutput
	case spec.Workspace != "":
		return MismatchWorkspace
	}
	a, b := spec.Limits, shape.Limits
	if a.Timeout > b.Timeout {
		return MismatchLimits
	}
	a.Timeout, a.OutputBytes = b.Timeout, b.OutputBytes
	if a != b {
		return MismatchLimits
	}
	return ""
}

// Shape is the part of spec a warm sandbox is made for: its image,
// limits, seccomp profile and output directory (and its RunID), with
// nothing to run.
func Shape(spec *Spec) *Spec {
	return &Spec{RunID: spec.RunID, Image: spec.Image, Limits: spec.Limits, Seccomp: spec.Seccomp, Output: spec.Output}
}
