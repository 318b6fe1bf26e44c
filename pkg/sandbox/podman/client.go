//go:build remote

package podman

import (
	"context"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/containers/podman/v5/libpod/define"
	"github.com/containers/podman/v5/pkg/bindings"
	"github.com/containers/podman/v5/pkg/bindings/containers"
	"github.com/containers/podman/v5/pkg/bindings/images"
	"github.com/containers/podman/v5/pkg/bindings/system"
	"github.com/containers/podman/v5/pkg/domain/entities/types"
	"github.com/containers/podman/v5/pkg/specgen"

	"github.com/sablebox/sablebox/pkg/sandbox"
)

// Client is the subset of the Podman service's API that the backend uses.
// bindingsClient is the real one; tests give their own. Every call may
// connect first: an unreachable service is an error that wraps
// sandbox.ErrUnavailable and says how to start it.
type Client interface {
	Info(ctx context.Context) (*define.Info, error)
	ImageExists(ctx context.Context, ref string) (bool, error)
	// List lists every container (running or not) that has label.
	List(ctx context.Context, label string) ([]types.ListContainer, error)
	Create(ctx context.Context, s *specgen.SpecGenerator) (types.ContainerCreateResponse, error)
	// CopyInto unpacks the tar archive into dir in the container, keeping
	// the owners the archive names.
	CopyInto(ctx context.Context, id, dir string, archive io.Reader) error
	// CopyFrom writes a tar archive of path in the container to w.
	CopyFrom(ctx context.Context, id, path string, w io.Writer) error
	// Dial opens a raw connection to the service, for the attach upgrade.
	Dial(ctx context.Context) (net.Conn, error)
	Start(ctx context.Context, id string) error
	Inspect(ctx context.Context, id string) (*define.InspectContainerData, error)
	// Kill sends SIGKILL.
	Kill(ctx context.Context, id string) error
	// Remove force-removes a container and its anonymous volumes.
	Remove(ctx context.Context, id string) error
}

// connTimeout bounds connecting to (and pinging) the service.
const connTimeout = 10 * time.Second

// bindingsClient speaks to the service through the Podman bindings. The
// bindings keep their connection in a context; it stays inside this type,
// made on first use, and calls are made through with(ctx, conn) so that the
// caller's cancellation still applies.
type bindingsClient struct {
	uri string

	mu   sync.Mutex
	conn context.Context
}

var _ Client = (*bindingsClient)(nil)

// connection returns the long-lived connection, connecting on first use.
func (c *bindingsClient) connection(ctx context.Context) (context.Context, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn != nil {
		return c.conn, nil
	}
	conn, err := connect(ctx, c.uri)
	if err != nil {
		return nil, err
	}
	c.conn = conn
	return conn, nil
}

// close drops the connection; the next call connects again.
func (c *bindingsClient) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.conn = nil
}

// connect opens a connection to the service at uri.
func connect(ctx context.Context, uri string) (context.Context, error) {
	type result struct {
		conn context.Context
		err  error
	}
	done := make(chan result, 1)
	go func() {
		// The connection context must outlive ctx: it is used by later calls.
		conn, err := bindings.NewConnection(context.Background(), uri)
		done <- result{conn, err}
	}()
	timer := time.NewTimer(connTimeout)
	defer timer.Stop()
	select {
	case r := <-done:
		if r.err != nil {
			return nil, fmt.Errorf("%w: cannot reach the Podman service at %s: start it (`podman system service --time=0 %s`) or set CONTAINER_HOST",
				sandbox.ErrUnavailable, uri, uri)
		}
		return r.conn, nil
	case <-timer.C:
		return nil, fmt.Errorf("%w: the Podman service at %s did not answer within %v", sandbox.ErrUnavailable, uri, connTimeout)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// call runs f with ctx bound to the connection.
func (c *bindingsClient) call(ctx context.Context, f func(context.Context) error) error {
	conn, err := c.connection(ctx)
	if err != nil {
		return err
	}
	return f(with(ctx, conn))
}

func (c *bindingsClient) Info(ctx context.Context) (info *define.Info, err error) {
	err = c.call(ctx, func(ctx context.Context) error { info, err = system.Info(ctx, nil); return err })
	return info, err
}

func (c *bindingsClient) ImageExists(ctx context.Context, ref string) (ok bool, err error) {
	err = c.call(ctx, func(ctx context.Context) error { ok, err = images.Exists(ctx, ref, nil); return err })
	return ok, err
}

func (c *bindingsClient) List(ctx context.Context, label string) (list []types.ListContainer, err error) {
	err = c.call(ctx, func(ctx context.Context) error {
		list, err = containers.List(ctx, new(containers.ListOptions).WithAll(true).WithFilters(map[string][]string{"label": {label}}))
		return err
	})
	return list, err
}

func (c *bindingsClient) Create(ctx context.Context, s *specgen.SpecGenerator) (resp types.ContainerCreateResponse, err error) {
	err = c.call(ctx, func(ctx context.Context) error { resp, err = containers.CreateWithSpec(ctx, s, nil); return err })
	return resp, err
}

func (c *bindingsClient) CopyInto(ctx context.Context, id, dir string, archive io.Reader) error {
	return c.call(ctx, func(ctx context.Context) error {
		// Keep the archive's owners (root): the default would give the
		// files to the container's user, who could then change them.
		copyFn, err := containers.CopyFromArchiveWithOptions(ctx, id, dir, archive, new(containers.CopyOptions).WithChown(false))
		if err != nil {
			return err
		}
		return copyFn()
	})
}

func (c *bindingsClient) CopyFrom(ctx context.Context, id, path string, w io.Writer) error {
	return c.call(ctx, func(ctx context.Context) error {
		copyFn, err := containers.CopyToArchive(ctx, id, path, w)
		if err != nil {
			return err
		}
		return copyFn()
	})
}

func (c *bindingsClient) Dial(ctx context.Context) (sock net.Conn, err error) {
	err = c.call(ctx, func(bound context.Context) error {
		client, err := bindings.GetClient(bound)
		if err != nil {
			return err
		}
		sock, err = client.GetDialer(ctx)
		return err
	})
	return sock, err
}

func (c *bindingsClient) Start(ctx context.Context, id string) error {
	return c.call(ctx, func(ctx context.Context) error { return containers.Start(ctx, id, nil) })
}

func (c *bindingsClient) Inspect(ctx context.Context, id string) (data *define.InspectContainerData, err error) {
	err = c.call(ctx, func(ctx context.Context) error { data, err = containers.Inspect(ctx, id, nil); return err })
	return data, err
}

func (c *bindingsClient) Kill(ctx context.Context, id string) error {
	return c.call(ctx, func(ctx context.Context) error {
		return containers.Kill(ctx, id, new(containers.KillOptions).WithSignal("KILL"))
	})
}

func (c *bindingsClient) Remove(ctx context.Context, id string) error {
	return c.call(ctx, func(ctx context.Context) error {
		_, err := containers.Remove(ctx, id, new(containers.RemoveOptions).WithForce(true).WithVolumes(true).WithTimeout(0))
		return err
	})
}

// with returns ctx carrying the bindings' connection from conn.
func with(ctx, conn context.Context) context.Context { return boundCtx{ctx, conn} }

type boundCtx struct {
	context.Context
	conn context.Context
}

func (c boundCtx) Value(key any) any {
	if v := c.conn.Value(key); v != nil {
		return v
	}
	return c.Context.Value(key)
}
