package process

import (
	"fmt"
	"slices"
	"strings"

	"github.com/sirupsen/logrus"

	"github.com/sablebox/sablebox/pkg/metrics"
	"github.com/sablebox/sablebox/pkg/sandbox"
	"github.com/sablebox/sablebox/pkg/setting"
)

// KeyRequire is the setting that lists the layers a run must have.
const KeyRequire = "process-require"

// Settings are the process sandbox's settings.
var Settings = []setting.Setting{
	{Key: KeyRequire, List: true,
		Help: "layers a process-sandbox run must have, else it is refused (default " + strings.Join(DefaultRequire, ",") +
			"; any of " + strings.Join(AllLayers, ",") + ")",
		Check: func(v string) error {
			for _, l := range (setting.Values{KeyRequire: v}).List(KeyRequire) {
				if !slices.Contains(AllLayers, l) {
					return fmt.Errorf("unknown layer %q: want any of %s", l, strings.Join(AllLayers, ", "))
				}
			}
			return nil
		}},
}

// Open returns a process backend configured by v (see Settings).
func Open(v setting.Values, log logrus.FieldLogger, m *metrics.Runs) (sandbox.Backend, error) {
	return New(Options{Require: v.List(KeyRequire), Logger: log, Metrics: m})
}
