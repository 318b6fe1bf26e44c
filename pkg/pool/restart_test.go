package pool_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/volume"

	"github.com/sablebox/sablebox/pkg/pool"
	"github.com/sablebox/sablebox/pkg/sandbox"
)

// EnvDockerdRestart lets TestPoolRefillsAfterADaemonRestart restart the
// host's dockerd: it stops every container on the host, so `make test`
// runs it alone, after the rest.
const EnvDockerdRestart = "SABLEBOX_DOCKERD_RESTART"

// A daemon restart stops every warm container and breaks every attach
// stream: the pool must hand none of them out, back off while the daemon
// is down, refill once it is back, and leave none of the dead ones.
func TestPoolRefillsAfterADaemonRestart(t *testing.T) {
	if os.Getenv(EnvDockerdRestart) != "1" {
		t.Skipf("restarts dockerd: runs alone with %s=1 (make test does)", EnvDockerdRestart)
	}
	b, c := newDocker(t)
	p, err := pool.New(b, shape(), pool.Config{Min: 2, Max: 2}, pool.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	waitSize(t, p, 2)
	before := mine(t, c)

	restartDockerd(t)
	res, err := p.Run(context.Background(), spec("true"))
	if err == nil && res.Pool == pool.Hit {
		t.Fatal("a warm container of the old daemon was handed out")
	}
	waitSize(t, p, 2)
	res, err = p.Run(context.Background(), spec("sh", "-c", "echo after"))
	if err != nil || res.Pool != pool.Hit || res.Stdout.String() != "after\n" {
		t.Fatalf("after the restart: %+v, %v", res, err)
	}
	p.Settle()
	noneLeft(t, c, before)
	// The volumes too: the old daemon answered removals as it shut down
	// ("database not open"), and the pool asked again.
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	f := filters.NewArgs(filters.Arg("label", sandbox.LabelOwnerPID+"="+strconv.Itoa(os.Getpid())))
	vols, err := c.VolumeList(context.Background(), volume.ListOptions{Filters: f})
	if err != nil || len(vols.Volumes) != 0 {
		t.Errorf("%d volumes left (%v)", len(vols.Volumes), err)
	}
}

// restartDockerd stops the host's dockerd and starts it again the way
// .ci/prepare does (setsid, in /, every signal at its default), and waits
// until it answers.
func restartDockerd(t *testing.T) {
	t.Helper()
	out, err := exec.Command("pgrep", "-x", "dockerd").Output()
	if err != nil {
		t.Fatalf("no dockerd to restart: %v", err)
	}
	pid, _ := strconv.Atoi(strings.Fields(string(out))[0])
	cmdline, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
	if err != nil {
		t.Fatal(err)
	}
	argv := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(time.Minute); syscall.Kill(pid, 0) == nil; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("dockerd did not stop within a minute")
		}
	}
	log, err := os.OpenFile("/var/log/sablebox-dockerd.log", os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	// With every signal at its default: one this test inherited ignored
	// (a race-enabled test binary ignores SIGCANCEL) would reach every
	// container through the daemon.
	clean, err := filepath.Abs("../../.ci/clean-signals")
	if err != nil {
		t.Fatal(err)
	}
	d := exec.Command(clean, argv...)
	d.Dir, d.Stdout, d.Stderr = "/", log, log
	d.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := d.Start(); err != nil {
		t.Fatalf("start dockerd again: %v", err)
	}
	_ = d.Process.Release()
	for deadline := time.Now().Add(time.Minute); exec.Command("docker", "version").Run() != nil; time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("dockerd did not come back within a minute")
		}
	}
	t.Logf("dockerd restarted (pid %d before)", pid)
}
