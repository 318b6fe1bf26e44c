package tooltest

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xeipuuv/gojsonschema"
	"gopkg.in/yaml.v3"

	"github.com/sablebox/sablebox/pkg/analysis"
	"github.com/sablebox/sablebox/pkg/runner"
	"github.com/sablebox/sablebox/pkg/sandbox"
	"github.com/sablebox/sablebox/pkg/sandbox/sandboxtest"
	"github.com/sablebox/sablebox/pkg/setting"
)

// A malformed case file is one error naming the file, the line and the
// field; the schema refuses it too.
func TestLoadNamesFileLineAndField(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "t.py"), []byte("print(1)\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// loaderOnly: beyond what a schema can say (the file is not YAML, a
	// file is missing, two names agree, a path climbs, a regexp is bad).
	loaderOnly := map[string]bool{"not yaml": true, "missing tool": true, "same name": true, "escaping path": true, "bad regexp": true}
	for _, c := range []struct{ name, body, want string }{
		{"unknown field", "cases:\n  - name: a\n    expect:\n      stdot: x\n", "t.test.yaml:4: field stdot not found"},
		{"bad status", "cases:\n  - name: a\n    expect:\n      status: okk\n", `t.test.yaml:4: status "okk": want one of ok, failed`},
		{"bad timeout", "cases:\n  - name: a\n    limits: {timeout: 10}\n", `t.test.yaml:3: timeout "10": want a positive duration`},
		{"bad size", "cases:\n  - name: a\n    limits:\n      memory: lots\n", `t.test.yaml:4: size "lots"`},
		{"bad regexp", "cases:\n  - name: a\n    expect:\n      stdout: {regexp: '('}\n", `t.test.yaml:4: regexp "("`},
		{"empty match", "cases:\n  - name: a\n    expect:\n      stdout: {}\n", "t.test.yaml:4: a match needs one of"},
		{"no name", "cases:\n  - args: [x]\n", "t.test.yaml:2: cases[0]: name: every case needs a name"},
		{"same name", "cases:\n  - name: a\n  - name: a\n", `t.test.yaml:3: cases[1]: name "a": also the name of the case at line 2`},
		{"stdin twice", "cases:\n  - name: a\n    stdin: x\n    stdin_file: y\n", "t.test.yaml:2: cases[0]: stdin and stdin_file: give one"},
		{"no cases", "tool: t.py\n", "t.test.yaml:1: cases: want at least one case"},
		{"empty", "", "t.test.yaml:1: empty"},
		{"not yaml", "cases: [\n", "t.test.yaml: line"},
		{"missing tool", "tool: nope.py\ncases:\n  - name: a\n", `t.test.yaml:1: tool "nope.py": no such file`},
		{"escaping path", "cases:\n  - name: a\n    files: {../x: y}\n", `t.test.yaml:2: cases[0]: files "../x"`},
		{"absolute checker", "cases:\n  - name: a\n    expect: {checker: /bin/true}\n", `t.test.yaml:2: cases[0]: expect.checker "/bin/true": want a path relative`},
		{"wrong type", "cases:\n  - name: a\n    args: x\n", "t.test.yaml:3: cannot unmarshal"},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, "t.test.yaml")
			if err := os.WriteFile(path, []byte(c.body), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Load(path)
			if err == nil || !strings.Contains(err.Error(), c.want) || strings.Count(err.Error(), "\n") > 0 {
				t.Fatalf("got %v, want one line with %q", err, c.want)
			}
			if !loaderOnly[c.name] && schemaErrors(t, []byte(c.body)) == nil {
				t.Errorf("the schema takes it")
			}
		})
	}
}

// schemaErrors validates a case file's YAML against case.schema.json.
func schemaErrors(t *testing.T, body []byte) []gojsonschema.ResultError {
	t.Helper()
	var doc any
	if err := yaml.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	asJSON, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	res, err := gojsonschema.Validate(gojsonschema.NewBytesLoader(Schema), gojsonschema.NewBytesLoader(asJSON))
	if err != nil {
		t.Fatal(err)
	}
	return res.Errors()
}

// Every case file in the repository loads and validates against the
// schema.
func TestCaseFilesMatchTheSchema(t *testing.T) {
	paths, err := Discover([]string{"../../examples", "testdata"})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range paths {
		if _, err := Load(p); err != nil {
			t.Errorf("%v", err)
		}
		body, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if errs := schemaErrors(t, body); errs != nil {
			t.Errorf("%s: %v", p, errs)
		}
	}
}

// backends are the targets the cases run on, as the other suites name
// them.
var backends = []struct {
	label string
	opts  runner.Options
}{
	{"docker", runner.Options{Runtime: "docker"}},
	{"runsc", runner.Options{Runtime: "docker", Settings: setting.Values{"oci-runtime": "runsc"}}},
	{"podman", runner.Options{Runtime: "podman"}},
	{"process", runner.Options{Runtime: "process"}},
}

