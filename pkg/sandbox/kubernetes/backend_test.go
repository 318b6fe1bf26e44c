package kubernetes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sablebox/sablebox/pkg/sandbox"
	"github.com/sablebox/sablebox/pkg/sandbox/sandboxtest"
	"github.com/sablebox/sablebox/pkg/seccomp"
)

// testImage is the sandbox image the node runs (imported from Docker).
const testImage = "sablebox/sandbox:latest"

// nodeExceptions are the behaviours a Pod cannot have, and why.
var nodeExceptions = map[string]string{
	"the CPU time a tool used is reported": "the Kubernetes API does not report a container's CPU time (a metrics server samples it)",
	"no network interface but loopback": "a Pod has its cluster network's interface; the namespace's deny-all NetworkPolicy keeps it off the network " +
		"where the network plugin enforces NetworkPolicy (the test node's bridge has no address, no route and no other host)",
	"workspace is readable and read-only":              "a host directory is not on the cluster's nodes: workspace files come by content",
	"workspace is read-only under a writable submount": "a host directory is not on the cluster's nodes: workspace files come by content",
	"workspace files given by content are there and read-only": "a ConfigMap volume's directories are 0755 (root's, on a read-only mount), not 0555: " +
		"TestWorkspaceFilesByContent checks the rest of the row",
}

// newTestBackend is a backend on the test node's API server, in a fresh
// namespace made as `sablebox k8s setup` makes one.
func newTestBackend(t *testing.T, o Options) (*Backend, *apiServer) {
	t.Helper()
	s, _ := startNode(t)
	o.Namespace = setupNamespace(t, s)
	o.PodPidsLimit = nodePidsLimit
	b, err := New(s.config, o)
	if err != nil {
		t.Fatal(err)
	}
	return b, s
}

// The conformance suite, end to end through real Pods on a kubelet.
func TestConformance(t *testing.T) {
	b, _ := newTestBackend(t, Options{})
	sandboxtest.Run(t, sandboxtest.Config{
		Backend: b, Image: testImage, Seccomp: seccomp.DefaultProfile(),
		Leftovers:  b.Count,
		Exceptions: nodeExceptions,
	})
}

