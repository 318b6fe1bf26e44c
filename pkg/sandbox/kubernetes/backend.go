package kubernetes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/version"
	k8s "k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/sablebox/sablebox/pkg/internal/engine"
	"github.com/sablebox/sablebox/pkg/internal/lifecycle"
	"github.com/sablebox/sablebox/pkg/metrics"
	"github.com/sablebox/sablebox/pkg/sandbox"
	"github.com/sablebox/sablebox/pkg/setting"
	sbversion "github.com/sablebox/sablebox/pkg/version"
)

// The Kubernetes backend's settings' keys.
const (
	// KeyKubeconfig names the kubeconfig file.
	KeyKubeconfig = "kubeconfig"
	// KeyNamespace names the namespace of the tool Pods.
	KeyNamespace = "kube-namespace"
	// KeyRuntimeClass names the tool Pods' RuntimeClass (gVisor).
	KeyRuntimeClass = "kube-runtime-class"
	// KeySeccomp picks the Pods' seccomp profile: localhost or
	// runtime-default.
	KeySeccomp = "kube-seccomp"
	// KeyPodPidsLimit is the kubelet's podPidsLimit on the nodes.
	KeyPodPidsLimit = "kube-pod-pids-limit"
)

// The values of KeySeccomp.
const (
	SeccompLocalhost      = "localhost"
	SeccompRuntimeDefault = "runtime-default"
)

var dnsLabelRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)

// Settings are the Kubernetes backend's settings.
var Settings = []setting.Setting{
	{Key: KeyKubeconfig, Help: "kubeconfig file of the cluster (default: in-cluster in a Pod, else KUBECONFIG or ~/.kube/config)"},
	{Key: KeyNamespace, Help: "namespace of the tool Pods, made ready by `sablebox k8s setup` (default: sablebox)",
		Check: checkDNSLabel},
	{Key: KeyRuntimeClass, Help: "RuntimeClass of the tool Pods, such as gvisor (default: the cluster's runtime)",
		Check: checkDNSLabel},
	{Key: KeySeccomp, Help: "tool Pods' seccomp profile: localhost (sablebox's, installed on the nodes by the DaemonSet; default) or runtime-default",
		Check: func(v string) error {
			if v != "" && v != SeccompLocalhost && v != SeccompRuntimeDefault {
				return errors.New("want localhost or runtime-default")
			}
			return nil
		}},
	{Key: KeyPodPidsLimit, Help: "the kubelet's podPidsLimit on the nodes, the Pods' pids bound (Kubernetes has no per-Pod one)",
		Check: func(v string) error {
			if n, err := strconv.ParseInt(v, 10, 64); v != "" && (err != nil || n < 4) {
				return errors.New("want the nodes' podPidsLimit, a whole number of at least 4")
			}
			return nil
		}},
}

func checkDNSLabel(v string) error {
	if v != "" && !dnsLabelRE.MatchString(v) {
		return errors.New("want a name of lowercase letters, digits and inner dashes, at most 63")
	}
	return nil
}

// Open returns a Kubernetes backend configured by v (see Settings). It
// reads the kubeconfig now, and asks the API server nothing until Check
// or the first run.
func Open(v setting.Values, log logrus.FieldLogger, m *metrics.Runs) (sandbox.Backend, error) {
	for _, st := range Settings {
		if st.Check == nil {
			continue
		}
		if err := st.Check(v.Get(st.Key)); err != nil {
			return nil, fmt.Errorf("%w: %s %q: %v", sandbox.ErrInvalidSpec, st.Key, v.Get(st.Key), err)
		}
	}
	cfg, err := Config(v.Get(KeyKubeconfig))
	if err != nil {
		return nil, err
	}
	opts := Options{Namespace: v.Get(KeyNamespace), RuntimeClass: v.Get(KeyRuntimeClass),
		RuntimeDefault: v.Get(KeySeccomp) == SeccompRuntimeDefault, Log: log, Metrics: m}
	if p := v.Get(KeyPodPidsLimit); p != "" {
		opts.PodPidsLimit, _ = strconv.ParseInt(p, 10, 64)
	}
	return New(cfg, opts)
}

