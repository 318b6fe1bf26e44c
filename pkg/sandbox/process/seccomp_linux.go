//go:build seccomp && cgo

package process

import (
	"fmt"
	"io"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"

	"github.com/sablebox/sablebox/pkg/seccomp"
)

const seccompBuiltIn = true

// compileSeccomp compiles a profile in Docker's format with libseccomp
// into a BPF program. It is done before the rlimits are set: libseccomp
// allocates, and under RLIMIT_AS it may not.
func compileSeccomp(profileJSON []byte) ([]byte, error) {
	filter, err := buildFilter(profileJSON)
	if err != nil {
		return nil, err
	}
	defer filter.Release()
	// ExportBPFMem needs libseccomp 2.6; a pipe works with 2.5 too.
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	read := make(chan []byte, 1)
	go func() {
		data, _ := io.ReadAll(r)
		read <- data
	}()
	err = filter.ExportBPF(w)
	w.Close()
	prog := <-read
	if err != nil {
		return nil, fmt.Errorf("export filter: %w", err)
	}
	return prog, nil
}

func buildFilter(profileJSON []byte) (*libseccomp.ScmpFilter, error) {
	p, err := seccomp.Parse(profileJSON)
	if err != nil {
		return nil, err
	}
	def, err := scmpAction(p.DefaultAction, p.DefaultErrnoRet)
	if err != nil {
		return nil, err
	}
	filter, err := libseccomp.NewFilter(def)
	if err != nil {
		return nil, fmt.Errorf("new filter: %w", err)
	}
	for _, a := range p.Arches() {
		arch, err := libseccomp.GetArchFromString(archName(string(a)))
		if err == nil {
			_ = filter.AddArch(arch) // the native arch is there already
		}
	}
	native := seccomp.NativeArch()
	for _, rule := range p.Syscalls {
		if !rule.Applies(native) {
			continue // Docker's includes and excludes, for this architecture
		}
		action, err := scmpAction(rule.Action, rule.ErrnoRet)
		if err != nil {
			filter.Release()
			return nil, err
		}
		if action == def && len(rule.Args) == 0 {
			continue // says what the default says; libseccomp refuses it
		}
		var conds []libseccomp.ScmpCondition
		for _, a := range rule.Args {
			op, err := compareOp(string(a.Op))
			if err != nil {
				filter.Release()
				return nil, err
			}
			c, err := libseccomp.MakeCondition(a.Index, op, a.Value, a.ValueTwo)
			if err != nil {
				filter.Release()
				return nil, fmt.Errorf("condition on %v: %w", rule.Names, err)
			}
			conds = append(conds, c)
		}
		for _, name := range rule.Names {
			call, err := libseccomp.GetSyscallFromName(name)
			if err != nil {
				continue // not a syscall on this architecture (Parse checked the name)
			}
			if len(conds) == 0 {
				err = filter.AddRule(call, action)
			} else {
				err = filter.AddRuleConditional(call, action, conds)
			}
			if err != nil {
				filter.Release()
				return nil, fmt.Errorf("rule for %s: %w", name, err)
			}
		}
	}
	return filter, nil
}

// scmpAction is libseccomp's form of a profile's action.
func scmpAction(a specs.LinuxSeccompAction, errnoRet *uint) (libseccomp.ScmpAction, error) {
	switch a {
	case seccomp.ActAllow:
		return libseccomp.ActAllow, nil
	case seccomp.ActErrno:
		code := int16(seccomp.EPERM)
		if errnoRet != nil {
			code = int16(*errnoRet)
		}
		return libseccomp.ActErrno.SetReturnCode(code), nil
	case seccomp.ActTrace:
		return libseccomp.ActTrace, nil
	case seccomp.ActKill, seccomp.ActKillThread:
		return libseccomp.ActKillThread, nil
	case seccomp.ActKillProcess:
		return libseccomp.ActKillProcess, nil
	case seccomp.ActTrap:
		return libseccomp.ActTrap, nil
	case seccomp.ActLog:
		return libseccomp.ActLog, nil
	}
	return 0, fmt.Errorf("seccomp action %q: not one sablebox applies", a)
}

// archName turns Docker's "SCMP_ARCH_X86_64" into libseccomp's "x86_64".
func archName(docker string) string {
	names := map[string]string{"SCMP_ARCH_X86_64": "amd64", "SCMP_ARCH_AARCH64": "arm64", "SCMP_ARCH_X86": "x86",
		"SCMP_ARCH_X32": "x32", "SCMP_ARCH_ARM": "arm"}
	if n, ok := names[docker]; ok {
		return n
	}
	return docker
}

func compareOp(op string) (libseccomp.ScmpCompareOp, error) {
	switch op {
	case "SCMP_CMP_EQ":
		return libseccomp.CompareEqual, nil
	case "SCMP_CMP_NE":
		return libseccomp.CompareNotEqual, nil
	case "SCMP_CMP_MASKED_EQ":
		return libseccomp.CompareMaskedEqual, nil
	case "SCMP_CMP_LT":
		return libseccomp.CompareLess, nil
	case "SCMP_CMP_LE":
		return libseccomp.CompareLessOrEqual, nil
	case "SCMP_CMP_GT":
		return libseccomp.CompareGreater, nil
	case "SCMP_CMP_GE":
		return libseccomp.CompareGreaterEqual, nil
	}
	return 0, fmt.Errorf("unknown comparison %q", op)
}
