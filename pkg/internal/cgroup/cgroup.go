// Package cgroup makes, bounds and removes cgroups with the memory and
// pids controllers, on cgroup v2 alone or on v1 (where a cgroup is a
// directory in each of the memory and pids hierarchies): the process
// sandbox's per-run cgroups, and the cgroup the containment battery
// confines itself in.
package cgroup

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sablebox/sablebox/pkg/internal/engine"
)

// hierarchy is a mounted cgroup hierarchy: its controller (v1; "" for
// v2's unified one) and mount point.
type hierarchy struct{ controller, dir string }

// hierarchies are the ones a Group has a directory in: memory first.
func hierarchies() []hierarchy {
	if engine.CgroupV2Only() {
		return []hierarchy{{"", engine.CgroupRoot}}
	}
	return []hierarchy{{"memory", filepath.Join(engine.CgroupRoot, "memory")}, {"pids", filepath.Join(engine.CgroupRoot, "pids")}}
}

// Usable says why no cgroup can be made here, or nil.
func Usable() error {
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
	for _, h := range hierarchies() {
		if _, err := os.Stat(filepath.Join(h.dir, "cgroup.procs")); err != nil {
			return fmt.Errorf("the %s controller is not mounted", h.controller)
		}
	}
	return nil
}

// Group is one cgroup, in one (v2) or two (v1: memory, pids) hierarchies.
type Group struct {
	dirs []string // memory first
	v2   bool
}

// New makes the cgroup name under parent (a path relative to each
// hierarchy's root) with the memory (no swap) and pids limits; a limit
// of 0 sets none. On v2 every level from the root down to parent hands
// the controllers on.
func New(parent, name string, memory, pids int64) (*Group, error) {
	g := &Group{v2: engine.CgroupV2Only()}
	if g.v2 {
		levels := []string{engine.CgroupRoot}
		for _, part := range strings.Split(parent, "/") {
			if part != "" && part != "." {
				levels = append(levels, filepath.Join(levels[len(levels)-1], part))
			}
		}
		if err := os.MkdirAll(levels[len(levels)-1], 0o755); err != nil {
			return nil, err
		}
		for _, d := range levels {
			_ = os.WriteFile(filepath.Join(d, "cgroup.subtree_control"), []byte("+memory +pids"), 0)
		}
	}
	for _, h := range hierarchies() {
		g.dirs = append(g.dirs, filepath.Join(h.dir, parent, name))
	}
	for _, d := range g.dirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			_ = g.Remove()
			return nil, fmt.Errorf("make cgroup: %w", err)
		}
	}
	limits := map[string]string{}
	if memory > 0 {
		if g.v2 {
			limits["memory.max"], limits["memory.swap.max"] = fmt.Sprint(memory), "0"
		} else {
			limits["memory.limit_in_bytes"] = fmt.Sprint(memory)
		}
	}
	if pids > 0 {
		limits["pids.max"] = fmt.Sprint(pids)
	}
	for file, value := range limits {
		if err := g.Write(file, value); err != nil {
			_ = g.Remove()
			return nil, fmt.Errorf("set cgroup limit %s: %w", file, err)
		}
	}
	if !g.v2 && memory > 0 { // swap accounting may be off: then there is no swap to limit
		_ = g.Write("memory.memsw.limit_in_bytes", fmt.Sprint(memory))
	}
	return g, nil
}

// Open is the group of existing directories (List's), for removal.
func Open(dirs []string) *Group { return &Group{dirs: dirs, v2: engine.CgroupV2Only()} }

// Write writes value to file in whichever of the group's dirs has it.
func (g *Group) Write(file, value string) error {
	for _, d := range g.dirs {
		p := filepath.Join(d, file)
		if _, err := os.Stat(p); err == nil {
			return os.WriteFile(p, []byte(value), 0)
		}
	}
	return fmt.Errorf("no %s in %v", file, g.dirs)
}

