package process

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/sablebox/sablebox/pkg/internal/cgroup"
	"github.com/sablebox/sablebox/pkg/internal/engine"
	"github.com/sablebox/sablebox/pkg/internal/lifecycle"
	"github.com/sablebox/sablebox/pkg/metrics"
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
	// Metrics receive the backend's sandboxes; none are reported when nil.
	Metrics *metrics.Runs
	// Learn, when set, runs every tool under a ptrace tracer (see
	// stage.TraceArg) and hands it the numbers of the syscalls the tool
	// made, after the run: `sablebox seccomp learn`. It needs ptrace of
	// the sandbox's own processes (root, or a kernel whose Yama scope
	// lets a parent trace its children).
	Learn func(runID string, syscalls []int)
	// CgroupParent is the cgroup, relative to each hierarchy's root, that
	// holds the runs' cgroups; DefaultCgroupParent when empty.
	CgroupParent string
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
	if prog := precompiled(sum); prog != nil {
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
	if opts.CgroupParent == "" {
		opts.CgroupParent = DefaultCgroupParent
	}
	if err := checkCgroupParent(opts.CgroupParent); err != nil {
		return nil, fmt.Errorf("%w: process cgroup parent %q: %v", sandbox.ErrInvalidSpec, opts.CgroupParent, err)
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
		p, err := filepath.EvalSymlinks(b.opts.Python)
		if err != nil {
			return "", fmt.Errorf("the interpreter %s set by process-python is not there (%w): install it or change the setting", b.opts.Python, errors.Unwrap(err))
		}
		return p, nil
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
	return lifecycle.Run(ctx, driver{b}, spec)
}

// Prepare lays out spec's sandbox, to be run later; see sandbox.Backend.
func (b *Backend) Prepare(ctx context.Context, spec *sandbox.Spec) (sandbox.Prepared, error) {
	return lifecycle.Prepare(ctx, driver{b}, spec, sandbox.PreparedWait)
}

// driver is the process backend as the lifecycle drives it.
type driver struct{ b *Backend }

func (d driver) Name() string            { return Name }
func (d driver) Images() bool            { return false }
func (d driver) Log() logrus.FieldLogger { return d.b.log }
func (d driver) Metrics() *metrics.Runs  { return d.b.opts.Metrics }

// Prepare plans the layers, lays out the run dir (named to live until
// deadline), makes the cgroup and readies stage 1, which Start starts.
func (d driver) Prepare(_ context.Context, spec *sandbox.Spec, deadline time.Time) (lifecycle.Sandbox, error) {
	b := d.b
	p, err := makePlan(b.opts.Require)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", sandbox.ErrPolicy, err)
	}
	if spec.Seccomp.Unconfined && p.has[LayerSeccomp] {
		p.has[LayerSeccomp] = false // the runner notes it in the result
	}
	s := &stage1{b: b, plan: p, bpf: make(chan bpfResult, 1)}
	if p.has[LayerCgroup] {
		cgroup.PrimeMigration()
	}
	// The stage binary is copied into a memfd once (milliseconds): start
	// that too while the rest is set up; readyCommand waits for it.
	go b.stageBinary()
	// The seccomp program compiles (milliseconds) while the rest is set
	// up and stage 1 starts; stage 1 gets its config once it is ready.
	if p.has[LayerSeccomp] {
		go func() {
			prog, err := b.bpf(spec.Seccomp)
			s.bpf <- bpfResult{prog, err}
		}()
	} else {
		s.bpf <- bpfResult{}
	}
	name := runName(b.owner, deadline, spec.RunID)
	s.dir = filepath.Join(os.TempDir(), name)
	if err := os.Mkdir(s.dir, 0o711); err != nil {
		return nil, fmt.Errorf("run dir: %w", err)
	}
	if err := s.prepare(spec, name); err != nil {
		_ = s.Remove()
		return nil, err
	}
	return s, nil
}

