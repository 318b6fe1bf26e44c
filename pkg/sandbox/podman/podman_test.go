//go:build remote

package podman

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sablebox/sablebox/pkg/sandbox"
	"github.com/sablebox/sablebox/pkg/sandbox/sandboxtest"
	"github.com/sablebox/sablebox/pkg/seccomp"
)

const defaultTestImage = "sablebox/sandbox:latest"

func testImage() string {
	if img := os.Getenv("SABLEBOX_IMAGE"); img != "" {
		return img
	}
	return defaultTestImage
}

// newTestBackend connects to the local service, or skips (fails when
// SABLEBOX_REQUIRE names podman) when it is not there.
func newTestBackend(t testing.TB, opts Options) *Backend {
	t.Helper()
	b := newBackend(opts)
	err := b.Check(context.Background())
	if err == nil {
		err = b.ImagePresent(context.Background(), testImage())
	}
	sandboxtest.SkipUnlessRequired(t, Name, err)
	t.Cleanup(func() { b.Close() })
	return b
}

func (b *Backend) leftovers(ctx context.Context, runID string) (int, error) {
	list, err := b.client.List(ctx, sandbox.LabelRun+"="+runID)
	return len(list), err
}

func TestConformance(t *testing.T) {
	b := newTestBackend(t, Options{})
	sandboxtest.Run(t, sandboxtest.Config{
		Backend:   b,
		Image:     testImage(),
		Seccomp:   seccomp.DefaultProfile(),
		Leftovers: b.leftovers,
	})
}

func TestMissingImageSaysWhatToDo(t *testing.T) {
	b := newTestBackend(t, Options{})
	spec := &sandbox.Spec{RunID: sandbox.NewRunID(), Image: "sablebox/no-such-image:never", Command: []string{"true"},
		Limits: sandbox.DefaultLimits(), Seccomp: seccomp.DefaultProfile()}
	_, err := b.Run(context.Background(), spec)
	if !errors.Is(err, sandbox.ErrImageMissing) || !strings.Contains(err.Error(), "--runtime podman") {
		t.Fatalf("want ErrImageMissing naming the podman build, got %v", err)
	}
}

func TestServiceDownIsUnavailable(t *testing.T) {
	b := newBackend(Options{URI: "unix:///nonexistent/podman.sock"})
	err := b.Check(context.Background())
	if !errors.Is(err, sandbox.ErrUnavailable) || !strings.Contains(err.Error(), "podman system service") {
		t.Fatalf("want ErrUnavailable saying what to do, got %v", err)
	}
}

// A kill that races the tool's own exit (the timeout path) is not an error.
func TestKillAfterExitIsNotAnError(t *testing.T) {
	b := newTestBackend(t, Options{})
	ctx := context.Background()
	spec := &sandbox.Spec{RunID: sandbox.NewRunID(), Image: testImage(), Command: []string{"true"},
		Limits: sandbox.DefaultLimits(), Seccomp: seccomp.DefaultProfile()}
	c, err := driver{b}.Prepare(ctx, spec, b.now().Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Remove() })
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if code, err := c.Wait(ctx); err != nil || code != 0 {
		t.Fatalf("wait: %d, %v", code, err)
	}
	if err := c.Kill(ctx); err != nil {
		t.Fatalf("kill after exit: %v", err)
	}
}

// A container whose owner is gone is reaped; one whose owner lives is not.
func TestReapRemovesOrphans(t *testing.T) {
	b := newTestBackend(t, Options{})
	ctx := context.Background()
	profile, err := b.profilePath(seccomp.DefaultProfile())
	if err != nil {
		t.Fatal(err)
	}
	mk := func(owner sandbox.Owner) string {
		spec := &sandbox.Spec{RunID: sandbox.NewRunID(), Image: testImage(), Command: []string{"true"},
			Limits: sandbox.DefaultLimits(), Seccomp: seccomp.DefaultProfile()}
		runtime, _ := b.ociRuntime()
		created, err := b.client.Create(ctx, specGenerator(spec, owner, b.now().Add(spec.Limits.Timeout), profile, runtime))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = b.remove(created.ID) })
		return spec.RunID
	}
	dead := sandbox.CurrentOwner() // this host, boot and pid namespace
	dead.PID, dead.Start = 999999999, 1
	orphan, owned := mk(dead), mk(sandbox.CurrentOwner())
	if _, err := b.Reap(ctx); err != nil {
		t.Fatal(err)
	}
	if n, _ := b.leftovers(ctx, orphan); n != 0 {
		t.Error("orphaned container survived the reaper")
	}
	if n, _ := b.leftovers(ctx, owned); n != 1 {
		t.Error("a live owner's container was reaped")
	}
}

// gVisor under Podman could skip the seccomp profile unseen: a run that
// asks for it is refused before any container exists, and so is Check.
func TestRuntimeThatMaySkipSeccompIsRefused(t *testing.T) {
	newTestBackend(t, Options{}) // skips without a service
	b := newBackend(Options{OCIRuntime: "runsc"})
	t.Cleanup(func() { b.Close() })
	if err := b.Check(context.Background()); !errors.Is(err, sandbox.ErrUnavailable) || !strings.Contains(err.Error(), "--runtime docker") {
		t.Fatalf("Check: want a refusal pointing to Docker, got %v", err)
	}
	spec := &sandbox.Spec{RunID: sandbox.NewRunID(), Image: testImage(), Command: []string{"true"},
		Limits: sandbox.DefaultLimits(), Seccomp: seccomp.DefaultProfile()}
	if _, err := b.Run(context.Background(), spec); !errors.Is(err, sandbox.ErrUnavailable) {
		t.Fatalf("Run: want ErrUnavailable, got %v", err)
	}
	if n, err := b.leftovers(context.Background(), spec.RunID); err != nil || n != 0 {
		t.Fatalf("%d containers left (%v)", n, err)
	}
	for _, ok := range SeccompRuntimes {
		if err := seccompRuntime(ok); err != nil {
			t.Errorf("%s refused: %v", ok, err)
		}
	}
	if err := seccompRuntime("kata"); err == nil {
		t.Error("kata accepted")
	}
}
