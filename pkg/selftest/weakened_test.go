package selftest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sablebox/sablebox/pkg/image"
	"github.com/sablebox/sablebox/pkg/runner"
	"github.com/sablebox/sablebox/pkg/sandbox"
	"github.com/sablebox/sablebox/pkg/sandbox/sandboxtest"
)

// weakened is a real container with every protection the battery checks
// turned off, for tests only, built with the docker CLI rather than
// sablebox's backend (which cannot be told to do this): root with every
// capability the host has, every device allowed, /proc unmasked,
// no seccomp profile, the host's network, pid, ipc and uts namespaces,
// a writable root, the host's /tmp, /var/tmp and /dev/shm bound in, /output bound straight to
// the host's output directory, stdin a read-write file and a terminal on
// stdout, no output cap, and a timeout of twice the run's. It keeps just
// enough to protect the host from the payloads, which go past the run's
// limits by a bounded amount: 2 GiB of memory, 1024 processes.
type weakened struct{ dir string }

func (weakened) Name() string { return "weakened" }

// Terminal shows the output raw, as a CLI without escaping would.
func (weakened) Terminal(b []byte) []byte { return b }

func (w weakened) Run(ctx context.Context, req runner.Request) (*sandbox.Result, error) {
	limits := req.Limits.WithDefaults()
	run, err := os.MkdirTemp(w.dir, "run-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(run)
	toolDir, workspace := filepath.Join(run, "tool"), filepath.Join(run, "workspace")
	for _, d := range []string{toolDir, workspace} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return nil, err
		}
	}
	if err := os.WriteFile(filepath.Join(toolDir, req.Tool.Name), req.Tool.Content, 0o644); err != nil {
		return nil, err
	}
	for _, f := range req.Files {
		if err := os.WriteFile(filepath.Join(workspace, f.Path), f.Content, 0o644); err != nil {
			return nil, err
		}
	}
	var stdin []byte
	if req.Stdin != nil {
		var buf bytes.Buffer
		if _, err := buf.ReadFrom(req.Stdin); err != nil {
			return nil, err
		}
		stdin = buf.Bytes()
	}
	if err := os.WriteFile(filepath.Join(toolDir, "stdin"), stdin, 0o666); err != nil {
		return nil, err
	}
	name := "sablebox-selftest-weakened-" + randomToken()
	args := []string{"run", "--rm", "--name", name, "-t",
		"--user", "0", "--security-opt", "seccomp=unconfined", "--security-opt", "systempaths=unconfined",
		"--security-opt", "apparmor=unconfined", "--device-cgroup-rule", "a *:* rwm", "--ulimit", "stack=-1:-1",
		"--network", "host", "--pid", "host", "--ipc", "host", "--uts", "host",
		"--memory", "2g", "--pids-limit", "1024", "--ulimit", "nofile=4096:4096",
		"-v", os.TempDir() + ":" + os.TempDir(), "-v", "/var/tmp:/var/tmp", "-v", "/dev/shm:/dev/shm", "-v", toolDir + ":/selftest-tool", "-v", workspace + ":" + sandbox.WorkspaceDir,
		"--entrypoint", "sh", "-w", sandbox.WorkspaceDir}
	for _, c := range allCaps() {
		args = append(args, "--cap-add", c)
	}
	if req.Output != "" {
		if err := os.MkdirAll(req.Output, 0o777); err != nil {
			return nil, err
		}
		args = append(args, "-v", req.Output+":"+sandbox.OutputDir)
	}
	env := append(os.Environ(), req.Env...)
	for _, kv := range env {
		if k, _, ok := strings.Cut(kv, "="); ok && !strings.HasPrefix(k, "DOCKER_") && k != "PATH" && k != "HOME" {
			args = append(args, "-e", k)
		}
	}
	interpreter := sandbox.Interpreter(req.Tool.Lang)
	args = append(args, image.DefaultTag, "-c", `exec "$@" <>/selftest-tool/stdin`, "sh")
	args = append(append(append(args, interpreter...), "/selftest-tool/"+req.Tool.Name), req.Args...)

	ctx, cancel := context.WithTimeout(ctx, 2*limits.Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 2 * time.Second
	t0 := time.Now()
	err = cmd.Run()
	// A killed CLI leaves its container: remove it whatever happened.
	_ = exec.Command("docker", "rm", "-f", name).Run()
	// The terminal turned each \n into \r\n; the judges read lines.
	out := bytes.ReplaceAll(stdout.Bytes(), []byte("\r\n"), []byte("\n"))
	res := &sandbox.Result{Backend: "weakened", Limits: limits, Duration: time.Since(t0),
		Stdout: sandbox.Output{Data: out, Size: int64(len(out))},
		Stderr: sandbox.Output{Data: stderr.Bytes(), Size: int64(stderr.Len())}}
	var exit *exec.ExitError
	switch {
	case ctx.Err() != nil:
		res.Status = sandbox.StatusKilled
	case errors.As(err, &exit) && exit.ExitCode() == 125:
		return res, fmt.Errorf("docker run: %s", strings.TrimSpace(stderr.String()))
	case errors.As(err, &exit):
		res.Finish(exit.ExitCode())
	case err != nil:
		return res, err
	default:
		res.Finish(0)
	}
	return res, nil
}

// allCaps are the capabilities this machine's bounding set holds: a
// privileged container asks for every one runc knows, and fails where
// the host lacks one (some VMs drop CAP_SYS_RESOURCE).
func allCaps() []string {
	status, _ := os.ReadFile("/proc/self/status")
	var bnd uint64
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "CapBnd:\t"); ok {
			bnd, _ = strconv.ParseUint(v, 16, 64)
		}
	}
	var caps []string
	for i, name := range capNames {
		if bnd&(1<<i) != 0 {
			caps = append(caps, name)
		}
	}
	return caps
}

// capNames are the capabilities by number, as far as Docker 20.10 knows.
var capNames = []string{"CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID",
	"SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER",
	"SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE",
	"SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP",
	"MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ"}

// (PERFMON, BPF and CHECKPOINT_RESTORE follow; dockerd 20.10 does not
// know them, and CAP_SYS_ADMIN covers what they split off.)

// Each attack is seen to escape a real container that has the
// protections it goes after turned off: its judge can tell an escape.
// Together with TestAttacksSeeAnEscape (the host-safe attacks with no
// sandbox at all) this proves every attack of the battery.
func TestAttacksEscapeAWeakenedSandbox(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the weakened sandbox is built as root, as CI runs it")
	}
	// The real Docker backend's readiness decides whether Docker is here.
	targetFor(t, "docker", runner.Options{Runtime: "docker"})
	if _, err := exec.LookPath("docker"); err != nil {
		sandboxtest.SkipUnlessRequired(t, "docker", fmt.Errorf("the docker CLI builds the weakened sandbox: %w", err))
	}
	host, err := NewHost()
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	dir, err := os.MkdirTemp("", "sablebox-selftest-weakened-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	target := weakened{dir: dir}
	escapes := 0
	for _, a := range Battery {
		o := Attempt(context.Background(), target, host, a)
		switch {
		case o.Status == Escaped:
			escapes++
		case a.HostSafe:
			// Proven with no sandbox at all; a container, even a weak
			// one, may still stop it.
			t.Logf("%s weakened: %s: %s", a.ID, o.Status, o.Detail)
		default:
			t.Errorf("%s weakened: %s: %s", a.ID, o.Status, o.Detail)
		}
	}
	t.Logf("%d of %d attacks seen to escape the weakened sandbox", escapes, len(Battery))
}
