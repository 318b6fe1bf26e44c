package docker

import (
	"context"
	"fmt"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"

	"github.com/sablebox/sablebox/pkg/internal/engine"
	"github.com/sablebox/sablebox/pkg/internal/lifecycle"
	"github.com/sablebox/sablebox/pkg/sandbox"
)

var _ sandbox.Warmer = (*Backend)(nil)

// Warm starts a container for runs of shape; see sandbox.Warmer.
func (b *Backend) Warm(ctx context.Context, shape *sandbox.Spec, wait time.Duration) (sandbox.Warm, error) {
	return lifecycle.Warm(ctx, driver{b}, shape, wait)
}

// warmConfig turns a container config made for a shape into a warm
// container's: the bootstrap runs instead of a tool, as the container's
// init (the shell it becomes reaps what the tool leaves, as Docker's init
// does, and takes its place in the pids count), and the tool and
// workspace volumes are there for any run.
func warmConfig(cfg *container.Config, host *container.HostConfig, labels map[string]string) {
	cfg.Entrypoint, cfg.Cmd = engine.BootCommand(), nil
	no := false
	host.Init = &no
	for _, dir := range []string{sandbox.ToolDir, sandbox.WorkspaceDir} {
		host.Mounts = append(host.Mounts, mount.Mount{Type: mount.TypeVolume, Target: dir,
			VolumeOptions: &mount.VolumeOptions{Labels: labels}})
	}
}

// Warm creates the container, attaches to it and starts its bootstrap.
func (d driver) Warm(ctx context.Context, shape *sandbox.Spec, deadline time.Time) (lifecycle.WarmSandbox, error) {
	c, err := d.create(ctx, shape, deadline, true)
	if err != nil {
		return nil, err
	}
	c.warm, c.marks = true, engine.NewHandoff()
	c.marks.TarsOutput = true // the shape's /output is a tmpfs, as a cold run's
	if _, err := c.attach(ctx, nil, &c.marks.Stdout, &c.marks.Stderr); err != nil {
		_ = c.Remove()
		return nil, fmt.Errorf("attach to the warm container: %w", err)
	}
	if err := c.b.client.ContainerStart(ctx, c.id, container.StartOptions{}); err != nil {
		_ = c.Remove()
		return nil, fmt.Errorf("start the warm container: %w", err)
	}
	if err := c.marks.AwaitReady(ctx, c.drained); err != nil {
		_ = c.Remove()
		return nil, fmt.Errorf("start the warm container: %w", err)
	}
	c.watchCgroups()
	return c, nil
}

// Bind adjusts spec as Prepare would and keeps its command for Start.
func (c *ctr) Bind(spec *sandbox.Spec) {
	c.b.adjust(spec)
	c.marks.Bind(spec)
}

// Alive is nil while the container runs its bootstrap and the attach
// stream is open (a daemon restart closes it).
func (c *ctr) Alive() error {
	select {
	case <-c.exited:
		return c.marks.Stopped()
	case <-c.drained:
		return c.marks.Stopped()
	default:
		return nil
	}
}

// stoppedYet reports whether Docker has told the container's exit.
func (c *ctr) stoppedYet() bool {
	select {
	case <-c.exited:
		return true
	default:
		return false
	}
}
