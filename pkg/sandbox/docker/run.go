package docker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/sablebox/sablebox/pkg/internal/engine"
	"github.com/sablebox/sablebox/pkg/sandbox"
)

// Run runs spec in a fresh container and removes it; see sandbox.Backend.
func (b *Backend) Run(ctx context.Context, spec *sandbox.Spec) (*sandbox.Result, error) {
	spec, degraded := b.adjust(spec)
	return engine.Run(ctx, spec, engine.Lifecycle{Backend: Name, Images: true, Degraded: func() []string {
		// The runtime's gaps are known once a Check has passed, which
		// createAndRun makes sure of before anything runs.
		return append(append([]string{}, b.gaps...), degraded...)
	}}, b.createAndRun)
}

// RunscMinPids is the lowest host pids limit gVisor runs under: on its
// ptrace platform its own processes count against it, and below this a
// fork bomb kills the whole sandbox instead of being refused.
const RunscMinPids = 128

// OutputExecNote is the Result.Degraded entry of a Docker run with an
// output directory.
const OutputExecNote = "output: /output allows exec on Docker (the Engine API cannot mount a bind noexec); /tmp and the home dir stay noexec"

// adjust returns the spec the engine can run, and says what differs from
// what was asked. Under runsc the host pids limit is raised to
// RunscMinPids, and the tool's own bound moves to RLIMIT_NPROC, which
// gVisor enforces per sandbox (not per host user, as the host kernel does).
func (b *Backend) adjust(spec *sandbox.Spec) (*sandbox.Spec, []string) {
	var notes []string
	if spec.Output != "" {
		notes = append(notes, OutputExecNote)
	}
	if b.ociRuntime != "runsc" || spec.Limits.Pids >= RunscMinPids {
		return spec, notes
	}
	adjusted := *spec
	adjusted.Limits.Pids = RunscMinPids
	adjusted.Limits.NProc = uint64(spec.Limits.Pids)
	return &adjusted, append(notes, fmt.Sprintf("pids: the host limit is %d under runsc (gVisor's own processes count against it); "+
		"the tool's processes are bounded at %d by RLIMIT_NPROC inside gVisor", RunscMinPids, spec.Limits.Pids))
}

func (b *Backend) createAndRun(ctx context.Context, spec *sandbox.Spec) (*sandbox.Result, error) {
	setupCtx, cancelSetup := context.WithTimeout(ctx, engine.SetupTimeout)
	defer cancelSetup()
	// A caller that names this backend (or a library user) may never have
	// called Check; what only Check sees (runsc registered without the
	// arguments its protections need) must refuse the run all the same.
	if !b.checked.Load() {
		if err := b.Check(setupCtx); err != nil {
			return nil, err
		}
	}
	labels := runLabels(spec, b.owner, b.now())
	cfg, host := containerConfig(spec, labels, b.ociRuntime)
	name := "sablebox-" + spec.RunID
	created, err := b.client.ContainerCreate(setupCtx, cfg, host, nil, nil, name)
	if err != nil {
		// The daemon may have made the container although the answer was
		// lost, and makes the tool volume before it checks every mount:
		// a refused create can leave the volume with no container.
		_ = b.remove(name)
		if verr := b.removeRunVolumes(spec.RunID); verr != nil {
			b.log.WithField("run", spec.RunID).WithError(verr).Error("volume left behind; the next run's reaper removes it")
		}
		return nil, b.createError(spec.Image, err)
	}
	id := created.ID
	defer func() {
		if err := b.remove(id); err != nil {
			b.log.WithField("run", spec.RunID).WithError(err).Error("container left behind; the next run's reaper removes it")
		}
	}()
	if len(created.Warnings) > 0 {
		// The daemon dropped a setting: never run with less than asked.
		return nil, fmt.Errorf("%w: the Docker daemon could not apply every protection: %s",
			sandbox.ErrUnavailable, strings.Join(created.Warnings, "; "))
	}
	if spec.Tool != nil {
		if err := b.client.CopyToContainer(setupCtx, id, sandbox.ToolDir, engine.ToolArchive(spec.Tool), container.CopyToContainerOptions{}); err != nil {
			return nil, fmt.Errorf("copy tool into container: %w", err)
		}
	}
	if len(spec.Files) > 0 {
		if err := b.client.CopyToContainer(setupCtx, id, sandbox.WorkspaceDir, engine.FilesArchive(spec.Files), container.CopyToContainerOptions{}); err != nil {
			return nil, fmt.Errorf("copy workspace files into container: %w", err)
		}
	}
	hj, err := b.client.ContainerAttach(ctx, id, container.AttachOptions{Stream: true, Stdin: true, Stdout: true, Stderr: true})
	if err != nil {
		return nil, fmt.Errorf("attach to container: %w", err)
	}
	defer hj.Close()
	out := engine.Output{Abort: hj.Close}
	out.Stdout, out.Stderr = spec.Captures()
	drained := make(chan struct{})
	out.Drained = drained
	go func() {
		defer close(drained)
		// The captures never fail, so the stream is read to its end.
		_, _ = stdcopy.StdCopy(out.Stdout, out.Stderr, hj.Reader)
	}()

	// Wait before start, so that a quick exit is not missed.
	waitCtx, stopWait := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWait()
	waitC, waitErrC := b.client.ContainerWait(waitCtx, id, container.WaitConditionNextExit)
	c := &dockerContainer{b: b, id: id, waitC: waitC, waitErrC: waitErrC, hj: hj, stdin: spec.Stdin}
	defer func() { c.watch.Close() }()
	return engine.Supervise(ctx, spec, Name, c, out)
}

