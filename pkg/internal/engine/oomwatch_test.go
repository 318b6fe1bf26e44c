package engine

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// A container that exits at once takes its cgroup with it before the
// watch registers: WatchOOM must then give up at once, not wait for a
// reader it never started (it did, and hung the run).
func TestWatchOOMOfAGoneCgroupReturns(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "memory.oom_control"), []byte("oom_kill 0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Writing to a directory fails, as writing to a removed cgroup does.
	if err := os.Mkdir(filepath.Join(dir, "cgroup.event_control"), 0o755); err != nil {
		t.Fatal(err)
	}
	got := make(chan *OOMWatch, 1)
	go func() { got <- WatchOOM([]string{dir}) }()
	select {
	case w := <-got:
		if w != nil {
			t.Error("a watch that could not register")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("WatchOOM hangs when the registration fails")
	}
}

func TestParseCPU(t *testing.T) {
	if ns, ok := parseCPU([]byte("123456789\n"), false); !ok || ns != 123456789 {
		t.Errorf("v1: %d %v", ns, ok)
	}
	if ns, ok := parseCPU([]byte("usage_usec 2500\nuser_usec 2000\n"), true); !ok || ns != 2500000 {
		t.Errorf("v2: %d %v", ns, ok)
	}
}
