package stage

import "golang.org/x/sys/unix"

// syscallNumber is the syscall a task stopped at its entry is making.
func syscallNumber(pid int) (int, error) {
	var regs unix.PtraceRegs
	if err := unix.PtraceGetRegs(pid, &regs); err != nil {
		return 0, err
	}
	return int(regs.Orig_rax), nil
}
