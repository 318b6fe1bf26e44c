// Package analysis is sablebox's static-analysis gate: it parses tool
// code (Python with tree-sitter) and reports the constructs a tool should
// not need (dynamic code, process spawning, native access, network,
// file-system escapes) as findings with exact positions. The gate is a
// first filter, never the boundary: the sandbox is.
package analysis

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Severity ranks a finding.
type Severity int

// The severities, lowest first.
const (
	Low Severity = iota + 1
	Medium
	High
	Critical
)

var severityNames = map[Severity]string{Low: "low", Medium: "medium", High: "high", Critical: "critical"}

func (s Severity) String() string {
	if n, ok := severityNames[s]; ok {
		return n
	}
	return fmt.Sprintf("severity(%d)", int(s))
}

// ParseSeverity reads a severity by name (low, medium, high, critical).
func ParseSeverity(name string) (Severity, error) {
	for s, n := range severityNames {
		if strings.EqualFold(name, n) {
			return s, nil
		}
	}
	return 0, fmt.Errorf("unknown severity %q: use low, medium, high or critical", name)
}

// Finding is one construct a rule matched.
type Finding struct {
	// Rule is the rule's id, such as "py.process.os-system".
	Rule     string
	Severity Severity
	// Line and Column are 1-based, Column in bytes.
	Line, Column int
	// Text is the matched source, shortened to one line.
	Text    string
	Message string
}

func (f Finding) String() string {
	return fmt.Sprintf("%d:%d: %s [%s] %s: %s", f.Line, f.Column, f.Severity, f.Rule, f.Message, f.Text)
}

// maxText bounds Finding.Text.
const maxText = 80

// shorten makes matched source one short line.
func shorten(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i] + " …"
	}
	if len(s) > maxText {
		s = s[:maxText] + "…"
	}
	return s
}

// sortFindings puts findings in source order.
func sortFindings(findings []Finding) {
	slices.SortStableFunc(findings, func(a, b Finding) int {
		if a.Line != b.Line {
			return a.Line - b.Line
		}
		return a.Column - b.Column
	})
}

// MaxParseTime bounds the parse of one file: tree-sitter parses a
// megabyte in well under a second, so a file that takes longer is one
// built to stall the gate.
const MaxParseTime = 5 * time.Second

// parseBudget is how long a parse may take under ctx.
func parseBudget(ctx context.Context) time.Duration {
	budget := MaxParseTime
	if d, ok := ctx.Deadline(); ok {
		budget = min(budget, max(time.Until(d), time.Millisecond))
	}
	return budget
}
