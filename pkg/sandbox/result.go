package sandbox

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"
)

// Status says how a run ended.
type Status string

// The statuses of a run.
const (
	// StatusOK: the tool exited with code 0.
	StatusOK Status = "ok"
	// StatusFailed: the tool exited with a non-zero code of its own.
	StatusFailed Status = "failed"
	// StatusTimeout: the wall timeout passed and the tool was killed.
	StatusTimeout Status = "timeout"
	// StatusOOM: the tool ran out of memory and was killed.
	StatusOOM Status = "oom"
	// StatusKilled: the tool was killed by a signal or a cancel.
	StatusKilled Status = "killed"
	// StatusBlocked: a policy refused the run before it started.
	StatusBlocked Status = "blocked"
	// StatusError: the sandbox itself failed.
	StatusError Status = "error"
)

// Exit codes of `sablebox run` for the statuses that are not the tool's own.
const (
	ExitTimeout = 124
	ExitError   = 125
	ExitBlocked = 126
	ExitKilled  = 137
)

// exitCodes is the exit code of each status that is not the tool's own:
// the one table of `sablebox run`'s exit codes, for results and errors.
var exitCodes = map[Status]int{
	StatusTimeout: ExitTimeout,
	StatusOOM:     ExitKilled,
	StatusKilled:  ExitKilled,
	StatusBlocked: ExitBlocked,
	StatusError:   ExitError,
}

// ExitCodeFor maps a status and the tool's own exit code to the exit code
// that `sablebox run` returns.
func ExitCodeFor(s Status, toolCode int) int {
	if s == StatusOK || s == StatusFailed {
		return toolCode
	}
	if code, ok := exitCodes[s]; ok {
		return code
	}
	return ExitError
}

// ErrorStatus is the status of a run that ended with err instead of a
// Result of its own: blocked when a policy refused it, else error.
func ErrorStatus(err error) Status {
	if errors.Is(err, ErrPolicy) {
		return StatusBlocked
	}
	return StatusError
}

// Result is how a run ended and what it printed.
type Result struct {
	// RunID names the run.
	RunID string `json:"run_id"`
	// Status says how the run ended.
	Status Status `json:"status"`
	// ExitCode is the code `sablebox run` exits with (see ExitCodeFor).
	ExitCode int `json:"exit_code"`
	// Reason explains a status other than ok and failed, in one line.
	Reason string `json:"reason,omitempty"`
	// Stdout and Stderr are what the tool printed, up to the output cap.
	Stdout Output `json:"stdout"`
	Stderr Output `json:"stderr"`
	// Duration is the wall time from start to end of the tool.
	Duration time.Duration `json:"-"`
	// CPUTime is the CPU time the tool and all it started used, where the
	// backend can tell (0: unknown); the JSON gives it as cpu_ms.
	CPUTime time.Duration `json:"-"`
	// Backend is the backend that ran the tool.
	Backend string `json:"backend"`
	// Image is the image the tool ran in, where the backend has images.
	Image string `json:"image,omitempty"`
	// Seccomp names the syscall filter applied.
	Seccomp ProfileRef `json:"seccomp"`
	// Limits are the limits the run had.
	Limits Limits `json:"limits"`
	// Degraded lists protections that could not be applied on this host,
	// or were applied differently (with how).
	Degraded []string `json:"degraded,omitempty"`
	// Files are what the tool left in OutputDir (Spec.Output): its
	// regular files, by content. The JSON lists them without content.
	Files []File `json:"-"`
	// Notes are what sablebox did to the run's output that the caller
	// should know, such as special files of /output it did not return.
	Notes []string `json:"notes,omitempty"`
	// Pool tells, for a backend with a warm pool, whether the run took a
	// warm sandbox ("hit") or started cold, and why ("miss: pool empty").
	Pool string `json:"pool,omitempty"`
	// PassedOver lists, for automatic selection, the backends tried before
	// Backend and why each could not be used ("docker: …").
	PassedOver []string `json:"passed_over,omitempty"`
	// Analysis is what the static-analysis gate made of the tool before it
	// ran (nil for a run that never reached the gate).
	Analysis *Analysis `json:"analysis,omitempty"`
}

