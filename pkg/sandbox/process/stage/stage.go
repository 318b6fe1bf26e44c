// Package stage is the code of the process sandbox that runs between
// sablebox and the tool: stage 1 ("__sablebox-init") is pid 1 of the new
// namespaces, builds the tool's root and reaps; stage 2
// ("__sablebox-exec") applies the in-process restrictions (rlimits,
// capabilities, no_new_privs, Landlock, seccomp last) and execs the tool.
//
// It imports little on purpose: the helper binary built from it
// (cmd/sablebox-stage, embedded in sablebox) starts in about a
// millisecond, where sablebox itself, with its engine clients, takes
// several. Everything a stage needs comes in its Config; it knows nothing
// of specs, backends or layers by name.
//
// It is not an API. It is not under pkg/internal only because
// cmd/sablebox-stage, a main package outside pkg/, must import it.
package stage

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"
)

// The names the stages are started under (argv[0]).
const (
	InitArg = "__sablebox-init"
	ExecArg = "__sablebox-exec"
)

// File descriptors the stages inherit: the config to read, and the pipe
// to report a setup failure on (ExecMark, then nothing more, when the
// tool starts: the pipe closes on exec).
const (
	ConfigFD = 3
	ErrorFD  = 4
	// WorkspaceFD and OutputFD are detached mount trees of the host dirs
	// (Config.DetachedMounts), so that stage 1 can attach them even where
	// their path is not searchable by the sandbox user.
	WorkspaceFD = 5
	OutputFD    = 6
	// BinaryFD is the stage binary itself when the parent runs it from a
	// memory file (as /proc/self/fd/7: an fd of its own number could be
	// replaced by another before the exec).
	BinaryFD = 7
)

// ExecMark is written on the error pipe right before the tool's exec.
const ExecMark = '>'

// ExitSetup is a stage's exit status when the setup failed.
const ExitSetup = 125

// Config is what the parent tells the stages.
type Config struct {
	// Apply says which layers to apply; each must succeed or the run
	// fails. The parent planned them.
	Apply Layers
	// Root is an empty host directory to build the new root in (mount
	// namespace only).
	Root string
	// View lists the host paths the tool sees, each bound read-only at the
	// same path in the new root and allowed by Landlock.
	View []string
	// Binds maps a path in the new root to the host path bound read-only
	// there (the interpreter's prefix when it is outside /usr).
	Binds map[string]string
	// Host paths: the tool dir, workspace and output ("" if none).
	ToolDir, Workspace, Output string
	// DetachedMounts says the workspace and output come as detached mount
	// trees on WorkspaceFD and OutputFD rather than by path.
	DetachedMounts bool
	// Paths is where the tool sees each place.
	Paths Paths
	// Argv and Env are what the tool is executed with; Argv[0] is looked up
	// on the PATH in Env.
	Argv []string
	Env  []string
	// Limits bound the run.
	Limits Limits
	// UID and GID are the tool's identity; DropIDs says stage 2 changes to
	// them (sablebox runs as root without a user namespace), else the
	// parent's user namespace already made them so.
	UID, GID int
	DropIDs  bool
	// SeccompBPF is the profile compiled to a BPF program by the parent.
	SeccompBPF []byte
}

// Layers are the layers the stages apply themselves (the namespaces they
// live in were made by the parent).
type Layers struct {
	MountNS, NetNS, Cgroup, Rlimits, NoNewPrivs, Landlock, Seccomp bool
}

// Paths are the places as the tool sees them.
type Paths struct {
	Tmp, Home, Tool, Workspace, Output string
}

// Limits are the bounds the stages set.
type Limits struct {
	// Timeout bounds the CPU time too (it never exceeds the wall time).
	Timeout time.Duration
	// MemoryBytes becomes RLIMIT_AS when no cgroup bounds the memory.
	MemoryBytes int64
	// Pids bounds the tool's processes and threads (RLIMIT_NPROC).
	Pids int64
	// NoFile bounds open files.
	NoFile uint64
	// TmpBytes sizes /tmp and /dev/shm and bounds a file's size;
	// HomeBytes sizes the home dir.
	TmpBytes, HomeBytes int64
	// StackBytes is RLIMIT_STACK.
	StackBytes uint64
}

// Run runs the stage this process was started as, and never returns;
// it returns at once when the process is not a stage.
func Run() {
	switch os.Args[0] {
	case InitArg:
		stageInit()
	case ExecArg:
		stageExec()
	case TraceArg:
		stageTrace()
	}
}

// readConfig reads the stage config from ConfigFD, and returns it as sent
// too (stage 1 passes it on).
func readConfig() (Config, []byte) {
	f := os.NewFile(ConfigFD, "config")
	var cfg Config
	data, err := io.ReadAll(f)
	f.Close()
	if err == nil {
		err = json.Unmarshal(data, &cfg)
	}
	if err != nil {
		fail(fmt.Errorf("read stage config: %w", err))
	}
	return cfg, data
}

// fail reports a setup failure to the parent and exits.
func fail(err error) {
	f := os.NewFile(ErrorFD, "errors")
	fmt.Fprintf(f, "%s", err)
	os.Exit(ExitSetup)
}
