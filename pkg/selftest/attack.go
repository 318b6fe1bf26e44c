// Package selftest is sablebox's containment battery: real attacks, each
// a small payload embedded in the binary, run through the normal runner
// path against every backend this host can use, and judged from outside
// the sandbox wherever the host can see the effect (a file the attack
// tries to write or read on the host, a loopback listener it tries to
// reach, a process it tries to leave behind), and from the payload's own
// report otherwise. `sablebox selftest` prints the table.
package selftest

import (
	"strings"

	"github.com/sablebox/sablebox/pkg/sandbox"
)

// Class groups attacks by what they go after.
type Class string

// The classes of attack.
const (
	Resources  Class = "resources"
	FileSystem Class = "filesystem"
	Network    Class = "network"
	Privilege  Class = "privilege"
	RunnerC    Class = "runner"
	Leaks      Class = "leaks"
)

// Classes lists the classes in the order the table gives them.
var Classes = []Class{Resources, FileSystem, Network, Privilege, RunnerC, Leaks}

// Status is how an attack ended on a backend.
type Status string

// The statuses of an attack.
const (
	// Contained: the sandbox stopped it the way it should.
	Contained Status = "contained"
	// Escaped: the attack did what it tried, seen from the host or told by
	// the payload.
	Escaped Status = "ESCAPED"
	// NotApplicable: the attack cannot be tried on this backend.
	NotApplicable Status = "n/a"
	// Failed: the attack proved nothing (it did not run, or did not
	// report): containment is not shown, which counts against it.
	Failed Status = "ERROR"
)

// Attack is one entry of the battery.
type Attack struct {
	// ID names the attack, such as "fs.write-etc".
	ID    string
	Class Class
	// Tries says what the attack tries; Contained what counts as contained.
	Tries, Contained string
	// Payload is the file under payloads/ it runs (Python or shell).
	Payload string
	// Args follow the payload.
	Args []string
	// Limits of the run; zero fields take the defaults.
	Limits sandbox.Limits
	// Output gives the run /output, and a host directory it lands in.
	Output bool
	// Judge decides from what was seen; nil takes the payload's report
	// and the host's evidence (see judgeReport).
	Judge func(o *Observation) (Status, string)
	// HostSafe marks a payload that does no harm when run with no sandbox
	// at all: the test that proves each attack can see an escape runs
	// those unconfined on the host.
	HostSafe bool
	// Backends, when set, are the only backends the attack applies to,
	// with why it does not apply to the others.
	Backends []string
	NotOn    string
}

// Observation is what an attack's run left for the judge.
type Observation struct {
	Attack  *Attack
	Backend string
	Result  *sandbox.Result
	Err     error
	Host    *Host
	// Seen is what the host saw of the attack: files it made on the host,
	// connections to the listeners, processes it left behind.
	Seen []string
	// OutDir is the host directory the run's /output landed in, if any.
	OutDir string
	// terminal is what the target shows a terminal of a tool's output.
	terminal func([]byte) []byte
}

// Outcome is the verdict on one attack on one backend.
type Outcome struct {
	Attack  string `json:"attack"`
	Class   Class  `json:"class"`
	Backend string `json:"backend"`
	Status  Status `json:"status"`
	Detail  string `json:"detail,omitempty"`
}

// output is everything the run printed.
func (o *Observation) output() string {
	if o.Result == nil {
		return ""
	}
	return string(o.Result.Stdout.Data) + string(o.Result.Stderr.Data)
}

// reported lists the payload's lines that start with prefix.
func (o *Observation) reported(prefix string) []string {
	var out []string
	if o.Result == nil {
		return nil
	}
	for _, line := range strings.Split(string(o.Result.Stdout.Data), "\n") {
		if rest, ok := strings.CutPrefix(line, prefix+" "); ok {
			out = append(out, rest)
		}
	}
	return out
}

// judgeReport is the default judge: what the host saw, or a host secret
// in the output, or the payload's ESCAPED line, is an escape; a payload
// that reported CONTAINED for every step and exited 0 is contained;
// anything else proved nothing.
func judgeReport(o *Observation) (Status, string) {
	if st, why := hostEvidence(o); st != "" {
		return st, why
	}
	if esc := o.reported("ESCAPED"); len(esc) > 0 {
		return Escaped, strings.Join(esc, "; ")
	}
	if o.Err != nil {
		return Failed, o.Err.Error()
	}
	if o.Result.Status != sandbox.StatusOK {
		return Failed, "the payload ended " + string(o.Result.Status) + ": " + sandbox.LastLine(o.Result.Stderr.Data)
	}
	if len(o.reported("CONTAINED")) == 0 {
		return Failed, "the payload reported nothing: " + sandbox.LastLine(o.Result.Stderr.Data)
	}
	return Contained, strings.Join(o.reported("CONTAINED"), "; ")
}

// hostEvidence is an escape the host saw or a host secret the run
// printed; "" when there is none.
func hostEvidence(o *Observation) (Status, string) {
	if len(o.Seen) > 0 {
		return Escaped, "the host saw: " + strings.Join(o.Seen, "; ")
	}
	if o.Host != nil {
		out := o.output()
		for what, secret := range o.Host.secrets() {
			if strings.Contains(out, secret) {
				return Escaped, "the run printed " + what
			}
		}
	}
	return "", ""
}
