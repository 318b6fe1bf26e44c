package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func validSpec() Spec {
	return Spec{
		RunID:   "r1",
		Command: []string{"true"},
		Limits:  DefaultLimits(),
		Seccomp: &SeccompProfile{Name: "t", JSON: []byte(`{}`)},
	}
}

func TestSpecValidate(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*Spec)
		want   string // substring of the error; "" means valid
	}{
		{"valid command", func(*Spec) {}, ""},
		{"no run id", func(s *Spec) { s.RunID = "" }, "run id"},
		{"run id with a slash", func(s *Spec) { s.RunID = "../x" }, "run id"},
		{"valid tool", func(s *Spec) { s.Command = nil; s.Tool = &ToolFile{Name: "a.py"} }, ""},
		{"nothing", func(s *Spec) { s.Command = nil }, "nothing to run"},
		{"both", func(s *Spec) { s.Tool = &ToolFile{Name: "a.py"} }, "not both"},
		{"tool path", func(s *Spec) { s.Command = nil; s.Tool = &ToolFile{Name: "../a.py"} }, "tool file name"},
		{"empty command", func(s *Spec) { s.Command = []string{""} }, "empty command"},
		{"no seccomp", func(s *Spec) { s.Seccomp = nil }, "seccomp"},
		{"bad env", func(s *Spec) { s.Env = []string{"NOEQUALS"} }, "KEY=VALUE"},
		{"bad env key", func(s *Spec) { s.Env = []string{"1A=b"} }, "KEY=VALUE"},
		{"reserved env", func(s *Spec) { s.Env = []string{"HOME=/"} }, "set by the sandbox"},
		{"zero timeout", func(s *Spec) { s.Limits.Timeout = 0 }, "timeout"},
		{"tiny memory", func(s *Spec) { s.Limits.MemoryBytes = 1024 }, "memory"},
		{"no cpu", func(s *Spec) { s.Limits.CPUs = 0 }, "cpus"},
		{"one pid", func(s *Spec) { s.Limits.Pids = 1 }, "pids"},
		{"no output", func(s *Spec) { s.Limits.OutputBytes = 0 }, "output"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := validSpec()
			tt.modify(&s)
			err := s.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("want valid, got %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, ErrInvalidSpec) {
				t.Fatalf("want ErrInvalidSpec containing %q, got %v", tt.want, err)
			}
		})
	}
}

func TestLimitsWithDefaults(t *testing.T) {
	got := Limits{Timeout: time.Second}.WithDefaults()
	want := DefaultLimits()
	want.Timeout = time.Second
	if got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
}

func TestExitCodeFor(t *testing.T) {
	tests := []struct {
		status Status
		tool   int
		want   int
	}{
		{StatusOK, 0, 0}, {StatusFailed, 3, 3}, {StatusTimeout, -1, 124},
		{StatusOOM, 137, 137}, {StatusKilled, 0, 137}, {StatusBlocked, 0, 126}, {StatusError, 0, 125},
	}
	for _, tt := range tests {
		if got := ExitCodeFor(tt.status, tt.tool); got != tt.want {
			t.Errorf("ExitCodeFor(%s, %d) = %d, want %d", tt.status, tt.tool, got, tt.want)
		}
	}
}

func TestCapture(t *testing.T) {
	c := NewCapture(5)
	for _, s := range []string{"abc", "defgh", "ij"} {
		if n, err := c.Write([]byte(s)); n != len(s) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", s, n, err)
		}
	}
	out := c.Output()
	if out.String() != "abcde" || out.Size != 10 || !out.Truncated {
		t.Fatalf("got %+v", out)
	}
}

func TestOutputJSONRoundTrip(t *testing.T) {
	for _, data := range [][]byte{[]byte("héllo\n"), {0xff, 0x00, 0xfe, 'a'}, {}} {
		in := Output{Data: data, Size: int64(len(data))}
		b, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		var out Output
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatal(err)
		}
		if string(out.Data) != string(data) || out.Size != in.Size {
			t.Fatalf("round trip of %q via %s gave %q", data, b, out.Data)
		}
		binary := strings.Contains(string(b), `"binary":true`)
		if binary == utf8.Valid(data) {
			t.Fatalf("binary flag wrong in %s", b)
		}
	}
}

