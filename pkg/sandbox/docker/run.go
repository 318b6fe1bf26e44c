package docker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/stdcopy"
	"github.com/sirupsen/logrus"

	"github.com/sablebox/sablebox/pkg/internal/engine"
	"github.com/sablebox/sablebox/pkg/internal/lifecycle"
	"github.com/sablebox/sablebox/pkg/metrics"
	"github.com/sablebox/sablebox/pkg/sandbox"
)

// Run runs spec in a fresh container and removes it; see sandbox.Backend.
func (b *Backend) Run(ctx context.Context, spec *sandbox.Spec) (*sandbox.Result, error) {
	return lifecycle.Run(ctx, driver{b}, spec)
}

// Prepare creates spec's container, to be run later; see sandbox.Backend.
func (b *Backend) Prepare(ctx context.Context, spec *sandbox.Spec) (sandbox.Prepared, error) {
	return lifecycle.Prepare(ctx, driver{b}, spec, sandbox.PreparedWait)
}

// driver is the Docker backend as the lifecycle drives it.
type driver struct{ b *Backend }

func (d driver) Name() string            { return Name }
func (d driver) Images() bool            { return true }
func (d driver) Log() logrus.FieldLogger { return d.b.log }
func (d driver) Metrics() *metrics.Runs  { return d.b.metrics }

// RunscMinPids is the lowest host pids limit gVisor runs under: on its
// ptrace platform its own processes count against it, and below this a
// fork bomb kills the whole sandbox instead of being refused.
const RunscMinPids = 128

// adjust changes spec to what the engine runs, and says what differs from
// what was asked. Under runsc the host pids limit is raised to
// RunscMinPids, and the tool's own bound moves to RLIMIT_NPROC, which
// gVisor enforces per sandbox (not per host user, as the host kernel does).
func (b *Backend) adjust(spec *sandbox.Spec) []string {
	if b.ociRuntime != "runsc" || spec.Limits.Pids >= RunscMinPids {
		return nil
	}
	asked := spec.Limits.Pids
	spec.Limits.Pids = RunscMinPids
	spec.Limits.NProc = uint64(asked)
	return []string{fmt.Sprintf("pids: the host limit is %d under runsc (gVisor's own processes count against it); "+
		"the tool's processes are bounded at %d by RLIMIT_NPROC inside gVisor", RunscMinPids, asked)}
}

// Prepare creates the container, labelled to live until deadline.
func (d driver) Prepare(ctx context.Context, spec *sandbox.Spec, deadline time.Time) (lifecycle.Sandbox, error) {
	return d.create(ctx, spec, deadline, false)
}

// create creates spec's container, or a warm container for runs of its
// shape.
func (d driver) create(ctx context.Context, spec *sandbox.Spec, deadline time.Time, warm bool) (*ctr, error) {
	b := d.b
	// A caller that names this backend (or a library user) may never have
	// called Check; what only Check sees (runsc registered without the
	// arguments its protections need) must refuse the run all the same.
	if !b.checked.Load() {
		if err := b.Check(ctx); err != nil {
			return nil, err
		}
	}
	degraded := b.adjust(spec)
	// The runtime's gaps are known once a Check has passed.
	degraded = append(append([]string{}, b.gaps...), degraded...)
	labels := runLabels(spec, b.owner, deadline)
	cfg, host := containerConfig(spec, labels, b.ociRuntime)
	var marks *engine.Handoff
	switch {
	case warm:
		warmConfig(cfg, host, labels)
	case spec.Output:
		// The output tmpfs goes with the container: a shell runs the tool
		// and marks its end, then writes a tar of it on the stream.
		marks = engine.NewHandoff()
		marks.TarsOutput = true
		marks.Bind(spec)
		cfg.Entrypoint, cfg.Cmd = marks.Entrypoint()
		no := false
		host.Init = &no // the shell reaps what the tool leaves, as the init would
	}
	name := "sablebox-" + spec.RunID
	created, err := b.client.ContainerCreate(ctx, cfg, host, nil, nil, name)
	if err != nil {
		// The daemon may have made the container although the answer was
		// lost, and makes the tool volume before it checks every mount:
		// a refused create can leave the volume with no container.
		_ = b.remove(name, false)
		if verr := b.removeRunVolumes(spec.RunID, warm); verr != nil {
			b.log.WithField("run", spec.RunID).WithError(verr).Error("volume left behind; the next run's reaper removes it")
		}
		return nil, b.createError(spec.Image, err)
	}
	c := &ctr{b: b, id: created.ID, runID: spec.RunID, degraded: degraded, marks: marks}
	if len(created.Warnings) > 0 {
		// The daemon dropped a setting: never run with less than asked.
		_ = c.Remove()
		return nil, fmt.Errorf("%w: the Docker daemon could not apply every protection: %s",
			sandbox.ErrUnavailable, strings.Join(created.Warnings, "; "))
	}
	if warm || spec.Tool != nil || len(spec.Files) > 0 {
		c.findVolumes(ctx)
	}
	return c, nil
}

