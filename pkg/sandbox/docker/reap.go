package docker

import (
	"context"
	"errors"
	"fmt"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"

	"github.com/sablebox/sablebox/pkg/sandbox"
)

// Reap removes sablebox containers whose owner is gone or whose deadline
// has long passed. Containers of live runs, this process's or another's,
// are left alone.
func (b *Backend) Reap(ctx context.Context) (int, error) {
	b.negotiate(ctx)
	list, err := b.client.ContainerList(ctx, container.ListOptions{
		All:     true,
		Filters: filters.NewArgs(filters.Arg("label", sandbox.LabelRun)),
	})
	if err != nil {
		return 0, fmt.Errorf("list sablebox containers: %w", err)
	}
	var errs []error
	reaped := 0
	now := b.now()
	for _, c := range list {
		orphaned, why := b.owner.Orphaned(c.Labels, now)
		if !orphaned {
			continue
		}
		if err := b.remove(c.ID); err != nil {
			errs = append(errs, err)
			continue
		}
		reaped++
		b.log.WithField("container", c.ID[:12]).WithField("run", c.Labels[sandbox.LabelRun]).
			Infof("reaped leftover container: %s", why)
	}
	return reaped, errors.Join(errs...)
}