// Options configure a Backend. Their zero values are the defaults.
type Options struct {
	// Namespace holds the tool Pods (default DefaultNamespace); it must
	// enforce the restricted Pod Security Standard and hold the deny-all
	// NetworkPolicy (see Check).
	Namespace string
	// RuntimeClass names the Pods' RuntimeClass; none by default.
	RuntimeClass string
	// RuntimeDefault gives the Pods the runtime's default seccomp profile
	// instead of sablebox's Localhost one.
	RuntimeDefault bool
	// PodPidsLimit is the nodes' podPidsLimit, when the caller knows it:
	// the Pods' pids bound, which a run cannot set (0: unknown).
	PodPidsLimit int64
	// Log is where the backend logs (default: nowhere).
	Log logrus.FieldLogger
	// Metrics are the caller's run metrics (default: none).
	Metrics *metrics.Runs
}

// Backend runs each tool in a Pod of its own on a Kubernetes cluster;
// see sandbox.Backend for the contract. The Pod's tool and workspace
// files come in a ConfigMap made for the run, stdin and the output go
// through the attach stream, and both objects are deleted after the run.
type Backend struct {
	client    k8s.Interface
	config    *rest.Config
	namespace string
	opts      Options
	owner     sandbox.Owner
	log       logrus.FieldLogger
	checked   atomic.Bool
	checkMu   sync.Mutex
}

var _ sandbox.Backend = (*Backend)(nil)

// New returns a backend that talks to the API server of cfg.
func New(cfg *rest.Config, o Options) (*Backend, error) {
	cfg = rest.CopyConfig(cfg)
	if cfg.QPS == 0 {
		// client-go's default (5 a second) would hold runs back: a run
		// makes about six calls.
		cfg.QPS, cfg.Burst = 100, 200
	}
	c, err := k8s.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("%w: the Kubernetes client: %v", sandbox.ErrUnavailable, err)
	}
	if o.Namespace == "" {
		o.Namespace = DefaultNamespace
	}
	return &Backend{client: c, config: cfg, namespace: o.Namespace, opts: o, owner: sandbox.CurrentOwner(), log: sandbox.Logger(o.Log)}, nil
}

// Name is "kubernetes".
func (b *Backend) Name() string { return Name }

// Check asks the API server whether the namespace is ready for tool
// Pods: it exists, enforces restricted, and holds the deny-all
// NetworkPolicy. A namespace that would weaken a run is ErrPolicy.
func (b *Backend) Check(ctx context.Context) error {
	b.checkMu.Lock()
	defer b.checkMu.Unlock()
	if err := Check(ctx, b.client, b.namespace); err != nil {
		return err
	}
	b.checked.Store(true)
	return nil
}

// Describe reports the cluster, the namespace and the Pods' protections.
func (b *Backend) Describe(ctx context.Context) sandbox.Description {
	d := sandbox.Description{Name: Name, Details: map[string]string{"namespace": b.namespace, "api-server": b.config.Host}}
	var v version.Info
	if raw, err := b.client.Discovery().RESTClient().Get().AbsPath("/version").Do(ctx).Raw(); err == nil && json.Unmarshal(raw, &v) == nil {
		d.Details["server-version"] = v.GitVersion
	}
	if b.opts.RuntimeClass != "" {
		d.Details["runtime-class"] = b.opts.RuntimeClass
	}
	d.Details["seccomp"] = b.seccompName()
	if err := b.Check(ctx); err != nil {
		d.Reason = err.Error()
	} else {
		d.Usable = true
	}
	d.Protections = []string{
		"Pod Security: restricted, enforced by the namespace",
		"network: the namespace's deny-all NetworkPolicy (where the network plugin enforces it)",
		"capabilities: all dropped; no privilege escalation; non-root uid and gid 1000",
		"root filesystem: read-only; /tmp, home and /output: size-limited memory emptyDirs",
		"seccomp: " + b.seccompName(),
		"memory and cpu: requests equal limits; ephemeral storage bounded",
		"no service account token, no service links, no host namespaces or paths",
		"ulimits set by sablebox's bootstrap: nofile, nproc, fsize, stack, core=0",
	}
	return d
}

