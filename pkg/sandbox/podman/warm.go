//go:build remote

package podman

import (
	"context"
	"fmt"
	"time"

	"github.com/containers/podman/v5/pkg/specgen"

	"github.com/sablebox/sablebox/pkg/internal/engine"
	"github.com/sablebox/sablebox/pkg/internal/lifecycle"
	"github.com/sablebox/sablebox/pkg/sandbox"
)

var _ sandbox.Warmer = (*Backend)(nil)

// Warm starts a container for runs of shape; see sandbox.Warmer.
func (b *Backend) Warm(ctx context.Context, shape *sandbox.Spec, wait time.Duration) (sandbox.Warm, error) {
	return lifecycle.Warm(ctx, driver{b}, shape, wait)
}

// warmSpec turns a container spec made for a shape into a warm
// container's: the bootstrap runs instead of a tool, as the container's
// init (the shell it becomes reaps what the tool leaves, as the init does,
// and takes its place in the pids count), reading its run from stdin; the
// tool and workspace volumes are there for any run.
func warmSpec(g *specgen.SpecGenerator) {
	yes, no := true, false
	g.Entrypoint, g.Command = engine.BootCommand(), nil
	g.Init = &no
	g.Stdin = &yes
	g.Volumes = append(g.Volumes,
		&specgen.NamedVolume{Dest: sandbox.ToolDir, Options: []string{"nosuid", "nodev"}},
		&specgen.NamedVolume{Dest: sandbox.WorkspaceDir, Options: []string{"nosuid", "nodev"}})
}

// Warm creates the container, attaches to it and starts its bootstrap.
func (d driver) Warm(ctx context.Context, shape *sandbox.Spec, deadline time.Time) (lifecycle.WarmSandbox, error) {
	c, err := d.create(ctx, shape, deadline, true)
	if err != nil {
		return nil, err
	}
	c.warm = engine.NewHandoff()
	if _, err := c.attach(ctx, true, &c.warm.Stdout, &c.warm.Stderr); err != nil {
		_ = c.Remove()
		return nil, fmt.Errorf("attach to the warm container: %w", err)
	}
	if err := c.b.client.Start(ctx, c.id); err != nil {
		_ = c.Remove()
		return nil, fmt.Errorf("start the warm container: %w", err)
	}
	if err := c.warm.AwaitReady(ctx, c.drained); err != nil {
		_ = c.Remove()
		return nil, fmt.Errorf("start the warm container: %w", err)
	}
	return c, nil
}

// Bind keeps spec's command for Start.
func (c *ctr) Bind(spec *sandbox.Spec) { c.warm.Bind(spec) }

// Alive is nil while the attach stream is open: the container stopped, or
// the service went away, when it is not.
func (c *ctr) Alive() error {
	select {
	case <-c.drained:
		return c.warm.Stopped()
	default:
		return nil
	}
}
