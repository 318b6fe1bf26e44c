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
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/sablebox/sablebox/pkg/internal/engine"
	"github.com/sablebox/sablebox/pkg/sandbox"
	"github.com/sablebox/sablebox/pkg/sandbox/process/stage"
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

	stageOnce sync.Once
	stageBin  stageBinary

	viewOnce sync.Once
	python3  string   // the interpreter, resolved ("" when there is none)
	pyErr    error    // why there is none
	view     []string // what the tool sees of the host (hostView)
}

// hostView returns the interpreter and the tool's view of the host, found
// once: they are facts of the host, not of a run.
func (b *Backend) hostView() (python string, view []string, pyErr error) {
	b.viewOnce.Do(func() {
		b.python3, b.pyErr = b.python()
		b.view = hostView(b.python3)
	})
	return b.python3, b.view, b.pyErr
}

// stageBinary returns what runs the stages, loading it once.
func (b *Backend) stageBinary() stageBinary {
	b.stageOnce.Do(func() { b.stageBin = openStageBinary() })
	return b.stageBin
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
		if !slices.Contains(AllLayers, r) {
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
	if _, _, err := b.hostView(); err != nil {
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
	if py, _, err := b.hostView(); err == nil {
		d.Details["python"] = py
	}
	d.Details["stages"] = b.stageBinary().note
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
	var p plan // planned once the spec is valid
	return engine.Run(ctx, spec, engine.Lifecycle{Backend: Name, Degraded: func() []string { return p.degraded }},
		func(ctx context.Context, spec *sandbox.Spec) (*sandbox.Result, error) {
			var err error
			if p, err = makePlan(b.opts.Require); err != nil {
				return nil, fmt.Errorf("%w: %v", sandbox.ErrPolicy, err)
			}
			return b.run(ctx, spec, p)
		})
}

func (b *Backend) run(ctx context.Context, spec *sandbox.Spec, p plan) (*sandbox.Result, error) {
	// The seccomp program compiles (milliseconds) while the rest is set
	// up and stage 1 starts; stage 1 gets its config once it is ready.
	bpf := make(chan bpfResult, 1)
	if p.has[LayerSeccomp] {
		profile := spec.Seccomp // spec itself is replaced below when it carries files
		go func() {
			prog, err := b.bpf(profile)
			bpf <- bpfResult{prog, err}
		}()
	} else {
		bpf <- bpfResult{}
	}
	deadline := b.now().Add(spec.Limits.Timeout)
	name := runName(b.owner, deadline, spec.RunID)
	dir := filepath.Join(os.TempDir(), name)
	if err := os.Mkdir(dir, 0o711); err != nil {
		return nil, fmt.Errorf("run dir: %w", err)
	}
	defer func() {
		if err := removeRunDir(dir); err != nil {
			b.log.WithError(err).Error("run dir left behind; the next run's reaper removes it")
		}
	}()
	if len(spec.Files) > 0 {
		// Written into the run dir, then bound read-only like a workspace
		// directory.
		ws := filepath.Join(dir, "workspace")
		if err := writeFiles(ws, spec.Files); err != nil {
			return nil, fmt.Errorf("workspace files: %w", err)
		}
		withFiles := *spec
		withFiles.Workspace, withFiles.Files = ws, nil
		spec = &withFiles
	}
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
	return b.start(ctx, spec, p, cfg, cg, bpf)
}

// removeRunDir removes a run dir, making its read-only directories (the
// workspace files') writable first where that is what stops it.
func removeRunDir(dir string) error {
	if os.RemoveAll(dir) == nil {
		return nil
	}
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(p, 0o700)
		}
		return nil
	})
	return os.RemoveAll(dir)
}

// writeFiles writes files under dir, read-only (directories 0555), once
// every file is in place.
func writeFiles(dir string, files []sandbox.File) error {
	var dirs []string
	for _, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, f.Content, f.Mode()); err != nil {
			return err
		}
	}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, p)
		}
		return err
	})
	for _, d := range dirs {
		err = errors.Join(err, os.Chmod(d, 0o555))
	}
	return err
}

