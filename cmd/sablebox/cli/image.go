package cli

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/sablebox/sablebox/pkg/image"
	"github.com/sablebox/sablebox/pkg/sandbox/docker"
	"github.com/sablebox/sablebox/pkg/sandbox/podman"
)

func newImageCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "image",
		Short: "Build or load the sandbox image, or make the offline base it builds on",
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
			e, done, err := a.imageEngine()
			if err != nil {
				return err
			}
			defer done()
			b.Progress = a.progress()
			if err := image.Build(cmd.Context(), e, b); err != nil {
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
			e, done, err := a.imageEngine()
			if err != nil {
				return err
			}
			defer done()
			o.Log, o.Progress = a.streams.Err, a.progress()
			if err := image.MakeBase(cmd.Context(), e, o); err != nil {
				return err
			}
			flag := e.Flag()
			if flag != "" {
				flag += " "
			}
			fmt.Fprintf(a.streams.Err, "sablebox: imported %s; next: sablebox image build %s--base %s\n", o.BaseRef(), flag, o.BaseRef())
			return nil
		},
	}
	base.Flags().StringVar(&o.Suite, "debian", "", "Debian release to bootstrap (bookworm)")
	base.Flags().StringVar(&o.Mirror, "mirror", image.DefaultMirror, "Debian mirror")
	base.Flags().StringVar(&o.Ref, "tag", "", "name of the imported image (default "+image.OfflineBaseRepo+":SUITE)")
	base.Flags().StringVar(&o.WorkDir, "workdir", "/var/tmp", "where the temporary root filesystem goes (not noexec)")

	load := &cobra.Command{
		Use:   "load FILE",
		Short: "Load the sandbox image from an archive (the release's tarball), for hosts with no registry",
		Long: `Load an image archive as ` + "`docker save`" + ` writes it (a tar, gzipped or not), such as the
release's sablebox-sandbox-image-VERSION.tar, into Docker, or into Podman with
--runtime podman. The file is checked first: a file that is not such an
archive is refused, naming what is wrong.`,
		Example: `  sablebox image load sablebox-sandbox-image-v1.0.0.tar
  sablebox image load --runtime podman sablebox-sandbox-image-v1.0.0.tar`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, done, err := a.imageEngine()
			if err != nil {
				return err
			}
			defer done()
			names, err := image.Load(cmd.Context(), e, args[0], a.progress())
			if err != nil {
				return err
			}
			fmt.Fprintf(a.streams.Err, "sablebox: loaded %s\n", strings.Join(names, ", "))
			return nil
		},
	}
	cmd.AddCommand(build, base, load)
	return cmd
}

// imageEngine is the engine the image commands work on: Docker, or
// Podman with --runtime podman. done releases it.
func (a *app) imageEngine() (image.Engine, func(), error) {
	switch rt := a.cfg.Runtime; rt {
	case "auto", docker.Name:
		c, err := docker.NewClient(a.cfg.Settings.Get(docker.KeyHost))
		if err != nil {
			return nil, nil, fmt.Errorf("docker client: %w", err)
		}
		return image.Docker{Client: c}, func() { c.Close() }, nil
	case podman.Name:
		e, err := podman.ImageEngine(a.cfg.Settings.Get(podman.KeySocket))
		return e, func() {}, err
	default:
		return nil, nil, fmt.Errorf("image commands work with --runtime docker or podman, not %q", rt)
	}
}

// progress shows a live display on a terminal and plain lines otherwise.
func (a *app) progress() image.Progress {
	p := image.Progress{Out: a.streams.Err}
	if f, ok := a.streams.Err.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.Terminal, p.FD = true, f.Fd()
	}
	return p
}
