package sandbox

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"strings"
	"time"

	"github.com/sablebox/sablebox/pkg/sandbox/hostdir"
)

// Paths inside the sandbox. They are the same on every backend.
const (
	// WorkspaceDir is where Spec.Workspace appears, read-only.
	WorkspaceDir = "/workspace"
	// OutputDir is the tool's writable output directory (Spec.Output).
	OutputDir = "/output"
	// ToolDir holds the tool file, read-only to the tool.
	ToolDir = "/sablebox"
	// HomeDir is the sandbox user's home, a small writable tmpfs.
	HomeDir = "/home/sandbox"
	// TmpDir is the writable, noexec scratch tmpfs.
	TmpDir = "/tmp"
	// UID and GID are the unprivileged identity tools run as.
	UID = 1000
	GID = 1000
)

// Spec says what to run and under which limits. Exactly one of Tool and
// Command is set. The zero values of the optional fields are safe: no
// stdin, no workspace, no output directory, no extra environment.
type Spec struct {
	// RunID names the run in labels, logs and the audit record.
	RunID string
	// Tool is a file run by the interpreter of its language (Interpreter).
	Tool *ToolFile
	// Command replaces the image's entrypoint: Command[0] is looked up on
	// the sandbox's PATH.
	Command []string
	// Args follow the tool file or the command.
	Args []string
	// Stdin is copied to the tool's standard input; nil means empty.
	Stdin io.Reader
	// Stdout and Stderr, when set, receive the tool's output while the run
	// goes on, the same bytes the Result keeps (up to Limits.OutputBytes
	// each); see NewStreamingCapture.
	Stdout, Stderr io.Writer
	// Env holds extra KEY=VALUE variables; the sandbox's own (HOME, PATH,
	// LANG) come first and cannot be overridden.
	Env []string
	// Workspace is a host directory mounted read-only at WorkspaceDir.
	Workspace string
	// Files are put into WorkspaceDir by content before the tool starts,
	// root-owned and read-only to the tool: give them or Workspace.
	Files []File
	// Output gives the tool a writable, empty OutputDir. What it leaves
	// there comes back in Result.Files by content (regular files only,
	// within MaxFiles and MaxFileBytes): no host directory is lent to the
	// sandbox, nor chowned for it.
	Output bool
	// Image is the container image; ignored by backends without images.
	Image string
	// Limits bound the run; see DefaultLimits.
	Limits Limits
	// Seccomp is the syscall filter applied to the tool. It is required:
	// a backend refuses a Spec without one rather than run unfiltered.
	Seccomp *SeccompProfile
	// PassedOver says why automatic selection passed over the backends it
	// tried before this one; the Result repeats it.
	PassedOver []string
}

// ToolFile is a tool's source, delivered read-only into the sandbox at
// ToolDir/Name.
type ToolFile struct {
	// Name is the file's base name, such as "hello.py".
	Name string
	// Lang is the language the file is in (see Langs); "" is Python.
	Lang string
	// Content is the file's bytes.
	Content []byte
}

// Path is where the tool file appears inside the sandbox.
func (t *ToolFile) Path() string { return path.Join(ToolDir, t.Name) }

// SHA256 is the hex digest of the tool's content.
func (t *ToolFile) SHA256() string { return digest(t.Content) }

// SeccompProfile is a syscall filter in Docker's JSON profile format.
type SeccompProfile struct {
	// Name identifies the profile ("default").
	Name string
	// JSON is the profile document.
	JSON []byte
	// Unconfined is no filter at all (JSON empty): the runner hands it
	// out only where the config opts in, and the result says so.
	Unconfined bool
}

// SHA256 is the hex digest of the profile document ("" when unconfined).
func (p *SeccompProfile) SHA256() string {
	if p.Unconfined {
		return ""
	}
	return digest(p.JSON)
}

// UnconfinedNote is the Result.Degraded entry of a run with no syscall
// filter.
const UnconfinedNote = "seccomp: unconfined: no syscall filter (seccomp-unsafe is set in the config)"

