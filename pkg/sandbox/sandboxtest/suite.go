package sandboxtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sablebox/sablebox/pkg/sandbox"
	"github.com/sablebox/sablebox/pkg/seccomp"
)

// Config describes the backend under test.
type Config struct {
	// Backend is the backend under test; the suite does not close it.
	Backend sandbox.Backend
	// Image is the sandbox image, for backends that use images.
	Image string
	// Seccomp is the profile to run with.
	Seccomp *sandbox.SeccompProfile
	// Leftovers counts what a run left behind (containers, processes,
	// directories); the suite checks it is zero after every run.
	Leftovers func(ctx context.Context, runID string) (int, error)
	// Exceptions maps a behaviour's name to the reason it cannot hold on
	// this backend; the behaviour is then skipped with that reason.
	Exceptions map[string]string
}

// behaviour is one row of the conformance table.
type behaviour struct {
	name string
	// tool is Python source run as a tool file; command runs instead.
	tool    string
	command []string
	// setup adjusts the spec; it may use t for temp dirs.
	setup func(t *testing.T, s *sandbox.Spec)
	// check judges the result.
	check func(t *testing.T, r *sandbox.Result)
	// serial behaviours measure the test process and run alone.
	serial bool
}

// statusLine reads one field of /proc/self/status inside the sandbox.
func statusLine(field string) string {
	return fmt.Sprintf(`
for line in open("/proc/self/status"):
    if line.startswith(%q + ":"):
        print(line.split(":", 1)[1].strip())
`, field)
}