// ctr is one created container.
type ctr struct {
	b        *Backend
	id       string
	runID    string
	degraded []string
	hj       types.HijackedResponse
	stdin    io.Reader
	drained  chan struct{} // closes when the attach stream ends
	exited   chan struct{} // closes when the wait has an answer
	exit     exitStatus
	stopWait context.CancelFunc
	watch    *engine.OOMWatch  // nil where OOMs are left to Docker alone
	cpu      *engine.CPUMeter  // nil where the cgroup cannot be read
	warm     bool              // a warm container, handed its run through marks
	marks    *engine.Handoff   // the end marks of a warm container or one with an output tmpfs; nil else
	volumes  map[string]string // the host directories of its volumes, by target, where Put may write them
}

// exitStatus is the answer of the container's wait.
type exitStatus struct {
	code int
	err  error
}

// CPUTime is the container's CPU time as its cgroup last showed it.
func (c *ctr) CPUTime() (time.Duration, bool) { return c.cpu.Stop() }

func (c *ctr) Degraded() []string { return c.degraded }

// Put copies the tool and the workspace files in through the archive API,
// or writes them into the volumes on this host when it can (see
// findVolumes).
func (c *ctr) Put(ctx context.Context, tool *sandbox.ToolFile, files []sandbox.File) error {
	if tool != nil {
		if dir := c.volumes[sandbox.ToolDir]; dir != "" {
			if err := engine.WriteTool(dir, tool); err != nil {
				return err
			}
		} else if err := c.b.client.CopyToContainer(ctx, c.id, sandbox.ToolDir, engine.ToolArchive(tool), container.CopyToContainerOptions{}); err != nil {
			return fmt.Errorf("copy the tool into the container: %w", err)
		}
	}
	if len(files) > 0 {
		if dir := c.volumes[sandbox.WorkspaceDir]; dir != "" {
			if err := engine.WriteFiles(dir, files); err != nil {
				return err
			}
		} else if err := c.b.client.CopyToContainer(ctx, c.id, sandbox.WorkspaceDir, engine.FilesArchive(files), container.CopyToContainerOptions{}); err != nil {
			return fmt.Errorf("copy the workspace files into the container: %w", err)
		}
	}
	return nil
}

// findVolumes finds, for a local daemon and a root sablebox, the host
// directories of the container's tool and workspace volumes, so that Put
// writes the run's files there instead of through the archive API.
// Anywhere else (a remote daemon, rootless, a directory this process
// cannot open) Put uses the archive API.
func (c *ctr) findVolumes(ctx context.Context) {
	if !isLocalHost(c.b.client.DaemonHost()) || os.Geteuid() != 0 {
		return
	}
	info, err := c.b.client.ContainerInspect(ctx, c.id)
	if err != nil {
		return
	}
	dirs := map[string]string{}
	for _, m := range info.Mounts {
		if m.Type != mount.TypeVolume || (m.Destination != sandbox.ToolDir && m.Destination != sandbox.WorkspaceDir) {
			continue
		}
		if st, err := os.Stat(m.Source); err == nil && st.IsDir() {
			dirs[m.Destination] = m.Source
		}
	}
	if len(dirs) > 0 && c.b.seesVolumes(ctx, c.id, dirs) {
		c.volumes = dirs
	}
}

