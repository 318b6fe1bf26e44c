package process

import (
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/sablebox/sablebox/pkg/sandbox/process/stage"
)

// helperFiles holds the stage helper that make builds into helper/ (and a
// README, so that the pattern always matches).
//
//go:embed helper
var helperFiles embed.FS

// helperPath is the stage helper's name in helperFiles.
const helperPath = "helper/sablebox-stage"

// embeddedHelper opens the embedded stage helper; ok is false when this
// build has none.
func embeddedHelper() (f fs.File, ok bool) {
	f, err := helperFiles.Open(helperPath)
	return f, err == nil
}

// stageBinary is what the parent executes as stage 1 (which executes
// /proc/self/exe, the same file, as stage 2).
type stageBinary struct {
	// path is what stage 1 is executed from: /proc/self/fd/7 (file, at
	// stage.BinaryFD in the child) or /proc/self/exe.
	path string
	// file is the sealed helper; nil for /proc/self/exe.
	file *os.File
	// note says which binary this is, for doctor.
	note string
}

// openStageBinary puts the embedded helper in a sealed memory file, so
// that no file on disk (which the tool might reach) is ever executed as a
// stage and nothing can change it under a run. Without a helper, or where
// memory files may not be executed, sablebox re-executes itself.
func openStageBinary() stageBinary {
	self := stageBinary{path: "/proc/self/exe"}
	helper, ok := embeddedHelper()
	if !ok {
		self.note = "this binary (no embedded helper: build with make for about 15 ms less per run)"
		return self
	}
	defer helper.Close()
	f, err := sealedExecutable("sablebox-stage", helper)
	if err != nil {
		self.note = fmt.Sprintf("this binary (the embedded helper could not be loaded: %v)", err)
		return self
	}
	return stageBinary{path: fmt.Sprintf("/proc/self/fd/%d", stage.BinaryFD), file: f, note: "embedded helper, from a sealed memory file"}
}

// sealedExecutable copies src to a memory file, seals it against every
// change, and returns it opened read-only (a file open for writing cannot
// be executed). It copies in small steps: the helper is megabytes.
func sealedExecutable(name string, src io.Reader) (*os.File, error) {
	if v, err := os.ReadFile("/proc/sys/vm/memfd_noexec"); err == nil && strings.TrimSpace(string(v)) == "2" {
		return nil, errors.New("vm.memfd_noexec is 2 on this host")
	}
	fd, err := unix.MemfdCreate(name, unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING|unix.MFD_EXEC)
	if errors.Is(err, unix.EINVAL) { // kernels before 6.3 know no MFD_EXEC, and exec memory files anyway
		fd, err = unix.MemfdCreate(name, unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	}
	if err != nil {
		return nil, fmt.Errorf("memfd_create: %w", err)
	}
	rw := os.NewFile(uintptr(fd), name)
	defer rw.Close()
	if _, err := io.Copy(rw, src); err != nil {
		return nil, fmt.Errorf("write %s: %w", name, err)
	}
	seals := unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, seals); err != nil {
		return nil, fmt.Errorf("seal %s: %w", name, err)
	}
	ro, err := os.OpenFile(fmt.Sprintf("/proc/self/fd/%d", fd), os.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("reopen %s: %w", name, err)
	}
	return ro, nil
}

// MaybeInit runs a sandbox stage, and never returns, when this process was
// started as one (a sablebox without the embedded helper executes itself
// as the stages); otherwise it returns at once. cmd/sablebox, and any test
// binary that runs the process backend, calls it first thing.
func MaybeInit() { stage.Run() }
