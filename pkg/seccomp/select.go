package seccomp

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/sablebox/sablebox/pkg/sandbox"
)

// MaxProfileBytes bounds a profile file: Docker's own default is 20 KB.
const MaxProfileBytes = 1 << 20

// DefaultProfile returns the default profile in the form a sandbox.Spec
// carries.
func DefaultProfile() *sandbox.SeccompProfile {
	sp, err := Default().Sandbox(DefaultName)
	if err != nil {
		panic("seccomp: built-in profile does not encode: " + err.Error())
	}
	return sp
}

// Load returns the profile ref names: a built-in one (default, python,
// strict), unconfined, or a file. A file that is not a valid profile is an
// error that names the field and the fix.
func Load(ref string) (*sandbox.SeccompProfile, error) {
	switch {
	case ref == "" || ref == DefaultName:
		return DefaultProfile(), nil
	case ref == UnconfinedName:
		return &sandbox.SeccompProfile{Name: UnconfinedName, Unconfined: true}, nil
	case Builtin(ref) != nil:
		return Builtin(ref).Sandbox(ref)
	}
	if !strings.ContainsAny(ref, "/.") {
		return nil, fmt.Errorf("seccomp profile %q: not a built-in profile (%s, or %s) nor a file: give a path such as ./%s.json",
			ref, strings.Join(Builtins, ", "), UnconfinedName, ref)
	}
	data, err := readProfile(ref)
	if err != nil {
		return nil, err
	}
	if _, err := Parse(data); err != nil {
		return nil, fmt.Errorf("%s: %w", ref, err)
	}
	return &sandbox.SeccompProfile{Name: ref, JSON: data}, nil
}

func readProfile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("seccomp profile: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxProfileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("seccomp profile %s: %w", path, err)
	}
	if len(data) > MaxProfileBytes {
		return nil, fmt.Errorf("seccomp profile %s: larger than %d bytes: is it a profile?", path, MaxProfileBytes)
	}
	return data, nil
}

// ErrUnsafe says a profile needs the seccomp-unsafe opt-in.
var ErrUnsafe = errors.New("needs seccomp-unsafe")

// Admit checks a profile before any run uses it: it must parse, and it
// may be unconfined or allow a high-risk syscall without an argument
// filter only with unsafe (the config's explicit opt-in). Every refusal
// wraps sandbox.ErrPolicy (exit 126). With unsafe, what it lets through
// is returned as warnings for the log.
func Admit(p *sandbox.SeccompProfile, unsafe bool) (warnings []string, err error) {
	if p == nil {
		return nil, fmt.Errorf("%w: no seccomp profile", sandbox.ErrPolicy)
	}
	if p.Unconfined {
		if !unsafe {
			return nil, fmt.Errorf("%w: seccomp profile unconfined %w: it runs tools with no syscall filter; set seccomp-unsafe: true in the config file to allow it", sandbox.ErrPolicy, ErrUnsafe)
		}
		return []string{"seccomp: unconfined: tools run with NO syscall filter (seccomp-unsafe is set)"}, nil
	}
	prof, err := Parse(p.JSON)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", sandbox.ErrPolicy, p.Name, err)
	}
	if high := prof.Check("").HighRisk(); len(high) > 0 {
		if !unsafe {
			return nil, fmt.Errorf("%w: seccomp profile %s allows %s without argument filters (`sablebox seccomp check %s` says why each is dangerous): remove them, or set seccomp-unsafe: true in the config file",
				sandbox.ErrPolicy, p.Name, strings.Join(high, ", "), p.Name)
		}
		return []string{fmt.Sprintf("seccomp: profile %s allows high-risk syscalls: %s (seccomp-unsafe is set)", p.Name, strings.Join(high, ", "))}, nil
	}
	return nil, nil
}
