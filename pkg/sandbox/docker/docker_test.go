package docker_test

import (
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/system"
	"github.com/docker/docker/api/types/volume"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/sablebox/sablebox/pkg/image"
	"github.com/sablebox/sablebox/pkg/internal/engine"
	"github.com/sablebox/sablebox/pkg/sandbox"
	"github.com/sablebox/sablebox/pkg/sandbox/docker"
	"github.com/sablebox/sablebox/pkg/sandbox/sandboxtest"
	"github.com/sablebox/sablebox/pkg/seccomp"
)

// testImage is the sandbox image the integration tests run.
func testImage() string {
	if img := os.Getenv("SABLEBOX_IMAGE"); img != "" {
		return img
	}
	return image.DefaultTag
}

// newBackend connects to the local daemon, or skips (fails when
// SABLEBOX_REQUIRE names docker) when it is not there.
func newBackend(t testing.TB) (*docker.Backend, docker.Client) {
	t.Helper()
	c, err := docker.NewClient("")
	if err != nil {
		sandboxtest.SkipUnlessRequired(t, docker.Name, err)
	}
	b, err := docker.New("", docker.WithClient(c))
	if err == nil {
		err = b.Check(context.Background())
	}
	if err == nil {
		_, err = c.ImageInspect(context.Background(), testImage())
		if err != nil {
			err = errors.New("image " + testImage() + " missing: run `sablebox image build`")
		}
	}
	sandboxtest.SkipUnlessRequired(t, docker.Name, err)
	t.Cleanup(func() { b.Close() })
	return b, c
}

// newRunscBackend is the Docker backend with gVisor's runsc, or skips
// (fails when SABLEBOX_REQUIRE names runsc) when runsc is not usable.
func newRunscBackend(t testing.TB) (*docker.Backend, docker.Client) {
	t.Helper()
	_, c := newBackend(t)
	b, err := docker.New("", docker.WithClient(c), docker.WithOCIRuntime("runsc"))
	if err == nil {
		err = b.Check(context.Background())
	}
	sandboxtest.SkipUnlessRequired(t, "runsc", err)
	t.Cleanup(func() { b.Close() })
	return b, c
}

// leftovers counts the containers and volumes a run left.
func leftovers(c docker.Client) func(ctx context.Context, runID string) (int, error) {
	return func(ctx context.Context, runID string) (int, error) {
		byRun := filters.NewArgs(filters.Arg("label", sandbox.LabelRun+"="+runID))
		list, err := c.ContainerList(ctx, container.ListOptions{All: true, Filters: byRun})
		if err != nil {
			return 0, err
		}
		vols, err := c.VolumeList(ctx, volume.ListOptions{Filters: byRun})
		return len(list) + len(vols.Volumes), err
	}
}

func TestConformance(t *testing.T) {
	b, c := newBackend(t)
	sandboxtest.Run(t, sandboxtest.Config{
		Backend:   b,
		Image:     testImage(),
		Seccomp:   seccomp.DefaultProfile(),
		Leftovers: leftovers(c),
	})
}

// The same table under gVisor: Docker with the runsc OCI runtime.
func TestConformanceRunsc(t *testing.T) {
	b, c := newRunscBackend(t)
	sandboxtest.Run(t, sandboxtest.Config{
		Backend:   b,
		Image:     testImage(),
		Seccomp:   seccomp.DefaultProfile(),
		Leftovers: leftovers(c),
	})
}

func TestMissingImageSaysWhatToDo(t *testing.T) {
	b, _ := newBackend(t)
	spec := &sandbox.Spec{
		RunID: sandbox.NewRunID(), Image: "sablebox/no-such-image:never",
		Command: []string{"true"}, Limits: sandbox.DefaultLimits(), Seccomp: seccomp.DefaultProfile(),
	}
	_, err := b.Run(context.Background(), spec)
	if !errors.Is(err, sandbox.ErrImageMissing) || !strings.Contains(err.Error(), "sablebox image build") {
		t.Fatalf("want ErrImageMissing naming `sablebox image build`, got %v", err)
	}
}

func TestDaemonDownIsUnavailable(t *testing.T) {
	b, err := docker.New("unix:///nonexistent/docker.sock")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	err = b.Check(context.Background())
	if !errors.Is(err, sandbox.ErrUnavailable) || !strings.Contains(err.Error(), "start dockerd") {
		t.Fatalf("want ErrUnavailable saying what to do, got %v", err)
	}
	spec := &sandbox.Spec{RunID: sandbox.NewRunID(), Image: "x", Command: []string{"true"},
		Limits: sandbox.DefaultLimits(), Seccomp: seccomp.DefaultProfile()}
	if _, err := b.Run(context.Background(), spec); !errors.Is(err, sandbox.ErrUnavailable) {
		t.Fatalf("run against a missing daemon: want ErrUnavailable, got %v", err)
	}
}

