//go:build !remote

package podman

import (
	"fmt"

	"github.com/sirupsen/logrus"

	"github.com/sablebox/sablebox/pkg/image"
	"github.com/sablebox/sablebox/pkg/metrics"
	"github.com/sablebox/sablebox/pkg/sandbox"
	"github.com/sablebox/sablebox/pkg/setting"
)

// Options configure the backend; see the remote build for their meaning.
type Options struct {
	URI        string
	OCIRuntime string
	ProfileDir string
	Logger     logrus.FieldLogger
	Metrics    *metrics.Runs
}

// ImageEngine fails: this binary was built without the Podman bindings.
func ImageEngine(string) (image.Engine, error) {
	return nil, errNoBindings
}

var errNoBindings = fmt.Errorf("%w: this sablebox was built without Podman support (build it with `make build`, which sets the tags the Podman bindings need)", sandbox.ErrUnavailable)

// New fails: this binary was built without the Podman bindings.
func New(Options) (sandbox.Backend, error) {
	return nil, errNoBindings
}

// Open fails: this binary was built without the Podman bindings.
func Open(setting.Values, logrus.FieldLogger, *metrics.Runs) (sandbox.Backend, error) {
	return nil, errNoBindings
}
