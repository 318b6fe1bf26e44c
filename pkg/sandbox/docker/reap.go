package docker

import (
	"context"
	"errors"
	"fmt"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/volume"

	"github.com/sablebox/sablebox/pkg/internal/engine"
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
	leftovers := make([]engine.Leftover, len(list))
	for i, c := range list {
		leftovers[i] = engine.Leftover{ID: c.ID, Labels: c.Labels}
	}
	containers, err := engine.Reap(leftovers, b.owner, b.now(), func(id string) error { return b.remove(id, false) }, b.log)
	// Volumes after containers: a volume is free once its container is gone.
	vols, listErr := b.client.VolumeList(ctx, volume.ListOptions{Filters: filters.NewArgs(filters.Arg("label", sandbox.LabelRun))})
	if listErr != nil {
		return containers, errors.Join(err, fmt.Errorf("list sablebox volumes: %w", listErr))
	}
	leftovers = leftovers[:0]
	for _, v := range vols.Volumes {
		leftovers = append(leftovers, engine.Leftover{ID: v.Name, Labels: v.Labels})
	}
	volumes, volErr := engine.Reap(leftovers, b.owner, b.now(), b.removeVolume, b.log)
	return containers + volumes, errors.Join(err, volErr)
}
