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

// Subject is what the gate judges: a tool file of a language, or, when
// Command is set, a command line.
type Subject struct {
	Lang    string
	Source  []byte
	Command []string
}

// key is the subject's identity in the gate's memory.
func (s Subject) key() [sha256.Size]byte {
	h := sha256.New()
	if s.Command != nil {
		h.Write([]byte("command\x00"))
		for _, a := range s.Command {
			fmt.Fprintf(h, "%d:%s", len(a), a)
		}
	} else {
		fmt.Fprintf(h, "file\x00%s\x00", s.Lang)
		h.Write(s.Source)
	}
	var key [sha256.Size]byte
	h.Sum(key[:0])
	return key
}

// Check judges s, scanning it unless its verdict is remembered.
func (g *Gate) Check(ctx context.Context, s Subject) Verdict {
	if g.policy.Mode == Off {
		return Verdict{Policy: g.policy}
	}
	key := s.key() // once: it hashes the whole tool
	if v, ok := g.recall(key); ok {
		return v
	}
	var sc scanned
	if s.Command != nil {
		sc.findings, sc.err = ScanCommand(ctx, s.Command, g.policy.Options())
	} else {
		sc.findings, sc.err = Scan(ctx, s.Lang, s.Source, g.policy.Options())
	}
	if ctx.Err() == nil { // a scan cut short by its caller says nothing of the file
		g.remember(key, sc)
	}
	return g.verdict(sc)
}

// recall is the verdict remembered for the subject of key; false when
// it must be scanned.
func (g *Gate) recall(key [sha256.Size]byte) (Verdict, bool) {
	g.mu.Lock()
	sc, ok := g.seen[key]
	g.mu.Unlock()
	if !ok {
		return Verdict{}, false
	}
	return g.verdict(sc), true
}

// Options are the scan options of the policy.
func (p Policy) Options() Options { return Options{Imports: p.Imports} }

// verdict judges a scan by the policy.
func (g *Gate) verdict(sc scanned) Verdict {
	v := Verdict{Policy: g.policy, Findings: sc.findings, Err: sc.err}
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