func (b *Backend) seccompName() string {
	if b.opts.RuntimeDefault {
		return "RuntimeDefault (the container runtime's profile)"
	}
	return "Localhost " + localhostProfile("NAME") + " (sablebox's, installed on the nodes)"
}

// Run runs spec in a fresh Pod and deletes it; see sandbox.Backend.
func (b *Backend) Run(ctx context.Context, spec *sandbox.Spec) (*sandbox.Result, error) {
	return lifecycle.Run(ctx, driver{b}, spec)
}

// Prepare makes spec's Pod, whose bootstrap waits for the run; see
// sandbox.Backend.
func (b *Backend) Prepare(ctx context.Context, spec *sandbox.Spec) (sandbox.Prepared, error) {
	return lifecycle.Prepare(ctx, driver{b}, spec, sandbox.PreparedWait)
}

// Reap deletes the Pods and ConfigMaps of runs whose owner died or whose
// deadline passed long ago (their annotations tell; see
// sandbox.Owner.Orphaned).
func (b *Backend) Reap(ctx context.Context) (int, error) {
	sel := metav1.ListOptions{LabelSelector: LabelManaged + "=" + managedBy + "," + LabelRole + "=" + roleTool}
	pods, err := b.client.CoreV1().Pods(b.namespace).List(ctx, sel)
	if err != nil {
		return 0, fmt.Errorf("list tool Pods: %w", err)
	}
	cms, err := b.client.CoreV1().ConfigMaps(b.namespace).List(ctx, sel)
	if err != nil {
		return 0, fmt.Errorf("list tool ConfigMaps: %w", err)
	}
	var leftovers []engine.Leftover
	for _, p := range pods.Items {
		leftovers = append(leftovers, engine.Leftover{ID: "pod/" + p.Name, Labels: p.Annotations})
	}
	for _, c := range cms.Items {
		leftovers = append(leftovers, engine.Leftover{ID: "configmap/" + c.Name, Labels: c.Annotations})
	}
	return engine.Reap(leftovers, b.owner, time.Now(), func(id string) error {
		kind, name, _ := strings.Cut(id, "/")
		if kind == "pod" {
			return b.deletePod(name)
		}
		return b.deleteConfigMap(name)
	}, b.log)
}

// Count counts the objects of run runID: its Pods and ConfigMaps.
func (b *Backend) Count(ctx context.Context, runID string) (int, error) {
	sel := metav1.ListOptions{LabelSelector: LabelRun + "=" + RunKey(runID)}
	pods, err := b.client.CoreV1().Pods(b.namespace).List(ctx, sel)
	if err != nil {
		return 0, err
	}
	cms, err := b.client.CoreV1().ConfigMaps(b.namespace).List(ctx, sel)
	if err != nil {
		return 0, err
	}
	return len(pods.Items) + len(cms.Items), nil
}

// Close releases nothing: the client holds no connection of its own.
func (b *Backend) Close() error { return nil }

// deletePod deletes a Pod at once (a grace period of 0: the kubelet kills
// what still runs in it); one already gone is fine.
func (b *Backend) deletePod(name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), lifecycle.CleanupTimeout)
	defer cancel()
	zero := int64(0)
	err := b.client.CoreV1().Pods(b.namespace).Delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete Pod %s: %w", name, err)
	}
	return nil
}

// deleteConfigMap deletes a ConfigMap; one already gone is fine.
func (b *Backend) deleteConfigMap(name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), lifecycle.CleanupTimeout)
	defer cancel()
	err := b.client.CoreV1().ConfigMaps(b.namespace).Delete(ctx, name, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete ConfigMap %s: %w", name, err)
	}
	return nil
}

// ownerAnnotations are the owner's labels (sandbox.Owner.Labels) as
// annotations: label values cannot hold a pid namespace's name.
func (b *Backend) ownerAnnotations(runID string, deadline time.Time) map[string]string {
	return b.owner.Labels(runID, sbversion.Version, deadline)
}
