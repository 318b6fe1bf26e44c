package runner

import (
	"slices"

	"github.com/sirupsen/logrus"

	"github.com/sablebox/sablebox/pkg/metrics"
	"github.com/sablebox/sablebox/pkg/sandbox"
	"github.com/sablebox/sablebox/pkg/sandbox/docker"
	"github.com/sablebox/sablebox/pkg/sandbox/kubernetes"
	"github.com/sablebox/sablebox/pkg/sandbox/podman"
	"github.com/sablebox/sablebox/pkg/sandbox/process"
	"github.com/sablebox/sablebox/pkg/setting"
)

// kind is a backend sablebox knows: its name, whether it runs images,
// the settings it owns, how to open it with them, and whether auto may
// pick it (a remote cluster is used only when named).
type kind struct {
	name     string
	images   bool
	settings []setting.Setting
	open     func(setting.Values, logrus.FieldLogger, *metrics.Runs) (sandbox.Backend, error)
	named    bool
}

// kinds lists every backend, the ones auto tries first and in its order.
// This is the one place a new backend is added; its settings live in its
// own package.
var kinds = []kind{
	{docker.Name, true, docker.Settings, docker.Open, false},
	{podman.Name, true, podman.Settings, podman.Open, false},
	{process.Name, false, process.Settings, process.Open, false},
	{kubernetes.Name, true, kubernetes.Settings, kubernetes.Open, true},
}

// declares reports whether the backend declares the setting key.
func (k kind) declares(key string) bool {
	return slices.ContainsFunc(k.settings, func(s setting.Setting) bool { return s.Key == key })
}

// Setting is a backend setting with the backends that declare it.
type Setting struct {
	setting.Setting
	// Backends names the backends that read it.
	Backends []string
}

// Settings lists every backend's settings once each, in the order of the
// backends and their declarations.
func Settings() []Setting {
	var out []Setting
	for _, k := range kinds {
		for _, s := range k.settings {
			i := slices.IndexFunc(out, func(o Setting) bool { return o.Key == s.Key })
			if i < 0 {
				out = append(out, Setting{Setting: s})
				i = len(out) - 1
			}
			out[i].Backends = append(out[i].Backends, k.name)
		}
	}
	return out
}