func digest(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

var (
	envKeyRE    = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	toolNameRE  = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]*$`)
	runIDRE     = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)
	reservedEnv = map[string]bool{"HOME": true, "PATH": true, "LANG": true}
)

// Captures returns the captures of the tool's stdout and stderr under the
// spec's output cap, streaming to Stdout and Stderr when they are set.
func (s *Spec) Captures() (stdout, stderr *Capture) {
	return NewStreamingCapture(s.Limits.OutputBytes, s.Stdout), NewStreamingCapture(s.Limits.OutputBytes, s.Stderr)
}

// Validate checks the Spec before any side effect. Every error wraps
// ErrInvalidSpec and names the field at fault.
func (s *Spec) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidSpec, fmt.Sprintf(format, args...))
	}
	switch {
	case !runIDRE.MatchString(s.RunID):
		return bad("run id %q: use 1 to 64 letters, digits, '.', '_' and '-' (NewRunID makes one)", s.RunID)
	case s.Tool == nil && len(s.Command) == 0:
		return bad("nothing to run: give a tool file or a command")
	case s.Tool != nil && len(s.Command) > 0:
		return bad("give a tool file or a command, not both")
	case s.Tool != nil && !toolNameRE.MatchString(s.Tool.Name):
		return bad("tool file name %q: use letters, digits, '.', '_' and '-' only", s.Tool.Name)
	case s.Tool != nil && !validLang(s.Tool.Lang):
		return bad("tool language %q: want one of %s", s.Tool.Lang, strings.Join(Langs, ", "))
	case len(s.Command) > 0 && s.Command[0] == "":
		return bad("empty command")
	case s.Seccomp == nil || (len(s.Seccomp.JSON) == 0) != s.Seccomp.Unconfined:
		return bad("no seccomp profile: refusing to run without a syscall filter")
	}
	if len(s.Files) > 0 && s.Workspace != "" {
		return bad("give workspace files or a workspace directory, not both")
	}
	if err := validateFiles("workspace", s.Files); err != nil {
		return bad("%v", err)
	}
	if s.Workspace != "" {
		// The runner resolved the path and applied every rule; a library
		// caller that did not still cannot hand over / or /etc.
		if err := hostdir.CheckPath("workspace", s.Workspace, ""); errors.Is(err, hostdir.ErrUnsafe) {
			return fmt.Errorf("%w: %w", ErrPolicy, err)
		} else if err != nil {
			return bad("%v", err)
		}
	}
	for _, kv := range s.Env {
		k, _, ok := strings.Cut(kv, "=")
		if !ok || !envKeyRE.MatchString(k) {
			return bad("environment entry %q: want KEY=VALUE", kv)
		}
		if reservedEnv[k] {
			return bad("environment entry %q: %s is set by the sandbox", kv, k)
		}
		if strings.ContainsRune(kv, 0) {
			return bad("environment entry for %s contains a NUL byte", k)
		}
	}
	return s.Limits.Validate()
}

// Limits bound a run. DefaultLimits gives the values of the security guide.
type Limits struct {
	// Timeout is the wall-clock limit; the tool is killed when it passes.
	Timeout time.Duration `json:"-"`
	// MemoryBytes is the memory limit; swap is not allowed on top of it.
	MemoryBytes int64 `json:"memory_bytes"`
	// CPUs is the share of CPUs the tool may use (0.5 = half a core).
	CPUs float64 `json:"cpus"`
	// Pids is the most processes and threads that may exist at once.
	Pids int64 `json:"pids"`
	// TmpBytes is the size of the writable /tmp.
	TmpBytes int64 `json:"tmp_bytes"`
	// NoFile is RLIMIT_NOFILE, the most open file descriptors.
	NoFile uint64 `json:"nofile"`
	// NProc is RLIMIT_NPROC. It counts per user across the host, so the
	// per-run bound is Pids; this is a backstop.
	NProc uint64 `json:"nproc"`
	// OutputBytes caps each of stdout and stderr as kept in the Result;
	// the rest is read and discarded.
	OutputBytes int64 `json:"output_bytes"`
}

// Default limits, from the security guide.
const (
	DefaultTimeout     = 30 * time.Second
	DefaultMemoryBytes = 256 << 20
	DefaultCPUs        = 0.5
	DefaultPids        = 10
	DefaultTmpBytes    = 64 << 20
	DefaultNoFile      = 256
	DefaultNProc       = 512
	DefaultOutputBytes = 1 << 20
	// HomeBytes is the size of the writable home tmpfs.
	HomeBytes = 16 << 20
	// StackBytes is RLIMIT_STACK, soft and hard: the stack a tool may
	// grow, and so a bound of a quarter of it on an exec's argv and
	// environment, whatever the host's daemon runs with.
	StackBytes = 8 << 20
)

// DefaultLimits returns the limits used when the caller sets none.
func DefaultLimits() Limits {
	return Limits{
		Timeout:     DefaultTimeout,
		MemoryBytes: DefaultMemoryBytes,
		CPUs:        DefaultCPUs,
		Pids:        DefaultPids,
		TmpBytes:    DefaultTmpBytes,
		NoFile:      DefaultNoFile,
		NProc:       DefaultNProc,
		OutputBytes: DefaultOutputBytes,
	}
}

// limitsJSON is Limits as JSON: the timeout in seconds, named so.
type limitsJSON struct {
	plainLimits
	TimeoutSeconds float64 `json:"timeout_seconds"`
}

type plainLimits Limits

// MarshalJSON writes the timeout as "timeout_seconds", a number of seconds.
func (l Limits) MarshalJSON() ([]byte, error) {
	return json.Marshal(limitsJSON{plainLimits(l), l.Timeout.Seconds()})
}

// UnmarshalJSON reads what MarshalJSON wrote.
func (l *Limits) UnmarshalJSON(b []byte) error {
	var in limitsJSON
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	*l = Limits(in.plainLimits)
	l.Timeout = time.Duration(in.TimeoutSeconds * float64(time.Second))
	return nil
}

// Validate checks that every limit is set and sane. Zero means "unset",
// which is an error here: callers fill defaults first.
func (l Limits) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidSpec, fmt.Sprintf(format, args...))
	}
	switch {
	case l.Timeout <= 0:
		return bad("timeout %v: must be positive", l.Timeout)
	case l.MemoryBytes < 6<<20:
		return bad("memory %d bytes: must be at least 6 MiB", l.MemoryBytes)
	case l.CPUs <= 0 || l.CPUs > 1024:
		return bad("cpus %g: must be above 0", l.CPUs)
	case l.Pids < 2:
		return bad("pids %d: must be at least 2 (the init and the tool)", l.Pids)
	case l.TmpBytes <= 0:
		return bad("tmp size %d: must be positive", l.TmpBytes)
	case l.NoFile < 16:
		return bad("nofile %d: must be at least 16", l.NoFile)
	case l.NProc < 1:
		return bad("nproc %d: must be positive", l.NProc)
	case l.OutputBytes <= 0:
		return bad("output cap %d: must be positive", l.OutputBytes)
	}
	return nil
}

// WithDefaults returns l with every unset (zero) field taken from
// DefaultLimits.
func (l Limits) WithDefaults() Limits {
	d := DefaultLimits()
	orDefault(&l.Timeout, d.Timeout)
	orDefault(&l.MemoryBytes, d.MemoryBytes)
	orDefault(&l.CPUs, d.CPUs)
	orDefault(&l.Pids, d.Pids)
	orDefault(&l.TmpBytes, d.TmpBytes)
	orDefault(&l.NoFile, d.NoFile)
	orDefault(&l.NProc, d.NProc)
	orDefault(&l.OutputBytes, d.OutputBytes)
	return l
}

func orDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}
