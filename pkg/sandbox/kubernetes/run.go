package kubernetes

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/streaming/pkg/httpstream"

	"github.com/sablebox/sablebox/pkg/internal/engine"
	"github.com/sablebox/sablebox/pkg/internal/lifecycle"
	"github.com/sablebox/sablebox/pkg/metrics"
	"github.com/sablebox/sablebox/pkg/sandbox"
	"github.com/sablebox/sablebox/pkg/seccomp"
)

// driver is the Kubernetes backend as the lifecycle drives it.
type driver struct{ b *Backend }

func (d driver) Name() string            { return Name }
func (d driver) Images() bool            { return true }
func (d driver) Log() logrus.FieldLogger { return d.b.log }
func (d driver) Metrics() *metrics.Runs  { return d.b.opts.Metrics }

// startSlack is the time a Pod's deadline allows beyond its run's timeout
// and wait, for its start and the steps around the tool: the cluster's
// deadline is a backstop for a sablebox that died, never the timer of a
// live run.
const startSlack = 2 * lifecycle.SetupTimeout

// execRoots are the only places a tool may execve from: the image's
// read-only system directories. /tmp, home, /output and /workspace are
// emptyDirs and ConfigMaps that Kubernetes cannot mount noexec, so the
// bootstrap refuses exec there with Landlock.
var execRoots = []string{"/usr", "/bin", "/sbin", "/lib", "/lib64"}

// noexecNote is in every run's Degraded: Landlock refuses execve from the
// writable directories, but not an executable mapping of a file there.
const noexecNote = "noexec: Kubernetes mounts emptyDirs without noexec: /tmp, home and /output refuse execve " +
	"(Landlock, set by sablebox's bootstrap), not an executable mapping (mmap PROT_EXEC) of a file written there"

// localhostProfile is where the DaemonSet installs sablebox's profile
// name on every node, relative to the kubelet's seccomp directory.
func localhostProfile(name string) string { return "sablebox/" + name + ".json" }

// maxConfigMapBytes is what one ConfigMap may hold (the API server's
// bound, 1 MiB, less room for its metadata).
const maxConfigMapBytes = 1<<20 - 16<<10

// nodeProfiles are the documents of sablebox's built-in seccomp
// profiles, by name: what the DaemonSet installs on the nodes, made once.
var nodeProfiles = sync.OnceValues(func() (map[string][]byte, error) {
	docs := map[string][]byte{}
	for _, name := range seccomp.Builtins {
		doc, err := seccomp.Builtin(name).Marshal()
		if err != nil {
			return nil, fmt.Errorf("seccomp profile %s: %w", name, err)
		}
		docs[name] = doc
	}
	return docs, nil
})

// builtinName finds which of sablebox's built-in profiles p is, by its
// document: the nodes hold those alone.
func builtinName(p *sandbox.SeccompProfile) (string, bool) {
	docs, err := nodeProfiles()
	if err != nil {
		return "", false
	}
	for name, doc := range docs {
		if bytes.Equal(bytes.TrimSpace(doc), bytes.TrimSpace(p.JSON)) {
			return name, true
		}
	}
	return "", false
}