func behaviours() []behaviour {
	return []behaviour{
		{
			name:  "ok run prints and exits 0",
			tool:  `print("hello from the sandbox")`,
			check: wantStatus(sandbox.StatusOK, 0, "hello from the sandbox\n"),
		},
		{
			// An ignored or blocked signal stays so across exec: a tool
			// must start with none (SIGPIPE ends `yes | head`, SIGXFSZ
			// the write past the fsize limit).
			// gVisor's /proc shows no signal masks: there the pipe alone
			// tells (with SIGPIPE ignored, yes complains of EPIPE).
			name:    "the tool starts with no signal ignored or blocked",
			command: []string{"sh", "-c", "yes | head -n 1; grep -E '^Sig(Ign|Blk)' /proc/self/status || true"},
			check: func(t *testing.T, r *sandbox.Result) {
				out := r.Stdout.String()
				if r.Status != sandbox.StatusOK || r.Stderr.String() != "" || !strings.HasPrefix(out, "y\n") {
					t.Fatalf("status %s stdout %q stderr %q: want y and nothing on stderr", r.Status, out, r.Stderr.Data)
				}
				if masks := strings.TrimPrefix(out, "y\n"); masks != "" && masks != "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n" {
					t.Errorf("signal masks %q, want none", masks)
				}
			},
		},
		{
			name:    "exit code passes through",
			command: []string{"python3", "-c", "import sys; sys.exit(7)"},
			check:   wantStatus(sandbox.StatusFailed, 7, ""),
		},
		{
			// A busy loop of 1 s by the wall clock: gVisor's own CPU clock
			// runs ahead of the host's under load, and the quota (half a
			// CPU) bounds what the host gives. The host's count is the one
			// reported: about half the loop, less on a loaded machine.
			name: "the CPU time a tool used is reported",
			tool: `
import time
start = time.perf_counter()
while time.perf_counter() - start < 1.0:
    pass
`,
			check: func(t *testing.T, r *sandbox.Result) {
				wantStatus(sandbox.StatusOK, 0, "")(t, r)
				if r.CPUTime < 150*time.Millisecond || r.CPUTime > 2*r.Duration+200*time.Millisecond {
					t.Errorf("cpu time %v for 1 s of busy loop at half a CPU, in %v", r.CPUTime, r.Duration)
				}
			},
		},
		{
			name:  "arguments reach the tool",
			tool:  `import sys; print(sys.argv[1:])`,
			setup: func(_ *testing.T, s *sandbox.Spec) { s.Args = []string{"a b", "--c"} },
			check: wantStatus(sandbox.StatusOK, 0, "['a b', '--c']\n"),
		},
		{
			name:  "environment is clean and the caller's variables pass",
			tool:  `import os; print(os.environ.get("FOO"), os.environ["HOME"], "SECRET_HOST_VAR" in os.environ)`,
			setup: func(_ *testing.T, s *sandbox.Spec) { s.Env = []string{"FOO=bar"} },
			check: wantStatus(sandbox.StatusOK, 0, "bar /home/sandbox False\n"),
		},
		{
			name:  "runs as uid and gid 1000 with no extra groups",
			tool:  `import os; print(os.getuid(), os.geteuid(), os.getgid(), os.getegid(), [g for g in os.getgroups() if g != 1000])`,
			check: wantStatus(sandbox.StatusOK, 0, "1000 1000 1000 1000 []\n"),
		},
		{
			// gVisor reports CapEff and CapPrm but not CapAmb: check what is there.
			name: "no capabilities",
			tool: `
sets = dict(l.split(":", 1) for l in open("/proc/self/status") if l.startswith("Cap"))
print("CapEff" in sets, sorted(k for k in ("CapEff", "CapPrm", "CapAmb") if int(sets.get(k, "0"), 16)))
`,
			check: wantStatus(sandbox.StatusOK, 0, "True []\n"),
		},
		{
			name:  "no_new_privs is set",
			tool:  `import ctypes; print(ctypes.CDLL(None).prctl(39, 0, 0, 0, 0))  # PR_GET_NO_NEW_PRIVS`,
			check: wantStatus(sandbox.StatusOK, 0, "1\n"),
		},
		{
			name:  "seccomp filter is active",
			tool:  statusLine("Seccomp"),
			check: wantStatus(sandbox.StatusOK, 0, "2\n"),
		},
		{
			name: "seccomp refuses mount, unshare and namespaced clone",
			tool: `
import ctypes, errno, os
libc = ctypes.CDLL(None, use_errno=True)
def res(rc):
    return "ok" if rc == 0 else errno.errorcode[ctypes.get_errno()]
print("mount", res(libc.mount(b"none", b"/tmp", b"tmpfs", 0, None)))
print("unshare", res(libc.unshare(0x10000000)))  # CLONE_NEWUSER
print("ptrace", res(libc.ptrace(16, os.getppid(), None, None)))  # PTRACE_ATTACH
`,
			check: func(t *testing.T, r *sandbox.Result) {
				wantStatus(sandbox.StatusOK, 0, "")(t, r)
				for _, line := range strings.Split(strings.TrimSpace(r.Stdout.String()), "\n") {
					if strings.HasSuffix(line, " ok") {
						t.Errorf("a privileged syscall succeeded: %q", line)
					}
				}
			},
		},
		{
			name: "no network interface but loopback",
			tool: `
import os
print(sorted(os.listdir("/sys/class/net")))
print([l.split(":")[0].strip() for l in open("/proc/net/dev").readlines()[2:]])
`,
			check: wantStatus(sandbox.StatusOK, 0, "['lo']\n['lo']\n"),
		},
		{
			name: "a listener on the host's loopback is unreachable",
			tool: `
import os, socket
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.settimeout(3)
try:
    s.connect(("127.0.0.1", int(os.environ["PORT"])))
    print("connected")
except OSError as e:
    print("refused", type(e).__name__)
`,
			setup: func(t *testing.T, s *sandbox.Spec) {
				s.Env = append(s.Env, "PORT="+hostListener(t))
			},
			check: func(t *testing.T, r *sandbox.Result) {
				wantStatus(sandbox.StatusOK, 0, "")(t, r)
				if !strings.HasPrefix(r.Stdout.String(), "refused") {
					t.Errorf("the tool reached the host: %q", r.Stdout.String())
				}
			},
		},
		{
			name: "root filesystem is read-only",
			tool: tryWrite("/etc/sablebox-test", "/usr/bin/sablebox-test", "/sablebox-test", "/var/tmp/sablebox-test", "/run/sablebox-test"),
			check: wantStatus(sandbox.StatusOK, 0,
				"/etc/sablebox-test refused\n/usr/bin/sablebox-test refused\n/sablebox-test refused\n"+
					"/var/tmp/sablebox-test refused\n/run/sablebox-test refused\n"),
		},
		{
			// The process sandbox shows the tool a narrow view of the host;
			// containers show their image. Either way a file planted in
			// the host's /usr/local or /usr/share is out of reach.
			name: "files in the host's /usr/local and /usr/share are unreachable",
			tool: `
import os, sys
for p in sys.argv[1:]:
    try:
        open(p).read()
        print(p, "read")
    except OSError:
        print(p, "exists" if os.path.exists(p) else "unreachable")
`,
			setup: func(t *testing.T, s *sandbox.Spec) {
				var planted []string
				for _, dir := range []string{"/usr/local", "/usr/share"} {
					p := filepath.Join(dir, "sablebox-planted-"+s.RunID)
					if err := os.WriteFile(p, []byte("host secret"), 0o644); err != nil {
						t.Skipf("SKIP cannot plant a file in the host's %s (run as root): %v", dir, err)
					}
					t.Cleanup(func() { os.Remove(p) })
					planted = append(planted, p)
				}
				s.Args = planted
			},
			check: func(t *testing.T, r *sandbox.Result) {
				want := ""
				for _, dir := range []string{"/usr/local", "/usr/share"} {
					want += filepath.Join(dir, "sablebox-planted-"+r.RunID) + " unreachable\n"
				}
				wantStatus(sandbox.StatusOK, 0, want)(t, r)
			},
		},
		{
			name: "workspace is readable and read-only",
			tool: `
print(open("/workspace/input.txt").read().strip())
` + tryWrite("/workspace/input.txt", "/workspace/new.txt"),
			setup: func(t *testing.T, s *sandbox.Spec) {
				s.Workspace = t.TempDir()
				writeFile(t, filepath.Join(s.Workspace, "input.txt"), "input data")
			},
			check: wantStatus(sandbox.StatusOK, 0, "input data\n/workspace/input.txt refused\n/workspace/new.txt refused\n"),
		},
		{
			// A host directory's submounts are read-only too (or not
			// there): its flags apply all the way down.
			name: "workspace is read-only under a writable submount",
			// The mount's own flags are read too: Landlock alone would
			// refuse the writes in the process sandbox.
			tool: tryWrite("/workspace/sub/new.txt", "/workspace/sub/inner.txt") + `
opts = [l.split()[3].split(",") for l in open("/proc/self/mounts") if l.split()[1] == "/workspace/sub"]
print("submount:", "absent" if not opts else ("ro" if all("ro" in o for o in opts) else "rw"))
`,
			setup: func(t *testing.T, s *sandbox.Spec) {
				s.Workspace = t.TempDir()
				sub := filepath.Join(s.Workspace, "sub")
				if err := os.Mkdir(sub, 0o755); err != nil {
					t.Fatal(err)
				}
				// Writable by anyone: only the mount's flags can refuse the tool.
				if err := unix.Mount("tmpfs", sub, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "size=1m,mode=0777"); err != nil {
					t.Skipf("mounting a tmpfs under the workspace needs root: %v", err)
				}
				t.Cleanup(func() { _ = unix.Unmount(sub, unix.MNT_DETACH) })
				writeFile(t, filepath.Join(sub, "inner.txt"), "host")
				for p, mode := range map[string]os.FileMode{sub: 0o777, filepath.Join(sub, "inner.txt"): 0o666} {
					if err := os.Chmod(p, mode); err != nil {
						t.Fatal(err)
					}
				}
			},
			check: func(t *testing.T, r *sandbox.Result) {
				wantStatus(sandbox.StatusOK, 0, "")(t, r)
				out := r.Stdout.String()
				if !strings.HasPrefix(out, "/workspace/sub/new.txt refused\n/workspace/sub/inner.txt refused\nsubmount: ") ||
					strings.HasSuffix(out, "submount: rw\n") {
					t.Errorf("stdout %q: want both writes refused and the submount read-only or absent", out)
				}
			},
		},
		{
			name: "workspace files given by content are there and read-only",
			tool: `
import os
print(open("/workspace/a.txt").read(), open("/workspace/data/deep/b.csv").read())
st = os.stat("/workspace/data/deep/b.csv")
print(oct(st.st_mode & 0o7777), oct(os.stat("/workspace/data").st_mode & 0o7777))
for p in ("/workspace/a.txt", "/workspace/data"):
    try:
        os.chmod(p, 0o777)
        print(p, "chmod allowed")
    except OSError:
        print(p, "chmod refused")
print(os.access("/workspace/run.sh", os.X_OK), os.access("/workspace/a.txt", os.X_OK))
` + tryWrite("/workspace/a.txt", "/workspace/new.txt", "/workspace/data/new.txt"),
			setup: func(t *testing.T, s *sandbox.Spec) {
				s.Files = []sandbox.File{
					{Path: "a.txt", Content: []byte("alpha")},
					{Path: "data/deep/b.csv", Content: []byte("1,2")},
					{Path: "run.sh", Content: []byte("#!/bin/sh\n"), Executable: true},
				}
			},
			check: wantStatus(sandbox.StatusOK, 0, "alpha 1,2\n0o444 0o555\n/workspace/a.txt chmod refused\n/workspace/data chmod refused\nTrue False\n"+
				"/workspace/a.txt refused\n/workspace/new.txt refused\n/workspace/data/new.txt refused\n"),
		},
		{
			name: "output directory is writable",
			tool: `
import os
open("/output/result.txt", "w").write("result")
os.makedirs("/output/sub/deep")
open("/output/sub/deep/run.sh", "w").write("#!/bin/sh\n")
os.chmod("/output/sub/deep/run.sh", 0o755)
os.symlink("/etc/passwd", "/output/link")
`,
			setup: func(_ *testing.T, s *sandbox.Spec) { s.Output = true },
			check: func(t *testing.T, r *sandbox.Result) {
				wantStatus(sandbox.StatusOK, 0, "")(t, r)
				got := map[string]string{}
				for _, f := range r.Files {
					got[fmt.Sprintf("%s %v", f.Path, f.Executable)] = string(f.Content)
				}
				if len(got) != 2 || got["result.txt false"] != "result" || got["sub/deep/run.sh true"] != "#!/bin/sh\n" {
					t.Errorf("output files %q: want result.txt and sub/deep/run.sh (executable)", got)
				}
				if len(r.Notes) != 1 || !strings.Contains(r.Notes[0], "link (symlink)") {
					t.Errorf("notes %q: want one naming the symlink left out", r.Notes)
				}
			},
		},
		{
			// What reaches the host is regular files and directories only,
			// by content: no special file, no mode bit beyond executable.
			name: "output brings back regular files only, without their mode bits",
			tool: `
import os, socket
try:
    os.mkfifo("/output/fifo")
except OSError:
    pass  # the profile refuses mknod
socket.socket(socket.AF_UNIX).bind("/output/sock")
open("/output/suid", "w").write("s")
os.chmod("/output/suid", 0o6755)
os.makedirs("/output/sticky")
os.chmod("/output/sticky", 0o1777)
open("/output/sticky/f", "w").write("f")
try:
    os.link("/output/sticky/f", "/output/hard")
except OSError:
    pass  # Landlock before ABI 2 refuses links across directories
`,
			setup: func(_ *testing.T, s *sandbox.Spec) { s.Output = true },
			check: func(t *testing.T, r *sandbox.Result) {
				wantStatus(sandbox.StatusOK, 0, "")(t, r)
				got := map[string]bool{}
				for _, f := range r.Files {
					got[f.Path] = f.Executable
					if !fs.ValidPath(f.Path) || strings.Contains(f.Path, "..") {
						t.Errorf("unsafe output path %q", f.Path)
					}
				}
				_, fifo := got["fifo"]
				_, sock := got["sock"]
				if exec, ok := got["suid"]; !ok || !exec || fifo || sock {
					t.Errorf("output files %v: want suid (as a plain executable), no fifo or socket", got)
				}
				if _, ok := got["sticky/f"]; !ok {
					t.Errorf("output files %v (notes %q): want sticky/f, and hard as its copy where the link was made", got, r.Notes)
				}
			},
		},
		{
			// However /output is bounded (a tmpfs that refuses writes, or
			// files left out when read back), the result says so.
			name: "output beyond its bound is reported",
			tool: `
chunk = b"x" * (1 << 20)
try:
    for i in range(70):
        with open("/output/f%02d" % i, "wb") as f:
            f.write(chunk)
except OSError as e:
    print("write failed:", e.strerror)
`,
			setup: func(_ *testing.T, s *sandbox.Spec) { s.Output = true; s.Limits.MemoryBytes = 512 << 20 },
			check: func(t *testing.T, r *sandbox.Result) {
				wantStatus(sandbox.StatusOK, 0, "")(t, r)
				if notes := strings.Join(r.Notes, "; "); !strings.Contains(notes, fmt.Sprintf("%d MiB", sandbox.MaxFileBytes>>20)) {
					t.Errorf("notes %q (stdout %q): want the output bound named", r.Notes, r.Stdout.Data)
				}
			},
		},
		{
			// The output directory outlives a killed tool: what it wrote
			// before its timeout comes back.
			name: "output written before a timeout comes back",
			tool: `
open("/output/partial.txt", "w").write("so far")
while True:
    pass
`,
			setup: func(_ *testing.T, s *sandbox.Spec) { s.Output = true; s.Limits.Timeout = 2 * time.Second },
			check: func(t *testing.T, r *sandbox.Result) {
				wantStatus(sandbox.StatusTimeout, sandbox.ExitTimeout, "")(t, r)
				if len(r.Files) != 1 || string(r.Files[0].Content) != "so far" {
					t.Errorf("output files %v (notes %q): want partial.txt", r.Files, r.Notes)
				}
			},
		},
		{
			name: "output directory is noexec",
			tool: `
import os, subprocess
p = "/output/x.sh"
open(p, "w").write("#!/bin/sh\necho ran\n")
os.chmod(p, 0o755)
try:
    subprocess.run([p], check=True, capture_output=True)
    print("exec allowed")
except PermissionError:
    print("exec refused")
`,
			setup: func(_ *testing.T, s *sandbox.Spec) { s.Output = true },
			check: wantStatus(sandbox.StatusOK, 0, "exec refused\n"),
		},
		{
			// The profile's denials, made raw through libc's syscall(2) so
			// that no wrapper answers first: each fails with EPERM.
			name:  "syscalls the profile denies fail with EPERM",
			tool:  deniedCalls(),
			check: wantStatus(sandbox.StatusOK, 0, deniedWant),
		},
		{
			name: "tool file is read-only",
			tool: `import sys; ` + tryWrite("sys.argv[0]"),
			check: func(t *testing.T, r *sandbox.Result) {
				wantStatus(sandbox.StatusOK, 0, "")(t, r)
				if !strings.HasSuffix(r.Stdout.String(), " refused\n") {
					t.Errorf("tool file writable: %q", r.Stdout.String())
				}
			},
		},
		{
			// Not the tool's to change: a file the tool owns could be made
			// writable again (Podman's copy once gave it to the tool's user).
			name: "the tool cannot chmod its tool file or its directory",
			tool: `
import os, sys
for p in (sys.argv[0], os.path.dirname(sys.argv[0])):
    try:
        os.chmod(p, 0o777)
        print(p, "chmod allowed")
    except OSError:  # EPERM, or EROFS where the tool dir is a read-only mount
        print(p, "chmod refused")
`,
			check: wantStatus(sandbox.StatusOK, 0, "/sablebox/tool.py chmod refused\n/sablebox chmod refused\n"),
		},
		{
			name: "tmp and home are writable, tmp is noexec",
			tool: `
import os, stat, subprocess
for d in ("/tmp", os.environ["HOME"]):
    p = os.path.join(d, "x.sh")
    open(p, "w").write("#!/bin/sh\necho ran\n")
    os.chmod(p, 0o755)
    try:
        subprocess.run([p], check=True)
        print(d, "exec allowed")
    except PermissionError:
        print(d, "exec refused")
`,
			check: wantStatus(sandbox.StatusOK, 0, "/tmp exec refused\n/home/sandbox exec refused\n"),
		},
		{
			name: "threads, a thread pool and a process pool start",
			tool: `
import concurrent.futures, multiprocessing, threading
out = []
t = threading.Thread(target=out.append, args=("thread",))
t.start(); t.join()
print(out[0])
with concurrent.futures.ThreadPoolExecutor(2) as ex:
    print("thread pool", sum(ex.map(lambda x: x * x, range(4))))
if __name__ == "__main__":
    with multiprocessing.Pool(2) as pool:
        print("process pool", sum(pool.map(abs, [-1, -2, 3])))
`,
			check: wantStatus(sandbox.StatusOK, 0, "thread\nthread pool 14\nprocess pool 6\n"),
		},
		{
			// noexec must also refuse an executable mapping (what ld.so
			// does to run a dropped ELF); a runtime that allows it must say
			// so in Degraded, never claim the protection.
			name: "tmp, shm and home refuse executable mappings, or the run says they do not",
			tool: `
import mmap, os
for d in ("/tmp", "/dev/shm", os.environ["HOME"]):
    p = os.path.join(d, "lib.so")
    with open(p, "wb") as f:
        f.write(b"\0" * 4096)
    fd = os.open(p, os.O_RDONLY)
    try:
        mmap.mmap(fd, 4096, prot=mmap.PROT_READ | mmap.PROT_EXEC)
        print(d, "mapped")
    except OSError:
        print(d, "refused")
    os.close(fd)
`,
			check: func(t *testing.T, r *sandbox.Result) {
				if r.Status != sandbox.StatusOK {
					t.Fatalf("status %s (%s); stderr: %.500s", r.Status, r.Reason, r.Stderr.Data)
				}
				claimed := true
				for _, d := range r.Degraded {
					claimed = claimed && !strings.HasPrefix(d, "noexec:")
				}
				if want := "/tmp refused\n/dev/shm refused\n/home/sandbox refused\n"; claimed && r.Stdout.String() != want {
					t.Errorf("noexec claimed but not enforced: got %q, want %q (degraded %q)", r.Stdout.String(), want, r.Degraded)
				}
				if !claimed && !strings.Contains(r.Stdout.String(), "mapped") {
					t.Logf("the run reports a noexec gap it does not have: %q", r.Degraded)
				}
			},
		},
		{
			name: "a shell tool runs under /bin/sh, a bash tool under /bin/bash",
			setup: func(t *testing.T, s *sandbox.Spec) {
				s.Tool = &sandbox.ToolFile{Name: "tool.sh", Lang: sandbox.LangSh,
					Content: []byte("set -eu\nread line\necho \"sh got $line, args $*\"\n[ -d /workspace ]\n" +
						"exec /bin/bash -c 'echo \"bash ${BASH_VERSINFO[0]:+ok}\"'\n")}
				s.Args = []string{"a", "b"}
				s.Stdin = strings.NewReader("in\n")
			},
			check: wantStatus(sandbox.StatusOK, 0, "sh got in, args a b\nbash ok\n"),
		},
		{
			name: "a bash tool file runs",
			setup: func(t *testing.T, s *sandbox.Spec) {
				s.Tool = &sandbox.ToolFile{Name: "tool.bash", Lang: sandbox.LangBash,
					Content: []byte("words=(one two three)\necho \"${#words[@]} ${words[2]}\"\n")}
			},
			check: wantStatus(sandbox.StatusOK, 0, "3 three\n"),
		},
		{
			name: "fork bomb is contained by the pids limit",
			tool: `
import os, time
kids, refused = 0, 0
for _ in range(200):
    try:
        pid = os.fork()
    except OSError:
        refused += 1
        continue
    if pid == 0:
        time.sleep(5)
        os._exit(0)
    kids += 1
print(kids, refused)
`,
			check: func(t *testing.T, r *sandbox.Result) {
				wantStatus(sandbox.StatusOK, 0, "")(t, r)
				var kids, refused int
				if _, err := fmt.Sscan(r.Stdout.String(), &kids, &refused); err != nil {
					t.Fatalf("unreadable output %q: %v", r.Stdout.String(), err)
				}
				// The bound is the pids limit, or RLIMIT_NPROC where a backend
				// moved the tool's bound there (gVisor).
				bound := min(r.Limits.Pids, int64(r.Limits.NProc))
				if int64(kids) >= bound || refused == 0 {
					t.Errorf("fork bomb made %d processes (bound %d), %d refused", kids, bound, refused)
				}
			},
		},
		{
			name: "memory bomb ends as oom",
			tool: `
print("allocating", flush=True)
hog = []
while True:
    hog.append(bytearray(8 << 20))
`,
			setup: func(_ *testing.T, s *sandbox.Spec) { s.Limits.MemoryBytes = 64 << 20 },
			check: func(t *testing.T, r *sandbox.Result) {
				wantStatus(sandbox.StatusOOM, sandbox.ExitKilled, "allocating\n")(t, r)
			},
		},
		{
			name: "endless loop ends as timeout and keeps earlier output",
			tool: `
import signal
signal.signal(signal.SIGTERM, signal.SIG_IGN)
print("started", flush=True)
while True:
    pass
`,
			setup: func(_ *testing.T, s *sandbox.Spec) { s.Limits.Timeout = 2 * time.Second },
			check: func(t *testing.T, r *sandbox.Result) {
				wantStatus(sandbox.StatusTimeout, sandbox.ExitTimeout, "started\n")(t, r)
				if r.Duration > 15*time.Second {
					t.Errorf("timeout of 2s took %v", r.Duration)
				}
			},
		},
		{
			name:   "output flood is truncated and the runner's memory stays bounded",
			tool:   `import sys; sys.stdout.buffer.write(b"x" * (64 << 20)); sys.stderr.write("done")`,
			setup:  func(_ *testing.T, s *sandbox.Spec) { s.Limits.OutputBytes = 64 << 10 },
			serial: true,
			check: func(t *testing.T, r *sandbox.Result) {
				wantStatus(sandbox.StatusOK, 0, "")(t, r)
				if len(r.Stdout.Data) != 64<<10 || r.Stdout.Size != 64<<20 || !r.Stdout.Truncated {
					t.Errorf("stdout kept %d of %d bytes, truncated=%v", len(r.Stdout.Data), r.Stdout.Size, r.Stdout.Truncated)
				}
				if r.Stderr.String() != "done" || r.Stderr.Truncated {
					t.Errorf("stderr = %q", r.Stderr.String())
				}
			},
		},
		{
			name: "stdin round-trips binary bytes",
			tool: `import sys; sys.stdout.buffer.write(sys.stdin.buffer.read())`,
			setup: func(_ *testing.T, s *sandbox.Spec) {
				s.Stdin = bytes.NewReader(binaryPayload())
			},
			check: func(t *testing.T, r *sandbox.Result) {
				wantStatus(sandbox.StatusOK, 0, "")(t, r)
				if !bytes.Equal(r.Stdout.Data, binaryPayload()) {
					t.Errorf("stdin came back as %q", r.Stdout.Data)
				}
			},
		},
		{
			name:    "no stdin reads as empty",
			command: []string{"python3", "-c", "import sys; print(repr(sys.stdin.read()))"},
			check:   wantStatus(sandbox.StatusOK, 0, "''\n"),
		},
		{
			name: "stderr is kept apart from stdout",
			tool: `import sys; print("out"); print("err", file=sys.stderr)`,
			check: func(t *testing.T, r *sandbox.Result) {
				wantStatus(sandbox.StatusOK, 0, "out\n")(t, r)
				if r.Stderr.String() != "err\n" {
					t.Errorf("stderr = %q", r.Stderr.String())
				}
			},
		},
		{
			name: "a crashing tool is a failed run, not an error",
			tool: `import os, signal; os.kill(os.getpid(), signal.SIGSEGV)`,
			check: func(t *testing.T, r *sandbox.Result) {
				if r.Status != sandbox.StatusFailed || r.ExitCode != 128+11 {
					t.Errorf("status %s exit %d, want failed 139", r.Status, r.ExitCode)
				}
			},
		},
	}
}