// A container whose owner is gone is reaped; one whose owner lives is not.
func TestReapRemovesOrphans(t *testing.T) {
	b, c := newBackend(t)
	ctx := context.Background()
	dead := sandbox.CurrentOwner() // this host, boot and pid namespace
	dead.PID, dead.Start = 999999999, 1
	live := sandbox.CurrentOwner()
	mk := func(o sandbox.Owner) string {
		runID := sandbox.NewRunID()
		_, err := c.ContainerCreate(ctx, &container.Config{
			Image: testImage(), Entrypoint: []string{"true"},
			Labels: o.Labels(runID, "test", time.Now().Add(time.Hour)),
		}, &container.HostConfig{NetworkMode: "none"}, nil, nil, "")
		if err != nil {
			t.Fatal(err)
		}
		return runID
	}
	orphan, owned := mk(dead), mk(live)
	t.Cleanup(func() { // owned is ours: remove it after the test
		list, _ := c.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", sandbox.LabelRun+"="+owned))})
		for _, ct := range list {
			_ = c.ContainerRemove(ctx, ct.ID, container.RemoveOptions{Force: true})
		}
	})
	reapAndCheck(t, b, c, "container", orphan, owned)
}

// reapAndCheck reaps and checks that what the run orphan left is gone and
// what the run owned (of a live owner) is still there.
func reapAndCheck(t *testing.T, b *docker.Backend, c docker.Client, what, orphan, owned string) {
	t.Helper()
	ctx := context.Background()
	if _, err := b.Reap(ctx); err != nil {
		t.Fatal(err)
	}
	count := leftovers(c)
	if n, _ := count(ctx, orphan); n != 0 {
		t.Errorf("orphaned %s survived the reaper", what)
	}
	if n, _ := count(ctx, owned); n != 1 {
		t.Errorf("a live owner's %s was reaped", what)
	}
}

// panicOnStart is the real client with one fault injected: it panics where
// the container has been created but not started.
type panicOnStart struct{ docker.Client }

func (panicOnStart) ContainerStart(context.Context, string, container.StartOptions) error {
	panic("injected fault")
}

// A panic in the middle of a run still removes the container.
func TestPanicMidRunLeavesNothing(t *testing.T) {
	_, c := newBackend(t)
	b, err := docker.New("", docker.WithClient(panicOnStart{c}))
	if err != nil {
		t.Fatal(err)
	}
	spec := &sandbox.Spec{RunID: sandbox.NewRunID(), Image: testImage(), Command: []string{"true"},
		Limits: sandbox.DefaultLimits(), Seccomp: seccomp.DefaultProfile()}
	func() {
		defer func() {
			if p := recover(); p == nil {
				t.Fatal("the injected panic did not happen")
			}
		}()
		_, _ = b.Run(context.Background(), spec)
	}()
	if n, err := leftovers(c)(context.Background(), spec.RunID); err != nil || n != 0 {
		t.Fatalf("%d containers left after a panic (%v)", n, err)
	}
}

// runscWithoutSeccomp is a daemon where runsc is registered without
// --oci-seccomp, so gVisor would skip the seccomp profile.
type runscWithoutSeccomp struct{ docker.Client }

func (c runscWithoutSeccomp) Info(ctx context.Context) (system.Info, error) {
	info, err := c.Client.Info(ctx)
	if info.Runtimes == nil {
		info.Runtimes = map[string]system.RuntimeWithStatus{}
	}
	info.Runtimes["runsc"] = system.RuntimeWithStatus{Runtime: system.Runtime{Path: "/usr/bin/runsc"}}
	return info, err
}

