package docker

import (
	"fmt"
	"strconv"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/go-units"

	"github.com/sablebox/sablebox/pkg/sandbox"
	"github.com/sablebox/sablebox/pkg/version"
)

// sandboxEnv comes before the caller's variables, which may not override it.
var sandboxEnv = []string{
	"HOME=" + sandbox.HomeDir,
	"PATH=/usr/local/bin:/usr/bin:/bin",
	"LANG=C.UTF-8",
	"PYTHONDONTWRITEBYTECODE=1",
	"PYTHONUNBUFFERED=1",
}

// containerConfig turns a validated spec into the engine's configuration.
// It is the one place where protections are set: every field below is a
// protection or the plumbing it needs, and nothing untrusted reaches the
// engine config except through these fields.
func containerConfig(spec *sandbox.Spec, owner sandbox.Owner, now time.Time) (*container.Config, *container.HostConfig) {
	deadline := now.Add(spec.Limits.Timeout)
	cfg := &container.Config{
		Image:           spec.Image,
		User:            fmt.Sprintf("%d:%d", sandbox.UID, sandbox.GID),
		Env:             append(append([]string{}, sandboxEnv...), spec.Env...),
		WorkingDir:      sandbox.WorkspaceDir,
		Labels:          owner.Labels(spec.RunID, version.Version, deadline),
		NetworkDisabled: true,
		AttachStdin:     true,
		AttachStdout:    true,
		AttachStderr:    true,
		OpenStdin:       true,
		StdinOnce:       true,
		StopSignal:      "SIGKILL",
	}
	if spec.Tool != nil {
		cfg.Cmd = append([]string{spec.Tool.Path()}, spec.Args...)
	} else {
		cfg.Entrypoint = append([]string{}, spec.Command...)
		cfg.Cmd = append([]string{}, spec.Args...)
	}

	l := spec.Limits
	pids := l.Pids
	yes := true
	host := &container.HostConfig{
		NetworkMode:    "none",
		CapDrop:        []string{"ALL"},
		SecurityOpt:    []string{"no-new-privileges:true", "seccomp=" + string(spec.Seccomp.JSON)},
		ReadonlyRootfs: true,
		Init:           &yes,
		IpcMode:        "private",
		AutoRemove:     false, // removed by the backend after the exit status is read
		Tmpfs: map[string]string{
			sandbox.TmpDir:  "rw,noexec,nosuid,nodev,size=" + strconv.FormatInt(l.TmpBytes, 10),
			sandbox.HomeDir: fmt.Sprintf("rw,noexec,nosuid,nodev,size=%d,uid=%d,gid=%d,mode=0700", sandbox.HomeBytes, sandbox.UID, sandbox.GID),
		},
		Resources: container.Resources{
			Memory:     l.MemoryBytes,
			MemorySwap: l.MemoryBytes, // memory+swap = memory: no swap
			NanoCPUs:   int64(l.CPUs * 1e9),
			PidsLimit:  &pids,
			Ulimits: []*units.Ulimit{
				{Name: "nofile", Soft: int64(l.NoFile), Hard: int64(l.NoFile)},
				{Name: "nproc", Soft: int64(l.NProc), Hard: int64(l.NProc)},
				{Name: "core", Soft: 0, Hard: 0},
				{Name: "fsize", Soft: l.TmpBytes, Hard: l.TmpBytes},
			},
		},
		LogConfig: container.LogConfig{Type: "none"},
	}
	if spec.Tool != nil {
		// An anonymous volume receives the tool through the archive API,
		// which works with remote daemons too. The file is root-owned and
		// read-only, the directory root-owned: uid 1000 cannot change them.
		host.Mounts = append(host.Mounts, mount.Mount{Type: mount.TypeVolume, Target: sandbox.ToolDir})
	}
	if spec.Workspace != "" {
		host.Mounts = append(host.Mounts, mount.Mount{
			Type: mount.TypeBind, Source: spec.Workspace, Target: sandbox.WorkspaceDir, ReadOnly: true,
			BindOptions: &mount.BindOptions{Propagation: mount.PropagationRPrivate},
		})
	}
	if spec.Output != "" {
		host.Mounts = append(host.Mounts, mount.Mount{
			Type: mount.TypeBind, Source: spec.Output, Target: sandbox.OutputDir,
			BindOptions: &mount.BindOptions{Propagation: mount.PropagationRPrivate},
		})
	}
	return cfg, host
}
