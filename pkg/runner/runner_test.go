package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"

	"github.com/sablebox/sablebox/pkg/analysis"
	"github.com/sablebox/sablebox/pkg/audit"
	"github.com/sablebox/sablebox/pkg/image"
	"github.com/sablebox/sablebox/pkg/pool"
	"github.com/sablebox/sablebox/pkg/sandbox"
	"github.com/sablebox/sablebox/pkg/sandbox/docker"
	"github.com/sablebox/sablebox/pkg/sandbox/podman"
	"github.com/sablebox/sablebox/pkg/sandbox/process"
	"github.com/sablebox/sablebox/pkg/sandbox/sandboxtest"
	"github.com/sablebox/sablebox/pkg/setting"
)

func TestMain(m *testing.M) {
	process.MaybeInit() // auto may pick the process sandbox, which re-executes this binary
	os.Exit(m.Run())
}

func TestFillSpec(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, size int) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, make([]byte, size), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(dir, link); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		req     Request
		wantErr string
		check   func(*testing.T, *sandbox.Spec)
	}{
		{name: "tool name is kept", req: Request{ToolPath: write("hello.py", 3)},
			check: func(t *testing.T, s *sandbox.Spec) {
				if s.Tool.Name != "hello.py" || len(s.Tool.Content) != 3 {
					t.Errorf("tool %+v", s.Tool)
				}
			}},
		{name: "odd tool name is made safe", req: Request{ToolPath: write("..my tool$.py", 1)},
			check: func(t *testing.T, s *sandbox.Spec) {
				if s.Tool.Name != "my_tool_.py" {
					t.Errorf("tool name %q", s.Tool.Name)
				}
			}},
		{name: "huge tool is refused", req: Request{ToolPath: write("big.py", MaxToolBytes+1)}, wantErr: "the limit is"},
		{name: "defaults fill the limits", req: Request{Command: []string{"true"}},
			check: func(t *testing.T, s *sandbox.Spec) {
				if s.Limits != sandbox.DefaultLimits() {
					t.Errorf("limits %+v", s.Limits)
				}
			}},
		{name: "workspace symlink is resolved", req: Request{Command: []string{"true"}, Workspace: link},
			check: func(t *testing.T, s *sandbox.Spec) {
				if s.Workspace != dir {
					t.Errorf("workspace %q, want %q", s.Workspace, dir)
				}
			}},
		{name: "workspace must be a directory", req: Request{Command: []string{"true"}, Workspace: write("f", 0)}, wantErr: "not a directory"},
		{name: "missing output dir is made", req: Request{Command: []string{"true"}, Output: filepath.Join(dir, "out", "sub")},
			check: func(t *testing.T, s *sandbox.Spec) {
				st, err := os.Stat(filepath.Join(dir, "out", "sub"))
				if err != nil || !st.IsDir() || !s.Output {
					t.Fatalf("output %v: %v", s.Output, err)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := &sandbox.Spec{RunID: "r", Image: "i", Seccomp: &sandbox.SeccompProfile{Name: "t", JSON: []byte("{}")}}
			_, err := fillSpec(spec, tt.req, nil)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, sandbox.ErrInvalidSpec) {
					t.Fatalf("want ErrInvalidSpec containing %q, got %v", tt.wantErr, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, spec)
		})
	}
}

func TestUnknownRuntimeIsRefused(t *testing.T) {
	if _, err := New(Options{Runtime: "lxc"}); !errors.Is(err, sandbox.ErrInvalidSpec) {
		t.Fatalf("want ErrInvalidSpec, got %v", err)
	}
}

