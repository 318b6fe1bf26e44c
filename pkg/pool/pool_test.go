package pool_test

import (
	"context"
	"errors"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sablebox/sablebox/pkg/image"
	"github.com/sablebox/sablebox/pkg/metrics"
	"github.com/sablebox/sablebox/pkg/pool"
	"github.com/sablebox/sablebox/pkg/sandbox"
	"github.com/sablebox/sablebox/pkg/sandbox/docker"
	"github.com/sablebox/sablebox/pkg/sandbox/sandboxtest"
	"github.com/sablebox/sablebox/pkg/seccomp"
)

// The pool runs against a real Docker daemon.
func newDocker(t *testing.T) (*docker.Backend, docker.Client) {
	t.Helper()
	c, err := docker.NewClient("")
	var b *docker.Backend
	if err == nil {
		b, err = docker.New("", docker.WithClient(c))
	}
	if err == nil {
		err = b.Check(context.Background())
	}
	if err == nil {
		err = b.ImagePresent(context.Background(), image.DefaultTag)
	}
	sandboxtest.SkipUnlessRequired(t, docker.Name, err)
	t.Cleanup(func() { b.Close() })
	return b, c
}

func shape() *sandbox.Spec {
	return &sandbox.Spec{Image: image.DefaultTag, Limits: sandbox.DefaultLimits(), Seccomp: seccomp.DefaultProfile()}
}

func spec(cmd ...string) *sandbox.Spec {
	s := shape()
	s.RunID, s.Command = sandbox.NewRunID(), cmd
	return s
}

