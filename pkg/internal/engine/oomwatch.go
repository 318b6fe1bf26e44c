package engine

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

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

// V1Root is where the cgroup hierarchies are mounted (the unified one
// too, on a v2 host), and V1MemoryRoot the v1 memory controller.
const (
	V1Root       = "/sys/fs/cgroup"
	V1MemoryRoot = V1Root + "/memory"
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

// CPUMeter samples one container's CPU time from its cgroup while it runs:
// the engine removes the cgroup as the container exits, so the last
// sample (at most cpuSampleEvery old, and taken again before a kill)
// is what is known.
type CPUMeter struct {
	f       *os.File
	v2      bool
	last    atomic.Int64 // ns
	stop    chan struct{}
	stopped sync.Once
	done    chan struct{}
}

const cpuSampleEvery = 100 * time.Millisecond

// MeterCPU starts sampling the first of the cgroup dirs candidates that
// exists (cgroup v1 cpuacct dirs, or v2 dirs); nil where none does.
func MeterCPU(candidates []string) *CPUMeter {
	for _, dir := range candidates {
		for _, probe := range []struct {
			file string
			v2   bool
		}{{"cpuacct.usage", false}, {"cpu.stat", true}} {
			f, err := os.Open(filepath.Join(dir, probe.file))
			if err != nil {
				continue
			}
			m := &CPUMeter{f: f, v2: probe.v2, stop: make(chan struct{}), done: make(chan struct{})}
			m.Sample()
			go m.loop()
			return m
		}
	}
	return nil
}

func (m *CPUMeter) loop() {
	defer close(m.done)
	t := time.NewTicker(cpuSampleEvery)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			m.Sample()
		case <-m.stop:
			return
		}
	}
}

// Sample reads the cgroup's CPU time now; a nil meter does nothing.
func (m *CPUMeter) Sample() {
	if m == nil {
		return
	}
	buf := make([]byte, 1024)
	n, err := m.f.ReadAt(buf, 0)
	if n == 0 && err != nil {
		return // the cgroup is gone: keep the last sample
	}
	if ns, ok := parseCPU(buf[:n], m.v2); ok && ns > m.last.Load() {
		m.last.Store(ns)
	}
}

// parseCPU reads cpuacct.usage (ns) or cpu.stat's usage_usec.
func parseCPU(data []byte, v2 bool) (int64, bool) {
	if !v2 {
		ns, err := strconv.ParseInt(string(bytes.TrimSpace(data)), 10, 64)
		return ns, err == nil
	}
	for _, line := range bytes.Split(data, []byte("\n")) {
		if rest, ok := bytes.CutPrefix(line, []byte("usage_usec ")); ok {
			us, err := strconv.ParseInt(string(bytes.TrimSpace(rest)), 10, 64)
			return us * 1000, err == nil
		}
	}
	return 0, false
}

// Stop ends the sampling and returns the CPU time seen (false for a nil
// meter, which saw nothing).
func (m *CPUMeter) Stop() (time.Duration, bool) {
	if m == nil {
		return 0, false
	}
	m.stopped.Do(func() {
		close(m.stop)
		<-m.done
		m.f.Close()
	})
	return time.Duration(m.last.Load()), true
}
