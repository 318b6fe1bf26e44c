package analysis

import (
	"slices"
	"strings"
)

// rule is what a finding of one kind says.
type rule struct {
	id       string
	severity Severity
	message  string
}

// RuleInfo describes a rule, for a catalogue such as SARIF's.
type RuleInfo struct {
	ID       string
	Severity Severity
	// Description says what the rule finds.
	Description string
}

// catalogue holds every rule by id, as define made them.
var catalogue = map[string]RuleInfo{}

// define makes a rule and enters it in the catalogue; a rule defined
// twice (a module and its loads) keeps its first description and the
// highest severity.
func define(id string, severity Severity, message string) rule {
	if old, ok := catalogue[id]; ok {
		old.Severity = max(old.Severity, severity)
		catalogue[id] = old
	} else {
		catalogue[id] = RuleInfo{ID: id, Severity: severity, Description: message}
	}
	return rule{id, severity, message}
}

// Rules lists every rule, by id.
func Rules() []RuleInfo {
	out := make([]RuleInfo, 0, len(catalogue))
	for _, r := range catalogue {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b RuleInfo) int { return strings.Compare(a.ID, b.ID) })
	return out
}
