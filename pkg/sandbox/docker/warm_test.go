package docker_test

import (
	"context"
	"os"
	"strconv"
	"testing"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/volume"

	"github.com/sablebox/sablebox/pkg/sandbox"
	"github.com/sablebox/sablebox/pkg/sandbox/docker"
	"github.com/sablebox/sablebox/pkg/sandbox/sandboxtest"
	"github.com/sablebox/sablebox/pkg/seccomp"
)

// owned counts the containers and volumes this test process made.
func owned(c docker.Client) func(ctx context.Context) (int, error) {
	return func(ctx context.Context) (int, error) {
		mine := filters.NewArgs(filters.Arg("label", sandbox.LabelOwnerPID+"="+strconv.Itoa(os.Getpid())))
		list, err := c.ContainerList(ctx, container.ListOptions{All: true, Filters: mine})
		if err != nil {
			return 0, err
		}
		vols, err := c.VolumeList(ctx, volume.ListOptions{Filters: mine})
		return len(list) + len(vols.Volumes), err
	}
}

// The conformance table through the pool's warm path.
func TestConformanceWarm(t *testing.T) {
	b, c := newBackend(t)
	sandboxtest.RunWarm(t, sandboxtest.Config{
		Backend: b, Image: testImage(), Seccomp: seccomp.DefaultProfile(),
		Leftovers: leftovers(c),
	})
}

// The same under gVisor.
func TestConformanceWarmRunsc(t *testing.T) {
	b, c := newRunscBackend(t)
	sandboxtest.RunWarm(t, sandboxtest.Config{
		Backend: b, Image: testImage(), Seccomp: seccomp.DefaultProfile(),
		Leftovers: leftovers(c),
	})
}

func TestPoolIsolation(t *testing.T) {
	b, c := newBackend(t)
	sandboxtest.Isolation(t, sandboxtest.Config{Backend: b, Image: testImage(), Seccomp: seccomp.DefaultProfile()}, owned(c))
}

func TestPoolIsolationRunsc(t *testing.T) {
	b, c := newRunscBackend(t)
	sandboxtest.Isolation(t, sandboxtest.Config{Backend: b, Image: testImage(), Seccomp: seccomp.DefaultProfile()}, owned(c))
}

// A warm run's environment is a cold run's (the engine's HOSTNAME
// aside, which names each container).
func TestWarmEnvironmentIsACold(t *testing.T) {
	b, _ := newBackend(t)
	sandboxtest.SameEnvironment(t, sandboxtest.Config{Backend: b, Image: testImage(), Seccomp: seccomp.DefaultProfile()})
}
