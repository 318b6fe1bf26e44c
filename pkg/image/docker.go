package image

import (
	"context"
	"fmt"
	"io"
	"io/fs"

	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/jsonmessage"
)

// DockerClient is the subset of the Docker Engine API client the Docker
// engine uses. *client.Client satisfies it.
type DockerClient interface {
	ImageBuild(ctx context.Context, buildContext io.Reader, options build.ImageBuildOptions) (build.ImageBuildResponse, error)
	ImageImport(ctx context.Context, source image.ImportSource, ref string, options image.ImportOptions) (io.ReadCloser, error)
	ImageLoad(ctx context.Context, input io.Reader, loadOpts ...client.ImageLoadOption) (image.LoadResponse, error)
}

// Docker builds and imports images through the Docker Engine API.
type Docker struct{ Client DockerClient }

var _ Engine = Docker{}

// Flag is empty: Docker is the default engine.
func (Docker) Flag() string { return "" }

// BuildImage sends the build context to the daemon and shows its progress.
func (d Docker) BuildImage(ctx context.Context, files fs.FS, tag string, args, labels map[string]string, p Progress) error {
	buildCtx, err := ContextTar(files)
	if err != nil {
		return err
	}
	buildArgs := map[string]*string{}
	for k, v := range args {
		buildArgs[k] = &v
	}
	resp, err := d.Client.ImageBuild(ctx, buildCtx, build.ImageBuildOptions{
		Tags: []string{tag}, BuildArgs: buildArgs, Labels: labels,
		Remove: true, ForceRemove: true, NetworkMode: "none",
	})
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return jsonmessage.DisplayJSONMessagesStream(resp.Body, p.Writer(), p.FD, p.Terminal, nil)
}

// ImportImage imports a root filesystem through the daemon.
func (d Docker) ImportImage(ctx context.Context, rootfs io.Reader, ref string, changes []string, p Progress) error {
	out, err := d.Client.ImageImport(ctx, image.ImportSource{Source: rootfs, SourceName: "-"}, ref, image.ImportOptions{
		Changes: changes, Message: "sablebox offline base",
	})
	if err != nil {
		return fmt.Errorf("import %s: %w", ref, err)
	}
	defer out.Close()
	if err := jsonmessage.DisplayJSONMessagesStream(out, p.Writer(), p.FD, p.Terminal, nil); err != nil {
		return fmt.Errorf("import %s: %w", ref, err)
	}
	return nil
}

// LoadImage loads an image archive through the daemon.
func (d Docker) LoadImage(ctx context.Context, archive io.Reader, p Progress) error {
	resp, err := d.Client.ImageLoad(ctx, archive, client.ImageLoadWithQuiet(false))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return jsonmessage.DisplayJSONMessagesStream(resp.Body, p.Writer(), p.FD, p.Terminal, nil)
}
