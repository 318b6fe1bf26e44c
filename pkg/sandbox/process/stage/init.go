package stage

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"

	"golang.org/x/sys/unix"
)

// stageInit is stage 1: pid 1 of the new pid namespace. It builds the new
// root, starts stage 2, reaps every child, and exits with the tool's
// status (128+signal when a signal ended it).
func stageInit() {
	cfg, data := readConfig()
	if cfg.Apply.MountNS {
		if err := buildRoot(cfg); err != nil {
			fail(fmt.Errorf("build the sandbox root: %w", err))
		}
	}
	if cfg.Apply.MountNS && cfg.Apply.NetNS {
		_ = unix.Sethostname([]byte("sablebox"))
	}
	// Stage 2 gets its config and the error pipe, nothing else we hold.
	if err := unix.CloseRange(WorkspaceFD, ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err != nil {
		fail(fmt.Errorf("close inherited descriptors: %w", err))
	}
	cfgR, cfgW, err := os.Pipe()
	if err != nil {
		fail(err)
	}
	cmd := exec.Command("/proc/self/exe")
	cmd.Args = []string{ExecArg}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	errW := os.NewFile(ErrorFD, "errors")
	cmd.ExtraFiles = []*os.File{cfgR, errW}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		fail(fmt.Errorf("start stage 2: %w", err))
	}
	cfgR.Close()
	// The error pipe is stage 2's now; the tool shares our uid and must not
	// find a way to it through us.
	errW.Close()
	_, _ = cfgW.Write(data)
	cfgW.Close()

	// Reap everything; leave with the tool's status.
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, 0, nil)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			os.Exit(ExitSetup) // cannot happen while our child lives
		}
		if pid != cmd.Process.Pid {
			continue
		}
		if ws.Signaled() {
			os.Exit(128 + int(ws.Signal()))
		}
		os.Exit(ws.ExitStatus())
	}
}
