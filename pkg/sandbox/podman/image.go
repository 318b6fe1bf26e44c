//go:build remote

package podman

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	buildahDefine "github.com/containers/buildah/define"
	"github.com/containers/podman/v5/pkg/bindings/images"
	"github.com/containers/podman/v5/pkg/domain/entities/types"

	"github.com/sablebox/sablebox/pkg/image"
)

// imageEngine builds and imports images through the Podman service.
type imageEngine struct{ b *Backend }

// ImageEngine returns the image engine of the Podman service at uri
// (ResolveURI("") when empty).
func ImageEngine(uri string) (image.Engine, error) {
	return imageEngine{newBackend(Options{URI: uri})}, nil
}

// Flag names Podman on the command line.
func (imageEngine) Flag() string { return "--runtime podman" }

// BuildImage writes files to a temporary context directory (the bindings
// read the Containerfile from disk), builds, and removes the directory.
func (e imageEngine) BuildImage(ctx context.Context, files fs.FS, tag string, args, labels map[string]string, p image.Progress) error {
	conn, err := e.b.bindings.connection(ctx)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "sablebox-build-")
	if err != nil {
		return fmt.Errorf("build context: %w", err)
	}
	defer os.RemoveAll(dir)
	if err := os.CopyFS(dir, files); err != nil {
		return fmt.Errorf("build context: %w", err)
	}
	_, err = images.Build(with(ctx, conn), []string{filepath.Join(dir, "Dockerfile")}, types.BuildOptions{
		BuildOptions: buildahDefine.BuildOptions{
			ContextDirectory:        dir,
			Output:                  tag,
			Args:                    args,
			Labels:                  labelList(labels),
			ConfigureNetwork:        buildahDefine.NetworkDisabled,
			RemoveIntermediateCtrs:  true,
			ForceRmIntermediateCtrs: true,
			Layers:                  true,
			Out:                     p.Writer(),
			Err:                     p.Writer(),
			ReportWriter:            p.Writer(),
		},
	})
	return err
}

func labelList(labels map[string]string) []string {
	var out []string
	for k, v := range labels {
		out = append(out, k+"="+v)
	}
	return out
}

// ImportImage imports a root filesystem through the service.
func (e imageEngine) ImportImage(ctx context.Context, rootfs io.Reader, ref string, changes []string, p image.Progress) error {
	conn, err := e.b.bindings.connection(ctx)
	if err != nil {
		return err
	}
	report, err := images.Import(with(ctx, conn), rootfs, new(images.ImportOptions).
		WithReference(ref).WithChanges(changes).WithMessage("sablebox offline base"))
	if err != nil {
		return fmt.Errorf("import %s: %w", ref, err)
	}
	fmt.Fprintln(p.Writer(), report.Id)
	return nil
}

// LoadImage loads an image archive through the service.
func (e imageEngine) LoadImage(ctx context.Context, archive io.Reader, p image.Progress) error {
	conn, err := e.b.bindings.connection(ctx)
	if err != nil {
		return err
	}
	report, err := images.Load(with(ctx, conn), archive)
	if err != nil {
		return err
	}
	for _, n := range report.Names {
		fmt.Fprintln(p.Writer(), "Loaded image:", n)
	}
	return nil
}
