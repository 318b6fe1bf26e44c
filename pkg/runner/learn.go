package runner

import (
	"context"
	"fmt"
	"runtime"
	"sync"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/sablebox/sablebox/pkg/sandbox"
	"github.com/sablebox/sablebox/pkg/sandbox/process"
	"github.com/sablebox/sablebox/pkg/seccomp"
)

func nativeArch() (specs.Arch, error) {
	if a := seccomp.NativeArch(); a != "" {
		return a, nil
	}
	return "", fmt.Errorf("%w: learning reads syscalls on amd64 and arm64 only, not %s", sandbox.ErrUnavailable, runtime.GOARCH)
}

// Learn runs req once in the process sandbox, under the runner's seccomp
// profile and a ptrace tracer that follows every process and thread of
// the tool, and returns the run's result with the names of the syscalls
// the tool made (on this machine's architecture). Calls the profile
// refuses are among them: the tracer sees a call before the filter
// answers it (see seccomp.Learned, which leaves them out).
func (r *Runner) Learn(ctx context.Context, req Request) (*sandbox.Result, []string, error) {
	arch, err := nativeArch()
	if err != nil {
		return nil, nil, err
	}
	if r.opts.Seccomp.Unconfined {
		return nil, nil, fmt.Errorf("%w: learn under a profile, not unconfined: what the tool tries must still be filtered", sandbox.ErrPolicy)
	}
	spec := &sandbox.Spec{RunID: req.RunID, Image: r.opts.Image, Seccomp: r.opts.Seccomp}
	if spec.RunID == "" {
		spec.RunID = sandbox.NewRunID()
	}
	if _, err := fillSpec(spec, req, r.hostDirs); err != nil {
		return nil, nil, err
	}
	var mu sync.Mutex
	var numbers []int
	b, err := process.OpenLearning(r.opts.Settings, r.log, func(_ string, nums []int) {
		mu.Lock()
		numbers = append(numbers, nums...)
		mu.Unlock()
	})
	if err != nil {
		return nil, nil, err
	}
	defer b.Close()
	if err := b.Check(ctx); err != nil {
		return nil, nil, err
	}
	res, err := b.Run(ctx, spec)
	if err != nil {
		return res, nil, err
	}
	mu.Lock()
	defer mu.Unlock()
	seen := map[string]bool{}
	var names []string
	for _, n := range numbers {
		if name := seccomp.NameOf(arch, n); name != "" && !seen[name] {
			seen[name] = true
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return res, nil, fmt.Errorf("%w: the tracer recorded no syscalls: is ptrace allowed here (root, or kernel.yama.ptrace_scope 0 or 1)?", sandbox.ErrUnavailable)
	}
	return res, names, nil
}
