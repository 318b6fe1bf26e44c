//go:build remote

package podman

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/containers/podman/v5/libpod/define"
	"github.com/containers/podman/v5/pkg/specgen"
	"github.com/docker/docker/pkg/stdcopy"
	spec "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"

	"github.com/sablebox/sablebox/pkg/internal/engine"
	"github.com/sablebox/sablebox/pkg/internal/lifecycle"
	"github.com/sablebox/sablebox/pkg/metrics"
	"github.com/sablebox/sablebox/pkg/sandbox"
	"github.com/sablebox/sablebox/pkg/version"
)

// Run runs spec in a fresh container and removes it; see sandbox.Backend.
func (b *Backend) Run(ctx context.Context, s *sandbox.Spec) (*sandbox.Result, error) {
	return lifecycle.Run(ctx, driver{b}, s)
}

// Prepare creates spec's container, to be run later; see sandbox.Backend.
func (b *Backend) Prepare(ctx context.Context, s *sandbox.Spec) (sandbox.Prepared, error) {
	return lifecycle.Prepare(ctx, driver{b}, s, sandbox.PreparedWait)
}

// driver is the Podman backend as the lifecycle drives it.
type driver struct{ b *Backend }

func (d driver) Name() string            { return Name }
func (d driver) Images() bool            { return true }
func (d driver) Log() logrus.FieldLogger { return d.b.log }
func (d driver) Metrics() *metrics.Runs  { return d.b.opts.Metrics }

// Prepare creates the container, labelled to live until deadline, and
// reads it back: the service must run it under a runtime that applies
// the seccomp profile.
func (d driver) Prepare(ctx context.Context, s *sandbox.Spec, deadline time.Time) (lifecycle.Sandbox, error) {
	return d.create(ctx, s, deadline, false)
}

// create creates s's container, or a warm container for runs of its
// shape, and reads it back.
func (d driver) create(ctx context.Context, s *sandbox.Spec, deadline time.Time, warm bool) (*ctr, error) {
	b := d.b
	profile, err := b.profilePath(s.Seccomp)
	if err != nil {
		return nil, err
	}
	runtime, why := b.ociRuntime()
	if runtime != "" {
		if err := seccompRuntime(runtime); err != nil {
			return nil, err
		}
	}
	gen := specGenerator(s, b.owner, deadline, profile, runtime)
	if warm {
		warmSpec(gen)
	}
	created, err := b.client.Create(ctx, gen)
	if err != nil {
		if errors.Is(err, sandbox.ErrUnavailable) {
			return nil, err
		}
		if ctx.Err() != nil {
			_ = b.remove(gen.Name) // it may exist although the answer was lost
		}
		return nil, b.createError(s.Image, profile, err)
	}
	c := &ctr{b: b, id: created.ID}
	if len(created.Warnings) > 0 {
		_ = c.Remove()
		return nil, fmt.Errorf("%w: the Podman service could not apply every protection: %s",
			sandbox.ErrUnavailable, strings.Join(created.Warnings, "; "))
	}
	required := "" // the automatic choice is a preference; a configured runtime is a requirement
	if why == "configured" {
		required = runtime
	}
	if err := checkRuntime(ctx, b.client, c.id, required); err != nil {
		_ = c.Remove()
		return nil, err
	}
	return c, nil
}

// ctr is one created container.
type ctr struct {
	b       *Backend
	id      string
	sock    net.Conn         // the attach connection, once attached
	watch   *engine.OOMWatch // nil where OOMs are left to Podman alone
	cpu     *engine.CPUMeter // nil where the cgroup cannot be read
	drained <-chan struct{}  // closes when the attach stream ends; nil: none
	warm    *engine.Handoff  // nil for a cold container
	stdin   io.Reader
}

// Degraded is empty: Podman applies every protection as asked or refuses.
func (c *ctr) Degraded() []string { return nil }

// Put copies the tool and the workspace files in through the archive API.
func (c *ctr) Put(ctx context.Context, tool *sandbox.ToolFile, files []sandbox.File) error {
	if tool != nil {
		if err := c.b.client.CopyInto(ctx, c.id, sandbox.ToolDir, engine.ToolArchive(tool)); err != nil {
			return fmt.Errorf("copy the tool into the container: %w", err)
		}
	}
	if len(files) > 0 {
		if err := c.b.client.CopyInto(ctx, c.id, sandbox.WorkspaceDir, engine.FilesArchive(files)); err != nil {
			return fmt.Errorf("copy the workspace files into the container: %w", err)
		}
	}
	return nil
}

