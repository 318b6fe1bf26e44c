package analysis

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Each file in testdata says on its first line which rules must find
// something in it ("# want: rule rule"; none for a good file): a bad file
// must be caught by exactly those rules, a good one by none.
func TestPythonCases(t *testing.T) {
	checkCases(t, "testdata/python/*.py", 60, func(src []byte) ([]Finding, error) {
		return ScanPython(context.Background(), src, Options{})
	})
}

func TestShellCases(t *testing.T) {
	checkCases(t, "testdata/shell/*.sh", 20, func(src []byte) ([]Finding, error) {
		return ScanShell(context.Background(), src, Options{})
	})
}

func checkCases(t *testing.T, glob string, least int, scan func([]byte) ([]Finding, error)) {
	files, err := filepath.Glob(glob)
	if err != nil || len(files) < least {
		t.Fatalf("%d cases in %s, want at least %d: %v", len(files), glob, least, err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			src, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			first, _, _ := strings.Cut(string(src), "\n")
			spec, ok := strings.CutPrefix(first, "# want:")
			if !ok {
				t.Fatalf("first line %q: want `# want: RULE...`", first)
			}
			want := strings.Fields(spec)
			if strings.HasPrefix(filepath.Base(file), "bad_") == (len(want) == 0) {
				t.Fatalf("a bad_ case names the rules that catch it, a good_ case none: %q", first)
			}
			findings, err := scan(src)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range findings {
				if !slices.Contains(got, f.Rule) {
					got = append(got, f.Rule)
				}
			}
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("rules %v, want %v; findings:\n%v", got, want, findings)
			}
		})
	}
}

// An import outside the allowlist is a finding; the config's list
// replaces the default one.
func TestPythonImportAllowlist(t *testing.T) {
	src := []byte("import json\nimport numpy as np\nfrom yaml import safe_load\nfrom . import sibling\n")
	findings, err := ScanPython(context.Background(), src, Options{})
	if err != nil || len(findings) != 2 || findings[0].Rule != "py.import.not-allowed" || findings[1].Line != 3 {
		t.Fatalf("%v %v", findings, err)
	}
	findings, err = ScanPython(context.Background(), src, Options{Imports: []string{"numpy", "yaml"}})
	if err != nil || len(findings) != 1 || !strings.Contains(findings[0].Text, "json") {
		t.Fatalf("with numpy and yaml allowed: %v %v", findings, err)
	}
}

// A finding has the position of what it matched.
func TestPythonFindingPosition(t *testing.T) {
	findings, err := ScanPython(context.Background(), []byte("import os\n\nx = 1; os.system('id')\n"), Options{})
	if err != nil || len(findings) != 1 {
		t.Fatalf("%v %v", findings, err)
	}
	f := findings[0]
	if f.Line != 3 || f.Column != 8 || f.Text != "os.system('id')" || f.Severity != Critical {
		t.Fatalf("%+v", f)
	}
}

// The example tools are clean, except the escape example, which the
// gate must catch.
func TestPythonExamples(t *testing.T) {
	files, _ := filepath.Glob("../../examples/python/*.py")
	files = append(files, "../../examples/wordcount.py", "../../examples/escape.py")
	for _, file := range files {
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		findings, err := ScanPython(context.Background(), src, Options{})
		if err != nil {
			t.Fatal(err)
		}
		bad := filepath.Base(file) == "escape.py"
		if bad != (len(findings) > 0) {
			t.Errorf("%s: %d findings, want them only in the escape example:\n%v", file, len(findings), findings)
		}
	}
}

// The scanner never panics or hangs, whatever the bytes.
func FuzzScanPython(f *testing.F) {
	files, _ := filepath.Glob("testdata/python/*.py")
	for _, file := range files {
		if src, err := os.ReadFile(file); err == nil {
			f.Add(src)
		}
	}
	f.Add([]byte("\x00\xff(((("))
	f.Fuzz(func(t *testing.T, src []byte) {
		findings := withinTime(t, func() ([]Finding, error) { return ScanPython(context.Background(), src, Options{}) })
		checkFindings(t, src, findings)
	})
}

// fuzzBudget is how long one fuzz input may take to scan: a scan that
// takes longer is a hang.
const fuzzBudget = 3 * time.Second

