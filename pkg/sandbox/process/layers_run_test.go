package process

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sablebox/sablebox/pkg/sandbox"
	"github.com/sablebox/sablebox/pkg/sandbox/sandboxtest"
	"github.com/sablebox/sablebox/pkg/seccomp"
)

func runTool(t *testing.T, b *Backend, src string, limits sandbox.Limits) *sandbox.Result {
	t.Helper()
	spec := &sandbox.Spec{RunID: sandbox.NewRunID(), Tool: &sandbox.ToolFile{Name: "t.py", Content: []byte(src)},
		Limits: limits, Seccomp: seccomp.DefaultProfile()}
	res, err := b.Run(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// Each layer the host gives is proven by what the tool sees, with the
// stages run by the embedded helper and by this binary itself (a build
// without the helper).
func TestLayersAreApplied(t *testing.T) {
	t.Run("embedded helper", func(t *testing.T) {
		b := newTestBackend(t)
		if b.stageBinary().file == nil {
			sandboxtest.SkipUnlessRequired(t, Name, errors.New(b.stageBinary().note))
		}
		testLayers(t, b)
	})
	t.Run("this binary", func(t *testing.T) {
		b := newTestBackend(t)
		b.stageOnce.Do(func() { b.stageBin = stageBinary{path: "/proc/self/exe", note: "this binary (test)"} })
		testLayers(t, b)
	})
}

func testLayers(t *testing.T, b *Backend) {
	host := probe()
	tests := []struct {
		layer, tool, want string
	}{
		{LayerUserNS, `print(open("/proc/self/uid_map").read().split()[:1])`, "['1000']"},
		{LayerPidNS, `import os; print(len([p for p in os.listdir("/proc") if p.isdigit()]) <= 3)`, "True"},
		{LayerIPCNS, `import socket; print(socket.gethostname())`, "sablebox"},
		{LayerMountNS, `
root = [l.split() for l in open("/proc/self/mountinfo") if l.split()[4] == "/"][-1]
print(root[root.index("-") + 1], root[5].split(",")[0])`, "tmpfs ro"},
		{LayerCgroup, `print("sablebox" in open("/proc/self/cgroup").read() or "unreadable")`, "True"},
		{LayerRlimits, `import resource as r; print(r.getrlimit(r.RLIMIT_CORE), r.getrlimit(r.RLIMIT_NOFILE)[0])`, "(0, 0) 256"},
		{LayerLandlock, `
import os
try:
    os.listdir("/usr")  # in the view's path, but no rule allows reading it
    print("read")
except PermissionError:
    print("refused")`, "refused"},
	}
	for _, tt := range tests {
		t.Run(tt.layer, func(t *testing.T) {
			if !host.has(tt.layer) {
				t.Skipf("SKIP %s: not given by this host (%s); the degraded list says so", tt.layer, host.missing[tt.layer])
			}
			res := runTool(t, b, tt.tool, sandbox.DefaultLimits())
			got := strings.TrimSpace(res.Stdout.String())
			if res.Status != sandbox.StatusOK || got != tt.want {
				t.Fatalf("status %s, stdout %q, want %q; stderr %s", res.Status, got, tt.want, res.Stderr.Data)
			}
		})
	}
}

// A child that leaves the session and double-forks still dies with the run.
func TestEscapedChildrenDieWithTheRun(t *testing.T) {
	b := newTestBackend(t)
	marker := "sablebox-escape-" + sandbox.NewRunID()
	tool := `
import os, sys, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execv("/bin/sleep", ["sleep", "300", "` + marker + `"])
    os._exit(0)
print("forked", flush=True)
time.sleep(300)
`
	limits := sandbox.DefaultLimits()
	limits.Timeout = 2 * time.Second
	res := runTool(t, b, tool, limits)
	if res.Status != sandbox.StatusTimeout {
		t.Fatalf("status %s (%s), stderr %s", res.Status, res.Reason, res.Stderr.Data)
	}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		cmdline, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err == nil && strings.Contains(string(cmdline), marker) {
			t.Fatalf("process %s (%q) outlived the run", e.Name(), cmdline)
		}
	}
}
