package selftest

import (
	"context"
	"testing"

	"github.com/sablebox/sablebox/pkg/analysis"
	"github.com/sablebox/sablebox/pkg/runner"
	"github.com/sablebox/sablebox/pkg/sandbox/sandboxtest"
	"github.com/sablebox/sablebox/pkg/setting"
)

// targetFor is a runner target for a backend, or a skip (a failure when
// SABLEBOX_REQUIRE names it).
func targetFor(t *testing.T, label string, opts runner.Options) Target {
	t.Helper()
	opts.Analysis = analysis.Policy{Mode: analysis.Off}
	r, err := runner.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	_, err = r.Ready(context.Background())
	sandboxtest.SkipUnlessRequired(t, label, err)
	return RunnerTarget{Label: label, Runner: r}
}

// The whole battery is contained on every backend.
func TestBatteryIsContained(t *testing.T) {
	for _, c := range []struct {
		label string
		opts  runner.Options
	}{
		{"docker", runner.Options{Runtime: "docker"}},
		{"runsc", runner.Options{Runtime: "docker", Settings: setting.Values{"oci-runtime": "runsc"}}},
		{"podman", runner.Options{Runtime: "podman"}},
		{"process", runner.Options{Runtime: "process"}},
	} {
		t.Run(c.label, func(t *testing.T) {
			t.Parallel()
			target := targetFor(t, c.label, c.opts)
			outcomes, err := Run(context.Background(), []Target{target}, Battery, nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range outcomes {
				if o.Status != Contained && o.Status != NotApplicable {
					t.Errorf("%s on %s: %s: %s", o.Attack, o.Backend, o.Status, o.Detail)
				}
			}
		})
	}
}