func TestErrorsStillGiveAResult(t *testing.T) {
	r, err := New(Options{Runtime: "docker", Settings: setting.Values{docker.KeyHost: "unix:///nonexistent.sock"}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	res, err := r.Run(context.Background(), Request{Command: []string{"true"}})
	if !errors.Is(err, sandbox.ErrUnavailable) || res == nil || res.Status != sandbox.StatusError || res.ExitCode != 125 {
		t.Fatalf("res %+v err %v", res, err)
	}
}

func TestAutoWithNothingUsableSaysWhy(t *testing.T) {
	r, err := New(Options{Settings: setting.Values{docker.KeyHost: "unix:///nonexistent.sock",
		podman.KeySocket: "unix:///nonexistent-podman.sock", process.KeyRequire: "no-such-layer"}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	_, err = r.Run(context.Background(), Request{Command: []string{"true"}})
	for _, want := range []string{"docker:", "podman:", "process:", "sablebox doctor"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("error %v does not mention %q", err, want)
		}
	}
}

func requireDocker(t *testing.T) {
	t.Helper()
	b, err := docker.New("")
	if err == nil {
		defer b.Close()
		if err = b.Check(context.Background()); err == nil {
			err = b.ImagePresent(context.Background(), image.DefaultTag)
		}
	}
	sandboxtest.SkipUnlessRequired(t, docker.Name, err)
}

// Auto picks Docker here, concurrent runs share one Runner, and each run
// gets its own audit line.
func TestConcurrentAutoRunsAreAudited(t *testing.T) {
	requireDocker(t)
	auditPath := filepath.Join(t.TempDir(), "audit.jsonl")
	log, err := audit.Open(auditPath)
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	r, err := New(Options{Audit: log})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	const runs = 4
	var wg sync.WaitGroup
	results := make([]*sandbox.Result, runs)
	errs := make([]error, runs)
	for i := range runs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = r.Run(context.Background(), Request{
				Command: []string{"python3", "-c", "import sys; print(sys.argv[1])"}, Args: []string{string(rune('a' + i))},
			})
		}()
	}
	wg.Wait()
	for i := range runs {
		if errs[i] != nil || results[i].Status != sandbox.StatusOK || results[i].Stdout.String() != string(rune('a'+i))+"\n" || results[i].Backend != "docker" {
			t.Errorf("run %d: %+v, %v", i, results[i], errs[i])
		}
	}
	data, err := os.ReadFile(auditPath)
	if err != nil || strings.Count(string(data), "\n") != runs {
		t.Fatalf("audit file has %d lines, want %d (%v)", strings.Count(string(data), "\n"), runs, err)
	}
}

// Auto passes over a backend that cannot run and says why, in the result
// and in the metrics of the registry the caller gave.
func TestAutoReportsWhatItPassedOver(t *testing.T) {
	requireDocker(t)
	reg := prometheus.NewPedanticRegistry()
	r, err := New(Options{Settings: setting.Values{docker.KeyHost: "unix:///nonexistent.sock"}, Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	res, err := r.Run(context.Background(), Request{Command: []string{"true"}})
	if err != nil {
		// Nothing but Docker here: the error must still say why Docker was passed over.
		if !strings.Contains(err.Error(), "docker: ") {
			t.Fatalf("error does not say why docker was passed over: %v", err)
		}
		return
	}
	if len(res.PassedOver) == 0 || !strings.HasPrefix(res.PassedOver[0], "docker: ") || res.Backend == "docker" {
		t.Fatalf("backend %s, passed over %v", res.Backend, res.PassedOver)
	}
	// A second runner on the same registry shares its metrics.
	r2, err := New(Options{Runtime: res.Backend, Registry: reg})
	if err != nil {
		t.Fatalf("a second runner on one registry: %v", err)
	}
	defer r2.Close()
	if _, err := r2.Run(context.Background(), Request{Command: []string{"false"}}); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf(`
# HELP sablebox_backend_passed_over_total Times automatic selection passed over a backend that could not run tools, by backend.
# TYPE sablebox_backend_passed_over_total counter
sablebox_backend_passed_over_total{backend="docker"} 1
# HELP sablebox_tool_executions_total Tool runs ended, by status (ok, failed, timeout, oom, killed, blocked, error) and backend.
# TYPE sablebox_tool_executions_total counter
sablebox_tool_executions_total{backend=%[1]q,status="failed"} 1
sablebox_tool_executions_total{backend=%[1]q,status="ok"} 1
`, res.Backend)
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "sablebox_tool_executions_total", "sablebox_backend_passed_over_total"); err != nil {
		t.Error(err)
	}
	if n, err := testutil.GatherAndCount(reg, "sablebox_sandbox_prepare_duration_seconds", "sablebox_tool_duration_seconds"); err != nil || n != 2 {
		t.Errorf("%d histograms (want one of each for %s), %v", n, res.Backend, err)
	}
}

// An image the caller named is a requirement: auto never falls back to
// the process sandbox (which runs no images) when no container backend
// has it, and says which backends lack it.
func TestAutoWithANamedMissingImageFails(t *testing.T) {
	r, err := New(Options{Image: "sablebox-test/no-such-image:1"})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	res, err := r.Run(context.Background(), Request{Command: []string{"true"}})
	if !errors.Is(err, sandbox.ErrImageMissing) || res.ExitCode != sandbox.ExitError || res.Backend == process.Name {
		t.Fatalf("want ErrImageMissing and exit 125 on no backend, got %v, backend %q exit %d", err, res.Backend, res.ExitCode)
	}
	for _, want := range []string{"docker:", "podman:", "process:", "sablebox-test/no-such-image:1"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestProcessWithANamedImageIsRefused(t *testing.T) {
	if _, err := New(Options{Runtime: process.Name, Image: "python:3.11"}); !errors.Is(err, sandbox.ErrInvalidSpec) ||
		!strings.Contains(err.Error(), "runs no images") {
		t.Fatalf("want ErrInvalidSpec saying the process sandbox runs no images, got %v", err)
	}
}

// What a tool leaves in /output comes back to the caller's directory, on
// every backend, written by sablebox: regular files and directories owned
// by the caller with no setuid or setgid bits, and no links, FIFOs or
// sockets; the directory itself is never lent to the sandbox nor chowned.
func TestOutputBelongsToTheCaller(t *testing.T) {
	const tool = `
import os, socket
os.makedirs("/output/sub")
for p in ("/output/result.txt", "/output/sub/suid"):
    open(p, "w").write("data")
os.chmod("/output/sub/suid", 0o6755)
os.chmod("/output/sub", 0o2775)
try:
    os.mkfifo("/output/fifo")  # seccomp refuses mknod; if it did not, the FIFO must still not reach the host
except PermissionError:
    pass
os.symlink("/etc/passwd", "/output/link")
s = socket.socket(socket.AF_UNIX); s.bind("/output/sock")
print("wrote")
`
	for _, name := range []string{docker.Name, podman.Name, process.Name} {
		t.Run(name, func(t *testing.T) {
			r := usableRunner(t, name, Options{Runtime: name})
			toolPath := filepath.Join(t.TempDir(), "out.py")
			if err := os.WriteFile(toolPath, []byte(tool), 0o644); err != nil {
				t.Fatal(err)
			}
			out := t.TempDir() // exists, empty, the caller's, 0755
			if err := os.Chmod(out, 0o755); err != nil {
				t.Fatal(err)
			}
			res, err := r.Run(context.Background(), Request{ToolPath: toolPath, Output: out})
			if err != nil || res.Status != sandbox.StatusOK {
				t.Fatalf("run: %v, %s: %s", err, res.Status, res.Stderr.Data)
			}
			if st, err := os.Stat(out); err != nil || st.Mode().Perm() != 0o755 || owner(st) != os.Geteuid() {
				t.Errorf("output dir not given back as it was: %v %v", st.Mode(), err)
			}
			for rel, want := range map[string]os.FileMode{"result.txt": 0o644, "sub": 0o755 | os.ModeDir, "sub/suid": 0o755} {
				st, err := os.Lstat(filepath.Join(out, rel))
				if err != nil {
					t.Errorf("%s: %v", rel, err)
					continue
				}
				if st.Mode() != want || owner(st) != os.Geteuid() {
					t.Errorf("%s: mode %v owner %d, want %v owned by %d", rel, st.Mode(), owner(st), want, os.Geteuid())
				}
			}
			for _, rel := range []string{"fifo", "link", "sock"} {
				if _, err := os.Lstat(filepath.Join(out, rel)); err == nil {
					t.Errorf("%s was left in the output", rel)
				}
			}
			// The engines' archives carry no sockets: only the process
			// sandbox, which reads the directory, can name it.
			if len(res.Notes) != 1 || !strings.Contains(res.Notes[0], "link (symlink)") ||
				name == process.Name && !strings.Contains(res.Notes[0], "sock (socket)") {
				t.Errorf("notes %q, want one naming what did not come back", res.Notes)
			}
		})
	}
}

func owner(st os.FileInfo) int { return int(st.Sys().(*syscall.Stat_t).Uid) }

// An OCI runtime named for the process sandbox is refused; auto never
// picks the process sandbox when one is named (gVisor was asked for).
func TestOCIRuntimeIsNeverIgnored(t *testing.T) {
	if _, err := New(Options{Runtime: process.Name, Settings: setting.Values{"oci-runtime": "runsc"}}); !errors.Is(err, sandbox.ErrInvalidSpec) ||
		!strings.Contains(err.Error(), `the process backend does not honour oci-runtime "runsc", which only docker and podman read`) {
		t.Fatalf("process with --oci-runtime: %v", err)
	}
	r, err := New(Options{Settings: setting.Values{"oci-runtime": "runsc", docker.KeyHost: "unix:///nonexistent.sock",
		podman.KeySocket: "unix:///nonexistent-podman.sock"}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	res, err := r.Run(context.Background(), Request{Command: []string{"true"}})
	if err == nil || res.Backend == process.Name || !strings.Contains(err.Error(), `process: it does not honour oci-runtime "runsc", which only docker and podman read`) {
		t.Fatalf("auto with --oci-runtime and no engine: backend %q, %v", res.Backend, err)
	}
}

// process-require given for a container backend, which ignores it, is
// warned about.
func TestProcessRequireForAContainerBackendIsWarnedAbout(t *testing.T) {
	logger, hook := logtest.NewNullLogger()
	if _, err := New(Options{Runtime: docker.Name, Settings: setting.Values{process.KeyRequire: process.LayerLandlock}, Logger: logger}); err != nil {
		t.Fatal(err)
	}
	if e := hook.LastEntry(); e == nil || e.Level != logrus.WarnLevel || !strings.Contains(e.Message, "process-require (landlock) applies to process only; the docker backend ignores it") {
		t.Fatalf("want a warning that process-require does not apply to docker, got %+v", hook.AllEntries())
	}
}

// usableRunner returns a runner for opts whose backend can run here, or
// skips (fails when SABLEBOX_REQUIRE names it). Its runs test the
// sandbox, which must hold with no gate before it: the static-analysis
// gate is off unless opts name a mode.
func usableRunner(t *testing.T, name string, opts Options) *Runner {
	t.Helper()
	if opts.Analysis.Mode == "" {
		opts.Analysis.Mode = analysis.Off
	}
	r, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	b, _, err := r.backend(context.Background())
	if err == nil {
		err = b.Check(context.Background())
	}
	sandboxtest.SkipUnlessRequired(t, name, err)
	return r
}

// The escape example is refused at every step, the way a sandbox refuses,
// on every backend.
func TestEscapeExampleIsBlockedEverywhere(t *testing.T) {
	for _, c := range backends {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r := usableRunner(t, c.name, c.opts)
			res, err := r.Run(context.Background(), Request{ToolPath: "../../examples/escape.py"})
			if err != nil || res.Status != sandbox.StatusOK {
				t.Fatalf("%v, status %s: %s%s", err, res.Status, res.Stdout.Data, res.Stderr.Data)
			}
			lines := strings.Split(strings.TrimSpace(res.Stdout.String()), "\n")
			for _, line := range lines {
				if !strings.Contains(line, " blocked") {
					t.Errorf("not blocked: %q", line)
				}
			}
			if len(lines) != 10 {
				t.Errorf("%d attempts reported, want 10:\n%s", len(lines), res.Stdout.Data)
			}
		})
	}
}

// dockerProxy forwards a unix socket of its own to the local Docker
// daemon, so that a test can make a real daemon go away.
type dockerProxy struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func newDockerProxy(t *testing.T) (*dockerProxy, string) {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "docker.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	p := &dockerProxy{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			d, err := net.Dial("unix", "/var/run/docker.sock")
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, d)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(d, c); d.Close() }()
			go func() { _, _ = io.Copy(c, d); c.Close() }()
		}
	}()
	t.Cleanup(p.close)
	return p, "unix://" + sock
}

