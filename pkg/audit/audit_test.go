package audit

import (
	"bufio"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sablebox/sablebox/pkg/sandbox"
)

func TestAppendWritesOneLinePerRun(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	log, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	spec := &sandbox.Spec{RunID: "r1", Tool: &sandbox.ToolFile{Name: "t.py", Content: []byte("x")},
		Limits: sandbox.DefaultLimits(), Seccomp: &sandbox.SeccompProfile{Name: "default", JSON: []byte("{}")}}
	res := &sandbox.Result{Backend: "docker", Status: sandbox.StatusOK, Stdout: sandbox.Output{Size: 3}}
	for _, rec := range []Record{NewRecord(spec, res, nil), NewRecord(spec, nil, errors.New("boom"))} {
		if err := log.Append(rec); err != nil {
			t.Fatal(err)
		}
	}
	if err := log.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var recs []Record
	for sc := bufio.NewScanner(f); sc.Scan(); {
		var r Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		recs = append(recs, r)
	}
	if len(recs) != 2 || recs[0].ToolSHA256 != spec.Tool.SHA256() || recs[0].StdoutBytes != 3 || recs[1].Error != "boom" {
		t.Fatalf("records: %+v", recs)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Fatalf("audit file mode %v, want 0600", st.Mode().Perm())
	}
}

// A command's whole argv is kept, bounded in count and length.
func TestRecordKeepsTheArgvBounded(t *testing.T) {
	spec := &sandbox.Spec{RunID: "r", Command: []string{"python3"}, Args: []string{"-c", "print(1)"}}
	if got := NewRecord(spec, nil, nil).Command; !slices.Equal(got, []string{"python3", "-c", "print(1)"}) {
		t.Fatalf("command %q", got)
	}
	long := strings.Repeat("x", MaxArgBytes+10)
	many := make([]string, MaxArgs+5)
	got := Bounded(append([]string{long}, many...))
	if len(got) != MaxArgs+1 || got[0] != strings.Repeat("x", MaxArgBytes)+"…[10 more bytes]" || got[MaxArgs] != "…[6 more args]" {
		t.Fatalf("bounded: %d entries, first %q, last %q", len(got), got[0], got[len(got)-1])
	}
	tool := &sandbox.Spec{RunID: "r", Tool: &sandbox.ToolFile{Name: "t.py"}, Args: []string{"--top", "3"}}
	if rec := NewRecord(tool, nil, nil); !slices.Equal(rec.Args, []string{"--top", "3"}) || rec.Command != nil {
		t.Fatalf("tool record args %q command %q", rec.Args, rec.Command)
	}
}
