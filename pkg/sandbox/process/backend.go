package process

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/sablebox/sablebox/pkg/sandbox"
	"github.com/sablebox/sablebox/pkg/sandbox/engine"
)

// Name is the backend's name.
const Name = "process"

// Options configure the backend. The zero value is usable.
type Options struct {
	// Require lists the layers a run must have (see AllLayers); a run on a
	// host that lacks one is refused. DefaultRequire when nil.
	Require []string
	// Python is the interpreter that runs tool files; /usr/bin/python3, or
	// python3 on PATH, when empty.
	Python string
	// Logger receives the backend's logs; it logs nothing when nil.
	Logger logrus.FieldLogger
}

// Backend runs tools as confined child processes.
type Backend struct {
	opts  Options
	log   logrus.FieldLogger
	owner sandbox.Owner
	now   func() time.Time

	mu       sync.Mutex
	compiled map[string][]byte // seccomp programs by profile digest
}

// bpf returns profile p compiled to a BPF program, compiling it once.
func (b *Backend) bpf(p *sandbox.SeccompProfile) ([]byte, error) {
	sum := p.SHA256()
	b.mu.Lock()
	defer b.mu.Unlock()
	if prog, ok := b.compiled[sum]; ok {
		return prog, nil
	}
	prog, err := compileSeccomp(p.JSON)
	if err != nil {
		return nil, fmt.Errorf("%w: seccomp: %v", sandbox.ErrUnavailable, err)
	}
	b.compiled[sum] = prog
	return prog, nil
}

var _ sandbox.Backend = (*Backend)(nil)

// New returns a process backend.
func New(opts Options) (*Backend, error) {
	if opts.Require == nil {
		opts.Require = DefaultRequire
	}
	for _, r := range opts.Require {
		if !contains(AllLayers, r) {
			return nil, fmt.Errorf("%w: unknown process layer %q (known: %s)", sandbox.ErrInvalidSpec, r, strings.Join(AllLayers, ", "))
		}
	}
	return &Backend{opts: opts, log: sandbox.Logger(opts.Logger), owner: sandbox.CurrentOwner(), now: time.Now, compiled: map[string][]byte{}}, nil
}

// Name returns "process".
func (b *Backend) Name() string { return Name }

// Check reports whether the required layers are there and the tool's
// interpreter can be found.
func (b *Backend) Check(context.Context) error {
	if _, err := makePlan(b.opts.Require); err != nil {
		return fmt.Errorf("%w: %v", sandbox.ErrUnavailable, err)
	}
	if _, err := b.python(); err != nil {
		return fmt.Errorf("%w: %v", sandbox.ErrUnavailable, err)
	}
	return nil
}

// Describe lists the layers this host gives and the ones it does not.
func (b *Backend) Describe(ctx context.Context) sandbox.Description {
	d := sandbox.Description{Name: Name, Details: map[string]string{}}
	if err := b.Check(ctx); err != nil {
		d.Reason = err.Error()
	} else {
		d.Usable = true
	}
	p, _ := makePlan(nil)
	for _, l := range AllLayers {
		if p.has[l] {
			d.Protections = append(d.Protections, l)
		}
	}
	for _, note := range p.degraded {
		name, why, _ := strings.Cut(note, ": ")
		d.Details["missing "+name] = why
	}
	d.Details["require"] = strings.Join(b.opts.Require, " ")
	if py, err := b.python(); err == nil {
		d.Details["python"] = py
	}
	return d
}

// python resolves the interpreter that runs tool files.
func (b *Backend) python() (string, error) {
	if b.opts.Python != "" {
		return filepath.EvalSymlinks(b.opts.Python)
	}
	if _, err := os.Stat("/usr/bin/python3"); err == nil {
		return "/usr/bin/python3", nil
	}
	p, err := exec.LookPath("python3")
	if err != nil {
		return "", errors.New("no python3 on this host: install it or set the interpreter")
	}
	return filepath.EvalSymlinks(p)
}

// Run runs spec as a confined process tree; see sandbox.Backend.
func (b *Backend) Run(ctx context.Context, spec *sandbox.Spec) (*sandbox.Result, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	p, err := makePlan(b.opts.Require)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", sandbox.ErrPolicy, err)
	}
	res, err := b.run(ctx, spec, p)
	if err != nil && ctx.Err() != nil {
		res, err = engine.CancelledResult(ctx, spec, Name), nil
	}
	if res != nil {
		res.Image = ""
		res.Degraded = append(res.Degraded, p.degraded...)
	}
	return res, err
}