// close makes the daemon unreachable: no new connection, none kept.
func (p *dockerProxy) close() {
	p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
}

// When auto's backend goes away, the run that finds out fails as
// unavailable and the next run picks again, saying why it passed over it.
func TestAutoPicksAgainWhenItsBackendGoesAway(t *testing.T) {
	requireDocker(t)
	proxy, host := newDockerProxy(t)
	r := usableRunner(t, "process", Options{Runtime: process.Name}) // the fallback must work here
	r.Close()
	r, err := New(Options{Settings: setting.Values{docker.KeyHost: host, podman.KeySocket: "unix:///nonexistent-podman.sock"}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	run := func() (*sandbox.Result, error) {
		return r.Run(context.Background(), Request{Command: []string{"true"}})
	}
	if res, err := run(); err != nil || res.Backend != docker.Name {
		t.Fatalf("first run: backend %q, %v", res.Backend, err)
	}
	proxy.close()
	if _, err := run(); !errors.Is(err, sandbox.ErrUnavailable) {
		t.Fatalf("the run after the daemon went away: want ErrUnavailable, got %v", err)
	}
	res, err := run()
	if err != nil || res.Backend != process.Name || len(res.PassedOver) == 0 || !strings.HasPrefix(res.PassedOver[0], "docker: ") {
		t.Fatalf("the next run: backend %q, passed over %q, %v", res.Backend, res.PassedOver, err)
	}
}

// A service's operator allows host directories by list: a request names
// one within it or none, a symlink cannot lead out, and nothing is made
// outside it.
func TestHostDirsAllowList(t *testing.T) {
	allowed, outside := t.TempDir(), t.TempDir()
	for _, d := range []string{"ws", "ws/sub"} {
		if err := os.Mkdir(filepath.Join(allowed, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(outside, filepath.Join(allowed, "escape")); err != nil {
		t.Fatal(err)
	}
	r, err := New(Options{Runtime: "process", HostDirs: []string{allowed}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, tt := range []struct {
		req Request
		ok  bool
	}{
		{Request{Workspace: filepath.Join(allowed, "ws", "sub")}, true},
		{Request{Output: filepath.Join(allowed, "new", "out")}, true},
		{Request{Workspace: outside}, false},
		{Request{Workspace: filepath.Join(allowed, "escape")}, false},
		{Request{Output: filepath.Join(allowed, "escape", "out")}, false},
		{Request{Output: filepath.Join(outside, "out")}, false},
	} {
		tt.req.Command = []string{"true"}
		spec := &sandbox.Spec{RunID: "r", Seccomp: &sandbox.SeccompProfile{Name: "t", JSON: []byte("{}")}}
		_, err := fillSpec(spec, tt.req, r.hostDirs)
		if tt.ok != (err == nil) || err != nil && !errors.Is(err, sandbox.ErrPolicy) {
			t.Errorf("workspace %q output %q: got %v", tt.req.Workspace, tt.req.Output, err)
		}
	}
	if _, err := os.Stat(filepath.Join(outside, "out")); err == nil {
		t.Error("an output dir was made outside the allowed ones")
	}
	none, err := New(Options{Runtime: "process", HostDirs: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	defer none.Close()
	spec := &sandbox.Spec{RunID: "r", Seccomp: &sandbox.SeccompProfile{Name: "t", JSON: []byte("{}")}}
	if _, err := fillSpec(spec, Request{Command: []string{"true"}, Workspace: allowed}, none.hostDirs); !errors.Is(err, sandbox.ErrPolicy) ||
		!strings.Contains(err.Error(), "send the files instead") {
		t.Errorf("an empty list: %v", err)
	}
	if _, err := New(Options{HostDirs: []string{filepath.Join(outside, "missing")}}); !errors.Is(err, sandbox.ErrInvalidSpec) {
		t.Errorf("a missing allowed dir: %v", err)
	}
}

// A runner with a pool hands runs of its shape to warm containers, runs
// the others cold, and leaves nothing when closed.
func TestRunnerPool(t *testing.T) {
	for _, name := range []string{"docker", "podman"} {
		t.Run(name, func(t *testing.T) {
			r := usableRunner(t, name, Options{Runtime: name, Pool: &pool.Config{Min: 1, Max: 1}})
			if _, err := r.Ready(context.Background()); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(time.Minute)
			var res *sandbox.Result
			for {
				var err error
				res, err = r.Run(context.Background(), Request{Command: []string{"sh", "-c", "cat; echo done"}, Stdin: strings.NewReader("in\n")})
				if err != nil {
					t.Fatal(err)
				}
				if res.Pool == pool.Hit || time.Now().After(deadline) {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			if res.Pool != pool.Hit || res.Stdout.String() != "in\ndone\n" || res.Backend != name {
				t.Fatalf("pool %q stdout %q backend %s", res.Pool, res.Stdout.Data, res.Backend)
			}
			res, err := r.Run(context.Background(), Request{Command: []string{"true"}, Limits: sandbox.Limits{Pids: 20}})
			if err != nil || res.Pool != "miss: "+sandbox.MismatchLimits {
				t.Fatalf("other limits: pool %q, %v", res.Pool, err)
			}
		})
	}
}
