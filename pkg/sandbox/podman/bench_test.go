//go:build remote

package podman

import (
	"context"
	"testing"

	"github.com/sablebox/sablebox/pkg/sandbox"
	"github.com/sablebox/sablebox/pkg/sandbox/sandboxtest"
	"github.com/sablebox/sablebox/pkg/seccomp"
)

// BenchmarkRun measures one whole run of `python3 -c pass` through the
// library: create, attach, start, wait, inspect, remove.
func BenchmarkRun(b *testing.B) {
	be := newTestBackend(b, Options{})
	profile := seccomp.DefaultProfile()
	for b.Loop() {
		spec := &sandbox.Spec{RunID: sandbox.NewRunID(), Image: testImage(), Command: []string{"python3", "-c", "pass"},
			Limits: sandbox.DefaultLimits(), Seccomp: profile}
		res, err := be.Run(context.Background(), spec)
		if err != nil || res.Status != sandbox.StatusOK {
			b.Fatalf("%+v %v", res, err)
		}
	}
}

// BenchmarkPoolRun measures the same run handed to a warm sandbox of a
// pool.
func BenchmarkPoolRun(b *testing.B) {
	be := newTestBackend(b, Options{})
	sandboxtest.BenchPool(b, sandboxtest.Config{Backend: be, Image: testImage(), Seccomp: seccomp.DefaultProfile()})
}