// Run runs the whole conformance table against cfg.Backend.
func Run(t *testing.T, cfg Config) {
	for _, b := range behaviours() {
		b := b
		t.Run(b.name, func(t *testing.T) {
			if why, ok := cfg.Exceptions[b.name]; ok {
				t.Skipf("does not hold on %s: %s", cfg.Backend.Name(), why)
			}
			if !b.serial {
				t.Parallel()
			}
			spec := cfg.spec(t)
			if b.tool != "" {
				spec.Tool = &sandbox.ToolFile{Name: "tool.py", Content: []byte(b.tool)}
			} else {
				spec.Command = b.command
			}
			if b.setup != nil {
				b.setup(t, spec)
			}
			var peak func() uint64
			if b.serial {
				peak = watchHeap(t)
			}
			res := cfg.run(t, context.Background(), spec)
			b.check(t, res)
			if peak != nil {
				if grew := peak(); grew > 48<<20 {
					t.Errorf("the runner's heap grew by %d MiB while reading a flood", grew>>20)
				}
			}
		})
	}
	t.Run("cancel kills the tool and cleans up", func(t *testing.T) {
		t.Parallel()
		spec := cfg.spec(t)
		spec.Tool = &sandbox.ToolFile{Name: "tool.py", Content: []byte("print('up', flush=True)\nwhile True: pass\n")}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		start := time.Now()
		res := cfg.run(t, ctx, spec)
		if res.Status != sandbox.StatusKilled || res.ExitCode != sandbox.ExitKilled {
			t.Errorf("status %s exit %d, want killed 137", res.Status, res.ExitCode)
		}
		if took := time.Since(start); took > 20*time.Second {
			t.Errorf("cancel took %v to end the run", took)
		}
	})
	t.Run("a cancel before the start is a killed run, not an error", func(t *testing.T) {
		t.Parallel()
		spec := cfg.spec(t)
		spec.Command = []string{"true"}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		res := cfg.run(t, ctx, spec)
		if res.Status != sandbox.StatusKilled || res.ExitCode != sandbox.ExitKilled {
			t.Errorf("status %s exit %d, want killed 137", res.Status, res.ExitCode)
		}
	})
	t.Run("check passes here, concurrently and again", func(t *testing.T) {
		t.Parallel()
		errs := make(chan error, 4)
		for range 4 {
			go func() { errs <- cfg.Backend.Check(context.Background()) }()
		}
		for range 4 {
			if err := <-errs; err != nil {
				t.Errorf("check: %v", err)
			}
		}
	})
	t.Run("a sweep for leftovers leaves a live run alone", func(t *testing.T) {
		t.Parallel()
		spec := cfg.spec(t)
		spec.Tool = &sandbox.ToolFile{Name: "tool.py", Content: []byte("import sys\nprint(sys.stdin.read().strip())\n")}
		stdinR, stdinW := io.Pipe()
		spec.Stdin = stdinR
		// While the run waits for its stdin, sweep; then let it finish.
		reaped := make(chan error, 1)
		go func() {
			time.Sleep(time.Second) // the run is set up or running by now
			_, err := cfg.Backend.Reap(context.Background())
			_, _ = io.WriteString(stdinW, "still here\n")
			stdinW.Close()
			reaped <- err
		}()
		res := cfg.run(t, context.Background(), spec)
		if err := <-reaped; err != nil {
			t.Errorf("reap: %v", err)
		}
		wantStatus(sandbox.StatusOK, 0, "still here\n")(t, res)
	})
	t.Run("a prepared sandbox waits through a sweep and its timeout starts when it runs", func(t *testing.T) {
		t.Parallel()
		spec := cfg.spec(t)
		spec.Limits.Timeout = 3 * time.Second
		spec.Tool = &sandbox.ToolFile{Name: "tool.py", Content: []byte("import time\ntime.sleep(1)\nprint('ran')\n")}
		p, err := cfg.Backend.Prepare(context.Background(), spec)
		if err != nil {
			t.Fatalf("prepare: %v", err)
		}
		defer p.Remove()
		if cfg.Leftovers != nil {
			if n, err := cfg.Leftovers(context.Background(), spec.RunID); err != nil || n == 0 {
				t.Errorf("the prepared sandbox is not there (%d things, %v)", n, err)
			}
		}
		// Longer than the timeout: a deadline that started at Prepare
		// would end the run before it began.
		time.Sleep(spec.Limits.Timeout + time.Second)
		if _, err := cfg.Backend.Reap(context.Background()); err != nil {
			t.Errorf("reap: %v", err)
		}
		res, err := p.Run(context.Background())
		if err != nil {
			t.Fatalf("run the prepared sandbox: %v", err)
		}
		wantStatus(sandbox.StatusOK, 0, "ran\n")(t, res)
		cfg.checkLeftovers(t, spec.RunID)
		if _, err := p.Run(context.Background()); err == nil {
			t.Error("a prepared sandbox ran twice")
		}
	})
	t.Run("a prepared sandbox never run is removed cleanly", func(t *testing.T) {
		t.Parallel()
		spec := cfg.spec(t)
		spec.Files = []sandbox.File{{Path: "data.txt", Content: []byte("x")}}
		spec.Tool = &sandbox.ToolFile{Name: "tool.py", Content: []byte("print('must not run')\n")}
		p, err := cfg.Backend.Prepare(context.Background(), spec)
		if err != nil {
			t.Fatalf("prepare: %v", err)
		}
		if err := p.Remove(); err != nil {
			t.Errorf("remove: %v", err)
		}
		cfg.checkLeftovers(t, spec.RunID)
		if err := p.Remove(); err != nil {
			t.Errorf("a second remove: %v", err)
		}
		if _, err := p.Run(context.Background()); err == nil {
			t.Error("a removed sandbox ran")
		}
	})
	t.Run("prepare refuses what run refuses", func(t *testing.T) {
		t.Parallel()
		spec := cfg.spec(t)
		spec.Command = []string{"true"}
		spec.Seccomp = nil
		if _, err := cfg.Backend.Prepare(context.Background(), spec); !errors.Is(err, sandbox.ErrInvalidSpec) {
			t.Fatalf("want ErrInvalidSpec, got %v", err)
		}
	})
	t.Run("output streams to the caller's writers while the run goes on", func(t *testing.T) {
		t.Parallel()
		spec := cfg.spec(t)
		spec.Limits.Timeout = 30 * time.Second
		spec.Limits.OutputBytes = 64
		// The tool waits for stdin, which is fed only once "first" has
		// reached the caller's writer: without live streaming it would
		// wait until its timeout.
		spec.Tool = &sandbox.ToolFile{Name: "tool.py", Content: []byte(
			"import sys\nprint('first', flush=True)\nprint('second:', sys.stdin.readline().strip(), flush=True)\n" +
				"sys.stderr.write('e' * 100)\n")}
		stdinR, stdinW := io.Pipe()
		defer stdinW.Close()
		spec.Stdin = stdinR
		stdout := &streamed{onLine: func(line string) {
			if line == "first\n" {
				go func() { _, _ = io.WriteString(stdinW, "go\n"); stdinW.Close() }()
			}
		}}
		stderr := &streamed{}
		spec.Stdout, spec.Stderr = stdout, stderr
		res := cfg.run(t, context.Background(), spec)
		wantStatus(sandbox.StatusOK, 0, "first\nsecond: go\n")(t, res)
		if got := stdout.String(); got != res.Stdout.String() {
			t.Errorf("streamed stdout %q, kept %q", got, res.Stdout.Data)
		}
		if got := stderr.String(); got != strings.Repeat("e", 64) || !res.Stderr.Truncated {
			t.Errorf("streamed stderr %q (truncated %v): want the same 64 bytes the result keeps", got, res.Stderr.Truncated)
		}
	})
	t.Run("the host's root or a system directory is refused as workspace", func(t *testing.T) {
		t.Parallel()
		for _, dir := range []string{"/", "/etc", "/usr", "/tmp/../var/lib"} {
			spec := cfg.spec(t)
			spec.Command = []string{"true"}
			spec.Workspace = dir
			_, err := cfg.Backend.Run(context.Background(), spec)
			if !errors.Is(err, sandbox.ErrPolicy) {
				t.Errorf("workspace %q: want ErrPolicy, got %v", dir, err)
			}
		}
	})
	t.Run("workspace files with unsafe paths are refused before anything starts", func(t *testing.T) {
		t.Parallel()
		for _, path := range []string{"../escape", "/etc/passwd", "a/../../b", "", "a//b", "./a"} {
			spec := cfg.spec(t)
			spec.Command = []string{"true"}
			spec.Files = []sandbox.File{{Path: path, Content: []byte("x")}}
			if _, err := cfg.Backend.Run(context.Background(), spec); !errors.Is(err, sandbox.ErrInvalidSpec) {
				t.Errorf("path %q: want ErrInvalidSpec, got %v", path, err)
			}
		}
	})
	t.Run("invalid spec is refused before anything starts", func(t *testing.T) {
		t.Parallel()
		spec := cfg.spec(t)
		spec.Command = []string{"true"}
		spec.Seccomp = nil
		_, err := cfg.Backend.Run(context.Background(), spec)
		if !errors.Is(err, sandbox.ErrInvalidSpec) {
			t.Fatalf("want ErrInvalidSpec, got %v", err)
		}
	})
}

