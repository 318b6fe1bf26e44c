package selftest

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/sablebox/sablebox/pkg/analysis"
	"github.com/sablebox/sablebox/pkg/runner"
	"github.com/sablebox/sablebox/pkg/sandbox/process"
	"github.com/sablebox/sablebox/pkg/setting"
)

// Backends are the targets --all tries, with what they add to the
// caller's runner options.
var Backends = []struct {
	Label    string
	Runtime  string
	Settings setting.Values
}{
	{"docker", "docker", nil},
	{"runsc", "docker", setting.Values{"oci-runtime": "runsc"}},
	{"podman", "podman", nil},
	{"process", "process", nil},
}

// Targets makes the battery's targets: every backend of Backends usable
// here when all is set, else the one base names (auto: the best here).
// The static-analysis gate is off on them: the battery tests the sandbox,
// and the gate would turn most payloads away first. skipped says why a
// backend was left out; close closes the runners.
func Targets(ctx context.Context, base runner.Options, all bool) (targets []Target, skipped []string, close func() error, err error) {
	var runners []*runner.Runner
	close = func() error {
		var errs []error
		for _, r := range runners {
			errs = append(errs, r.Close())
		}
		return errors.Join(errs...)
	}
	// Confined (see Confine), the process sandbox's runs nest in the
	// battery's cgroup.
	parent := os.Getenv(CgroupEnv)
	nested := func(opts runner.Options) runner.Options {
		settings := setting.Values{process.KeyCgroupParent: parent}
		for k, v := range opts.Settings {
			settings[k] = v
		}
		opts.Settings = settings
		return opts
	}
	var add func(label string, opts runner.Options) error
	add = func(label string, opts runner.Options) error {
		opts.Analysis = analysis.Policy{Mode: analysis.Off}
		if parent != "" && opts.Runtime == process.Name {
			opts = nested(opts)
		}
		r, err := runner.New(opts)
		if err != nil {
			return err
		}
		runners = append(runners, r)
		name, err := r.Ready(ctx)
		if err != nil {
			return err
		}
		if parent != "" && name == process.Name && opts.Runtime != process.Name {
			// The best backend here is the process sandbox: ask for it
			// by name, nested, in place of this runner.
			runners = runners[:len(runners)-1]
			if err := r.Close(); err != nil {
				return err
			}
			opts.Runtime = process.Name
			return add(label, opts)
		}
		if label == "" {
			label = name
		}
		targets = append(targets, RunnerTarget{Label: label, Runner: r})
		return nil
	}
	if !all {
		if err := add("", base); err != nil {
			close()
			return nil, nil, nil, fmt.Errorf("selftest: no backend to attack: %w", err)
		}
		return targets, nil, close, nil
	}
	for _, b := range Backends {
		opts := base
		opts.Runtime = b.Runtime
		if b.Settings != nil {
			opts.Settings = setting.Values{}
			for k, v := range base.Settings {
				opts.Settings[k] = v
			}
			for k, v := range b.Settings {
				opts.Settings[k] = v
			}
		}
		if err := add(b.Label, opts); err != nil {
			skipped = append(skipped, fmt.Sprintf("%s: %v", b.Label, err))
		}
	}
	if len(targets) == 0 {
		close()
		return nil, skipped, nil, fmt.Errorf("selftest: no backend to attack here (%v)", skipped)
	}
	return targets, skipped, close, nil
}
