package stage

import "golang.org/x/sys/unix"

// syscallNumber is the syscall a task stopped at its entry is making.
func syscallNumber(pid int) (int, error) {
	var regs unix.PtraceRegsArm64
	if err := unix.PtraceGetRegSetArm64(pid, unix.NT_PRSTATUS, &regs); err != nil {
		return 0, err
	}
	return int(regs.Regs[8]), nil
}