// streamed is a caller's writer: it collects what it is given and calls
// onLine for each line as it completes.
type streamed struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	line   []byte
	onLine func(string)
}

func (s *streamed) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buf.Write(p)
	for _, c := range p {
		s.line = append(s.line, c)
		if c == '\n' {
			if s.onLine != nil {
				s.onLine(string(s.line))
			}
			s.line = s.line[:0]
		}
	}
	return len(p), nil
}

func (s *streamed) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// spec is a fresh spec with the suite's defaults.
func (cfg Config) spec(t *testing.T) *sandbox.Spec {
	limits := sandbox.DefaultLimits()
	limits.Timeout = 60 * time.Second
	return &sandbox.Spec{RunID: sandbox.NewRunID(), Image: cfg.Image, Limits: limits, Seccomp: cfg.Seccomp}
}

// run runs spec and checks that nothing is left behind.
func (cfg Config) run(t *testing.T, ctx context.Context, spec *sandbox.Spec) *sandbox.Result {
	t.Helper()
	res, err := cfg.Backend.Run(ctx, spec)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	cfg.checkLeftovers(t, spec.RunID)
	if t.Failed() || testing.Verbose() {
		t.Logf("result: status=%s exit=%d reason=%q stdout=%.200q stderr=%.500q",
			res.Status, res.ExitCode, res.Reason, res.Stdout.Data, res.Stderr.Data)
	}
	return res
}