// bpfResult is a compiled seccomp program (nil: none), or why not.
type bpfResult struct {
	prog []byte
	err  error
}

// stageThreads is the headroom the pids cgroup gives sablebox's own stage
// processes (Go programs with a few threads each). The tool's own bound is
// RLIMIT_NPROC at the pids limit, counted in its user namespace.
const stageThreads = 32

// Paths inside the new root, as in the container backends.
var nsPaths = stage.Paths{
	Tmp: sandbox.TmpDir, Home: sandbox.HomeDir, Tool: sandbox.ToolDir,
	Workspace: sandbox.WorkspaceDir, Output: sandbox.OutputDir,
}

// stageConfig lays out the run dir and says what the stages do.
func (b *Backend) stageConfig(spec *sandbox.Spec, p plan, dir string) (stage.Config, error) {
	l := spec.Limits
	cfg := stage.Config{
		Apply: stage.Layers{
			MountNS: p.has[LayerMountNS], NetNS: p.has[LayerNetNS], Cgroup: p.has[LayerCgroup],
			Rlimits: p.has[LayerRlimits], NoNewPrivs: p.has[LayerNoNewPrivs], Landlock: p.has[LayerLandlock],
			Seccomp: p.has[LayerSeccomp],
		},
		Root: filepath.Join(dir, "root"), Binds: map[string]string{},
		ToolDir: filepath.Join(dir, "tool"), Workspace: spec.Workspace, Output: spec.Output,
		Limits: stage.Limits{
			Timeout: l.Timeout, MemoryBytes: l.MemoryBytes, Pids: l.Pids, NoFile: l.NoFile,
			TmpBytes: l.TmpBytes, HomeBytes: sandbox.HomeBytes,
		},
		UID: sandbox.UID, GID: sandbox.GID,
		DropIDs: os.Geteuid() == 0 && !p.has[LayerUserNS],
		// As root, the host paths may not be searchable by the sandbox
		// user: hand over detached copies of their mounts instead (which
		// open_tree makes for privileged callers only).
		DetachedMounts: os.Geteuid() == 0 && p.has[LayerMountNS],
	}
	// Without a mount namespace the tool's tmp and home are plain dirs here.
	hostTmp, hostHome := filepath.Join(dir, "tmp"), filepath.Join(dir, "home")
	for _, d := range []string{cfg.Root, cfg.ToolDir, hostTmp, hostHome} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return cfg, fmt.Errorf("run dir: %w", err)
		}
	}
	if p.has[LayerMountNS] {
		cfg.Paths = nsPaths
		if spec.Output == "" {
			cfg.Paths.Output = ""
		}
	} else {
		cfg.Paths = stage.Paths{Tmp: hostTmp, Home: hostHome, Tool: cfg.ToolDir, Workspace: spec.Workspace, Output: spec.Output}
		if cfg.Paths.Workspace == "" {
			cfg.Paths.Workspace = hostTmp
		}
		if err := os.Chmod(hostTmp, 0o1777); err != nil {
			return cfg, err
		}
		if cfg.DropIDs { // root hands the writable dirs to uid 1000
			for _, d := range []string{hostTmp, hostHome} {
				if err := os.Chown(d, sandbox.UID, sandbox.GID); err != nil {
					return cfg, err
				}
			}
		}
	}
	pathEnv := "/usr/bin:/bin" // the view has no /usr/local
	py, view, pyErr := b.hostView()
	cfg.View = view
	if spec.Tool != nil {
		if err := os.WriteFile(filepath.Join(cfg.ToolDir, spec.Tool.Name), spec.Tool.Content, 0o444); err != nil {
			return cfg, fmt.Errorf("write tool: %w", err)
		}
		argv := sandbox.Interpreter(spec.Tool.Lang)
		if argv[0] == "python3" {
			if pyErr != nil {
				return cfg, fmt.Errorf("%w: %v", sandbox.ErrUnavailable, pyErr)
			}
			if dir := filepath.Dir(py); dir != "/usr/bin" && dir != "/bin" {
				// An interpreter outside the view (/usr/local, pyenv, a
				// venv): its whole prefix is bound, as the README says.
				prefix := filepath.Dir(dir)
				cfg.Binds[prefix] = prefix
				pathEnv = dir + ":" + pathEnv
			}
			argv[0] = py
		} else if _, err := os.Stat(argv[0]); err != nil {
			return cfg, fmt.Errorf("%w: this host has no %s to run %s tools", sandbox.ErrUnavailable, argv[0], spec.Tool.Lang)
		}
		cfg.Argv = append(append(argv, filepath.Join(cfg.Paths.Tool, spec.Tool.Name)), spec.Args...)
	} else {
		cfg.Argv = append(append([]string{}, spec.Command...), spec.Args...)
	}
	cfg.Env = engine.ToolEnv(spec, cfg.Paths.Home, cfg.Paths.Tmp, pathEnv)
	return cfg, nil
}