// A caller that never calls Check (a named runtime, a library user) is
// refused too, before any container exists.
func TestRunWithoutCheckRefusesAWeakRuntime(t *testing.T) {
	_, c := newBackend(t)
	b, err := docker.New("", docker.WithClient(runscWithoutSeccomp{c}), docker.WithOCIRuntime("runsc"))
	if err != nil {
		t.Fatal(err)
	}
	spec := &sandbox.Spec{RunID: sandbox.NewRunID(), Image: testImage(), Command: []string{"true"},
		Limits: sandbox.DefaultLimits(), Seccomp: seccomp.DefaultProfile()}
	res, err := b.Run(context.Background(), spec)
	if !errors.Is(err, sandbox.ErrUnavailable) || !strings.Contains(err.Error(), "--oci-seccomp") {
		t.Fatalf("want a refusal naming --oci-seccomp, got %v (result %+v)", err, res)
	}
	if n, err := leftovers(c)(context.Background(), spec.RunID); err != nil || n != 0 {
		t.Fatalf("%d containers left (%v)", n, err)
	}
}

// faultAt is the real client with one fault injected at one step of a
// run's create sequence. Where the daemon could have done the step and the
// answer been lost, the real call is made first.
type faultAt struct {
	docker.Client
	step string
}

var errInjected = errors.New("injected fault")

func (f faultAt) ContainerCreate(ctx context.Context, cfg *container.Config, host *container.HostConfig,
	n *network.NetworkingConfig, p *ocispec.Platform, name string) (container.CreateResponse, error) {
	if f.step == "create refused after the volume was made" {
		// What the daemon does with a bind it refuses (inside its root,
		// rprivate): it has made the tool volume by then.
		bad := *host
		bad.Mounts = append(append([]mount.Mount{}, host.Mounts...), mount.Mount{Type: mount.TypeBind, Source: "/var/lib/docker",
			Target: "/refused", BindOptions: &mount.BindOptions{Propagation: mount.PropagationRPrivate}})
		return f.Client.ContainerCreate(ctx, cfg, &bad, n, p, name)
	}
	resp, err := f.Client.ContainerCreate(ctx, cfg, host, n, p, name)
	switch f.step {
	case "create, answer lost":
		return container.CreateResponse{}, errInjected
	case "create with a warning":
		resp.Warnings = append(resp.Warnings, "injected: a setting was dropped")
	}
	return resp, err
}

// ContainerInspect fails at "copy tool" too, so that the backend cannot
// find the tool volume on this host and copies through the archive API.
func (f faultAt) ContainerInspect(ctx context.Context, id string) (container.InspectResponse, error) {
	if f.step == "copy tool" {
		return container.InspectResponse{}, errInjected
	}
	return f.Client.ContainerInspect(ctx, id)
}

func (f faultAt) CopyToContainer(ctx context.Context, id, dst string, r io.Reader, o container.CopyToContainerOptions) error {
	if f.step == "copy tool" {
		return errInjected
	}
	return f.Client.CopyToContainer(ctx, id, dst, r, o)
}

func (f faultAt) ContainerAttach(ctx context.Context, id string, o container.AttachOptions) (types.HijackedResponse, error) {
	if f.step == "attach" {
		return types.HijackedResponse{}, errInjected
	}
	return f.Client.ContainerAttach(ctx, id, o)
}

func (f faultAt) ContainerStart(ctx context.Context, id string, o container.StartOptions) error {
	if f.step == "start" {
		return errInjected
	}
	return f.Client.ContainerStart(ctx, id, o)
}

func (f faultAt) ContainerWait(ctx context.Context, id string, cond container.WaitCondition) (<-chan container.WaitResponse, <-chan error) {
	if f.step == "wait" {
		errC := make(chan error, 1)
		errC <- errInjected
		return make(chan container.WaitResponse), errC
	}
	return f.Client.ContainerWait(ctx, id, cond)
}

// A fault at any step of the create sequence fails the run with an error
// and leaves no container and no volume behind.
func TestFailedCreateLeavesNothing(t *testing.T) {
	_, c := newBackend(t)
	for _, step := range []string{"create refused after the volume was made", "create, answer lost",
		"create with a warning", "copy tool", "attach", "start", "wait"} {
		t.Run(step, func(t *testing.T) {
			t.Parallel()
			b, err := docker.New("", docker.WithClient(faultAt{c, step}))
			if err != nil {
				t.Fatal(err)
			}
			spec := &sandbox.Spec{RunID: sandbox.NewRunID(), Image: testImage(),
				Tool:   &sandbox.ToolFile{Name: "t.py", Content: []byte("print(1)")},
				Limits: sandbox.DefaultLimits(), Seccomp: seccomp.DefaultProfile()}
			if _, err := b.Run(context.Background(), spec); err == nil {
				t.Fatal("the injected fault did not fail the run")
			}
			if n, err := leftovers(c)(context.Background(), spec.RunID); err != nil || n != 0 {
				t.Fatalf("%d containers and volumes left (%v)", n, err)
			}
		})
	}
}