// checkLeftovers fails t when run runID left anything behind.
func (cfg Config) checkLeftovers(t *testing.T, runID string) {
	t.Helper()
	if cfg.Leftovers == nil {
		return
	}
	n, err := cfg.Leftovers(context.Background(), runID)
	if err != nil {
		t.Errorf("count leftovers: %v", err)
	} else if n != 0 {
		t.Errorf("run %s left %d things behind", runID, n)
	}
}

func wantStatus(status sandbox.Status, code int, stdout string) func(*testing.T, *sandbox.Result) {
	return func(t *testing.T, r *sandbox.Result) {
		t.Helper()
		if r.Status != status || r.ExitCode != code {
			t.Errorf("status %s exit %d (%s), want %s %d; stderr: %.500s", r.Status, r.ExitCode, r.Reason, status, code, r.Stderr.Data)
		}
		if stdout != "" && r.Stdout.String() != stdout {
			t.Errorf("stdout = %q, want %q", r.Stdout.String(), stdout)
		}
	}
}

// deniedSyscalls are the calls every backend's profile refuses, with
// their arguments: the namespace flags on clone and unshare (with
// SIGCHLD, so that clone, were it allowed, would fork: the child exits at
// once), PTRACE_TRACEME, AF_PACKET, TIOCSTI on stdin (ENOTTY, not EPERM,
// were it allowed), and the keyring.
var deniedSyscalls = []struct {
	name, call, args string
}{
	{"keyctl", "keyctl(KEYCTL_GET_KEYRING_ID)", "0, -1, 0"},
	{"unshare", "unshare(CLONE_NEWUSER)", "0x10000000"},
	{"ptrace", "ptrace(PTRACE_TRACEME)", "0, 0, 0, 0"},
	{"clone", "clone(CLONE_NEWUSER|CLONE_NEWNS)", "0x10000000 | 0x20000 | 17, 0, 0, 0, 0"},
	{"socket", "socket(AF_PACKET)", "17, 3, 0"},
	{"ioctl", "ioctl(TIOCSTI)", "0, 0x5412, ctypes.byref(ctypes.c_char(b'x'))"},
}