// start runs stage 1 under engine.Supervise, the loop the container
// backends share, and checks that the tool itself ran.
func (b *Backend) start(ctx context.Context, spec *sandbox.Spec, p plan, cfg stage.Config, cg *cgroup, bpf <-chan bpfResult) (*sandbox.Result, error) {
	config := func() ([]byte, error) {
		compiled := <-bpf
		if compiled.err != nil {
			return nil, compiled.err
		}
		cfg.SeccompBPF = compiled.prog
		return json.Marshal(cfg)
	}
	cfgR, cfgW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer cfgR.Close()
	defer cfgW.Close()
	errR, errW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer errR.Close()
	defer errW.Close()

	out := engine.Output{
		// cmd.Wait has copied the output by the time it returns.
		Drained: closedChan, Abort: func() {},
	}
	out.Stdout, out.Stderr = spec.Captures()
	bin := b.stageBinary()
	cmd := exec.Command(bin.path)
	cmd.Args = []string{stage.InitArg}
	cmd.Env = []string{}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = spec.Stdin, out.Stdout, out.Stderr
	cmd.ExtraFiles = []*os.File{cfgR, errW, nil, nil, bin.file}
	cmd.SysProcAttr = sysProcAttr(p)
	cmd.WaitDelay = engine.DrainTimeout
	if cfg.DetachedMounts {
		for i, dir := range []string{spec.Workspace, spec.Output} {
			if dir == "" {
				continue
			}
			// A detached copy of the dir's mount, which stage 1 attaches in
			// its own namespace: no path of ours needs to be searchable by it.
			fd, err := unix.OpenTree(unix.AT_FDCWD, dir, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_RECURSIVE)
			if err != nil {
				return nil, fmt.Errorf("%w: open %s: %v", sandbox.ErrUnavailable, dir, err)
			}
			f := os.NewFile(uintptr(fd), dir)
			defer f.Close()
			cmd.ExtraFiles[2+i] = f
		}
	}
	c := &processContainer{cmd: cmd, cg: cg, config: config, cfgW: cfgW, childEnds: []*os.File{cfgR, errW}}
	// Whatever happens from here (an error, a panic a caller recovers), the
	// tree dies with the run and stage 1 is reaped.
	defer c.cleanup()

	res, err := engine.Supervise(ctx, spec, Name, c, out)
	if err != nil {
		return nil, err
	}
	c.killAll() // nothing outlives the run, whatever it forked
	// The error pipe holds the exec mark when the tool started, then any
	// failure of the last step; a failure of the setup alone; or nothing
	// when a stage died.
	msg, _ := io.ReadAll(io.LimitReader(errR, 4096))
	started := len(msg) > 0 && msg[0] == stage.ExecMark
	if started {
		msg = msg[1:]
	}
	if res.Status == sandbox.StatusOK || res.Status == sandbox.StatusFailed {
		switch {
		case len(msg) > 0:
			return nil, fmt.Errorf("%w: the process sandbox could not be set up here: %s", sandbox.ErrUnavailable, msg)
		case !started:
			return nil, fmt.Errorf("%w: the process sandbox's setup died (%s) before the tool started; stderr: %.300s",
				sandbox.ErrUnavailable, cmd.ProcessState, res.Stderr.Data)
		}
	}
	return res, nil
}

