package seccomp

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/sablebox/sablebox/pkg/sandbox"
)

// Action is what the kernel does when a rule matches.
type Action string

// The actions sablebox profiles use.
const (
	ActAllow Action = "SCMP_ACT_ALLOW"
	ActErrno Action = "SCMP_ACT_ERRNO"
	// ActTrace hands the syscall to a ptrace tracer; with none attached
	// the syscall fails with ENOSYS, on the kernel and on gVisor alike.
	// The sandbox cannot attach one (ptrace is refused), so it is the one
	// portable way to answer ENOSYS: gVisor of 2022-12 (Debian 12's
	// runsc) answers an errno rule's errnoRet with EPERM.
	ActTrace Action = "SCMP_ACT_TRACE"
)

// Errno values returned by refused syscalls.
const (
	EPERM  = 1
	ENOSYS = 38
)

// Profile is a seccomp profile in Docker's JSON format.
type Profile struct {
	DefaultAction   Action    `json:"defaultAction"`
	DefaultErrnoRet *uint     `json:"defaultErrnoRet,omitempty"`
	ArchMap         []Arch    `json:"archMap"`
	Syscalls        []Syscall `json:"syscalls"`
}

// Arch names an architecture the profile is written for.
type Arch struct {
	Architecture     string   `json:"architecture"`
	SubArchitectures []string `json:"subArchitectures"`
}

// Syscall is one rule: the named syscalls get Action when all Args match.
type Syscall struct {
	Names    []string `json:"names"`
	Action   Action   `json:"action"`
	ErrnoRet *uint    `json:"errnoRet,omitempty"`
	Args     []Arg    `json:"args,omitempty"`
	Comment  string   `json:"comment,omitempty"`
}

// Arg compares one syscall argument.
type Arg struct {
	Index    uint   `json:"index"`
	Value    uint64 `json:"value"`
	ValueTwo uint64 `json:"valueTwo"`
	Op       string `json:"op"`
}

// Marshal renders the profile as indented JSON with a final newline, the
// form committed under profiles/.
func (p *Profile) Marshal() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(p); err != nil {
		return nil, fmt.Errorf("encode seccomp profile: %w", err)
	}
	return buf.Bytes(), nil
}

// Parse reads a profile and checks that it is usable: a default action,
// at least one architecture and one rule, and known actions only.
func Parse(data []byte) (*Profile, error) {
	var p Profile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("parse seccomp profile: %w", err)
	}
	switch {
	case p.DefaultAction != ActErrno && p.DefaultAction != ActAllow:
		return nil, fmt.Errorf("parse seccomp profile: unknown defaultAction %q", p.DefaultAction)
	case p.DefaultAction == ActAllow:
		return nil, fmt.Errorf("parse seccomp profile: defaultAction allow is not a filter; use %s", ActErrno)
	case len(p.ArchMap) == 0:
		return nil, fmt.Errorf("parse seccomp profile: no architectures")
	case len(p.Syscalls) == 0:
		return nil, fmt.Errorf("parse seccomp profile: no syscall rules")
	}
	for i, s := range p.Syscalls {
		if len(s.Names) == 0 || (s.Action != ActAllow && s.Action != ActErrno && s.Action != ActTrace) {
			return nil, fmt.Errorf("parse seccomp profile: rule %d: needs names and an allow, errno or trace action", i)
		}
	}
	return &p, nil
}

// Sandbox converts the profile into the form a sandbox.Spec carries.
func (p *Profile) Sandbox(name string) (*sandbox.SeccompProfile, error) {
	data, err := p.Marshal()
	if err != nil {
		return nil, err
	}
	return &sandbox.SeccompProfile{Name: name, JSON: data}, nil
}