// deniedCalls is Python making each of deniedSyscalls and printing its
// errno's name ("allowed" when it succeeded).
func deniedCalls() string {
	var b strings.Builder
	b.WriteString("import ctypes, errno, os\nlibc = ctypes.CDLL(None, use_errno=True)\nlibc.syscall.restype = ctypes.c_long\n")
	b.WriteString("def call(label, nr, *args):\n")
	b.WriteString("    args = [ctypes.c_long(a) if isinstance(a, int) else a for a in args]\n")
	b.WriteString("    r = libc.syscall(nr, *args)\n")
	b.WriteString("    if r == 0 and label.startswith('clone'):\n        os._exit(0)\n")
	b.WriteString("    print(label, 'allowed' if r >= 0 else errno.errorcode.get(ctypes.get_errno(), ctypes.get_errno()))\n")
	arch := seccomp.NativeArch()
	for _, c := range deniedSyscalls {
		nr, _ := seccomp.NumberOf(arch, c.name)
		fmt.Fprintf(&b, "call(%q, %d, %s)\n", c.call, nr, c.args)
	}
	return b.String()
}

// deniedWant is what deniedCalls prints when every call is refused.
var deniedWant = func() string {
	var b strings.Builder
	for _, c := range deniedSyscalls {
		b.WriteString(c.call + " EPERM\n")
	}
	return b.String()
}()

