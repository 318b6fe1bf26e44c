package image

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/pkg/jsonmessage"

	sandboximage "github.com/sablebox/sablebox/sandbox-image"
)

// Default image names.
const (
	// DefaultTag is the sandbox image that runs use unless told otherwise.
	DefaultTag = "sablebox/sandbox:latest"
	// DefaultBase is the base image where a registry is reachable.
	DefaultBase = "python:3.12-slim"
	// OfflineBaseRepo is the repository MakeBase imports into; the tag is
	// the Debian suite.
	OfflineBaseRepo = "sablebox/base"
)

// DockerClient is the subset of the Docker Engine API client this package
// uses. *client.Client satisfies it.
type DockerClient interface {
	ImageBuild(ctx context.Context, buildContext io.Reader, options build.ImageBuildOptions) (build.ImageBuildResponse, error)
	ImageImport(ctx context.Context, source image.ImportSource, ref string, options image.ImportOptions) (io.ReadCloser, error)
}

// Progress is where build and import progress goes.
type Progress struct {
	// Out receives the progress; nil discards it.
	Out io.Writer
	// Terminal is true when Out is a terminal with file descriptor FD, for
	// a live display; otherwise progress is plain lines.
	Terminal bool
	FD       uintptr
}

func (p Progress) display(stream io.Reader) error {
	out := p.Out
	if out == nil {
		out = io.Discard
	}
	return jsonmessage.DisplayJSONMessagesStream(stream, out, p.FD, p.Terminal, nil)
}

// BuildOptions says what Build makes.
type BuildOptions struct {
	// Tag names the result; DefaultTag when empty.
	Tag string
	// Base is the image to build on; DefaultBase when empty.
	Base string
	// Progress receives the build's output.
	Progress Progress
}

// Build builds the sandbox image from the embedded Dockerfile. The build
// has no network: everything comes from the base image.
func Build(ctx context.Context, c DockerClient, opts BuildOptions) error {
	if opts.Tag == "" {
		opts.Tag = DefaultTag
	}
	if opts.Base == "" {
		opts.Base = DefaultBase
	}
	buildCtx, err := ContextTar()
	if err != nil {
		return err
	}
	base := opts.Base
	resp, err := c.ImageBuild(ctx, buildCtx, build.ImageBuildOptions{
		Tags:        []string{opts.Tag},
		BuildArgs:   map[string]*string{"BASE_IMAGE": &base},
		Remove:      true,
		ForceRemove: true,
		NetworkMode: "none",
		Labels:      map[string]string{"io.sablebox.base": opts.Base},
	})
	if err != nil {
		return fmt.Errorf("build %s: %w", opts.Tag, err)
	}
	defer resp.Body.Close()
	if err := opts.Progress.display(resp.Body); err != nil {
		return buildError(opts, err)
	}
	return nil
}

func buildError(opts BuildOptions, err error) error {
	msg := err.Error()
	if cerrdefs.IsNotFound(err) || strings.Contains(msg, "pull access denied") ||
		strings.Contains(msg, "not found") || strings.Contains(msg, "failed to resolve") ||
		strings.Contains(msg, "dial tcp") || strings.Contains(msg, "lookup ") {
		return fmt.Errorf("build %s: base image %s is not available (%v): with no registry, run "+
			"`sablebox image base --debian bookworm`, then `sablebox image build --base %s:bookworm`",
			opts.Tag, opts.Base, err, OfflineBaseRepo)
	}
	return fmt.Errorf("build %s: %w", opts.Tag, err)
}

// ContextTar returns the embedded build context as a tar stream.
func ContextTar() (io.Reader, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	err := fs.WalkDir(sandboximage.Files, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(sandboximage.Files, path)
		if err != nil {
			return err
		}
		hdr := &tar.Header{Name: path, Mode: 0o644, Size: int64(len(data)), ModTime: time.Unix(0, 0)}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		_, err = tw.Write(data)
		return err
	})
	if err == nil {
		err = tw.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("build context: %w", err)
	}
	return &buf, nil
}

// Import imports a root filesystem tar stream as image ref.
func Import(ctx context.Context, c DockerClient, rootfs io.Reader, ref string, p Progress) error {
	out, err := c.ImageImport(ctx, image.ImportSource{Source: rootfs, SourceName: "-"}, ref, image.ImportOptions{
		Changes: []string{`CMD ["python3"]`, "ENV LANG=C.UTF-8"},
		Message: "sablebox offline base",
	})
	if err != nil {
		return fmt.Errorf("import %s: %w", ref, err)
	}
	defer out.Close()
	if err := p.display(out); err != nil {
		return fmt.Errorf("import %s: %w", ref, err)
	}
	return nil
}