// Prepare checks the namespace (once), then makes the run's ConfigMap and
// Pod, and waits until the Pod's bootstrap runs, waiting for the run.
func (d driver) Prepare(ctx context.Context, spec *sandbox.Spec, deadline time.Time) (lifecycle.Sandbox, error) {
	b := d.b
	opts := PodOptions{Namespace: b.namespace, Image: spec.Image, RuntimeClass: b.opts.RuntimeClass,
		Slack: time.Until(deadline) - spec.Limits.Timeout + startSlack, Annotations: b.ownerAnnotations(spec.RunID, deadline)}
	degraded := []string{noexecNote}
	switch name, ok := builtinName(spec.Seccomp); {
	case spec.Seccomp.Unconfined:
		return nil, fmt.Errorf("%w: the kubernetes backend runs no Pod unconfined: the namespace enforces the restricted Pod Security Standard", sandbox.ErrPolicy)
	case b.opts.RuntimeDefault:
		degraded = append(degraded, "seccomp: the container runtime's default profile (kube-seccomp: runtime-default), not sablebox's "+spec.Seccomp.Name)
	case !ok:
		return nil, fmt.Errorf("%w: the kubernetes backend applies the profiles the nodes hold (%v, installed by sablebox's DaemonSet); profile %q is not one of them: "+
			"use a built-in profile, or kube-seccomp: runtime-default", sandbox.ErrInvalidSpec, seccomp.Builtins, spec.Seccomp.Name)
	default:
		opts.SeccompLocalhost = localhostProfile(name)
	}
	degraded = append(degraded, d.adjustPids(spec))
	marks := engine.NewHandoff()
	marks.TarsOutput, marks.SetsLimits, marks.CleanEnv, marks.ExecRoots = true, true, true, execRoots
	marks.Bind(spec)
	objs, err := ForRun(spec, opts)
	if err != nil {
		return nil, err
	}
	if size := objs.ConfigMap.Size(); size > maxConfigMapBytes {
		return nil, fmt.Errorf("%w: the tool and workspace files come to %d KiB; the kubernetes backend carries them in a ConfigMap, which holds at most %d KiB: "+
			"send fewer or smaller files, or run on docker, podman or process", sandbox.ErrInvalidSpec, size>>10, maxConfigMapBytes>>10)
	}
	if !b.checked.Load() {
		if err := b.Check(ctx); err != nil {
			return nil, err
		}
	}
	p := &pod{b: b, name: objs.Pod.Name, runID: spec.RunID, degraded: degraded, marks: marks,
		attachDone: make(chan struct{}), watch: newPodWatch()}
	if len(objs.ConfigMap.BinaryData) > 0 {
		// Before the create: a create cut by a cancel or a timeout may
		// have made the ConfigMap all the same, and Remove deletes it.
		p.configMap = true
		if _, err := b.client.CoreV1().ConfigMaps(b.namespace).Create(ctx, objs.ConfigMap, metav1.CreateOptions{}); err != nil {
			_ = p.Remove()
			return nil, d.createError("ConfigMap", err)
		}
		p.configMap = true
	}
	created, err := b.client.CoreV1().Pods(b.namespace).Create(ctx, objs.Pod, metav1.CreateOptions{})
	if err != nil {
		_ = p.Remove()
		return nil, d.createError("Pod", err)
	}
	p.watchCtx, p.stopWatch = context.WithCancel(context.Background())
	go p.watch.run(p.watchCtx, b, created)
	if err := p.awaitRunning(ctx, spec.Image); err != nil {
		_ = p.Remove()
		return nil, err
	}
	return p, nil
}

// adjustPids sets spec's pids bound to what the nodes enforce: a Pod's
// is the kubelet's podPidsLimit, which no Pod can set.
func (d driver) adjustPids(spec *sandbox.Spec) string {
	asked, node := spec.Limits.Pids, d.b.opts.PodPidsLimit
	if node <= 0 {
		return fmt.Sprintf("pids: Kubernetes has no per-Pod pids limit: the nodes' kubelet podPidsLimit bounds each Pod, not the run's %d "+
			"(set it on the nodes, and kube-pod-pids-limit to tell sablebox)", asked)
	}
	spec.Limits.Pids = node
	return fmt.Sprintf("pids: the nodes' podPidsLimit (%d) bounds the Pod, its pause process and sablebox's shell included, not the run's %d", node, asked)
}

// createError classifies a refused create: a Pod the namespace's Pod
// Security refuses is a policy refusal, an object the API server finds
// invalid a bad spec, anything else (the runner's RBAC too) a cluster
// sablebox cannot use.
func (d driver) createError(what string, err error) error {
	switch {
	case apierrors.IsForbidden(err) && strings.Contains(err.Error(), "violates PodSecurity"):
		return fmt.Errorf("%w: create the run's %s: %v", sandbox.ErrPolicy, what, err)
	case apierrors.IsForbidden(err):
		return fmt.Errorf("%w: create the run's %s: %v (the runner's RBAC: sablebox k8s setup, or examples/k8s/rbac.yaml)",
			sandbox.ErrUnavailable, what, err)
	case apierrors.IsInvalid(err):
		return fmt.Errorf("%w: create the run's %s: %v", sandbox.ErrInvalidSpec, what, err)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("create the run's %s: %w", what, err)
	default:
		return fmt.Errorf("%w: create the run's %s: %v", sandbox.ErrUnavailable, what, err)
	}
}