// seesVolumes tells, once per backend, whether a volume's directory as
// this process sees it is the one the daemon mounts into the container:
// a sablebox in a container of its own, with the host's socket but
// another /var/lib/docker, would otherwise write where no tool looks. It
// puts a probe file there and asks the daemon for it.
func (b *Backend) seesVolumes(ctx context.Context, id string, dirs map[string]string) bool {
	switch b.hostWrites.Load() {
	case hostWritesYes:
		return true
	case hostWritesNo:
		return false
	}
	target, dir := sandbox.ToolDir, dirs[sandbox.ToolDir]
	if dir == "" {
		target, dir = sandbox.WorkspaceDir, dirs[sandbox.WorkspaceDir]
	}
	probe := ".sablebox-probe-" + sandbox.NewRunID()
	if err := os.WriteFile(filepath.Join(dir, probe), nil, 0o600); err != nil {
		b.hostWrites.Store(hostWritesNo)
		return false
	}
	_, err := b.client.ContainerStatPath(ctx, id, path.Join(target, probe))
	_ = os.Remove(filepath.Join(dir, probe))
	if err != nil && ctx.Err() != nil {
		return false // no answer: ask again with the next container
	}
	verdict := int32(hostWritesNo)
	if err == nil {
		verdict = hostWritesYes
	}
	b.hostWrites.Store(verdict)
	return err == nil
}

// Attach attaches to the container's streams and starts waiting for its
// exit, before the start, so that a quick exit is not missed.
func (c *ctr) Attach(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer) (lifecycle.Streams, error) {
	if c.warm {
		// Attached since the warm start: the run's output begins now,
		// and ends with the end marks or the stream.
		c.stdin = stdin
		c.marks.Connect(stdout, stderr)
		return lifecycle.Streams{Drained: c.marks.Drained(c.drained), Abort: c.hj.Close}, nil
	}
	if c.marks != nil {
		// The stream goes on after the tool's end: the output's tar.
		if _, err := c.attach(ctx, stdin, &c.marks.Stdout, &c.marks.Stderr); err != nil {
			return lifecycle.Streams{}, err
		}
		c.marks.Connect(stdout, stderr)
		return lifecycle.Streams{Drained: c.marks.Drained(c.drained), Abort: c.hj.Close}, nil
	}
	return c.attach(ctx, stdin, stdout, stderr)
}

// attach attaches to the container's streams, which drain into stdout
// and stderr, and asks for its exit.
func (c *ctr) attach(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer) (lifecycle.Streams, error) {
	hj, err := c.b.client.ContainerAttach(ctx, c.id, container.AttachOptions{Stream: true, Stdin: true, Stdout: true, Stderr: true})
	if err != nil {
		return lifecycle.Streams{}, err
	}
	c.hj, c.stdin = hj, stdin
	c.drained = make(chan struct{})
	go func() {
		defer close(c.drained)
		// The writers never fail, so the stream is read to its end.
		_, _ = stdcopy.StdCopy(stdout, stderr, hj.Reader)
		if c.marks != nil {
			c.marks.Flush()
		}
	}()
	waitCtx, stopWait := context.WithCancel(context.Background())
	c.stopWait = stopWait
	waitC, waitErrC := c.b.client.ContainerWait(waitCtx, c.id, container.WaitConditionNextExit)
	c.exited = make(chan struct{})
	go func() {
		defer close(c.exited)
		select {
		case exit := <-waitC:
			if exit.Error != nil && exit.Error.Message != "" {
				c.exit.err = fmt.Errorf("wait for container: %s", exit.Error.Message)
			}
			c.exit.code = int(exit.StatusCode)
		case err := <-waitErrC:
			c.exit.err = fmt.Errorf("wait for container: %w", err)
		}
	}()
	return lifecycle.Streams{Drained: c.drained, Abort: hj.Close}, nil
}

