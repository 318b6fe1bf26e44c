// Package audit appends one JSON record per run to an audit file, so that
// every tool run can be traced afterwards: what ran (by digest), where,
// under which limits and profile, and how it ended.
package audit

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/sablebox/sablebox/pkg/sandbox"
)

// Record is one run in the audit file.
type Record struct {
	Time          time.Time      `json:"time"`
	RunID         string         `json:"run_id"`
	Caller        string         `json:"caller,omitempty"`
	Tool          string         `json:"tool,omitempty"`
	ToolSHA256    string         `json:"tool_sha256,omitempty"`
	Command       []string       `json:"command,omitempty"`
	Args          []string       `json:"args,omitempty"`
	Backend       string         `json:"backend"`
	Image         string         `json:"image,omitempty"`
	Limits        sandbox.Limits `json:"limits"`
	Seccomp       string         `json:"seccomp_profile"`
	SeccompSHA256 string         `json:"seccomp_sha256"`
	Status        sandbox.Status `json:"status"`
	ExitCode      int            `json:"exit_code"`
	DurationMS    float64        `json:"duration_ms"`
	StdoutBytes   int64          `json:"stdout_bytes"`
	StderrBytes   int64          `json:"stderr_bytes"`
	Truncated     bool           `json:"truncated"`
	Degraded      []string       `json:"degraded,omitempty"`
	PassedOver    []string       `json:"passed_over,omitempty"`
	// Analysis is the static-analysis gate's verdict, with its findings.
	Analysis *sandbox.Analysis `json:"analysis,omitempty"`
	Error    string            `json:"error,omitempty"`
}

// NewRecord describes a finished run of spec that gave res and err.
func NewRecord(spec *sandbox.Spec, res *sandbox.Result, err error) Record {
	rec := Record{
		Time: time.Now().UTC(), RunID: spec.RunID, Image: spec.Image, Limits: spec.Limits,
	}
	if spec.Tool != nil {
		rec.Tool, rec.ToolSHA256 = spec.Tool.Name, spec.Tool.SHA256()
		rec.Args = Bounded(spec.Args)
	} else if len(spec.Command) > 0 {
		rec.Command = Bounded(append(append([]string{}, spec.Command...), spec.Args...))
	}
	if spec.Seccomp != nil {
		rec.Seccomp, rec.SeccompSHA256 = spec.Seccomp.Name, spec.Seccomp.SHA256()
	}
	if res != nil {
		rec.Backend, rec.Status, rec.ExitCode = res.Backend, res.Status, res.ExitCode
		rec.DurationMS = float64(res.Duration.Microseconds()) / 1000
		rec.StdoutBytes, rec.StderrBytes = res.Stdout.Size, res.Stderr.Size
		rec.Truncated = res.Stdout.Truncated || res.Stderr.Truncated
		rec.Degraded, rec.PassedOver, rec.Analysis = res.Degraded, res.PassedOver, res.Analysis
	}
	if err != nil {
		rec.Error = err.Error()
	}
	return rec
}

// Bounds of the argv an audit record keeps, so that a huge command line
// cannot make a huge record.
const (
	MaxArgs     = 64
	MaxArgBytes = 256
)

// Bounded returns argv with at most MaxArgs entries of at most MaxArgBytes
// bytes each; what is cut is counted in the last entry kept.
func Bounded(argv []string) []string {
	out := make([]string, 0, min(len(argv), MaxArgs+1))
	for i, a := range argv {
		if i == MaxArgs {
			out = append(out, fmt.Sprintf("…[%d more args]", len(argv)-MaxArgs))
			break
		}
		if len(a) > MaxArgBytes {
			a = strings.ToValidUTF8(a[:MaxArgBytes], "") + fmt.Sprintf("…[%d more bytes]", len(a)-MaxArgBytes)
		}
		out = append(out, a)
	}
	return out
}

// Log appends records to a file. It is safe for concurrent use; each
// record is one write of one line.
type Log struct {
	mu   sync.Mutex
	file *os.File
}

// Open opens (creating, mode 0600) the audit file at path for appending.
func Open(path string) (*Log, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open audit file: %w", err)
	}
	return &Log{file: f}, nil
}

// Append writes rec as one line.
func (l *Log) Append(rec Record) error {
	line, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encode audit record: %w", err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, err := l.file.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("write audit record: %w", err)
	}
	return nil
}

// Close closes the file.
func (l *Log) Close() error { return l.file.Close() }
