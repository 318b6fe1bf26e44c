package docker

import (
	"fmt"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/go-units"

	"github.com/sablebox/sablebox/pkg/internal/engine"
	"github.com/sablebox/sablebox/pkg/sandbox"
	"github.com/sablebox/sablebox/pkg/version"
)

// runLabels are the labels of every object a run creates (its container
// and its tool volume), by which the reaper finds what a dead run left;
// deadline is the latest the run may end.
func runLabels(spec *sandbox.Spec, owner sandbox.Owner, deadline time.Time) map[string]string {
	return owner.Labels(spec.RunID, version.Version, deadline)
}

// containerConfig turns a validated spec into the engine's configuration.
// It is the one place where protections are set: every field below is a
// protection or the plumbing it needs, and nothing untrusted reaches the
// engine config except through these fields.
func containerConfig(spec *sandbox.Spec, labels map[string]string, ociRuntime string) (*container.Config, *container.HostConfig) {
	cfg := &container.Config{
		Image:           spec.Image,
		User:            fmt.Sprintf("%d:%d", sandbox.UID, sandbox.GID),
		Env:             engine.Env(spec),
		WorkingDir:      sandbox.WorkspaceDir,
		Labels:          labels,
		NetworkDisabled: true,
		AttachStdin:     true,
		AttachStdout:    true,
		AttachStderr:    true,
		OpenStdin:       true,
		StdinOnce:       true,
		StopSignal:      "SIGKILL",
	}
	cfg.Entrypoint, cfg.Cmd = engine.Command(spec)

	l := spec.Limits
	pids := l.Pids
	yes := true
	host := &container.HostConfig{
		Runtime:        ociRuntime,
		NetworkMode:    "none",
		CapDrop:        []string{"ALL"},
		SecurityOpt:    []string{"no-new-privileges:true", "seccomp=" + dockerSeccomp(spec.Seccomp)},
		ReadonlyRootfs: true,
		Init:           &yes,
		IpcMode:        "private",
		AutoRemove:     false, // removed by the backend after the exit status is read
		Tmpfs: map[string]string{
			sandbox.TmpDir: strings.Join(engine.TmpOptions(l), ","),
			sandbox.HomeDir: strings.Join(append(engine.HomeOptions(),
				fmt.Sprintf("uid=%d", sandbox.UID), fmt.Sprintf("gid=%d", sandbox.GID)), ","),
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
				{Name: "stack", Soft: sandbox.StackBytes, Hard: sandbox.StackBytes},
			},
		},
		LogConfig: container.LogConfig{Type: "none"},
	}
	if spec.Tool != nil {
		// An anonymous volume, labelled as the run, receives the tool
		// through the archive API, which works with remote daemons too.
		// The file is root-owned and read-only, the directory root-owned:
		// uid 1000 cannot change them. It goes with the container; the
		// labels find it when it does not (a refused create, a crash).
		host.Mounts = append(host.Mounts, mount.Mount{Type: mount.TypeVolume, Target: sandbox.ToolDir,
			VolumeOptions: &mount.VolumeOptions{Labels: labels}})
	}
	if len(spec.Files) > 0 {
		// The workspace files arrive like the tool: through the archive API
		// into a labelled anonymous volume, root-owned and read-only.
		host.Mounts = append(host.Mounts, mount.Mount{Type: mount.TypeVolume, Target: sandbox.WorkspaceDir,
			VolumeOptions: &mount.VolumeOptions{Labels: labels}})
	}
	if spec.Workspace != "" {
		host.Mounts = append(host.Mounts, mount.Mount{
			Type: mount.TypeBind, Source: spec.Workspace, Target: sandbox.WorkspaceDir, ReadOnly: true,
			// Not recursive: runc applies read-only to the top mount
			// only, so a submount of the host directory would stay
			// writable; left out, it is not there at all.
			BindOptions: &mount.BindOptions{Propagation: mount.PropagationRPrivate, NonRecursive: true},
		})
	}
	if spec.Output {
		// A noexec tmpfs, as /tmp is: a volume cannot be mounted noexec
		// through the Engine API. It lives as long as the container, so
		// the shell that runs the tool writes a tar of it after the
		// tool's end mark (see engine.Handoff).
		host.Tmpfs[sandbox.OutputDir] = strings.Join(append(engine.OutputOptions(),
			fmt.Sprintf("uid=%d", sandbox.UID), fmt.Sprintf("gid=%d", sandbox.GID)), ",")
	}
	return cfg, host
}

// dockerSeccomp is the security option's value: the profile inline, or
// unconfined.
func dockerSeccomp(p *sandbox.SeccompProfile) string {
	if p.Unconfined {
		return "unconfined"
	}
	return string(p.JSON)
}
