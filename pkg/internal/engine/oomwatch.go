package engine

import (
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// OOMWatch notices OOM kills in one container's cgroup-v1 memory cgroup.
//
// On cgroup v1 hosts the engines do not always record OOMKilled: Podman
// 4.3 (conmon misses the event) and Docker 20.10 (now and then, under
// load). So, for an engine on this host, a backend registers an OOM
// eventfd on the container's memory cgroup itself: the kernel signals it
// on an OOM, and also when the cgroup goes away, which is told apart by
// the cgroup still existing.
type OOMWatch struct {
	dir  string
	efd  int
	ofd  *os.File
	hit  atomic.Bool
	done chan struct{}
}

// CgroupRoot is where the cgroup hierarchies are mounted (the unified
// one, on a v2 host), and V1MemoryRoot the v1 memory controller.
const (
	CgroupRoot   = "/sys/fs/cgroup"
	V1MemoryRoot = CgroupRoot + "/memory"
)

// WatchOOM starts watching the first of the memory cgroups candidates (the
// places an engine may have put one container's cgroup, below
// V1MemoryRoot) that exists. It returns nil where that is not possible
// (cgroup v2, no permission, an unknown layout, a container already gone),
// and the engine's own OOMKilled flag is used alone.
func WatchOOM(candidates []string) *OOMWatch {
	var dir string
	var ofd *os.File
	for _, candidate := range candidates {
		f, err := os.Open(filepath.Join(candidate, "memory.oom_control"))
		if err == nil {
			dir, ofd = candidate, f
			break
		}
	}
	if ofd == nil {
		return nil
	}
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC)
	if err != nil {
		ofd.Close()
		return nil
	}
	w := &OOMWatch{dir: dir, efd: efd, ofd: ofd, done: make(chan struct{})}
	reg := fmt.Sprintf("%d %d", efd, ofd.Fd())
	if err := os.WriteFile(filepath.Join(dir, "cgroup.event_control"), []byte(reg), 0); err != nil {
		// The container may be gone already (a tool that exits at once).
		// No reader runs yet, so there is nothing to wait for.
		unix.Close(efd)
		ofd.Close()
		return nil
	}
	// An OOM before the registration is in the counter.
	if w.counted() {
		w.hit.Store(true)
	}
	go func() {
		defer close(w.done)
		var buf [8]byte
		if _, err := unix.Read(efd, buf[:]); err != nil {
			return
		}
		if _, err := os.Stat(dir); err == nil {
			w.hit.Store(true) // signalled while the cgroup lives: an OOM
		}
	}()
	return w
}

// counted reads the cgroup's oom_kill counter.
func (w *OOMWatch) counted() bool {
	data := make([]byte, 512)
	n, _ := w.ofd.ReadAt(data, 0)
	return OOMKilled(data[:n])
}

// OOM reports whether an OOM kill was seen (false for a nil watch).
func (w *OOMWatch) OOM() bool {
	if w == nil {
		return false
	}
	if w.counted() {
		w.hit.Store(true)
	}
	return w.hit.Load()
}

// Close stops the watch; a nil watch is fine.
func (w *OOMWatch) Close() {
	if w == nil {
		return
	}
	// Writing to the eventfd wakes the reader if the kernel has not.
	_, _ = unix.Write(w.efd, []byte{1, 0, 0, 0, 0, 0, 0, 0})
	if w.done != nil {
		<-w.done
	}
	unix.Close(w.efd)
	w.ofd.Close()
}