func (c *ctr) Start(ctx context.Context) error {
	if c.warm {
		c.cpu.Rebase() // the bootstrap's start is not the tool's
		go c.feedStdin(c.marks.Header())
		return nil
	}
	if err := c.b.client.ContainerStart(ctx, c.id, container.StartOptions{}); err != nil {
		return err
	}
	c.watchCgroups()
	go c.feedStdin(nil)
	return nil
}

// watchCgroups watches a started container's cgroups, where they are on
// this host. Docker 20.10 on cgroup v1 now and then records no OOM kill:
// the memory cgroup is watched too (an OOM before the watch is in the
// cgroup's counter).
func (c *ctr) watchCgroups() {
	if isLocalHost(c.b.client.DaemonHost()) {
		c.watch = engine.WatchOOM(dockerCgroups("memory", c.id))
		c.cpu = engine.MeterCPU(append(dockerCgroups("cpuacct", c.id), dockerCgroups("", c.id)...))
	}
}

// dockerCgroups are where Docker puts a container's cgroup under a v1
// controller ("" for the unified hierarchy): with the cgroupfs driver,
// then with systemd's.
func dockerCgroups(controller, id string) []string {
	root := filepath.Join(engine.CgroupRoot, controller)
	return []string{
		filepath.Join(root, "docker", id),
		filepath.Join(root, "system.slice", "docker-"+id+".scope"),
	}
}