// Attach attaches over a connection of its own and returns once attached;
// the streams drain into stdout and stderr until the container ends. It
// speaks the libpod attach endpoint directly because the bindings' Attach
// cannot turn detach keys off (stdin is data: ctrl-p ctrl-q in it must not
// end the session) and rewires the shared connection's transport.
func (c *ctr) Attach(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer) (lifecycle.Streams, error) {
	c.stdin = stdin
	if c.warm != nil {
		// Attached since the warm start: the run's output begins now,
		// and ends with the end marks or the stream.
		c.warm.Connect(stdout, stderr)
		return lifecycle.Streams{Drained: c.warm.Drained(c.drained), Abort: func() { c.sock.Close() }}, nil
	}
	streams, err := c.attach(ctx, stdin != nil, stdout, stderr)
	if err == nil && stdin != nil {
		go c.feed(nil)
	}
	return streams, err
}

// attach attaches over a connection of its own (with stdin when asked)
// and returns once attached.
func (c *ctr) attach(ctx context.Context, withStdin bool, stdout, stderr io.Writer) (lifecycle.Streams, error) {
	sock, err := c.b.client.Dial(ctx)
	if err != nil {
		return lifecycle.Streams{}, err
	}
	query := url.Values{"stream": {"true"}, "stdout": {"true"}, "stderr": {"true"}, "detachKeys": {""}}
	if withStdin {
		query.Set("stdin", "true")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost,
		"http://d/v4.0.0/libpod/containers/"+url.PathEscape(c.id)+"/attach?"+query.Encode(), nil)
	if err != nil {
		sock.Close()
		return lifecycle.Streams{}, err
	}
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "tcp")
	stop := context.AfterFunc(ctx, func() { sock.Close() }) // a cancel ends the handshake
	br := bufio.NewReader(sock)
	err = req.Write(sock)
	var resp *http.Response
	if err == nil {
		resp, err = http.ReadResponse(br, req)
	}
	if !stop() || err != nil {
		sock.Close()
		if ctx.Err() != nil {
			return lifecycle.Streams{}, ctx.Err()
		}
		return lifecycle.Streams{}, err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols && resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		sock.Close()
		return lifecycle.Streams{}, fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	c.sock = sock
	drained := make(chan struct{})
	c.drained = drained
	go func() {
		defer close(drained)
		defer sock.Close()
		// The writers never fail, so the stream is read to its end.
		_, _ = stdcopy.StdCopy(stdout, stderr, br)
		if c.warm != nil {
			c.warm.Flush()
		}
	}()
	if IsLocal(c.b.opts.URI) {
		// Attaching initialised the container: its cgroup exists now.
		c.watch = engine.WatchOOM(containerCgroups("memory", c.id))
		c.cpu = engine.MeterCPU(append(containerCgroups("cpuacct", c.id), containerCgroups("", c.id)...))
	}
	return lifecycle.Streams{Drained: drained, Abort: func() { sock.Close() }}, nil
}

