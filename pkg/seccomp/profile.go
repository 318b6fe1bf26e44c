package seccomp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/sablebox/sablebox/pkg/sandbox"
)

// The actions a profile may name, as the OCI runtime spec spells them.
const (
	ActAllow       = specs.ActAllow
	ActErrno       = specs.ActErrno
	ActKill        = specs.ActKill
	ActKillProcess = specs.ActKillProcess
	ActKillThread  = specs.ActKillThread
	ActTrap        = specs.ActTrap
	ActLog         = specs.ActLog
	// ActTrace hands the syscall to a ptrace tracer; with none attached
	// the syscall fails with ENOSYS, on the kernel and on gVisor alike.
	// The sandbox cannot attach one (ptrace is refused), so it is the one
	// portable way to answer ENOSYS: gVisor of 2022-12 (Debian 12's
	// runsc) answers an errno rule's errnoRet with EPERM.
	ActTrace = specs.ActTrace
)

// actions are every action sablebox applies, with what it does. Notify is
// not among them: it needs a listener that no sablebox backend runs.
var actions = []specs.LinuxSeccompAction{ActAllow, ActErrno, ActTrace, ActKillProcess, ActKillThread, ActKill, ActTrap, ActLog}

// Errno values returned by refused syscalls.
const (
	EPERM  = 1
	ENOSYS = 38
)

// Profile is a seccomp profile in the JSON form Docker and Podman accept:
// the OCI runtime spec's LinuxSeccomp, with Docker's archMap for
// architectures and a comment on each rule.
type Profile struct {
	DefaultAction   specs.LinuxSeccompAction `json:"defaultAction"`
	DefaultErrnoRet *uint                    `json:"defaultErrnoRet,omitempty"`
	// Architectures is the OCI form; ArchMap is Docker's, which also
	// names each one's sub-architectures. A profile gives either.
	Architectures []specs.Arch             `json:"architectures,omitempty"`
	ArchMap       []Arch                   `json:"archMap,omitempty"`
	Flags         []specs.LinuxSeccompFlag `json:"flags,omitempty"`
	// ListenerPath is the OCI field for SCMP_ACT_NOTIFY's agent; sablebox
	// runs none and refuses a profile that names one.
	ListenerPath string    `json:"listenerPath,omitempty"`
	Syscalls     []Syscall `json:"syscalls"`
}

// Arch names an architecture the profile is written for (Docker's form).
type Arch struct {
	Architecture     specs.Arch   `json:"architecture"`
	SubArchitectures []specs.Arch `json:"subArchitectures"`
}

// Syscall is one rule: the named syscalls get Action when all Args match.
// Includes and Excludes are Docker's conditions on a rule (see Filter).
type Syscall struct {
	specs.LinuxSyscall
	Comment  string  `json:"comment,omitempty"`
	Includes *Filter `json:"includes,omitempty"`
	Excludes *Filter `json:"excludes,omitempty"`
}

// Filter is Docker's condition on a rule: it applies (Includes) or does
// not (Excludes) to containers with any of Caps, on any of Arches, or on
// kernels from MinKernel. sablebox containers have no capabilities.
type Filter struct {
	Caps      []string     `json:"caps,omitempty"`
	Arches    []specs.Arch `json:"arches,omitempty"`
	MinKernel string       `json:"minKernel,omitempty"`
}