func (c *ctr) Wait(ctx context.Context) (int, error) {
	var ended <-chan struct{} // a container's without marks never closes
	if c.marks != nil {
		ended = c.marks.Ended()
	}
	select {
	case <-c.exited:
		return c.exit.code, c.exit.err
	case <-ended:
		c.cpu.Sample() // the cgroup is there until Docker tears it down
		return c.marks.Code(), nil
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// Kill kills the tool. In a container with an output tmpfs, the tool's
// processes are killed from inside, and the shell marks the end and
// writes the output; where that cannot be done (the pids or memory limit
// refuses the command) the container is killed, and its output with it.
func (c *ctr) Kill(ctx context.Context) error {
	c.cpu.Sample() // the cgroup goes with the container
	if c.marks != nil && c.marks.WritesOutput() && !c.stoppedYet() {
		err := c.killInside(ctx)
		if err == nil {
			return nil
		}
		c.b.log.WithField("run", c.runID).WithError(err).Warn("the tool could not be killed from inside its container: the container is killed, with its output")
	}
	err := c.b.client.ContainerKill(ctx, c.id, "KILL")
	if err != nil && !cerrdefs.IsConflict(err) && !cerrdefs.IsNotFound(err) {
		return err
	}
	return nil
}

func (c *ctr) OOMKilled(ctx context.Context) (bool, error) {
	if c.watch.OOM() {
		return true, nil
	}
	if c.watch != nil && c.marks != nil && !c.stoppedYet() {
		// The tool's end was marked and its cgroup is there: the watch
		// sees every OOM kill in it, and Docker would answer only once it
		// has torn the container down.
		return false, nil
	}
	info, err := c.b.client.ContainerInspect(ctx, c.id)
	if err != nil {
		return false, err
	}
	return info.State != nil && info.State.OOMKilled, nil
}

// Output reads the output tmpfs back from the tar its shell writes after
// the tool's end mark (see engine.Handoff): the Engine API cannot read a
// tmpfs, and the container stops once the tar is written.
func (c *ctr) Output(ctx context.Context) (*engine.Collected, error) {
	col, err := c.marks.Output(ctx)
	if err != nil {
		return col, fmt.Errorf("read /output from the container: %w", err)
	}
	return col, nil
}

// killInsideWait is how long a kill from inside has to end the tool.
const killInsideWait = 2 * time.Second

// killInside kills the tool's processes with a command run in the
// container as the sandbox user, detached (no stream to wait on), and
// waits for the tool's end mark, or the container's exit.
func (c *ctr) killInside(ctx context.Context) error {
	created, err := c.b.client.ContainerExecCreate(ctx, c.id, container.ExecOptions{
		User: fmt.Sprintf("%d:%d", sandbox.UID, sandbox.GID), Cmd: engine.KillCommand(), WorkingDir: "/",
	})
	if err != nil {
		return fmt.Errorf("kill the tool from inside: %w", err)
	}
	if err := c.b.client.ContainerExecStart(ctx, created.ID, container.ExecStartOptions{Detach: true}); err != nil {
		return fmt.Errorf("kill the tool from inside: %w", err)
	}
	select {
	case <-c.marks.Ended():
	case <-c.exited:
	case <-time.After(killInsideWait):
		return fmt.Errorf("the tool did not end within %v of its kill from inside", killInsideWait)
	case <-ctx.Done():
		return ctx.Err()
	}
	return nil
}

// Remove ends the streams and the watches and force-removes the container
// with its anonymous volumes.
func (c *ctr) Remove() error {
	if c.stopWait != nil {
		c.stopWait()
	}
	if c.hj.Conn != nil {
		c.hj.Close()
	}
	c.watch.Close()
	c.cpu.Stop()
	// A warm container is removed in the background: it may wait out a
	// daemon that is restarting, and then removes its volumes by label
	// too (a daemon that shut down under the removal kept them). A cold
	// run's removal is in its caller's way: a daemon that went away leaves
	// it to the next sweep.
	if !c.warm {
		return c.b.remove(c.id, false)
	}
	return errors.Join(c.b.remove(c.id, true), c.b.removeRunVolumes(c.runID, true))
}

// remove force-removes a container and its anonymous volumes. A container
// already gone, or being removed by another sablebox's reaper, is fine.
// With patient, a daemon that cannot be reached (restarting) is asked
// again within CleanupTimeout, so that its containers do not outlive the
// restart.
func (b *Backend) remove(id string, patient bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), lifecycle.CleanupTimeout)
	defer cancel()
	err := retried(ctx, patient, func() error {
		err := b.client.ContainerRemove(ctx, id, container.RemoveOptions{Force: true, RemoveVolumes: true})
		if cerrdefs.IsNotFound(err) || cerrdefs.IsConflict(err) {
			return nil
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("remove container: %w", err)
	}
	return nil
}

// retried calls f, and with patient calls it again while the daemon
// cannot be reached or fails as one shutting down does (a 500: "database
// not open"), backing off, until ctx ends.
func retried(ctx context.Context, patient bool, f func() error) error {
	for pause := 100 * time.Millisecond; ; pause = min(2*pause, 2*time.Second) {
		err := f()
		if err == nil || !patient || !(client.IsErrConnectionFailed(err) || cerrdefs.IsInternal(err) || cerrdefs.IsUnavailable(err)) {
			return err
		}
		select {
		case <-time.After(pause):
		case <-ctx.Done():
			return err
		}
	}
}

// removeRunVolumes removes the volumes labelled with runID.
func (b *Backend) removeRunVolumes(runID string, patient bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), lifecycle.CleanupTimeout)
	defer cancel()
	var vols volume.ListResponse
	err := retried(ctx, patient, func() (err error) {
		vols, err = b.client.VolumeList(ctx, volume.ListOptions{Filters: filters.NewArgs(filters.Arg("label", sandbox.LabelRun+"="+runID))})
		return err
	})
	if err != nil {
		return fmt.Errorf("list the run's volumes: %w", err)
	}
	var errs []error
	for _, v := range vols.Volumes {
		errs = append(errs, retried(ctx, patient, func() error { return b.removeVolume(v.Name) }))
	}
	return errors.Join(errs...)
}

// removeVolume removes a volume; one already gone is fine.
func (b *Backend) removeVolume(name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), lifecycle.CleanupTimeout)
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

// feedStdin writes header (a warm container's bootstrap reads it) and
// the run's stdin to the container and closes it, so a tool reading stdin
// sees EOF.
func (c *ctr) feedStdin(header []byte) {
	if _, err := c.hj.Conn.Write(header); err == nil && c.stdin != nil {
		_, _ = io.Copy(c.hj.Conn, c.stdin)
	}
	_ = c.hj.CloseWrite()
}
