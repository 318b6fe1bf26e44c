// Package setting describes the settings a backend owns. Each is a flag, a
// SABLEBOX_ variable and a key of sablebox.yaml, declared once, in the
// backend's own package; the runner lists every backend's, and the CLI and
// the config loader take them from there.
package setting

import (
	"strings"
)

// Setting is one setting of a backend.
type Setting struct {
	// Key names it: the flag (--docker-host), the variable
	// (SABLEBOX_DOCKER_HOST) and the config key.
	Key string
	// Help is the flag's one-line help.
	Help string
	// List marks a list of values ("a,b" on the command line).
	List bool
	// Demand marks a setting that asks for a protection: a run on a
	// backend that does not declare it is refused, never run without it.
	// Any other setting given to a backend that ignores it is warned about.
	Demand bool
	// Check, when set, validates a value given; its error says what is
	// wanted ("want a runtime name such as runc or runsc").
	Check func(value string) error
}

// Values are the settings given, by key; a list is joined with commas.
type Values map[string]string

// Get returns the value of key, or "".
func (v Values) Get(key string) string { return v[key] }

// IsSet reports whether key was given.
func (v Values) IsSet(key string) bool { _, ok := v[key]; return ok }

// List returns key's values (split on commas, trimmed, empty ones
// dropped), or nil when key was not given.
func (v Values) List(key string) []string {
	raw, ok := v[key]
	if !ok {
		return nil
	}
	out := []string{}
	for _, item := range strings.Split(raw, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}
