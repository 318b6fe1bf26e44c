package selftest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sablebox/sablebox/pkg/internal/cgroup"
	"github.com/sablebox/sablebox/pkg/internal/engine"
)

// ConfinedEnv is set in the environment of a battery that runs confined
// (see Confine), to what confines it.
const ConfinedEnv = "SELFTEST_BATTERY_CONFINED"

// CgroupEnv names, in a confined battery, the cgroup (relative to each
// hierarchy's root) under which the process sandbox makes its runs'
// cgroups, so that its runs stay inside the battery's.
const CgroupEnv = "SELFTEST_BATTERY_CGROUP"

// The confinement's bounds: far above what the battery needs (its
// resource attacks go past a run's limits by a bounded amount), far
// below what hurts a machine.
const (
	confineMemory = 4 << 30
	confinePids   = 4096
)

// Confine runs this program again, with the same arguments, in a mount
// namespace of its own (private propagation: a mount an attack makes
// there covers nothing of the host) and a memory and pids cgroup of its
// own, and returns its exit code when it ends. Attacks that get past a
// weak process sandbox then stay inside both; the engines' containers are
// the engines' to confine. It returns an error, and runs nothing, where
// it cannot confine (not root, no cgroup controllers): the caller runs
// the battery unconfined and says so.
func Confine(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	if os.Geteuid() != 0 {
		return 0, errors.New("not root: the battery runs with this user's rights, and no more")
	}
	self, err := os.Executable()
	if err != nil {
		return 0, fmt.Errorf("find this program: %w", err)
	}
	base := confinementBase()
	sweepConfinements(base)
	name := filepath.Join(base, fmt.Sprintf("%s%d", confinementPrefix, os.Getpid()))
	cg, err := newConfinement(name)
	if err != nil {
		return 0, err
	}
	defer cg.remove()
	what := fmt.Sprintf("a mount namespace and the cgroup /%s (memory %d GiB, %d processes)", name, confineMemory>>30, confinePids)
	cmd := exec.CommandContext(ctx, self, os.Args[1:]...)
	cmd.Env = append(os.Environ(), ConfinedEnv+"="+what, CgroupEnv+"="+name+"/runs")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Unshareflags: syscall.CLONE_NEWNS, // and / made private, as Go does with it
		Pdeathsig:    syscall.SIGKILL,
	}
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 30 * time.Second
	// The child starts in the cgroup: this process goes in first, and
	// comes back out once the child is there.
	if err := cg.enter(); err != nil {
		_ = cg.leave() // back out of what it entered, so that remove can remove it
		return 0, err
	}
	err = cmd.Start()
	if lerr := cg.leave(); lerr != nil && err == nil {
		err = lerr
	}
	if err != nil {
		if cmd.Process != nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
		return 0, fmt.Errorf("start the confined battery: %w", err)
	}
	err = cmd.Wait()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit) && exit.ExitCode() >= 0:
		return exit.ExitCode(), nil
	case err != nil:
		return 1, fmt.Errorf("the confined battery: %w", err)
	}
	return 0, nil
}

// confinementPrefix and the battery's pid name its cgroup.
const confinementPrefix = "sablebox-selftest-"

// sweepConfinements removes the cgroups under base of batteries that are
// gone (killed before they could remove their own).
func sweepConfinements(base string) {
	for name, dirs := range cgroup.List(base) {
		pid, err := strconv.Atoi(strings.TrimPrefix(name, confinementPrefix))
		if strings.HasPrefix(name, confinementPrefix) && err == nil && syscall.Kill(pid, 0) == syscall.ESRCH {
			_ = cgroup.Open(dirs).Remove()
		}
	}
}

// confinementBase is where the battery's cgroup goes, relative to each
// hierarchy's root: under this process's own cgroup on cgroup v1 (so that
// a cgroup the caller put it in still bounds it) when that is the same
// in the memory and pids hierarchies; at the root otherwise, and on
// cgroup v2, where a cgroup that holds processes cannot hand controllers
// on.
func confinementBase() string {
	own, err := cgroup.Own()
	if engine.CgroupV2Only() || err != nil || len(own) != 2 || own[0] != own[1] {
		return ""
	}
	return strings.Trim(own[0], "/")
}

// confinement is the battery's cgroup: self holds its processes, runs
// the process sandbox's run cgroups (a cgroup v2 parent holds no process
// of its own).
type confinement struct {
	top, self *cgroup.Group
	// origins is this process's own cgroup, to go back to.
	origins []string
}

func newConfinement(name string) (*confinement, error) {
	top, err := cgroup.New(filepath.Dir(name), filepath.Base(name), confineMemory, confinePids)
	if err != nil {
		return nil, fmt.Errorf("the battery's cgroup: %w", err)
	}
	cg := &confinement{top: top}
	for _, sub := range []string{"self", "runs"} {
		g, err := cgroup.New(name, sub, 0, 0)
		if err != nil {
			_ = top.Remove()
			return nil, fmt.Errorf("the battery's cgroup: %w", err)
		}
		if sub == "self" {
			cg.self = g
		}
	}
	return cg, nil
}

// enter moves this process into self, noting where it was.
func (cg *confinement) enter() error {
	own, err := cgroup.Own()
	if err != nil {
		return err
	}
	cg.origins = own
	if err := cg.self.Add(os.Getpid()); err != nil {
		return fmt.Errorf("enter the battery's cgroup: %w", err)
	}
	return nil
}

// leave moves this process back where it was.
func (cg *confinement) leave() error {
	if err := cgroup.Return(cg.origins); err != nil {
		return fmt.Errorf("leave the battery's cgroup: %w", err)
	}
	return nil
}

// remove kills what is left in the cgroup and removes it, deepest first.
func (cg *confinement) remove() { _ = cg.top.Remove() }
