package runner

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sablebox/sablebox/pkg/sandbox"
	"github.com/sablebox/sablebox/pkg/sandbox/docker"
	"github.com/sablebox/sablebox/pkg/sandbox/podman"
	"github.com/sablebox/sablebox/pkg/sandbox/process"
	"github.com/sablebox/sablebox/pkg/seccomp"
	"github.com/sablebox/sablebox/pkg/setting"
)

// backends are the four sandboxes, as a runner names them: a test that
// holds on every backend runs over them.
var backends = []struct {
	name string
	opts Options
}{
	{docker.Name, Options{Runtime: docker.Name}},
	{"runsc", Options{Runtime: docker.Name, Settings: setting.Values{"oci-runtime": "runsc"}}},
	{podman.Name, Options{Runtime: podman.Name}},
	{process.Name, Options{Runtime: process.Name}},
}

// exampleTools are the example corpus python.json was learned on, and the
// wordcount example.
func exampleTools(t *testing.T) []string {
	t.Helper()
	tools, err := filepath.Glob("../../examples/python/*.py")
	if err != nil || len(tools) < 10 {
		t.Fatalf("the example corpus has %d tools (%v): want at least ten", len(tools), err)
	}
	return append(tools, "../../examples/wordcount.py")
}

// exampleRequest runs tool with an output directory; wordcount gets the
// sample text on stdin, the others make their own samples.
func exampleRequest(t *testing.T, tool string) Request {
	t.Helper()
	req := Request{ToolPath: tool, KeepOutput: true}
	if filepath.Base(tool) == "wordcount.py" {
		sample, err := os.ReadFile("../../examples/data/sample.txt")
		if err != nil {
			t.Fatal(err)
		}
		req.Stdin = bytes.NewReader(sample)
	}
	return req
}

// runExample runs one example tool and fails the test unless it
// succeeds.
func runExample(t *testing.T, r *Runner, tool string) *sandbox.Result {
	t.Helper()
	res, err := r.Run(context.Background(), exampleRequest(t, tool))
	if err != nil || res.Status != sandbox.StatusOK {
		t.Errorf("%s: %v, status %v: %.300s", filepath.Base(tool), err, statusOf(res), stderrOf(res))
	}
	return res
}

func statusOf(res *sandbox.Result) sandbox.Status {
	if res == nil {
		return ""
	}
	return res.Status
}

func stderrOf(res *sandbox.Result) string {
	if res == nil {
		return ""
	}
	return string(res.Stderr.Data)
}

// Every example tool runs under python.json, in every backend.
func TestExamplesRunUnderThePythonProfile(t *testing.T) {
	python, err := seccomp.Load("python")
	if err != nil {
		t.Fatal(err)
	}
	tools := exampleTools(t)
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			opts := b.opts
			opts.Seccomp = python
			r := usableRunner(t, b.name, opts)
			for _, tool := range tools {
				runExample(t, r, tool)
			}
		})
	}
}

// A profile learned from a tool in the process sandbox runs that tool
// again in every backend; and what the corpus makes is all within
// python.json's calls (its margin aside).
func TestLearnedProfilesRunEverywhere(t *testing.T) {
	arch := seccomp.NativeArch()
	if arch == "" {
		t.Skip("learning reads syscalls on amd64 and arm64 only")
	}
	learner := usableRunner(t, process.Name, Options{Runtime: process.Name})
	pythonLets := seccomp.Python().Check(arch).Lets()
	var learnedAll []string
	learned := map[string]*sandbox.SeccompProfile{}
	tools := exampleTools(t)
	for _, tool := range tools {
		res, made, err := learner.Learn(context.Background(), exampleRequest(t, tool))
		if err != nil || res.Status != sandbox.StatusOK {
			t.Fatalf("learn %s: %v, status %v: %.300s", tool, err, statusOf(res), stderrOf(res))
		}
		for _, name := range made {
			if !pythonLets[name] && !slices.Contains(learnedAll, name) {
				learnedAll = append(learnedAll, name)
			}
		}
		p, _ := seccomp.Learned(seccomp.Default(), arch, made)
		if learned[tool], err = p.Sandbox("learned-" + filepath.Base(tool)); err != nil {
			t.Fatal(err)
		}
	}
	if len(learnedAll) > 0 {
		// The tracer sees calls the profile then refuses: name them.
		t.Logf("the corpus made these calls python.json does not allow: %s", strings.Join(learnedAll, ", "))
	}
	for _, name := range learnedAll {
		if !refusedByDesign[name] {
			t.Errorf("the corpus needs %s, which python.json lacks: add it to pythonCalls with its reason", name)
		}
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			for _, tool := range tools {
				opts := b.opts
				opts.Seccomp = learned[tool]
				r := usableRunner(t, b.name, opts)
				runExample(t, r, tool)
			}
		})
	}
}

// refusedByDesign are calls CPython tries, and copes without, that
// python.json refuses on purpose.
var refusedByDesign = map[string]bool{
	"clone3": true, // answered ENOSYS: glibc falls back to clone
}