func (b *Backend) run(ctx context.Context, spec *sandbox.Spec, p plan) (*sandbox.Result, error) {
	deadline := b.now().Add(spec.Limits.Timeout)
	name := runName(b.owner, deadline, spec.RunID)
	dir := filepath.Join(os.TempDir(), name)
	if err := os.Mkdir(dir, 0o711); err != nil {
		return nil, fmt.Errorf("run dir: %w", err)
	}
	defer func() {
		if err := os.RemoveAll(dir); err != nil {
			b.log.WithError(err).Error("run dir left behind; the next run's reaper removes it")
		}
	}()
	cfg, err := b.stageConfig(spec, p, dir)
	if err != nil {
		return nil, err
	}
	var cg *cgroup
	if p.has[LayerCgroup] {
		if cg, err = newCgroup(name, spec.Limits.MemoryBytes, spec.Limits.Pids+stageThreads); err != nil {
			return nil, err
		}
		defer func() {
			if err := cg.remove(); err != nil {
				b.log.WithError(err).Error("cgroup left behind; the next run's reaper removes it")
			}
		}()
	}
	return b.start(ctx, spec, p, cfg, cg)
}

// stageThreads is the headroom the pids cgroup gives sablebox's own stage
// processes (Go programs with a few threads each). The tool's own bound is
// RLIMIT_NPROC at the pids limit, counted in its user namespace.
const stageThreads = 32

// stageConfig lays out the run dir and says what the stages do.
func (b *Backend) stageConfig(spec *sandbox.Spec, p plan, dir string) (stageConfig, error) {
	cfg := stageConfig{
		Has: p.has, Root: filepath.Join(dir, "root"), Binds: map[string]string{},
		ToolDir: filepath.Join(dir, "tool"), Workspace: spec.Workspace, Output: spec.Output,
		HostTmp: filepath.Join(dir, "tmp"), HostHome: filepath.Join(dir, "home"),
		Limits:    spec.Limits,
		DropToUID: os.Geteuid() == 0 && !p.has[LayerUserNS],
		// As root, the host paths may not be searchable by the sandbox
		// user: hand over detached copies of their mounts instead (which
		// open_tree makes for privileged callers only).
		DetachedMounts: os.Geteuid() == 0 && p.has[LayerMountNS],
	}
	for _, d := range []string{cfg.Root, cfg.ToolDir, cfg.HostTmp, cfg.HostHome} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return cfg, fmt.Errorf("run dir: %w", err)
		}
	}
	// Without a user namespace, root hands the writable dirs to uid 1000.
	if cfg.DropToUID {
		for _, d := range []string{cfg.HostTmp, cfg.HostHome} {
			if err := os.Chown(d, sandbox.UID, sandbox.GID); err != nil {
				return cfg, err
			}
		}
	}
	if p.has[LayerSeccomp] {
		prog, err := b.bpf(spec.Seccomp)
		if err != nil {
			return cfg, err
		}
		cfg.SeccompBPF = prog
	}
	if p.has[LayerMountNS] {
		cfg.Paths = nsPaths
	} else {
		cfg.Paths = paths{Tmp: cfg.HostTmp, Home: cfg.HostHome, Tool: cfg.ToolDir, Workspace: spec.Workspace, Output: spec.Output}
		if err := os.Chmod(cfg.HostTmp, 0o1777); err != nil {
			return cfg, err
		}
	}
	if !p.has[LayerMountNS] && cfg.Paths.Workspace == "" {
		cfg.Paths.Workspace = cfg.Paths.Tmp
	} else if p.has[LayerMountNS] && spec.Workspace == "" {
		cfg.Paths.Workspace = nsPaths.Workspace
	}
	if p.has[LayerMountNS] && spec.Output == "" {
		cfg.Paths.Output = ""
	}

	pathEnv := "/usr/local/bin:/usr/bin:/bin"
	if spec.Tool != nil {
		if err := os.WriteFile(filepath.Join(cfg.ToolDir, spec.Tool.Name), spec.Tool.Content, 0o444); err != nil {
			return cfg, fmt.Errorf("write tool: %w", err)
		}
		py, err := b.python()
		if err != nil {
			return cfg, fmt.Errorf("%w: %v", sandbox.ErrUnavailable, err)
		}
		if prefix := filepath.Dir(filepath.Dir(py)); !strings.HasPrefix(py, "/usr/") {
			cfg.Binds[prefix] = prefix // an interpreter outside /usr (pyenv, a venv)
			pathEnv = filepath.Dir(py) + ":" + pathEnv
		}
		cfg.Argv = append([]string{py, "-I", filepath.Join(cfg.Paths.Tool, spec.Tool.Name)}, spec.Args...)
	} else {
		cfg.Argv = append(append([]string{}, spec.Command...), spec.Args...)
	}
	cfg.Env = append([]string{
		"HOME=" + cfg.Paths.Home, "PATH=" + pathEnv, "LANG=C.UTF-8", "TMPDIR=" + cfg.Paths.Tmp,
		"PYTHONDONTWRITEBYTECODE=1", "PYTHONUNBUFFERED=1",
	}, spec.Env...)
	return cfg, nil
}