// Rule returns an allow, errno or trace rule (the ones sablebox's policy
// writes) for names with the given arguments.
func Rule(action specs.LinuxSeccompAction, comment string, names []string, args ...specs.LinuxSeccompArg) Syscall {
	return Syscall{LinuxSyscall: specs.LinuxSyscall{Names: names, Action: action, Args: args}, Comment: comment}
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

// Arches lists every architecture the profile names, main and sub, in
// either form.
func (p *Profile) Arches() []specs.Arch {
	arches := slices.Clone(p.Architectures)
	for _, a := range p.ArchMap {
		arches = append(arches, a.Architecture)
		arches = append(arches, a.SubArchitectures...)
	}
	return arches
}

// uncheckedArches are the architectures libseccomp knows that sablebox
// has no table for: a profile may name them (Docker's default does), and
// their names are left to libseccomp there.
var uncheckedArches = []specs.Arch{
	specs.ArchMIPS, specs.ArchMIPS64, specs.ArchMIPS64N32, specs.ArchMIPSEL, specs.ArchMIPSEL64, specs.ArchMIPSEL64N32,
	specs.ArchPPC, specs.ArchPPC64, specs.ArchPPC64LE, specs.ArchS390, specs.ArchS390X, specs.ArchPARISC,
	specs.ArchPARISC64, specs.ArchRISCV64, specs.ArchLOONGARCH64, specs.ArchM68K, specs.ArchSH, specs.ArchSHEB,
}

// goArches are the names Docker's includes and excludes give the
// architectures of the table (Go's, as Docker compares them).
var goArches = map[specs.Arch][]specs.Arch{
	specs.ArchX86_64: {"amd64"}, specs.ArchAARCH64: {"arm64"}, specs.ArchX86: {"386", "x86"},
	specs.ArchX32: {"x32"}, specs.ArchARM: {"arm"},
}

// namesArch reports whether a filter's list of architectures names arch,
// in either form.
func namesArch(list []specs.Arch, arch specs.Arch) bool {
	return slices.ContainsFunc(append([]specs.Arch{arch}, goArches[arch]...), func(a specs.Arch) bool {
		return slices.Contains(list, a)
	})
}

// forCheckedArch reports whether the rule may apply on an architecture of
// the table: one that Docker's includes limit to others (s390x, ppc64le)
// names syscalls sablebox cannot check.
func (s *Syscall) forCheckedArch() bool {
	if s.Includes == nil || len(s.Includes.Arches) == 0 {
		return true
	}
	for a := range syscallTable {
		if namesArch(s.Includes.Arches, a) {
			return true
		}
	}
	return false
}

// Applies reports whether rule s applies to a sablebox container (no
// capabilities) on arch: Docker's includes and excludes, read as Docker
// reads them. A minimum kernel is taken as met: a rule for a newer kernel
// only names syscalls an older one lacks.
func (s *Syscall) Applies(arch specs.Arch) bool {
	if in := s.Includes; in != nil {
		if len(in.Caps) > 0 || (len(in.Arches) > 0 && !namesArch(in.Arches, arch)) {
			return false
		}
	}
	if ex := s.Excludes; ex != nil {
		if len(ex.Arches) > 0 && namesArch(ex.Arches, arch) {
			return false
		}
	}
	return true
}

// Parse reads a profile and checks it (see Validate): any problem is an
// error that names the field and says how to fix it.
func Parse(data []byte) (*Profile, error) {
	var p Profile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("seccomp profile: %s", jsonProblem(err))
	}
	if dec.More() {
		return nil, errors.New("seccomp profile: more than one JSON document: give one object")
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return &p, nil
}

// jsonProblem says in one line where a document is malformed.
func jsonProblem(err error) string {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		return fmt.Sprintf("%s: want a JSON %s, not a %s", strings.ReplaceAll(typeErr.Field, "LinuxSyscall.", ""), typeErr.Type, typeErr.Value)
	case errors.As(err, &syntaxErr):
		return fmt.Sprintf("not valid JSON at byte %d: %s", syntaxErr.Offset, syntaxErr)
	case strings.HasPrefix(err.Error(), "json: unknown field"):
		return strings.TrimPrefix(err.Error(), "json: ") + ": remove it (the fields are defaultAction, defaultErrnoRet, architectures or archMap, flags, syscalls with names, action, errnoRet, args, comment, includes, excludes)"
	default:
		return "not valid JSON: " + err.Error()
	}
}

