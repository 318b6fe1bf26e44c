package process

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/sablebox/sablebox/pkg/internal/cgroup"
	"github.com/sablebox/sablebox/pkg/sandbox/sandboxtest"
	"github.com/sablebox/sablebox/pkg/seccomp"
)

func TestMain(m *testing.M) {
	MaybeInit() // this test binary is re-executed as the sandbox's stages
	os.Exit(m.Run())
}

// leftovers counts what a run left on the host: its dir and its cgroup.
func leftovers(_ context.Context, runID string) (int, error) {
	n := 0
	entries, err := os.ReadDir(os.TempDir())
	if err != nil {
		return 0, err
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), "-"+runID) {
			n++
		}
	}
	for name := range cgroup.List(DefaultCgroupParent) {
		if strings.HasSuffix(name, "-"+runID) {
			n++
		}
	}
	return n, nil
}

func newTestBackend(t *testing.T) *Backend {
	t.Helper()
	b, err := New(Options{})
	if err == nil {
		err = b.Check(context.Background())
	}
	sandboxtest.SkipUnlessRequired(t, Name, err)
	return b
}

func TestConformance(t *testing.T) {
	b := newTestBackend(t)
	exceptions := map[string]string{}
	if !probe().has(LayerCgroup) {
		exceptions["memory bomb ends as oom"] = "no cgroup here: RLIMIT_AS turns a memory bomb into MemoryError, a failed run; Result.Degraded says so"
	}
	if !probe().has(LayerMountNS) {
		exceptions["root filesystem is read-only"] = "no mount namespace here: the host's / is the tool's (Landlock still refuses writes)"
	}
	sandboxtest.Run(t, sandboxtest.Config{
		Backend:    b,
		Seccomp:    seccomp.DefaultProfile(),
		Leftovers:  leftovers,
		Exceptions: exceptions,
	})
}
