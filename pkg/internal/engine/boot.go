package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/sablebox/sablebox/pkg/sandbox"
)

// bootPy is the bootstrap of a warm container, its first process. It
// says it is ready on stdout (readyMark), then reads one header from stdin (its length in decimal and a newline, then
// a JSON object: the run's argv, environment, directory and shell
// script) byte-exact, so the tool's stdin starts right after it. It gives
// back the signals Python ignores (SIGPIPE, SIGXFSZ: an ignored signal
// stays ignored across exec, and the fsize limit needs SIGXFSZ), sets
// the run's rlimits and a Landlock rule on exec when the header has them
// (an engine with no ulimits or noexec mounts of its own: neither needs
// a privilege) and execs
// /bin/sh with the script, which runs the tool and marks its end on both
// streams (see Handoff); without /bin/sh it execs the tool itself. The
// tool's environment is the container's own (with what the engine adds,
// such as HOSTNAME) updated with the run's, as a cold container's is, or
// the run's alone when the header says "clean" (an engine that adds
// variables of its own, such as Kubernetes' service addresses). It
// exits 125 when the stream ends before a header (the pool let the
// container go), and as a shell does when the tool cannot be run (127
// not found, 126 else).
const bootPy = `import os, json, signal
os.write(1, b"\0sablebox-ready\n")
def rd(n):
    b = b""
    while len(b) < n:
        c = os.read(0, n - len(b))
        if not c:
            os._exit(125)
        b += c
    return b
n = b""
while not n.endswith(b"\n"):
    n += rd(1)
h = json.loads(rd(int(n)))
os.chdir(h["dir"])
signal.signal(signal.SIGPIPE, signal.SIG_DFL)
signal.signal(signal.SIGXFSZ, signal.SIG_DFL)
if h.get("rlimits"):
    import resource
    for k, v in h["rlimits"]:
        resource.setrlimit(getattr(resource, k), (v, v))
if h.get("exec_roots"):
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    class Ruleset(ctypes.Structure):
        _fields_ = [("fs", ctypes.c_uint64)]
    class Beneath(ctypes.Structure):
        _pack_ = 1
        _fields_ = [("allowed", ctypes.c_uint64), ("fd", ctypes.c_int32)]
    rs = libc.syscall(444, ctypes.byref(Ruleset(1)), ctypes.sizeof(Ruleset), 0)
    if rs < 0:
        os.write(2, b"sablebox: this kernel has no Landlock, which refuses exec from the writable directories here\n")
        os._exit(125)
    for p in h["exec_roots"]:
        try:
            fd = os.open(p, os.O_PATH | os.O_CLOEXEC)
        except OSError:
            continue
        ok = libc.syscall(445, rs, 1, ctypes.byref(Beneath(1, fd)), 0) == 0
        os.close(fd)
        if not ok:
            os.write(2, b"sablebox: Landlock refused a rule\n")
            os._exit(125)
    if libc.syscall(446, rs, 0) != 0:
        os.write(2, b"sablebox: Landlock refused to restrict the sandbox\n")
        os._exit(125)
    os.close(rs)
env = {} if h.get("clean") else dict(os.environ)
env.update(e.split("=", 1) for e in h["env"])
try:
    os.execve("/bin/sh", ["sh", "-c", h["sh"], "sh"] + h["argv"], env)
except OSError:
    pass
try:
    os.execvpe(h["argv"][0], h["argv"], env)
except OSError as e:
    os.write(2, ("sablebox: cannot run %s: %s\n" % (h["argv"][0], e.strerror)).encode())
    os._exit(127 if isinstance(e, FileNotFoundError) else 126)
`

// readyMark is what the bootstrap prints when it waits for its run.
const readyMark = "\x00sablebox-ready\n"

// BootCommand is the entrypoint of a warm container: the image's python3
// running the bootstrap, isolated from the environment and site.
func BootCommand() []string {
	return []string{"python3", "-I", "-S", "-c", bootPy}
}

// Handoff is the run's side of a warm container: the relays its output
// streams through from the warm start, and the header that hands the run
// to the bootstrap.
//
// The engines tell a container's exit only once they have torn it down
// (Docker: about 30 ms after the tool's last byte), so the shell the
// bootstrap execs marks the tool's end on stdout and on stderr: a NUL,
// "sablebox-exit:", a nonce of the run, ":", the exit code in three
// digits and a newline. Each stream keeps its order, so a mark comes
// after all the tool wrote there; the relays strip it. The exit code is
// the tool's own to choose, so a mark the tool forged gives it nothing it
// could not get by exiting: the run ends, and the sandbox is killed.
type Handoff struct {
	Stdout, Stderr Relay
	// TarsOutput, set before Bind, has a run with an output directory
	// write it as a tar after the end mark on stdout (see Output): for an
	// engine that cannot read the directory itself (Docker's tmpfs).
	TarsOutput bool
	// SetsLimits, set before Bind, has the bootstrap set the run's
	// rlimits itself (nofile, nproc, fsize, stack, core), for an engine
	// that takes no ulimits (Kubernetes).
	SetsLimits bool
	// CleanEnv, set before Bind, gives the tool the run's environment
	// alone, not the container's with the run's on top.
	CleanEnv bool
	// ExecRoots, set before Bind, has the bootstrap refuse execve
	// anywhere but beneath these directories (Landlock; it fails closed
	// where the kernel has none), for an engine that cannot mount the
	// writable directories noexec (Kubernetes).
	ExecRoots []string
	header    []byte
	script    string
	writes    bool        // the bound run writes its output directory after the end mark
	tail      *tailReader // collects that tar once connected; nil before, or without one
	argv      []string
	mark      []byte
	ends      sync.WaitGroup
	ended     chan struct{}
	code      int
	ready     chan struct{}
}

