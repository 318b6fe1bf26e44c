package process

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sablebox/sablebox/pkg/internal/engine"
)

// DefaultCgroupParent names the directory under each hierarchy that
// holds sablebox's per-run cgroups, unless Options.CgroupParent says
// another.
const DefaultCgroupParent = "sablebox"

// checkCgroupParent accepts a cgroup path relative to each hierarchy's
// root: names joined by "/", none of them "." or "..".
func checkCgroupParent(p string) error {
	if p == "" || strings.HasPrefix(p, "/") || filepath.Clean(p) != p || slices.Contains(strings.Split(p, "/"), "..") {
		return errors.New("want a clean path relative to the cgroup root, such as sablebox or system.slice/sablebox")
	}
	return nil
}

// cgroupUsable says why no per-run cgroup can be made here, or nil.
func cgroupUsable() error {
	if os.Geteuid() != 0 {
		return errors.New("needs root (no delegated cgroup)")
	}
	if engine.CgroupV2Only() {
		data, err := os.ReadFile(filepath.Join(engine.CgroupRoot, "cgroup.controllers"))
		if err != nil || !bytes.Contains(data, []byte("memory")) || !bytes.Contains(data, []byte("pids")) {
			return errors.New("the memory or pids controller is not available")
		}
		return nil
	}
	for _, c := range []string{"memory", "pids"} {
		if _, err := os.Stat(filepath.Join(engine.CgroupRoot, c, "cgroup.procs")); err != nil {
			return fmt.Errorf("the %s controller is not mounted", c)
		}
	}
	return nil
}

// cgroup is one run's cgroup, in one (v2) or two (v1: memory, pids)
// hierarchies.
type cgroup struct {
	dirs []string // memory first
	v2   bool
}

// newCgroup makes the run's cgroup with the memory (no swap) and pids
// limits.
func newCgroup(parent, name string, memory, pids int64) (*cgroup, error) {
	cg := &cgroup{v2: engine.CgroupV2Only()}
	if cg.v2 {
		dir := filepath.Join(engine.CgroupRoot, parent)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		// Every level from the root down to the parent hands the
		// controllers on.
		levels := []string{engine.CgroupRoot}
		for _, name := range strings.Split(parent, "/") {
			levels = append(levels, filepath.Join(levels[len(levels)-1], name))
		}
		for _, d := range levels {
			_ = os.WriteFile(filepath.Join(d, "cgroup.subtree_control"), []byte("+memory +pids"), 0)
		}
		cg.dirs = []string{filepath.Join(dir, name)}
	} else {
		for _, c := range []string{"memory", "pids"} {
			cg.dirs = append(cg.dirs, filepath.Join(engine.CgroupRoot, c, parent, name))
		}
	}
	for _, d := range cg.dirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			cg.remove()
			return nil, fmt.Errorf("make cgroup: %w", err)
		}
	}
	var limits map[string]string
	if cg.v2 {
		limits = map[string]string{"memory.max": fmt.Sprint(memory), "memory.swap.max": "0", "pids.max": fmt.Sprint(pids)}
	} else {
		limits = map[string]string{"memory.limit_in_bytes": fmt.Sprint(memory), "pids.max": fmt.Sprint(pids)}
	}
	for file, value := range limits {
		if err := cg.write(file, value); err != nil {
			cg.remove()
			return nil, fmt.Errorf("set cgroup limit %s: %w", file, err)
		}
	}
	if !cg.v2 { // swap accounting may be off: then there is no swap to limit
		_ = cg.write("memory.memsw.limit_in_bytes", fmt.Sprint(memory))
	}
	return cg, nil
}

// write writes value to file in whichever of the cgroup's dirs has it.
func (cg *cgroup) write(file, value string) error {
	for _, d := range cg.dirs {
		p := filepath.Join(d, file)
		if _, err := os.Stat(p); err == nil {
			return os.WriteFile(p, []byte(value), 0)
		}
	}
	return fmt.Errorf("no %s in %v", file, cg.dirs)
}

// add moves pid into the cgroup.
func (cg *cgroup) add(pid int) error {
	for _, d := range cg.dirs {
		if err := os.WriteFile(filepath.Join(d, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0); err != nil {
			return fmt.Errorf("join cgroup: %w", err)
		}
	}
	return nil
}

// primeMigration starts, in the background, the wait that the first
// cgroup migration after a quiet spell pays on cgroup v1: the kernel's
// cgroup_threadgroup_rwsem waits for an RCU grace period (5 to 10 ms
// here), and migrations in the moments after it do not. It writes this
// process into the memory cgroup it is already in, which changes nothing
// else, so that the run's own migration, a few milliseconds later, is
// quick. A failure (a read-only cgroupfs) costs only the time it saves.
func primeMigration() {
	if engine.CgroupV2Only() {
		return
	}
	go func() {
		data, err := os.ReadFile("/proc/self/cgroup")
		if err != nil {
			return
		}
		for _, line := range strings.Split(string(data), "\n") {
			parts := strings.SplitN(line, ":", 3)
			if len(parts) == 3 && slices.Contains(strings.Split(parts[1], ","), "memory") {
				procs := filepath.Join(engine.CgroupRoot, "memory", filepath.Clean("/"+parts[2]), "cgroup.procs")
				_ = os.WriteFile(procs, []byte(strconv.Itoa(os.Getpid())), 0)
				return
			}
		}
	}()
}

// oomKilled reads the OOM-kill counter.
func (cg *cgroup) oomKilled() bool {
	file := "memory.oom_control"
	if cg.v2 {
		file = "memory.events"
	}
	data, _ := os.ReadFile(filepath.Join(cg.dirs[0], file))
	return engine.OOMKilled(data)
}

// kill sends SIGKILL to every process in the cgroup until it is empty.
func (cg *cgroup) kill() {
	if cg.v2 {
		_ = os.WriteFile(filepath.Join(cg.dirs[0], "cgroup.kill"), []byte("1"), 0)
	}
	for try := 0; try < 100; try++ {
		pids := cg.procs()
		if len(pids) == 0 {
			return
		}
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (cg *cgroup) procs() []int {
	var pids []int
	for _, d := range cg.dirs {
		data, _ := os.ReadFile(filepath.Join(d, "cgroup.procs"))
		for _, f := range strings.Fields(string(data)) {
			if pid, err := strconv.Atoi(f); err == nil && !slices.Contains(pids, pid) {
				pids = append(pids, pid) // once, though it is in both v1 hierarchies
			}
		}
	}
	return pids
}

// remove kills what is left and removes the cgroup's directories.
func (cg *cgroup) remove() error {
	if cg == nil {
		return nil
	}
	cg.kill()
	var errs []error
	for _, d := range cg.dirs {
		if err := os.Remove(d); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// cgroupDirs lists the run cgroups under parent in each hierarchy, by
// name.
func cgroupDirs(parent string) map[string][]string {
	out := map[string][]string{}
	var parents []string
	if engine.CgroupV2Only() {
		parents = []string{filepath.Join(engine.CgroupRoot, parent)}
	} else {
		parents = []string{filepath.Join(engine.CgroupRoot, "memory", parent), filepath.Join(engine.CgroupRoot, "pids", parent)}
	}
	for _, p := range parents {
		entries, _ := os.ReadDir(p)
		for _, e := range entries {
			if e.IsDir() {
				out[e.Name()] = append(out[e.Name()], filepath.Join(p, e.Name()))
			}
		}
	}
	return out
}
