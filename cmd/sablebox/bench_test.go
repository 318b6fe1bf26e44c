package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sablebox/sablebox/pkg/image"
	"github.com/sablebox/sablebox/pkg/sandbox"
	"github.com/sablebox/sablebox/pkg/sandbox/docker"
	"github.com/sablebox/sablebox/pkg/sandbox/sandboxtest"
)

var compareRuns = flag.Int("compare-runs", 20, "runs of each command line in BenchmarkCompareCLI")

// plainRun is the `docker run` or `podman run` line with the protections
// sablebox applies, for comparison. extra comes before the image.
func plainRun(engine, profile string, pids, nproc int64, extra ...string) []string {
	l := sandbox.DefaultLimits()
	home := "/home/sandbox:rw,noexec,nosuid,nodev,size=16777216,mode=0700,"
	if engine == "podman" {
		home += "U"
	} else {
		home += "uid=1000,gid=1000"
	}
	argv := []string{engine, "run", "--rm",
		"--network", "none", "--cap-drop", "ALL",
		"--security-opt", "no-new-privileges", "--security-opt", "seccomp=" + profile,
		"--read-only",
		"--tmpfs", "/tmp:rw,noexec,nosuid,nodev,size=" + strconv.FormatInt(l.TmpBytes, 10),
		"--tmpfs", home,
		"--memory", strconv.FormatInt(l.MemoryBytes, 10), "--memory-swap", strconv.FormatInt(l.MemoryBytes, 10),
		"--cpus", strconv.FormatFloat(l.CPUs, 'f', -1, 64), "--pids-limit", strconv.FormatInt(pids, 10),
		"--ulimit", fmt.Sprintf("nofile=%d:%d", l.NoFile, l.NoFile), "--ulimit", fmt.Sprintf("nproc=%d:%d", nproc, nproc),
		"--ulimit", "core=0", "--ulimit", fmt.Sprintf("fsize=%d", l.TmpBytes),
		"--user", "1000:1000", "--init", "--ipc", "private", "--log-driver", "none"}
	if engine == "podman" {
		argv = append(argv, "--read-only-tmpfs=false")
	}
	argv = append(argv, extra...)
	return append(argv, "--entrypoint", "python3", image.DefaultTag, "-c", "pass")
}

// BenchmarkCompareCLI runs `python3 -c pass` through `sablebox run` and
// through the plain engine CLI line with the same protections, alternating,
// for each engine here, and reports both medians and their ratio. Targets:
// Docker <= 0.7; Podman and Docker+runsc <= 1.0; the process sandbox
// within 15 ms of the bare interpreter. `make bench` runs it.
func BenchmarkCompareCLI(b *testing.B) {
	profile, err := filepath.Abs("../../profiles/default.json")
	if err != nil {
		b.Fatal(err)
	}
	l := sandbox.DefaultLimits()
	sb := func(args ...string) []string {
		return append(append([]string{binary, "run"}, args...), "--", "python3", "-c", "pass")
	}
	pairs := []struct {
		name, require, cli string
		target             float64
		sablebox, plain    []string
	}{
		{"docker", "docker", "docker", 0.7, sb("--runtime", "docker"), plainRun("docker", profile, l.Pids, int64(l.NProc))},
		{"podman", "podman", "podman", 1.0, sb("--runtime", "podman"), plainRun("podman", profile, l.Pids, int64(l.NProc))},
		{"docker+runsc", "runsc", "docker", 1.0, sb("--runtime", "docker", "--oci-runtime", "runsc"),
			plainRun("docker", profile, docker.RunscMinPids, l.Pids, "--runtime", "runsc")},
		// The process sandbox against the bare interpreter (target: bare
		// + 15 ms, every layer on) and, as a reference only, bubblewrap
		// with the namespaces and mounts alone.
		{"process vs python3", "process", "python3", 0, sb("--runtime", "process"),
			[]string{"/usr/bin/python3", "-I", "-c", "pass"}},
		{"process vs bwrap", "process", "bwrap", -1, sb("--runtime", "process"), bwrapLine()},
	}
	var report strings.Builder
	fmt.Fprintf(&report, "\n%-44s %9s   (%d runs each, alternating)\n", "command line", "median", *compareRuns)
	for _, p := range pairs {
		b.Run(p.name, func(b *testing.B) {
			if _, err := exec.LookPath(p.cli); err != nil {
				sandboxtest.SkipUnlessRequired(b, p.require, fmt.Errorf("the %s CLI is not installed: nothing to compare with", p.cli))
			}
			if err := exec.Command(binary, "run", "--runtime", strings.Fields(strings.Split(p.name, "+")[0])[0], "--", "true").Run(); err != nil {
				sandboxtest.SkipUnlessRequired(b, p.require, fmt.Errorf("sablebox cannot run on %s here: %v", p.name, err))
			}
			if p.name == "docker+runsc" {
				if err := exec.Command(binary, "run", "--runtime", "docker", "--oci-runtime", "runsc", "--", "true").Run(); err != nil {
					sandboxtest.SkipUnlessRequired(b, p.require, fmt.Errorf("runsc is not usable here: %v", err))
				}
			}
			var took [2][]time.Duration
			timeOnce := func(argv []string) time.Duration {
				cmd := exec.Command(argv[0], argv[1:]...)
				cmd.Dir = b.TempDir()
				start := time.Now()
				if out, err := cmd.CombinedOutput(); err != nil {
					b.Fatalf("%v: %v\n%s", argv, err, out)
				}
				return time.Since(start)
			}
			timeOnce(p.sablebox) // warm caches on both paths
			timeOnce(p.plain)
			b.ResetTimer()
			for range *compareRuns {
				took[0] = append(took[0], timeOnce(p.sablebox))
				took[1] = append(took[1], timeOnce(p.plain))
			}
			b.StopTimer()
			sbMed, plainMed := median(took[0]), median(took[1])
			ratio := float64(sbMed) / float64(plainMed)
			target := fmt.Sprintf("(target <= %.2f)", p.target)
			switch p.target {
			case 0:
				target = fmt.Sprintf("(target: within 15 ms, goal 12; it is %+.1f ms)", ms(sbMed)-ms(plainMed))
			case -1:
				target = "(reference: bwrap applies no cgroup, seccomp, Landlock or rlimits)"
			}
			fmt.Fprintf(&report, "%-44s %7.1fms\n%-44s %7.1fms\n%-44s %9.2f   %s\n",
				"sablebox run --runtime "+p.name, ms(sbMed), strings.Join(p.plain[:2], " ")+" … (baseline)", ms(plainMed),
				"ratio", ratio, target)
			b.ReportMetric(ms(sbMed), "sablebox-ms")
			b.ReportMetric(ms(plainMed), "plain-ms")
			b.ReportMetric(ratio, "ratio")
		})
	}
	fmt.Fprint(os.Stdout, report.String()+"\n")
}

// bwrapLine is bubblewrap with isolation comparable to the process
// sandbox: every namespace, read-only system dirs, a tmpfs /tmp.
func bwrapLine() []string {
	return []string{"bwrap", "--unshare-all", "--die-with-parent", "--new-session",
		"--ro-bind", "/usr", "/usr", "--symlink", "usr/bin", "/bin", "--symlink", "usr/lib", "/lib",
		"--symlink", "usr/lib64", "/lib64", "--ro-bind", "/etc", "/etc", "--proc", "/proc", "--dev", "/dev",
		"--tmpfs", "/tmp", "/usr/bin/python3", "-I", "-c", "pass"}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
