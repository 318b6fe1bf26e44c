//go:build remote

package podman

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"sync"
	"time"

	"github.com/containers/podman/v5/libpod/define"
	"github.com/containers/podman/v5/pkg/bindings"
	"github.com/sirupsen/logrus"

	"github.com/sablebox/sablebox/pkg/internal/engine"
	"github.com/sablebox/sablebox/pkg/metrics"
	"github.com/sablebox/sablebox/pkg/sandbox"
	"github.com/sablebox/sablebox/pkg/setting"
)

// Options configure the backend. The zero value is usable.
type Options struct {
	// URI is the service's address; ResolveURI("") when empty.
	URI string
	// OCIRuntime names the OCI runtime for every container, one of
	// SeccompRuntimes (a run under any other is refused). Empty chooses
	// automatically: the service's default, or runc
	// where the default is crun and the host's cgroups are v1 or hybrid
	// (crun refuses those).
	OCIRuntime string
	// ProfileDir is where seccomp profiles are written for a local
	// service, and expected for a remote one; DefaultProfileDir() when
	// empty.
	ProfileDir string
	// Logger receives the backend's logs; it logs nothing when nil.
	Logger logrus.FieldLogger
	// Metrics receive the backend's sandboxes; none are reported when nil.
	Metrics *metrics.Runs
}

// Backend runs tools in Podman containers.
type Backend struct {
	opts  Options
	log   logrus.FieldLogger
	owner sandbox.Owner
	now   func() time.Time

	client   Client
	bindings *bindingsClient // the client when it is the real one (images use it)

	mu      sync.Mutex
	written map[string]bool // profiles known to be in ProfileDir
}

var _ sandbox.ImageBackend = (*Backend)(nil)

// Open returns a Podman backend configured by v (see Settings).
func Open(v setting.Values, log logrus.FieldLogger, m *metrics.Runs) (sandbox.Backend, error) {
	if err := engine.OCIRuntimeSetting.Check(v.Get(engine.KeyOCIRuntime)); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", sandbox.ErrInvalidSpec, engine.KeyOCIRuntime, err)
	}
	return New(Options{URI: v.Get(KeySocket), OCIRuntime: v.Get(engine.KeyOCIRuntime), ProfileDir: v.Get(KeySeccompDir), Logger: log, Metrics: m})
}

// New returns a Podman backend. It does not contact the service: Check does.
func New(opts Options) (sandbox.Backend, error) {
	return newBackend(opts), nil
}

func newBackend(opts Options) *Backend {
	opts.URI = ResolveURI(opts.URI)
	real := &bindingsClient{uri: opts.URI}
	b := newBackendWithClient(opts, real)
	b.bindings = real
	return b
}

// newBackendWithClient returns a backend that speaks to the service
// through c; opts.URI is resolved already.
func newBackendWithClient(opts Options, c Client) *Backend {
	if opts.ProfileDir == "" {
		opts.ProfileDir = DefaultProfileDir()
	}
	return &Backend{opts: opts, log: sandbox.Logger(opts.Logger), owner: sandbox.CurrentOwner(), now: time.Now,
		client: c, written: map[string]bool{}}
}

// Name returns "podman".
func (b *Backend) Name() string { return Name }

// Check connects to the service and makes sure it can apply every
// protection: seccomp (also through the OCI runtime), and resource limits
// (rootless Podman on cgroup v1 cannot set them). Run does not need it:
// the create call reports dropped limits as warnings, and every container's
// runtime is checked after create.
func (b *Backend) Check(ctx context.Context) error {
	_, err := b.checkedInfo(ctx)
	return err
}

// checkedInfo is the service's info, once Check's questions are answered.
func (b *Backend) checkedInfo(ctx context.Context) (*define.Info, error) {
	info, err := b.info(ctx)
	if err != nil {
		return nil, err
	}
	if info.Host == nil || !info.Host.Security.SECCOMPEnabled {
		return nil, fmt.Errorf("%w: the Podman service at %s has no seccomp support; sablebox will not run tools unfiltered",
			sandbox.ErrUnavailable, b.opts.URI)
	}
	if info.Host.Security.Rootless && info.Host.CgroupsVersion != "v2" {
		return nil, fmt.Errorf("%w: rootless Podman on cgroup %s cannot enforce memory or pids limits; use cgroup v2 or a rootful service",
			sandbox.ErrUnavailable, info.Host.CgroupsVersion)
	}
	runtime, _ := b.ociRuntime()
	if runtime == "" && info.Host.OCIRuntime != nil {
		runtime = info.Host.OCIRuntime.Name
	}
	if runtime != "" {
		if err := seccompRuntime(runtime); err != nil {
			return nil, err
		}
	}
	return info, nil
}

