package sandbox

import "errors"

// Sentinel errors. Backends and the runner wrap them with context; callers
// test them with errors.Is. The CLI maps each to an exit code.
var (
	// ErrUnavailable means the backend cannot run tools on this host.
	ErrUnavailable = errors.New("backend unavailable")
	// ErrImageMissing means the sandbox image is not present on the engine.
	ErrImageMissing = errors.New("sandbox image missing")
	// ErrInvalidSpec means the run was refused before anything started
	// because its specification is malformed.
	ErrInvalidSpec = errors.New("invalid run specification")
	// ErrPolicy means a policy refused the run (exit code 126).
	ErrPolicy = errors.New("refused by policy")
)