// pod is one run's Pod.
type pod struct {
	b         *Backend
	name      string
	runID     string
	configMap bool
	degraded  []string
	marks     *engine.Handoff
	watch     *podWatch
	watchCtx  context.Context
	stopWatch context.CancelFunc

	stdin       *io.PipeWriter     // the attach stream's stdin: the header, then the run's
	runStdin    io.Reader          // the run's stdin (nil: none)
	stopAttach  context.CancelFunc // ends the attach stream
	attachDone  chan struct{}      // closes when the attach stream has ended
	attachErr   error
	removeOnce  sync.Once
	removeError error
}

var (
	_ lifecycle.Sandbox = (*pod)(nil)
	_ lifecycle.Ender   = (*pod)(nil)
)

func (p *pod) Degraded() []string { return p.degraded }

// Put does nothing: the tool and the files came in the ConfigMap.
func (p *pod) Put(context.Context, *sandbox.ToolFile, []sandbox.File) error { return nil }

// awaitRunning waits until the Pod's container runs, and fails at once
// on what will not come right by waiting (an image the node cannot get,
// a container the runtime cannot make, such as one whose seccomp profile
// the node lacks).
func (p *pod) awaitRunning(ctx context.Context, image string) error {
	var last *corev1.Pod
	err := p.watch.until(ctx, func(pod *corev1.Pod, gone bool) (bool, error) {
		last = pod
		if gone {
			return false, fmt.Errorf("%w: the run's Pod was deleted before it started", sandbox.ErrUnavailable)
		}
		if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
			return false, fmt.Errorf("%w: the run's Pod ended before its run: %s %s", sandbox.ErrUnavailable, pod.Status.Reason, pod.Status.Message)
		}
		st := toolStatus(pod)
		if st == nil {
			return false, nil
		}
		if st.State.Running != nil {
			return true, nil
		}
		if st.State.Terminated != nil {
			return false, fmt.Errorf("%w: the Pod's bootstrap ended before its run: %s (exit %d) %s", sandbox.ErrUnavailable,
				st.State.Terminated.Reason, st.State.Terminated.ExitCode, st.State.Terminated.Message)
		}
		if w := st.State.Waiting; w != nil {
			switch w.Reason {
			case "ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull":
				return false, fmt.Errorf("%w: the node cannot get image %q (%s: %s): load it into the nodes' container runtime, or push it to a registry they reach",
					sandbox.ErrImageMissing, image, w.Reason, w.Message)
			case "CreateContainerConfigError", "CreateContainerError", "RunContainerError":
				return false, fmt.Errorf("%w: the node could not make the tool's container (%s: %s); a missing seccomp profile means the nodes lack sablebox's DaemonSet (examples/k8s/seccomp-daemonset.yaml)",
					sandbox.ErrUnavailable, w.Reason, w.Message)
			}
		}
		return false, nil
	})
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("the run's Pod did not start: %w (%s)", err, pendingReason(last))
	}
	return err
}

// pendingReason says why a Pod is not running yet, from its conditions.
func pendingReason(pod *corev1.Pod) string {
	if pod == nil {
		return "no word from the API server"
	}
	for _, c := range pod.Status.Conditions {
		if c.Status != corev1.ConditionTrue && c.Message != "" {
			return fmt.Sprintf("%s: %s", c.Type, c.Message)
		}
	}
	if pod.Spec.NodeName == "" {
		return "not scheduled to a node"
	}
	return "phase " + string(pod.Status.Phase) + " on node " + pod.Spec.NodeName
}

// toolStatus is the tool container's status, or nil.
func toolStatus(pod *corev1.Pod) *corev1.ContainerStatus {
	for i := range pod.Status.ContainerStatuses {
		if pod.Status.ContainerStatuses[i].Name == Container {
			return &pod.Status.ContainerStatuses[i]
		}
	}
	return nil
}

