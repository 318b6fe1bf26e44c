package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/sablebox/sablebox/pkg/sandbox"
)

// cleanupTimeout bounds each cleanup call; cleanup runs on a fresh context
// because the run's own may already be cancelled.
const cleanupTimeout = 30 * time.Second

// setupTimeout bounds each engine call before the tool starts, so that a
// daemon that hangs fails the run instead of hanging it.
const setupTimeout = time.Minute

// drainTimeout bounds the wait for the output stream to end once the
// container has exited.
const drainTimeout = 5 * time.Second

// Run runs spec in a fresh container and removes it; see sandbox.Backend.
func (b *Backend) Run(ctx context.Context, spec *sandbox.Spec) (*sandbox.Result, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	if spec.Image == "" {
		return nil, fmt.Errorf("%w: no image", sandbox.ErrInvalidSpec)
	}
	res, err := b.createAndRun(ctx, spec)
	if err != nil && ctx.Err() != nil {
		// Cancelled before the tool started: the same outcome as after.
		return cancelledResult(ctx, spec), nil
	}
	return res, err
}

func (b *Backend) createAndRun(ctx context.Context, spec *sandbox.Spec) (*sandbox.Result, error) {
	setupCtx, cancelSetup := context.WithTimeout(ctx, setupTimeout)
	defer cancelSetup()
	b.negotiate(setupCtx)
	cfg, host := containerConfig(spec, b.owner, b.now())
	name := "sablebox-" + spec.RunID
	created, err := b.client.ContainerCreate(setupCtx, cfg, host, nil, nil, name)
	if err != nil {
		if setupCtx.Err() != nil {
			// The daemon may have created it before the cancel reached us.
			b.remove(name)
		}
		return nil, b.createError(spec.Image, err)
	}
	log := b.log.WithField("run", spec.RunID).WithField("container", created.ID[:12])
	defer func() {
		if err := b.remove(created.ID); err != nil {
			log.WithError(err).Error("container left behind; the next run's reaper removes it")
		}
	}()
	if len(created.Warnings) > 0 {
		// The daemon dropped a setting: never run with less than asked.
		return nil, fmt.Errorf("%w: the Docker daemon could not apply every protection: %s",
			sandbox.ErrUnavailable, strings.Join(created.Warnings, "; "))
	}
	return b.run(ctx, setupCtx, created.ID, spec)
}

// newResult starts the Result of spec.
func newResult(spec *sandbox.Spec) *sandbox.Result {
	return &sandbox.Result{
		RunID: spec.RunID, Backend: Name, Image: spec.Image, Limits: spec.Limits,
		Seccomp: sandbox.ProfileRef{Name: spec.Seccomp.Name, SHA256: spec.Seccomp.SHA256()},
	}
}

// cancelledResult is the Result of a run whose context ended.
func cancelledResult(ctx context.Context, spec *sandbox.Spec) *sandbox.Result {
	res := newResult(spec)
	res.Status, res.Reason = sandbox.StatusKilled, "cancelled: "+context.Cause(ctx).Error()
	res.Finish(0)
	return res
}

// run runs the created container; setupCtx bounds the calls before start.
func (b *Backend) run(ctx, setupCtx context.Context, id string, spec *sandbox.Spec) (*sandbox.Result, error) {
	if spec.Tool != nil {
		if err := b.client.CopyToContainer(setupCtx, id, sandbox.ToolDir, toolArchive(spec.Tool), container.CopyToContainerOptions{}); err != nil {
			return nil, fmt.Errorf("copy tool into container: %w", err)
		}
	}
	hj, err := b.client.ContainerAttach(ctx, id, container.AttachOptions{Stream: true, Stdin: true, Stdout: true, Stderr: true})
	if err != nil {
		return nil, fmt.Errorf("attach to container: %w", err)
	}
	defer hj.Close()

	// Wait on a context of our own: after a cancel we still need the exit.
	waitCtx, stopWait := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWait()
	waitC, waitErrC := b.client.ContainerWait(waitCtx, id, container.WaitConditionNextExit)

	stdout, stderr := sandbox.NewCapture(spec.Limits.OutputBytes), sandbox.NewCapture(spec.Limits.OutputBytes)
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		// The captures never fail, so the stream is read to its end.
		_, _ = stdcopy.StdCopy(stdout, stderr, hj.Reader)
	}()

	started := time.Now()
	if err := b.client.ContainerStart(setupCtx, id, container.StartOptions{}); err != nil {
		return nil, fmt.Errorf("start container: %w", err)
	}
	go feedStdin(hj, spec.Stdin)

	res := newResult(spec)
	timer := time.NewTimer(spec.Limits.Timeout)
	defer timer.Stop()
	var exit container.WaitResponse
	select {
	case exit = <-waitC:
	case err := <-waitErrC:
		return nil, fmt.Errorf("wait for container: %w", err)
	case <-timer.C:
		res.Status, res.Reason = sandbox.StatusTimeout, fmt.Sprintf("killed after the %v timeout", spec.Limits.Timeout)
		exit, err = b.kill(id, waitC, waitErrC)
	case <-ctx.Done():
		res.Status, res.Reason = sandbox.StatusKilled, "cancelled: "+context.Cause(ctx).Error()
		exit, err = b.kill(id, waitC, waitErrC)
	}
	res.Duration = time.Since(started)
	if err != nil {
		return nil, err
	}
	if exit.Error != nil && exit.Error.Message != "" {
		return nil, fmt.Errorf("wait for container: %s", exit.Error.Message)
	}

	select {
	case <-drained:
	case <-time.After(drainTimeout):
		b.log.WithField("run", spec.RunID).Warn("output stream did not end after exit; closing it")
		hj.Close()
		<-drained
	}
	res.Stdout, res.Stderr = stdout.Output(), stderr.Output()

	if res.Status == "" {
		if oom, err := b.oomKilled(id); err != nil {
			return nil, err
		} else if oom {
			res.Status = sandbox.StatusOOM
			res.Reason = fmt.Sprintf("out of memory: the limit is %d MiB", spec.Limits.MemoryBytes>>20)
		}
	}
	res.Finish(int(exit.StatusCode))
	return res, nil
}

