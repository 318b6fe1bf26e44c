package docker

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/system"

	"github.com/sablebox/sablebox/pkg/sandbox"
)

// Every protection is in the engine config, whatever the spec says.
func TestContainerConfigSetsEveryProtection(t *testing.T) {
	spec := &sandbox.Spec{
		RunID: "r1", Image: "img", Tool: &sandbox.ToolFile{Name: "t.py"}, Args: []string{"a"},
		Env: []string{"FOO=1"}, Workspace: "/ws", Output: true,
		Limits:  sandbox.DefaultLimits(),
		Seccomp: &sandbox.SeccompProfile{Name: "p", JSON: []byte(`{"defaultAction":"SCMP_ACT_ERRNO"}`)},
	}
	deadline := time.Unix(1030, 0)
	cfg, host := containerConfig(spec, runLabels(spec, sandbox.Owner{PID: 1, Start: 2, BootID: "b"}, deadline), "")

	check := func(what string, ok bool) {
		t.Helper()
		if !ok {
			t.Errorf("%s not set", what)
		}
	}
	check("user 1000", cfg.User == "1000:1000")
	check("network disabled", cfg.NetworkDisabled && host.NetworkMode == "none")
	check("cap drop ALL", slices.Equal(host.CapDrop, []string{"ALL"}) && len(host.CapAdd) == 0)
	check("no-new-privileges", slices.Contains(host.SecurityOpt, "no-new-privileges:true"))
	check("inline seccomp", slices.Contains(host.SecurityOpt, "seccomp="+string(spec.Seccomp.JSON)))
	check("read-only root", host.ReadonlyRootfs)
	check("init", host.Init != nil && *host.Init)
	check("not privileged", !host.Privileged)
	check("private ipc", host.IpcMode == "private")
	check("memory", host.Memory == 256<<20 && host.MemorySwap == host.Memory)
	check("cpus", host.NanoCPUs == 5e8)
	check("pids", host.PidsLimit != nil && *host.PidsLimit == 10)
	check("noexec tmp", strings.Contains(host.Tmpfs["/tmp"], "noexec") && strings.Contains(host.Tmpfs["/tmp"], "size=67108864"))
	check("noexec home owned by 1000", strings.Contains(host.Tmpfs[sandbox.HomeDir], "noexec") && strings.Contains(host.Tmpfs[sandbox.HomeDir], "uid=1000"))
	ulimits := map[string]int64{}
	for _, u := range host.Ulimits {
		check("ulimit "+u.Name+" soft == hard", u.Soft == u.Hard)
		ulimits[u.Name] = u.Hard
	}
	check("nofile", ulimits["nofile"] == 256)
	check("nproc", ulimits["nproc"] == 512)
	check("no core dumps", ulimits["core"] == 0)
	check("env: sandbox's first, caller's after", cfg.Env[0] == "HOME=/home/sandbox" && cfg.Env[len(cfg.Env)-1] == "FOO=1")
	check("tool command", slices.Equal(cfg.Cmd, []string{"/sablebox/t.py", "a"}) && slices.Equal(cfg.Entrypoint, []string{"python3", "-I"}))
	check("deadline label", cfg.Labels[sandbox.LabelDeadline] == "1030")
	check("run label", cfg.Labels[sandbox.LabelRun] == "r1")

	mounts := map[string]mount.Mount{}
	for _, m := range host.Mounts {
		mounts[m.Target] = m
	}
	check("workspace read-only, submounts left out", mounts["/workspace"].ReadOnly && mounts["/workspace"].Type == mount.TypeBind &&
		mounts["/workspace"].BindOptions != nil && mounts["/workspace"].BindOptions.NonRecursive)
	check("output tmpfs, noexec, size-limited, the sandbox user's", strings.Contains(host.Tmpfs["/output"], "noexec") &&
		strings.Contains(host.Tmpfs["/output"], "size=") && strings.Contains(host.Tmpfs["/output"], "uid=1000"))
	_, outputMount := mounts["/output"]
	check("no output volume", !outputMount)
	check("tool volume, labelled as the run", mounts["/sablebox"].Type == mount.TypeVolume && mounts["/sablebox"].VolumeOptions != nil &&
		mounts["/sablebox"].VolumeOptions.Labels[sandbox.LabelRun] == "r1")
}

func TestContainerConfigCommand(t *testing.T) {
	spec := &sandbox.Spec{Command: []string{"sh", "-c"}, Args: []string{"echo hi"}, Limits: sandbox.DefaultLimits(),
		Seccomp: &sandbox.SeccompProfile{JSON: []byte("{}")}}
	cfg, host := containerConfig(spec, runLabels(spec, sandbox.Owner{}, time.Now()), "runsc")
	if !slices.Equal(cfg.Entrypoint, []string{"sh", "-c"}) || !slices.Equal(cfg.Cmd, []string{"echo hi"}) {
		t.Fatalf("entrypoint %v cmd %v", cfg.Entrypoint, cfg.Cmd)
	}
	if host.Runtime != "runsc" {
		t.Fatalf("runtime %q, want runsc", host.Runtime)
	}
	if len(host.Mounts) != 0 {
		t.Fatalf("no tool, workspace or output: want no mounts, got %v", host.Mounts)
	}
}

func TestMissingLimits(t *testing.T) {
	all := system.Info{MemoryLimit: true, SwapLimit: true, PidsLimit: true, CPUCfsQuota: true}
	if got := missingLimits(all); len(got) != 0 {
		t.Fatalf("got %v", got)
	}
	noSwap := all
	noSwap.SwapLimit = false
	if got := missingLimits(noSwap); !slices.Equal(got, []string{"swap limits"}) {
		t.Fatalf("got %v", got)
	}
}

func TestCheckRuntime(t *testing.T) {
	info := system.Info{Runtimes: map[string]system.RuntimeWithStatus{
		"runc": {}, "runsc": {Runtime: system.Runtime{Args: []string{"--network=none"}}},
	}}
	if err := checkRuntime(info, "runc"); err != nil {
		t.Fatal(err)
	}
	if err := checkRuntime(info, "kata"); err == nil || !strings.Contains(err.Error(), "not registered") {
		t.Fatalf("unregistered runtime: %v", err)
	}
	if err := checkRuntime(info, "runsc"); err == nil || !strings.Contains(err.Error(), "--oci-seccomp") {
		t.Fatalf("runsc without --oci-seccomp must be refused: %v", err)
	}
}