// Attach attaches to the running bootstrap: stdin (the run's header,
// then its stdin) and the two output streams, through the end marks.
func (p *pod) Attach(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer) (lifecycle.Streams, error) {
	req := p.b.client.CoreV1().RESTClient().Post().Resource("pods").Namespace(p.b.namespace).Name(p.name).
		SubResource("attach").VersionedParams(&corev1.PodAttachOptions{Container: Container, Stdin: true, Stdout: true, Stderr: true}, scheme.ParameterCodec)
	exec, err := p.b.executor(req.URL())
	if err != nil {
		return lifecycle.Streams{}, err
	}
	pr, pw := io.Pipe()
	p.stdin, p.runStdin = pw, stdin
	p.marks.Connect(stdout, stderr)
	streamCtx, stop := context.WithCancel(context.Background())
	p.stopAttach = stop
	go func() {
		defer close(p.attachDone)
		p.attachErr = exec.StreamWithContext(streamCtx, remotecommand.StreamOptions{Stdin: pr, Stdout: &p.marks.Stdout, Stderr: &p.marks.Stderr})
		pr.CloseWithError(errors.New("the attach stream ended")) // the stdin feed stops
		p.marks.Flush()
	}()
	return lifecycle.Streams{Drained: p.marks.Drained(p.attachDone), Abort: stop}, nil
}

// executor streams to url over WebSocket, or SPDY where the API server
// does not take WebSocket.
func (b *Backend) executor(u *url.URL) (remotecommand.Executor, error) {
	ws, err := remotecommand.NewWebSocketExecutor(b.config, "GET", u.String())
	if err != nil {
		return nil, fmt.Errorf("%w: attach: %v", sandbox.ErrUnavailable, err)
	}
	spdy, err := remotecommand.NewSPDYExecutor(b.config, "POST", u)
	if err != nil {
		return nil, fmt.Errorf("%w: attach: %v", sandbox.ErrUnavailable, err)
	}
	return remotecommand.NewFallbackExecutor(ws, spdy, func(err error) bool {
		return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
	})
}

// Start hands the run to the bootstrap: its header, then its stdin, then
// the end of stdin.
func (p *pod) Start(context.Context) error {
	go func() {
		if _, err := p.stdin.Write(p.marks.Header()); err == nil && p.runStdin != nil {
			_, _ = io.Copy(p.stdin, p.runStdin)
		}
		_ = p.stdin.Close()
	}()
	return nil
}

