package analysis

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Each file in testdata/python says on its first line which rules must
// find something in it ("# want: rule rule"; none for a good file): a
// bad file must be caught by exactly those rules, a good one by none.
func TestPythonCases(t *testing.T) {
	files, err := filepath.Glob("testdata/python/*.py")
	if err != nil || len(files) == 0 {
		t.Fatalf("no cases: %v", err)
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
			findings, err := ScanPython(src)
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

// A finding has the position of what it matched.
func TestPythonFindingPosition(t *testing.T) {
	findings, err := ScanPython([]byte("import os\n\nx = 1; os.system('id')\n"))
	if err != nil || len(findings) != 1 {
		t.Fatalf("%v %v", findings, err)
	}
	f := findings[0]
	if f.Line != 3 || f.Column != 8 || f.Text != "os.system('id')" || f.Severity != Critical {
		t.Fatalf("%+v", f)
	}
}