// mine lists the running containers this test process made.
func mine(t *testing.T, c docker.Client) []string {
	t.Helper()
	f := filters.NewArgs(filters.Arg("label", sandbox.LabelOwnerPID+"="+strconv.Itoa(os.Getpid())))
	list, err := c.ContainerList(context.Background(), container.ListOptions{All: true, Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, ct := range list {
		ids = append(ids, ct.ID)
	}
	return ids
}

// waitSize waits until the pool holds n ready sandboxes.
func waitSize(t *testing.T, p *pool.Pool, n int) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for p.Size() != n {
		if time.Now().After(deadline) {
			t.Fatalf("the pool holds %d sandboxes after a minute, want %d", p.Size(), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestPoolHitsMissesAndRefills(t *testing.T) {
	b, c := newDocker(t)
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg)
	if err != nil {
		t.Fatal(err)
	}
	p, err := pool.New(b, shape(), pool.Config{Min: 0, Max: 2}, pool.Options{Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	// Min 0: the first run finds it empty, and the pool grows.
	res, err := p.Run(context.Background(), spec("true"))
	if err != nil || res.Pool != "miss: "+pool.MissEmpty || res.Status != sandbox.StatusOK {
		t.Fatalf("first run: pool %q, %v", res.Pool, err)
	}
	waitSize(t, p, 1)
	res, err = p.Run(context.Background(), spec("sh", "-c", "echo hit; exit 3"))
	if err != nil || res.Pool != pool.Hit || res.ExitCode != 3 || res.Stdout.String() != "hit\n" {
		t.Fatalf("second run: %+v, %v", res, err)
	}
	waitSize(t, p, 1) // a replacement

	for _, tc := range []struct {
		adjust func(*sandbox.Spec)
		why    string
	}{
		{func(s *sandbox.Spec) { s.Limits.MemoryBytes *= 2 }, sandbox.MismatchLimits},
		{func(s *sandbox.Spec) { s.Limits.Timeout *= 2 }, sandbox.MismatchLimits},
		{func(s *sandbox.Spec) { s.Output = true }, sandbox.MismatchOutput},
		{func(s *sandbox.Spec) { s.Workspace = t.TempDir() }, sandbox.MismatchWorkspace},
		{func(s *sandbox.Spec) {
			s.Seccomp = &sandbox.SeccompProfile{Name: "other", JSON: append([]byte(" "), s.Seccomp.JSON...)}
		}, sandbox.MismatchSeccomp},
	} {
		s := spec("true")
		tc.adjust(s)
		res, err := p.Run(context.Background(), s)
		if err != nil || res.Pool != "miss: "+tc.why {
			t.Errorf("want a cold run for %q, got pool %q, %v", tc.why, res.Pool, err)
		}
	}
	// A shorter timeout and other output caps fit.
	s := spec("true")
	s.Limits.Timeout, s.Limits.OutputBytes = time.Second, 10
	if res, err := p.Run(context.Background(), s); err != nil || res.Pool != pool.Hit {
		t.Errorf("a shorter timeout: pool %q, %v", res.Pool, err)
	}
	if got := testutil.ToFloat64(m.PoolMisses("docker", "limits")); got != 2 {
		t.Errorf("limits misses counted %v, want 2", got)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if left := mine(t, c); len(left) != 0 {
		t.Errorf("the closed pool left %d containers", len(left))
	}
	if res, err := p.Run(context.Background(), spec("true")); err != nil || res.Pool != "miss: "+pool.MissClosed {
		t.Errorf("after close: pool %q, %v", res.Pool, err)
	}
}

// A daemon restart stops every warm container: the pool must notice,
// never hand a dead one out, and refill.
func TestPoolReplacesSandboxesThatDied(t *testing.T) {
	b, c := newDocker(t)
	p, err := pool.New(b, shape(), pool.Config{Min: 2, Max: 2}, pool.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	waitSize(t, p, 2)
	before := mine(t, c)
	for _, id := range before {
		if err := c.ContainerKill(context.Background(), id, "KILL"); err != nil {
			t.Fatal(err)
		}
	}
	// At once: the dead ones are not handed out.
	res, err := p.Run(context.Background(), spec("true"))
	if err != nil || res.Status != sandbox.StatusOK || res.Pool == pool.Hit {
		t.Fatalf("run right after the kill: %+v, %v", res, err)
	}
	waitSize(t, p, 2)
	res, err = p.Run(context.Background(), spec("true"))
	if err != nil || res.Pool != pool.Hit {
		t.Fatalf("run after the refill: pool %q, %v", res.Pool, err)
	}
	p.Settle()
	noneLeft(t, c, before)
}

// noneLeft fails t when a container of gone is still there.
func noneLeft(t *testing.T, c docker.Client, gone []string) {
	t.Helper()
	for _, id := range mine(t, c) {
		if slices.Contains(gone, id) {
			t.Errorf("the dead container %s was not removed", id[:12])
		}
	}
}

func TestPoolIdleSandboxesAreReplaced(t *testing.T) {
	b, c := newDocker(t)
	p, err := pool.New(b, shape(), pool.Config{Min: 1, Max: 1, Idle: 2 * time.Second}, pool.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	waitSize(t, p, 1)
	first := mine(t, c)
	time.Sleep(4 * time.Second)
	waitSize(t, p, 1)
	p.Settle()
	now := mine(t, c)
	if len(now) != 1 || len(first) != 1 || now[0] == first[0] {
		t.Fatalf("containers before %v, after the idle time %v: want one, replaced", first, now)
	}
}

func TestPoolConfigIsChecked(t *testing.T) {
	for _, cfg := range []pool.Config{
		{Min: 3, Max: 2}, {Min: -1}, {Max: 100}, {Idle: time.Hour}, {Idle: -time.Second}, {Refills: 9, Max: 4},
	} {
		err := cfg.WithDefaults().Validate()
		if err == nil || !strings.HasPrefix(err.Error(), "pool: ") {
			t.Errorf("%+v: want an error naming the pool, got %v", cfg, err)
		}
	}
	if err := (pool.Config{}).WithDefaults().Validate(); err != nil {
		t.Errorf("the defaults: %v", err)
	}
}

// A spec the sandbox refuses never strands a warm container: it is
// refused before one is taken, and the pool closes cleanly.
func TestPoolRefusesABadSpecWithoutLosingASandbox(t *testing.T) {
	b, c := newDocker(t)
	p, err := pool.New(b, shape(), pool.Config{Min: 1, Max: 1}, pool.Options{})
	if err != nil {
		t.Fatal(err)
	}
	waitSize(t, p, 1)
	bad := spec("true")
	bad.Env = []string{"NOT A VARIABLE"}
	if _, err := p.Run(context.Background(), bad); !errors.Is(err, sandbox.ErrInvalidSpec) {
		t.Fatalf("want ErrInvalidSpec, got %v", err)
	}
	if p.Size() != 1 {
		t.Errorf("the refused spec took the warm sandbox (size %d)", p.Size())
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if left := mine(t, c); len(left) != 0 {
		t.Errorf("%d containers left", len(left))
	}
}
