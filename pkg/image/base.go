package image

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	archive "github.com/moby/go-archive"
)

// DefaultMirror is the Debian mirror debootstrap fetches from.
const DefaultMirror = "http://deb.debian.org/debian"

// baseDirPrefix names the temporary root filesystems MakeBase creates; the
// owner's pid follows it, so that a later run can remove a dead one's.
const baseDirPrefix = "sablebox-base-"

// BaseOptions says what MakeBase makes.
type BaseOptions struct {
	// Suite is the Debian release, such as "bookworm".
	Suite string
	// Mirror is the Debian mirror; DefaultMirror when empty.
	Mirror string
	// Ref names the imported image; OfflineBaseRepo:Suite when empty.
	Ref string
	// WorkDir holds the temporary root filesystem; os.TempDir() when
	// empty. It must allow device nodes and exec (not a noexec tmpfs).
	WorkDir string
	// Log receives debootstrap's output; nil discards it.
	Log io.Writer
	// Progress receives the import's progress.
	Progress Progress
}

var suiteRE = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)

// BaseRef returns the image name MakeBase gives the result.
func (o BaseOptions) BaseRef() string {
	if o.Ref != "" {
		return o.Ref
	}
	return OfflineBaseRepo + ":" + o.Suite
}

// MakeBase makes a Debian base image with python3 and imports it. It needs
// root and the debootstrap command.
func MakeBase(ctx context.Context, e Engine, opts BaseOptions) (err error) {
	if !suiteRE.MatchString(opts.Suite) {
		return fmt.Errorf("debian suite %q: want a release name such as bookworm", opts.Suite)
	}
	if os.Geteuid() != 0 {
		return errNotRoot
	}
	debootstrap, err := exec.LookPath("debootstrap")
	if err != nil {
		return errors.New("debootstrap is not installed: install it (apt-get install debootstrap) and try again")
	}
	if opts.Mirror == "" {
		opts.Mirror = DefaultMirror
	}
	if opts.WorkDir == "" {
		opts.WorkDir = "/var/tmp"
	}
	removeStaleBaseDirs(opts.WorkDir)
	dir, err := os.MkdirTemp(opts.WorkDir, baseDirPrefix+strconv.Itoa(os.Getpid())+"-")
	if err != nil {
		return fmt.Errorf("make base: %w", err)
	}
	defer func() {
		if rmErr := os.RemoveAll(dir); rmErr != nil {
			err = errors.Join(err, fmt.Errorf("remove %s: %w", dir, rmErr))
		}
	}()

	rootfs := filepath.Join(dir, "rootfs")
	cmd := exec.CommandContext(ctx, debootstrap, "--variant=minbase", "--include=python3",
		opts.Suite, rootfs, opts.Mirror)
	cmd.Stdout, cmd.Stderr = opts.Log, opts.Log
	// Its own mount namespace (Go makes it private), so the /proc and /sys
	// it mounts vanish with it even when it is killed; its own process
	// group, so a cancel kills dpkg and the rest; and it dies with us.
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Unshareflags: syscall.CLONE_NEWNS,
		Setpgid:      true,
		Pdeathsig:    syscall.SIGKILL,
	}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("debootstrap: %w", context.Cause(ctx))
		}
		return fmt.Errorf("debootstrap %s from %s failed (%v): check that the mirror is reachable; its log is above", opts.Suite, opts.Mirror, err)
	}
	if _, err := os.Stat(filepath.Join(rootfs, "usr/bin/python3")); err != nil {
		return fmt.Errorf("debootstrap made no python3: %w", err)
	}

	tarStream, err := archive.TarWithOptions(rootfs, &archive.TarOptions{
		ExcludePatterns: []string{"dev/*", "proc/*", "sys/*", "run/*", "tmp/*", "var/cache/apt/archives/*.deb", "var/lib/apt/lists/*"},
	})
	if err != nil {
		return fmt.Errorf("archive root filesystem: %w", err)
	}
	defer tarStream.Close()
	return e.ImportImage(ctx, tarStream, opts.BaseRef(), baseChanges, opts.Progress)
}

// removeStaleBaseDirs removes what a killed MakeBase left behind: its
// directory names the owner pid, and a dir whose owner is gone is stale.
func removeStaleBaseDirs(workDir string) {
	entries, _ := os.ReadDir(workDir)
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), baseDirPrefix)
		if !ok || !e.IsDir() {
			continue
		}
		pidStr, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidStr)
		if err != nil {
			continue
		}
		if syscall.Kill(pid, 0) == syscall.ESRCH {
			_ = os.RemoveAll(filepath.Join(workDir, e.Name()))
		}
	}
}

// errNotRoot is returned when debootstrap cannot run.
var errNotRoot = errors.New("making a base image needs root (debootstrap creates device nodes and chroots): run it as root (with sudo from another account)")
