package engine

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// CPUMeter samples one container's CPU time from its cgroup while it runs:
// the engine removes the cgroup as the container exits, so the last
// sample (at most cpuSampleEvery old, and taken again before a kill)
// is what is known.
type CPUMeter struct {
	f       *os.File
	v2      bool
	last    atomic.Int64 // ns
	base    atomic.Int64 // ns before the tool (Rebase)
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

// Rebase counts from now on: a warm container's bootstrap used CPU time
// that is not the tool's. A nil meter does nothing.
func (m *CPUMeter) Rebase() {
	if m == nil {
		return
	}
	m.Sample()
	m.base.Store(m.last.Load())
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
	return time.Duration(m.last.Load() - m.base.Load()), true
}
