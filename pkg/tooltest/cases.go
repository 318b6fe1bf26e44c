// Package tooltest runs a tool's test cases, each in a fresh sandbox
// through the Runner, and reports them as a test runner does (a summary,
// JSON, JUnit XML): `sablebox test`. Cases live in a case file next to
// the tool, NAME.test.yaml, whose form case.schema.json describes.
package tooltest

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/docker/go-units"
	"gopkg.in/yaml.v3"

	"github.com/sablebox/sablebox/pkg/runner"
	"github.com/sablebox/sablebox/pkg/sandbox"
)

// Suffix ends the name of a case file.
const Suffix = ".test.yaml"

// MaxCaseFileBytes bounds a case file.
const MaxCaseFileBytes = 1 << 20

// Schema is the JSON Schema of a case file.
//
//go:embed case.schema.json
var Schema []byte

// File is one case file: the tool it tests and its cases.
type File struct {
	// Path is the case file's path as given.
	Path string `yaml:"-"`
	// Tool is the tool file, relative to the case file's directory; by
	// default the one file beside it named as the case file is, with a
	// .py, .sh or .bash extension.
	Tool string `yaml:"tool"`
	// Lang overrides the tool's language (sandbox.Langs).
	Lang  string  `yaml:"lang"`
	Cases []*Case `yaml:"cases"`
	// tool is the tool file, read once for all the cases.
	tool *sandbox.ToolFile
}

// Case is one test of a tool: a run and what it must give.
type Case struct {
	Name string `yaml:"name"`
	// Line is where the case starts in its file.
	Line int `yaml:"-"`
	// Skip, when set, skips the case and says why.
	Skip string   `yaml:"skip"`
	Args []string `yaml:"args"`
	// Stdin is the tool's input; StdinFile reads it from a file relative
	// to the case file.
	Stdin     *string `yaml:"stdin"`
	StdinFile string  `yaml:"stdin_file"`
	// Env holds variables for the tool.
	Env map[string]string `yaml:"env"`
	// Files are put into /workspace, by path, with this content.
	Files map[string]string `yaml:"files"`
	// Workspace is a directory relative to the case file, mounted
	// read-only at /workspace.
	Workspace string `yaml:"workspace"`
	Limits    Limits `yaml:"limits"`
	Expect    Expect `yaml:"expect"`
}

// Limits are a case's limits; what is unset takes the run's.
type Limits struct {
	Timeout Duration `yaml:"timeout"`
	Memory  Size     `yaml:"memory"`
	CPUs    float64  `yaml:"cpus"`
	Pids    int64    `yaml:"pids"`
	Output  Size     `yaml:"output"`
}

// Expect is what a case's run must give; what is unset is not checked,
// except that a case with no status and no exit expects status ok.
type Expect struct {
	Status Status `yaml:"status"`
	Exit   *int   `yaml:"exit"`
	Stdout *Match `yaml:"stdout"`
	Stderr *Match `yaml:"stderr"`
	// Files are files the tool must leave in /output, by path.
	Files map[string]*Match `yaml:"files"`
	// Checker is a script (Python or shell, relative to the case file)
	// that judges the run, itself sandboxed: /workspace holds stdout,
	// stderr, result.json and output/ with what the tool left in
	// /output; exit 0 passes the case.
	Checker string `yaml:"checker"`
}

// Match is what an output must be: a plain string is the exact text.
type Match struct {
	Equals   *string  `yaml:"equals"`
	Contains []string `yaml:"contains"`
	Regexp   *Regexp  `yaml:"regexp"`
	// JSON is a value the output, parsed as JSON, must equal.
	JSON any `yaml:"json"`
}

// UnmarshalYAML takes a string as the exact text, or the mapping.
func (m *Match) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		var s string
		if err := n.Decode(&s); err != nil {
			return err
		}
		m.Equals = &s
		return nil
	}
	type plain Match
	var p plain
	if err := strictDecode(n, &p); err != nil {
		return err
	}
	if p.Equals == nil && p.Contains == nil && p.Regexp == nil && p.JSON == nil {
		return lineError(n, "a match needs one of equals, contains, regexp, json")
	}
	*m = Match(p)
	return nil
}

// Status is an expected run status.
type Status string

