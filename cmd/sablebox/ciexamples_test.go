package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// ciCommands are the sablebox command lines of the CI examples, past
// their install steps: a GitHub Actions workflow's run steps, a GitLab
// job's script.
func ciCommands(t *testing.T) (github, gitlab []string) {
	t.Helper()
	var gh struct {
		Jobs map[string]struct {
			Steps []struct{ Run string }
		}
	}
	var gl map[string]any
	for path, v := range map[string]any{"../../examples/ci/github-actions.yml": &gh, "../../examples/ci/gitlab-ci.yml": &gl} {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := yaml.Unmarshal(data, v); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
	}
	keep := func(lines []string, line string) []string {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "sablebox ") && !strings.HasPrefix(line, "sablebox image load") {
			lines = append(lines, line)
		}
		return lines
	}
	for _, job := range gh.Jobs {
		for _, s := range job.Steps {
			for _, line := range strings.Split(s.Run, "\n") {
				github = keep(github, line)
			}
		}
	}
	job, _ := gl["sablebox"].(map[string]any)
	script, _ := job["script"].([]any)
	for _, line := range script {
		s, _ := line.(string)
		gitlab = keep(gitlab, s)
	}
	return github, gitlab
}

// The CI examples run the same sablebox commands, and those commands
// work: run on a copy of examples/ by the binary, as a pipeline would,
// they exit 0 and leave a SARIF log and a JUnit report. (Run by make
// test-ci-examples in .ci/run: it includes selftest --all.)
func TestCIExamples(t *testing.T) {
	github, gitlab := ciCommands(t)
	if len(github) < 3 || !slices.Equal(github, gitlab) {
		t.Fatalf("the examples' commands differ or are missing:\ngithub: %q\ngitlab: %q", github, gitlab)
	}
	if os.Getenv("SABLEBOX_CI_EXAMPLES") == "" {
		t.Skip("SKIP ci-examples: SABLEBOX_CI_EXAMPLES is not set (make test-ci-examples runs the commands; they include selftest --all)")
	}
	work := t.TempDir()
	if err := os.CopyFS(filepath.Join(work, "examples"), os.DirFS("../../examples")); err != nil {
		t.Fatal(err)
	}
	path := filepath.Dir(binary) + string(os.PathListSeparator) + os.Getenv("PATH")
	for _, line := range github {
		cmd := exec.Command("/bin/sh", "-ec", line)
		cmd.Dir = work
		cmd.Env = []string{"PATH=" + path, "HOME=" + t.TempDir(), "CI=true"}
		out, err := cmd.CombinedOutput()
		t.Logf("$ %s\n%s", line, tailLines(string(out), 8))
		if err != nil {
			t.Errorf("%s: %v\n%s", line, err, out)
		}
	}
	var sarif struct {
		Version string
		Runs    []struct{ Results []json.RawMessage }
	}
	if data, err := os.ReadFile(filepath.Join(work, "sablebox.sarif")); err != nil || json.Unmarshal(data, &sarif) != nil || sarif.Version != "2.1.0" || len(sarif.Runs) != 1 || len(sarif.Runs[0].Results) == 0 {
		t.Errorf("sablebox.sarif: %v: %+v", err, sarif)
	}
	if data, err := os.ReadFile(filepath.Join(work, "junit.xml")); err != nil || !strings.Contains(string(data), `failures="0"`) {
		t.Errorf("junit.xml: %v: %.300s", err, data)
	}
}

func tailLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