// prepare does the part of Prepare that leaves things to remove.
func (s *stage1) prepare(spec *sandbox.Spec, name string) error {
	if len(spec.Files) > 0 {
		// Put writes them here; stage 1 binds it read-only like a
		// workspace directory.
		s.workspace = filepath.Join(s.dir, "workspace")
		if err := os.Mkdir(s.workspace, 0o755); err != nil {
			return fmt.Errorf("run dir: %w", err)
		}
		withFiles := *spec
		withFiles.Workspace = s.workspace
		spec = &withFiles
	}
	cfg, err := s.b.stageConfig(spec, s.plan, s.dir)
	if err != nil {
		return err
	}
	s.cfg = cfg
	if s.plan.has[LayerCgroup] {
		if s.cg, err = cgroup.New(s.b.opts.CgroupParent, name, spec.Limits.MemoryBytes, spec.Limits.Pids+stageThreads); err != nil {
			return err
		}
	}
	return s.readyCommand(spec)
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
		ToolDir: filepath.Join(dir, "tool"), Workspace: spec.Workspace,
		Limits: stage.Limits{
			Timeout: l.Timeout, MemoryBytes: l.MemoryBytes, Pids: l.Pids, NoFile: l.NoFile,
			TmpBytes: l.TmpBytes, HomeBytes: sandbox.HomeBytes, StackBytes: sandbox.StackBytes,
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
	if spec.Output {
		// The tool's output dir is the run's own, never a host dir of the
		// caller's: Output reads it back. As root it is uid 1000's (the
		// sandbox user, outside too); otherwise the caller's, who is the
		// sandbox user inside the user namespace.
		cfg.Output = filepath.Join(dir, "output")
		if err := os.Mkdir(cfg.Output, 0o700); err != nil {
			return cfg, fmt.Errorf("run dir: %w", err)
		}
		if os.Geteuid() == 0 {
			if err := os.Chown(cfg.Output, sandbox.UID, sandbox.GID); err != nil {
				return cfg, fmt.Errorf("run dir: %w", err)
			}
		}
	}
	if p.has[LayerMountNS] {
		cfg.Paths = nsPaths
		if !spec.Output {
			cfg.Paths.Output = ""
		}
	} else {
		cfg.Paths = stage.Paths{Tmp: hostTmp, Home: hostHome, Tool: cfg.ToolDir, Workspace: spec.Workspace, Output: cfg.Output}
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

// stage1 is one prepared process sandbox: its run dir, its cgroup and
// the command that starts stage 1.
type stage1 struct {
	b         *Backend
	plan      plan
	dir       string // the run dir
	workspace string // where Put writes the workspace files; "" for none
	cfg       stage.Config
	cg        *cgroup.Group
	bpf       chan bpfResult
	cmd       *exec.Cmd
	cfgW      *os.File   // stage 1's config goes here
	errR      *os.File   // stage 1's exec mark and setup errors come from here
	childEnds []*os.File // the ends stage 1 holds, closed here once it runs
	started   bool
	killedCPU time.Duration // the tree's CPU time when it was killed

	waitOnce sync.Once // cmd.Wait, once: by Wait or by Remove
	waitErr  error

	learned chan []int // the tracer's record, with Options.Learn
	learnID string
}

// readyCommand makes the command that starts stage 1 with its pipes and
// mounts; Start starts it.
func (s *stage1) readyCommand(spec *sandbox.Spec) error {
	cfgR, cfgW, err := os.Pipe()
	if err != nil {
		return err
	}
	s.cfgW, s.childEnds = cfgW, append(s.childEnds, cfgR)
	errR, errW, err := os.Pipe()
	if err != nil {
		return err
	}
	s.errR, s.childEnds = errR, append(s.childEnds, errW)
	bin := s.b.stageBinary()
	cmd := exec.Command(bin.path)
	cmd.Args = []string{stage.InitArg}
	cmd.Env = []string{}
	cmd.ExtraFiles = []*os.File{cfgR, errW, nil, nil, bin.file}
	cmd.SysProcAttr = sysProcAttr(s.plan)
	if s.b.opts.Learn != nil {
		if err := s.traced(cmd, spec.RunID); err != nil {
			return err
		}
	}
	cmd.WaitDelay = lifecycle.DrainTimeout
	s.cmd = cmd
	if s.cfg.DetachedMounts {
		for i, dir := range []string{spec.Workspace, s.cfg.Output} {
			if dir == "" {
				continue
			}
			// A detached copy of the dir's mount, which stage 1 attaches in
			// its own namespace: no path of ours needs to be searchable by
			// it. Files written to the dir later show through it.
			fd, err := unix.OpenTree(unix.AT_FDCWD, dir, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_RECURSIVE)
			if err != nil {
				return fmt.Errorf("%w: open %s: %v", sandbox.ErrUnavailable, dir, err)
			}
			f := os.NewFile(uintptr(fd), dir)
			s.childEnds = append(s.childEnds, f)
			cmd.ExtraFiles[2+i] = f
		}
	}
	return nil
}

// Degraded lists the layers this host lacks.
func (s *stage1) Degraded() []string { return s.plan.degraded }

// Put writes the tool file and the workspace files into the run dir.
func (s *stage1) Put(_ context.Context, tool *sandbox.ToolFile, files []sandbox.File) error {
	if tool != nil {
		if err := engine.WriteTool(s.cfg.ToolDir, tool); err != nil {
			return err
		}
	}
	if len(files) > 0 {
		if err := engine.WriteFiles(s.workspace, files); err != nil {
			return err
		}
	}
	return nil
}

// Attach hands the streams to stage 1; exec.Cmd copies the output, and
// has copied it all when Wait returns.
func (s *stage1) Attach(_ context.Context, stdin io.Reader, stdout, stderr io.Writer) (lifecycle.Streams, error) {
	s.cmd.Stdin, s.cmd.Stdout, s.cmd.Stderr = stdin, stdout, stderr
	return lifecycle.Streams{}, nil
}

func (s *stage1) wait() error {
	s.waitOnce.Do(func() {
		s.waitErr = s.cmd.Wait()
		if s.learned != nil && s.started {
			s.b.opts.Learn(s.learnID, <-s.learned)
		}
	})
	return s.waitErr
}

// Start starts stage 1, puts it in the cgroup, then sends its config
// (once the seccomp program is compiled): stage 1 waits for the config,
// so the tool starts inside the cgroup.
func (s *stage1) Start(context.Context) error {
	err := s.cmd.Start()
	for _, f := range s.childEnds {
		f.Close()
	}
	s.childEnds = nil
	if err != nil {
		return fmt.Errorf("%w: %v", sandbox.ErrUnavailable, err)
	}
	s.started = true
	if s.cg != nil {
		if err := s.cg.Add(s.cmd.Process.Pid); err != nil {
			return err
		}
	}
	compiled := <-s.bpf
	if compiled.err != nil {
		return compiled.err
	}
	s.cfg.SeccompBPF = compiled.prog
	config, err := json.Marshal(s.cfg)
	if err != nil {
		return err
	}
	if _, err := s.cfgW.Write(config); err != nil {
		return fmt.Errorf("send stage config: %w", err)
	}
	return s.cfgW.Close()
}

// Wait waits for stage 1, which exits with the tool's status.
func (s *stage1) Wait(context.Context) (int, error) {
	err := s.wait()
	if s.cmd.ProcessState == nil {
		return 0, fmt.Errorf("wait for the sandbox: %w", err)
	}
	if ws, ok := s.cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal()), nil
	}
	return s.cmd.ProcessState.ExitCode(), nil
}

// Kill kills the whole tree.
func (s *stage1) Kill(context.Context) error {
	if s.cg != nil {
		// What the live tree used, before it dies unreaped.
		s.killedCPU = treeCPU(s.cg.Procs())
	}
	s.killAll()
	return nil
}

// CPUTime is stage 1's rusage: it is the init of the tool's tree and
// reaps all of it, so the tree's CPU time is in it; for a tree killed
// before it was reaped, what its cgroup's processes had used then.
func (s *stage1) CPUTime() (time.Duration, bool) {
	if s.cmd.ProcessState == nil {
		return 0, false
	}
	return max(s.cmd.ProcessState.UserTime()+s.cmd.ProcessState.SystemTime(), s.killedCPU), true
}

// treeCPU sums the CPU time of live processes and of the children each
// has reaped (/proc/PID/stat utime, stime, cutime, cstime).
func treeCPU(pids []int) time.Duration {
	var ticks int64
	for _, pid := range pids {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		s := string(data)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(fields) < 15 {
			continue
		}
		for _, f := range fields[11:15] { // utime stime cutime cstime: fields 14 to 17
			n, _ := strconv.ParseInt(f, 10, 64)
			ticks += n
		}
	}
	return time.Duration(ticks) * time.Second / clockTicks
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat's times on Linux.
const clockTicks = 100

// OOMKilled reads the cgroup's OOM counter; without a cgroup there is no
// OOM kill (RLIMIT_AS makes allocations fail instead).
func (s *stage1) OOMKilled(context.Context) (bool, error) {
	return s.cg != nil && s.cg.OOMKilled(), nil
}

// Output reads back the run's output dir, once nothing of the run is
// left to change it.
func (s *stage1) Output(context.Context) (*engine.Collected, error) {
	s.killAll()
	return engine.CollectDir(s.cfg.Output)
}

// Verify checks that the tool itself ran. The error pipe holds the exec
// mark when the tool started, then any failure of the last step; a
// failure of the setup alone; or nothing when a stage died.
func (s *stage1) Verify(res *sandbox.Result) error {
	s.killAll() // nothing outlives the run, whatever it forked: the pipe ends
	msg, _ := io.ReadAll(io.LimitReader(s.errR, 4096))
	started := len(msg) > 0 && msg[0] == stage.ExecMark
	if started {
		msg = msg[1:]
	}
	switch {
	case len(msg) > 0:
		return fmt.Errorf("%w: the process sandbox could not be set up here: %s", sandbox.ErrUnavailable, msg)
	case !started:
		return fmt.Errorf("%w: the process sandbox's setup died (%s) before the tool started; stderr: %.300s",
			sandbox.ErrUnavailable, s.cmd.ProcessState, res.Stderr.Data)
	}
	return nil
}

// killAll kills stage 1 (pid 1 of its namespace: that takes it all down),
// its session's process group, and whatever escaped into the cgroup.
func (s *stage1) killAll() {
	if s.started {
		pid := s.cmd.Process.Pid
		_ = syscall.Kill(pid, syscall.SIGKILL)
		_ = syscall.Kill(-pid, syscall.SIGKILL)
	}
	if s.cg != nil {
		s.cg.Kill()
	}
}

// Remove kills the tree, reaps stage 1, and removes the cgroup and the
// run dir.
func (s *stage1) Remove() error {
	s.killAll()
	if s.started {
		_ = s.wait()
	}
	for _, f := range append(s.childEnds, s.cfgW, s.errR) {
		if f != nil {
			f.Close()
		}
	}
	var errs []error
	if s.cg != nil {
		if err := s.cg.Remove(); err != nil {
			errs = append(errs, fmt.Errorf("cgroup: %w", err))
		}
	}
	if err := removeRunDir(s.dir); err != nil {
		errs = append(errs, fmt.Errorf("run dir: %w", err))
	}
	return errors.Join(errs...)
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
	for name, dirs := range cgroup.List(b.opts.CgroupParent) {
		labels, ok := labelsOf(name, boot)
		if !ok {
			continue
		}
		if orphaned, _ := b.owner.Orphaned(labels, now); orphaned {
			if err := cgroup.Open(dirs).Remove(); err != nil {
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

// traced makes cmd start the tracer, which starts stage 1 with cmd's
// attributes under ptrace, and reads what it records once it ends.
func (s *stage1) traced(cmd *exec.Cmd, runID string) error {
	a := cmd.SysProcAttr
	attr, err := json.Marshal(stage.TraceAttr{Cloneflags: a.Cloneflags, UIDMap: a.UidMappings, GIDMap: a.GidMappings,
		GidMappingsEnableSetgroups: a.GidMappingsEnableSetgroups, Credential: a.Credential, AmbientCaps: a.AmbientCaps})
	if err != nil {
		return err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	cmd.Args = []string{stage.TraceArg, string(attr)}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Pdeathsig: syscall.SIGKILL}
	cmd.ExtraFiles = append(cmd.ExtraFiles, w) // stage.TraceFD
	s.childEnds = append(s.childEnds, w)
	s.learned = make(chan []int, 1)
	go func() {
		defer r.Close()
		var nums []int
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			if n, err := strconv.Atoi(sc.Text()); err == nil {
				nums = append(nums, n)
			}
		}
		s.learned <- nums
	}()
	s.learnID = runID
	return nil
}
