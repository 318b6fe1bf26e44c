package cli

import (
	"fmt"
	"os"

	"github.com/docker/docker/client"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/sablebox/sablebox/pkg/image"
	"github.com/sablebox/sablebox/pkg/sandbox/docker"
)

func newImageCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "image",
		Short: "Build the sandbox image, or the offline base it builds on",
	}
	var b image.BuildOptions
	build := &cobra.Command{
		Use:   "build",
		Short: "Build the sandbox image from the Dockerfile inside sablebox",
		Long: `Build the sandbox image (non-root uid 1000, python3 -I entrypoint, no setuid
files) on a base image. The default base, ` + image.DefaultBase + `, needs a registry;
with none, first make an offline base with 'sablebox image base --debian bookworm'
and build with --base ` + image.OfflineBaseRepo + `:bookworm.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.dockerClient()
			if err != nil {
				return err
			}
			defer c.Close()
			b.Progress = a.progress()
			if err := image.Build(cmd.Context(), c, b); err != nil {
				return err
			}
			fmt.Fprintf(a.streams.Err, "sablebox: built %s\n", b.Tag)
			return nil
		},
	}
	build.Flags().StringVar(&b.Base, "base", image.DefaultBase, "base image with python3")
	build.Flags().StringVar(&b.Tag, "tag", image.DefaultTag, "name of the built image")

	var o image.BaseOptions
	base := &cobra.Command{
		Use:   "base --debian SUITE",
		Short: "Make an offline Debian base image with debootstrap (needs root)",
		Long: `Make a base image with no registry: debootstrap a minimal Debian with python3
and its full standard library from a Debian mirror, and import it as
` + image.OfflineBaseRepo + `:SUITE. Takes a few minutes and about 230 MB.`,
		Example: `  sablebox image base --debian bookworm
  sablebox image build --base ` + image.OfflineBaseRepo + `:bookworm`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.Suite == "" {
				return fmt.Errorf("say which Debian release: --debian bookworm")
			}
			c, err := a.dockerClient()
			if err != nil {
				return err
			}
			defer c.Close()
			o.Log, o.Progress = a.streams.Err, a.progress()
			if err := image.MakeBase(cmd.Context(), c, o); err != nil {
				return err
			}
			fmt.Fprintf(a.streams.Err, "sablebox: imported %s; next: sablebox image build --base %s\n", o.BaseRef(), o.BaseRef())
			return nil
		},
	}
	base.Flags().StringVar(&o.Suite, "debian", "", "Debian release to bootstrap (bookworm)")
	base.Flags().StringVar(&o.Mirror, "mirror", image.DefaultMirror, "Debian mirror")
	base.Flags().StringVar(&o.Ref, "tag", "", "name of the imported image (default "+image.OfflineBaseRepo+":SUITE)")
	base.Flags().StringVar(&o.WorkDir, "workdir", "/var/tmp", "where the temporary root filesystem goes (not noexec)")

	cmd.AddCommand(build, base)
	return cmd
}

// dockerClient connects to the engine the image commands work on.
func (a *app) dockerClient() (*client.Client, error) {
	if rt := a.cfg.Runtime; rt != "auto" && rt != docker.Name {
		return nil, fmt.Errorf("image commands work with --runtime docker in this version, not %q", rt)
	}
	c, err := docker.NewClient(a.cfg.DockerHost)
	if err != nil {
		return nil, fmt.Errorf("docker client: %w", err)
	}
	return c, nil
}

// progress shows a live display on a terminal and plain lines otherwise.
func (a *app) progress() image.Progress {
	p := image.Progress{Out: a.streams.Err}
	if f, ok := a.streams.Err.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.Terminal, p.FD = true, f.Fd()
	}
	return p
}
