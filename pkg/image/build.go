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

// Engine is what the image commands need from a container engine.
type Engine interface {
	// BuildImage builds the Dockerfile at the root of files as tag, with
	// build args, no network, and intermediate containers removed.
	BuildImage(ctx context.Context, files fs.FS, tag string, args, labels map[string]string, p Progress) error
	// ImportImage imports a root filesystem tar stream as ref, applying
	// Dockerfile-style changes.
	ImportImage(ctx context.Context, rootfs io.Reader, ref string, changes []string, p Progress) error
	// LoadImage loads an image archive (`docker save`'s form).
	LoadImage(ctx context.Context, archive io.Reader, p Progress) error
	// Flag is how users name this engine on the command line, for hints
	// ("" for the default engine, "--runtime podman" otherwise).
	Flag() string
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

// Writer returns Out, or io.Discard.
func (p Progress) Writer() io.Writer {
	if p.Out == nil {
		return io.Discard
	}
	return p.Out
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
func Build(ctx context.Context, e Engine, opts BuildOptions) error {
	if opts.Tag == "" {
		opts.Tag = DefaultTag
	}
	if opts.Base == "" {
		opts.Base = DefaultBase
	}
	err := e.BuildImage(ctx, sandboximage.Files, opts.Tag,
		map[string]string{"BASE_IMAGE": opts.Base}, map[string]string{"io.sablebox.base": opts.Base}, opts.Progress)
	if err != nil {
		return buildError(e, opts, err)
	}
	return nil
}

func buildError(e Engine, opts BuildOptions, err error) error {
	msg := err.Error()
	if cerrdefs.IsNotFound(err) || strings.Contains(msg, "pull access denied") ||
		strings.Contains(msg, "not found") || strings.Contains(msg, "failed to resolve") ||
		strings.Contains(msg, "dial tcp") || strings.Contains(msg, "lookup ") || strings.Contains(msg, "image not known") {
		flag := e.Flag()
		if flag != "" {
			flag = " " + flag
		}
		return fmt.Errorf("build %s: base image %s is not available (%v): with no registry, run "+
			"`sablebox image base%s --debian bookworm`, then `sablebox image build%s --base %s:bookworm`",
			opts.Tag, opts.Base, err, flag, flag, OfflineBaseRepo)
	}
	return fmt.Errorf("build %s: %w", opts.Tag, err)
}

// ContextTar returns files as a tar stream: a build context.
func ContextTar(files fs.FS) (io.Reader, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	err := fs.WalkDir(files, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(files, path)
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

// baseChanges are applied to an imported base image.
var baseChanges = []string{`CMD ["python3"]`, "ENV LANG=C.UTF-8"}
