package selftest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

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
	roots := []string{engine.CgroupRoot}
	if !engine.CgroupV2Only() {
		roots = []string{filepath.Join(engine.CgroupRoot, "memory"), filepath.Join(engine.CgroupRoot, "pids")}
	}
	for _, root := range roots {
		entries, _ := os.ReadDir(filepath.Join(root, base))
		for _, e := range entries {
			pid, err := strconv.Atoi(strings.TrimPrefix(e.Name(), confinementPrefix))
			if !e.IsDir() || !strings.HasPrefix(e.Name(), confinementPrefix) || err != nil {
				continue
			}
			if syscall.Kill(pid, 0) == syscall.ESRCH {
				stale := &confinement{tops: []string{filepath.Join(root, base, e.Name())}}
				stale.remove()
			}
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
	if engine.CgroupV2Only() {
		return ""
	}
	var base []string
	for _, c := range []string{"memory", "pids"} {
		root := filepath.Join(engine.CgroupRoot, c)
		procs, err := ownCgroup(root)
		if err != nil {
			return ""
		}
		base = append(base, strings.TrimPrefix(filepath.Dir(procs), root))
	}
	if base[0] != base[1] {
		return ""
	}
	return strings.Trim(base[0], "/")
}

// confinement is the battery's cgroup: self holds its processes, runs
// the process sandbox's run cgroups (a cgroup v2 parent holds no process
// of its own).
type confinement struct {
	v2      bool
	roots   []string // the hierarchies: memory first
	tops    []string // the cgroup in each
	origins []string // this process's cgroup.procs in each, to go back to
}

func newConfinement(name string) (*confinement, error) {
	cg := &confinement{v2: engine.CgroupV2Only()}
	var limits [][2]string
	if cg.v2 {
		cg.roots = []string{engine.CgroupRoot}
		limits = [][2]string{{"memory.max", strconv.Itoa(confineMemory)}, {"memory.swap.max", "0"}, {"pids.max", strconv.Itoa(confinePids)}}
		_ = os.WriteFile(filepath.Join(engine.CgroupRoot, "cgroup.subtree_control"), []byte("+memory +pids"), 0)
	} else {
		cg.roots = []string{filepath.Join(engine.CgroupRoot, "memory"), filepath.Join(engine.CgroupRoot, "pids")}
		limits = [][2]string{{"memory.limit_in_bytes", strconv.Itoa(confineMemory)}, {"pids.max", strconv.Itoa(confinePids)}}
	}
	for _, root := range cg.roots {
		d := filepath.Join(root, name)
		if err := os.Mkdir(d, 0o755); err != nil {
			cg.remove()
			return nil, fmt.Errorf("make the battery's cgroup: %w", err)
		}
		cg.tops = append(cg.tops, d)
	}
	for _, l := range limits {
		if err := cg.write(l[0], l[1]); err != nil {
			cg.remove()
			return nil, fmt.Errorf("bound the battery's cgroup: %w", err)
		}
	}
	if cg.v2 {
		if err := os.WriteFile(filepath.Join(cg.tops[0], "cgroup.subtree_control"), []byte("+memory +pids"), 0); err != nil {
			cg.remove()
			return nil, fmt.Errorf("hand the controllers on in the battery's cgroup: %w", err)
		}
	}
	for _, d := range cg.tops {
		for _, sub := range []string{"self", "runs"} {
			if err := os.Mkdir(filepath.Join(d, sub), 0o755); err != nil {
				cg.remove()
				return nil, fmt.Errorf("make the battery's cgroup: %w", err)
			}
		}
	}
	return cg, nil
}

// write writes value to file in the top that has it.
func (cg *confinement) write(file, value string) error {
	for _, d := range cg.tops {
		p := filepath.Join(d, file)
		if _, err := os.Stat(p); err == nil {
			return os.WriteFile(p, []byte(value), 0)
		}
	}
	return fmt.Errorf("no %s in %v", file, cg.tops)
}

// enter moves this process into self, noting where it was.
func (cg *confinement) enter() error {
	cg.origins = nil
	for i, d := range cg.tops {
		origin, err := ownCgroup(cg.roots[i])
		if err != nil {
			return err
		}
		cg.origins = append(cg.origins, origin)
		if err := os.WriteFile(filepath.Join(d, "self", "cgroup.procs"), []byte(strconv.Itoa(os.Getpid())), 0); err != nil {
			return fmt.Errorf("enter the battery's cgroup: %w", err)
		}
	}
	return nil
}

// leave moves this process back where it was.
func (cg *confinement) leave() error {
	var errs []error
	for _, origin := range cg.origins {
		if err := os.WriteFile(origin, []byte(strconv.Itoa(os.Getpid())), 0); err != nil {
			errs = append(errs, fmt.Errorf("leave the battery's cgroup: %w", err))
		}
	}
	return errors.Join(errs...)
}

// ownCgroup is the cgroup.procs of this process's cgroup in the
// hierarchy mounted at root.
func ownCgroup(root string) (string, error) {
	f, err := os.Open("/proc/self/cgroup")
	if err != nil {
		return "", err
	}
	defer f.Close()
	controller := filepath.Base(root)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// hierarchy-id:controllers:path
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		v2line := parts[0] == "0" && parts[1] == ""
		if (root == engine.CgroupRoot && v2line) || (root != engine.CgroupRoot && slices.Contains(strings.Split(parts[1], ","), controller)) {
			return filepath.Join(root, parts[2], "cgroup.procs"), nil
		}
	}
	return "", fmt.Errorf("this process's cgroup under %s is not in /proc/self/cgroup", root)
}

// remove kills what is left in the cgroup and removes it, deepest first.
func (cg *confinement) remove() {
	for _, d := range cg.tops {
		var dirs []string
		_ = filepath.WalkDir(d, func(path string, e os.DirEntry, err error) error {
			if err == nil && e.IsDir() {
				dirs = append(dirs, path)
			}
			return nil
		})
		for i := len(dirs) - 1; i >= 0; i-- {
			for range 50 {
				procs, _ := os.ReadFile(filepath.Join(dirs[i], "cgroup.procs"))
				pids := strings.Fields(string(procs))
				if len(pids) == 0 {
					break
				}
				for _, p := range pids {
					if pid, err := strconv.Atoi(p); err == nil && pid != os.Getpid() {
						_ = syscall.Kill(pid, syscall.SIGKILL)
					}
				}
				time.Sleep(10 * time.Millisecond)
			}
			_ = os.Remove(dirs[i])
		}
	}
}
