package process

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/sirupsen/logrus"

	"github.com/sablebox/sablebox/pkg/metrics"
	"github.com/sablebox/sablebox/pkg/sandbox"
	"github.com/sablebox/sablebox/pkg/setting"
)

// The process sandbox's settings' keys.
const (
	// KeyRequire lists the layers a run must have.
	KeyRequire = "process-require"
	// KeyPython names the interpreter that runs Python tool files.
	KeyPython = "process-python"
	// KeyCgroupParent is the cgroup that holds the runs' cgroups.
	KeyCgroupParent = "process-cgroup-parent"
)

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
	{Key: KeyPython,
		Help: "absolute path of the python3 that runs tool files in the process sandbox (default /usr/bin/python3, else python3 on PATH); outside /usr/bin its whole prefix is bound read-only",
		Check: func(v string) error {
			if v != "" && !filepath.IsAbs(v) {
				return errors.New("want an absolute path, such as /usr/bin/python3")
			}
			return nil
		}},
	{Key: KeyCgroupParent,
		Help: "the cgroup, relative to each hierarchy's root, under which the process sandbox makes its runs' cgroups (default " + DefaultCgroupParent + ")",
		Check: func(v string) error {
			if v == "" {
				return nil
			}
			return checkCgroupParent(v)
		}},
}

// Open returns a process backend configured by v (see Settings).
func Open(v setting.Values, log logrus.FieldLogger, m *metrics.Runs) (sandbox.Backend, error) {
	return New(Options{Require: v.List(KeyRequire), Python: v.Get(KeyPython), CgroupParent: v.Get(KeyCgroupParent), Logger: log, Metrics: m})
}

// OpenLearning opens the backend as Open does, with every run traced and
// its syscall numbers handed to learn (Options.Learn).
func OpenLearning(v setting.Values, log logrus.FieldLogger, learn func(runID string, syscalls []int)) (*Backend, error) {
	return New(Options{Require: v.List(KeyRequire), Python: v.Get(KeyPython), CgroupParent: v.Get(KeyCgroupParent), Logger: log, Learn: learn})
}
