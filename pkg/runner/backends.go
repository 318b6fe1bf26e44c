package runner

import (
	"github.com/sirupsen/logrus"

	"github.com/sablebox/sablebox/pkg/sandbox"
	"github.com/sablebox/sablebox/pkg/sandbox/docker"
	"github.com/sablebox/sablebox/pkg/sandbox/podman"
	"github.com/sablebox/sablebox/pkg/sandbox/process"
)

// candidate is a backend the runner can open, in auto-selection order.
type candidate struct {
	name string
	open func() (sandbox.Backend, error)
}

// candidates lists every backend sablebox knows, in the order auto tries
// them. This is the one place a new backend is added.
func candidates(opts Options, log logrus.FieldLogger) []candidate {
	return []candidate{
		{docker.Name, func() (sandbox.Backend, error) {
			return docker.New(opts.DockerHost, docker.WithLogger(log), docker.WithOCIRuntime(opts.OCIRuntime))
		}},
		{podman.Name, func() (sandbox.Backend, error) {
			return podman.New(podman.Options{
				URI: opts.PodmanSocket, OCIRuntime: opts.OCIRuntime, ProfileDir: opts.PodmanSeccompDir, Logger: log,
			})
		}},
		{process.Name, func() (sandbox.Backend, error) {
			return process.New(process.Options{Require: opts.ProcessRequire, Logger: log})
		}},
	}
}
