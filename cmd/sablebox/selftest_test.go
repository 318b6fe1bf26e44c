package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// As root, `sablebox selftest` runs the battery again in a mount
// namespace and a cgroup of its own, the process sandbox's runs nest in
// that cgroup, the report says so, and the cgroup is gone after.
func TestSelftestConfinesItself(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the battery confines itself as root only")
	}
	isolate(t)
	cmd := exec.Command(binary, "selftest", "--runtime", "process", "--only", "res.cpu-spin", "--json")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("sablebox-selftest-%d", cmd.Process.Pid)
	// At the root, or under this test's own cgroup on v1.
	tops := []string{filepath.Join("/sys/fs/cgroup", name), filepath.Join("/sys/fs/cgroup/memory", name)}
	own, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(own), "\n") {
		if parts := strings.SplitN(line, ":", 3); len(parts) == 3 && parts[1] == "memory" {
			tops = append(tops, filepath.Join("/sys/fs/cgroup/memory", parts[2], name))
		}
	}
	ourNS, _ := os.Readlink("/proc/self/ns/mnt")
	var sawRun, sawNS bool
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
wait:
	for {
		select {
		case err = <-done:
			break wait
		case <-time.After(20 * time.Millisecond):
		}
		for _, top := range tops {
			if runs, _ := os.ReadDir(filepath.Join(top, "runs")); len(runs) > 0 {
				sawRun = true
			}
			procs, _ := os.ReadFile(filepath.Join(top, "self", "cgroup.procs"))
			for _, pid := range strings.Fields(string(procs)) {
				if ns, err := os.Readlink("/proc/" + pid + "/ns/mnt"); err == nil && ns != ourNS {
					sawNS = true
				}
			}
		}
	}
	if err != nil {
		t.Fatalf("%v: %s %s", err, stdout.String(), stderr.String())
	}
	var report struct{ Confinement string }
	if err := json.Unmarshal(stdout.Bytes(), &report); err != nil || !strings.Contains(report.Confinement, name) {
		t.Errorf("confinement %q (%v), want the cgroup %s", report.Confinement, err, name)
	}
	if !sawRun || !sawNS {
		t.Errorf("a run's cgroup in the battery's: %v; the battery in a mount namespace of its own: %v", sawRun, sawNS)
	}
	for _, top := range tops {
		if _, err := os.Stat(top); !os.IsNotExist(err) {
			t.Errorf("the battery's cgroup %s is left: %v", top, err)
		}
	}
}
