package podman

import (
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/sablebox/sablebox/pkg/internal/engine"
)

// oomWatch notices OOM kills in one container's cgroup-v1 memory cgroup.
//
// Podman 4.3 on cgroup v1 hosts does not always record OOMKilled (conmon
// misses the event here). So, for a service on this host, the backend
// registers an OOM eventfd on the container's memory cgroup itself, the
// way conmon means to: the kernel signals it on an OOM, and also when the
// cgroup goes away, which is told apart by the cgroup still existing.
type oomWatch struct {
	dir  string
	efd  int
	ofd  *os.File
	hit  atomic.Bool
	done chan struct{}
}

// v1MemoryRoot is where the cgroup-v1 memory controller is mounted.
const v1MemoryRoot = "/sys/fs/cgroup/memory"

// containerCgroups are where Podman puts a container's cgroup under the
// memory controller: with the cgroupfs manager, then with systemd's.
func containerCgroups(id string) []string {
	return []string{
		filepath.Join(v1MemoryRoot, "libpod_parent", "libpod-"+id),
		filepath.Join(v1MemoryRoot, "machine.slice", "libpod-"+id+".scope"),
	}
}

// watchOOM starts watching the memory cgroup of container id, which must
// have been initialised. It returns nil where that is not possible (cgroup
// v2, no permission, an unknown cgroup layout), and the engine's own
// OOMKilled flag is used alone.
func watchOOM(id string) *oomWatch {
	var dir string
	var ofd *os.File
	for _, candidate := range containerCgroups(id) {
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
	w := &oomWatch{dir: dir, efd: efd, ofd: ofd, done: make(chan struct{})}
	reg := fmt.Sprintf("%d %d", efd, ofd.Fd())
	if err := os.WriteFile(filepath.Join(dir, "cgroup.event_control"), []byte(reg), 0); err != nil {
		w.close()
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
func (w *oomWatch) counted() bool {
	data := make([]byte, 512)
	n, _ := w.ofd.ReadAt(data, 0)
	return engine.OOMKilled(data[:n])
}

// oom reports whether an OOM kill was seen.
func (w *oomWatch) oom() bool {
	if w == nil {
		return false
	}
	if w.counted() {
		w.hit.Store(true)
	}
	return w.hit.Load()
}

// close stops the watch.
func (w *oomWatch) close() {
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