// A volume whose run's owner is gone is reaped; one whose owner lives is
// not.
func TestReapRemovesOrphanedVolumes(t *testing.T) {
	b, c := newBackend(t)
	ctx := context.Background()
	dead := sandbox.CurrentOwner() // this host, boot and pid namespace
	dead.PID, dead.Start = 999999999, 1
	mk := func(o sandbox.Owner) string {
		runID := sandbox.NewRunID()
		creator := c.(interface {
			VolumeCreate(context.Context, volume.CreateOptions) (volume.Volume, error)
		})
		if _, err := creator.VolumeCreate(ctx, volume.CreateOptions{Name: "sablebox-test-" + runID,
			Labels: o.Labels(runID, "test", time.Now().Add(time.Hour))}); err != nil {
			t.Fatal(err)
		}
		return runID
	}
	orphan, owned := mk(dead), mk(sandbox.CurrentOwner())
	t.Cleanup(func() { _ = c.VolumeRemove(ctx, "sablebox-test-"+owned, true) })
	reapAndCheck(t, b, c, "volume", orphan, owned)
}

// noOOMFlag is a daemon that misses OOM kills, as Docker 20.10 on cgroup
// v1 now and then does: its inspect never reports OOMKilled.
type noOOMFlag struct{ docker.Client }

func (c noOOMFlag) ContainerInspect(ctx context.Context, id string) (container.InspectResponse, error) {
	info, err := c.Client.ContainerInspect(ctx, id)
	if info.ContainerJSONBase != nil && info.State != nil {
		info.State.OOMKilled = false
	}
	return info, err
}

// An OOM kill the daemon does not record is still an OOM: the backend
// watches the container's memory cgroup itself (cgroup v1, local daemon).
func TestOOMIsSeenWhenTheDaemonMissesIt(t *testing.T) {
	_, c := newBackend(t)
	if engine.CgroupV2Only() {
		t.Skip("SKIP cgroup v2: the daemon's own OOM flag is used alone there")
	}
	b, err := docker.New("", docker.WithClient(noOOMFlag{c}))
	if err != nil {
		t.Fatal(err)
	}
	spec := &sandbox.Spec{RunID: sandbox.NewRunID(), Image: testImage(), Command: []string{"python3", "-c", "b = bytearray(1 << 30)"},
		Limits: sandbox.DefaultLimits(), Seccomp: seccomp.DefaultProfile()}
	spec.Limits.MemoryBytes = 32 << 20
	res, err := b.Run(context.Background(), spec)
	if err != nil || res.Status != sandbox.StatusOOM {
		t.Fatalf("status %v (%v), want oom", res, err)
	}
}

// blindToVolumes is a daemon whose volumes this process cannot see (a
// sablebox in a container with the host's socket but another
// /var/lib/docker): the probe is not found there.
type blindToVolumes struct {
	docker.Client
	copies *atomic.Int32
}

func (blindToVolumes) ContainerStatPath(context.Context, string, string) (container.PathStat, error) {
	return container.PathStat{}, errInjected
}

func (b blindToVolumes) CopyToContainer(ctx context.Context, id, dst string, r io.Reader, o container.CopyToContainerOptions) error {
	b.copies.Add(1)
	return b.Client.CopyToContainer(ctx, id, dst, r, o)
}

// Where the daemon does not see what this process writes into a volume's
// directory, the files go through the archive API, and the run works.
func TestFilesGoThroughTheArchiveWhereVolumesAreNotShared(t *testing.T) {
	_, c := newBackend(t)
	var copies atomic.Int32
	b, err := docker.New("", docker.WithClient(blindToVolumes{c, &copies}))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for range 2 { // the verdict is kept: the second run asks nothing
		spec := &sandbox.Spec{RunID: sandbox.NewRunID(), Image: testImage(),
			Tool:   &sandbox.ToolFile{Name: "t.py", Content: []byte("print(open('/workspace/in.txt').read())")},
			Files:  []sandbox.File{{Path: "in.txt", Content: []byte("through the archive")}},
			Limits: sandbox.DefaultLimits(), Seccomp: seccomp.DefaultProfile()}
		res, err := b.Run(context.Background(), spec)
		if err != nil || res.Stdout.String() != "through the archive\n" {
			t.Fatalf("%+v %v", res, err)
		}
	}
	if n := copies.Load(); n != 4 {
		t.Errorf("%d copies through the archive API, want 4 (a tool and a file, twice)", n)
	}
}
