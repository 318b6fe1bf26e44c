package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sablebox/sablebox/pkg/sandbox"
)

// `sablebox test` exits 0 when every case passed, 1 naming a failed case,
// 125 on a malformed case file (one line naming file, line and field);
// --junit writes the report, --json every case with its result.
func TestTestCommand(t *testing.T) {
	examples, _ := filepath.Abs("../../examples")
	failing, _ := filepath.Abs("../../pkg/tooltest/testdata/failing")
	isolate(t)
	got := sablebox(t, "", "test", "--runtime", "process", "--junit", "report.xml", examples)
	if got.code != 0 || !strings.Contains(got.stdout, " passed, 0 failed") {
		t.Fatalf("examples: exit %d: %s %s", got.code, got.stdout, got.stderr)
	}
	if report, err := os.ReadFile("report.xml"); err != nil || !strings.Contains(string(report), "<testsuites") {
		t.Errorf("report.xml: %v %.200s", err, report)
	}
	got = sablebox(t, "", "test", "--runtime", "process", failing)
	if got.code != 1 || !strings.Contains(got.stdout, "FAIL "+filepath.Join(failing, "greet.test.yaml")+":6: wrong greeting on purpose") {
		t.Errorf("failing: exit %d: %s %s", got.code, got.stdout, got.stderr)
	}
	got = sablebox(t, "", "test", "--runtime", "process", "--json", "--run", "wrong exit", failing)
	var out struct {
		Cases []struct {
			Case    string
			Verdict string
			Result  struct{ Status string }
		}
		Failed int
	}
	if err := json.Unmarshal([]byte(got.stdout), &out); err != nil || got.code != 1 || out.Failed != 1 || len(out.Cases) != 1 || out.Cases[0].Result.Status != "ok" {
		t.Errorf("--json: exit %d, %v: %s", got.code, err, got.stdout)
	}
	if err := os.WriteFile("bad.test.yaml", []byte("cases:\n  - name: a\n    expect: {status: fine}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("bad.py", []byte("print(1)\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got = sablebox(t, "", "test", "bad.test.yaml")
	if got.code != sandbox.ExitError || !strings.Contains(got.stderr, `bad.test.yaml:3: status "fine": want one of`) || strings.Count(got.stderr, "\n") != 1 {
		t.Errorf("bad case file: exit %d: %q", got.code, got.stderr)
	}
}