// Analysis is the static-analysis gate's verdict on a run's tool.
type Analysis struct {
	// Mode is the gate's mode: enforce, warn or off.
	Mode string `json:"mode"`
	// FailOn is the lowest severity that refuses a run in enforce mode.
	FailOn string `json:"fail_on,omitempty"`
	// Verdict is "passed", "blocked", "warned" (findings at or above
	// FailOn, run in warn mode) or "skipped" (mode off).
	Verdict string `json:"verdict"`
	// Findings are what the scan found, of every severity.
	Findings []Finding `json:"findings,omitempty"`
	// Note says how the run bypassed the gate, when it did.
	Note string `json:"note,omitempty"`
}

// The verdicts of Analysis.
const (
	VerdictPassed  = "passed"
	VerdictBlocked = "blocked"
	VerdictWarned  = "warned"
	VerdictSkipped = "skipped"
)

// Finding is one construct the gate's rules matched in a tool.
type Finding struct {
	Rule     string `json:"rule"`
	Severity string `json:"severity"`
	Line     int    `json:"line"`
	Column   int    `json:"column"`
	Text     string `json:"text"`
	Message  string `json:"message"`
}

// NewResult starts the Result of spec run by backend, with what is known
// before the tool starts. The lifecycle and the runner's error path both
// start from it.
func NewResult(spec *Spec, backend string) *Result {
	res := &Result{RunID: spec.RunID, Backend: backend, Image: spec.Image, Limits: spec.Limits,
		PassedOver: spec.PassedOver}
	if spec.Seccomp != nil {
		res.Seccomp = ProfileRef{Name: spec.Seccomp.Name, SHA256: spec.Seccomp.SHA256()}
	}
	return res
}

// ProfileRef names a seccomp profile by name and digest.
type ProfileRef struct {
	Name   string `json:"name"`
	SHA256 string `json:"sha256"`
}

// OutputFile is one of Result.Files as the JSON lists it.
type OutputFile struct {
	Path       string `json:"path"`
	Bytes      int    `json:"bytes"`
	Executable bool   `json:"executable,omitempty"`
}

// MarshalJSON adds the duration in milliseconds and lists the output files.
func (r Result) MarshalJSON() ([]byte, error) {
	type plain Result
	var files []OutputFile
	for _, f := range r.Files {
		files = append(files, OutputFile{Path: f.Path, Bytes: len(f.Content), Executable: f.Executable})
	}
	var cpu *float64
	if r.CPUTime > 0 {
		ms := float64(r.CPUTime.Microseconds()) / 1000
		cpu = &ms
	}
	return json.Marshal(struct {
		plain
		DurationMS float64      `json:"duration_ms"`
		CPUMS      *float64     `json:"cpu_ms,omitempty"`
		Files      []OutputFile `json:"files,omitempty"`
	}{plain(r), float64(r.Duration.Microseconds()) / 1000, cpu, files})
}

// Finish sets Status and ExitCode from the tool's exit code, unless a
// status was already decided (timeout, oom, killed).
func (r *Result) Finish(toolCode int) {
	if r.Status == "" {
		r.Status = StatusOK
		if toolCode != 0 {
			r.Status = StatusFailed
		}
	}
	r.ExitCode = ExitCodeFor(r.Status, toolCode)
}

// UnmarshalJSON reads what MarshalJSON wrote. The files come back as
// their paths alone (Content nil): a client fetches their bytes apart.
func (r *Result) UnmarshalJSON(b []byte) error {
	type plain Result
	var in struct {
		plain
		DurationMS float64      `json:"duration_ms"`
		CPUMS      float64      `json:"cpu_ms"`
		Files      []OutputFile `json:"files"`
	}
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	*r = Result(in.plain)
	r.Duration = time.Duration(in.DurationMS * float64(time.Millisecond))
	r.CPUTime = time.Duration(in.CPUMS * float64(time.Millisecond))
	for _, f := range in.Files {
		r.Files = append(r.Files, File{Path: f.Path, Executable: f.Executable})
	}
	return nil
}