// tryWrite is Python that tries to write each path (Python expressions or
// string literals) and prints "<path> refused" or "<path> written".
func tryWrite(paths ...string) string {
	var b strings.Builder
	for _, p := range paths {
		expr := p
		if strings.HasPrefix(p, "/") {
			expr = fmt.Sprintf("%q", p)
		}
		fmt.Fprintf(&b, `
try:
    open(%[1]s, "a").write("x")
    print(%[1]s, "written")
except OSError:
    print(%[1]s, "refused")
`, expr)
	}
	return b.String()
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	// The workspace must be readable by the sandbox's uid.
	if err := os.Chmod(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
}

func binaryPayload() []byte {
	p := []byte("line one\n")
	for i := 0; i < 256; i++ {
		p = append(p, byte(i))
	}
	return append(p, "\xff\xfe invalid utf-8 \x00 end"...)
}

// hostListener opens a TCP listener on the host's loopback for the test's
// life and returns its port. Only loopback is ever a target.
func hostListener(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}

// watchHeap samples the heap until the test ends and returns a function
// that reports the peak growth over the starting heap.
func watchHeap(t *testing.T) func() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	base, peak := ms.HeapInuse, ms.HeapInuse
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				runtime.ReadMemStats(&ms)
				peak = max(peak, ms.HeapInuse)
			}
		}
	}()
	return func() uint64 {
		close(stop)
		<-done
		return peak - base
	}
}
