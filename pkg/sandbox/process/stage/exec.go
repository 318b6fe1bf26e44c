package stage

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/landlock-lsm/go-landlock/landlock"
	llsyscall "github.com/landlock-lsm/go-landlock/landlock/syscall"
	"golang.org/x/sys/unix"
)

// stageExec is stage 2: it applies the in-process restrictions to its
// own (locked) thread, seccomp last, and execs the tool.
func stageExec() {
	// Every restriction below is per thread: all of them, and the exec,
	// happen on this one.
	runtime.LockOSThread()
	debug.SetGCPercent(-1) // no collector at work while the limits tighten
	cfg, _ := readConfig()
	if err := restrictAndExec(cfg); err != nil {
		fail(err)
	}
}

func restrictAndExec(cfg Config) error {
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(syscall.SIGKILL), 0, 0, 0); err != nil {
		return fmt.Errorf("pdeathsig: %w", err)
	}
	argv0, err := lookPath(cfg.Argv[0], cfg.Env)
	if err != nil {
		return err
	}
	var fprog *unix.SockFprog
	if cfg.Apply.Seccomp {
		if fprog, err = bpfProgram(cfg.SeccompBPF); err != nil {
			return fmt.Errorf("seccomp: %w", err)
		}
	}
	final, err := newFinalStep(argv0, cfg.Argv, cfg.Env, fprog)
	if err != nil {
		return err
	}
	// In a user namespace the parent made us cfg.UID (and cleared the
	// groups where setgroups is allowed); without one, root drops here.
	if cfg.DropIDs {
		if err := dropTo(cfg.UID, cfg.GID); err != nil {
			return err
		}
	}
	if err := unix.Chdir(cfg.Paths.Workspace); err != nil {
		if err := unix.Chdir(cfg.Paths.Tmp); err != nil {
			return fmt.Errorf("chdir: %w", err)
		}
	}
	// Everything inherited closes on exec. (Closing now could close the Go
	// runtime's own descriptors, which reuse the numbers.)
	if err := unix.CloseRange(ConfigFD, ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err != nil {
		return fmt.Errorf("close inherited descriptors: %w", err)
	}
	if cfg.Apply.NoNewPrivs {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return fmt.Errorf("no_new_privs: %w", err)
		}
	}
	if err := dropCapabilities(); err != nil {
		return err
	}
	if cfg.Apply.Landlock {
		if err := landlockRestrict(cfg); err != nil {
			return fmt.Errorf("landlock: %w", err)
		}
	}
	// The rlimits come late, and those that could stop this Go program
	// itself (address space, processes) in the final raw step with the
	// seccomp program, right before the exec.
	if cfg.Apply.Rlimits {
		if err := setRlimits(cfg, final); err != nil {
			return fmt.Errorf("rlimits: %w", err)
		}
	}
	if err := final.run(); err != nil {
		return fmt.Errorf("%s: %w", cfg.Argv[0], err)
	}
	return nil
}

// lookPath finds file on the PATH in env.
func lookPath(file string, env []string) (string, error) {
	if strings.Contains(file, "/") {
		return file, nil
	}
	path := ""
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			path = v
		}
	}
	for _, dir := range filepath.SplitList(path) {
		p := filepath.Join(dir, file)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: not found on the sandbox's PATH (%s)", file, path)
}

