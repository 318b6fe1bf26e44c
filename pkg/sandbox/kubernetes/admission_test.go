package kubernetes

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8s "k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"

	"github.com/sablebox/sablebox/pkg/sandbox"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// specs are the runs whose objects the tests build: a Python tool with
// workspace files, /output and stdin, a shell tool under RuntimeDefault
// and gVisor, and a command.
func specs() map[string]struct {
	spec *sandbox.Spec
	opts PodOptions
} {
	localhost := PodOptions{Image: "sablebox/sandbox:latest", SeccompLocalhost: DefaultSeccompProfile}
	return map[string]struct {
		spec *sandbox.Spec
		opts PodOptions
	}{
		"python-tool": {&sandbox.Spec{RunID: "00000000000000a1", Tool: &sandbox.ToolFile{Name: "wordcount.py", Lang: sandbox.LangPython, Content: []byte("print(1)\n")},
			Args: []string{"--top", "3"}, Env: []string{"LANG=C.UTF-8"}, Stdin: strings.NewReader("x"), Output: true,
			Files: []sandbox.File{{Path: "data/sample.txt", Content: []byte("a b\n")}}}, localhost},
		"shell-gvisor": {&sandbox.Spec{RunID: "00000000000000b2", Tool: &sandbox.ToolFile{Name: "lines.sh", Lang: sandbox.LangSh, Content: []byte("wc -l\n")},
			Limits: sandbox.Limits{Timeout: 5 * time.Second, MemoryBytes: 64 << 20, CPUs: 1}},
			PodOptions{Image: "sablebox/sandbox:latest", RuntimeClass: GVisorRuntimeClass}},
		"command": {&sandbox.Spec{RunID: "00000000000000c3", Command: []string{"python3", "-c", "print(42)"}}, localhost},
	}
}

// Each run's Pod and ConfigMap are what the golden files hold.
func TestObjectsMatchGoldenFiles(t *testing.T) {
	for name, c := range specs() {
		c.opts.Namespace = DefaultNamespace
		objs, err := ForRun(c.spec, c.opts)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		for i, o := range []any{objs.ConfigMap, objs.Pod} {
			if i > 0 {
				buf.WriteString("---\n")
			}
			b, err := yaml.Marshal(o)
			if err != nil {
				t.Fatal(err)
			}
			buf.Write(clean(b))
		}
		golden := filepath.Join("testdata", name+".yaml")
		if *update {
			if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%v (go test -run TestObjectsMatchGoldenFiles -update writes it)", err)
		}
		if !bytes.Equal(want, buf.Bytes()) {
			t.Errorf("%s drifted from %s (go test -update rewrites it after a review):\n%s", name, golden, buf.String())
		}
	}
}

// The committed examples/k8s files are what `sablebox k8s manifests`
// prints.
func TestManifestsMatchExamples(t *testing.T) {
	files, err := Manifests(DefaultNamespace)
	if err != nil {
		t.Fatal(err)
	}
	dir := "../../../examples/k8s"
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if _, ok := files[e.Name()]; !ok && strings.HasSuffix(e.Name(), ".yaml") {
			t.Errorf("examples/k8s/%s is no manifest of sablebox k8s manifests", e.Name())
		}
	}
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("examples/k8s/%s drifted from the code (%v): run `sablebox k8s manifests --dir examples/k8s`", name, err)
		}
	}
}

