package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sablebox/sablebox/pkg/sandbox"
)

// `sablebox scan` exits 0 on clean files, 1 with findings at or above
// --fail-on, 2 on a file it cannot read or parse, naming it.
func TestScanExitCodes(t *testing.T) {
	examples, _ := filepath.Abs("../../examples")
	isolate(t)
	if err := os.WriteFile("broken.sh", []byte("if then (\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("low.py", []byte("print(open('/etc/hostname').read())\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"scan", filepath.Join(examples, "python"), filepath.Join(examples, "wordcount.py")}, 0, "0 finding(s)"},
		{[]string{"scan", examples}, 1, "escape.py:13:8: high [py.native.ctypes]"},
		{[]string{"scan", "low.py"}, 0, "[py.fs.outside]"},
		{[]string{"scan", "--fail-on", "medium", "low.py"}, 1, "1 at or above medium"},
		{[]string{"scan", "broken.sh", "low.py"}, 2, "broken.sh: error: cannot be scanned: parse shell: 1:"},
		{[]string{"scan", "missing.py"}, 2, "missing.py: error: cannot read it: no such file or directory"},
		{[]string{"scan", "--format", "yaml", "low.py"}, 2, `--format "yaml": want text, json, sarif`},
		{[]string{"scan", "--fail-on", "severe", "low.py"}, 2, `unknown severity "severe"`},
	}
	for _, tt := range tests {
		got := sablebox(t, "", tt.args...)
		if got.code != tt.code || !strings.Contains(got.stdout+got.stderr, tt.want) {
			t.Errorf("%v: exit %d, want %d with %q:\n%s%s", tt.args, got.code, tt.code, tt.want, got.stdout, got.stderr)
		}
	}
	got := sablebox(t, "", "scan", "--format", "json", filepath.Join(examples, "escape.py"))
	var out struct {
		Files []struct {
			Findings []struct{ Rule string }
		}
	}
	if err := json.Unmarshal([]byte(got.stdout), &out); err != nil || got.code != 1 || len(out.Files) != 1 || len(out.Files[0].Findings) == 0 {
		t.Fatalf("json: %v, exit %d: %s", err, got.code, got.stdout)
	}
}

// `sablebox run` refuses a tool the gate finds bad: exit 126, each
// finding on stderr, the findings in --json; --analysis warn runs it.
func TestRunRefusesABadTool(t *testing.T) {
	isolate(t)
	if err := os.WriteFile("bad.py", []byte("import os\nos.system('echo ran')\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got := sablebox(t, "", "run", "--runtime", "process", "bad.py")
	if got.code != sandbox.ExitBlocked || got.stdout != "" || !strings.Contains(got.stderr, "analysis: 2:1: critical [py.process.os-system]") ||
		!strings.Contains(got.stderr, "the static-analysis gate refused the tool") {
		t.Fatalf("exit %d, stdout %q, stderr %q", got.code, got.stdout, got.stderr)
	}
	got = sablebox(t, "", "run", "--runtime", "process", "--json", "bad.py")
	var res sandbox.Result
	if err := json.Unmarshal([]byte(got.stdout), &res); err != nil || got.code != sandbox.ExitBlocked || res.Status != sandbox.StatusBlocked ||
		res.Analysis == nil || len(res.Analysis.Findings) != 1 {
		t.Fatalf("json: %v, exit %d: %s", err, got.code, got.stdout)
	}
	got = sablebox(t, "", "run", "--runtime", "process", "--analysis", "warn", "bad.py")
	if got.code != 0 || !strings.Contains(got.stdout, "ran") || !strings.Contains(got.stderr, "analysis.mode is warn") {
		t.Fatalf("warn: exit %d, stdout %q, stderr %q", got.code, got.stdout, got.stderr)
	}
}

// `sablebox selftest` runs attacks through the normal run path and exits
// 0 when each was contained; an unknown attack is bad input.
func TestSelftestCommand(t *testing.T) {
	isolate(t)
	got := sablebox(t, "", "selftest", "--no-confine", "--runtime", "process", "--json", "--only", "fs.write-host,net.loopback,run.leftover-child")
	var out struct {
		Outcomes []struct{ Attack, Backend, Status string }
		Escapes  int
	}
	if err := json.Unmarshal([]byte(got.stdout), &out); err != nil || got.code != 0 || len(out.Outcomes) != 3 || out.Escapes != 0 {
		t.Fatalf("exit %d, %v: %s %s", got.code, err, got.stdout, got.stderr)
	}
	for _, o := range out.Outcomes {
		if o.Status != "contained" || o.Backend != "process" {
			t.Errorf("%+v", o)
		}
	}
	if got := sablebox(t, "", "selftest", "--only", "no.such-attack"); got.code != sandbox.ExitError || !strings.Contains(got.stderr, "unknown attacks no.such-attack") {
		t.Errorf("unknown attack: exit %d: %s", got.code, got.stderr)
	}
}
