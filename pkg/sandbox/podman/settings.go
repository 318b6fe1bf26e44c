package podman

import (
	"github.com/sablebox/sablebox/pkg/internal/engine"
	"github.com/sablebox/sablebox/pkg/setting"
)

// The Podman backend's own settings.
const (
	KeySocket     = "podman-socket"
	KeySeccompDir = "podman-seccomp-dir"
)

// Settings are the Podman backend's settings.
var Settings = []setting.Setting{
	{Key: KeySocket, Help: "Podman service address (default: CONTAINER_HOST, /run/podman/podman.sock, $XDG_RUNTIME_DIR/podman/podman.sock)"},
	engine.OCIRuntimeSetting,
	{Key: KeySeccompDir, Help: "where the Podman service reads sablebox's seccomp profiles (default /var/lib/sablebox/seccomp as root)"},
}