// start runs stage 1 and supervises it to the end.
func (b *Backend) start(ctx context.Context, spec *sandbox.Spec, p plan, cfg stageConfig, cg *cgroup) (*sandbox.Result, error) {
	data, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	cfgR, cfgW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer cfgW.Close()
	errR, errW, err := os.Pipe()
	if err != nil {
		cfgR.Close()
		return nil, err
	}
	defer errR.Close()

	stdout, stderr := sandbox.NewCapture(spec.Limits.OutputBytes), sandbox.NewCapture(spec.Limits.OutputBytes)
	cmd := exec.Command("/proc/self/exe")
	cmd.Args = []string{initArg}
	cmd.Env = []string{}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = spec.Stdin, stdout, stderr
	cmd.ExtraFiles = []*os.File{cfgR, errW, nil, nil}
	for i, dir := range []string{spec.Workspace, spec.Output} {
		if dir == "" || !cfg.DetachedMounts {
			continue
		}
		// A detached copy of the dir's mount, which stage 1 attaches in its
		// own namespace: no path of ours needs to be searchable by it.
		fd, err := unix.OpenTree(unix.AT_FDCWD, dir, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_RECURSIVE)
		if err != nil {
			cfgR.Close()
			errW.Close()
			return nil, fmt.Errorf("%w: open %s: %v", sandbox.ErrUnavailable, dir, err)
		}
		f := os.NewFile(uintptr(fd), dir)
		defer f.Close()
		cmd.ExtraFiles[2+i] = f
	}
	cmd.SysProcAttr = sysProcAttr(p)
	cmd.WaitDelay = engine.DrainTimeout
	begun := time.Now()
	err = cmd.Start()
	cfgR.Close()
	errW.Close()
	if err != nil {
		return nil, fmt.Errorf("%w: start the sandbox: %v", sandbox.ErrUnavailable, err)
	}
	pid := cmd.Process.Pid
	killAll := func() {
		_ = syscall.Kill(pid, syscall.SIGKILL)  // pid 1 of its namespace: takes it all down
		_ = syscall.Kill(-pid, syscall.SIGKILL) // its session's process group
		if cg != nil {
			cg.kill() // and whatever escaped the group
		}
	}
	if cg != nil {
		if err := cg.add(pid); err != nil {
			killAll()
			_ = cmd.Wait()
			return nil, err
		}
	}
	// Stage 1 starts once it has its config: after it joined the cgroup.
	if _, err := cfgW.Write(data); err != nil {
		killAll()
		_ = cmd.Wait()
		return nil, fmt.Errorf("send stage config: %w", err)
	}
	cfgW.Close()

	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	res := engine.NewResult(spec, Name)
	timer := time.NewTimer(spec.Limits.Timeout)
	defer timer.Stop()
	select {
	case <-exited:
	case <-timer.C:
		res.Status, res.Reason = sandbox.StatusTimeout, fmt.Sprintf("killed after the %v timeout", spec.Limits.Timeout)
		killAll()
		<-exited
	case <-ctx.Done():
		res.Status, res.Reason = sandbox.StatusKilled, "cancelled: "+context.Cause(ctx).Error()
		killAll()
		<-exited
	}
	res.Duration = time.Since(begun)
	killAll() // nothing outlives the run, whatever it forked
	res.Stdout, res.Stderr = stdout.Output(), stderr.Output()

	// The error pipe holds the exec mark when the tool started, then any
	// failure of the last step; a failure of the setup alone; or nothing
	// when a stage died.
	msg, _ := io.ReadAll(io.LimitReader(errR, 4096))
	started := len(msg) > 0 && msg[0] == execMark
	if started {
		msg = msg[1:]
	}
	if res.Status == "" {
		switch {
		case len(msg) > 0:
			return nil, fmt.Errorf("%w: the process sandbox could not be set up here: %s", sandbox.ErrUnavailable, msg)
		case !started:
			return nil, fmt.Errorf("%w: the process sandbox's setup died (%s) before the tool started; stderr: %.300s",
				sandbox.ErrUnavailable, cmd.ProcessState, stderr.Output().Data)
		}
	}
	code := cmd.ProcessState.ExitCode()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		code = 128 + int(ws.Signal())
	}
	if res.Status == "" && cg != nil && cg.oomKilled() {
		res.Status = sandbox.StatusOOM
		res.Reason = fmt.Sprintf("out of memory: the limit is %d MiB", spec.Limits.MemoryBytes>>20)
	}
	res.Finish(code)
	return res, nil
}