// Output is one captured stream.
type Output struct {
	// Data holds the first bytes of the stream, unchanged.
	Data []byte
	// Size is how many bytes the tool wrote in all.
	Size int64
	// Truncated is true when Size exceeds len(Data).
	Truncated bool
}

// String returns the kept bytes as a string.
func (o Output) String() string { return string(o.Data) }

// MarshalJSON writes valid UTF-8 as text and anything else as base64 with
// "binary": true, so that no byte is lost or altered.
func (o Output) MarshalJSON() ([]byte, error) {
	out := struct {
		Text      *string `json:"text,omitempty"`
		Base64    *string `json:"base64,omitempty"`
		Binary    bool    `json:"binary"`
		Bytes     int64   `json:"bytes"`
		Truncated bool    `json:"truncated"`
	}{Bytes: o.Size, Truncated: o.Truncated}
	if utf8.Valid(o.Data) {
		s := string(o.Data)
		out.Text = &s
	} else {
		s := base64.StdEncoding.EncodeToString(o.Data)
		out.Base64, out.Binary = &s, true
	}
	return json.Marshal(out)
}

// UnmarshalJSON reads what MarshalJSON wrote.
func (o *Output) UnmarshalJSON(b []byte) error {
	var in struct {
		Text      string `json:"text"`
		Base64    string `json:"base64"`
		Binary    bool   `json:"binary"`
		Bytes     int64  `json:"bytes"`
		Truncated bool   `json:"truncated"`
	}
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	o.Size, o.Truncated, o.Data = in.Bytes, in.Truncated, []byte(in.Text)
	if in.Binary {
		data, err := base64.StdEncoding.DecodeString(in.Base64)
		if err != nil {
			return fmt.Errorf("output base64: %w", err)
		}
		o.Data = data
	}
	return nil
}

// Capture is an io.Writer that keeps the first Max bytes written to it and
// counts the rest, so that a flood of output costs no memory. It never
// fails, so the stream feeding it is always drained to the end. What it
// keeps it also passes on, as it comes, to a writer of the caller's.
type Capture struct {
	max     int64
	data    []byte
	size    int64
	forward io.Writer // nil, or dropped after its first error
}

// NewCapture returns a Capture that keeps at most max bytes.
func NewCapture(max int64) *Capture { return &Capture{max: max} }

// NewStreamingCapture returns a Capture that keeps at most max bytes and
// writes them to w as they arrive (nil w: none). w is called on the
// goroutine that drains the stream, so the tool waits while w does; after
// w's first error (or panic) nothing more is written to it, and the
// capture goes on.
func NewStreamingCapture(max int64, w io.Writer) *Capture { return &Capture{max: max, forward: w} }

// Write keeps what fits under the cap and discards the rest.
func (c *Capture) Write(p []byte) (int, error) {
	if room := c.max - int64(len(c.data)); room > 0 {
		keep := p
		if int64(len(keep)) > room {
			keep = keep[:room]
		}
		c.data = append(c.data, keep...)
		c.pass(keep)
	}
	c.size += int64(len(p))
	return len(p), nil
}

// pass writes p to the caller's writer, which is dropped after its first
// error or panic: a broken writer ends the streaming, never the run (it is
// called on a goroutine the caller cannot recover).
func (c *Capture) pass(p []byte) {
	if c.forward == nil {
		return
	}
	defer func() {
		if recover() != nil {
			c.forward = nil
		}
	}()
	if _, err := c.forward.Write(p); err != nil {
		c.forward = nil
	}
}

// Output returns what was captured.
func (c *Capture) Output() Output {
	return Output{Data: c.data, Size: c.size, Truncated: c.size > int64(len(c.data))}
}

// LastLine is b's last non-empty line, cut after 200 bytes: what a report
// quotes of a tool's output; "(no output)" when there is none.
func LastLine(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	last := lines[len(lines)-1]
	if len(last) > 200 {
		last = last[:200] + "…"
	}
	if last == "" {
		return "(no output)"
	}
	return last
}