// oomKilled reads whether the kernel's OOM killer struck in the container.
func (b *Backend) oomKilled(id string) (bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	info, err := b.client.ContainerInspect(ctx, id)
	if err != nil {
		return false, fmt.Errorf("inspect container: %w", err)
	}
	return info.State != nil && info.State.OOMKilled, nil
}

// kill sends SIGKILL to the whole container and waits for its exit.
func (b *Backend) kill(id string, waitC <-chan container.WaitResponse, waitErrC <-chan error) (container.WaitResponse, error) {
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	if err := b.client.ContainerKill(ctx, id, "KILL"); err != nil && !cerrdefs.IsConflict(err) && !cerrdefs.IsNotFound(err) {
		return container.WaitResponse{}, fmt.Errorf("kill container: %w", err)
	}
	select {
	case exit := <-waitC:
		return exit, nil
	case err := <-waitErrC:
		return container.WaitResponse{}, fmt.Errorf("wait for killed container: %w", err)
	case <-ctx.Done():
		return container.WaitResponse{}, fmt.Errorf("killed container did not exit within %v", cleanupTimeout)
	}
}

// remove force-removes a container and its anonymous volumes.
func (b *Backend) remove(id string) error {
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	err := b.client.ContainerRemove(ctx, id, container.RemoveOptions{Force: true, RemoveVolumes: true})
	if err != nil && !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("remove container: %w", err)
	}
	return nil
}

// ImagePresent reports whether ref is on the daemon.
func (b *Backend) ImagePresent(ctx context.Context, ref string) error {
	b.negotiate(ctx)
	if _, err := b.client.ImageInspect(ctx, ref); err != nil {
		if cerrdefs.IsNotFound(err) {
			return missingImage(ref)
		}
		return b.unavailable(err)
	}
	return nil
}

func missingImage(ref string) error {
	return fmt.Errorf("%w: image %q is not on the Docker daemon: build it with `sablebox image build` "+
		"(with no registry, run `sablebox image base --debian bookworm` first)", sandbox.ErrImageMissing, ref)
}

// createError classifies a failed create.
func (b *Backend) createError(image string, err error) error {
	switch {
	case cerrdefs.IsNotFound(err):
		return missingImage(image)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("create container: %w", err)
	case cerrdefs.IsInvalidArgument(err):
		return fmt.Errorf("create container: the daemon refused the sandbox settings: %w", err)
	default:
		return b.unavailable(err)
	}
}

// feedStdin copies r to the container's stdin and closes it, so a tool
// reading stdin sees EOF.
func feedStdin(hj types.HijackedResponse, r io.Reader) {
	if r != nil {
		_, _ = io.Copy(hj.Conn, r)
	}
	_ = hj.CloseWrite()
}

// toolArchive is a tar holding the tool file, root-owned and read-only.
func toolArchive(t *sandbox.ToolFile) io.Reader {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	// Writes to a bytes.Buffer cannot fail.
	_ = tw.WriteHeader(&tar.Header{
		Name: t.Name, Mode: 0o444, Size: int64(len(t.Content)),
		Uid: 0, Gid: 0, ModTime: time.Unix(0, 0), Typeflag: tar.TypeReg,
	})
	_, _ = tw.Write(t.Content)
	_ = tw.Close()
	return &buf
}
