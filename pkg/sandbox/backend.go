package sandbox

import (
	"context"
	"io"
	"time"

	"github.com/sirupsen/logrus"
)

// Backend runs one Spec in an isolated environment.
//
// The contract every implementation keeps, and that sandboxtest checks:
//
//   - Run blocks until the tool has ended and everything the run created
//     (containers, processes, volumes, temp dirs) is gone. Cleanup happens on
//     every path: normal exit, timeout, cancellation of ctx, an error, and a
//     panic in the caller's goroutine.
//   - Cancelling ctx kills the tool at once; Run then returns a Result with
//     StatusKilled and the output read so far, and a nil error.
//   - The wall timeout (Spec.Limits.Timeout) ends the tool with StatusTimeout
//     and exit code 124; running out of memory ends it with StatusOOM and 137.
//   - A tool that runs and fails is not an error: Run returns its Result
//     with StatusFailed and the tool's exit code. A non-nil error means the
//     sandbox itself could not do its job; it wraps ErrUnavailable when the
//     backend cannot work on this host (daemon down, missing runtime),
//     ErrImageMissing when the image is absent, and ErrInvalidSpec when the
//     Spec was refused before anything started.
//   - Run may be called concurrently from several goroutines; runs share
//     nothing but the engine connection.
//   - A backend never weakens a protection silently: a protection it cannot
//     apply is either an error or, where the spec allows it, listed in
//     Result.Degraded.
//   - Prepare makes the sandbox of a spec ahead of its run (for a pool):
//     nothing runs in it, no sweep removes it for PreparedWait, and its
//     timeout starts when it is run. Run is Prepare and Prepared.Run.
type Backend interface {
	// Name is the short name users select the backend by ("docker").
	Name() string
	// Check reports whether the backend can run tools here with every
	// protection; the error wraps ErrUnavailable and says why not. It asks
	// the engine and may take a while (Podman's info: about 200 ms), so
	// auto selection and doctor call it, and any goroutine may call it
	// at any time. Run never relies on it having been called: what Run
	// needs to refuse a weak engine it makes sure of itself (Docker runs
	// Check before its first run; Podman reads every container back).
	Check(ctx context.Context) error
	// Describe reports what the backend is and which protections it applies
	// on this host, for `sablebox doctor`.
	Describe(ctx context.Context) Description
	// Run runs spec to completion; see the interface comment for the contract.
	Run(ctx context.Context, spec *Spec) (*Result, error)
	// Prepare validates spec and makes its sandbox, to be run within
	// PreparedWait; ctx bounds the preparation only. Errors are as Run's.
	Prepare(ctx context.Context, spec *Spec) (Prepared, error)
	// Reap removes what earlier runs left behind when their owner died or
	// their deadline passed, and returns how many it removed.
	Reap(ctx context.Context) (int, error)
	// Close releases the backend's connections. Runs must have ended.
	Close() error
}

// Prepared is a sandbox made for one spec, waiting for its run. Exactly
// one of Run and Remove must be called; both are safe from any goroutine.
type Prepared interface {
	// Run runs the spec and removes the sandbox, as Backend.Run does; a
	// sandbox that waited longer than PreparedWait is refused (removed,
	// ErrUnavailable).
	Run(ctx context.Context) (*Result, error)
	// Remove removes a sandbox that will not be run; after Run it does
	// nothing.
	Remove() error
}

// PreparedWait is how long a prepared sandbox may wait for its run.
const PreparedWait = 10 * time.Minute

// Description is what a backend tells about itself on this host.
type Description struct {
	// Name is the backend's name.
	Name string `json:"name"`
	// Usable is true when Check passed.
	Usable bool `json:"usable"`
	// Reason says why the backend is not usable; empty when it is.
	Reason string `json:"reason,omitempty"`
	// Details are facts about the engine (version, API, OCI runtime, image).
	Details map[string]string `json:"details,omitempty"`
	// Protections lists the protections applied to every run on this host.
	Protections []string `json:"protections,omitempty"`
}

// ImageBackend is implemented by backends that run container images.
type ImageBackend interface {
	Backend
	// ImagePresent returns nil when ref is on the engine, or an error that
	// wraps ErrImageMissing and says how to get the image.
	ImagePresent(ctx context.Context, ref string) error
}

// Logger returns l, or a logger that discards everything when l is nil:
// library code logs only when its caller asks it to.
func Logger(l logrus.FieldLogger) logrus.FieldLogger {
	if l != nil {
		return l
	}
	quiet := logrus.New()
	quiet.SetOutput(io.Discard)
	quiet.SetLevel(logrus.PanicLevel)
	return quiet
}
