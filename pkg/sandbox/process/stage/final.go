package stage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// bpfProgram turns a compiled seccomp program into the kernel's form.
func bpfProgram(prog []byte) (*unix.SockFprog, error) {
	const insnSize = 8 // struct sock_filter
	if len(prog) == 0 || len(prog)%insnSize != 0 {
		return nil, errors.New("malformed seccomp program")
	}
	insns := make([]unix.SockFilter, len(prog)/insnSize)
	for i := range insns {
		b := prog[i*insnSize:]
		insns[i] = unix.SockFilter{
			Code: binary.NativeEndian.Uint16(b[0:]), Jt: b[2], Jf: b[3], K: binary.NativeEndian.Uint32(b[4:]),
		}
	}
	return &unix.SockFprog{Len: uint16(len(insns)), Filter: &insns[0]}, nil
}

// finalStep is what stage 2 does last, with raw system calls only: after
// RLIMIT_AS this Go program must neither allocate nor start a thread. It
// sets the late rlimits, loads the seccomp program (nil: none) on this
// thread and execs. It returns only on failure.
type finalStep struct {
	rlimits map[int]*unix.Rlimit
	fprog   *unix.SockFprog
	argv0   *byte
	argv    []*byte
	envv    []*byte
}

func newFinalStep(argv0 string, argv, env []string, fprog *unix.SockFprog) (*finalStep, error) {
	f := &finalStep{rlimits: map[int]*unix.Rlimit{}, fprog: fprog}
	var err error
	if f.argv0, err = unix.BytePtrFromString(argv0); err != nil {
		return nil, err
	}
	if f.argv, err = cStrings(argv); err != nil {
		return nil, err
	}
	if f.envv, err = cStrings(env); err != nil {
		return nil, err
	}
	return f, nil
}

// cStrings is a NULL-terminated array of C strings, as execve takes.
func cStrings(ss []string) ([]*byte, error) {
	out := make([]*byte, len(ss)+1)
	for i, s := range ss {
		p, err := unix.BytePtrFromString(s)
		if err != nil {
			return nil, err
		}
		out[i] = p
	}
	return out, nil
}

func (f *finalStep) run() error {
	// Tell the parent the tool is about to start: from here on, a failure
	// is reported after this mark, and no mark means a stage died.
	mark := []byte{ExecMark}
	if _, _, e := unix.RawSyscall(unix.SYS_WRITE, ErrorFD, uintptr(unsafe.Pointer(&mark[0])), 1); e != 0 {
		return fmt.Errorf("report exec: %w", e)
	}
	resetSignals()
	for res, lim := range f.rlimits {
		if _, _, e := unix.RawSyscall6(unix.SYS_PRLIMIT64, 0, uintptr(res), uintptr(unsafe.Pointer(lim)), 0, 0, 0); e != 0 {
			return fmt.Errorf("rlimit %d: %w", res, e)
		}
	}
	if f.fprog != nil {
		if _, _, e := unix.RawSyscall6(unix.SYS_PRCTL, unix.PR_SET_SECCOMP, unix.SECCOMP_MODE_FILTER,
			uintptr(unsafe.Pointer(f.fprog)), 0, 0, 0); e != 0 {
			return fmt.Errorf("seccomp: load filter: %w", e)
		}
	}
	_, _, e := unix.RawSyscall(unix.SYS_EXECVE, uintptr(unsafe.Pointer(f.argv0)),
		uintptr(unsafe.Pointer(&f.argv[0])), uintptr(unsafe.Pointer(&f.envv[0])))
	return fmt.Errorf("exec: %w", e)
}

// kernelSigaction is the kernel's struct sigaction on amd64 and arm64
// (both have sa_restorer); a zero handler is SIG_DFL.
type kernelSigaction struct {
	handler, flags, restorer uintptr
	mask                     uint64
}

// sigIgn is SIG_IGN.
const sigIgn = 1

// resetSignals gives the tool every signal at its default and none
// blocked: an ignored signal and the signal mask outlive exec, and this
// process may have inherited either from whoever started sablebox (a CI
// runner that ignores SIGPIPE or a real-time signal). Raw system calls
// only (see finalStep).
func resetSignals() {
	var old, dfl kernelSigaction
	for sig := uintptr(1); sig <= 64; sig++ {
		if sig == uintptr(unix.SIGKILL) || sig == uintptr(unix.SIGSTOP) {
			continue
		}
		if _, _, e := unix.RawSyscall6(unix.SYS_RT_SIGACTION, sig, 0, uintptr(unsafe.Pointer(&old)), 8, 0, 0); e != 0 {
			continue
		}
		if old.handler == sigIgn {
			_, _, _ = unix.RawSyscall6(unix.SYS_RT_SIGACTION, sig, uintptr(unsafe.Pointer(&dfl)), 0, 8, 0, 0)
		}
	}
	var none uint64
	_, _, _ = unix.RawSyscall6(unix.SYS_RT_SIGPROCMASK, unix.SIG_SETMASK, uintptr(unsafe.Pointer(&none)), 0, 8, 0, 0)
}
