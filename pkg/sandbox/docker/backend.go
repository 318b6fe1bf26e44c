package docker

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/docker/docker/api/types/system"
	"github.com/docker/docker/client"
	"github.com/sirupsen/logrus"

	"github.com/sablebox/sablebox/pkg/internal/engine"
	"github.com/sablebox/sablebox/pkg/metrics"
	"github.com/sablebox/sablebox/pkg/sandbox"
)

// Name is the backend's name.
const Name = "docker"

// Backend runs tools in Docker containers.
type Backend struct {
	client     Client
	log        logrus.FieldLogger
	metrics    *metrics.Runs
	owner      sandbox.Owner
	now        func() time.Time
	ociRuntime string

	// negotiated guards the client's API-version negotiation, which the
	// client does lazily and not safely for concurrent first calls.
	negotiated sync.Once
	// checked is set once Check has passed; Run checks first until then.
	checked atomic.Bool
	// gaps are the protections the configured OCI runtime does not give
	// in full, as Result.Degraded notes; set by the first Check to pass.
	gapsOnce sync.Once
	gaps     []string
	// runscGap is runscNoexecGap for the registered runsc, asked once.
	runscGapOnce sync.Once
	runscGap     string
	// hostWrites is whether a volume's directory as this process sees it
	// is the one the daemon mounts (hostWritesYes, hostWritesNo; 0 until
	// a first container tells).
	hostWrites atomic.Int32
}

// Answers of Backend.hostWrites.
const (
	hostWritesYes = 1
	hostWritesNo  = 2
)

// runscNoexecNote is runscNoexecGap for the daemon's runsc, asked of the
// binary once per backend.
func (b *Backend) runscNoexecNote(ctx context.Context, info system.Info) string {
	b.runscGapOnce.Do(func() {
		b.runscGap = runscNoexecGap(ctx, info.Runtimes["runsc"].Path, isLocalHost(b.client.DaemonHost()))
	})
	return b.runscGap
}

// negotiate settles the API version once, before any concurrent use.
func (b *Backend) negotiate(ctx context.Context) {
	b.negotiated.Do(func() { b.client.NegotiateAPIVersion(ctx) })
}

var _ sandbox.ImageBackend = (*Backend)(nil)

// Option configures a Backend.
type Option func(*Backend)

// WithClient makes the backend use c instead of connecting to the daemon
// named by DOCKER_HOST.
func WithClient(c Client) Option { return func(b *Backend) { b.client = c } }

// WithOCIRuntime runs every container under the named OCI runtime, which
// must be registered with the daemon (such as runsc for gVisor). By default
// the daemon's default runtime runs them.
func WithOCIRuntime(name string) Option { return func(b *Backend) { b.ociRuntime = name } }

// WithLogger sets the logger. By default the backend logs nothing.
func WithLogger(l logrus.FieldLogger) Option { return func(b *Backend) { b.log = l } }

// WithMetrics reports the backend's sandboxes to m. By default nothing is
// reported.
func WithMetrics(m *metrics.Runs) Option { return func(b *Backend) { b.metrics = m } }

// New returns a Docker backend. It does not contact the daemon: Check does.
// host overrides DOCKER_HOST when not empty.
func New(host string, opts ...Option) (*Backend, error) {
	b := &Backend{owner: sandbox.CurrentOwner(), now: time.Now}
	for _, o := range opts {
		o(b)
	}
	b.log = sandbox.Logger(b.log)
	if b.client == nil {
		c, err := NewClient(host)
		if err != nil {
			return nil, fmt.Errorf("%w: docker client: %v", sandbox.ErrUnavailable, err)
		}
		b.client = c
	}
	return b, nil
}

// Name returns "docker".
func (b *Backend) Name() string { return Name }

// Check asks the daemon whether it can apply every protection: seccomp,
// the resource limits and, when one is configured, the OCI runtime.
func (b *Backend) Check(ctx context.Context) error {
	_, err := b.checkedInfo(ctx)
	return err
}

// checkedInfo is the daemon's info, once Check's questions are answered.
func (b *Backend) checkedInfo(ctx context.Context) (system.Info, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	b.negotiate(ctx)
	info, err := b.client.Info(ctx)
	if err != nil {
		return info, b.unavailable(err)
	}
	if !hasSecurityOption(info.SecurityOptions, "seccomp") {
		return info, fmt.Errorf("%w: the Docker daemon at %s has no seccomp support; sablebox will not run tools unfiltered",
			sandbox.ErrUnavailable, b.client.DaemonHost())
	}
	if b.ociRuntime != "" {
		if err := checkRuntime(info, b.ociRuntime); err != nil {
			return info, fmt.Errorf("%w: the Docker daemon at %s: %v", sandbox.ErrUnavailable, b.client.DaemonHost(), err)
		}
	}
	if missing := missingLimits(info); len(missing) > 0 {
		return info, fmt.Errorf("%w: the Docker daemon at %s cannot enforce %s (enable those cgroup controllers); sablebox will not run tools unbounded",
			sandbox.ErrUnavailable, b.client.DaemonHost(), strings.Join(missing, ", "))
	}
	b.gapsOnce.Do(func() {
		if b.ociRuntime == "runsc" {
			if note := b.runscNoexecNote(ctx, info); note != "" {
				b.gaps = append(b.gaps, note)
			}
		}
	})
	b.checked.Store(true)
	return info, nil
}

