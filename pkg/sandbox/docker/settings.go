package docker

import (
	"fmt"

	"github.com/sirupsen/logrus"

	"github.com/sablebox/sablebox/pkg/internal/engine"
	"github.com/sablebox/sablebox/pkg/metrics"
	"github.com/sablebox/sablebox/pkg/sandbox"
	"github.com/sablebox/sablebox/pkg/setting"
)

// The Docker backend's settings' keys.
const (
	// KeyHost names the daemon.
	KeyHost = "docker-host"
	// KeyOCIRuntime names the OCI runtime (shared with Podman).
	KeyOCIRuntime = engine.KeyOCIRuntime
)

// Settings are the Docker backend's settings.
var Settings = []setting.Setting{
	{Key: KeyHost, Help: "Docker daemon address (default: DOCKER_HOST or the local socket)"},
	engine.OCIRuntimeSetting,
}

// Open returns a Docker backend configured by v (see Settings).
func Open(v setting.Values, log logrus.FieldLogger, m *metrics.Runs) (sandbox.Backend, error) {
	if err := engine.OCIRuntimeSetting.Check(v.Get(engine.KeyOCIRuntime)); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", sandbox.ErrInvalidSpec, engine.KeyOCIRuntime, err)
	}
	return New(v.Get(KeyHost), WithLogger(log), WithMetrics(m), WithOCIRuntime(v.Get(engine.KeyOCIRuntime)))
}