// Statuses a case may expect.
var Statuses = []string{string(sandbox.StatusOK), string(sandbox.StatusFailed), string(sandbox.StatusTimeout),
	string(sandbox.StatusOOM), string(sandbox.StatusKilled), string(sandbox.StatusBlocked), string(sandbox.StatusError)}

// UnmarshalYAML accepts the statuses a run can end with.
func (s *Status) UnmarshalYAML(n *yaml.Node) error {
	if !slices.Contains(Statuses, n.Value) || n.Kind != yaml.ScalarNode {
		return lineError(n, "status %q: want one of %s", n.Value, strings.Join(Statuses, ", "))
	}
	*s = Status(n.Value)
	return nil
}

// Duration is a positive duration with a unit.
type Duration time.Duration

// UnmarshalYAML parses 30s, 2m.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil || v <= 0 {
		return lineError(n, "timeout %q: want a positive duration with a unit, such as 10s", n.Value)
	}
	*d = Duration(v)
	return nil
}

// Size is a size in bytes, written as 64m or 1g.
type Size int64

// UnmarshalYAML parses a size.
func (s *Size) UnmarshalYAML(n *yaml.Node) error {
	v, err := units.RAMInBytes(n.Value)
	if err != nil || v <= 0 {
		return lineError(n, "size %q: want a positive size, such as 64m or 1g", n.Value)
	}
	*s = Size(v)
	return nil
}

// Regexp is a compiled regular expression (Go's syntax).
type Regexp struct{ *regexp.Regexp }

// UnmarshalYAML compiles the expression.
func (r *Regexp) UnmarshalYAML(n *yaml.Node) error {
	re, err := regexp.Compile(n.Value)
	if err != nil {
		return lineError(n, "regexp %q: %v", n.Value, err)
	}
	r.Regexp = re
	return nil
}

// positionError is a fault in a case file at a line.
type positionError struct {
	line int
	msg  string
}

func (e *positionError) Error() string { return fmt.Sprintf("line %d: %s", e.line, e.msg) }

func lineError(n *yaml.Node, format string, args ...any) error {
	return &positionError{line: n.Line, msg: fmt.Sprintf(format, args...)}
}

// strictDecode decodes n into v, refusing fields v does not have.
func strictDecode(n *yaml.Node, v any) error {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	if err := enc.Encode(n); err != nil {
		return err
	}
	dec := yaml.NewDecoder(&buf)
	dec.KnownFields(true)
	err := dec.Decode(v)
	var te *yaml.TypeError
	if errors.As(err, &te) {
		// Lines count from n: re-encoding starts them at 1.
		msgs := make([]string, len(te.Errors))
		for i, m := range te.Errors {
			msgs[i] = shiftLine(m, n.Line-1)
		}
		return errors.New(strings.Join(msgs, "; "))
	}
	var pe *positionError
	if errors.As(err, &pe) {
		return &positionError{line: pe.line + n.Line - 1, msg: pe.msg}
	}
	return err
}

var lineRE = regexp.MustCompile(`^line (\d+): `)

// shiftLine moves yaml's "line N: …" by delta.
func shiftLine(msg string, delta int) string {
	m := lineRE.FindStringSubmatch(msg)
	if m == nil {
		return msg
	}
	var n int
	fmt.Sscan(m[1], &n)
	return fmt.Sprintf("line %d: %s", n+delta, msg[len(m[0]):])
}