// Wait waits for the tool's end mark. A stream that ends without one
// fails the run at once when the attach itself failed (the bootstrap
// never got its run), and otherwise (the Pod was killed or deleted)
// leaves the answer to the Pod's status.
func (p *pod) Wait(ctx context.Context) (int, error) {
	select {
	case <-p.marks.Ended():
		return p.marks.Code(), nil
	case <-p.attachDone:
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	select {
	case <-p.marks.Ended():
		return p.marks.Code(), nil
	default:
	}
	if p.attachErr != nil {
		return 0, fmt.Errorf("attach to the run's Pod: %w", p.attachErr)
	}
	return p.terminated(ctx)
}

// terminated waits for the container's end as the Pod's status tells it:
// its exit code, or 137 for a Pod deleted or ended before it said one.
func (p *pod) terminated(ctx context.Context) (int, error) {
	code := sandbox.ExitKilled
	err := p.watch.until(ctx, func(pod *corev1.Pod, gone bool) (bool, error) {
		if gone || pod.Status.Phase == corev1.PodFailed || pod.Status.Phase == corev1.PodSucceeded {
			if st := toolStatus(pod); st != nil && st.State.Terminated != nil && !gone {
				code = int(st.State.Terminated.ExitCode)
			}
			return true, nil
		}
		if st := toolStatus(pod); st != nil && st.State.Terminated != nil {
			code = int(st.State.Terminated.ExitCode)
			return true, nil
		}
		return false, nil
	})
	return code, err
}

// killInsideWait is how long a kill from inside has to end the tool.
const killInsideWait = 3 * time.Second

// Kill kills the tool's processes from inside its container (an exec of
// kill -9 -1 as the tool's user), so that the shell marks the end and
// writes /output; where that fails, it deletes the Pod, output and all.
func (p *pod) Kill(ctx context.Context) error {
	select {
	case <-p.marks.Ended():
		return nil
	default:
	}
	err := p.killInside(ctx)
	if err == nil {
		return nil
	}
	p.b.log.WithField("run", p.runID).WithError(err).Warn("the tool could not be killed from inside its Pod: the Pod is deleted, with its output")
	return p.b.deletePod(p.name)
}

func (p *pod) killInside(ctx context.Context) error {
	req := p.b.client.CoreV1().RESTClient().Post().Resource("pods").Namespace(p.b.namespace).Name(p.name).
		SubResource("exec").VersionedParams(&corev1.PodExecOptions{Container: Container, Command: engine.KillCommand(), Stdout: true, Stderr: true}, scheme.ParameterCodec)
	exec, err := p.b.executor(req.URL())
	if err != nil {
		return err
	}
	execCtx, cancel := context.WithTimeout(ctx, killInsideWait)
	defer cancel()
	if err := exec.StreamWithContext(execCtx, remotecommand.StreamOptions{Stdout: io.Discard, Stderr: io.Discard}); err != nil {
		// kill -9 -1 exits 0; a pids or memory limit that refuses the
		// exec, or a kubelet out of reach, fails here.
		var exit interface{ ExitStatus() int }
		if !errors.As(err, &exit) {
			return fmt.Errorf("exec the kill: %w", err)
		}
	}
	select {
	case <-p.marks.Ended():
		return nil
	case <-p.attachDone:
		return nil
	case <-execCtx.Done():
		return fmt.Errorf("the tool did not end within %v of its kill from inside", killInsideWait)
	}
}

// OOMKilled asks the Pod's status, for a tool killed by SIGKILL: the
// container ends once its shell has written /output, and the runtime's
// OOM event names it OOMKilled. A tool that exited of itself was not
// killed by the OOM killer (one of its children may have been: the tool
// then tells of it itself).
func (p *pod) OOMKilled(ctx context.Context) (bool, error) {
	select {
	case <-p.marks.Ended():
		if p.marks.Code() != sandbox.ExitKilled {
			return false, nil
		}
	default:
	}
	oom := false
	err := p.watch.until(ctx, func(pod *corev1.Pod, gone bool) (bool, error) {
		st := toolStatus(pod)
		if gone || st == nil {
			return true, nil
		}
		if t := st.State.Terminated; t != nil {
			oom = t.Reason == "OOMKilled"
			return true, nil
		}
		return pod.Status.Phase == corev1.PodFailed, nil
	})
	return oom, err
}

// Ended tells the ends the cluster gives a Pod: its deadline passed
// (timeout), or the node evicted it (killed).
func (p *pod) Ended() (sandbox.Status, string) {
	pod, _ := p.watch.current()
	if pod == nil || pod.Status.Phase != corev1.PodFailed {
		return "", ""
	}
	switch pod.Status.Reason {
	case "DeadlineExceeded":
		return sandbox.StatusTimeout, "the Pod's deadline passed: " + pod.Status.Message
	case "Evicted":
		return sandbox.StatusKilled, "the node evicted the Pod: " + pod.Status.Message
	}
	return "", ""
}

// Output reads /output from the tar its shell writes after the tool's
// end mark: the emptyDir goes with the Pod.
func (p *pod) Output(ctx context.Context) (*engine.Collected, error) {
	col, err := p.marks.Output(ctx)
	if err != nil {
		return col, fmt.Errorf("read /output from the Pod: %w", err)
	}
	return col, nil
}

// Remove ends the streams and the watch and deletes the Pod and the
// ConfigMap; both already gone is fine.
func (p *pod) Remove() error {
	p.removeOnce.Do(func() {
		if p.stopAttach != nil {
			// The stream ends with the container, just after the tool's
			// end mark; one that outlives that is cut.
			select {
			case <-p.attachDone:
			case <-time.After(lifecycle.DrainTimeout):
			}
			p.stopAttach()
		}
		if p.stdin != nil {
			_ = p.stdin.CloseWithError(errors.New("the run's Pod is removed"))
		}
		var errs []error
		errs = append(errs, p.b.deletePod(p.name))
		if p.configMap {
			errs = append(errs, p.b.deleteConfigMap(p.name))
		}
		if p.stopWatch != nil {
			p.stopWatch()
		}
		p.removeError = errors.Join(errs...)
	})
	return p.removeError
}
