package selftest

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
)

// Escapes counts the outcomes that did not show containment (escaped,
// or proved nothing).
func Escapes(outcomes []Outcome) int {
	n := 0
	for _, o := range outcomes {
		if o.Status == Escaped || o.Status == Failed {
			n++
		}
	}
	return n
}

// Report is what a battery found.
type Report struct {
	Outcomes []Outcome
	// Skipped are the backends not attacked, with why.
	Skipped []string
	// Confinement says what the battery itself ran inside, or why it ran
	// unconfined.
	Confinement string
}

// Table writes the attack × backend table, the details of every outcome
// that was not contained, what the battery ran in, and a summary line
// per backend.
func (r Report) Table(w io.Writer) error {
	outcomes, skipped := r.Outcomes, r.Skipped
	var backends []string
	cell := map[string]map[string]Outcome{}
	var attacks []string
	for _, o := range outcomes {
		if cell[o.Attack] == nil {
			cell[o.Attack] = map[string]Outcome{}
			attacks = append(attacks, o.Attack)
		}
		cell[o.Attack][o.Backend] = o
		if !slices.Contains(backends, o.Backend) {
			backends = append(backends, o.Backend)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%-22s", "attack")
	for _, be := range backends {
		fmt.Fprintf(&b, " %-10s", be)
	}
	b.WriteString("\n")
	for _, a := range attacks {
		fmt.Fprintf(&b, "%-22s", a)
		for _, be := range backends {
			fmt.Fprintf(&b, " %-10s", cell[a][be].Status)
		}
		b.WriteString("\n")
	}
	for _, o := range outcomes {
		if o.Status != Contained {
			fmt.Fprintf(&b, "%s on %s: %s: %s\n", o.Attack, o.Backend, o.Status, o.Detail)
		}
	}
	for _, s := range skipped {
		fmt.Fprintf(&b, "not attacked: %s\n", s)
	}
	if r.Confinement != "" {
		fmt.Fprintf(&b, "the battery ran in %s\n", r.Confinement)
	}
	for _, be := range backends {
		var contained, escaped, na int
		for _, a := range attacks {
			switch cell[a][be].Status {
			case Contained:
				contained++
			case NotApplicable:
				na++
			default:
				escaped++
			}
		}
		fmt.Fprintf(&b, "%s: %d contained, %d escaped", be, contained, escaped)
		if na > 0 {
			fmt.Fprintf(&b, ", %d not applicable", na)
		}
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// JSON writes {"outcomes": […], "skipped": […], "confinement": "…",
// "escapes": N}.
func (r Report) JSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	outcomes := r.Outcomes
	if outcomes == nil {
		outcomes = []Outcome{}
	}
	return enc.Encode(struct {
		Outcomes    []Outcome `json:"outcomes"`
		Skipped     []string  `json:"skipped,omitempty"`
		Confinement string    `json:"confinement,omitempty"`
		Escapes     int       `json:"escapes"`
	}{outcomes, r.Skipped, r.Confinement, Escapes(outcomes)})
}
