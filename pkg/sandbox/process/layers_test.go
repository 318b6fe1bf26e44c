package process

import (
	"strings"
	"testing"
)

func TestPlanRefusesMissingRequiredLayers(t *testing.T) {
	host := hostLayers{missing: map[string]string{LayerLandlock: "unsupported by kernel", LayerCgroup: "needs root"}}
	p, err := planFor(host, []string{LayerSeccomp})
	if err != nil {
		t.Fatalf("seccomp is there: %v", err)
	}
	if p.has[LayerLandlock] || !p.has[LayerSeccomp] {
		t.Fatalf("plan %v", p.has)
	}
	joined := strings.Join(p.degraded, "\n")
	for _, want := range []string{"landlock: unsupported by kernel", "cgroup: needs root", "RLIMIT_AS"} {
		if !strings.Contains(joined, want) {
			t.Errorf("degraded notes lack %q:\n%s", want, joined)
		}
	}
	if _, err := planFor(host, []string{LayerSeccomp, LayerLandlock}); err == nil || !strings.Contains(err.Error(), "landlock (unsupported by kernel)") {
		t.Fatalf("a required missing layer must refuse the run: %v", err)
	}
}

func TestRunNamesRoundTrip(t *testing.T) {
	labels, ok := labelsOf("sablebox-100-42-7-abcdef", "boot")
	if !ok || labels["io.sablebox.owner.pid"] != "42" || labels["io.sablebox.run"] != "abcdef" {
		t.Fatalf("%v %v", labels, ok)
	}
	for _, bad := range []string{"sablebox-x-1-2-r", "other-1-2-3-r", "sablebox-1-2-3"} {
		if _, ok := labelsOf(bad, "boot"); ok {
			t.Errorf("%q read as a run name", bad)
		}
	}
}
