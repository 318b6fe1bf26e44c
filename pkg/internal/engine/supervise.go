package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/sablebox/sablebox/pkg/sandbox"
)

// Container is one created container, as Supervise drives it.
type Container interface {
	// Start starts the container.
	Start(ctx context.Context) error
	// Wait blocks until the container has exited and returns its code.
	Wait(ctx context.Context) (int, error)
	// Kill sends SIGKILL to every process in the container. Killing a
	// container that has already exited is not an error.
	Kill(ctx context.Context) error
	// OOMKilled reports whether the kernel's OOM killer struck in it.
	OOMKilled(ctx context.Context) (bool, error)
}

// Output is where a container's streams go: Supervise waits for Drained
// to close (the attach stream ended) before it reads the captures.
type Output struct {
	Stdout, Stderr *sandbox.Capture
	// Drained closes when the output stream has ended.
	Drained <-chan struct{}
	// Abort ends the output stream if it outlives the container.
	Abort func()
}

type exit struct {
	code int
	err  error
}

// Supervise starts c and sees it to its end: the tool's exit, the wall
// timeout (StatusTimeout), a cancel of ctx (StatusKilled) or the OOM
// killer (StatusOOM). It returns with the container stopped; removing it
// is the caller's job.
func Supervise(ctx context.Context, spec *sandbox.Spec, backend string, c Container, out Output) (*sandbox.Result, error) {
	startCtx, cancelStart := context.WithTimeout(ctx, SetupTimeout)
	err := c.Start(startCtx)
	cancelStart()
	if err != nil {
		return nil, fmt.Errorf("start the sandbox: %w", err)
	}
	started := time.Now()

	// Wait on a context of our own: after a cancel we still need the exit.
	waitCtx, stopWait := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWait()
	exited := make(chan exit, 1)
	go func() {
		code, err := c.Wait(waitCtx)
		exited <- exit{code, err}
	}()

	res := NewResult(spec, backend)
	timer := time.NewTimer(spec.Limits.Timeout)
	defer timer.Stop()
	var e exit
	select {
	case e = <-exited:
	case <-timer.C:
		res.Status, res.Reason = sandbox.StatusTimeout, fmt.Sprintf("killed after the %v timeout", spec.Limits.Timeout)
		e = kill(c, exited)
	case <-ctx.Done():
		res.Status, res.Reason = sandbox.StatusKilled, cancelReason(ctx)
		e = kill(c, exited)
	}
	res.Duration = time.Since(started)
	if e.err != nil {
		return nil, e.err
	}

	select {
	case <-out.Drained:
	case <-time.After(DrainTimeout):
		out.Abort()
		<-out.Drained
	}
	res.Stdout, res.Stderr = out.Stdout.Output(), out.Stderr.Output()

	if res.Status == "" {
		oom, err := oomKilled(c, e.code)
		if err != nil {
			return nil, fmt.Errorf("inspect container: %w", err)
		}
		if oom {
			res.Status = sandbox.StatusOOM
			res.Reason = fmt.Sprintf("out of memory: the limit is %d MiB", spec.Limits.MemoryBytes>>20)
		}
	}
	res.Finish(e.code)
	return res, nil
}

// oomKilled asks c whether the OOM killer struck. An engine may report the
// exit before it has recorded the OOM event, so when the tool died of
// SIGKILL (code 137 from the init) it asks again for a short while.
func oomKilled(c Container, code int) (bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), CleanupTimeout)
	defer cancel()
	for try := 0; ; try++ {
		oom, err := c.OOMKilled(ctx)
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

// kill kills c and waits for its exit, within CleanupTimeout.
func kill(c Container, exited <-chan exit) exit {
	ctx, cancel := context.WithTimeout(context.Background(), CleanupTimeout)
	defer cancel()
	if err := c.Kill(ctx); err != nil {
		return exit{err: fmt.Errorf("kill container: %w", err)}
	}
	select {
	case e := <-exited:
		return e
	case <-ctx.Done():
		return exit{err: fmt.Errorf("killed container did not exit within %v", CleanupTimeout)}
	}
}