var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// processContainer drives stage 1 for engine.Supervise.
type processContainer struct {
	cmd       *exec.Cmd
	cg        *cgroup
	config    func() ([]byte, error) // stage 1's config, once it can be made
	cfgW      *os.File
	childEnds []*os.File // the pipe ends stage 1 holds, closed here once it runs
	started   bool

	waitOnce sync.Once // cmd.Wait, once: by Wait or by cleanup
	waitErr  error
}

func (c *processContainer) wait() error {
	c.waitOnce.Do(func() { c.waitErr = c.cmd.Wait() })
	return c.waitErr
}

// cleanup kills the tree and reaps stage 1.
func (c *processContainer) cleanup() {
	c.killAll()
	if c.started {
		_ = c.wait()
	}
}

// Start starts stage 1, puts it in the cgroup, then sends its config
// (once the seccomp program is compiled):
// stage 1 waits for the config, so the tool starts inside the cgroup.
func (c *processContainer) Start(context.Context) error {
	err := c.cmd.Start()
	for _, f := range c.childEnds {
		f.Close()
	}
	if err != nil {
		return fmt.Errorf("%w: %v", sandbox.ErrUnavailable, err)
	}
	c.started = true
	if c.cg != nil {
		if err := c.cg.add(c.cmd.Process.Pid); err != nil {
			return err
		}
	}
	config, err := c.config()
	if err != nil {
		return err
	}
	if _, err := c.cfgW.Write(config); err != nil {
		return fmt.Errorf("send stage config: %w", err)
	}
	return c.cfgW.Close()
}

// Wait waits for stage 1, which exits with the tool's status.
func (c *processContainer) Wait(context.Context) (int, error) {
	err := c.wait()
	if c.cmd.ProcessState == nil {
		return 0, fmt.Errorf("wait for the sandbox: %w", err)
	}
	if ws, ok := c.cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal()), nil
	}
	return c.cmd.ProcessState.ExitCode(), nil
}

// Kill kills the whole tree.
func (c *processContainer) Kill(context.Context) error {
	c.killAll()
	return nil
}

// OOMKilled reads the cgroup's OOM counter; without a cgroup there is no
// OOM kill (RLIMIT_AS makes allocations fail instead).
func (c *processContainer) OOMKilled(context.Context) (bool, error) {
	return c.cg != nil && c.cg.oomKilled(), nil
}

// killAll kills stage 1 (pid 1 of its namespace: that takes it all down),
// its session's process group, and whatever escaped into the cgroup.
func (c *processContainer) killAll() {
	if c.started {
		pid := c.cmd.Process.Pid
		_ = syscall.Kill(pid, syscall.SIGKILL)
		_ = syscall.Kill(-pid, syscall.SIGKILL)
	}
	if c.cg != nil {
		c.cg.kill()
	}
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
			if err := removeRunDir(filepath.Join(os.TempDir(), e.Name())); err != nil {
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
			if err := (&cgroup{dirs: dirs, v2: engine.CgroupV2Only()}).remove(); err != nil {
				errs = append(errs, err)
				continue
			}
			reaped++
		}
	}
	return reaped, errors.Join(errs...)
}

// Close releases the stage helper.
func (b *Backend) Close() error {
	b.stageOnce.Do(func() {}) // none to load from now on
	if f := b.stageBin.file; f != nil {
		return f.Close()
	}
	return nil
}