// NewHandoff makes the handoff of a warm container not yet bound.
func NewHandoff() *Handoff {
	h := &Handoff{ended: make(chan struct{}), ready: make(chan struct{})}
	h.Stdout.ready, h.Stdout.onReady = []byte(readyMark), func() { close(h.ready) }
	return h
}

// AwaitReady waits until the bootstrap waits for its run, and fails when
// the container's stream ends first (drained) or ctx does.
func (h *Handoff) AwaitReady(ctx context.Context, drained <-chan struct{}) error {
	select {
	case <-h.ready:
		return nil
	case <-drained:
		return h.Stopped()
	case <-ctx.Done():
		return fmt.Errorf("the warm container's bootstrap did not start: %w", ctx.Err())
	}
}

// Stopped is the error of a warm container that stopped before its run,
// with what its bootstrap said.
func (h *Handoff) Stopped() error {
	msg := "its container stopped"
	if said := strings.TrimSpace(h.Stderr.Held()); said != "" {
		msg += ": " + said
	}
	return errors.New(msg)
}

// Bind makes the header of spec's run, with a fresh end mark.
func (h *Handoff) Bind(spec *sandbox.Spec) {
	nonce := make([]byte, 8)
	_, _ = rand.Read(nonce) // never fails on Linux
	id := hex.EncodeToString(nonce)
	h.mark = []byte("\x00sablebox-exit:" + id + ":")
	format := `\000sablebox-exit:` + id + `:%03d\n`
	steps := []string{`r=0`, `"$@" || r=$?`}
	if spec.Output {
		steps = append(steps, endLeftovers)
	}
	steps = append(steps, `printf '`+format+`' "$r"`, `printf '`+format+`' "$r" >&2`)
	h.writes = spec.Output && h.TarsOutput
	if h.writes {
		// The output directory follows the end mark on stdout, as a tar
		// (see Output); the container may stop once it is written.
		steps = append(steps, writeOutput)
	}
	h.script = strings.Join(append(steps, `exit "$r"`), "; ")
	entry, args := Command(spec)
	h.argv = append(entry, args...)
	var rlimits [][]any
	if h.SetsLimits {
		l := spec.Limits
		rlimits = [][]any{{"RLIMIT_NOFILE", l.NoFile}, {"RLIMIT_NPROC", l.NProc}, {"RLIMIT_CORE", 0},
			{"RLIMIT_FSIZE", l.TmpBytes}, {"RLIMIT_STACK", sandbox.StackBytes}}
	}
	body, _ := json.Marshal(struct { // strings, numbers and lists of them always marshal
		Argv    []string `json:"argv"`
		Env     []string `json:"env"`
		Dir     string   `json:"dir"`
		Sh      string   `json:"sh"`
		Rlimits [][]any  `json:"rlimits,omitempty"`
		Clean   bool     `json:"clean,omitempty"`
		Exec    []string `json:"exec_roots,omitempty"`
	}{h.argv, Env(spec), sandbox.WorkspaceDir, h.script, rlimits, h.CleanEnv, h.ExecRoots})
	h.header = append(fmt.Appendf(nil, "%d\n", len(body)), body...)
}

// endLeftovers ends what the tool left running, before its end is
// marked, so that nothing of the tool's changes the output directory
// while it is read. kill -1 spares the shell itself and the namespace's
// init (the shell, or the bootstrap it was); a fork is refused once
// SIGKILL is pending.
const endLeftovers = `kill -9 -1 2>/dev/null`

// writeOutput writes a tar of the output directory to stdout, after the
// end mark: a tmpfs that goes with its container is read while it is
// still there, through the stream the run already has, on any engine.
const writeOutput = `tar -C ` + sandbox.OutputDir + ` -cf - . 2>/dev/null`

// Entrypoint is a cold container's command for the run Bind was given:
// the shell script that marks the tool's end (and, for a run with an
// output directory, writes it after the mark), with the tool's argv as
// its arguments.
func (h *Handoff) Entrypoint() (entrypoint, cmd []string) {
	return []string{"/bin/sh", "-c", h.script, "sh"}, append([]string{}, h.argv...)
}