// Under the runtime's default profile the run says so; a profile the
// nodes do not hold, files beyond a ConfigMap and a host workspace
// directory are refused before any object is made.
func TestSeccompChoices(t *testing.T) {
	b, _ := newTestBackend(t, Options{RuntimeDefault: true})
	spec := &sandbox.Spec{RunID: sandbox.NewRunID(), Image: testImage, Limits: sandbox.DefaultLimits(),
		Seccomp: seccomp.DefaultProfile(), Command: []string{"sh", "-c", "grep Seccomp: /proc/self/status"}}
	res, err := b.Run(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != sandbox.StatusOK || !strings.Contains(res.Stdout.String(), "2") ||
		!strings.Contains(strings.Join(res.Degraded, "\n"), "seccomp: the container runtime's default profile") {
		t.Errorf("runtime-default: status %s stdout %q degraded %q", res.Status, res.Stdout.Data, res.Degraded)
	}
	b2, _ := newTestBackend(t, Options{})
	spec.RunID, spec.Seccomp = sandbox.NewRunID(), &sandbox.SeccompProfile{Name: "mine", JSON: []byte(`{"defaultAction":"SCMP_ACT_ERRNO"}`)}
	if _, err := b2.Run(context.Background(), spec); !errors.Is(err, sandbox.ErrInvalidSpec) || !strings.Contains(err.Error(), "DaemonSet") {
		t.Errorf("a profile the nodes lack: want ErrInvalidSpec naming the DaemonSet, got %v", err)
	}
	spec.RunID, spec.Seccomp = sandbox.NewRunID(), seccomp.DefaultProfile()
	spec.Files = []sandbox.File{{Path: "big.bin", Content: make([]byte, 2<<20)}}
	if _, err := b2.Run(context.Background(), spec); !errors.Is(err, sandbox.ErrInvalidSpec) || !strings.Contains(err.Error(), "ConfigMap") {
		t.Errorf("2 MiB of files: want ErrInvalidSpec naming the ConfigMap's bound, got %v", err)
	}
	spec.Files, spec.Workspace = nil, t.TempDir()
	if _, err := b2.Run(context.Background(), spec); !errors.Is(err, sandbox.ErrInvalidSpec) || !strings.Contains(err.Error(), "not on the cluster's nodes") {
		t.Errorf("a host workspace directory: want ErrInvalidSpec, got %v", err)
	}
	if n, err := b2.Count(context.Background(), spec.RunID); err != nil || n != 0 {
		t.Errorf("a refused run left %d objects (%v)", n, err)
	}
}

// A Pod whose owner died is swept, with its ConfigMap, by the next
// sablebox; one whose owner lives is left alone.
func TestReapSweepsADeadOwnersPod(t *testing.T) {
	b, _ := newTestBackend(t, Options{})
	ghost, err := New(b.config, Options{Namespace: b.namespace, PodPidsLimit: nodePidsLimit})
	if err != nil {
		t.Fatal(err)
	}
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	ghost.owner.PID = gone.Process.Pid // a process that has exited
	live := &sandbox.Spec{RunID: sandbox.NewRunID(), Image: testImage, Limits: sandbox.DefaultLimits(), Seccomp: seccomp.DefaultProfile(),
		Tool: &sandbox.ToolFile{Name: "t.py", Content: []byte("print(1)\n")}}
	dead := *live
	dead.RunID = sandbox.NewRunID()
	p, err := b.Prepare(context.Background(), live)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Remove()
	q, err := ghost.Prepare(context.Background(), &dead)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Remove()
	n, err := b.Reap(context.Background())
	if err != nil || n != 2 {
		t.Errorf("reaped %d objects (%v), want the dead owner's Pod and ConfigMap", n, err)
	}
	if left, _ := b.Count(context.Background(), dead.RunID); left != 0 {
		t.Errorf("%d objects of the dead owner's run left after the sweep", left)
	}
	if left, _ := b.Count(context.Background(), live.RunID); left != 2 {
		t.Errorf("the live run has %d objects after the sweep, want its 2", left)
	}
}

// Workspace files by content come read-only through the ConfigMap: the
// files 0444 (0555 executable), the directories root's on a read-only
// mount, so that no write or chmod of the tool's gets through.
func TestWorkspaceFilesByContent(t *testing.T) {
	b, _ := newTestBackend(t, Options{})
	spec := &sandbox.Spec{RunID: sandbox.NewRunID(), Image: testImage, Limits: sandbox.DefaultLimits(), Seccomp: seccomp.DefaultProfile(),
		Files: []sandbox.File{{Path: "a.txt", Content: []byte("alpha")}, {Path: "data/deep/b.csv", Content: []byte("1,2")},
			{Path: "run.sh", Content: []byte("#!/bin/sh\n"), Executable: true}},
		Tool: &sandbox.ToolFile{Name: "tool.py", Content: []byte(`
import os
print(open("/workspace/a.txt").read(), open("/workspace/data/deep/b.csv").read())
d = os.stat("/workspace/data")
print(oct(os.stat("/workspace/data/deep/b.csv").st_mode & 0o7777), d.st_uid, oct(d.st_mode & 0o222 & ~0o755))
for p in ("/workspace/a.txt", "/workspace/data", "/workspace/new.txt", "/workspace/data/new.txt"):
    try:
        if os.path.exists(p):
            os.chmod(p, 0o777)
        else:
            open(p, "w")
        print(p, "allowed")
    except OSError:
        print(p, "refused")
print(os.access("/workspace/run.sh", os.X_OK), os.access("/workspace/a.txt", os.X_OK))
`)}}
	res, err := b.Run(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	want := "alpha 1,2\n0o444 0 0o0\n/workspace/a.txt refused\n/workspace/data refused\n/workspace/new.txt refused\n/workspace/data/new.txt refused\nTrue False\n"
	if res.Status != sandbox.StatusOK || res.Stdout.String() != want {
		t.Errorf("status %s stdout %q stderr %q, want %q", res.Status, res.Stdout.Data, res.Stderr.Data, want)
	}
}

// `sablebox run --runtime kubernetes` runs a real tool through a Pod of
// the node, with the binary make builds, and leaves nothing behind.
func TestCLIRunsOnTheNode(t *testing.T) {
	b, s := newTestBackend(t, Options{})
	bin, err := filepath.Abs("../../../bin/sablebox")
	if err == nil {
		_, err = os.Stat(bin)
	}
	if err != nil {
		sandboxtest.SkipUnlessRequired(t, "kubelet", fmt.Errorf("no bin/sablebox (make build makes it): %w", err))
	}
	dir := t.TempDir()
	kubeconfig, err := s.writeKubeconfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "run", "--runtime", "kubernetes", "--kubeconfig", kubeconfig, "--kube-namespace", b.namespace,
		"--kube-pod-pids-limit", fmt.Sprint(nodePidsLimit), "--json", "../../../examples/wordcount.py", "--", "--top", "2")
	cmd.Stdin = strings.NewReader("the cat and the dog and the bird\n")
	cmd.Env = append(os.Environ(), "HOME="+dir)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var res sandbox.Result
	if jerr := json.Unmarshal(out, &res); err != nil || jerr != nil {
		t.Fatalf("sablebox run: %v (%v): %s\n%s", err, jerr, out, stderr.String())
	}
	if res.Status != sandbox.StatusOK || res.Backend != Name || !strings.Contains(res.Stdout.String(), "the") {
		t.Errorf("status %s on %s, stdout %q stderr %q", res.Status, res.Backend, res.Stdout.Data, res.Stderr.Data)
	}
	if n, err := b.Count(context.Background(), res.RunID); err != nil || n != 0 {
		t.Errorf("the run left %d objects (%v)", n, err)
	}
}

// Whole runs through Pods on the test node (a ConfigMap and a Pod made,
// scheduled, started, attached, run, deleted), 4 at once: runs/s and the
// median run.
func BenchmarkRunsOnTheNode(b *testing.B) {
	s, _ := startNode(b)
	backend, err := New(s.config, Options{Namespace: setupNamespace(b, s), PodPidsLimit: nodePidsLimit})
	if err != nil {
		b.Fatal(err)
	}
	var mu sync.Mutex
	var took []time.Duration
	b.SetParallelism(2) // 2 × GOMAXPROCS (2 here): 4 runs at once
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			spec := &sandbox.Spec{RunID: sandbox.NewRunID(), Image: testImage, Limits: sandbox.DefaultLimits(), Seccomp: seccomp.DefaultProfile(),
				Tool: &sandbox.ToolFile{Name: "t.py", Content: []byte("print('hi')\n")}}
			start := time.Now()
			res, err := backend.Run(context.Background(), spec)
			if err != nil || res.Status != sandbox.StatusOK {
				b.Errorf("run: %v %+v", err, res)
				return
			}
			mu.Lock()
			took = append(took, time.Since(start))
			mu.Unlock()
		}
	})
	slices.Sort(took)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "runs/s")
	if len(took) > 0 {
		b.ReportMetric(float64(took[len(took)/2].Milliseconds()), "p50-ms")
	}
}
