package sandboxtest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sablebox/sablebox/pkg/pool"
	"github.com/sablebox/sablebox/pkg/sandbox"
)

// RunWarm runs the conformance suite through the warm path of a pool:
// every run and every prepared sandbox is a sandbox warmed for its spec
// and handed the run, as a pool hit is. cfg.Backend must be a Warmer.
func RunWarm(t *testing.T, cfg Config) {
	w, ok := cfg.Backend.(sandbox.Warmer)
	if !ok {
		t.Fatalf("%s has no warm path", cfg.Backend.Name())
	}
	cfg.Backend = warmed{w}
	Run(t, cfg)
}

// warmed is a backend whose runs take a sandbox warmed for them, named by
// their run ID (so the suite's leftover count finds it), and return once
// it is removed.
type warmed struct{ sandbox.Warmer }

func (b warmed) Run(ctx context.Context, spec *sandbox.Spec) (*sandbox.Result, error) {
	p, err := b.Prepare(ctx, spec)
	if err != nil {
		return nil, err
	}
	return p.Run(ctx)
}

func (b warmed) Prepare(ctx context.Context, spec *sandbox.Spec) (sandbox.Prepared, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	if spec.Workspace != "" {
		// A host workspace is a bind mount: such runs start cold.
		return b.Warmer.Prepare(ctx, spec)
	}
	// A pool warms its sandboxes ahead of any caller's context.
	w, err := b.Warm(context.WithoutCancel(ctx), sandbox.Shape(spec), sandbox.PreparedWait)
	if err != nil {
		return nil, err
	}
	return warmRun{w, spec}, nil
}

// warmRun is a warm sandbox as a Prepared.
type warmRun struct {
	w    sandbox.Warm
	spec *sandbox.Spec
}

func (r warmRun) Run(ctx context.Context) (*sandbox.Result, error) {
	res, err := r.w.Run(ctx, r.spec)
	<-r.w.Removed()
	return res, err
}

func (r warmRun) Remove() error { return r.w.Remove() }

// Isolation checks, through a pool of one sandbox, that nothing of a run
// reaches the next: a file in /tmp, the home dir and /output, a process
// left running, an environment change, a tmpfs byte and the container
// itself; and that the closed pool leaves nothing behind, as owned counts
// (everything this process made on the backend: run it alone).
func Isolation(t *testing.T, cfg Config, owned func(ctx context.Context) (int, error)) {
	w, ok := cfg.Backend.(sandbox.Warmer)
	if !ok {
		t.Fatalf("%s has no warm path", cfg.Backend.Name())
	}
	shape := cfg.spec(t)
	shape.Output = true
	p, err := pool.New(w, shape, pool.Config{Min: 1, Max: 1}, pool.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	leave := `
import os, subprocess
for d in ("/tmp", os.environ["HOME"], "/output"):
    open(os.path.join(d, "left-by-run-n"), "w").write("x" * 4096)
subprocess.Popen(["sleep", "300"], start_new_session=True)
os.environ["LEFT_BY_RUN_N"] = "1"
open("/tmp/env", "w").write("export LEFT_BY_RUN_N=1\n")
`
	look := `
import os
left = [d for d in ("/tmp", os.environ["HOME"], "/output") if os.path.exists(os.path.join(d, "left-by-run-n"))]
procs = [open("/proc/%s/comm" % p).read().strip() for p in os.listdir("/proc") if p.isdigit()]
print(open("/etc/hostname").read().strip())
print("files:", left)
print("sleep running:", "sleep" in procs)
print("env:", os.environ.get("LEFT_BY_RUN_N"))
print("tmp bytes:", sum(os.path.getsize(os.path.join("/tmp", f)) for f in os.listdir("/tmp")))
`
	run := func(tool string) *sandbox.Result {
		t.Helper()
		deadline := time.Now().Add(time.Minute)
		for p.Size() == 0 && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		spec := cfg.spec(t)
		spec.Output = true
		spec.Tool = &sandbox.ToolFile{Name: "tool.py", Content: []byte(tool)}
		res, err := p.Run(context.Background(), spec)
		if err != nil {
			t.Fatalf("run: %v", err)
		}
		if res.Pool != pool.Hit || res.Status != sandbox.StatusOK {
			t.Fatalf("pool %q status %s: %s", res.Pool, res.Status, res.Stderr.Data)
		}
		return res
	}
	// Run N leaves its traces and sees them (the look can see them);
	// run N+1 must not.
	first := run(leave + look)
	second := run(look)
	saw := func(res *sandbox.Result) []string {
		lines := strings.Split(strings.TrimSpace(res.Stdout.String()), "\n")
		if len(lines) != 5 {
			t.Fatalf("the run printed %q", res.Stdout.Data)
		}
		return lines
	}
	n, next := saw(first), saw(second)
	if n[0] == next[0] {
		t.Errorf("runs N and N+1 had the same container (%s)", n[0])
	}
	for i, want := range []string{"files: ['/tmp', '/home/sandbox', '/output']", "sleep running: True", "env: 1", "tmp bytes: 4119"} {
		if n[i+1] != want {
			t.Errorf("run N saw %q, want %q", n[i+1], want)
		}
	}
	for i, want := range []string{"files: []", "sleep running: False", "env: None", "tmp bytes: 0"} {
		if next[i+1] != want {
			t.Errorf("run N+1 saw %q, want %q", next[i+1], want)
		}
	}
	if len(second.Files) != 0 {
		t.Errorf("run N+1's /output held %d files of run N", len(second.Files))
	}
	if err := p.Close(); err != nil {
		t.Errorf("close the pool: %v", err)
	}
	if owned != nil {
		if n, err := owned(context.Background()); err != nil || n != 0 {
			t.Errorf("the closed pool left %d things behind (%v)", n, err)
		}
	}
}

// SameEnvironment checks that a run through the warm path sees the
// environment, working directory, identity and arguments a cold run sees.
func SameEnvironment(t *testing.T, cfg Config) {
	see := func(b sandbox.Backend) string {
		spec := cfg.spec(t)
		spec.Env = []string{"EXTRA=1"}
		spec.Command = []string{"sh", "-c", `env | grep -v '^HOSTNAME=' | sort; pwd; id; echo "$0" "$@"`, "zero", "a b", "c"}
		res, err := b.Run(context.Background(), spec)
		if err != nil || res.Status != sandbox.StatusOK {
			t.Fatalf("%v: %+v", err, res)
		}
		return res.Stdout.String()
	}
	cold := see(cfg.Backend)
	warm := see(warmed{cfg.Backend.(sandbox.Warmer)})
	if cold != warm {
		t.Fatalf("a cold run sees\n%s\na warm one\n%s", cold, warm)
	}
}