// sysProcAttr starts stage 1 in a new session with the planned
// namespaces, and kills it if sablebox dies.
func sysProcAttr(p plan) *syscall.SysProcAttr {
	attr := &syscall.SysProcAttr{Setsid: true, Pdeathsig: syscall.SIGKILL}
	flags := map[string]uintptr{
		LayerUserNS: syscall.CLONE_NEWUSER, LayerMountNS: syscall.CLONE_NEWNS, LayerPidNS: syscall.CLONE_NEWPID,
		LayerNetNS: syscall.CLONE_NEWNET, LayerIPCNS: syscall.CLONE_NEWIPC | syscall.CLONE_NEWUTS,
	}
	for layer, f := range flags {
		if p.has[layer] {
			attr.Cloneflags |= f
		}
	}
	if p.has[LayerUserNS] {
		// The tool is uid 1000 inside; outside it is uid 1000 when sablebox
		// is root, else the user who runs sablebox.
		hostUID, hostGID := os.Getuid(), os.Getgid()
		if hostUID == 0 {
			hostUID, hostGID = sandbox.UID, sandbox.GID
		}
		attr.UidMappings = []syscall.SysProcIDMap{{ContainerID: sandbox.UID, HostID: hostUID, Size: 1}}
		attr.GidMappings = []syscall.SysProcIDMap{{ContainerID: sandbox.GID, HostID: hostGID, Size: 1}}
		attr.GidMappingsEnableSetgroups = os.Getuid() == 0
		// Become the mapped ids inside (no supplementary groups where
		// setgroups is allowed, that is as root).
		attr.Credential = &syscall.Credential{Uid: sandbox.UID, Gid: sandbox.GID, NoSetGroups: os.Getuid() != 0}
		// Capabilities in the new namespace do not survive the stages'
		// execs as uid 1000 unless ambient: keep the ones the stages need
		// (mounts, pivot_root, hostname; setgroups; dropping the bounding
		// set). Stage 2 clears every set before it execs the tool.
		attr.AmbientCaps = []uintptr{unix.CAP_SYS_ADMIN, unix.CAP_SETGID, unix.CAP_SETUID, unix.CAP_SETPCAP}
	}
	return attr
}

// Reap removes the run dirs and cgroups of runs whose owner died.
func (b *Backend) Reap(context.Context) (int, error) {
	now := b.now()
	boot := b.owner.BootID
	reaped := 0
	var errs []error
	entries, _ := os.ReadDir(os.TempDir())
	for _, e := range entries {
		labels, ok := labelsOf(e.Name(), boot)
		if !ok || !e.IsDir() {
			continue
		}
		if orphaned, _ := b.owner.Orphaned(labels, now); orphaned {
			if err := os.RemoveAll(filepath.Join(os.TempDir(), e.Name())); err != nil {
				errs = append(errs, err)
				continue
			}
			reaped++
		}
	}
	for name, dirs := range cgroupDirs() {
		labels, ok := labelsOf(name, boot)
		if !ok {
			continue
		}
		if orphaned, _ := b.owner.Orphaned(labels, now); orphaned {
			if err := (&cgroup{dirs: dirs, v2: unified()}).remove(); err != nil {
				errs = append(errs, err)
				continue
			}
			reaped++
		}
	}
	return reaped, errors.Join(errs...)
}

// Close does nothing: the backend holds no connections.
func (b *Backend) Close() error { return nil }

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
