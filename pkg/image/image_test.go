package image_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"

	sbimage "github.com/sablebox/sablebox/pkg/image"
	"github.com/sablebox/sablebox/pkg/sandbox/docker"
	"github.com/sablebox/sablebox/pkg/sandbox/sandboxtest"
	sandboximage "github.com/sablebox/sablebox/sandbox-image"
)

func TestContextTarHoldsTheDockerfile(t *testing.T) {
	r, err := sbimage.ContextTar(sandboximage.Files)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(r); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `ENTRYPOINT ["python3", "-I"]`) {
		t.Fatal("the embedded build context lacks the Dockerfile")
	}
}

func TestMakeBaseRefusesBadInput(t *testing.T) {
	err := sbimage.MakeBase(context.Background(), nil, sbimage.BaseOptions{Suite: "../etc"})
	if err == nil || !strings.Contains(err.Error(), "want a release name") {
		t.Fatalf("got %v", err)
	}
}

// engine returns a client and a base image present on it, or skips.
func engine(t *testing.T) (*client.Client, string) {
	t.Helper()
	c, err := docker.NewClient("")
	var base string
	if err == nil {
		_, err = c.Ping(context.Background())
	}
	if err == nil {
		err = errors.New("no base image: run `sablebox image base --debian bookworm`")
		for _, ref := range []string{sbimage.OfflineBaseRepo + ":bookworm", sbimage.DefaultBase} {
			if _, ierr := c.ImageInspect(context.Background(), ref); ierr == nil {
				base, err = ref, nil
				break
			}
		}
	}
	sandboxtest.SkipUnlessRequired(t, docker.Name, err)
	t.Cleanup(func() { c.Close() })
	return c, base
}

func TestBuildMakesANonRootImage(t *testing.T) {
	c, base := engine(t)
	ctx := context.Background()
	tag := "sablebox/sandbox:test-build"
	var log bytes.Buffer
	if err := sbimage.Build(ctx, sbimage.Docker{Client: c}, sbimage.BuildOptions{Tag: tag, Base: base, Progress: sbimage.Progress{Out: &log}}); err != nil {
		t.Fatalf("build: %v\n%s", err, log.String())
	}
	t.Cleanup(func() { _, _ = c.ImageRemove(ctx, tag, image.RemoveOptions{}) })
	info, err := c.ImageInspect(ctx, tag)
	if err != nil {
		t.Fatal(err)
	}
	if info.Config.User != "1000:1000" || !slices.Equal(info.Config.Entrypoint, []string{"python3", "-I"}) {
		t.Fatalf("user %q entrypoint %v", info.Config.User, info.Config.Entrypoint)
	}
}

func TestBuildOnAMissingBaseSaysWhatToDo(t *testing.T) {
	c, _ := engine(t)
	err := sbimage.Build(context.Background(), sbimage.Docker{Client: c}, sbimage.BuildOptions{Tag: "sablebox/never:x", Base: "sablebox/absent-base:0"})
	if err == nil || !strings.Contains(err.Error(), "sablebox image base --debian bookworm") {
		t.Fatalf("got %v", err)
	}
}
