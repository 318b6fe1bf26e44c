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
// stays ignored across exec, and the fsize limit needs SIGXFSZ) and execs
// /bin/sh with the script, which runs the tool and marks its end on both
// streams (see Handoff); without /bin/sh it execs the tool itself. The
// tool's environment is the container's own (with what the engine adds,
// such as HOSTNAME) updated with the run's, as a cold container's is. It
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
env = dict(os.environ)
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
	header         []byte
	script         string
	argv           []string
	mark           []byte
	ends           sync.WaitGroup
	ended          chan struct{}
	code           int
	ready          chan struct{}
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
		steps = append(steps, holdKill)
	}
	steps = append(steps, `printf '`+format+`' "$r"`, `printf '`+format+`' "$r" >&2`)
	if spec.Output {
		steps = append(steps, holdWait)
	}
	h.script = strings.Join(append(steps, `exit "$r"`), "; ")
	entry, args := Command(spec)
	h.argv = append(entry, args...)
	body, _ := json.Marshal(struct { // strings and lists of strings always marshal
		Argv []string `json:"argv"`
		Env  []string `json:"env"`
		Dir  string   `json:"dir"`
		Sh   string   `json:"sh"`
	}{h.argv, Env(spec), sandbox.WorkspaceDir, h.script})
	h.header = append(fmt.Appendf(nil, "%d\n", len(body)), body...)
}

// holdKill ends what the tool left running, before its end is marked:
// the sandbox stays up, but nothing of the tool's runs on in it. kill -1
// spares the shell itself, the namespace's init (the shell, or the
// bootstrap it was), and a fork is refused once SIGKILL is pending.
const holdKill = `kill -9 -1 2>/dev/null`

// holdWait keeps the shell, and so the container, up once the end is
// marked, with no process left running: a shell of its own stops itself,
// and the read at the other end of its pipe waits for ever. The engine
// reads the output directory, then kills the container.
const holdWait = `sh -c 'kill -STOP $$' | read _`

// Entrypoint is a cold container's command for the run Bind was given:
// the shell script that marks the tool's end (and, for a run with an
// output directory, holds the container up after it), with the tool's
// argv as its arguments.
func (h *Handoff) Entrypoint() (entrypoint, cmd []string) {
	return []string{"/bin/sh", "-c", h.script, "sh"}, append([]string{}, h.argv...)
}

// KillCommand, run in a held container (see Entrypoint), kills every
// process of the tool's and leaves the shell to mark its end.
func KillCommand() []string { return []string{"/bin/sh", "-c", "kill -9 -1"} }

// OutputCommand, run in a held container, writes a tar of the output
// directory to stdout, read by ReadArchive.
func OutputCommand() []string { return []string{"tar", "-C", sandbox.OutputDir, "-cf", "-", "."} }

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
}