// WritesOutput reports whether the bound run's shell writes the output
// directory after the end mark (see TarsOutput): its container must then
// outlive the tool, so the tool is killed from inside (KillCommand).
func (h *Handoff) WritesOutput() bool { return h.writes }

// KillCommand, run in a container started with Entrypoint or the
// bootstrap, kills every process of the tool's and leaves the shell to
// mark its end and write the output directory.
func KillCommand() []string { return []string{"/bin/sh", "-c", "kill -9 -1"} }

// Output collects the output directory from the tar that follows the
// end mark on stdout, once the stream has ended (Flush). A tool that
// forged the mark chose those bytes: they are read as the untrusted input
// they are, within TailBytes, as they arrive.
func (h *Handoff) Output(ctx context.Context) (*Collected, error) {
	if h.tail == nil {
		return nil, errors.New("the run's output stream was never connected")
	}
	select {
	case <-h.tail.done:
	case <-ctx.Done():
		return nil, fmt.Errorf("the output directory did not come back: %w", ctx.Err())
	}
	return h.tail.col, h.tail.err
}

// TailBytes bounds the tar of the output directory read: its files within
// sandbox.MaxFileBytes, and room for the headers.
const TailBytes = sandbox.MaxFileBytes + 16<<20

// tailReader collects the output from what follows the end mark while it
// arrives: the stream is never held up for long (the other stream's mark
// may still be behind it), and only the collected files are kept.
type tailReader struct {
	w    *io.PipeWriter
	col  *Collected
	err  error
	done chan struct{}
	once sync.Once
}

func newTailReader() *tailReader {
	r, w := io.Pipe()
	t := &tailReader{w: w, done: make(chan struct{})}
	go func() {
		defer close(t.done)
		in := &countedReader{r: r, left: TailBytes}
		t.col, t.err = ReadArchive(in)
		if t.err == nil {
			_, t.err = io.Copy(io.Discard, in) // tar pads its last record
		}
		switch {
		case in.over:
			t.err = fmt.Errorf("the output archive is larger than %d MiB", TailBytes>>20)
		case in.read == 0:
			t.err = errors.New("no archive of /output came back: the container was killed before it was written, or the image has no tar")
		}
		r.CloseWithError(errors.New("the output archive was read")) // later writes fail at once
	}()
	return t
}

// Write passes p to the collector; it never fails (a closed collector
// drops the rest).
func (t *tailReader) Write(p []byte) (int, error) {
	_, _ = t.w.Write(p)
	return len(p), nil
}

// end says the stream has ended.
func (t *tailReader) end() { t.once.Do(func() { t.w.Close() }) }

// countedReader reads from r up to left bytes, counting them; beyond, it
// fails.
type countedReader struct {
	r    io.Reader
	left int64
	read int64
	over bool
}

func (c *countedReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		c.over = true
		return 0, errors.New("over the bound")
	}
	n, err := c.r.Read(p[:min(int64(len(p)), c.left)])
	c.left -= int64(n)
	c.read += int64(n)
	return n, err
}

// OutputOptions are the mount options of the noexec, size-limited
// output tmpfs (what the engine adds to give it to the sandbox user is
// its own, as for HomeOptions).
func OutputOptions() []string {
	return []string{"rw", "noexec", "nosuid", "nodev", fmt.Sprintf("size=%d", sandbox.MaxFileBytes), "mode=0755"}
}

// Header is what the bootstrap reads before the tool's stdin.
func (h *Handoff) Header() []byte { return h.header }

// Connect sends the run's output to stdout and stderr and watches both
// for the end mark.
func (h *Handoff) Connect(stdout, stderr io.Writer) {
	h.ends.Add(2)
	var codes [2]int
	if h.writes {
		// Started here, not at Bind: a run that never connects (a failed
		// create or attach) leaves no collector waiting on its pipe; one
		// connected ends with its stream (Flush).
		h.tail = newTailReader()
		h.Stdout.tail = h.tail
	}
	for i, r := range []*Relay{&h.Stdout, &h.Stderr} {
		r.Connect([]io.Writer{stdout, stderr}[i], h.mark, func(code int) {
			codes[i] = code
			h.ends.Done()
		})
	}
	go func() {
		h.ends.Wait()
		h.code = codes[1]
		close(h.ended)
	}()
}

// Ended closes once both streams carried the end mark: the tool has
// exited with Code.
func (h *Handoff) Ended() <-chan struct{} { return h.ended }

// Drained closes when the run's output has ended: both end marks came, or
// the container's stream (drained) ended without them.
func (h *Handoff) Drained(drained <-chan struct{}) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		select {
		case <-drained:
		case <-h.ended:
		}
	}()
	return done
}

// Code is the tool's exit code, once Ended has closed.
func (h *Handoff) Code() int { return h.code }

// Flush ends the relays' streams: bytes held as a possible mark are
// the tool's.
func (h *Handoff) Flush() {
	h.Stdout.Flush()
	h.Stderr.Flush()
	if h.tail != nil {
		h.tail.end()
	}
}