// setRlimits bounds CPU time, core dumps, open files and file size now,
// and leaves memory (where no cgroup does) and processes to final.
func setRlimits(cfg Config, final *finalStep) error {
	l := cfg.Limits
	cpu := uint64((l.Timeout + time.Second - 1) / time.Second) // CPU time never exceeds wall time
	limits := map[int]uint64{
		unix.RLIMIT_CPU:    cpu + 1,
		unix.RLIMIT_CORE:   0,
		unix.RLIMIT_NOFILE: l.NoFile,
		unix.RLIMIT_FSIZE:  uint64(l.TmpBytes),
		unix.RLIMIT_STACK:  l.StackBytes,
	}
	for res, v := range limits {
		if err := unix.Setrlimit(res, &unix.Rlimit{Cur: v, Max: v}); err != nil {
			return fmt.Errorf("resource %d: %w", res, err)
		}
	}
	if !cfg.Apply.Cgroup {
		final.rlimits[unix.RLIMIT_AS] = &unix.Rlimit{Cur: uint64(l.MemoryBytes), Max: uint64(l.MemoryBytes)}
	}
	nproc, err := nprocLimit(l.Pids)
	if err != nil {
		return err
	}
	final.rlimits[unix.RLIMIT_NPROC] = &unix.Rlimit{Cur: nproc, Max: nproc}
	return nil
}

// nprocLimit is RLIMIT_NPROC for a tool bounded at pids processes and
// threads. The limit counts every task of the user (in the user namespace,
// when there is one), so stage 1's threads are added.
func nprocLimit(pids int64) (uint64, error) {
	stage1, err := threads(os.Getppid())
	if err != nil {
		return 0, err
	}
	return uint64(stage1) + uint64(pids), nil
}

// threads reads how many threads process pid has.
func threads(pid int) (int, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "Threads:"); ok {
			var n int
			_, err := fmt.Sscan(v, &n)
			return n, err
		}
	}
	return 0, errors.New("no thread count in /proc status")
}

// dropTo becomes uid and gid with no supplementary groups.
func dropTo(uid, gid int) error {
	if err := unix.Setgroups(nil); err != nil {
		return fmt.Errorf("setgroups: %w", err)
	}
	if err := unix.Setresgid(gid, gid, gid); err != nil {
		return fmt.Errorf("setresgid: %w", err)
	}
	if err := unix.Setresuid(uid, uid, uid); err != nil {
		return fmt.Errorf("setresuid: %w", err)
	}
	return nil
}

// dropCapabilities empties the bounding, ambient, effective, permitted and
// inheritable sets of this thread.
func dropCapabilities() error {
	for c := 0; c <= 63; c++ {
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.EPERM) {
			return fmt.Errorf("drop bounding capability %d: %w", c, err)
		}
	}
	_ = unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("drop capabilities: %w", err)
	}
	return nil
}

// landlockRestrict lets the tool read only what it needs and write only
// its own dirs.
func landlockRestrict(cfg Config) error {
	p := cfg.Paths
	ro := []string{p.Tool}
	var roFiles []string
	for _, v := range cfg.View {
		if st, err := os.Stat(v); err == nil && !st.IsDir() {
			roFiles = append(roFiles, v)
		} else {
			ro = append(ro, v)
		}
	}
	for inside := range cfg.Binds {
		ro = append(ro, inside)
	}
	if p.Workspace != "" {
		ro = append(ro, p.Workspace)
	}
	rw := []string{p.Tmp, p.Home}
	if p.Output != "" {
		rw = append(rw, p.Output)
	}
	if cfg.Apply.MountNS {
		rw = append(rw, "/dev/shm")
	}
	rules := []landlock.Rule{
		landlock.RODirs(ro...).IgnoreIfMissing(),
		landlock.ROFiles(roFiles...).IgnoreIfMissing(),
		landlock.RODirs("/proc", "/sys").IgnoreIfMissing(),
		landlock.RWDirs(rw...),
		landlock.RWFiles("/dev/null", "/dev/zero", "/dev/full").IgnoreIfMissing(),
		landlock.ROFiles("/dev/random", "/dev/urandom").IgnoreIfMissing(),
	}
	fd, flags, err := landlock.V5.BestEffort().NewRulesetFD(rules...)
	if err != nil {
		return err
	}
	if fd < 0 {
		return errors.New("nothing to enforce: Landlock is unavailable")
	}
	defer unix.Close(fd)
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return err
	}
	return llsyscall.LandlockRestrictSelf(fd, flags)
}
