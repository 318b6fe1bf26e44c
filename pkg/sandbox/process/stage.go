package process

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/sablebox/sablebox/pkg/sandbox"
)

// The names stage 1 and stage 2 are started under (argv[0]).
const (
	initArg = "__sablebox-init"
	execArg = "__sablebox-exec"
)

// File descriptors the stages inherit: the stage config to read, and the
// pipe to report a setup failure on (nothing is written when the tool
// starts: the pipe closes on exec).
const (
	configFD = 3
	errorFD  = 4
	// workspaceFD and outputFD are O_PATH descriptors of the host dirs, so
	// that stage 1 can bind them even where their path is not searchable
	// by the sandbox user (a root-only parent dir).
	workspaceFD = 5
	outputFD    = 6
)

// execMark is written on the error pipe right before the tool's exec.
const execMark = '>'

// stageConfig is what the parent tells the stages.
type stageConfig struct {
	// Has are the layers to apply; each must succeed or the run fails.
	Has map[string]bool
	// Root is an empty host directory to build the new root in (mount
	// namespace only).
	Root string
	// Binds maps a path in the new root to the host path bound read-only
	// there (the interpreter's prefix when it is outside /usr).
	Binds map[string]string
	// Host paths: the tool dir, workspace and output ("" if none).
	ToolDir, Workspace, Output string
	// Paths is where the tool sees each place.
	Paths paths
	// Argv and Env are what the tool is executed with; Argv[0] is looked up
	// on the PATH in Env.
	Argv []string
	Env  []string
	// Limits bound the run.
	Limits sandbox.Limits
	// DetachedMounts says the workspace and output come as detached mount
	// trees on workspaceFD and outputFD rather than by path.
	DetachedMounts bool
	// DropToUID is set when sablebox runs as root without a user
	// namespace: stage 2 changes to uid and gid 1000 before the exec.
	DropToUID bool
	// SeccompBPF is the profile compiled to a BPF program by the parent.
	SeccompBPF []byte
}

// paths are the places as the tool sees them.
type paths struct {
	Tmp, Home, Tool, Workspace, Output string
}

// MaybeInit runs a sandbox stage and never returns when this process was
// started as one; otherwise it returns at once. cmd/sablebox (and any
// test binary that runs the process backend) calls it first thing.
func MaybeInit() {
	switch os.Args[0] {
	case initArg:
		stageInit()
	case execArg:
		stageExec()
	}
}

// readConfig reads the stage config from configFD.
func readConfig() stageConfig {
	f := os.NewFile(configFD, "config")
	var cfg stageConfig
	data, err := io.ReadAll(f)
	f.Close()
	if err == nil {
		err = json.Unmarshal(data, &cfg)
	}
	if err != nil {
		failStage(fmt.Errorf("read stage config: %w", err))
	}
	return cfg
}

// failStage reports a setup failure to the parent and exits 125.
func failStage(err error) {
	f := os.NewFile(errorFD, "errors")
	fmt.Fprintf(f, "%s", err)
	os.Exit(sandbox.ExitError)
}