// Limits in JSON carry the timeout in seconds, under a key that says so.
func TestLimitsJSONNamesTheTimeoutUnit(t *testing.T) {
	l := DefaultLimits()
	l.Timeout = 1500 * time.Millisecond
	b, err := json.Marshal(l)
	if err != nil || !strings.Contains(string(b), `"timeout_seconds":1.5`) || strings.Contains(string(b), `"timeout":`) {
		t.Fatalf("%s (%v)", b, err)
	}
	var back Limits
	if err := json.Unmarshal(b, &back); err != nil || back != l {
		t.Fatalf("round trip: %+v, %v", back, err)
	}
}

// failingWriter fails every write after the first n bytes.
type failingWriter struct {
	got []byte
	n   int
}

func (w *failingWriter) Write(p []byte) (int, error) {
	if len(w.got)+len(p) > w.n {
		return 0, errors.New("gone")
	}
	w.got = append(w.got, p...)
	return len(p), nil
}

// A streaming capture passes on what it keeps, as it comes, and goes on
// capturing after the caller's writer fails.
func TestStreamingCapture(t *testing.T) {
	var streamed strings.Builder
	c := NewStreamingCapture(5, &streamed)
	for _, p := range []string{"ab", "cd", "efgh"} {
		if n, err := c.Write([]byte(p)); n != len(p) || err != nil {
			t.Fatalf("write %q: %d, %v", p, n, err)
		}
	}
	if out := c.Output(); streamed.String() != "abcde" || string(out.Data) != "abcde" || out.Size != 8 || !out.Truncated {
		t.Fatalf("streamed %q, kept %+v", streamed.String(), out)
	}
	w := &failingWriter{n: 2}
	c = NewStreamingCapture(10, w)
	for _, p := range []string{"ab", "cd", "ef"} {
		_, _ = c.Write([]byte(p))
	}
	if string(w.got) != "ab" || string(c.Output().Data) != "abcdef" {
		t.Fatalf("after the writer failed: streamed %q, kept %q", w.got, c.Output().Data)
	}
}

func TestWorkspaceFilesAreBounded(t *testing.T) {
	many := make([]File, MaxFiles+1)
	for i := range many {
		many[i] = File{Path: fmt.Sprintf("f%d", i)}
	}
	tests := []struct {
		files []File
		want  string
	}{
		{[]File{{Path: "a/b"}, {Path: "a"}}, `"a" is a file and also the directory of "a/b"`},
		{[]File{{Path: "x"}, {Path: "x"}}, "given twice"},
		{[]File{{Path: "big", Content: make([]byte, MaxFileBytes+1)}}, "bytes in all"},
		{many, "files; the limit is"},
		{[]File{{Path: "bad\x00name"}}, "NUL"},
	}
	for _, tt := range tests {
		spec := validSpec()
		spec.Files = tt.files
		if err := spec.Validate(); !errors.Is(err, ErrInvalidSpec) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("want ErrInvalidSpec with %q, got %v", tt.want, err)
		}
	}
	spec := validSpec()
	spec.Files, spec.Workspace = []File{{Path: "a"}}, "/srv/ws"
	if err := spec.Validate(); !errors.Is(err, ErrInvalidSpec) || !strings.Contains(err.Error(), "not both") {
		t.Errorf("files and a workspace dir: %v", err)
	}
}

func TestMismatch(t *testing.T) {
	shape := &Spec{Image: "img", Limits: DefaultLimits(), Seccomp: &SeccompProfile{Name: "p", JSON: []byte("{}")}}
	for _, tc := range []struct {
		change func(*Spec)
		want   string
	}{
		{func(*Spec) {}, ""},
		{func(s *Spec) { s.Limits.Timeout /= 2; s.Limits.OutputBytes = 1 }, ""},
		{func(s *Spec) { s.Tool = &ToolFile{Name: "t.py"}; s.Files = []File{{Path: "f"}} }, ""},
		{func(s *Spec) { s.Image = "other" }, MismatchImage},
		{func(s *Spec) { s.Limits.Timeout *= 2 }, MismatchLimits},
		{func(s *Spec) { s.Limits.Pids++ }, MismatchLimits},
		{func(s *Spec) { s.Limits.NoFile++ }, MismatchLimits},
		{func(s *Spec) { s.Seccomp = &SeccompProfile{Name: "p", JSON: []byte("{ }")} }, MismatchSeccomp},
		{func(s *Spec) { s.Seccomp = nil }, MismatchSeccomp},
		{func(s *Spec) { s.Output = true }, MismatchOutput},
		{func(s *Spec) { s.Workspace = "/srv/ws" }, MismatchWorkspace},
	} {
		spec := *Shape(shape)
		tc.change(&spec)
		if got := Mismatch(shape, &spec); got != tc.want {
			t.Errorf("%+v: Mismatch = %q, want %q", spec, got, tc.want)
		}
	}
}