// Load reads and checks the case file at path: every fault is named
// with the file, its line and the field.
func Load(path string) (*File, error) {
	fail := func(err error) (*File, error) {
		return nil, fmt.Errorf("%w: %s:%v", sandbox.ErrInvalidSpec, path, err)
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("%w: case file: %v", sandbox.ErrInvalidSpec, err)
	}
	if !st.Mode().IsRegular() || st.Size() > MaxCaseFileBytes {
		return nil, fmt.Errorf("%w: case file %s: want a regular file of at most %d bytes", sandbox.ErrInvalidSpec, path, MaxCaseFileBytes)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: case file: %v", sandbox.ErrInvalidSpec, err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return fail(fmt.Errorf(" %s", strings.TrimPrefix(err.Error(), "yaml: ")))
	}
	if len(doc.Content) == 0 {
		return fail(fmt.Errorf("1: empty: want a mapping with cases (see sablebox test --help)"))
	}
	f := &File{Path: path}
	if err := strictDecode(doc.Content[0], f); err != nil {
		return fail(fmt.Errorf("%s", strings.TrimPrefix(strings.TrimPrefix(err.Error(), "line "), "yaml: ")))
	}
	if len(f.Cases) == 0 {
		return fail(fmt.Errorf("%d: cases: want at least one case", doc.Content[0].Line))
	}
	casesNode := mappingValue(doc.Content[0], "cases")
	names := map[string]int{}
	for i, c := range f.Cases {
		line := casesNode.Content[i].Line
		c.Line = line
		bad := func(format string, args ...any) (*File, error) {
			return fail(fmt.Errorf("%d: cases[%d]: %s", line, i, fmt.Sprintf(format, args...)))
		}
		if c == nil {
			return bad("empty case")
		}
		if strings.TrimSpace(c.Name) == "" {
			return bad("name: every case needs a name")
		}
		if prev, dup := names[c.Name]; dup {
			return bad("name %q: also the name of the case at line %d", c.Name, prev)
		}
		names[c.Name] = line
		if c.Stdin != nil && c.StdinFile != "" {
			return bad("stdin and stdin_file: give one")
		}
		if c.Workspace != "" && len(c.Files) > 0 {
			return bad("workspace and files: give one")
		}
		for k := range c.Env {
			if k == "" || strings.ContainsAny(k, "=\x00") {
				return bad("env %q: not a variable name", k)
			}
		}
		for p := range c.Files {
			if err := checkRelPath(p); err != nil {
				return bad("files %q: %v", p, err)
			}
		}
		for p := range c.Expect.Files {
			if err := checkRelPath(p); err != nil {
				return bad("expect.files %q: %v", p, err)
			}
		}
		for what, rel := range map[string]string{"stdin_file": c.StdinFile, "workspace": c.Workspace, "expect.checker": c.Expect.Checker} {
			if rel != "" && filepath.IsAbs(rel) {
				return bad("%s %q: want a path relative to the case file", what, rel)
			}
		}
	}
	if f.Lang != "" && !slices.Contains(sandbox.Langs, f.Lang) {
		return fail(fmt.Errorf("%d: lang %q: want one of %s", mappingValue(doc.Content[0], "lang").Line, f.Lang, strings.Join(sandbox.Langs, ", ")))
	}
	if f.Tool == "" {
		if f.Tool, err = defaultTool(path); err != nil {
			return fail(fmt.Errorf("%d: tool: %v", doc.Content[0].Line, err))
		}
	} else if st, err := os.Stat(filepath.Join(f.Dir(), f.Tool)); err != nil || !st.Mode().IsRegular() {
		return fail(fmt.Errorf("%d: tool %q: no such file beside the case file", mappingValue(doc.Content[0], "tool").Line, f.Tool))
	}
	if f.tool, err = runner.ReadTool(filepath.Join(f.Dir(), f.Tool), f.Lang); err != nil {
		return fail(fmt.Errorf("%d: tool %q: %v", mappingValue(doc.Content[0], "tool").Line, f.Tool, err))
	}
	return f, nil
}

// mappingValue is the value node of key in mapping n (n itself when
// there is none, for its line).
func mappingValue(n *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return n
}

// defaultTool is the one tool file beside the case file at path that
// bears its name.
func defaultTool(path string) (string, error) {
	stem := strings.TrimSuffix(filepath.Base(path), Suffix)
	var found []string
	for _, ext := range []string{".py", ".sh", ".bash"} {
		if st, err := os.Stat(filepath.Join(filepath.Dir(path), stem+ext)); err == nil && st.Mode().IsRegular() {
			found = append(found, stem+ext)
		}
	}
	switch len(found) {
	case 0:
		return "", fmt.Errorf("no %s.py, .sh or .bash beside the case file: name the tool (tool: FILE)", stem)
	case 1:
		return found[0], nil
	}
	return "", fmt.Errorf("%s are all beside the case file: name the tool (tool: FILE)", strings.Join(found, ", "))
}

// checkRelPath accepts a clean relative path with no "..".
func checkRelPath(p string) error {
	if !fs.ValidPath(p) || p == "." {
		return errors.New(`want a clean relative path with no ".."`)
	}
	return nil
}

// Dir is the directory the file's relative paths start from.
func (f *File) Dir() string { return filepath.Dir(f.Path) }
