package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/sablebox/sablebox/pkg/image"
	"github.com/sablebox/sablebox/pkg/sandbox"
)

var compareRuns = flag.Int("compare-runs", 20, "runs of each command line in BenchmarkCompareDockerCLI")

// plainDockerRun is the `docker run` line with the protections sablebox
// applies, for comparison.
func plainDockerRun(profile string) []string {
	l := sandbox.DefaultLimits()
	return []string{"docker", "run", "--rm",
		"--network", "none", "--cap-drop", "ALL",
		"--security-opt", "no-new-privileges", "--security-opt", "seccomp=" + profile,
		"--read-only",
		"--tmpfs", "/tmp:rw,noexec,nosuid,nodev,size=" + strconv.FormatInt(l.TmpBytes, 10),
		"--tmpfs", "/home/sandbox:rw,noexec,nosuid,nodev,size=16m,uid=1000,gid=1000,mode=0700",
		"--memory", strconv.FormatInt(l.MemoryBytes, 10), "--memory-swap", strconv.FormatInt(l.MemoryBytes, 10),
		"--cpus", strconv.FormatFloat(l.CPUs, 'f', -1, 64), "--pids-limit", strconv.FormatInt(l.Pids, 10),
		"--ulimit", fmt.Sprintf("nofile=%d:%d", l.NoFile, l.NoFile), "--ulimit", fmt.Sprintf("nproc=%d:%d", l.NProc, l.NProc),
		"--ulimit", "core=0", "--ulimit", fmt.Sprintf("fsize=%d", l.TmpBytes),
		"--user", "1000:1000", "--init", "--ipc", "private", "--log-driver", "none",
		"--entrypoint", "python3", image.DefaultTag, "-c", "pass"}
}

// BenchmarkCompareDockerCLI runs `python3 -c pass` through `sablebox run
// --runtime docker` and through the plain `docker run` line with the same
// protections, alternating, and reports both medians and their ratio
// (target: ratio <= 0.7). `make bench` runs it.
func BenchmarkCompareDockerCLI(b *testing.B) {
	requireDocker(b)
	if _, err := exec.LookPath("docker"); err != nil {
		b.Skip("SKIP the docker CLI is not installed: nothing to compare with")
	}
	profile, err := filepath.Abs("../../profiles/default.json")
	if err != nil {
		b.Fatal(err)
	}
	lines := []struct {
		name string
		argv []string
		took []time.Duration
	}{
		{name: "sablebox run --runtime docker", argv: []string{binary, "run", "--runtime", "docker", "--", "python3", "-c", "pass"}},
		{name: "docker run (same protections)", argv: plainDockerRun(profile)},
	}
	timeOnce := func(argv []string) time.Duration {
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Dir = b.TempDir()
		start := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("%v: %v\n%s", argv, err, out)
		}
		return time.Since(start)
	}
	for _, l := range lines { // warm up caches on both paths
		timeOnce(l.argv)
	}
	b.ResetTimer()
	for range *compareRuns {
		for i := range lines {
			lines[i].took = append(lines[i].took, timeOnce(lines[i].argv))
		}
	}
	b.StopTimer()
	sb, plain := median(lines[0].took), median(lines[1].took)
	ratio := float64(sb) / float64(plain)
	fmt.Fprintf(os.Stdout, "\n%-32s %10s   (%d runs each, alternating)\n", "command line", "median", *compareRuns)
	for _, l := range lines {
		fmt.Fprintf(os.Stdout, "%-32s %8.1fms\n", l.name, float64(median(l.took).Microseconds())/1000)
	}
	fmt.Fprintf(os.Stdout, "%-32s %10.2f   (target <= 0.70)\n\n", "ratio sablebox / docker run", ratio)
	b.ReportMetric(float64(sb.Microseconds())/1000, "sablebox-ms")
	b.ReportMetric(float64(plain.Microseconds())/1000, "docker-run-ms")
	b.ReportMetric(ratio, "ratio")
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
