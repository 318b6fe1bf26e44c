package analysis

import (
	"context"
	"crypto/sha256"
	"fmt"
	"slices"
	"strings"
	"sync"
)

// Mode says what the gate does with what it finds.
type Mode string

// The gate's modes.
const (
	// Enforce refuses a tool with a finding at or above the policy's
	// FailOn, and a tool it cannot scan.
	Enforce Mode = "enforce"
	// Warn scans and reports, and runs the tool anyway.
	Warn Mode = "warn"
	// Off runs the tool unscanned.
	Off Mode = "off"
)

// Modes lists the modes, for messages and flags.
var Modes = []string{string(Enforce), string(Warn), string(Off)}

// ParseMode reads a mode by name; "" is Enforce.
func ParseMode(name string) (Mode, error) {
	switch m := Mode(strings.ToLower(name)); m {
	case "":
		return Enforce, nil
	case Enforce, Warn, Off:
		return m, nil
	}
	return "", fmt.Errorf("unknown analysis mode %q: use enforce, warn or off", name)
}

// Policy is how the gate judges a tool. The zero value enforces, fails on
// high, and allows the standard library's imports.
type Policy struct {
	Mode Mode
	// FailOn is the lowest severity that refuses a run; High when zero.
	FailOn Severity
	// Imports replaces DefaultImports when not nil.
	Imports []string
}

// WithDefaults fills the zero fields.
func (p Policy) WithDefaults() Policy {
	if p.Mode == "" {
		p.Mode = Enforce
	}
	if p.FailOn == 0 {
		p.FailOn = High
	}
	return p
}

// Verdict is the gate's judgement of one tool.
type Verdict struct {
	Policy Policy
	// Findings are all the scan found, in source order.
	Findings []Finding
	// Blocking are the findings at or above the policy's FailOn.
	Blocking []Finding
	// Err is why the tool could not be scanned (ErrUnscannable).
	Err error
}

// Refuses reports whether the verdict refuses the run: in enforce mode, a
// blocking finding or a tool that could not be scanned.
func (v Verdict) Refuses() bool {
	return v.Policy.Mode == Enforce && (len(v.Blocking) > 0 || v.Err != nil)
}

// Reason says in one line why the verdict refuses the run, or would in
// enforce mode ("" when it would not).
func (v Verdict) Reason() string {
	if v.Err != nil {
		return "the tool could not be scanned: " + v.Err.Error()
	}
	if len(v.Blocking) == 0 {
		return ""
	}
	f := v.Blocking[0]
	return fmt.Sprintf("%d finding(s) at or above %s, the first at line %d: %s [%s]",
		len(v.Blocking), v.Policy.FailOn, f.Line, f.Message, f.Rule)
}

// Gate judges tools by a policy, remembering the verdicts of the last
// files it scanned, by content: a tool run again is not parsed again.
// It is safe for concurrent use.
type Gate struct {
	policy Policy

	mu    sync.Mutex
	seen  map[[sha256.Size]byte]scanned
	order [][sha256.Size]byte
}

// scanned is a remembered scan.
type scanned struct {
	findings []Finding
	err      error
}

// gateMemory is how many scans a Gate remembers.
const gateMemory = 256

// NewGate returns a gate that judges by policy (with its defaults).
func NewGate(policy Policy) *Gate {
	return &Gate{policy: policy.WithDefaults(), seen: map[[sha256.Size]byte]scanned{}}
}

// Policy is the gate's policy.
func (g *Gate) Policy() Policy { return g.policy }

// CheckFile judges a tool file of lang.
func (g *Gate) CheckFile(ctx context.Context, lang string, src []byte) Verdict {
	return g.check(ctx, "file\x00"+lang, src, func() ([]Finding, error) { return Scan(ctx, lang, src, g.policy.Options()) })
}

// CheckCommand judges a command line.
func (g *Gate) CheckCommand(ctx context.Context, argv []string) Verdict {
	key := []byte(strings.Join(argv, "\x00"))
	return g.check(ctx, "command", key, func() ([]Finding, error) { return ScanCommand(ctx, argv, g.policy.Options()) })
}

// Options are the scan options of the policy.
func (p Policy) Options() Options { return Options{Imports: p.Imports} }

func (g *Gate) check(ctx context.Context, kind string, content []byte, scan func() ([]Finding, error)) Verdict {
	v := Verdict{Policy: g.policy}
	if g.policy.Mode == Off {
		return v
	}
	h := sha256.New()
	h.Write([]byte(kind + "\x00"))
	h.Write(content)
	var key [sha256.Size]byte
	h.Sum(key[:0])
	g.mu.Lock()
	s, ok := g.seen[key]
	g.mu.Unlock()
	if !ok {
		s.findings, s.err = scan()
		if ctx.Err() == nil { // a scan cut short by its caller says nothing of the file
			g.remember(key, s)
		}
	}
	v.Findings, v.Err = s.findings, s.err
	for _, f := range v.Findings {
		if f.Severity >= g.policy.FailOn {
			v.Blocking = append(v.Blocking, f)
		}
	}
	return v
}

func (g *Gate) remember(key [sha256.Size]byte, s scanned) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, ok := g.seen[key]; ok {
		return
	}
	if len(g.order) == gateMemory {
		delete(g.seen, g.order[0])
		g.order = slices.Delete(g.order, 0, 1)
	}
	g.seen[key] = s
	g.order = append(g.order, key)
}
