//go:build remote

package podman

import (
	"context"
	"os"
	"strconv"
	"testing"

	"github.com/sablebox/sablebox/pkg/sandbox"
	"github.com/sablebox/sablebox/pkg/sandbox/sandboxtest"
	"github.com/sablebox/sablebox/pkg/seccomp"
)

// The conformance table through the pool's warm path.
func TestConformanceWarm(t *testing.T) {
	b := newTestBackend(t, Options{})
	sandboxtest.RunWarm(t, sandboxtest.Config{
		Backend: b, Image: testImage(), Seccomp: seccomp.DefaultProfile(), Leftovers: b.leftovers,
	})
}

func TestPoolIsolation(t *testing.T) {
	b := newTestBackend(t, Options{})
	owned := func(ctx context.Context) (int, error) {
		list, err := b.client.List(ctx, sandbox.LabelOwnerPID+"="+strconv.Itoa(os.Getpid()))
		return len(list), err
	}
	sandboxtest.Isolation(t, sandboxtest.Config{Backend: b, Image: testImage(), Seccomp: seccomp.DefaultProfile()}, owned)
}

// A warm run's environment is a cold run's (the engine's HOSTNAME
// aside, which names each container).
func TestWarmEnvironmentIsACold(t *testing.T) {
	b := newTestBackend(t, Options{})
	sandboxtest.SameEnvironment(t, sandboxtest.Config{Backend: b, Image: testImage(), Seccomp: seccomp.DefaultProfile()})
}
