package server

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/sablebox/sablebox/pkg/sandbox/sandboxtest"
)

// The alert rules are valid and each fires on what it watches
// (compose/alerts_test.yml), checked by Debian's promtool.
func TestAlertRules(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	sandboxtest.SkipUnlessRequired(t, "prometheus", err)
	for _, args := range [][]string{{"check", "rules", "alerts.yml"}, {"test", "rules", "alerts_test.yml"}} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = "../../compose"
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}
