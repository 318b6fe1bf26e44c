package tooltest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"

	"github.com/sablebox/sablebox/pkg/sandbox"
)

// check lists what of c's expectations res does not meet.
func check(c *Case, res *sandbox.Result, findings []Location) []string {
	var failures []string
	e := c.Expect
	want := string(e.Status)
	if want == "" && e.Exit == nil {
		want = string(sandbox.StatusOK)
	}
	if want != "" && string(res.Status) != want {
		why := res.Reason
		if why == "" && res.Status == sandbox.StatusFailed {
			why = "stderr: " + sandbox.LastLine(res.Stderr.Data)
		}
		msg := fmt.Sprintf("status %s, want %s", res.Status, want)
		if why != "" {
			msg += ": " + why
		}
		failures = append(failures, msg)
		if res.Status == sandbox.StatusBlocked {
			for _, l := range findings {
				failures = append(failures, fmt.Sprintf("%s:%d:%d: %s [%s] %s", l.File, l.Line, l.Column, l.Level, l.Rule, l.Message))
			}
		}
	}
	finished := res.Status == sandbox.StatusOK || res.Status == sandbox.StatusFailed
	if e.Exit != nil && (!finished || res.ExitCode != *e.Exit) {
		failures = append(failures, fmt.Sprintf("exit %d (%s), want %d", res.ExitCode, res.Status, *e.Exit))
	}
	failures = append(failures, e.Stdout.check("stdout", res.Stdout)...)
	failures = append(failures, e.Stderr.check("stderr", res.Stderr)...)
	for _, p := range sortedKeys(e.Files) {
		got, ok := outputFile(res, p)
		if !ok {
			failures = append(failures, fmt.Sprintf("/output/%s: not there (the tool left %s)", p, outputList(res)))
			continue
		}
		failures = append(failures, e.Files[p].check("/output/"+p, sandbox.Output{Data: got, Size: int64(len(got))})...)
	}
	return failures
}

// check lists how out fails m (nil m: nothing to check).
func (m *Match) check(what string, out sandbox.Output) []string {
	if m == nil {
		return nil
	}
	var failures []string
	got := out.Data
	if out.Truncated && (m.Equals != nil || m.JSON != nil) {
		failures = append(failures, fmt.Sprintf("%s was cut at %d of %d bytes: raise limits.output", what, len(got), out.Size))
	}
	if m.Equals != nil && string(got) != *m.Equals {
		failures = append(failures, fmt.Sprintf("%s: want %s, got %s", what, quote([]byte(*m.Equals)), quote(got)))
	}
	for _, s := range m.Contains {
		if !bytes.Contains(got, []byte(s)) {
			failures = append(failures, fmt.Sprintf("%s does not contain %q: got %s", what, s, quote(got)))
		}
	}
	if m.Regexp != nil && !m.Regexp.Match(got) {
		failures = append(failures, fmt.Sprintf("%s does not match /%s/: got %s", what, m.Regexp, quote(got)))
	}
	if m.JSON != nil {
		var have any
		if err := json.Unmarshal(got, &have); err != nil {
			failures = append(failures, fmt.Sprintf("%s is not JSON (%v): got %s", what, err, quote(got)))
		} else if wantJSON, err := normalJSON(m.JSON); err != nil {
			failures = append(failures, fmt.Sprintf("%s: the expected value: %v", what, err))
		} else if !reflect.DeepEqual(have, wantJSON) {
			w, _ := json.Marshal(wantJSON)
			failures = append(failures, fmt.Sprintf("%s: want the JSON %s, got %s", what, w, quote(got)))
		}
	}
	return failures
}

// normalJSON is v as encoding/json decodes it (numbers float64, maps
// map[string]any), so that it compares with a decoded output.
func normalJSON(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var out any
	return out, json.Unmarshal(b, &out)
}

func outputFile(res *sandbox.Result, path string) ([]byte, bool) {
	for _, f := range res.Files {
		if f.Path == path {
			return f.Content, true
		}
	}
	return nil, false
}

func outputList(res *sandbox.Result) string {
	if len(res.Files) == 0 {
		return "none"
	}
	var names []string
	for _, f := range res.Files {
		names = append(names, f.Path)
	}
	return strings.Join(names, ", ")
}

// quote shows b in a failure: quoted, and cut after 200 bytes.
func quote(b []byte) string {
	if len(b) > 200 {
		return fmt.Sprintf("%q… (%d bytes)", b[:200], len(b))
	}
	return fmt.Sprintf("%q", b)
}