// Validate checks what Docker, Podman and libseccomp would each take
// differently or silently drop: a known default action that is a filter,
// known architectures, and rules whose names libseccomp knows for every
// architecture named, with known actions and argument comparisons. The
// error names the first bad field and the fix.
func (p *Profile) Validate() error {
	fail := func(field, format string, args ...any) error {
		return fmt.Errorf("seccomp profile: %s: %s", field, fmt.Sprintf(format, args...))
	}
	switch {
	case p.DefaultAction == "":
		return fail("defaultAction", "missing: set it to %s (refuse what is not listed)", ActErrno)
	case !slices.Contains(actions, p.DefaultAction):
		return fail("defaultAction", "unknown action %q: use %s", p.DefaultAction, ActErrno)
	case p.DefaultAction == ActAllow || p.DefaultAction == ActLog:
		return fail("defaultAction", "%s lets every unlisted syscall through, so it is not a filter: use %s and list what is allowed", p.DefaultAction, ActErrno)
	case p.DefaultErrnoRet != nil && p.DefaultAction != ActErrno:
		return fail("defaultErrnoRet", "only %s returns an errno: remove it or make defaultAction %s", ActErrno, ActErrno)
	case p.DefaultErrnoRet != nil && (*p.DefaultErrnoRet == 0 || *p.DefaultErrnoRet > 4095):
		return fail("defaultErrnoRet", "%d is not an errno: use 1 (EPERM) or 38 (ENOSYS)", *p.DefaultErrnoRet)
	case len(p.Architectures) > 0 && len(p.ArchMap) > 0:
		return fail("architectures", "give architectures or archMap, not both")
	case p.ListenerPath != "":
		return fail("listenerPath", "sablebox runs no seccomp agent: remove it, and SCMP_ACT_NOTIFY rules")
	case len(p.Syscalls) == 0:
		return fail("syscalls", "no rules: list the syscalls to allow (see `sablebox seccomp show python`)")
	}
	for i, f := range p.Flags {
		if !slices.Contains([]specs.LinuxSeccompFlag{specs.LinuxSeccompFlagLog, specs.LinuxSeccompFlagSpecAllow}, f) {
			return fail(fmt.Sprintf("flags[%d]", i), "unknown or unsupported flag %q: remove it (sablebox takes %s and %s)",
				f, specs.LinuxSeccompFlagLog, specs.LinuxSeccompFlagSpecAllow)
		}
	}
	arches := p.Arches()
	if len(arches) == 0 {
		return fail("archMap", "no architectures: name at least %s and %s", specs.ArchX86_64, specs.ArchAARCH64)
	}
	checked := false
	for i, a := range arches {
		_, inTable := syscallTable[a]
		if !inTable && !slices.Contains(uncheckedArches, a) {
			return fail("archMap", "architecture %d, %q, is not one libseccomp knows: use %s", i, a, strings.Join(TableArches(), ", "))
		}
		checked = checked || inTable
	}
	if !checked {
		return fail("archMap", "no architecture sablebox checks names for: name %s or %s", specs.ArchX86_64, specs.ArchAARCH64)
	}
	for i, s := range p.Syscalls {
		field := fmt.Sprintf("syscalls[%d]", i)
		if len(s.Names) == 0 {
			return fail(field+".names", "empty: name the syscalls the rule is for")
		}
		if !slices.Contains(actions, s.Action) {
			return fail(field+".action", "unknown or unsupported action %q: use one of %s", s.Action, actionList())
		}
		if s.ErrnoRet != nil && s.Action != ActErrno {
			return fail(field+".errnoRet", "only %s returns an errno: remove it", ActErrno)
		}
		if s.Action == p.DefaultAction && len(s.Args) > 0 && sameErrno(s.ErrnoRet, p.DefaultErrnoRet) {
			return fail(field+".action", "the same as defaultAction: libseccomp refuses such a rule and runc drops it, so its arguments would not be checked; allow the safe values instead")
		}
		for j, name := range s.Names {
			if name == "" {
				return fail(fmt.Sprintf("%s.names[%d]", field, j), "empty syscall name")
			}
			if !Known(name) && s.forCheckedArch() {
				return fail(fmt.Sprintf("%s.names[%d]", field, j), "unknown syscall %q on every architecture libseccomp %s knows: check the spelling, or leave out a call newer than that release", name, tableLibseccomp)
			}
		}
		seen := map[uint]bool{}
		for j, a := range s.Args {
			af := fmt.Sprintf("%s.args[%d]", field, j)
			switch {
			case a.Index > 5:
				return fail(af+".index", "%d: a syscall has arguments 0 to 5", a.Index)
			case !slices.Contains(ops, a.Op):
				return fail(af+".op", "unknown comparison %q: use one of %s", a.Op, opList())
			case seen[a.Index]:
				return fail(af+".index", "argument %d is compared twice in one rule: libseccomp refuses that; write two rules", a.Index)
			}
			seen[a.Index] = true
		}
	}
	return nil
}

func sameErrno(a, b *uint) bool {
	errno := func(p *uint) uint {
		if p == nil {
			return EPERM
		}
		return *p
	}
	return errno(a) == errno(b)
}

// ops are the argument comparisons libseccomp takes.
var ops = []specs.LinuxSeccompOperator{specs.OpEqualTo, specs.OpNotEqual, specs.OpLessThan, specs.OpLessEqual,
	specs.OpGreaterThan, specs.OpGreaterEqual, specs.OpMaskedEqual}

func opList() string {
	s := make([]string, len(ops))
	for i, o := range ops {
		s[i] = string(o)
	}
	return strings.Join(s, ", ")
}

func actionList() string {
	s := make([]string, len(actions))
	for i, a := range actions {
		s[i] = string(a)
	}
	return strings.Join(s, ", ")
}

// Sandbox converts the profile into the form a sandbox.Spec carries.
func (p *Profile) Sandbox(name string) (*sandbox.SeccompProfile, error) {
	data, err := p.Marshal()
	if err != nil {
		return nil, err
	}
	return &sandbox.SeccompProfile{Name: name, JSON: data}, nil
}