// specGenerator turns a validated spec into Podman's container spec. It is
// the one place where protections are set for Podman.
func specGenerator(s *sandbox.Spec, owner sandbox.Owner, deadline time.Time, profile, runtime string) *specgen.SpecGenerator {
	yes, no := true, false
	l := s.Limits
	g := specgen.NewSpecGenerator(s.Image, false)
	g.Name = "sablebox-" + s.RunID
	g.Labels = owner.Labels(s.RunID, version.Version, deadline)
	g.Entrypoint, g.Command = engine.Command(s)
	g.Env = map[string]string{}
	for _, kv := range engine.Env(s) {
		k, v, _ := strings.Cut(kv, "=")
		g.Env[k] = v
	}
	g.WorkDir = sandbox.WorkspaceDir
	g.User = fmt.Sprintf("%d:%d", sandbox.UID, sandbox.GID)
	g.Terminal = &no
	stdin := s.Stdin != nil
	g.Stdin = &stdin
	g.OCIRuntime = runtime

	g.NetNS = specgen.Namespace{NSMode: specgen.NoNetwork}
	g.IpcNS = specgen.Namespace{NSMode: specgen.Private}
	g.CapDrop = []string{"ALL"}
	g.NoNewPrivileges = &yes
	g.Privileged = &no
	g.SeccompProfilePath = profile
	g.ReadOnlyFilesystem = &yes
	g.ReadWriteTmpfs = &no // Podman would add writable, exec-allowed tmpfs of its own
	g.Init = &yes
	g.UseImageHosts = &yes
	g.UseImageResolvConf = &yes
	g.Mounts = []spec.Mount{
		{Destination: sandbox.TmpDir, Type: "tmpfs", Source: "tmpfs", Options: engine.TmpOptions(l)},
		{Destination: sandbox.HomeDir, Type: "tmpfs", Source: "tmpfs", Options: append(engine.HomeOptions(), "U")},
	}
	if s.Workspace != "" {
		g.Mounts = append(g.Mounts, spec.Mount{Destination: sandbox.WorkspaceDir, Type: "bind", Source: s.Workspace,
			// bind, not rbind: read-only applies to the top mount only,
			// so a submount of the host directory would stay writable.
			Options: []string{"ro", "bind", "rprivate", "nosuid", "nodev"}})
	}
	if s.Output {
		// An anonymous volume, noexec, which takes the image's /output
		// (uid 1000's) and outlives the tool: its files are read back
		// through the archive API once the container has stopped.
		g.Volumes = append(g.Volumes, &specgen.NamedVolume{Dest: sandbox.OutputDir, Options: []string{"noexec", "nosuid", "nodev"}})
	}
	if s.Tool != nil {
		// An anonymous volume receives the tool through the archive API;
		// see the Docker backend.
		g.Volumes = append(g.Volumes, &specgen.NamedVolume{Dest: sandbox.ToolDir, Options: []string{"nosuid", "nodev"}})
	}
	if len(s.Files) > 0 {
		// The workspace files likewise, root-owned and read-only.
		g.Volumes = append(g.Volumes, &specgen.NamedVolume{Dest: sandbox.WorkspaceDir, Options: []string{"nosuid", "nodev"}})
	}

	memory := l.MemoryBytes
	period := uint64(100000)
	quota := int64(l.CPUs * float64(period))
	g.ResourceLimits = &spec.LinuxResources{
		Memory: &spec.LinuxMemory{Limit: &memory, Swap: &memory}, // memory+swap = memory: no swap
		CPU:    &spec.LinuxCPU{Period: &period, Quota: &quota},
		Pids:   &spec.LinuxPids{Limit: l.Pids},
	}
	g.Rlimits = []spec.POSIXRlimit{ // Podman adds the RLIMIT_ prefix
		{Type: "nofile", Soft: l.NoFile, Hard: l.NoFile},
		{Type: "nproc", Soft: l.NProc, Hard: l.NProc},
		{Type: "core", Soft: 0, Hard: 0},
		{Type: "fsize", Soft: uint64(l.TmpBytes), Hard: uint64(l.TmpBytes)},
		{Type: "stack", Soft: sandbox.StackBytes, Hard: sandbox.StackBytes},
	}
	return g
}

// SeccompRuntimes are the OCI runtimes sablebox runs Podman containers
// under: those that load the OCI seccomp profile themselves. gVisor's
// runsc skips it unless registered with --oci-seccomp, which the service
// does not show, and kata leaves it to a guest setting; gVisor is
// supported under Docker, where its registration can be checked.
var SeccompRuntimes = []string{"runc", "crun", "youki"}

// checkRuntime fails closed when container id does not run under the
// required OCI runtime ("" for any; Podman 4.3's service ignores the one a
// container asks for), or runs under one not in SeccompRuntimes (the
// service's own default may be anything).
func checkRuntime(ctx context.Context, client Client, id, required string) error {
	data, err := client.Inspect(ctx, id)
	if err != nil {
		return fmt.Errorf("inspect container: %w", err)
	}
	got := data.OCIRuntime
	if required != "" && got != required {
		return fmt.Errorf("%w: the Podman service ran %s instead of the requested OCI runtime %s; "+
			"set [engine] runtime = %q in containers.conf on the server", sandbox.ErrUnavailable, got, required, required)
	}
	return seccompRuntime(got)
}