// dockerContainer drives one created container for engine.Supervise.
type dockerContainer struct {
	b        *Backend
	id       string
	waitC    <-chan container.WaitResponse
	waitErrC <-chan error
	hj       types.HijackedResponse
	stdin    io.Reader
	watch    *engine.OOMWatch // nil where OOMs are left to Docker alone
}

func (c *dockerContainer) Start(ctx context.Context) error {
	if err := c.b.client.ContainerStart(ctx, c.id, container.StartOptions{}); err != nil {
		return err
	}
	if isLocalHost(c.b.client.DaemonHost()) {
		// Docker 20.10 on cgroup v1 now and then records no OOM kill:
		// watch the container's memory cgroup too (an OOM before the
		// watch is in the cgroup's counter).
		c.watch = engine.WatchOOM(dockerCgroups(c.id))
	}
	go feedStdin(c.hj, c.stdin)
	return nil
}

// dockerCgroups are where Docker puts a container's memory cgroup on v1:
// with the cgroupfs driver, then with systemd's.
func dockerCgroups(id string) []string {
	return []string{
		filepath.Join(engine.V1MemoryRoot, "docker", id),
		filepath.Join(engine.V1MemoryRoot, "system.slice", "docker-"+id+".scope"),
	}
}

func (c *dockerContainer) Wait(ctx context.Context) (int, error) {
	select {
	case exit := <-c.waitC:
		if exit.Error != nil && exit.Error.Message != "" {
			return 0, fmt.Errorf("wait for container: %s", exit.Error.Message)
		}
		return int(exit.StatusCode), nil
	case err := <-c.waitErrC:
		return 0, fmt.Errorf("wait for container: %w", err)
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

func (c *dockerContainer) Kill(ctx context.Context) error {
	err := c.b.client.ContainerKill(ctx, c.id, "KILL")
	if err != nil && !cerrdefs.IsConflict(err) && !cerrdefs.IsNotFound(err) {
		return err
	}
	return nil
}

func (c *dockerContainer) OOMKilled(ctx context.Context) (bool, error) {
	if c.watch.OOM() {
		return true, nil
	}
	info, err := c.b.client.ContainerInspect(ctx, c.id)
	if err != nil {
		return false, err
	}
	return info.State != nil && info.State.OOMKilled, nil
}

// remove force-removes a container and its anonymous volumes. A container
// already gone, or being removed by another sablebox's reaper, is fine.
func (b *Backend) remove(id string) error {
	ctx, cancel := context.WithTimeout(context.Background(), engine.CleanupTimeout)
	defer cancel()
	err := b.client.ContainerRemove(ctx, id, container.RemoveOptions{Force: true, RemoveVolumes: true})
	if err != nil && !cerrdefs.IsNotFound(err) && !cerrdefs.IsConflict(err) {
		return fmt.Errorf("remove container: %w", err)
	}
	return nil
}

// removeRunVolumes removes the volumes labelled with runID.
func (b *Backend) removeRunVolumes(runID string) error {
	ctx, cancel := context.WithTimeout(context.Background(), engine.CleanupTimeout)
	defer cancel()
	vols, err := b.client.VolumeList(ctx, volume.ListOptions{Filters: filters.NewArgs(filters.Arg("label", sandbox.LabelRun+"="+runID))})
	if err != nil {
		return fmt.Errorf("list the run's volumes: %w", err)
	}
	var errs []error
	for _, v := range vols.Volumes {
		errs = append(errs, b.removeVolume(v.Name))
	}
	return errors.Join(errs...)
}

// removeVolume removes a volume; one already gone is fine.
func (b *Backend) removeVolume(name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), engine.CleanupTimeout)
	defer cancel()
	err := b.client.VolumeRemove(ctx, name, true)
	if err != nil && !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("remove volume: %w", err)
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
