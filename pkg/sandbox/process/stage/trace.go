package stage

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// TraceArg starts the tracer (argv[0]): `sablebox seccomp learn` runs
// stage 1 under it. argv[1] is the TraceAttr as JSON.
const TraceArg = "__sablebox-trace"

// TraceFD is where the tracer writes the syscall numbers the tool made,
// one per line, once stage 1 has exited.
const TraceFD = 8

// TraceAttr is how the tracer starts stage 1: the process attributes the
// parent would have given it.
type TraceAttr struct {
	Cloneflags                 uintptr
	UIDMap, GIDMap             []syscall.SysProcIDMap
	GidMappingsEnableSetgroups bool
	Credential                 *syscall.Credential
	AmbientCaps                []uintptr
}

// stageTrace runs stage 1 under ptrace, following every process and
// thread, and records the syscalls of those that run the tool: a task is
// the tool's once it execs with one more seccomp filter than the tracer
// has (stage 2 loads the profile right before its exec), and so is every
// task it starts. It exits with stage 1's status.
func stageTrace() {
	runtime.LockOSThread() // every ptrace request comes from this thread
	var attr TraceAttr
	if len(os.Args) != 2 || json.Unmarshal([]byte(os.Args[1]), &attr) != nil {
		fail(fmt.Errorf("tracer: bad arguments"))
	}
	out := os.NewFile(TraceFD, "trace")
	cmd := exec.Command("/proc/self/exe")
	cmd.Args = []string{InitArg}
	cmd.Env = []string{}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	for fd := ConfigFD; fd <= BinaryFD; fd++ {
		var f *os.File
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err == nil {
			f = os.NewFile(uintptr(fd), "inherited")
		}
		cmd.ExtraFiles = append(cmd.ExtraFiles, f)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Ptrace: true, Pdeathsig: syscall.SIGKILL, Cloneflags: attr.Cloneflags,
		UidMappings: attr.UIDMap, GidMappings: attr.GIDMap, GidMappingsEnableSetgroups: attr.GidMappingsEnableSetgroups,
		Credential: attr.Credential, AmbientCaps: attr.AmbientCaps,
	}
	_ = unix.SetNonblock(TraceFD, false)
	unix.CloseOnExec(TraceFD)
	if err := cmd.Start(); err != nil {
		fail(fmt.Errorf("tracer: start stage 1: %w", err))
	}
	for _, f := range cmd.ExtraFiles {
		if f != nil {
			f.Close()
		}
	}
	t := &tracer{root: cmd.Process.Pid, tasks: map[int]*task{}, seen: map[int]bool{}, filters: seccompFilters(os.Getpid())}
	status := t.run()
	w := bufio.NewWriter(out)
	for nr := range t.seen {
		fmt.Fprintln(w, nr)
	}
	_ = w.Flush()
	out.Close()
	os.Exit(status)
}

// task is what the tracer knows of one traced thread.
type task struct {
	tool      bool // runs the tool: its syscalls count
	inSyscall bool // between a syscall's entry and exit stops
	started   bool // its first stop was seen and it was let go
	parented  bool // its parent's clone event named it
	waiting   bool // stopped at its first stop before that event
}

type tracer struct {
	root    int
	tasks   map[int]*task
	seen    map[int]bool // syscall numbers the tool made
	filters int          // the tracer's own seccomp filters
}

func (t *tracer) task(pid int) *task {
	k := t.tasks[pid]
	if k == nil {
		k = &task{}
		t.tasks[pid] = k
	}
	return k
}

const traceOptions = unix.PTRACE_O_TRACESYSGOOD | unix.PTRACE_O_TRACECLONE | unix.PTRACE_O_TRACEFORK |
	unix.PTRACE_O_TRACEVFORK | unix.PTRACE_O_TRACEEXEC | unix.PTRACE_O_EXITKILL

// run follows every task until none is left, and returns stage 1's exit
// status as an exit code.
func (t *tracer) run() int {
	var ws unix.WaitStatus
	if _, err := unix.Wait4(t.root, &ws, unix.WALL, nil); err != nil || !ws.Stopped() {
		fail(fmt.Errorf("tracer: stage 1 did not stop at its exec"))
	}
	if err := unix.PtraceSetOptions(t.root, traceOptions); err != nil {
		fail(fmt.Errorf("tracer: %w", err))
	}
	root := t.task(t.root)
	root.started, root.parented = true, true
	_ = unix.PtraceSyscall(t.root, 0)
	status := ExitSetup
	for {
		pid, err := unix.Wait4(-1, &ws, unix.WALL, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return status // ECHILD: every task is gone
		}
		k := t.task(pid)
		switch {
		case ws.Exited() || ws.Signaled():
			delete(t.tasks, pid)
			if pid == t.root {
				status = ws.ExitStatus()
				if ws.Signaled() {
					status = 128 + int(ws.Signal())
				}
			}
		case !ws.Stopped():
		case ws.StopSignal() == unix.SIGTRAP|0x80:
			k.inSyscall = !k.inSyscall
			if k.inSyscall && k.tool {
				if nr, err := syscallNumber(pid); err == nil {
					t.seen[nr] = true
				}
			}
			_ = unix.PtraceSyscall(pid, 0)
		case ws.StopSignal() == unix.SIGTRAP && ws.TrapCause() > 0:
			t.event(pid, k, ws.TrapCause())
			_ = unix.PtraceSyscall(pid, 0)
		case !k.started:
			// A new task's first stop: it may run only once its parent's
			// event has said whose it is.
			if k.parented {
				k.started = true
				_ = unix.PtraceSyscall(pid, 0)
			} else {
				k.waiting = true
			}
		default:
			_ = unix.PtraceSyscall(pid, int(ws.StopSignal())) // deliver it
		}
	}
}

// event handles a ptrace event stop of task k.
func (t *tracer) event(pid int, k *task, cause int) {
	switch cause {
	case unix.PTRACE_EVENT_CLONE, unix.PTRACE_EVENT_FORK, unix.PTRACE_EVENT_VFORK:
		msg, err := unix.PtraceGetEventMsg(pid)
		if err != nil {
			return
		}
		child := t.task(int(msg))
		child.tool, child.parented = k.tool, true
		if child.waiting {
			child.waiting, child.started = false, true
			_ = unix.PtraceSyscall(int(msg), 0)
		}
	case unix.PTRACE_EVENT_EXEC:
		if !k.tool && seccompFilters(pid) > t.filters {
			k.tool = true
			if nr, err := syscallNumber(pid); err == nil {
				t.seen[nr] = true // the exec itself
			}
		}
	}
}

// seccompFilters is how many seccomp filters task pid has (its mode, 0 or
// 2, where the kernel does not count them).
func seccompFilters(pid int) int {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	mode := 0
	for _, line := range strings.Split(string(data), "\n") {
		key, value, _ := strings.Cut(line, ":")
		n, _ := strconv.Atoi(strings.TrimSpace(value))
		switch key {
		case "Seccomp_filters":
			return n
		case "Seccomp":
			mode = n
		}
	}
	return mode
}