// runscArgs are the runtimeArgs runsc needs for sablebox's protections:
// no network of its own, and the OCI seccomp profile applied inside the
// sandbox (without it gVisor ignores the profile).
var runscArgs = []string{"--network=none", "--oci-seccomp"}

// RunscConfig is the daemon.json entry that registers runsc for sablebox.
const RunscConfig = `"runtimes": {"runsc": {"path": "/usr/bin/runsc", "runtimeArgs": ["--network=none", "--oci-seccomp"]}}`

// checkRuntime makes sure the OCI runtime name is registered, and that
// runsc is registered with the arguments its protections depend on.
func checkRuntime(info system.Info, name string) error {
	rt, ok := info.Runtimes[name]
	if !ok {
		return fmt.Errorf("OCI runtime %q is not registered: add it under \"runtimes\" in /etc/docker/daemon.json and restart dockerd", name)
	}
	if name == "runsc" {
		for _, arg := range runscArgs {
			if !slices.Contains(rt.Args, arg) {
				return fmt.Errorf("runsc is registered without %s, so gVisor would not apply every protection: register it as %s and restart dockerd", arg, RunscConfig)
			}
		}
	}
	return nil
}

// missingLimits lists the resource limits the daemon's host cannot apply.
func missingLimits(info system.Info) []string {
	var missing []string
	for _, l := range []struct {
		ok   bool
		name string
	}{
		{info.MemoryLimit, "memory limits"}, {info.SwapLimit, "swap limits"},
		{info.PidsLimit, "pids limits"}, {info.CPUCfsQuota, "CPU quotas"},
	} {
		if !l.ok {
			missing = append(missing, l.name)
		}
	}
	return missing
}

// unavailable wraps an engine error that means the daemon cannot be used.
func (b *Backend) unavailable(err error) error {
	if client.IsErrConnectionFailed(err) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: cannot reach the Docker daemon at %s: start dockerd or set DOCKER_HOST",
			sandbox.ErrUnavailable, b.client.DaemonHost())
	}
	return fmt.Errorf("%w: docker daemon at %s: %v", sandbox.ErrUnavailable, b.client.DaemonHost(), err)
}

// Describe reports the daemon's version and the protections applied.
func (b *Backend) Describe(ctx context.Context) sandbox.Description {
	d := sandbox.Description{Name: Name, Details: map[string]string{"host": b.client.DaemonHost()}}
	info, err := b.checkedInfo(ctx)
	if err != nil {
		d.Reason = err.Error()
		return d
	}
	d.Usable = true
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if v, err := b.client.ServerVersion(ctx); err == nil {
		d.Details["version"] = v.Version
		d.Details["api"] = v.APIVersion
	}
	d.Details["oci_runtime"] = info.DefaultRuntime + " (the daemon's default)"
	if b.ociRuntime != "" {
		d.Details["oci_runtime"] = b.ociRuntime + " (configured)"
	}
	names := make([]string, 0, len(info.Runtimes))
	for name := range info.Runtimes {
		names = append(names, name)
	}
	sort.Strings(names)
	d.Details["registered_runtimes"] = strings.Join(names, " ")
	d.Details["gvisor"] = "usable: --oci-runtime runsc"
	if err := checkRuntime(info, "runsc"); err != nil {
		d.Details["gvisor"] = "not usable: " + err.Error()
	}
	if _, ok := info.Runtimes["runsc"]; ok {
		if note := b.runscNoexecNote(ctx, info); note != "" {
			d.Details["gvisor_noexec"] = strings.TrimPrefix(note, "noexec: ")
		}
	}
	for _, gap := range b.gaps {
		name, why, _ := strings.Cut(gap, ": ")
		d.Details["degraded "+name] = why
	}
	d.Details["cgroup"] = "v" + strings.TrimPrefix(info.CgroupVersion, "v") + " (" + info.CgroupDriver + ")" // the words Podman uses
	d.Details["security_options"] = strings.Join(info.SecurityOptions, " ")
	d.Protections = engine.Protections()
	return d
}

// Close closes the engine connection.
func (b *Backend) Close() error { return b.client.Close() }

func hasSecurityOption(opts []string, name string) bool {
	for _, o := range opts {
		if o == name || strings.HasPrefix(o, "name="+name) {
			return true
		}
	}
	return false
}