// withinTime runs scan, failing t when it takes longer than fuzzBudget;
// an error is allowed (a shell script that does not parse) but must say
// something.
func withinTime(t *testing.T, scan func() ([]Finding, error)) []Finding {
	t.Helper()
	type out struct {
		findings []Finding
		err      error
	}
	done := make(chan out, 1)
	go func() {
		f, err := scan()
		done <- out{f, err}
	}()
	select {
	case o := <-done:
		if o.err != nil && o.err.Error() == "" {
			t.Fatal("an error with no message")
		}
		return o.findings
	case <-time.After(fuzzBudget):
		t.Fatalf("the scan took more than %s", fuzzBudget)
		return nil
	}
}

// checkFindings checks what every finding must be: a known rule, a
// position inside the file, one line of text.
func checkFindings(t *testing.T, src []byte, findings []Finding) {
	t.Helper()
	lines := strings.Count(string(src), "\n") + 1
	for _, f := range findings {
		if _, ok := catalogue[f.Rule]; !ok || f.Line < 1 || f.Line > lines || f.Column < 1 || strings.Contains(f.Text, "\n") {
			t.Fatalf("bad finding %+v in a file of %d lines", f, lines)
		}
	}
}

// bigPython is a 10,000-line tool of ordinary code with a few findings.
func bigPython() []byte {
	var b strings.Builder
	b.WriteString("import os, json\nimport subprocess as sp\n")
	for i := 2; i < 10000; i++ {
		switch i % 5 {
		case 0:
			b.WriteString("def f" + strconv.Itoa(i) + "(x):\n")
		case 1:
			b.WriteString("    y = json.dumps({'a': x, 'b': [1, 2, 3]})  # a comment with eval(\n")
		case 2:
			b.WriteString("    open('/tmp/out', 'w').write(y)\n")
		case 3:
			b.WriteString("    return os.path.join('/workspace', str(x))\n")
		default:
			b.WriteString("sp.run(['true']) if False else None\n")
		}
	}
	return []byte(b.String())
}

// BenchmarkParsePython10kLines is tree-sitter's share of the scan: the
// parse, and the tree flattened for the rules.
func BenchmarkParsePython10kLines(b *testing.B) {
	src := bigPython()
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		if _, err := parse(pythonGrammar, src, MaxParseTime); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkScanPython10kLines(b *testing.B) {
	src := bigPython()
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		if _, err := ScanPython(context.Background(), src, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// Every rule in the catalogue is caught by a case in testdata, and every
// finding names a rule of the catalogue.
func TestEveryRuleHasACase(t *testing.T) {
	seen := map[string]bool{}
	for glob, lang := range map[string]string{"testdata/python/*.py": LangPython, "testdata/shell/*.sh": LangBash} {
		files, _ := filepath.Glob(glob)
		for _, file := range files {
			src, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			findings, _ := Scan(context.Background(), lang, src, Options{})
			for _, f := range findings {
				seen[f.Rule] = true
			}
		}
	}
	known := map[string]bool{}
	for _, r := range Rules() {
		known[r.ID] = true
		if !seen[r.ID] {
			t.Errorf("rule %s has no case in testdata", r.ID)
		}
	}
	for id := range seen {
		if !known[id] {
			t.Errorf("rule %s is not in the catalogue", id)
		}
	}
}

// tool200 is a 200-line tool: the example tools, one after another.
func tool200(tb testing.TB) []byte {
	files, _ := filepath.Glob("../../examples/python/*.py")
	var lines []string
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		lines = append(lines, strings.Split(strings.TrimRight(string(src), "\n"), "\n")...)
	}
	if len(lines) < 200 {
		tb.Fatalf("the examples have %d lines, not 200", len(lines))
	}
	return []byte(strings.Join(lines[:200], "\n") + "\n")
}

// BenchmarkGate200Lines is the gate's cost for a 200-line tool it has not
// seen (target: under 2 ms, the gate's share of a warm run) and for one
// it has (a tool run again: its verdict is remembered by content).
func BenchmarkGate200Lines(b *testing.B) {
	src := tool200(b)
	b.Run("first", func(b *testing.B) {
		for b.Loop() {
			if v := NewGate(Policy{}).Check(context.Background(), Subject{Lang: LangPython, Source: src}); v.Err != nil || v.Refuses() {
				b.Fatal(v.Err, v.Findings)
			}
		}
	})
	b.Run("seen", func(b *testing.B) {
		g := NewGate(Policy{})
		for b.Loop() {
			if v := g.Check(context.Background(), Subject{Lang: LangPython, Source: src}); v.Err != nil || v.Refuses() {
				b.Fatal(v.Err, v.Findings)
			}
		}
	})
}