// Against a real API server with PodSecurity enforcing restricted: every
// Pod the backend makes is admitted with no warning, through the
// runner's own least RBAC, and deleting a run's objects by its label
// leaves none; a Pod that breaks the standard is refused (the admission
// is really on), and the runner may not read Secrets.
func TestPodsAreAdmittedUnderRestricted(t *testing.T) {
	s := startAPIServer(t)
	ns := setupNamespace(t, s)
	ctx := context.Background()
	runner := rest.CopyConfig(s.config)
	runner.Impersonate = rest.ImpersonationConfig{UserName: "system:serviceaccount:" + ns + ":" + ServiceAccount}
	rc, err := k8s.NewForConfig(runner)
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range specs() {
		c.opts.Namespace = ns
		objs, err := ForRun(c.spec, c.opts)
		if err != nil {
			t.Fatal(err)
		}
		s.takeWarnings()
		if _, err := rc.CoreV1().ConfigMaps(ns).Create(ctx, objs.ConfigMap, metav1.CreateOptions{}); err != nil {
			t.Fatalf("%s: configmap: %v", name, err)
		}
		if _, err := rc.CoreV1().Pods(ns).Create(ctx, objs.Pod, metav1.CreateOptions{}); err != nil {
			t.Errorf("%s: the Pod was not admitted: %v", name, err)
		}
		if w := s.takeWarnings(); len(w) > 0 {
			t.Errorf("%s: admission warned: %v", name, w)
		}
		sel := metav1.ListOptions{LabelSelector: LabelRun + "=" + objs.Pod.Labels[LabelRun]}
		if err := rc.CoreV1().Pods(ns).DeleteCollection(ctx, metav1.DeleteOptions{GracePeriodSeconds: new(int64)}, sel); err != nil {
			t.Errorf("%s: delete the pods: %v", name, err)
		}
		if err := rc.CoreV1().ConfigMaps(ns).DeleteCollection(ctx, metav1.DeleteOptions{}, sel); err != nil {
			t.Errorf("%s: delete the configmaps: %v", name, err)
		}
		waitGone(t, rc, ns, sel)
	}

	// The negative controls.
	objs, err := ForRun(specs()["command"].spec, PodOptions{Namespace: ns, Image: "x"})
	if err != nil {
		t.Fatal(err)
	}
	bad := objs.Pod.DeepCopy()
	bad.Name = "sablebox-not-restricted"
	bad.Spec.Containers[0].SecurityContext.AllowPrivilegeEscalation = nil
	bad.Spec.Containers[0].SecurityContext.Capabilities = nil
	if _, err := s.client.CoreV1().Pods(ns).Create(ctx, bad, metav1.CreateOptions{}); !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "restricted") {
		t.Errorf("a Pod that breaks restricted: %v, want refused by PodSecurity", err)
	}
	if _, err := rc.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("the runner listed Secrets: %v, want forbidden", err)
	}
}

// waitGone waits until no Pod or ConfigMap matches sel.
func waitGone(t *testing.T, c *k8s.Clientset, ns string, sel metav1.ListOptions) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		pods, err := c.CoreV1().Pods(ns).List(context.Background(), sel)
		if err != nil {
			t.Fatal(err)
		}
		cms, err := c.CoreV1().ConfigMaps(ns).List(context.Background(), sel)
		if err != nil {
			t.Fatal(err)
		}
		if len(pods.Items) == 0 && len(cms.Items) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("left behind: %d pods, %d configmaps", len(pods.Items), len(cms.Items))
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// How many runs' objects (a ConfigMap and a Pod, admitted under
// restricted, then deleted) the API server here takes per second, through
// the runner's RBAC: the figure the README's scale section gives.
func BenchmarkAPIServerAcceptsRuns(b *testing.B) {
	s := startAPIServer(b)
	ns := setupNamespace(b, s)
	ctx := context.Background()
	c := specs()["python-tool"]
	c.opts.Namespace = ns
	for i := 0; b.Loop(); i++ {
		spec := *c.spec
		spec.RunID = fmt.Sprintf("%016x", i)
		objs, err := ForRun(&spec, c.opts)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.client.CoreV1().ConfigMaps(ns).Create(ctx, objs.ConfigMap, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
		if _, err := s.client.CoreV1().Pods(ns).Create(ctx, objs.Pod, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
		zero := int64(0)
		if err := s.client.CoreV1().Pods(ns).Delete(ctx, objs.Pod.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
			b.Fatal(err)
		}
		if err := s.client.CoreV1().ConfigMaps(ns).Delete(ctx, objs.ConfigMap.Name, metav1.DeleteOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "runs/s")
}