func (b *Backend) info(ctx context.Context) (*define.Info, error) {
	ctx, cancel := context.WithTimeout(ctx, connTimeout)
	defer cancel()
	info, err := b.client.Info(ctx)
	if errors.Is(err, sandbox.ErrUnavailable) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("%w: podman service at %s: %v", sandbox.ErrUnavailable, b.opts.URI, err)
	}
	return info, nil
}

// ociRuntime decides which OCI runtime to ask for ("" = the service's
// default) and why. The automatic choice uses only facts of this host (an
// Info call costs the service about 200 ms): a local service on a host
// whose cgroups are v1 or hybrid gets runc, since crun refuses those.
func (b *Backend) ociRuntime() (string, string) {
	if b.opts.OCIRuntime != "" {
		return b.opts.OCIRuntime, "configured"
	}
	if !IsLocal(b.opts.URI) || engine.CgroupV2Only() {
		return "", "automatic"
	}
	if _, err := exec.LookPath("runc"); err != nil {
		return "", "automatic"
	}
	return "runc", "automatic: crun refuses cgroup v1 and hybrid hosts"
}

// Describe reports the service's version and the protections applied.
func (b *Backend) Describe(ctx context.Context) sandbox.Description {
	d := sandbox.Description{Name: Name, Details: map[string]string{"host": b.opts.URI}}
	info, err := b.checkedInfo(ctx)
	if err != nil {
		d.Reason = err.Error()
		return d
	}
	d.Usable = true
	d.Details["version"] = info.Version.Version
	d.Details["api"] = info.Version.APIVersion
	d.Details["cgroup"] = info.Host.CgroupsVersion + " (" + info.Host.CgroupManager + ")"
	d.Details["rootless"] = fmt.Sprint(info.Host.Security.Rootless)
	if info.Host.OCIRuntime != nil {
		d.Details["default_oci_runtime"] = info.Host.OCIRuntime.Name
	}
	runtime, why := b.ociRuntime()
	if runtime == "" {
		runtime = "service default"
	}
	d.Details["oci_runtime"] = runtime + " (" + why + ")"
	if IsLocal(b.opts.URI) {
		d.Details["seccomp_profiles"] = b.opts.ProfileDir + " (written by sablebox, named by sha256)"
	} else {
		d.Details["seccomp_profiles"] = b.opts.ProfileDir + " on the remote server: copy each profile there as <sha256>.json " +
			"(`sablebox profile show > DIR/$(sablebox profile show | sha256sum | cut -c1-64).json`); runs fail closed until it is there"
	}
	d.Protections = engine.Protections()
	return d
}

// ImagePresent reports whether ref is in the service's image store.
func (b *Backend) ImagePresent(ctx context.Context, ref string) error {
	ok, err := b.client.ImageExists(ctx, ref)
	if errors.Is(err, sandbox.ErrUnavailable) {
		return err
	}
	if err != nil {
		return fmt.Errorf("%w: podman service at %s: %v", sandbox.ErrUnavailable, b.opts.URI, err)
	}
	if !ok {
		return missingImage(ref)
	}
	return nil
}

func missingImage(ref string) error {
	return fmt.Errorf("%w: image %q is not in Podman's store: build it with `sablebox image build --runtime podman` "+
		"(with no registry, run `sablebox image base --runtime podman --debian bookworm` first)", sandbox.ErrImageMissing, ref)
}

// Reap removes sablebox containers whose owner is gone or whose deadline
// has long passed.
func (b *Backend) Reap(ctx context.Context) (int, error) {
	list, err := b.client.List(ctx, sandbox.LabelRun)
	if err != nil {
		return 0, fmt.Errorf("list sablebox containers: %w", err)
	}
	leftovers := make([]engine.Leftover, len(list))
	for i, c := range list {
		leftovers[i] = engine.Leftover{ID: c.ID, Labels: c.Labels}
	}
	return engine.Reap(leftovers, b.owner, b.now(), b.remove, b.log)
}

// Close drops the connection to the service.
func (b *Backend) Close() error {
	if b.bindings != nil {
		b.bindings.close()
	}
	return nil
}

// isNotFound and isConflict read the service's HTTP status from an error.
func isNotFound(err error) bool { return statusOf(err) == 404 }
func isConflict(err error) bool { return statusOf(err) == 409 }

// causeOf is the root cause the service names in an error ("image not
// known"), or "" when it names none.
func causeOf(err error) string {
	var model interface{ Cause() error }
	if errors.As(err, &model) && model.Cause() != nil {
		return model.Cause().Error()
	}
	return ""
}

func statusOf(err error) int {
	var model interface{ Code() int }
	if errors.As(err, &model) {
		return model.Code()
	}
	code, cerr := bindings.CheckResponseCode(err)
	if cerr != nil {
		return -1
	}
	return code
}