// seccompRuntime refuses an OCI runtime not in SeccompRuntimes.
func seccompRuntime(name string) error {
	if slices.Contains(SeccompRuntimes, name) {
		return nil
	}
	return fmt.Errorf("%w: sablebox does not run Podman containers under the OCI runtime %s, which may not apply the seccomp profile; "+
		"use one of %s (for gVisor: --runtime docker --oci-runtime runsc)", sandbox.ErrUnavailable, name, strings.Join(SeccompRuntimes, ", "))
}

// profilePath returns where the service finds profile p, writing it there
// first when the service is local.
func (b *Backend) profilePath(p *sandbox.SeccompProfile) (string, error) {
	if p.Unconfined {
		return "unconfined", nil
	}
	if !IsLocal(b.opts.URI) {
		return ProfilePath(b.opts.ProfileDir, p), nil
	}
	sum := p.SHA256()
	b.mu.Lock()
	known := b.written[sum]
	b.mu.Unlock()
	if known {
		return ProfilePath(b.opts.ProfileDir, p), nil
	}
	path, err := WriteProfile(b.opts.ProfileDir, p)
	if err != nil {
		return "", err
	}
	b.mu.Lock()
	b.written[sum] = true
	b.mu.Unlock()
	return path, nil
}

// Causes the service gives (its errors' "cause" field, there for
// programs to read) where Podman 4.3 answers 500 and no status tells
// them apart.
var (
	causeImageUnknown = "image not known" // containers/storage's ErrImageUnknown
	causeNoSuchFile   = syscall.ENOENT.Error()
	causeStateInvalid = define.ErrCtrStateInvalid.Error()
)

// createError classifies a failed create.
func (b *Backend) createError(image, profile string, err error) error {
	cause := causeOf(err)
	switch {
	case isNotFound(err) || cause == causeImageUnknown:
		return missingImage(image)
	case cause == causeNoSuchFile && strings.Contains(err.Error(), "seccomp"):
		return fmt.Errorf("%w: the Podman service cannot read the seccomp profile at %s: put it there "+
			"(`sablebox profile show`) or set podman-seccomp-dir", sandbox.ErrUnavailable, profile)
	default:
		return fmt.Errorf("create container: %w", err)
	}
}

// containerCgroups are where Podman puts a container's cgroup under a v1
// controller ("" for the unified hierarchy): with the cgroupfs manager,
// then with systemd's.
func containerCgroups(controller, id string) []string {
	root := filepath.Join(engine.CgroupRoot, controller)
	return []string{
		filepath.Join(root, "libpod_parent", "libpod-"+id),
		filepath.Join(root, "machine.slice", "libpod-"+id+".scope"),
	}
}

func (c *ctr) Start(ctx context.Context) error {
	if c.warm != nil {
		c.cpu.Rebase() // the bootstrap's start is not the tool's
		go c.feed(c.warm.Header())
		return nil
	}
	return c.b.client.Start(ctx, c.id)
}

// feed writes header (a warm container's bootstrap reads it) and the
// run's stdin to the container and closes its stdin, so a tool reading
// it sees EOF.
func (c *ctr) feed(header []byte) {
	if _, err := c.sock.Write(header); err == nil && c.stdin != nil {
		_, _ = io.Copy(c.sock, c.stdin)
	}
	if cw, ok := c.sock.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
}

// exitPoll bounds the wait between two looks at the container's state:
// the most before the attach stream ends, the longest backoff after.
const exitPoll = time.Second

// Wait returns the exit code once the container has stopped. The
// service's own wait answers only after conmon's cleanup process, a whole
// podman command of its own, has run (about 100 ms more on every run), so
// Wait reads the state instead, which the service syncs from conmon's exit
// file: at once when the attach stream ends (the tool is gone), then
// backing off; and once a second before that, should a stream outlive its
// container.
func (c *ctr) Wait(ctx context.Context) (int, error) {
	var ended <-chan struct{} // a cold container's never closes
	if c.warm != nil {
		ended = c.warm.Ended()
	}
	return c.waitState(ctx, ended)
}