func runnerFor(t *testing.T, label string, opts runner.Options) *runner.Runner {
	t.Helper()
	opts.Analysis = analysis.Policy{Mode: analysis.Enforce, FailOn: analysis.High}
	r, err := runner.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	_, err = r.Ready(context.Background())
	sandboxtest.SkipUnlessRequired(t, label, err)
	return r
}

func load(t *testing.T, dir string) []*File {
	t.Helper()
	paths, err := Discover([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	var files []*File
	for _, p := range paths {
		f, err := Load(p)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	return files
}

// The examples' cases pass on every backend, and the deliberately
// failing ones fail, each saying why; the JUnit report validates.
func TestCasesOnEveryBackend(t *testing.T) {
	examples, failing := append(load(t, "../../examples"), load(t, "testdata/statuses")...), load(t, "testdata/failing")
	for _, b := range backends {
		t.Run(b.label, func(t *testing.T) {
			t.Parallel()
			r := runnerFor(t, b.label, b.opts)
			start := time.Now()
			results := Run(context.Background(), r, append(append([]*File{}, examples...), failing...), Options{Jobs: 2})
			want := map[string]string{
				"wrong greeting on purpose":         `stdout: want "hello world\n", got "hello there\n"`,
				"wrong exit on purpose":             "exit 0 (ok), want 3",
				"the gate refuses it, unexpectedly": "status blocked, want ok",
				"the checker says no":               "checker no_check.sh: failed (exit 1): the checker saw 12 bytes and says no",
			}
			for _, res := range results {
				if res.Result == nil && res.Verdict != Skipped {
					t.Errorf("%s: no result", res.Case)
				}
				w, mustFail := want[res.Case]
				switch {
				case mustFail && (res.Verdict != Failed || !strings.Contains(strings.Join(res.Failures, "\n"), w)):
					t.Errorf("%s: %s %v, want a failure with %q", res.Case, res.Verdict, res.Failures, w)
				case res.Case == "not run today":
					if res.Verdict != Skipped {
						t.Errorf("%s: %s, want skipped", res.Case, res.Verdict)
					}
				case !mustFail && res.Verdict != Passed:
					t.Errorf("%s: %s: %v", res.Case, res.Verdict, res.Failures)
				}
				if res.Case == "the gate refuses it, unexpectedly" && (len(res.Locations) == 0 || res.Locations[0].Line != 2 || res.Locations[0].Level != "error") {
					t.Errorf("the gate's locations: %+v", res.Locations)
				}
			}
			if n := Count(results); n.Failed != len(want) {
				t.Errorf("%s, want %d failed", n, len(want))
			}
			validateJUnit(t, results, start)
		})
	}
}

// validateJUnit checks the report against Jenkins' JUnit XSD with
// xmllint (libxml2-utils).
func validateJUnit(t *testing.T, results []CaseResult, start time.Time) {
	t.Helper()
	xmllint, err := exec.LookPath("xmllint")
	sandboxtest.SkipUnlessRequired(t, "xmllint", err)
	path := filepath.Join(t.TempDir(), "junit.xml")
	var buf bytes.Buffer
	if err := WriteJUnit(&buf, results, start); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(xmllint, "--noout", "--schema", "testdata/jenkins-junit-4.xsd", path).CombinedOutput(); err != nil {
		t.Errorf("the JUnit report does not validate: %v: %s\n%s", err, out, buf.String())
	}
}

// The JUnit report holds any output (binary, control characters) as
// valid XML, and the XSD check fails a report that breaks it.
func TestJUnitOfAnyOutputValidates(t *testing.T) {
	results := []CaseResult{
		{File: "a.test.yaml", Line: 3, Tool: "a.py", Case: "binary", Verdict: Failed, Failures: []string{"stdout: \x1b[31m\x00"},
			Result: &sandbox.Result{Stdout: sandbox.Output{Data: []byte("\x00\x01\xff\xfe bad \x1b]0;x\x07")}}},
		{File: "a.test.yaml", Line: 9, Tool: "a.py", Case: "skipped", Verdict: Skipped, Skip: "why"},
		{File: "b.test.yaml", Line: 1, Tool: "b.sh", Case: "passes <&>", Verdict: Passed, Result: &sandbox.Result{}},
	}
	validateJUnit(t, results, time.Now())
	// And the check can fail: a testcase without its name.
	xmllint, err := exec.LookPath("xmllint")
	sandboxtest.SkipUnlessRequired(t, "xmllint", err)
	bad := filepath.Join(t.TempDir(), "bad.xml")
	if err := os.WriteFile(bad, []byte(`<testsuites><testsuite name="x" tests="1"><testcase/></testsuite></testsuites>`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := exec.Command(xmllint, "--noout", "--schema", "testdata/jenkins-junit-4.xsd", bad).Run(); err == nil {
		t.Error("xmllint took a testcase with no name")
	}
}