// Add moves pid into the group.
func (g *Group) Add(pid int) error {
	for _, d := range g.dirs {
		if err := os.WriteFile(filepath.Join(d, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0); err != nil {
			return fmt.Errorf("join cgroup: %w", err)
		}
	}
	return nil
}

// OOMKilled reads the OOM-kill counter.
func (g *Group) OOMKilled() bool {
	file := "memory.oom_control"
	if g.v2 {
		file = "memory.events"
	}
	data, _ := os.ReadFile(filepath.Join(g.dirs[0], file))
	return engine.OOMKilled(data)
}

// Kill sends SIGKILL to every process in the group until it is empty,
// but never to this one (a battery that could not leave its cgroup).
func (g *Group) Kill() { kill(g.dirs, g.v2) }

func kill(dirs []string, v2 bool) {
	if v2 && !slices.Contains(procs(dirs), os.Getpid()) {
		_ = os.WriteFile(filepath.Join(dirs[0], "cgroup.kill"), []byte("1"), 0)
	}
	for try := 0; try < 100; try++ {
		pids := slices.DeleteFunc(procs(dirs), func(pid int) bool { return pid == os.Getpid() })
		if len(pids) == 0 {
			return
		}
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Procs lists the processes in the group.
func (g *Group) Procs() []int { return procs(g.dirs) }

func procs(dirs []string) []int {
	var pids []int
	for _, d := range dirs {
		data, _ := os.ReadFile(filepath.Join(d, "cgroup.procs"))
		for _, f := range strings.Fields(string(data)) {
			if pid, err := strconv.Atoi(f); err == nil && !slices.Contains(pids, pid) {
				pids = append(pids, pid) // once, though it is in both v1 hierarchies
			}
		}
	}
	return pids
}

// Remove kills what is left in the group and in any cgroup below it, and
// removes them all, deepest first.
func (g *Group) Remove() error {
	if g == nil {
		return nil
	}
	var errs []error
	for _, top := range g.dirs {
		// A run's cgroup has no cgroup below it: one kill and one rmdir.
		kill([]string{top}, g.v2)
		if err := os.Remove(top); err == nil || errors.Is(err, os.ErrNotExist) {
			continue
		}
		var dirs []string
		_ = filepath.WalkDir(top, func(path string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, path)
			}
			return nil
		})
		for i := len(dirs) - 1; i >= 0; i-- {
			kill([]string{dirs[i]}, g.v2)
			if err := os.Remove(dirs[i]); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// List lists the cgroups under parent in each hierarchy, by name.
func List(parent string) map[string][]string {
	out := map[string][]string{}
	for _, h := range hierarchies() {
		p := filepath.Join(h.dir, parent)
		entries, _ := os.ReadDir(p)
		for _, e := range entries {
			if e.IsDir() {
				out[e.Name()] = append(out[e.Name()], filepath.Join(p, e.Name()))
			}
		}
	}
	return out
}

// Own lists this process's cgroup in each hierarchy a Group has a
// directory in, as paths relative to the hierarchy's root ("/" for the
// root itself), memory first.
func Own() ([]string, error) {
	f, err := os.Open("/proc/self/cgroup")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	found := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// hierarchy-id:controllers:path; v2's line is 0::path
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			if parts[0] == "0" && parts[1] == "" || c != "" {
				found[c] = filepath.Clean("/" + parts[2])
			}
		}
	}
	var out []string
	for _, h := range hierarchies() {
		p, ok := found[h.controller]
		if !ok {
			return nil, fmt.Errorf("no %q hierarchy in /proc/self/cgroup", h.controller)
		}
		out = append(out, p)
	}
	return out, nil
}

// Return moves this process back to the cgroups Own listed.
func Return(own []string) error {
	var errs []error
	for i, h := range hierarchies() {
		if i < len(own) {
			procs := filepath.Join(h.dir, own[i], "cgroup.procs")
			if err := os.WriteFile(procs, []byte(strconv.Itoa(os.Getpid())), 0); err != nil {
				errs = append(errs, fmt.Errorf("return to cgroup %s: %w", own[i], err))
			}
		}
	}
	return errors.Join(errs...)
}

// PrimeMigration starts, in the background, the wait that the first
// cgroup migration after a quiet spell pays on cgroup v1: the kernel's
// cgroup_threadgroup_rwsem waits for an RCU grace period (5 to 10 ms
// here), and migrations in the moments after it do not. It writes this
// process into the memory cgroup it is already in, which changes nothing
// else, so that a run's own migration, a few milliseconds later, is
// quick. A failure (a read-only cgroupfs) costs only the time it saves.
func PrimeMigration() {
	if engine.CgroupV2Only() {
		return
	}
	go func() {
		own, err := Own()
		if err != nil {
			return
		}
		procs := filepath.Join(hierarchies()[0].dir, own[0], "cgroup.procs")
		_ = os.WriteFile(procs, []byte(strconv.Itoa(os.Getpid())), 0)
	}()
}