// waitState reads the container's state until it has stopped, or until
// ended closes (a warm container's tool marked its end).
func (c *ctr) waitState(ctx context.Context, ended <-chan struct{}) (int, error) {
	drained := c.drained
	poll := time.NewTimer(exitPoll)
	defer poll.Stop()
	delay := time.Millisecond
	for {
		select {
		case <-ended:
			c.cpu.Sample() // the cgroup is there until Podman tears it down
			return c.warm.Code(), nil
		case <-drained:
			drained = nil // look now, then back off
		case <-poll.C:
		case <-ctx.Done():
			return 0, fmt.Errorf("wait for container: %w", ctx.Err())
		}
		data, err := c.b.client.Inspect(ctx, c.id)
		if err != nil {
			return 0, fmt.Errorf("wait for container: %w", err)
		}
		if st := data.State; st != nil && (st.Status == define.ContainerStateStopped.String() || st.Status == define.ContainerStateExited.String()) {
			return int(st.ExitCode), nil
		}
		next := exitPoll
		if drained == nil {
			next, delay = delay, min(2*delay, exitPoll)
		}
		poll.Reset(next)
	}
}

// CPUTime is the container's CPU time as its cgroup last showed it.
func (c *ctr) CPUTime() (time.Duration, bool) { return c.cpu.Stop() }

func (c *ctr) Kill(ctx context.Context) error {
	c.cpu.Sample() // the cgroup goes with the container
	err := c.b.client.Kill(ctx, c.id)
	if err != nil && !isConflict(err) && !isNotFound(err) && !errors.Is(err, define.ErrCtrStateInvalid) &&
		causeOf(err) != causeStateInvalid { // already exited
		return err
	}
	return nil
}

func (c *ctr) OOMKilled(ctx context.Context) (bool, error) {
	if c.watch != nil {
		return c.watch.OOM(), nil // sees what Podman misses on cgroup v1
	}
	data, err := c.b.client.Inspect(ctx, c.id)
	if err != nil {
		return false, err
	}
	return data.State != nil && data.State.OOMKilled, nil
}

// Output reads /output back through the archive API, once the container
// has stopped (a warm one may still be ending: it is killed first, as the
// end of a cold one's init kills what its tool left).
func (c *ctr) Output(ctx context.Context) (*engine.Collected, error) {
	if c.warm != nil {
		if err := c.Kill(ctx); err != nil {
			return nil, err
		}
		if _, err := c.waitState(ctx, nil); err != nil {
			return nil, err
		}
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(c.b.client.CopyFrom(ctx, c.id, sandbox.OutputDir, pw)) }()
	col, err := engine.ReadArchive(pr)
	pr.CloseWithError(io.ErrClosedPipe) // the copy ends if reading stopped early
	if err != nil {
		return col, fmt.Errorf("read /output from the container: %w", err)
	}
	return col, nil
}

// Remove ends the attach stream and the watch and removes the container.
func (c *ctr) Remove() error {
	if c.sock != nil {
		c.sock.Close()
	}
	c.watch.Close()
	c.cpu.Stop()
	return c.b.remove(c.id)
}

// remove force-removes a container and its anonymous volumes. A container
// already gone, or being removed by a reaper, is fine.
func (b *Backend) remove(nameOrID string) error {
	ctx, cancel := context.WithTimeout(context.Background(), lifecycle.CleanupTimeout)
	defer cancel()
	for {
		err := b.client.Remove(ctx, nameOrID)
		switch {
		case err == nil || isNotFound(err):
			return nil
		case stateRace(err) && ctx.Err() == nil:
			// Podman 4.3 refuses to remove a container caught between
			// its exit and the state that records it (a warm container
			// removed as its tool ends, a reaper's removal under way):
			// ask again once the state has settled.
			time.Sleep(removeRetry)
		default:
			return fmt.Errorf("remove container: %w", err)
		}
	}
}

// removeRetry is the pause before removing a container again.
const removeRetry = 20 * time.Millisecond

// stateRace reports whether a refused removal may succeed when asked
// again: the container is changing state, or another removal holds it.
func stateRace(err error) bool {
	return isConflict(err) || causeOf(err) == causeStateInvalid || errors.Is(err, define.ErrCtrStateInvalid)
}
